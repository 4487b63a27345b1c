//! The shared-bus path: running queued turns claimed from the bus
//! ([`ClusterWorker`]), publishing committed events, bridging other
//! processes' events into local channels, and cancels signalled from
//! elsewhere.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;

use crate::agent::{TaskUsage, TurnInput};
use crate::bus::{Job, JobOutcome, Worker};
use crate::log_throttle::log_throttled;
use crate::model::{Role, StreamResponse, TaskState};
use crate::store::{StoreError, StoredTask};

use super::channel::{SequencedEvent, TaskChannel};
use super::turn::{LiveState, Settled};
use super::{Inner, TaskManager, resting};

impl TaskManager {
    /// Feeds a task channel with the events other processes write: on each
    /// bus wake-up from the bus's copy of the log, and every
    /// [`BRIDGE_POLL`] from the store (wake-ups are not guaranteed). Ends
    /// when the channel is dropped.
    pub(super) fn spawn_bridge(&self, channel: &Arc<TaskChannel>) {
        let weak = Arc::downgrade(channel);
        let wake = channel.wake.clone();
        let bus = self.inner.bus.clone();
        let store = self.inner.store.clone();
        tokio::spawn(async move {
            loop {
                let polled = tokio::select! {
                    _ = wake.notified() => false,
                    _ = tokio::time::sleep(BRIDGE_POLL) => true,
                };
                let Some(channel) = weak.upgrade() else {
                    return;
                };
                let sent = channel.last_sent.load(Ordering::SeqCst);
                let announced = channel.announced.load(Ordering::SeqCst);
                if !polled && announced <= sent {
                    continue;
                }
                // Streams refill gaps from the store, so when nothing was
                // sent yet only the newest event matters.
                let after = if sent == 0 {
                    announced.saturating_sub(1)
                } else {
                    sent
                };
                let events = if polled {
                    store.events_after(&channel.task_id, after).await.ok()
                } else {
                    match bus.events_after(&channel.task_id, after).await {
                        Ok(events) if events.last().is_some_and(|(s, _)| *s >= announced) => {
                            Some(events)
                        }
                        // Missing or behind on the bus: the store has all.
                        _ => store.events_after(&channel.task_id, after).await.ok(),
                    }
                };
                let Some(mut events) = events else { continue };
                if sent == 0 && events.len() > 1 {
                    events.drain(..events.len() - 1);
                }
                for (seq, event) in events {
                    if seq > channel.last_sent.load(Ordering::SeqCst) {
                        channel.send(SequencedEvent {
                            seq: Some(seq),
                            event: Arc::new(event),
                        });
                    }
                }
            }
        });
    }

    /// Copies committed events, numbered from `first_seq`, to the bus when
    /// processes share the work (alone, nobody else reads them). A failure
    /// is logged, not returned: the events are stored, and streams
    /// elsewhere catch up from the store.
    pub(super) async fn publish(
        &self,
        task_id: &str,
        first_seq: u64,
        events: &[Arc<StreamResponse>],
    ) {
        if !self.inner.shared {
            return;
        }
        let events: Vec<(u64, StreamResponse)> = (first_seq..)
            .zip(events)
            .map(|(seq, e)| (seq, StreamResponse::clone(e)))
            .collect();
        if let Err(e) = self.inner.bus.publish_events(task_id, &events).await {
            log_throttled!(warn, task = %task_id, error = %e, "could not publish events on the bus");
        }
    }

    /// A bus wake-up: the task's log grew to `seq`.
    fn wake_channel(&self, task_id: &str, seq: u64) {
        let channel = self
            .inner
            .channels
            .lock()
            .get(task_id)
            .and_then(Weak::upgrade);
        if let Some(channel) = channel {
            channel.announced.fetch_max(seq, Ordering::SeqCst);
            if seq > channel.last_sent.load(Ordering::SeqCst) {
                channel.wake.notify_one();
            }
        }
    }

    /// Wake-ups may have been lost: every bridge looks again.
    fn resync_channels(&self) {
        let channels: Vec<_> = self
            .inner
            .channels
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        for channel in channels {
            channel.announced.fetch_max(
                channel.last_sent.load(Ordering::SeqCst) + 1,
                Ordering::SeqCst,
            );
            channel.wake.notify_one();
        }
    }

    /// A cancel signal from another process: if the task's turn runs here,
    /// take the stored (canceled) state and stop the agent.
    fn remote_cancel(&self, task_id: &str) {
        let Some(live) = self.inner.live.lock().get(task_id).cloned() else {
            return;
        };
        let store = self.inner.store.clone();
        tokio::spawn(async move {
            let mut st = live.state.lock().await;
            match store.get_task(&live.task_id).await {
                Ok(Some(fresh)) if fresh.task.status.state.is_terminal() => {
                    if fresh.version > st.version {
                        st.task = Arc::new(fresh.task);
                        st.version = fresh.version;
                        st.last_seq = fresh.last_seq;
                        st.started = true;
                    }
                    if !st.turn_over {
                        st.turn_over = true;
                        live.turn_over.store(true, Ordering::SeqCst);
                        live.settled.send_replace(Some(Settled::Resting));
                    }
                }
                // Not canceled after all (a stale signal): keep running.
                Ok(_) => return,
                // The signal only follows a stored cancel: trust it.
                Err(e) => {
                    tracing::debug!(task = %live.task_id, error = %e, "cancel signal: cannot read the task; stopping it anyway");
                }
            }
            drop(st);
            tracing::info!(task = %live.task_id, "canceled on another host process; stopping the agent");
            live.cancel.cancel();
        });
    }

    /// Runs a queued turn claimed from the bus, to its end.
    async fn run_job(&self, job: Job, attempt: u32) -> JobOutcome {
        if self
            .inner
            .live
            .lock()
            .get(&job.task_id)
            .is_some_and(|l| !l.turn_over.load(Ordering::SeqCst))
        {
            // A turn of this task already runs here.
            return JobOutcome::Done;
        }
        let stored = match self.job_task(&job).await {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                return JobOutcome::Retry(format!(
                    "message `{}` (task version {}) is not in the store after {:?}: the process \
                     that queued it stopped or failed to write it",
                    job.message_id, job.accepted_version, self.inner.config.job_wait
                ));
            }
            Err(e) => return JobOutcome::Retry(format!("cannot read the task: {e}")),
        };
        if stored.agent != job.agent {
            tracing::warn!(task = %job.task_id, agent = %job.agent, "queued task belongs to another agent; dropped");
            return JobOutcome::Done;
        }
        let task = &stored.task;
        if resting(task.status.state) {
            // Canceled before it ran, or finished by a process that died
            // before it could acknowledge the job.
            return JobOutcome::Done;
        }
        let Some(at) = task.history.iter().rposition(|m| m.role == Role::User) else {
            self.fail_stored(&stored, "the task has no user message to run")
                .await;
            return JobOutcome::Done;
        };
        if task.history[at].message_id != job.message_id {
            // A later turn has started since: this job is stale.
            return JobOutcome::Done;
        }
        let Some(agent) = self.inner.registry.get(&job.agent) else {
            let reason = format!(
                "agent `{}` is not served by the host process that took this task",
                job.agent
            );
            self.fail_stored(&stored, &reason).await;
            return JobOutcome::Done;
        };
        if attempt > 1 {
            tracing::info!(task = %job.task_id, attempt, "running a task again after its host process died");
        }
        let input = TurnInput {
            agent: job.agent.clone(),
            task_id: task.id.clone(),
            context_id: task.context_id.clone(),
            message: task.history[at].clone(),
            history: task.history[..at].to_vec(),
            metadata: task.metadata.clone(),
            accepted_output_modes: job.accepted_output_modes,
            spent: TaskUsage::of(&stored.task, stored.last_seq),
        };
        let state = LiveState {
            task: Arc::new(stored.task.clone()),
            version: stored.version,
            last_seq: stored.last_seq,
            started: stored.last_seq > 0 || !job.first_turn,
            first_turn: job.first_turn,
            turn_over: false,
            push_config: None,
        };
        let live = self.register_turn(&input, state);
        self.clone().run_turn(agent.agent, input, live, false).await;
        JobOutcome::Done
    }

    /// The processes that ran a job died `attempts` times: fail its task.
    /// The task of a job once the write that accepted the job's message is
    /// in the store, waiting up to `job_wait` (the job was queued just
    /// before that write).
    async fn job_task(&self, job: &Job) -> Result<Option<StoredTask>, StoreError> {
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(stored) = self.inner.store.get_task(&job.task_id).await?
                && stored.version >= job.accepted_version
            {
                return Ok(Some(stored));
            }
            if started.elapsed() >= self.inner.config.job_wait {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    async fn give_up_job(&self, job: &Job, attempts: u32) -> Result<bool, String> {
        for _ in 0..8 {
            let stored = match self.inner.store.get_task(&job.task_id).await {
                Ok(Some(stored)) => stored,
                Ok(None) => return Ok(false),
                Err(e) => return Err(format!("cannot read the task: {e}")),
            };
            let task = &stored.task;
            let current = task
                .history
                .iter()
                .rev()
                .find(|m| m.role == Role::User)
                .is_some_and(|m| m.message_id == job.message_id);
            if resting(task.status.state) || !current {
                return Ok(false);
            }
            let reason = format!(
                "the task was run {attempts} times and its host process died each time; \
                 it is not retried again"
            );
            match self.write_status(&stored, TaskState::Failed, &reason).await {
                Ok(_) => return Ok(true),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(format!("cannot fail the task: {e}")),
            }
        }
        Err("the task kept changing".into())
    }

    /// Fails a task that has no turn running, logging if that fails.
    async fn fail_stored(&self, stored: &StoredTask, reason: &str) {
        tracing::warn!(task = %stored.task.id, %reason, "failing a queued task");
        if let Err(e) = self.write_status(stored, TaskState::Failed, reason).await {
            tracing::warn!(task = %stored.task.id, error = %e, "could not fail a queued task");
        }
    }
}

/// How often a bridged task channel reads the store for events it was not
/// woken for.
const BRIDGE_POLL: Duration = Duration::from_secs(3);

/// The manager's side of a shared bus.
pub(super) struct ClusterWorker {
    pub(super) inner: Weak<Inner>,
}

impl ClusterWorker {
    fn manager(&self) -> Option<TaskManager> {
        self.inner.upgrade().map(|inner| TaskManager { inner })
    }
}

#[async_trait]
impl Worker for ClusterWorker {
    fn capacity(&self) -> usize {
        match self.manager() {
            Some(m) if !m.is_draining() => m.inner.config.workers,
            _ => 0,
        }
    }

    async fn run(&self, job: Job, attempt: u32) -> JobOutcome {
        match self.manager() {
            Some(m) => m.run_job(job, attempt).await,
            None => JobOutcome::Retry("the host is stopping".into()),
        }
    }

    async fn give_up(&self, job: &Job, attempts: u32) -> Result<bool, String> {
        match self.manager() {
            Some(m) => m.give_up_job(job, attempts).await,
            None => Err("the host is stopping".into()),
        }
    }

    fn wake(&self, task_id: &str, seq: u64) {
        if let Some(m) = self.manager() {
            m.wake_channel(task_id, seq);
        }
    }

    fn cancel(&self, task_id: &str) {
        if let Some(m) = self.manager() {
            m.remote_cancel(task_id);
        }
    }

    fn resync(&self) {
        if let Some(m) = self.manager() {
            m.resync_channels();
        }
    }
}
