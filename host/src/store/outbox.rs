//! The push-notification outbox: the types of the [`Store`](super::Store)
//! methods that queue, lease and settle webhook deliveries.
//!
//! A store queues one notification per (event, push config) **inside the
//! transaction that appends the event** ([`Store::write_task`]), so a
//! committed event is never without its notifications, whatever crashes
//! afterwards. Notifications are rows keyed by [`PushKey`]; their body is
//! the event itself, read from the task's event log when the row is
//! claimed, never copied.
//!
//! Deliverers (one per process) take due notifications with
//! [`Store::claim_pushes`], which leases each to its owner for a while; a
//! process that dies mid-delivery loses its leases when they expire, and any
//! process may then claim the rows again. Only the **head** of each
//! config's queue (its lowest pending sequence number) can be claimed, so a
//! config's notifications go out one at a time, in event order. The
//! outcome comes back through [`Store::finish_pushes`]: delivered rows are
//! deleted, failed ones wait for their next attempt, and hopeless ones are
//! dead-lettered — kept, out of the queue, listed by
//! [`Store::dead_pushes`] until requeued or purged with their task.
//!
//! [`Store::write_task`]: super::Store::write_task
//! [`Store::claim_pushes`]: super::Store::claim_pushes
//! [`Store::finish_pushes`]: super::Store::finish_pushes
//! [`Store::dead_pushes`]: super::Store::dead_pushes

use std::time::Duration;

use super::StoreError;
use crate::model::{StreamResponse, TaskPushNotificationConfig};

/// Names one queued notification: an event of a task, for one of its push
/// configs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PushKey {
    /// The task whose event it carries.
    pub task_id: String,
    /// The push config it goes to.
    pub config_id: String,
    /// The event's sequence number in the task's log.
    pub seq: u64,
}

impl PushKey {
    /// The notification's stable id, the same on every attempt and in
    /// every process: `TASK/CONFIG/SEQ`. Receivers use it to drop
    /// duplicates.
    pub fn event_id(&self) -> String {
        format!("{}/{}/{}", self.task_id, self.config_id, self.seq)
    }
}

/// What [`Store::claim_pushes`](super::Store::claim_pushes) may take.
#[derive(Debug, Clone, Copy)]
pub struct PushClaim<'a> {
    /// Who takes the leases (a process's unique id).
    pub owner: &'a str,
    /// Now, in Unix milliseconds: rows due at or before it may be claimed,
    /// and leases that ended before it count as free.
    pub now_ms: i64,
    /// How long the leases last from `now_ms`.
    pub lease: Duration,
    /// The most rows to claim (at most one per push config).
    pub limit: usize,
}

impl PushClaim<'_> {
    /// When the leases it takes end, in Unix milliseconds.
    pub fn lease_end(&self) -> i64 {
        let lease = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        self.now_ms.saturating_add(lease)
    }
}

/// A claimed notification, with everything needed to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct PushDelivery {
    /// Which notification this is.
    pub key: PushKey,
    /// The agent that owns the task.
    pub agent: String,
    /// The config as stored now (URL, token, authentication).
    pub config: TaskPushNotificationConfig,
    /// The event to post, from the task's log.
    pub event: StreamResponse,
    /// Attempts made before this one (0 on the first).
    pub attempts: u32,
    /// When the notification was queued, in Unix milliseconds.
    pub queued_ms: i64,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The receiver took it: the row is deleted.
    Delivered,
    /// It failed and will be tried again at `at_ms` (Unix milliseconds):
    /// the lease is released and the attempt counted.
    Retry {
        /// When it is due again.
        at_ms: i64,
        /// What went wrong, for the listing (never credentials).
        error: String,
    },
    /// It was not attempted (its destination was busy): the lease is
    /// released and it is due again at `at_ms`, its attempts unchanged.
    Deferred {
        /// When it is due again.
        at_ms: i64,
    },
    /// It failed for good: the row leaves the queue and is kept as a dead
    /// letter, so the config's next notification becomes its head.
    Dead {
        /// What went wrong, for the listing (never credentials).
        error: String,
    },
}

/// One settled attempt, for [`Store::finish_pushes`](super::Store::finish_pushes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushFinish {
    /// The notification.
    pub key: PushKey,
    /// How its attempt ended.
    pub outcome: PushOutcome,
}

/// A dead-lettered notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadPush {
    /// Which notification this is.
    pub key: PushKey,
    /// The agent that owns the task.
    pub agent: String,
    /// The webhook URL it was for (the config's, when it died).
    pub url: String,
    /// Attempts made.
    pub attempts: u32,
    /// When it was queued, in Unix milliseconds.
    pub queued_ms: i64,
    /// When it was dead-lettered, in Unix milliseconds.
    pub died_ms: i64,
    /// The last attempt's error.
    pub error: String,
}

/// Which dead letters to list or requeue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadPushQuery {
    /// Only this agent's.
    pub agent: Option<String>,
    /// Only this task's.
    pub task_id: Option<String>,
    /// The most to list (ignored by requeue); oldest death first.
    pub limit: usize,
}

/// Notifications of one agent's tasks in the outbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushCounts {
    /// The agent.
    pub agent: String,
    /// Waiting or being delivered.
    pub pending: u64,
    /// Dead-lettered.
    pub dead: u64,
}

/// The `(task id, config id)` of a push config, both required and non-empty.
pub(crate) fn push_config_key(
    config: &TaskPushNotificationConfig,
) -> Result<(&str, &str), StoreError> {
    let task_id = config
        .task_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| StoreError::Other("a push config needs a task id".into()))?;
    let config_id = config
        .id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| StoreError::Other("a push config needs an id".into()))?;
    Ok((task_id, config_id))
}
