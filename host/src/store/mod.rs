//! Durable task storage behind one trait.
//!
//! A store keeps, per task: the latest [`Task`] snapshot (with its history
//! and artifacts) under a version number, and the task's **event log** — the
//! ordered [`StreamResponse`]s its streams carried, each with a sequence
//! number that becomes the SSE `id:`. It also keeps per-context agent state,
//! push-notification configs, and the message-id index that makes
//! SendMessage idempotent.
//!
//! Every write of a task goes through [`Store::write_task`], which is
//! atomic: the snapshot, its new version, its new events and the message-id
//! claim land together or not at all. Writes carry the version they were
//! based on; a store that sees a different current version answers
//! [`StoreError::Conflict`] and changes nothing (optimistic concurrency).
//!
//! Implementations: [`memory::MemoryStore`], [`sqlite::SqliteStore`] and
//! [`postgres::PostgresStore`]; [`open`] picks one from a `--store` value.
//! Every implementation must pass the conformance suite in `conformance`
//! (built for tests and with the `store-conformance` feature).
//!
//! # Retention
//! Nothing expires by itself. [`Store::purge`] deletes what a [`Retention`]
//! policy says has expired: tasks that have been terminal for too long (with
//! their event logs, message-id claims, push configs and outbox rows) and the state of
//! contexts that nobody wrote for too long. [`retention::spawn_retention`]
//! runs it as a background job.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::config::StoreSpec;
use crate::model::{StreamResponse, Task, TaskPushNotificationConfig, TaskState, Timestamp};

// The suite is for tests (here and, with the feature, other crates'), not
// for release builds.
#[cfg(any(test, feature = "store-conformance"))]
pub mod conformance;
pub mod memory;
pub mod outbox;
mod paging;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod retention;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use outbox::{
    DeadPush, DeadPushQuery, PushClaim, PushCounts, PushDelivery, PushFinish, PushKey, PushOutcome,
};
pub use paging::{MAX_PAGE_SIZE, decode_page_token, encode_page_token, status_millis};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The task does not exist.
    #[error("task `{0}` not found")]
    NotFound(String),
    /// A task with this id already exists (create with `expected_version` 0).
    #[error("task `{0}` already exists")]
    AlreadyExists(String),
    /// The task changed since it was read: `expected` was the caller's
    /// version, `actual` the stored one. Nothing was written.
    #[error(
        "task `{task_id}` was modified concurrently (expected version {expected}, found {actual})"
    )]
    Conflict {
        /// The task written.
        task_id: String,
        /// The version the write was based on.
        expected: u64,
        /// The version in the store.
        actual: u64,
    },
    /// The message id was already used in this context, by `task_id`.
    /// Nothing was written.
    #[error("message `{message_id}` was already sent in this context (task `{task_id}`)")]
    DuplicateMessage {
        /// The message id that was already claimed.
        message_id: String,
        /// The task that claimed it.
        task_id: String,
    },
    /// The backing service is unreachable; the caller may retry later.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (corrupt row, serialization bug, …).
    #[error("{0}")]
    Other(String),
}

/// One atomic write of a task.
#[derive(Debug, Clone)]
pub struct TaskWrite<'a> {
    /// The agent that owns the task. Set on create; ignored on update.
    pub agent: &'a str,
    /// The complete new snapshot. Shared, so that a store which keeps
    /// snapshots in memory keeps this one instead of a copy.
    pub task: Arc<Task>,
    /// The version this write is based on; `0` creates the task.
    pub expected_version: u64,
    /// Events to append to the task's log, in order; shared like `task`
    /// (the same events go out to the task's live streams).
    pub events: Vec<Arc<StreamResponse>>,
    /// A message id to claim in `(agent, task.context_id)`. If another task
    /// already claimed it, the write fails with
    /// [`StoreError::DuplicateMessage`].
    pub claim_message_id: Option<&'a str>,
    /// Whether `task.context_id` was made by this host for this task (a
    /// send that started a new conversation): then no other task can hold
    /// a claim in it, and a store may skip looking for one. A hint only;
    /// `false` is always correct.
    pub context_is_new: bool,
    /// A push config to create (or replace) in the same transaction, before
    /// this write's events are queued, so that they are queued for it too
    /// (`id` and `task_id` set; `task_id` is this task's). This is how a
    /// config that comes with the message creating a task is stored.
    pub push_config: Option<&'a TaskPushNotificationConfig>,
}

impl<'a> TaskWrite<'a> {
    /// [`TaskWrite::push_config`] with its id, refused (nothing written)
    /// if it lacks an id or task id, or belongs to another task.
    pub(crate) fn checked_push_config(
        &self,
    ) -> Result<Option<(&'a TaskPushNotificationConfig, &'a str)>, StoreError> {
        let Some(config) = self.push_config else {
            return Ok(None);
        };
        let (task_id, config_id) = outbox::push_config_key(config)?;
        if task_id != self.task.id {
            return Err(StoreError::Other(format!(
                "a write of task `{}` cannot store a push config of task `{task_id}`",
                self.task.id
            )));
        }
        Ok(Some((config, config_id)))
    }
}

/// What a successful write produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// The task's new version (1 after a create).
    pub version: u64,
    /// Sequence number of the first appended event; the i-th event of the
    /// write got `first_seq + i`. Sequence numbers start at 1 per task and
    /// have no gaps. Equals the next free number when no events were given.
    pub first_seq: u64,
    /// How many push notifications the write queued (events × the task's
    /// push configs).
    pub pushes_queued: u64,
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTask {
    /// The task's current snapshot.
    pub task: Task,
    /// Its version: 1 after the create, one more for each write. Pass it
    /// as [`TaskWrite::expected_version`] to update the task.
    pub version: u64,
    /// The agent that owns the task.
    pub agent: String,
    /// The sequence number of the last event in the task's log (0 if none).
    pub last_seq: u64,
}

/// A ListTasks query, already validated by the caller.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    /// Only tasks of this agent.
    pub agent: String,
    /// Only tasks in this context.
    pub context_id: Option<String>,
    /// Only tasks in this state.
    pub state: Option<TaskState>,
    /// Only tasks whose status timestamp is at or after this instant.
    pub status_after: Option<Timestamp>,
    /// 1..=100.
    pub page_size: usize,
    /// An opaque token from a previous page's `next_page_token`.
    pub page_token: Option<String>,
}

/// One page of tasks, newest status timestamp first (ties broken by id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskPage {
    /// The tasks of this page, at most the query's `page_size`.
    pub tasks: Vec<Task>,
    /// Empty on the last page.
    pub next_page_token: String,
    /// Matching tasks before pagination.
    pub total_size: u64,
}

/// Storage for tasks, event logs, context state and push configs.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Create (`expected_version == 0`) or update a task, append its events
    /// and claim a message id, atomically.
    ///
    /// In the same transaction, each appended event is queued in the push
    /// outbox once for every push config the task has at commit time
    /// (including [`TaskWrite::push_config`]), due at once; see [`outbox`].
    async fn write_task(&self, write: TaskWrite<'_>) -> Result<Committed, StoreError>;

    /// The current snapshot of a task.
    async fn get_task(&self, task_id: &str) -> Result<Option<StoredTask>, StoreError>;

    /// A page of an agent's tasks.
    async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskPage, StoreError>;

    /// The events of a task's log with a sequence number greater than
    /// `after_seq`, in order.
    async fn events_after(
        &self,
        task_id: &str,
        after_seq: u64,
    ) -> Result<Vec<(u64, StreamResponse)>, StoreError>;

    /// The task that claimed `message_id` in `(agent, context_id)`, if any.
    async fn task_for_message(
        &self,
        agent: &str,
        context_id: &str,
        message_id: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Ids of an agent's (or every agent's, with `None`) tasks currently in
    /// one of `states`; used to recover work after a restart.
    async fn tasks_in_states(
        &self,
        agent: Option<&str>,
        states: &[TaskState],
    ) -> Result<Vec<String>, StoreError>;

    /// A value an agent stored for a context.
    async fn get_state(
        &self,
        agent: &str,
        context_id: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// Store (`Some`) or delete (`None`) a context value.
    async fn set_state(
        &self,
        agent: &str,
        context_id: &str,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError>;

    /// Create or replace a push config (`config.id` and `config.task_id`
    /// must be set). Events the task appends after this are queued for it;
    /// earlier ones are not. Replacing keeps the config's queue (its
    /// pending notifications go to the new URL).
    async fn put_push_config(&self, config: &TaskPushNotificationConfig) -> Result<(), StoreError>;

    /// One push config of a task.
    async fn get_push_config(
        &self,
        task_id: &str,
        config_id: &str,
    ) -> Result<Option<TaskPushNotificationConfig>, StoreError>;

    /// Every push config of a task, oldest first.
    async fn list_push_configs(
        &self,
        task_id: &str,
    ) -> Result<Vec<TaskPushNotificationConfig>, StoreError>;

    /// Delete a push config and its pending notifications (its dead
    /// letters stay); `Ok(false)` if there was none.
    async fn delete_push_config(&self, task_id: &str, config_id: &str) -> Result<bool, StoreError>;

    /// Leases up to `claim.limit` due notifications to `claim.owner`, in
    /// the order they were queued: for each push config, only the head of
    /// its queue (its lowest pending sequence number), and only if it is due
    /// (`next attempt <= now`) and not leased (or its lease ended before
    /// now). A config whose head is leased to someone gives nothing.
    /// Several processes may claim at once; no row is leased to two owners.
    async fn claim_pushes(&self, claim: &PushClaim<'_>) -> Result<Vec<PushDelivery>, StoreError>;

    /// Settles attempts `owner` made (see [`PushOutcome`]). A row that is no
    /// longer leased to `owner` (its lease ended and another owner took
    /// it), or no longer exists, is skipped: the other owner settles it.
    async fn finish_pushes(&self, owner: &str, done: &[PushFinish]) -> Result<(), StoreError>;

    /// When the next pending notification becomes claimable (Unix
    /// milliseconds: the later of its next attempt and the end of its
    /// lease), or `None` when nothing is pending.
    async fn next_push_due(&self) -> Result<Option<i64>, StoreError>;

    /// Dead letters matching `query`, oldest death first.
    async fn dead_pushes(&self, query: &DeadPushQuery) -> Result<Vec<DeadPush>, StoreError>;

    /// Puts the dead letters matching `query` back in their configs' queues
    /// (in sequence order, due at `now_ms`, attempts and age counted anew);
    /// those whose config was deleted are dropped. Returns how many were
    /// requeued.
    async fn requeue_dead_pushes(
        &self,
        query: &DeadPushQuery,
        now_ms: i64,
    ) -> Result<u64, StoreError>;

    /// Pending and dead notifications per agent (agents with none are left
    /// out), by agent name.
    async fn push_counts(&self) -> Result<Vec<PushCounts>, StoreError>;

    /// Deletes what `policy` says has expired as of `now`, and reports what
    /// went:
    /// - with [`Retention::terminal_tasks`], every task in a terminal state
    ///   whose status timestamp is more than that long before `now` (a task
    ///   without a status timestamp counts as the Unix epoch), together with
    ///   its event log, its message-id claims, its push configs and its
    ///   outbox rows, pending or dead. Tasks in
    ///   any other state are never deleted, however old. Once a claim is
    ///   gone, a resent message id starts a new task.
    /// - with [`Retention::context_state`], all values of every context
    ///   (per agent) none of whose values was stored for more than that long
    ///   before `now`. A context is a unit: one recent write keeps all of
    ///   its values.
    ///
    /// Large purges run in batches of [`PURGE_BATCH`], each its own
    /// transaction, so they never hold up other writers for long. Several
    /// processes may purge the same store at once.
    async fn purge(&self, policy: &Retention, now: SystemTime) -> Result<PurgeReport, StoreError>;

    /// A short name for logs (`memory`, `sqlite:/path`, …).
    fn describe(&self) -> String;
}

/// How long finished work is kept. `None` keeps it forever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Delete tasks that have been terminal (completed, failed, canceled,
    /// rejected) for longer than this, by their status timestamp, with their
    /// event logs, message-id claims, push configs and outbox rows.
    pub terminal_tasks: Option<Duration>,
    /// Delete the state of contexts that were not written for longer than
    /// this.
    pub context_state: Option<Duration>,
}

impl Retention {
    /// Whether this policy never deletes anything.
    pub fn keeps_everything(&self) -> bool {
        self.terminal_tasks.is_none() && self.context_state.is_none()
    }

    /// The policy's cutoffs as of `now`, in Unix milliseconds.
    pub fn cutoffs(&self, now: SystemTime) -> PurgeCutoffs {
        let now_ms = unix_millis(now);
        let before = |keep: Duration| {
            now_ms.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX))
        };
        PurgeCutoffs {
            terminal_status_before_ms: self.terminal_tasks.map(before),
            state_written_before_ms: self.context_state.map(before),
        }
    }
}

/// A [`Retention`] applied to one instant: what is strictly older than these
/// (Unix milliseconds) expires.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCutoffs {
    /// Terminal tasks with a status time before this expire.
    pub terminal_status_before_ms: Option<i64>,
    /// Contexts last written before this expire.
    pub state_written_before_ms: Option<i64>,
}

/// What one [`Store::purge`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Terminal tasks (snapshots).
    pub tasks: u64,
    /// Events of their logs.
    pub events: u64,
    /// Message-id claims they held.
    pub message_claims: u64,
    /// Their push configs.
    pub push_configs: u64,
    /// Their outbox rows (pending notifications and dead letters).
    pub pushes: u64,
    /// Context values (keys) of expired contexts.
    pub context_values: u64,
}

impl PurgeReport {
    /// Whether nothing was deleted.
    pub fn is_empty(&self) -> bool {
        *self == PurgeReport::default()
    }
}

impl std::ops::AddAssign for PurgeReport {
    fn add_assign(&mut self, other: PurgeReport) {
        self.tasks += other.tasks;
        self.events += other.events;
        self.message_claims += other.message_claims;
        self.push_configs += other.push_configs;
        self.pushes += other.pushes;
        self.context_values += other.context_values;
    }
}

/// The most tasks (or contexts) one purge transaction deletes.
pub const PURGE_BATCH: usize = 500;

/// Milliseconds since the Unix epoch (negative before it).
pub(crate) fn unix_millis(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis())
            .map(|ms| -ms)
            .unwrap_or(i64::MIN),
    }
}

/// Opens the store a `--store` value names: a fresh [`memory::MemoryStore`],
/// a [`sqlite::SqliteStore`] file (created if missing), or a
/// [`postgres::PostgresStore`] with default [`postgres::PgOptions`] (the
/// schema comes from the URL's `options=-c search_path=…`, if any). Schemas
/// are brought up to date on the way. The error says what failed and where,
/// without passwords.
pub async fn open(spec: &StoreSpec) -> Result<Arc<dyn Store>, String> {
    match spec {
        StoreSpec::Memory => Ok(Arc::new(memory::MemoryStore::new())),
        #[cfg(feature = "sqlite")]
        StoreSpec::Sqlite(path) => {
            let owned = path.clone();
            // Opening and migrating a file is blocking I/O.
            tokio::task::spawn_blocking(move || sqlite::SqliteStore::open(owned))
                .await
                .map_err(|e| format!("opening the SQLite store {}: {e}", path.display()))?
                .map(|s| Arc::new(s) as Arc<dyn Store>)
                .map_err(|e| format!("cannot open the SQLite store {}: {e}", path.display()))
        }
        #[cfg(feature = "postgres")]
        StoreSpec::Postgres(url) => {
            postgres::PostgresStore::connect(url, postgres::PgOptions::default())
                .await
                .map(|s| Arc::new(s) as Arc<dyn Store>)
                .map_err(|e| {
                    format!(
                        "cannot open the PostgreSQL store {}: {e}",
                        postgres::redacted_url(url)
                    )
                })
        }
        #[cfg(not(all(feature = "sqlite", feature = "postgres")))]
        other => Err(format!(
            "this a2a-host was built without the `{}` feature; rebuild with \
             `--features {0}` (or `full`) or use another store",
            other.feature().unwrap_or_default()
        )),
    }
}
