//! How host processes share work and events.
//!
//! A single `a2a-host` process runs every turn itself and streams events
//! through in-process channels: that is the [`LocalBus`], the default, and
//! with it the task manager behaves exactly as it does without a bus.
//!
//! Several processes behind a load balancer share a store (PostgreSQL) for
//! state and a **shared bus** ([`redis::RedisBus`], `--bus redis://…`) for
//! three things the store cannot do:
//!
//! - **Work queue.** A process that accepts a message writes the task to
//!   the store, then queues a [`Job`]. Any process with a free worker slot
//!   claims it and runs the turn; a process whose slots are full stops
//!   claiming (backpressure). A job whose process died is claimed again
//!   after an idle time, retried with backoff up to a maximum number of
//!   attempts, then the task is failed with a reason and the job kept in a
//!   dead-letter stream.
//! - **Events.** Every committed write's events are copied to the bus, with
//!   their sequence numbers, and a wake-up is published. A stream held open
//!   on one process hears about events another process writes; the store
//!   stays the source of truth for replay.
//! - **Cancel signals.** A cancel written on one process reaches the
//!   process that runs the turn, which stops the agent.
//!
//! Jobs carry ids and routing only: the message itself is read back from
//! the store, and no request header, token or other secret is put on the
//! bus.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::A2aError;
use crate::model::StreamResponse;

#[cfg(feature = "redis")]
pub mod redis;

/// One turn to run, as queued for any host process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Job {
    /// Format version; a process runs only jobs of [`Job::VERSION`].
    pub v: u32,
    /// The task the turn belongs to.
    pub task_id: String,
    /// The agent that owns the task.
    pub agent: String,
    /// Whether this is the task's first turn (a direct reply is allowed).
    pub first_turn: bool,
    /// The user message that starts the turn. A job whose message is no
    /// longer the task's latest user message is stale and is dropped.
    pub message_id: String,
    /// The client's accepted output media types (empty means any).
    #[serde(default)]
    pub accepted_output_modes: Vec<String>,
    /// The task version that the store write accepting the message creates.
    /// Jobs are queued just before that write, so a runner waits until the
    /// stored task reaches this version.
    pub accepted_version: u64,
}

impl Job {
    /// The job format this build writes and reads. Version 2: jobs are
    /// queued before their message is written and carry
    /// `acceptedVersion`.
    pub const VERSION: u32 = 2;

    /// The job as stored on the bus.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a job always serializes")
    }

    /// Reads a job, or says why it is not one this build can run.
    pub fn decode(raw: &str) -> Result<Job, String> {
        let value: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| format!("the job is not JSON: {e}"))?;
        match value.get("v").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(Job::VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "the job has format version {v}; this host reads version {}",
                    Job::VERSION
                ));
            }
            None => return Err("the job has no format version `v`".into()),
        }
        let job: Job =
            serde_json::from_value(value).map_err(|e| format!("the job is malformed: {e}"))?;
        if job.task_id.is_empty() || job.agent.is_empty() || job.message_id.is_empty() {
            return Err("the job names no task, agent or message".into());
        }
        Ok(job)
    }
}

/// Why a bus operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The bus service is unreachable; the caller may retry later.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl From<BusError> for A2aError {
    fn from(e: BusError) -> Self {
        match e {
            BusError::Unavailable(m) => {
                A2aError::Unavailable(format!("work queue unavailable: {m}"))
            }
            BusError::Other(m) => A2aError::Internal(format!("work queue error: {m}")),
        }
    }
}

/// What became of a job a worker ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The turn ended (or there was nothing to run): acknowledge the job.
    Done,
    /// The job could not run now (e.g. the store is down): leave it to be
    /// claimed again after the idle time. The text says why.
    Retry(String),
}

/// The side of a process that runs jobs and hears signals; the task
/// manager implements it and hands it to [`Bus::start`].
#[async_trait]
pub trait Worker: Send + Sync + 'static {
    /// How many turns this process may run at once right now (0 while it
    /// drains, or when it only accepts requests).
    fn capacity(&self) -> usize;
    /// Run the job's turn to its end. `attempt` is 1 on the first delivery.
    async fn run(&self, job: Job, attempt: u32) -> JobOutcome;
    /// The job's process died `attempts` times: fail its task with a
    /// reason. Returns whether the task was failed (false: the turn had
    /// ended anyway, and there is nothing to keep), or why that could not
    /// be decided now (the job is then left for a later try).
    async fn give_up(&self, job: &Job, attempts: u32) -> Result<bool, String>;
    /// A task's event log grew to `seq` (a wake-up; the events themselves
    /// are read with [`Bus::events_after`] or from the store).
    fn wake(&self, task_id: &str, seq: u64);
    /// A client canceled the task; stop its turn if it runs here.
    fn cancel(&self, task_id: &str);
    /// Wake-ups may have been missed (the signal connection was lost and is
    /// back): look again at every task streamed here.
    fn resync(&self);
}

/// Shares work and events between host processes.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// A short name for logs, without credentials.
    fn describe(&self) -> String;
    /// Whether turns go through a shared work queue. `false` means this
    /// process runs every turn it accepts, and nothing else is used.
    fn is_shared(&self) -> bool;
    /// Start the background loops that claim jobs and receive signals for
    /// `worker`. Called once, inside a Tokio runtime.
    fn start(self: Arc<Self>, worker: Arc<dyn Worker>);
    /// Whether the bus can take work now; checked before a message is
    /// accepted, so that an outage is a clean 503 with nothing written.
    async fn ready(&self) -> Result<(), BusError>;
    /// Queue a turn for any process. The manager queues a job *before* the
    /// store write that makes it runnable (a runner that finds the task not
    /// written yet waits for it), so that a process dying between the two
    /// leaves no task that nothing will ever run.
    async fn enqueue(&self, job: &Job) -> Result<JobTicket, BusError>;
    /// Take back a queued job whose store write failed. A job already
    /// delivered is dropped when it is next claimed.
    async fn withdraw(&self, ticket: &JobTicket) -> Result<(), BusError>;
    /// Copy a task's committed events (sequence number, event), in order,
    /// and publish a wake-up.
    async fn publish_events(
        &self,
        task_id: &str,
        events: &[(u64, StreamResponse)],
    ) -> Result<(), BusError>;
    /// The task's events on the bus with a sequence number above `after`,
    /// in order. May be incomplete (expired, trimmed): the store has all.
    async fn events_after(
        &self,
        task_id: &str,
        after: u64,
    ) -> Result<Vec<(u64, StreamResponse)>, BusError>;
    /// Tell the process running the task that it was canceled.
    async fn signal_cancel(&self, task_id: &str) -> Result<(), BusError>;
    /// Stop every background loop and heartbeat, as if the process died:
    /// its claimed jobs are left for other processes to reclaim.
    async fn stop(&self);
}

/// A queued job, as the bus knows it (a Redis stream entry id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTicket(pub String);

/// The single-process bus: every turn runs where it was accepted, and
/// events travel only through in-process channels.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalBus;

#[async_trait]
impl Bus for LocalBus {
    fn describe(&self) -> String {
        "local".into()
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn start(self: Arc<Self>, _worker: Arc<dyn Worker>) {}

    async fn ready(&self) -> Result<(), BusError> {
        Ok(())
    }

    async fn enqueue(&self, job: &Job) -> Result<JobTicket, BusError> {
        Err(BusError::Other(format!(
            "the local bus has no work queue (job for task `{}`)",
            job.task_id
        )))
    }

    async fn withdraw(&self, _ticket: &JobTicket) -> Result<(), BusError> {
        Ok(())
    }

    async fn publish_events(
        &self,
        _task_id: &str,
        _events: &[(u64, StreamResponse)],
    ) -> Result<(), BusError> {
        Ok(())
    }

    async fn events_after(
        &self,
        _task_id: &str,
        _after: u64,
    ) -> Result<Vec<(u64, StreamResponse)>, BusError> {
        Ok(Vec::new())
    }

    async fn signal_cancel(&self, _task_id: &str) -> Result<(), BusError> {
        Ok(())
    }

    async fn stop(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job {
            v: Job::VERSION,
            task_id: "t1".into(),
            agent: "echo".into(),
            first_turn: true,
            message_id: "m1".into(),
            accepted_output_modes: vec!["text/plain".into()],
            accepted_version: 1,
        }
    }

    #[test]
    fn jobs_round_trip() {
        let j = job();
        assert_eq!(Job::decode(&j.encode()), Ok(j));
    }

    #[test]
    fn bad_jobs_say_why() {
        assert!(Job::decode("not json").unwrap_err().contains("not JSON"));
        assert!(Job::decode("{}").unwrap_err().contains("version"));
        let other = r#"{"v":1,"taskId":"t","agent":"a","firstTurn":true,"messageId":"m"}"#;
        assert!(Job::decode(other).unwrap_err().contains("version 1"));
        let extra = r#"{"v":2,"taskId":"t","agent":"a","firstTurn":true,"messageId":"m","acceptedVersion":1,"token":"x"}"#;
        assert!(Job::decode(extra).unwrap_err().contains("malformed"));
        let empty = r#"{"v":2,"taskId":"","agent":"a","firstTurn":true,"messageId":"m","acceptedVersion":1}"#;
        assert!(Job::decode(empty).is_err());
    }

    #[test]
    fn bus_errors_map_to_503() {
        let e: A2aError = BusError::Unavailable("connection refused".into()).into();
        assert_eq!(e.http_status(), 503);
        assert!(e.to_string().contains("connection refused"));
    }
}
