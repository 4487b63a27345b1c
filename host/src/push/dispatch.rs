//! The deliverer: one background task per process that takes due
//! notifications from the store's outbox, posts them, and settles each
//! attempt.
//!
//! - **Order.** The store hands out only the head of each config's queue,
//!   so a config's notifications go out one at a time, in event order.
//! - **Isolation.** Deliveries run in their own tokio tasks, at most
//!   `concurrency` host-wide and `per_destination` per `host:port`. A
//!   notification claimed for a destination that is full waits in memory
//!   behind it (up to `WAITING_PER_SLOT` per slot; beyond that it is
//!   handed back, deferred, not counted as an attempt), so a slow receiver
//!   holds only its own share and never the task that produced the event.
//! - **Retries.** A failed attempt is retried after an exponential backoff
//!   with jitter (or the receiver's `Retry-After`, within bounds) until
//!   `max_attempts` or `max_age`; then the notification is dead-lettered
//!   and logged once.
//! - **Crashes.** Claims are leases: if this process dies, another (or
//!   this one, restarted) takes the notifications over once the leases end.
//!   Delivery is at-least-once; a repeat carries the same notification id.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::policy::{PushPolicy, Target};
use super::send::{Sender, Sent};
use super::signing::PushSigner;
use crate::log_throttle::log_throttled;
use crate::model::notification::{
    NOTIFICATION_ID_HEADER, NOTIFICATION_SIGNATURE_HEADER, NOTIFICATION_TOKEN_HEADER,
};
use crate::store::{PushClaim, PushDelivery, PushFinish, PushOutcome, Store, unix_millis};

/// How long a notification for a destination whose queue is full waits
/// before it is claimed again.
const DEFER: Duration = Duration::from_millis(250);

/// The shortest idle wait, so that a due row whose queue is busy does not
/// spin the loop.
const MIN_IDLE: Duration = Duration::from_millis(20);

/// Notifications claimed for one destination that may wait in memory for
/// a free slot there, per slot (`per_destination`).
const WAITING_PER_SLOT: usize = 8;

/// The background deliverer of one process.
pub struct Deliverer {
    store: Arc<dyn Store>,
    policy: Arc<PushPolicy>,
    sender: Sender,
    signer: Option<Arc<PushSigner>>,
    owner: String,
    busy: Mutex<Busy>,
}

/// What this process holds: notifications being sent, and claimed ones
/// waiting for a slot of their destination.
#[derive(Default)]
struct Busy {
    sending: usize,
    waiting: usize,
    destinations: HashMap<String, Destination>,
}

#[derive(Default)]
struct Destination {
    sending: usize,
    queue: VecDeque<Job>,
}

/// A claimed notification and where it goes.
struct Job {
    delivery: PushDelivery,
    target: Target,
    claimed: Instant,
}

impl Busy {
    fn outstanding(&self) -> usize {
        self.sending + self.waiting
    }

    /// The longest queue of one destination.
    fn longest_queue(&self) -> usize {
        self.destinations
            .values()
            .map(|d| d.queue.len())
            .max()
            .unwrap_or(0)
    }

    /// The next job for a worker that finished one for `dest`: the next of
    /// the same destination, or else (handing over its slot) the first of a
    /// destination that waits for one. `None`: the worker stops.
    fn next_job(&mut self, dest: &str, per_destination: usize) -> Option<(String, Job)> {
        if let Some(d) = self.destinations.get_mut(dest) {
            if let Some(job) = d.queue.pop_front() {
                self.waiting -= 1;
                return Some((dest.to_string(), job));
            }
            d.sending -= 1;
            if d.sending == 0 {
                self.destinations.remove(dest);
            }
        }
        let (other, d) = self
            .destinations
            .iter_mut()
            .find(|(_, d)| !d.queue.is_empty() && d.sending < per_destination)?;
        let job = d.queue.pop_front()?;
        d.sending += 1;
        self.waiting -= 1;
        Some((other.clone(), job))
    }
}

impl Deliverer {
    /// A deliverer for `store` under `policy`, signing with `signer`.
    pub fn new(
        store: Arc<dyn Store>,
        policy: Arc<PushPolicy>,
        signer: Option<Arc<PushSigner>>,
    ) -> Result<Arc<Deliverer>, String> {
        Ok(Arc::new(Deliverer {
            sender: Sender::new(Arc::clone(&policy))?,
            store,
            policy,
            signer,
            owner: format!("push-{}", uuid::Uuid::new_v4()),
            busy: Mutex::new(Busy::default()),
        }))
    }

    /// Runs until `stop` is cancelled, then waits (up to the delivery
    /// timeout) for the deliveries in flight and settles them.
    ///
    /// Claims are batched: the loop claims when nothing is outstanding, or
    /// when there is room for at least half a destination's queue, so that
    /// a busy receiver costs one claim per batch, not one per
    /// notification.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<PushFinish>();
        let mut done: Vec<PushFinish> = Vec::new();
        let settings = self.policy.settings().clone();
        let queue_cap = settings.per_destination * WAITING_PER_SLOT;
        let max_outstanding = settings.concurrency + queue_cap;
        loop {
            while let Ok(f) = done_rx.try_recv() {
                done.push(f);
            }
            self.settle(&mut done).await;
            if stop.is_cancelled() {
                break;
            }
            let (outstanding, room) = {
                let busy = self.busy.lock();
                let room = max_outstanding
                    .saturating_sub(busy.outstanding())
                    .min(queue_cap - busy.longest_queue().min(queue_cap));
                (busy.outstanding(), room)
            };
            let mut claimed = 0;
            let mut asked = 0;
            if outstanding == 0 || room >= (queue_cap / 2).max(1) {
                asked = room;
                let claim = PushClaim {
                    owner: &self.owner,
                    now_ms: unix_millis(SystemTime::now()),
                    lease: settings.lease(),
                    limit: room,
                };
                match self.store.claim_pushes(&claim).await {
                    Ok(batch) => {
                        claimed = batch.len();
                        for delivery in batch {
                            self.start(delivery, &done_tx, &mut done);
                        }
                    }
                    Err(e) => log_throttled!(warn, "push: cannot claim notifications: {e}"),
                }
            }
            if claimed > 0 && claimed == asked {
                continue;
            }
            if asked > 0 && claimed == 0 && done.is_empty() {
                // Nothing was due: a claim scans the queue, so commits that
                // wake the loop faster than this (a busy host whose
                // receivers are failing) do not each cost one.
                tokio::select! {
                    _ = tokio::time::sleep(MIN_IDLE) => {}
                    _ = stop.cancelled() => {}
                }
            }
            let wait = if !done.is_empty() {
                Duration::ZERO
            } else if outstanding > 0 || claimed > 0 {
                // Each finished delivery wakes the loop.
                settings.poll_interval
            } else {
                self.idle_wait(settings.poll_interval).await
            };
            tokio::select! {
                _ = self.policy.wake.notified() => {}
                Some(f) = done_rx.recv() => done.push(f),
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => {}
            }
        }
        // Let what is in flight finish, so that it is settled rather than
        // left to lease expiry.
        let deadline = tokio::time::Instant::now() + settings.timeout;
        drop(done_tx);
        while self.busy.lock().outstanding() > 0 {
            match tokio::time::timeout_at(deadline, done_rx.recv()).await {
                Ok(Some(f)) => done.push(f),
                _ => break,
            }
        }
        self.settle(&mut done).await;
    }

    /// How long to sleep when nothing is outstanding or claimable: until
    /// the next row is due, within [`MIN_IDLE`]..=`poll`.
    async fn idle_wait(&self, poll: Duration) -> Duration {
        match self.store.next_push_due().await {
            Ok(Some(at)) => {
                let now = unix_millis(SystemTime::now());
                let ms = u64::try_from(at.saturating_sub(now)).unwrap_or(0);
                Duration::from_millis(ms).clamp(MIN_IDLE, poll)
            }
            _ => poll,
        }
    }

    /// Writes the outcomes gathered so far; on failure they are kept for
    /// the next round (the leases protect the rows meanwhile).
    async fn settle(&self, done: &mut Vec<PushFinish>) {
        if done.is_empty() {
            return;
        }
        match self.store.finish_pushes(&self.owner, done).await {
            Ok(()) => done.clear(),
            Err(e) => log_throttled!(
                warn,
                "push: cannot record {} delivery outcomes: {e}",
                done.len()
            ),
        }
    }

    /// Starts a claimed notification, queues it behind its destination's
    /// deliveries, or hands it back if that queue is full or its URL is no
    /// longer acceptable.
    fn start(
        self: &Arc<Self>,
        delivery: PushDelivery,
        done: &mpsc::UnboundedSender<PushFinish>,
        settled: &mut Vec<PushFinish>,
    ) {
        let target = match self.policy.target(&delivery.config.url) {
            Ok(t) => t,
            Err(refusal) => {
                settled.push(self.dead(&delivery, format!("webhook refused: {}", refusal.message)));
                return;
            }
        };
        let s = self.policy.settings();
        let dest = target.destination();
        let job = Job {
            delivery,
            target,
            claimed: Instant::now(),
        };
        let mut busy = self.busy.lock();
        let can_send = busy.sending < s.concurrency;
        let d = busy.destinations.entry(dest.clone()).or_default();
        if d.sending < s.per_destination && can_send {
            d.sending += 1;
            busy.sending += 1;
            drop(busy);
            let this = Arc::clone(self);
            tokio::spawn(this.work(dest, job, done.clone()));
        } else if d.queue.len() < s.per_destination * WAITING_PER_SLOT {
            d.queue.push_back(job);
            busy.waiting += 1;
        } else {
            settled.push(PushFinish {
                key: job.delivery.key,
                outcome: PushOutcome::Deferred {
                    at_ms: unix_millis(SystemTime::now() + DEFER),
                },
            });
        }
    }

    /// Sends `job`, then the jobs waiting for its destination (or another
    /// destination's, when its own have none), until there are none.
    async fn work(
        self: Arc<Self>,
        mut dest: String,
        mut job: Job,
        done: mpsc::UnboundedSender<PushFinish>,
    ) {
        let s = self.policy.settings();
        // Past this, a waiting job's lease could end before it is sent.
        let stale = s.lease() / 2;
        loop {
            let finish = if job.claimed.elapsed() > stale {
                PushFinish {
                    key: job.delivery.key.clone(),
                    outcome: PushOutcome::Deferred {
                        at_ms: unix_millis(SystemTime::now()),
                    },
                }
            } else {
                let (body, headers) = self.request(&job.delivery);
                let sent = self.sender.send(&job.target, headers, body).await;
                self.outcome(&job.delivery, sent)
            };
            let next = {
                let mut busy = self.busy.lock();
                let next = busy.next_job(&dest, s.per_destination);
                if next.is_none() {
                    busy.sending -= 1;
                }
                next
            };
            let _ = done.send(finish);
            match next {
                Some((d, j)) => {
                    dest = d;
                    job = j;
                }
                None => return,
            }
        }
    }

    /// The body and headers of a notification.
    fn request(&self, delivery: &PushDelivery) -> (Bytes, HeaderMap) {
        let body = Bytes::from(serde_json::to_vec(&delivery.event).unwrap_or_default());
        let event_id = delivery.key.event_id();
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let mut put = |name: &'static str, value: &str| {
            // Values were checked when the config was created; one that
            // still cannot be a header is left out rather than sent broken.
            if let (Ok(n), Ok(mut v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                v.set_sensitive(name != NOTIFICATION_ID_HEADER);
                headers.insert(n, v);
            }
        };
        put(NOTIFICATION_ID_HEADER, &event_id);
        if let Some(token) = delivery.config.token.as_deref().filter(|t| !t.is_empty()) {
            put(NOTIFICATION_TOKEN_HEADER, token);
        }
        if let Some(auth) = &delivery.config.authentication {
            let value = match auth.credentials.as_deref() {
                Some(c) if !c.is_empty() => format!("{} {c}", auth.scheme),
                _ => auth.scheme.clone(),
            };
            put("authorization", &value);
        }
        if let Some(signer) = &self.signer {
            let jwt = signer.sign(&body, &delivery.key.task_id, &event_id, SystemTime::now());
            put(NOTIFICATION_SIGNATURE_HEADER, &jwt);
        }
        (body, headers)
    }

    /// What an attempt's result means for the row.
    fn outcome(&self, delivery: &PushDelivery, sent: Sent) -> PushFinish {
        match sent {
            Sent::Delivered => {
                tracing::debug!(
                    task = %delivery.key.task_id,
                    config = %delivery.key.config_id,
                    seq = delivery.key.seq,
                    "push: delivered"
                );
                PushFinish {
                    key: delivery.key.clone(),
                    outcome: PushOutcome::Delivered,
                }
            }
            Sent::Refused(why) => self.dead(delivery, format!("webhook refused: {why}")),
            Sent::Failed { error, retry_after } => {
                let s = self.policy.settings();
                let attempts = delivery.attempts + 1;
                let wait = next_wait(s.backoff_base, s.backoff_max, attempts, retry_after);
                let now = SystemTime::now();
                let at_ms = unix_millis(now + wait);
                let age_at_retry = at_ms.saturating_sub(delivery.queued_ms);
                let too_old =
                    age_at_retry > i64::try_from(s.max_age.as_millis()).unwrap_or(i64::MAX);
                if attempts >= s.max_attempts || too_old {
                    return self.dead(delivery, error);
                }
                tracing::debug!(
                    task = %delivery.key.task_id,
                    config = %delivery.key.config_id,
                    seq = delivery.key.seq,
                    attempt = attempts,
                    retry_in_ms = wait.as_millis() as u64,
                    "push: delivery failed: {error}"
                );
                PushFinish {
                    key: delivery.key.clone(),
                    outcome: PushOutcome::Retry { at_ms, error },
                }
            }
        }
    }

    /// Dead-letters a notification, logging it once.
    fn dead(&self, delivery: &PushDelivery, error: String) -> PushFinish {
        tracing::warn!(
            agent = %delivery.agent,
            task = %delivery.key.task_id,
            config = %delivery.key.config_id,
            seq = delivery.key.seq,
            url = %super::policy::shown(&delivery.config.url),
            attempts = delivery.attempts + 1,
            "push: notification dead-lettered: {error}"
        );
        PushFinish {
            key: delivery.key.clone(),
            outcome: PushOutcome::Dead { error },
        }
    }
}

/// The wait before attempt `attempts + 1`: `base × 2^(attempts-1)`, capped
/// at `max`, with "equal jitter" (a random point in its upper half) so that
/// receivers coming back are not hit by every sender at once. A receiver's
/// `Retry-After` replaces it, within `base..=max`.
pub fn next_wait(
    base: Duration,
    max: Duration,
    attempts: u32,
    retry_after: Option<Duration>,
) -> Duration {
    if let Some(ra) = retry_after {
        return ra.clamp(base, max.max(base));
    }
    let exp = attempts.saturating_sub(1).min(31);
    let full = base.saturating_mul(1u32 << exp).min(max);
    let half = full / 2;
    half + half.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        for attempts in 1..=10u32 {
            let full = (base * 2u32.pow(attempts - 1)).min(max);
            for _ in 0..50 {
                let w = next_wait(base, max, attempts, None);
                assert!(w >= full / 2 && w <= full, "{attempts}: {w:?}");
            }
        }
        assert_eq!(
            next_wait(base, max, 3, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(
            next_wait(base, max, 3, Some(Duration::from_secs(3600))),
            max
        );
        assert_eq!(next_wait(base, max, 3, Some(Duration::ZERO)), base);
        // Huge attempt counts neither overflow nor exceed the cap.
        assert!(next_wait(base, max, u32::MAX, None) <= max);
    }
}
