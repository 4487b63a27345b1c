//! The Redis bus: a work queue on a Redis Stream with a consumer group,
//! per-task event streams, and pub/sub wake-ups and cancel signals.
//!
//! # Keys (`PREFIX` from the URL's `?prefix=`, default `a2a`)
//! | key | type | what |
//! |---|---|---|
//! | `PREFIX:jobs` | stream, group `workers` | queued turns: field `job` = [`Job`] as JSON |
//! | `PREFIX:dead` | stream | jobs given up on or unreadable: `job`, `reason`, `attempts`, `entry`, `consumer`, `at` |
//! | `PREFIX:events:TASK` | stream | the task's events: id `0-SEQ`, field `e` = the event as JSON; trimmed and expiring |
//! | `PREFIX:wake` | channel | `TASK:SEQ` after each committed write |
//! | `PREFIX:cancel` | channel | `TASK` when a client cancels |
//!
//! # Work queue
//! Each process is one consumer of the group. It reads new jobs
//! (`XREADGROUP … >`) only while it has free worker slots, so a full process
//! stops pulling and the others take the work. While a turn runs, its job
//! is re-claimed by its owner every third of the reclaim idle time
//! (`XCLAIM … JUSTID`, which does not count as a delivery), so its idle time
//! stays low. A job idle for longer than `reclaim_idle × 2^(deliveries−1)`
//! (its process died) is claimed by another process (`XCLAIM` with that
//! minimum idle time, so only one process wins) and run again. After
//! `max_attempts` deliveries the task is failed with a reason and the job is
//! copied to `PREFIX:dead`. A job the process cannot read (not JSON, other
//! format version) goes straight to `PREFIX:dead`. Jobs are acknowledged and
//! deleted when their turn ends.
//!
//! A job is queued just *before* the store write that accepts its message,
//! and withdrawn (`XDEL`) if that write fails; its runner waits a moment for
//! the message to appear. A process that dies between the two therefore
//! leaves a job for a message that was never accepted (no client was
//! answered); runners leave it for another attempt and it is dropped after
//! `max_attempts`, with no task left `submitted` and nothing to run it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use redis::{RedisError, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Bus, BusError, Job, JobOutcome, JobTicket, Worker};
use crate::model::StreamResponse;

/// The consumer group every host process joins.
const GROUP: &str = "workers";
/// How long one `XREADGROUP` blocks waiting for jobs.
const BLOCK: Duration = Duration::from_secs(1);
/// Most jobs claimed in one read.
const READ_BATCH: usize = 16;
/// Most events read from a task stream at once.
const EVENTS_BATCH: usize = 500;
/// Length the dead-letter stream is trimmed to (approximately).
const DEAD_MAX_LEN: usize = 10_000;
/// How often idle consumers of dead processes are removed from the group.
const CONSUMER_CLEANUP: Duration = Duration::from_secs(300);
/// A consumer with nothing pending and idle this long is removed.
const CONSUMER_MAX_IDLE: Duration = Duration::from_secs(3600);

/// Appends events with explicit ids `0-SEQ` (an id at or below the stream's
/// last is skipped: that event is already there, or older than what is),
/// refreshes the expiry and publishes one wake-up, in one round trip.
const PUBLISH_SCRIPT: &str = r"
local added = 0
for i = 5, #ARGV, 2 do
  local r = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '0-' .. ARGV[i], 'e', ARGV[i + 1])
  if not (type(r) == 'table' and r.err) then added = added + 1 end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return added
";

/// Settings of a [`RedisBus`].
#[derive(Debug, Clone)]
pub struct RedisBusConfig {
    /// `redis://[USER:PASSWORD@]HOST[:PORT][/DB][?prefix=NAME]`. The prefix
    /// (default `a2a`) namespaces every key, so several deployments (or
    /// tests) can share one Redis.
    pub url: String,
    /// How long a claimed job may go without a heartbeat before another
    /// process takes it over (doubled for every earlier delivery).
    pub reclaim_idle: Duration,
    /// Deliveries of a job before its task is failed and the job is moved
    /// to the dead-letter stream.
    pub max_attempts: u32,
    /// How long a task's event stream is kept after its last event.
    pub event_ttl: Duration,
    /// Events kept per task stream (approximately); replay further back
    /// comes from the store.
    pub event_max_len: usize,
}

impl RedisBusConfig {
    /// Defaults: reclaim after 30 s idle, 3 attempts, events kept 24 h.
    pub fn new(url: impl Into<String>) -> Self {
        RedisBusConfig {
            url: url.into(),
            reclaim_idle: Duration::from_secs(30),
            max_attempts: 3,
            event_ttl: Duration::from_secs(24 * 3600),
            event_max_len: 1000,
        }
    }
}

struct Keys {
    jobs: String,
    dead: String,
    wake: String,
    cancel: String,
    prefix: String,
}

impl Keys {
    fn new(prefix: &str) -> Keys {
        Keys {
            jobs: format!("{prefix}:jobs"),
            dead: format!("{prefix}:dead"),
            wake: format!("{prefix}:wake"),
            cancel: format!("{prefix}:cancel"),
            prefix: prefix.to_string(),
        }
    }

    fn events(&self, task_id: &str) -> String {
        format!("{}:events:{task_id}", self.prefix)
    }
}

/// The Redis bus. See the module docs.
pub struct RedisBus {
    client: redis::Client,
    /// Short commands (multiplexed, reconnects by itself).
    conn: ConnectionManager,
    keys: Keys,
    /// This process's consumer name in the group.
    consumer: String,
    /// The URL without credentials, for logs and errors.
    shown: String,
    config: RedisBusConfig,
    stop: CancellationToken,
    started: AtomicBool,
    /// Jobs claimed and not yet finished.
    inflight: AtomicUsize,
    /// Entry ids of the jobs running here (their heartbeats keep them).
    running: parking_lot::Mutex<std::collections::HashSet<String>>,
    /// Whether the last command reached Redis.
    healthy: AtomicBool,
    /// Signalled when a job finishes (a slot may be free).
    freed: Notify,
    publish: redis::Script,
}

impl RedisBus {
    /// Connects, and creates the consumer group if it does not exist yet.
    /// Fails if Redis cannot be reached now; later outages are survived
    /// (requests that need the bus fail with 503 until it is back).
    pub async fn connect(config: RedisBusConfig) -> Result<Arc<RedisBus>, BusError> {
        if config.max_attempts == 0 {
            return Err(BusError::Other("max attempts must be at least 1".into()));
        }
        if config.reclaim_idle < Duration::from_millis(300) {
            return Err(BusError::Other(
                "the reclaim idle time must be at least 300 ms".into(),
            ));
        }
        let (url, prefix) = split_prefix(&config.url).map_err(BusError::Other)?;
        let shown = redact(&url);
        let client = redis::Client::open(url.as_str())
            .map_err(|e| BusError::Other(format!("invalid Redis URL {shown}: {e}")))?;
        let conn = ConnectionManager::new_with_config(client.clone(), manager_config(None))
            .await
            .map_err(|e| {
                BusError::Unavailable(format!("cannot connect to Redis at {shown}: {e}"))
            })?;
        let bus = RedisBus {
            client,
            conn,
            keys: Keys::new(&prefix),
            consumer: consumer_name(),
            shown: format!("{shown} (prefix `{prefix}`)"),
            config,
            stop: CancellationToken::new(),
            started: AtomicBool::new(false),
            inflight: AtomicUsize::new(0),
            running: parking_lot::Mutex::new(std::collections::HashSet::new()),
            healthy: AtomicBool::new(true),
            freed: Notify::new(),
            publish: redis::Script::new(PUBLISH_SCRIPT),
        };
        bus.ensure_group().await.map_err(|e| bus.error(e))?;
        Ok(Arc::new(bus))
    }

    /// This process's consumer name in the group.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.keys.prefix
    }

    fn error(&self, e: RedisError) -> BusError {
        if e.is_io_error()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.is_timeout()
        {
            self.healthy.store(false, Ordering::SeqCst);
            BusError::Unavailable(format!("Redis at {} is unreachable: {e}", self.shown))
        } else {
            BusError::Other(format!("Redis at {}: {e}", self.shown))
        }
    }

    async fn ensure_group(&self) -> Result<(), RedisError> {
        let mut conn = self.conn.clone();
        let created: Result<(), RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.keys.jobs)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// The idle time after which a job delivered `deliveries` times may be
    /// taken over: the reclaim idle time, doubled per earlier delivery.
    fn required_idle(&self, deliveries: usize) -> Duration {
        let doublings = deliveries.clamp(1, 7) - 1;
        self.config.reclaim_idle * (1u32 << doublings)
    }

    fn heartbeat_every(&self) -> Duration {
        (self.config.reclaim_idle / 3).max(Duration::from_millis(100))
    }

    fn sweep_every(&self) -> Duration {
        (self.config.reclaim_idle / 2).clamp(Duration::from_millis(250), Duration::from_secs(10))
    }

    // -----------------------------------------------------------------------
    // Consumer loop

    async fn consume(self: Arc<Self>, worker: Arc<dyn Worker>) {
        // Blocking reads get their own connection: Redis answers one
        // connection's commands in order, so a blocked read would hold up
        // every other command queued behind it.
        let mut blocking = loop {
            match ConnectionManager::new_with_config(
                self.client.clone(),
                manager_config(Some(BLOCK + Duration::from_secs(5))),
            )
            .await
            {
                Ok(c) => break c,
                Err(e) => {
                    tracing::warn!(bus = %self.shown, error = %e, "work queue: cannot connect; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = self.stop.cancelled() => return,
                    }
                }
            }
        };
        let mut next_sweep = Instant::now();
        let mut next_cleanup = Instant::now() + CONSUMER_CLEANUP;
        let mut failures: u32 = 0;
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            let now = Instant::now();
            if now >= next_sweep {
                if let Err(e) = self.sweep(&worker).await {
                    tracing::debug!(bus = %self.shown, error = %e, "work queue: reclaim sweep failed");
                }
                next_sweep = Instant::now() + self.sweep_every();
            }
            if now >= next_cleanup {
                if let Err(e) = self.remove_dead_consumers().await {
                    tracing::debug!(bus = %self.shown, error = %e, "work queue: consumer cleanup failed");
                }
                next_cleanup = Instant::now() + CONSUMER_CLEANUP;
            }
            let free = worker
                .capacity()
                .saturating_sub(self.inflight.load(Ordering::SeqCst));
            if free == 0 {
                // Full (or not a worker): stop pulling until a slot frees.
                tokio::select! {
                    _ = self.freed.notified() => {}
                    _ = tokio::time::sleep_until(next_sweep.into()) => {}
                    _ = self.stop.cancelled() => return,
                }
                continue;
            }
            let block = next_sweep
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(10), BLOCK);
            let mut cmd = redis::cmd("XREADGROUP");
            cmd.arg("GROUP")
                .arg(GROUP)
                .arg(&self.consumer)
                .arg("COUNT")
                .arg(free.min(READ_BATCH))
                .arg("BLOCK")
                .arg(block.as_millis() as u64)
                .arg("STREAMS")
                .arg(&self.keys.jobs)
                .arg(">");
            let read = cmd.query_async::<Option<StreamReadReply>>(&mut blocking);
            let reply = tokio::select! {
                r = read => r,
                _ = self.stop.cancelled() => return,
            };
            match reply {
                Ok(reply) => {
                    if failures > 0 {
                        tracing::info!(bus = %self.shown, "work queue: Redis is back");
                        failures = 0;
                    }
                    for key in reply.map(|r| r.keys).unwrap_or_default() {
                        for entry in key.ids {
                            self.clone().deliver(entry, 1, worker.clone());
                        }
                    }
                }
                Err(e) if e.code() == Some("NOGROUP") => {
                    // The stream or group was deleted under us: recreate.
                    if let Err(e) = self.ensure_group().await {
                        tracing::debug!(error = %e, "work queue: cannot recreate the group");
                    }
                }
                Err(e) => {
                    failures += 1;
                    // Marks the bus unhealthy if Redis is unreachable.
                    let e = self.error(e);
                    if failures == 1 {
                        tracing::warn!(bus = %self.shown, error = %e, "work queue: cannot read jobs; retrying");
                    }
                    let pause = Duration::from_millis(100 * (1 << failures.min(6)))
                        .min(Duration::from_secs(5));
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = self.stop.cancelled() => return,
                    }
                }
            }
        }
    }

    /// Starts running one delivered entry (or dead-letters it if it is not
    /// a job this build can run).
    fn deliver(self: Arc<Self>, entry: StreamId, attempt: u32, worker: Arc<dyn Worker>) {
        let raw = entry
            .map
            .get("job")
            .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok());
        let job = match raw.as_deref().map(Job::decode) {
            Some(Ok(job)) => job,
            Some(Err(why)) => {
                tokio::spawn(async move {
                    tracing::warn!(entry = %entry.id, reason = %why, "work queue: unreadable job moved to the dead-letter stream");
                    self.bury(&entry, raw.as_deref(), &why, attempt as usize)
                        .await;
                });
                return;
            }
            None => {
                tokio::spawn(async move {
                    let why = "the entry has no `job` field";
                    tracing::warn!(entry = %entry.id, reason = why, "work queue: unreadable job moved to the dead-letter stream");
                    self.bury(&entry, None, why, attempt as usize).await;
                });
                return;
            }
        };
        self.inflight.fetch_add(1, Ordering::SeqCst);
        self.running.lock().insert(entry.id.clone());
        tokio::spawn(async move {
            let done = CancellationToken::new();
            let heartbeat = tokio::spawn(self.clone().heartbeat(entry.id.clone(), done.clone()));
            if attempt > 1 {
                tracing::info!(task = %job.task_id, attempt, "work queue: running a task whose process died");
            }
            let outcome = tokio::select! {
                o = worker.run(job.clone(), attempt) => Some(o),
                // A stopped bus behaves like a dead process: no ack.
                _ = self.stop.cancelled() => None,
            };
            done.cancel();
            let _ = heartbeat.await;
            match outcome {
                Some(JobOutcome::Done) => self.finish(&entry.id).await,
                Some(JobOutcome::Retry(why)) => {
                    tracing::warn!(task = %job.task_id, reason = %why,
                        "work queue: job left for another attempt");
                }
                None => {}
            }
            self.running.lock().remove(&entry.id);
            self.inflight.fetch_sub(1, Ordering::SeqCst);
            self.freed.notify_one();
        });
    }

    /// Keeps a running job's idle time low so no one takes it over.
    async fn heartbeat(self: Arc<Self>, entry_id: String, done: CancellationToken) {
        let every = self.heartbeat_every();
        let mut conn = self.conn.clone();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = done.cancelled() => return,
                _ = self.stop.cancelled() => return,
            }
            let claimed: Result<Vec<String>, RedisError> = redis::cmd("XCLAIM")
                .arg(&self.keys.jobs)
                .arg(GROUP)
                .arg(&self.consumer)
                .arg(0)
                .arg(&entry_id)
                .arg("JUSTID")
                .query_async(&mut conn)
                .await;
            match claimed {
                Ok(ids) if ids.is_empty() => {
                    tracing::debug!(entry = %entry_id, "work queue: heartbeat found the job gone");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(entry = %entry_id, error = %e, "work queue: heartbeat failed");
                }
            }
        }
    }

    /// Acknowledges and deletes a finished job, retrying for a while if
    /// Redis is down (a job left pending is reclaimed, finds its turn over,
    /// and is acknowledged then).
    async fn finish(&self, entry_id: &str) {
        let mut conn = self.conn.clone();
        for attempt in 0..5u32 {
            let acked: Result<(), RedisError> = redis::pipe()
                .atomic()
                .cmd("XACK")
                .arg(&self.keys.jobs)
                .arg(GROUP)
                .arg(entry_id)
                .ignore()
                .cmd("XDEL")
                .arg(&self.keys.jobs)
                .arg(entry_id)
                .ignore()
                .query_async(&mut conn)
                .await;
            match acked {
                Ok(()) => return,
                Err(e) => {
                    tracing::debug!(entry = %entry_id, error = %e, "work queue: cannot acknowledge a job");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
            }
        }
        tracing::warn!(entry = %entry_id, "work queue: could not acknowledge a finished job; it will be reclaimed and dropped");
    }

    /// Copies an entry to the dead-letter stream, then acknowledges and
    /// deletes it.
    async fn bury(&self, entry: &StreamId, raw: Option<&str>, reason: &str, attempts: usize) {
        let mut conn = self.conn.clone();
        let raw = raw
            .map(str::to_string)
            .unwrap_or_else(|| describe_fields(entry));
        let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let result: Result<(), RedisError> = redis::pipe()
            .atomic()
            .cmd("XADD")
            .arg(&self.keys.dead)
            .arg("MAXLEN")
            .arg("~")
            .arg(DEAD_MAX_LEN)
            .arg("*")
            .arg("job")
            .arg(raw)
            .arg("reason")
            .arg(reason)
            .arg("attempts")
            .arg(attempts)
            .arg("entry")
            .arg(&entry.id)
            .arg("consumer")
            .arg(&self.consumer)
            .arg("at")
            .arg(now)
            .ignore()
            .cmd("XACK")
            .arg(&self.keys.jobs)
            .arg(GROUP)
            .arg(&entry.id)
            .ignore()
            .cmd("XDEL")
            .arg(&self.keys.jobs)
            .arg(&entry.id)
            .ignore()
            .query_async(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::warn!(entry = %entry.id, error = %e, "work queue: cannot move a job to the dead-letter stream; will try again");
        }
    }

    /// Takes over jobs whose process stopped heartbeating.
    async fn sweep(self: &Arc<Self>, worker: &Arc<dyn Worker>) -> Result<(), RedisError> {
        let mut conn = self.conn.clone();
        let pending: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&self.keys.jobs)
            .arg(GROUP)
            .arg("IDLE")
            .arg(self.config.reclaim_idle.as_millis() as u64)
            .arg("-")
            .arg("+")
            .arg(100)
            .query_async(&mut conn)
            .await?;
        for p in pending.ids {
            if self.running.lock().contains(&p.id) {
                // Running here: heartbeats keep it fresh.
                continue;
            }
            let required = self.required_idle(p.times_delivered);
            if (p.last_delivered_ms as u128) < required.as_millis() {
                continue;
            }
            let give_up = p.times_delivered >= self.config.max_attempts as usize;
            if !give_up && worker.capacity() <= self.inflight.load(Ordering::SeqCst) {
                continue;
            }
            // Only one process wins: the claim resets the idle time.
            let claimed: StreamClaimReply = redis::cmd("XCLAIM")
                .arg(&self.keys.jobs)
                .arg(GROUP)
                .arg(&self.consumer)
                .arg(required.as_millis() as u64)
                .arg(&p.id)
                .query_async(&mut conn)
                .await?;
            for entry in claimed.ids {
                if give_up {
                    self.give_up(entry, p.times_delivered, worker).await;
                } else {
                    tracing::info!(entry = %entry.id, from = %p.consumer, deliveries = p.times_delivered,
                        "work queue: reclaiming a job whose process stopped");
                    self.clone()
                        .deliver(entry, p.times_delivered as u32 + 1, worker.clone());
                }
            }
        }
        Ok(())
    }

    async fn give_up(&self, entry: StreamId, attempts: usize, worker: &Arc<dyn Worker>) {
        let raw = entry
            .map
            .get("job")
            .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok());
        match raw.as_deref().map(Job::decode) {
            Some(Ok(job)) => match worker.give_up(&job, attempts as u32).await {
                Ok(true) => {
                    let reason = format!(
                        "the process running it stopped {attempts} times (at most {} attempts)",
                        self.config.max_attempts
                    );
                    tracing::warn!(task = %job.task_id, %reason, "work queue: task failed and job moved to the dead-letter stream");
                    self.bury(&entry, raw.as_deref(), &reason, attempts).await;
                }
                Ok(false) => self.finish(&entry.id).await,
                Err(why) => {
                    tracing::warn!(task = %job.task_id, reason = %why,
                        "work queue: cannot fail a task given up on now; will try again");
                }
            },
            Some(Err(why)) => self.bury(&entry, raw.as_deref(), &why, attempts).await,
            None => {
                self.bury(&entry, None, "the entry has no `job` field", attempts)
                    .await
            }
        }
    }

    /// Removes consumers of processes that are gone (nothing pending, idle
    /// for an hour) so the group's consumer list does not grow forever.
    async fn remove_dead_consumers(&self) -> Result<(), RedisError> {
        let mut conn = self.conn.clone();
        let info: redis::streams::StreamInfoConsumersReply = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(&self.keys.jobs)
            .arg(GROUP)
            .query_async(&mut conn)
            .await?;
        for c in info.consumers {
            if c.name != self.consumer
                && c.pending == 0
                && c.idle as u128 > CONSUMER_MAX_IDLE.as_millis()
            {
                let _: Result<i64, _> = redis::cmd("XGROUP")
                    .arg("DELCONSUMER")
                    .arg(&self.keys.jobs)
                    .arg(GROUP)
                    .arg(&c.name)
                    .query_async(&mut conn)
                    .await;
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------
    // Signals

    async fn listen(self: Arc<Self>, worker: Arc<dyn Worker>) {
        let mut connected_before = false;
        let mut failures: u32 = 0;
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            let subscribed = async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&self.keys.wake).await?;
                pubsub.subscribe(&self.keys.cancel).await?;
                Ok::<_, RedisError>(pubsub)
            };
            let mut pubsub = tokio::select! {
                r = subscribed => match r {
                    Ok(p) => p,
                    Err(e) => {
                        failures += 1;
                        if failures == 1 {
                            tracing::warn!(bus = %self.shown, error = %e, "signals: cannot subscribe; retrying");
                        }
                        let pause = Duration::from_millis(100 * (1 << failures.min(6))).min(Duration::from_secs(5));
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {}
                            _ = self.stop.cancelled() => return,
                        }
                        continue;
                    }
                },
                _ = self.stop.cancelled() => return,
            };
            if connected_before {
                tracing::info!(bus = %self.shown, "signals: subscribed again");
                // Wake-ups sent while we were away are lost: look again.
                worker.resync();
            }
            connected_before = true;
            failures = 0;
            let mut messages = pubsub.on_message();
            loop {
                let msg = tokio::select! {
                    m = messages.next() => m,
                    _ = self.stop.cancelled() => return,
                };
                let Some(msg) = msg else { break };
                let Ok(payload) = msg.get_payload::<String>() else {
                    continue;
                };
                let channel = msg.get_channel_name();
                if channel == self.keys.wake {
                    if let Some((task, seq)) = payload.rsplit_once(':')
                        && let Ok(seq) = seq.parse::<u64>()
                    {
                        worker.wake(task, seq);
                    }
                } else if channel == self.keys.cancel {
                    worker.cancel(&payload);
                }
            }
            tracing::warn!(bus = %self.shown, "signals: lost the Redis connection; reconnecting");
        }
    }
}

#[async_trait]
impl Bus for RedisBus {
    fn describe(&self) -> String {
        format!("redis {}", self.shown)
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn start(self: Arc<Self>, worker: Arc<dyn Worker>) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        tokio::spawn(self.clone().consume(worker.clone()));
        tokio::spawn(self.listen(worker));
    }

    async fn ready(&self) -> Result<(), BusError> {
        if self.healthy.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        self.healthy.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn enqueue(&self, job: &Job) -> Result<JobTicket, BusError> {
        let mut conn = self.conn.clone();
        let id: String = redis::cmd("XADD")
            .arg(&self.keys.jobs)
            .arg("*")
            .arg("job")
            .arg(job.encode())
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        self.healthy.store(true, Ordering::SeqCst);
        Ok(JobTicket(id))
    }

    async fn withdraw(&self, ticket: &JobTicket) -> Result<(), BusError> {
        let mut conn = self.conn.clone();
        // A delivered entry stays in its consumer's pending list; XCLAIM
        // drops deleted entries from it when the job is next reclaimed.
        let _: u64 = redis::cmd("XDEL")
            .arg(&self.keys.jobs)
            .arg(&ticket.0)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn publish_events(
        &self,
        task_id: &str,
        events: &[(u64, StreamResponse)],
    ) -> Result<(), BusError> {
        let Some((last, _)) = events.last() else {
            return Ok(());
        };
        let mut conn = self.conn.clone();
        let mut call = self.publish.key(self.keys.events(task_id));
        call.arg(self.config.event_ttl.as_millis() as u64)
            .arg(self.config.event_max_len.max(1))
            .arg(&self.keys.wake)
            .arg(format!("{task_id}:{last}"));
        for (seq, event) in events {
            let json = serde_json::to_string(event)
                .map_err(|e| BusError::Other(format!("cannot encode an event: {e}")))?;
            call.arg(*seq).arg(json);
        }
        let _: i64 = call
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn events_after(
        &self,
        task_id: &str,
        after: u64,
    ) -> Result<Vec<(u64, StreamResponse)>, BusError> {
        let mut conn = self.conn.clone();
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.keys.events(task_id))
            .arg(format!("(0-{after}"))
            .arg("+")
            .arg("COUNT")
            .arg(EVENTS_BATCH)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        let mut out = Vec::with_capacity(reply.ids.len());
        for entry in reply.ids {
            let seq = entry
                .id
                .strip_prefix("0-")
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    BusError::Other(format!(
                        "task `{task_id}` has an event with id `{}` on the bus",
                        entry.id
                    ))
                })?;
            let event = entry
                .map
                .get("e")
                .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok())
                .and_then(|s| serde_json::from_str::<StreamResponse>(&s).ok())
                .ok_or_else(|| {
                    BusError::Other(format!(
                        "task `{task_id}` has an unreadable event {seq} on the bus"
                    ))
                })?;
            out.push((seq, event));
        }
        Ok(out)
    }

    async fn signal_cancel(&self, task_id: &str) -> Result<(), BusError> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&self.keys.cancel)
            .arg(task_id)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn stop(&self) {
        self.stop.cancel();
    }
}

fn manager_config(response_timeout: Option<Duration>) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(response_timeout.unwrap_or(Duration::from_secs(5))))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(2))
}

/// A consumer name unique to this process run.
fn consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &id[..8])
}

/// Splits `?prefix=NAME` off a Redis URL. Other query parameters stay.
fn split_prefix(url: &str) -> Result<(String, String), String> {
    if !(url.starts_with("redis://")
        || url.starts_with("rediss://")
        || url.starts_with("redis+unix://")
        || url.starts_with("unix://"))
    {
        return Err(format!(
            "unknown bus `{}`: use `redis://HOST[:PORT][/DB][?prefix=NAME]`",
            redact(url)
        ));
    }
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut prefix = None;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    let mut kept = false;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k == "prefix" {
            prefix = Some(v.into_owned());
        } else {
            rest.append_pair(&k, &v);
            kept = true;
        }
    }
    let prefix = prefix.unwrap_or_else(|| "a2a".into());
    if prefix.is_empty()
        || prefix.len() > 64
        || !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        return Err(format!(
            "bus prefix `{prefix}` must be 1 to 64 letters, digits, `-`, `_`, `.` or `:`"
        ));
    }
    let url = if kept {
        format!("{base}?{}", rest.finish())
    } else {
        base.to_string()
    };
    Ok((url, prefix))
}

/// A URL with its password (or whole user info) hidden.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// An entry's fields as text, for the dead-letter stream.
fn describe_fields(entry: &StreamId) -> String {
    let mut fields: Vec<_> = entry
        .map
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                other => format!("{other:?}"),
            };
            format!("{k}={v}")
        })
        .collect();
    fields.sort();
    fields.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_come_off_the_url() {
        assert_eq!(
            split_prefix("redis://127.0.0.1:6379/?prefix=t1").unwrap(),
            ("redis://127.0.0.1:6379/".into(), "t1".into())
        );
        assert_eq!(
            split_prefix("redis://h/2").unwrap(),
            ("redis://h/2".into(), "a2a".into())
        );
        assert_eq!(
            split_prefix("redis://h/?protocol=resp3&prefix=x").unwrap(),
            ("redis://h/?protocol=resp3".into(), "x".into())
        );
        assert!(split_prefix("redis://h/?prefix=a%20b").is_err());
        assert!(split_prefix("redis://h/?prefix=").is_err());
        assert!(split_prefix("http://h").is_err());
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("redis://user:secret@h:6379/0"),
            "redis://***@h:6379/0"
        );
        assert_eq!(redact("redis://h:6379/0"), "redis://h:6379/0");
        let err = split_prefix("http://u:secret@h").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }
}
