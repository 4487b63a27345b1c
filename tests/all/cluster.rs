//! Several host processes on one store and one Redis bus.
//!
//! - The work queue itself ([`RedisBus`] with a recording worker): claims,
//!   backpressure, heartbeats, reclaiming a dead consumer's job, retries up
//!   to the maximum, the dead-letter stream, unreadable jobs.
//! - Two [`TaskManager`]s in one process sharing a memory store and a Redis
//!   prefix: every manager path (blocking, streaming, reply, follow-up,
//!   cancel) with the turn running on the other manager.
//! - Two real `a2a-host serve` processes on one PostgreSQL schema and one
//!   Redis prefix: a task sent to A runs on B, a stream on A sees B's
//!   events, Last-Event-ID replay on B after A is killed, cancel on A stops
//!   B's turn, SIGKILL of the process running a countdown (the other one
//!   reclaims and finishes it, losing nothing), a malformed job.
//!
//! Needs `A2A_HOST_TEST_REDIS_URL` (all tests) and
//! `A2A_HOST_TEST_POSTGRES_URL` (process tests); without them a test prints
//! `skipped: …` and passes. Each test uses its own key prefix and schema.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use a2a_host::agent::{Agent, AgentError, AgentInfo, TaskContext};
use a2a_host::bus::redis::{RedisBus, RedisBusConfig};
use a2a_host::bus::{Bus, Job, JobOutcome, Worker};
use a2a_host::manager::{ManagerConfig, TaskManager};
use a2a_host::model::*;
use a2a_host::registry::{AgentRegistry, LoadedAgent};
use a2a_host::store::Store;
use a2a_host::store::memory::MemoryStore;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::eventually;
use crate::support::guests::fill_agents_folder;
use crate::support::http::{call, rpc, user_message};
use crate::support::process::{Serve, a2a_host};
use crate::support::sse::SseStream;
use crate::support::tasks::{send, status_text, task_of};

// ---------------------------------------------------------------------------
// Services

fn redis_url(test: &str) -> Option<String> {
    match std::env::var("A2A_HOST_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // Straight to stderr: libtest does not capture it, so the
            // skip shows in a passing run.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: {test}: A2A_HOST_TEST_REDIS_URL not set"
            );
            None
        }
    }
}

fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("A2A_HOST_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // Straight to stderr: libtest does not capture it, so the
            // skip shows in a passing run.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: {test}: A2A_HOST_TEST_POSTGRES_URL not set"
            );
            None
        }
    }
}

fn unique(name: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{name}_{}", &id[..10])
}

/// A Redis URL with `?prefix=` set (other query parameters kept).
fn with_prefix(url: &str, prefix: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    let base = if url.contains("://") && !url.contains('?') && !url.ends_with('/') {
        // `redis://host:port` needs a path before the query.
        let after = &url[url.find("://").unwrap() + 3..];
        if after.contains('/') {
            url.to_string()
        } else {
            format!("{url}/")
        }
    } else {
        url.to_string()
    };
    format!("{base}{sep}prefix={prefix}")
}

/// Deletes every key of a prefix when dropped.
struct RedisKeys {
    url: String,
    prefix: String,
}

impl RedisKeys {
    fn new(url: &str, test: &str) -> RedisKeys {
        RedisKeys {
            url: url.to_string(),
            prefix: unique(&format!("a2at-{test}")),
        }
    }

    fn bus_url(&self) -> String {
        with_prefix(&self.url, &self.prefix)
    }

    async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.prefix)
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

async fn xlen(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> usize {
    redis::cmd("XLEN").arg(key).query_async(conn).await.unwrap()
}

/// Number of pending (claimed, unacknowledged) jobs.
async fn pending(conn: &mut redis::aio::MultiplexedConnection, keys: &RedisKeys) -> usize {
    let reply: Vec<Value2> = redis::cmd("XPENDING")
        .arg(keys.key("jobs"))
        .arg("workers")
        .query_async(conn)
        .await
        .unwrap();
    match reply.first() {
        Some(Value2::Int(n)) => *n as usize,
        _ => 0,
    }
}
use redis::Value as Value2;

async fn dead_letters(
    conn: &mut redis::aio::MultiplexedConnection,
    keys: &RedisKeys,
) -> Vec<std::collections::HashMap<String, String>> {
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(keys.key("dead"))
        .arg("-")
        .arg("+")
        .query_async(conn)
        .await
        .unwrap();
    reply
        .ids
        .into_iter()
        .map(|e| {
            e.map
                .into_iter()
                .map(|(k, v)| (k, redis::from_redis_value::<String>(v).unwrap()))
                .collect()
        })
        .collect()
}

/// Waits until no job is queued or pending.
async fn queue_drained(
    what: &str,
    conn: &redis::aio::MultiplexedConnection,
    keys: &RedisKeys,
    limit: Duration,
) {
    eventually(limit, what, || {
        let mut conn = conn.clone();
        async move {
            pending(&mut conn, keys).await == 0 && xlen(&mut conn, &keys.key("jobs")).await == 0
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// The work queue with a recording worker

/// Records the jobs it is given; each runs until released.
struct Recorder {
    capacity: usize,
    runs: StdMutex<Vec<(String, u32)>>,
    release: tokio::sync::Notify,
    hang: bool,
    given_up: StdMutex<Vec<(String, u32)>>,
}

impl Recorder {
    fn new(capacity: usize, hang: bool) -> Arc<Recorder> {
        Arc::new(Recorder {
            capacity,
            runs: StdMutex::new(Vec::new()),
            release: tokio::sync::Notify::new(),
            hang,
            given_up: StdMutex::new(Vec::new()),
        })
    }

    fn runs(&self) -> Vec<(String, u32)> {
        self.runs.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Worker for Recorder {
    fn capacity(&self) -> usize {
        self.capacity
    }

    async fn run(&self, job: Job, attempt: u32) -> JobOutcome {
        self.runs
            .lock()
            .unwrap()
            .push((job.task_id.clone(), attempt));
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.release.notified().await;
        JobOutcome::Done
    }

    async fn give_up(&self, job: &Job, attempts: u32) -> Result<bool, String> {
        self.given_up
            .lock()
            .unwrap()
            .push((job.task_id.clone(), attempts));
        Ok(true)
    }

    fn wake(&self, _task_id: &str, _seq: u64) {}
    fn cancel(&self, _task_id: &str) {}
    fn resync(&self) {}
}

fn job(task: &str) -> Job {
    Job {
        v: Job::VERSION,
        task_id: task.into(),
        agent: "a".into(),
        first_turn: true,
        message_id: format!("m-{task}"),
        accepted_output_modes: Vec::new(),
        accepted_version: 1,
    }
}

async fn bus(keys: &RedisKeys, reclaim_idle: Duration, max_attempts: u32) -> Arc<RedisBus> {
    RedisBus::connect(RedisBusConfig {
        reclaim_idle,
        max_attempts,
        ..RedisBusConfig::new(keys.bus_url())
    })
    .await
    .expect("connect to Redis")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_worker_stops_pulling_and_a_running_job_is_not_stolen() {
    let Some(url) = redis_url("a_full_worker_stops_pulling") else {
        return;
    };
    let keys = RedisKeys::new(&url, "backpressure");
    let mut conn = keys.conn().await;
    let idle = Duration::from_millis(600);
    let first = bus(&keys, idle, 3).await;
    let one = Recorder::new(1, false);
    first.clone().start(one.clone());
    first.enqueue(&job("t1")).await.unwrap();
    first.enqueue(&job("t2")).await.unwrap();
    eventually(Duration::from_secs(5), "the first job to run", || async {
        one.runs().len() == 1
    })
    .await;
    // One slot, one running job: the second stays in the stream, unclaimed.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(one.runs().len(), 1);
    assert_eq!(pending(&mut conn, &keys).await, 1);

    // A second process with room takes the waiting job, but never the one
    // running (its heartbeats keep it fresh), even after several idle times.
    let second = bus(&keys, idle, 3).await;
    let two = Recorder::new(4, false);
    second.clone().start(two.clone());
    eventually(Duration::from_secs(5), "the second job to move", || async {
        two.runs().len() == 1
    })
    .await;
    tokio::time::sleep(idle * 4).await;
    assert_eq!(one.runs(), vec![("t1".to_string(), 1)]);
    assert_eq!(two.runs(), vec![("t2".to_string(), 1)]);

    // Finished jobs are acknowledged and deleted.
    one.release.notify_one();
    two.release.notify_one();
    queue_drained(
        "the jobs to be acknowledged",
        &conn,
        &keys,
        Duration::from_secs(5),
    )
    .await;
    first.stop().await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_of_dead_processes_are_retried_with_backoff_then_dead_lettered() {
    let Some(url) = redis_url("jobs_of_dead_processes_are_retried") else {
        return;
    };
    let keys = RedisKeys::new(&url, "reclaim");
    let mut conn = keys.conn().await;
    let idle = Duration::from_millis(500);

    // Attempt 1: a process claims the job, then dies.
    let a = bus(&keys, idle, 2).await;
    let ra = Recorder::new(4, true);
    a.clone().start(ra.clone());
    a.enqueue(&job("t1")).await.unwrap();
    eventually(Duration::from_secs(5), "attempt 1", || async {
        ra.runs().len() == 1
    })
    .await;
    a.stop().await;

    // Attempt 2: another process reclaims it after the idle time.
    let started = Instant::now();
    let b = bus(&keys, idle, 2).await;
    let rb = Recorder::new(4, true);
    b.clone().start(rb.clone());
    eventually(Duration::from_secs(5), "attempt 2", || async {
        rb.runs().len() == 1
    })
    .await;
    assert!(started.elapsed() >= idle - Duration::from_millis(100));
    assert_eq!(rb.runs(), vec![("t1".to_string(), 2)]);
    b.stop().await;

    // The maximum is reached: after twice the idle time (backoff), the
    // next process fails the task and moves the job to the dead letters.
    let started = Instant::now();
    let c = bus(&keys, idle, 2).await;
    let rc = Recorder::new(4, true);
    c.clone().start(rc.clone());
    eventually(Duration::from_secs(8), "the job to be given up", || async {
        !rc.given_up.lock().unwrap().is_empty()
    })
    .await;
    assert!(
        started.elapsed() >= idle * 2 - Duration::from_millis(200),
        "backoff: the second reclaim waits twice the idle time ({:?})",
        started.elapsed()
    );
    assert!(rc.runs().is_empty(), "not run a third time");
    assert_eq!(*rc.given_up.lock().unwrap(), vec![("t1".to_string(), 2)]);
    eventually(Duration::from_secs(3), "the dead letter", || {
        let mut conn = conn.clone();
        let keys = &keys;
        async move { dead_letters(&mut conn, keys).await.len() == 1 }
    })
    .await;
    let dead = dead_letters(&mut conn, &keys).await;
    assert_eq!(Job::decode(&dead[0]["job"]).unwrap(), job("t1"));
    assert_eq!(dead[0]["attempts"], "2");
    assert!(dead[0]["reason"].contains("stopped 2 times"), "{dead:?}");
    assert_eq!(pending(&mut conn, &keys).await, 0);
    assert_eq!(xlen(&mut conn, &keys.key("jobs")).await, 0);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_withdrawn_job_never_runs() {
    let Some(url) = redis_url("a_withdrawn_job_never_runs") else {
        return;
    };
    let keys = RedisKeys::new(&url, "withdraw");
    let mut conn = keys.conn().await;
    let b = bus(&keys, Duration::from_millis(300), 2).await;
    let ticket = b.enqueue(&job("t1")).await.unwrap();
    b.withdraw(&ticket).await.unwrap();
    assert_eq!(xlen(&mut conn, &keys.key("jobs")).await, 0);
    let recorder = Recorder::new(4, false);
    b.clone().start(recorder.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(recorder.runs().is_empty(), "ran {:?}", recorder.runs());
    b.stop().await;
}

/// A process that queued a job and died before writing its message (jobs
/// go out just before that write): the job is dropped, nothing runs, and no
/// task appears.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_message_was_never_written_is_dropped() {
    let Some(url) = redis_url("a_job_whose_message_was_never_written_is_dropped") else {
        return;
    };
    let keys = RedisKeys::new(&url, "ghost");
    let mut conn = keys.conn().await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let config = ManagerConfig {
        job_wait: Duration::from_millis(200),
        ..Default::default()
    };
    let node = node_on(
        store.clone(),
        bus(&keys, Duration::from_millis(300), 2).await,
        config,
    );
    let b = node.bus.clone();

    b.enqueue(&job("ghost")).await.unwrap();
    queue_drained(
        "the job to be dropped",
        &conn,
        &keys,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(node.agent.runs.load(Ordering::SeqCst), 0);
    assert!(store.get_task("ghost").await.unwrap().is_none());
    assert!(dead_letters(&mut conn, &keys).await.is_empty());
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_jobs_go_to_the_dead_letter_stream() {
    let Some(url) = redis_url("unreadable_jobs_go_to_the_dead_letter_stream") else {
        return;
    };
    let keys = RedisKeys::new(&url, "malformed");
    let mut conn = keys.conn().await;
    let b = bus(&keys, Duration::from_secs(2), 3).await;
    let worker = Recorder::new(4, false);
    let jobs = keys.key("jobs");
    for (field, value) in [
        ("job", "{not json"),
        (
            "job",
            r#"{"v":99,"taskId":"t","agent":"a","firstTurn":true,"messageId":"m"}"#,
        ),
        ("other", "x"),
    ] {
        let _: String = redis::cmd("XADD")
            .arg(&jobs)
            .arg("*")
            .arg(field)
            .arg(value)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    b.enqueue(&job("good")).await.unwrap();
    b.clone().start(worker.clone());
    eventually(Duration::from_secs(5), "three dead letters", || {
        let mut conn = conn.clone();
        let keys = &keys;
        async move { dead_letters(&mut conn, keys).await.len() == 3 }
    })
    .await;
    let dead = dead_letters(&mut conn, &keys).await;
    let reason = |job: &str| {
        dead.iter()
            .find(|d| d["job"].starts_with(job))
            .unwrap_or_else(|| panic!("no dead letter for {job}: {dead:?}"))["reason"]
            .clone()
    };
    assert!(reason("{not json").contains("not JSON"), "{dead:?}");
    assert!(reason(r#"{"v":99"#).contains("version 99"), "{dead:?}");
    assert!(reason("other=x").contains("no `job` field"), "{dead:?}");
    // The good job still runs; nothing unreadable stays pending.
    eventually(Duration::from_secs(5), "the good job", || async {
        worker.runs() == vec![("good".to_string(), 1)]
    })
    .await;
    worker.release.notify_one();
    queue_drained("an empty queue", &conn, &keys, Duration::from_secs(5)).await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn events_on_the_bus_are_ordered_by_sequence_and_deduplicated() {
    let Some(url) = redis_url("events_on_the_bus") else {
        return;
    };
    let keys = RedisKeys::new(&url, "events");
    let b = bus(&keys, Duration::from_secs(2), 3).await;
    let ev = |n: u64| {
        let mut m = Message::user_text(format!("e{n}"));
        m.message_id = format!("m{n}");
        (n, StreamResponse::Message(m))
    };
    b.publish_events("t1", &[ev(1), ev(2)]).await.unwrap();
    // A repeat and an older event are skipped, not errors.
    b.publish_events("t1", &[ev(2), ev(3)]).await.unwrap();
    b.publish_events("t1", &[ev(1)]).await.unwrap();
    let all = b.events_after("t1", 0).await.unwrap();
    assert_eq!(all.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(all[2], ev(3));
    let later = b.events_after("t1", 2).await.unwrap();
    assert_eq!(later, vec![ev(3)]);
    assert!(b.events_after("nope", 0).await.unwrap().is_empty());
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_redis_is_a_clear_error() {
    // Nothing listens on port 1.
    let err = match RedisBus::connect(RedisBusConfig::new("redis://127.0.0.1:1/?prefix=x")).await {
        Ok(_) => panic!("connected to nothing"),
        Err(e) => e,
    };
    assert!(
        matches!(err, a2a_host::bus::BusError::Unavailable(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    let err = match RedisBus::connect(RedisBusConfig::new("redis://u:hunter2@127.0.0.1:1/")).await {
        Ok(_) => panic!("connected to nothing"),
        Err(e) => e,
    };
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

// ---------------------------------------------------------------------------
// Two managers in one process, one memory store, one Redis prefix

/// Behaves according to the first word of the message; counts its runs.
struct Scripted {
    runs: AtomicUsize,
    canceled: AtomicUsize,
}

#[async_trait::async_trait]
impl Agent for Scripted {
    fn info(&self) -> AgentInfo {
        AgentInfo::new("scripted", "test agent")
    }

    async fn handle(&self, ctx: TaskContext) -> Result<(), AgentError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let text = ctx.text();
        let (cmd, rest) = text.split_once(' ').unwrap_or((&text, ""));
        match cmd {
            "ask" if ctx.history().is_empty() => {
                ctx.request_input(vec![Part::text("which one?")]).await?
            }
            "ask" | "answer" => {
                let first = ctx.history().first().map(|m| m.text()).unwrap_or_default();
                ctx.complete(Some(vec![Part::text(format!("{first} -> {rest}"))]))
                    .await?
            }
            "reply" => ctx.reply(vec![Part::text("direct")]).await?,
            "coop" => {
                ctx.send_status_text("waiting").await?;
                ctx.cancelled().await;
                self.canceled.fetch_add(1, Ordering::SeqCst);
            }
            "stream" => {
                let n: usize = rest.parse().unwrap_or(3);
                for i in 0..n {
                    ctx.send_status_text(format!("step {i}")).await?;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                ctx.complete(None).await?;
            }
            _ => ctx.complete(Some(vec![Part::text(text.clone())])).await?,
        }
        Ok(())
    }
}

struct Node {
    manager: TaskManager,
    agent: Arc<Scripted>,
    bus: Arc<RedisBus>,
}

async fn node(store: Arc<dyn Store>, keys: &RedisKeys, workers: usize) -> Node {
    let bus = bus(keys, Duration::from_secs(2), 3).await;
    let config = ManagerConfig {
        blocking_timeout: Duration::from_secs(10),
        cancel_grace: Duration::from_millis(300),
        workers,
        ..Default::default()
    };
    node_on(store, bus, config)
}

/// A manager serving the scripted agent `a` on `bus`, its bus started.
fn node_on(store: Arc<dyn Store>, bus: Arc<RedisBus>, config: ManagerConfig) -> Node {
    let registry = AgentRegistry::new();
    let agent = Arc::new(Scripted {
        runs: AtomicUsize::new(0),
        canceled: AtomicUsize::new(0),
    });
    registry.insert("a", LoadedAgent::new(agent.clone(), None));
    let manager = TaskManager::with_bus(store, registry, config, bus.clone());
    manager.start_bus();
    Node {
        manager,
        agent,
        bus,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn managers_on_one_bus_run_each_others_tasks() {
    let Some(url) = redis_url("managers_on_one_bus_run_each_others_tasks") else {
        return;
    };
    let keys = RedisKeys::new(&url, "managers");
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    // A only accepts; B runs everything.
    let a = node(store.clone(), &keys, 0).await;
    let b = node(store.clone(), &keys, 4).await;

    // Blocking send on A: B runs it, A answers with the finished task.
    let t = task_of(a.manager.send_message("a", send("hello")).await.unwrap());
    assert_eq!(t.status.state, TaskState::Completed);
    assert_eq!(status_text(&t), "hello");
    assert_eq!(t.history.len(), 2);
    assert_eq!(a.agent.runs.load(Ordering::SeqCst), 0);
    assert_eq!(b.agent.runs.load(Ordering::SeqCst), 1);

    // A direct reply comes back to A as a message.
    match a.manager.send_message("a", send("reply")).await.unwrap() {
        SendMessageResponse::Message(m) => assert_eq!(m.text(), "direct"),
        other => panic!("expected a message: {other:?}"),
    }

    // A stream on A carries B's events, gap-free, from the task itself.
    let events: Vec<_> = a
        .manager
        .send_streaming_message("a", send("stream 4"))
        .await
        .unwrap()
        .collect()
        .await;
    let seqs: Vec<u64> = events.iter().map(|e| e.seq.unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert!(matches!(*events[0].event, StreamResponse::Task(_)));
    assert_eq!(events.len(), 1 + 4 + 1, "task, 4 steps, done: {events:?}");
    assert_eq!(
        events.last().unwrap().event.state(),
        Some(TaskState::Completed)
    );

    // Multi-turn: the follow-up sent to A runs on B with the history.
    let t = task_of(
        a.manager
            .send_message("a", send("ask first"))
            .await
            .unwrap(),
    );
    assert_eq!(t.status.state, TaskState::InputRequired);
    let mut follow = Message::user_text("answer 42");
    follow.task_id = Some(t.id.clone());
    let done = task_of(
        a.manager
            .send_message(
                "a",
                SendMessageRequest {
                    message: follow,
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
    );
    assert_eq!(done.status.state, TaskState::Completed);
    assert_eq!(status_text(&done), "ask first -> 42");

    // Cancel on A reaches the turn on B, which stops at once.
    let t = task_of(
        a.manager
            .send_message(
                "a",
                SendMessageRequest {
                    message: Message::user_text("coop"),
                    configuration: Some(SendMessageConfiguration {
                        return_immediately: true,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
    );
    eventually(Duration::from_secs(5), "the agent on B to wait", || async {
        let stored = store.get_task(&t.id).await.unwrap().unwrap();
        b.manager.running_turns() == 1 && status_text(&stored.task) == "waiting"
    })
    .await;
    let canceled = a
        .manager
        .cancel_task(
            "a",
            CancelTaskRequest {
                id: t.id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(canceled.status.state, TaskState::Canceled);
    eventually(
        Duration::from_secs(3),
        "B's agent to see the cancel",
        || async { b.agent.canceled.load(Ordering::SeqCst) == 1 && b.manager.running_turns() == 0 },
    )
    .await;
    let stored = store.get_task(&t.id).await.unwrap().unwrap();
    assert_eq!(stored.task.status.state, TaskState::Canceled);
    assert_eq!(a.agent.runs.load(Ordering::SeqCst), 0, "A never runs turns");
    a.bus.stop().await;
    b.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_on_one_manager_follows_a_turn_on_another() {
    let Some(url) = redis_url("a_subscription_on_one_manager_follows") else {
        return;
    };
    let keys = RedisKeys::new(&url, "subscribe");
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let a = node(store.clone(), &keys, 0).await;
    let b = node(store.clone(), &keys, 4).await;
    let t = task_of(
        b.manager
            .send_message(
                "a",
                SendMessageRequest {
                    message: Message::user_text("stream 30"),
                    configuration: Some(SendMessageConfiguration {
                        return_immediately: true,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
    );
    // Subscribe on A while B runs it; a second subscriber replays from 0.
    let live = a
        .manager
        .subscribe(
            "a",
            SubscribeToTaskRequest {
                id: t.id.clone(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let replay = a
        .manager
        .subscribe(
            "a",
            SubscribeToTaskRequest {
                id: t.id.clone(),
                ..Default::default()
            },
            Some(0),
        )
        .await
        .unwrap();
    let (live, replay): (Vec<_>, Vec<_>) = tokio::time::timeout(
        Duration::from_secs(15),
        futures::future::join(live.collect(), replay.collect()),
    )
    .await
    .expect("both streams end");
    let full = store.events_after(&t.id, 0).await.unwrap();
    let want: Vec<u64> = full.iter().map(|(s, _)| *s).collect();
    let got: Vec<u64> = replay.iter().map(|e| e.seq.unwrap()).collect();
    assert_eq!(got, want, "replay from 0 is the whole log");
    // The live stream starts with a snapshot, then every later event once.
    let first = live[0].seq.unwrap();
    let rest: Vec<u64> = live[1..].iter().map(|e| e.seq.unwrap()).collect();
    assert_eq!(
        rest,
        (first + 1..=*want.last().unwrap()).collect::<Vec<_>>()
    );
    assert_eq!(
        live.last().unwrap().event.state(),
        Some(TaskState::Completed)
    );
    a.bus.stop().await;
    b.bus.stop().await;
}

// ---------------------------------------------------------------------------
// Real `a2a-host serve` processes

/// An agents folder with echo and a countdown ticking every 300 ms, and a
/// compile cache, shared by a test's processes.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let agents = dir.path().join("agents");
        fill_agents_folder(
            &agents,
            &["echo", "countdown"],
            &[("countdown", "[config]\ntick_ms = \"300\"\n")],
        );
        Site { dir }
    }

    fn agents(&self) -> PathBuf {
        self.dir.path().join("agents")
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
}

/// A PostgreSQL schema of its own, dropped at the end.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    async fn create(url: &str, test: &str) -> Schema {
        let name = unique(&format!("a2at_{test}")).to_ascii_lowercase();
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect to PostgreSQL");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE SCHEMA \"{name}\""))
            .await
            .unwrap();
        Schema {
            url: url.to_string(),
            name,
        }
    }

    /// The `--store` URL that puts the tables in this schema.
    fn store_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// `a2a-host serve` on `store` and `bus` with `workers` workers, serving
/// the site's agents.
fn serve(site: &Site, store: &str, bus: &str, workers: usize) -> Serve {
    serve_with(site, store, bus, workers, &[])
}

/// [`serve`] with more flags.
fn serve_with(site: &Site, store: &str, bus: &str, workers: usize, extra: &[&str]) -> Serve {
    let mut cmd = a2a_host();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--drain-secs", "5"])
        .args(extra)
        .arg("--agents")
        .arg(site.agents())
        .arg("--cache-dir")
        .arg(site.cache())
        .args(["--store", store, "--bus", bus])
        .args(["--workers", &workers.to_string()])
        .args(["--reclaim-idle-secs", "2", "--blocking-timeout", "30"]);
    Serve::start(cmd)
}

/// One SSE event: its id (the event's sequence number) and the JSON-RPC
/// result it carries.
type Event = (u64, Value);

/// Opens a JSON-RPC SSE stream; its events arrive on the receiver, which
/// closes when the stream ends (or the server dies).
async fn open_stream(
    base: &str,
    agent: &str,
    method: &str,
    params: Value,
    last_event_id: Option<u64>,
) -> tokio::sync::mpsc::UnboundedReceiver<Event> {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/agents/{agent}"))
        .header("A2A-Version", "1.0")
        .header("Accept", "text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}));
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let response = req.send().await.unwrap();
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream")),
        "{method} did not stream: {}",
        response.text().await.unwrap_or_default()
    );
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut events = SseStream::new(response);
        // No limit here: `collect` bounds the wait.
        while let Some(event) = events.next_within(Duration::from_secs(3600)).await {
            if event.data.is_empty() {
                continue;
            }
            if tx
                .send((event.seq(), event.json()["result"].clone()))
                .is_err()
            {
                return;
            }
        }
    });
    rx
}

async fn collect(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Event>,
    limit: Duration,
) -> Vec<Event> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(e)) => out.push(e),
            Ok(None) => return out,
            Err(_) => panic!("stream did not end in {limit:?}; got {out:?}"),
        }
    }
}

fn state_of(event: &Value) -> Option<&str> {
    event["statusUpdate"]["status"]["state"]
        .as_str()
        .or_else(|| event["task"]["status"]["state"].as_str())
}

fn seqs(events: &[Event]) -> Vec<u64> {
    events.iter().map(|(s, _)| *s).collect()
}

/// Both services, or a `skipped:` line.
async fn services(test: &str) -> Option<(RedisKeys, Schema)> {
    let redis = redis_url(test)?;
    let pg = postgres_url(test)?;
    let short: String = test
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(12)
        .collect();
    Some((
        RedisKeys::new(&redis, &short),
        Schema::create(&pg, &short).await,
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_share_tasks_streams_and_cancels() {
    let Some((keys, schema)) = services("two_processes_share_tasks").await else {
        return;
    };
    let site = Site::new();
    // A accepts but runs nothing; B runs everything.
    let mut a = serve(&site, &schema.store_url(), &keys.bus_url(), 0);
    let b = serve(&site, &schema.store_url(), &keys.bus_url(), 8);

    // A blocking send to A runs on B.
    let done = rpc(
        &a.base,
        "echo",
        "SendMessage",
        json!({"message": user_message("over there")}),
    )
    .await;
    assert_eq!(
        done["task"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{done}"
    );
    assert_eq!(
        done["task"]["status"]["message"]["parts"][0]["text"],
        "over there"
    );

    // A stream on A sees B's events, gap-free, to the end.
    let rx = open_stream(
        &a.base,
        "countdown",
        "SendStreamingMessage",
        json!({"message": user_message("3")}),
        None,
    )
    .await;
    let events = collect(rx, Duration::from_secs(30)).await;
    assert_eq!(seqs(&events), (1..=events.len() as u64).collect::<Vec<_>>());
    assert!(events[0].1.get("task").is_some(), "{events:?}");
    let texts: Vec<_> = events
        .iter()
        .filter_map(|(_, e)| e["statusUpdate"]["status"]["message"]["parts"][0]["text"].as_str())
        .collect();
    assert_eq!(texts[..3], ["3…", "2…", "1…"], "{events:?}");
    assert_eq!(
        state_of(&events.last().unwrap().1),
        Some("TASK_STATE_COMPLETED")
    );

    // Cancel sent to A stops the countdown running on B.
    let started = rpc(
        &a.base,
        "countdown",
        "SendMessage",
        json!({"message": user_message("60"), "configuration": {"returnImmediately": true}}),
    )
    .await;
    let id = started["task"]["id"].as_str().unwrap().to_string();
    eventually(
        Duration::from_secs(20),
        "the countdown to tick on B",
        || {
            let (base, id) = (a.base.clone(), id.clone());
            async move {
                let t = rpc(&base, "countdown", "GetTask", json!({"id": id})).await;
                t["status"]["message"]["parts"][0]["text"] == "59…"
            }
        },
    )
    .await;
    let canceled = rpc(&a.base, "countdown", "CancelTask", json!({"id": id})).await;
    assert_eq!(canceled["status"]["state"], "TASK_STATE_CANCELED");
    eventually(Duration::from_secs(10), "B to stop the agent", || async {
        b.log().contains("canceled on another host process")
    })
    .await;
    // Nothing is written after the cancel.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let log = collect(
        open_stream(
            &b.base,
            "countdown",
            "SubscribeToTask",
            json!({"id": id}),
            Some(0),
        )
        .await,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        state_of(&log.last().unwrap().1),
        Some("TASK_STATE_CANCELED"),
        "{log:?}"
    );
    let after: Vec<_> = log
        .iter()
        .skip_while(|(_, e)| state_of(e) != Some("TASK_STATE_CANCELED"))
        .collect();
    assert_eq!(after.len(), 1, "events after the cancel: {log:?}");

    // A stream opened on A; A dies; the client resumes on B with
    // Last-Event-ID and misses nothing, sees nothing twice.
    let mut rx = open_stream(
        &a.base,
        "countdown",
        "SendStreamingMessage",
        json!({"message": user_message("8")}),
        None,
    )
    .await;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(
            tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .expect("events on A")
                .expect("A's stream open"),
        );
    }
    let id = seen[0].1["task"]["id"].as_str().unwrap().to_string();
    a.kill();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
        seen.push(e);
    }
    let last = seen.last().unwrap().0;
    let rest = collect(
        open_stream(
            &b.base,
            "countdown",
            "SubscribeToTask",
            json!({"id": id}),
            Some(last),
        )
        .await,
        Duration::from_secs(30),
    )
    .await;
    let all: Vec<Event> = seen.iter().cloned().chain(rest.iter().cloned()).collect();
    assert_eq!(
        seqs(&all),
        (1..=all.len() as u64).collect::<Vec<_>>(),
        "{all:?}"
    );
    assert_eq!(
        state_of(&all.last().unwrap().1),
        Some("TASK_STATE_COMPLETED")
    );
    let full = collect(
        open_stream(
            &b.base,
            "countdown",
            "SubscribeToTask",
            json!({"id": id}),
            Some(0),
        )
        .await,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(full, all, "the log is what the client saw, once each");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_process_countdown_is_reclaimed_and_finished_without_loss() {
    let Some((keys, schema)) = services("a_killed_process_countdown").await else {
        return;
    };
    let site = Site::new();
    let mut b = serve(&site, &schema.store_url(), &keys.bus_url(), 8);
    let mut rx = open_stream(
        &b.base,
        "countdown",
        "SendStreamingMessage",
        json!({"message": user_message("20")}),
        None,
    )
    .await;
    let mut seen = Vec::new();
    while seen.len() < 4 {
        seen.push(
            tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .expect("events on B")
                .expect("B's stream open"),
        );
    }
    let id = seen[0].1["task"]["id"].as_str().unwrap().to_string();
    // The survivor starts while B counts; then B dies mid-countdown.
    let a = serve(&site, &schema.store_url(), &keys.bus_url(), 8);
    b.kill();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
        seen.push(e);
    }
    let last = seen.last().unwrap().0;
    assert!(
        state_of(&seen.last().unwrap().1) != Some("TASK_STATE_COMPLETED"),
        "B finished before it was killed: {seen:?}"
    );

    // A reclaims the job after the idle time and counts down again.
    let rest = collect(
        open_stream(
            &a.base,
            "countdown",
            "SubscribeToTask",
            json!({"id": id}),
            Some(last),
        )
        .await,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        state_of(&rest.last().unwrap().1),
        Some("TASK_STATE_COMPLETED"),
        "{rest:?}\n{}",
        a.log()
    );
    assert!(a.log().contains("reclaiming a job"), "{}", a.log());
    let all: Vec<Event> = seen.iter().cloned().chain(rest.iter().cloned()).collect();
    assert_eq!(
        seqs(&all),
        (1..=all.len() as u64).collect::<Vec<_>>(),
        "{all:?}"
    );

    // Every update acknowledged before the kill is in the log, unchanged.
    let full = collect(
        open_stream(
            &a.base,
            "countdown",
            "SubscribeToTask",
            json!({"id": id}),
            Some(0),
        )
        .await,
        Duration::from_secs(10),
    )
    .await;
    for (seq, event) in &seen {
        assert_eq!(
            &full[*seq as usize - 1],
            &(*seq, event.clone()),
            "event {seq}"
        );
    }
    assert_eq!(full, all);
    let task = rpc(&a.base, "countdown", "GetTask", json!({"id": id})).await;
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED");
    assert_eq!(
        task["status"]["message"]["parts"][0]["text"],
        "Counted down from 20. Liftoff!"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_job_is_dead_lettered_and_the_process_keeps_serving() {
    // SQLite is enough for one process; only Redis is needed.
    let Some(url) = redis_url("a_malformed_job_is_dead_lettered") else {
        return;
    };
    let keys = RedisKeys::new(&url, "badjob");
    let site = Site::new();
    let db = format!("sqlite:{}", site.dir.path().join("host.db").display());
    let mut host = serve(&site, &db, &keys.bus_url(), 4);
    let mut conn = keys.conn().await;
    for bad in ["]]", r#"{"v":2,"taskId":"x"}"#] {
        let _: String = redis::cmd("XADD")
            .arg(keys.key("jobs"))
            .arg("*")
            .arg("job")
            .arg(bad)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    eventually(Duration::from_secs(10), "two dead letters", || {
        let mut conn = conn.clone();
        let keys = &keys;
        async move { dead_letters(&mut conn, keys).await.len() == 2 }
    })
    .await;
    assert!(host.is_running());
    let done = rpc(
        &host.base,
        "echo",
        "SendMessage",
        json!({"message": user_message("still here")}),
    )
    .await;
    assert_eq!(done["task"]["status"]["state"], "TASK_STATE_COMPLETED");
    // Its job is acknowledged once the turn returns; nothing stays pending.
    eventually(Duration::from_secs(5), "an empty queue", || {
        let mut conn = conn.clone();
        let keys = &keys;
        async move { pending(&mut conn, keys).await == 0 }
    })
    .await;
    assert!(host.log().contains("dead-letter"), "{}", host.log());
}

/// A TCP proxy in front of Redis that can be taken down and brought back
/// on the same port.
struct Proxy {
    port: u16,
    target: String,
    down: Arc<tokio::sync::Notify>,
    task: StdMutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Proxy {
    async fn start(target: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            target: target.to_string(),
            down: Arc::new(tokio::sync::Notify::new()),
            task: StdMutex::new(None),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let target = self.target.clone();
        let down = self.down.clone();
        let task = tokio::spawn(async move {
            let mut pipes = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { continue };
                        let target = target.clone();
                        pipes.spawn(async move {
                            if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            }
                        });
                    }
                    _ = down.notified() => {
                        pipes.abort_all();
                        return;
                    }
                }
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    async fn take_down(&self) {
        self.down.notify_one();
        let task = self.task.lock().unwrap().take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    async fn bring_back(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.serve(listener);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_down_is_a_503_and_the_host_recovers_by_itself() {
    let Some(url) = redis_url("redis_down_is_a_503") else {
        return;
    };
    let keys = RedisKeys::new(&url, "outage");
    let target = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection_info()
        .addr()
        .to_string();
    let proxy = Proxy::start(&target).await;
    let bus_url = format!("redis://127.0.0.1:{}/?prefix={}", proxy.port, keys.prefix);
    let site = Site::new();
    let db = format!("sqlite:{}", site.dir.path().join("host.db").display());
    let host = serve(&site, &db, &bus_url, 4);
    let ok = rpc(
        &host.base,
        "echo",
        "SendMessage",
        json!({"message": user_message("before")}),
    )
    .await;
    assert_eq!(ok["task"]["status"]["state"], "TASK_STATE_COMPLETED");

    proxy.take_down().await;
    // Every request that needs the bus fails cleanly with the reason.
    for _ in 0..2 {
        let err = call(
            &host.base,
            "echo",
            "SendMessage",
            json!({"message": user_message("during")}),
        )
        .await
        .expect_err("no bus, no send");
        assert_eq!(err["code"], -32603, "{err}");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("work queue unavailable"),
            "{err}"
        );
    }
    let rest = reqwest::Client::new()
        .post(format!("{}/agents/echo/message:send", host.base))
        .header("A2A-Version", "1.0")
        .json(&json!({"message": user_message("during, REST")}))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 503);

    // Redis is back: so is the host, with no restart.
    proxy.bring_back().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match call(
            &host.base,
            "echo",
            "SendMessage",
            json!({"message": user_message("after")}),
        )
        .await
        {
            Ok(done) => {
                assert_eq!(
                    done["task"]["status"]["state"], "TASK_STATE_COMPLETED",
                    "{done}"
                );
                break;
            }
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "the host did not recover: {e}\n{}",
                    host.log()
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn push_notifications_survive_a_process_killed_mid_delivery() {
    use crate::support::webhook::{Behaviour, Webhook, send_completed, wait_complete};
    let Some((keys, schema)) = services("push_notifications_survive").await else {
        return;
    };
    let site = Site::new();
    let push = ["--push-allow-private", "--push-timeout-secs", "2"];
    // The receiver hangs: A's first deliveries are in flight when it dies.
    let hook = Webhook::start(Vec::new(), Behaviour::Hang).await;
    let mut a = serve_with(&site, &schema.store_url(), &keys.bus_url(), 8, &push);
    let mut tasks = Vec::new();
    for i in 0..4 {
        tasks.push(send_completed(&a.base, "echo", user_message(&format!("n{i}")), &hook).await);
    }
    eventually(
        Duration::from_secs(20),
        "deliveries in flight",
        async || hook.received().len() >= 4,
    )
    .await;
    let b = serve_with(&site, &schema.store_url(), &keys.bus_url(), 8, &push);
    a.kill();
    hook.set(Behaviour::Ok);
    // Gap-free per task, duplicates identical; the first ones hung on A,
    // so B delivered them again under the same ids.
    let distinct = wait_complete(&hook, &tasks, Duration::from_secs(60)).await;
    assert!(distinct >= 4 * 2, "{distinct}");
    let got = hook.accepted();
    let hung: Vec<String> = hook.received()[..4].iter().map(|r| r.id()).collect();
    for id in &hung {
        assert!(
            got.iter().any(|r| &r.id() == id),
            "{id} was never delivered\n{}",
            b.log()
        );
    }
}
