//! Running a turn: one call of the agent's `handle`, the live state of its
//! task ([`LiveTask`], [`LiveState`]), and the agent's actions applied as
//! store writes and broadcast events (through [`Sink`]).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use futures::FutureExt as _;
use tokio::sync::{Mutex, watch};
use tokio_util::sync::CancellationToken;

use crate::agent::{Action, ActionError, Agent, AgentError, TaskContext, TurnInput, TurnSink};
use crate::log_throttle::log_throttled;
use crate::model::{
    Message, Part, StreamResponse, Task, TaskArtifactUpdateEvent, TaskPushNotificationConfig,
    TaskState, TaskStatus,
};
use crate::registry::LoadedAgent;
use crate::store::{StoreError, TaskWrite};

use super::channel::{SequencedEvent, TaskChannel};
use super::validate::check_parts;
use super::{TaskManager, agent_message, shared_snapshot, state_word, status_event};

/// The in-process state of a task while a turn runs.
pub(super) struct LiveTask {
    pub(super) agent: String,
    pub(super) task_id: String,
    /// Serialises writes; holds the latest snapshot and its version.
    pub(super) state: Mutex<LiveState>,
    pub(super) channel: Arc<TaskChannel>,
    /// Mirrors `LiveState::turn_over` for checks that cannot await the lock.
    pub(super) turn_over: AtomicBool,
    /// Fires when the client cancels.
    pub(super) cancel: CancellationToken,
    /// The task's state (or the reply) once the current turn settles.
    pub(super) settled: watch::Sender<Option<Settled>>,
}

#[derive(Clone, Debug)]
pub(super) enum Settled {
    /// The task reached a terminal or interrupted state.
    Resting,
    Reply(Message),
}

pub(super) struct LiveState {
    /// Shared with the write that stored it (a memory store keeps it).
    pub(super) task: Arc<Task>,
    /// The stored version of `task`; 0 while the write that creates the
    /// task waits to be merged with the first action's (see
    /// [`ManagerConfig::coalesce_window`]).
    ///
    /// [`ManagerConfig::coalesce_window`]: super::ManagerConfig::coalesce_window
    pub(super) version: u64,
    pub(super) last_seq: u64,
    /// Whether the first event (the task snapshot) has been logged.
    pub(super) started: bool,
    /// Whether this is the first turn of a new task (a reply is allowed).
    pub(super) first_turn: bool,
    /// Whether the current turn has put the task into a resting state.
    pub(super) turn_over: bool,
    /// A push config that came with the message creating the task: stored
    /// by the creating write, so that the task's first events reach it.
    pub(super) push_config: Option<TaskPushNotificationConfig>,
}

impl LiveState {
    /// The write of `task` (the next snapshot) and `events` on top of the
    /// stored version. While the task is not stored yet, this write
    /// creates it and claims the id of the message that started it; only
    /// a task in a new context waits to be created, so nobody else can
    /// hold that claim.
    fn write<'a>(
        &'a self,
        agent: &'a str,
        task: Arc<Task>,
        events: Vec<Arc<StreamResponse>>,
    ) -> TaskWrite<'a> {
        let creating = self.version == 0;
        TaskWrite {
            agent,
            task,
            expected_version: self.version,
            events,
            claim_message_id: self
                .task
                .history
                .first()
                .filter(|_| creating)
                .map(|m| m.message_id.as_str()),
            context_is_new: creating,
            push_config: self.push_config.as_ref().filter(|_| creating),
        }
    }
}

impl TaskManager {
    /// Registers a live task and spawns its turn.
    pub(super) fn spawn_turn(
        &self,
        agent: LoadedAgent,
        input: TurnInput,
        state: LiveState,
    ) -> Arc<LiveTask> {
        let unwritten = state.version == 0;
        let live = self.register_turn(&input, state);
        let manager = self.clone();
        let turn_live = live.clone();
        tokio::spawn(async move {
            manager
                .run_turn(agent.agent, input, turn_live, unwritten)
                .await;
        });
        live
    }

    /// Registers a live task whose turn is about to run.
    pub(super) fn register_turn(&self, input: &TurnInput, state: LiveState) -> Arc<LiveTask> {
        let live = Arc::new(LiveTask {
            agent: input.agent.clone(),
            task_id: input.task_id.clone(),
            state: Mutex::new(state),
            channel: self.channel(&input.task_id),
            turn_over: AtomicBool::new(false),
            cancel: CancellationToken::new(),
            settled: watch::channel(None).0,
        });
        self.inner
            .live
            .lock()
            .insert(live.task_id.clone(), live.clone());
        self.inner.running_turns.fetch_add(1, Ordering::SeqCst);
        live
    }

    /// Runs one turn to its end, whatever the agent does.
    /// `unwritten`: the task's creating write waits for the first action
    /// (for at most [`ManagerConfig::coalesce_window`]).
    ///
    /// [`ManagerConfig::coalesce_window`]: super::ManagerConfig::coalesce_window
    pub(super) async fn run_turn(
        self,
        agent: Arc<dyn Agent>,
        input: TurnInput,
        live: Arc<LiveTask>,
        mut unwritten: bool,
    ) {
        let sink = Arc::new(Sink {
            manager: self.clone(),
            live: live.clone(),
        });
        let ctx = TaskContext::new(input, sink);
        // The agent runs inside this task (a panic is caught, not
        // propagated); stopping it after the grace period drops its future.
        let grace = self.inner.config.cancel_grace;
        let outcome = {
            let mut handle = std::pin::pin!(AssertUnwindSafe(agent.handle(ctx)).catch_unwind());
            let window = tokio::time::sleep(self.inner.config.coalesce_window);
            let mut window = std::pin::pin!(window);
            loop {
                tokio::select! {
                res = &mut handle => break Some(res),
                () = &mut window, if unwritten => {
                    // The agent is taking its time: store the task now. A
                    // held lock means a write is under way (perhaps the
                    // agent's own, which this loop must keep polling), and
                    // that write stores the task.
                    unwritten = false;
                    if let Ok(mut st) = live.state.try_lock()
                        && let Err(e) = self.write_created(&live, &mut st).await
                    {
                        log_write_created_error(&live.task_id, &e);
                    }
                }
                _ = live.cancel.cancelled() => {
                    break match tokio::time::timeout(grace, &mut handle).await {
                        Ok(res) => Some(res),
                        Err(_) => {
                            tracing::info!(task = %live.task_id, agent = %live.agent,
                                "agent did not stop within the cancel grace period; stopped it");
                            None
                        }
                    };
                }
                }
            }
        };
        let reason = match outcome {
            None | Some(Ok(Ok(()))) => None,
            Some(Ok(Err(AgentError::Failed(r)))) => Some((TaskState::Failed, r)),
            Some(Ok(Err(AgentError::Rejected(r)))) => Some((TaskState::Rejected, r)),
            Some(Err(panic)) => Some((
                TaskState::Failed,
                format!("agent panicked: {}", panic_message(panic)),
            )),
        };
        {
            let mut st = live.state.lock().await;
            if !st.turn_over {
                let (state, text) = reason.unwrap_or((
                    TaskState::Failed,
                    "the agent returned without completing the task (it must call complete, \
                     fail, reject, request_input, request_auth or reply)"
                        .to_string(),
                ));
                // The reason is in the task; the log gets a sample (an
                // outage or a broken agent would end every task this way).
                log_throttled!(info, task = %live.task_id, agent = %live.agent, %state, reason = %text, "turn ended by the host");
                let status =
                    TaskStatus::new(state, Some(agent_message(&st.task, vec![Part::text(text)])));
                let result = self
                    .apply(&live, &mut st, |task| {
                        task.status = status.clone();
                        vec![status_event(task)]
                    })
                    .await;
                if let Err(e) = result {
                    log_throttled!(error, task = %live.task_id, error = %e, "could not record the end of a turn");
                }
                st.turn_over = true;
                live.turn_over.store(true, Ordering::SeqCst);
                live.settled.send_replace(Some(Settled::Resting));
            } else if let Some((_, text)) = reason {
                tracing::debug!(task = %live.task_id, reason = %text, "agent error after the turn was over");
            }
        }
        {
            let mut map = self.inner.live.lock();
            // A follow-up may already have started the next turn.
            if map
                .get(&live.task_id)
                .is_some_and(|l| Arc::ptr_eq(l, &live))
            {
                map.remove(&live.task_id);
            }
        }
        if self.inner.running_turns.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.turns_done.notify_waiters();
        }
    }

    /// Applies a change to a live task: writes the new snapshot and its
    /// events, then broadcasts them. On a version conflict (another process
    /// changed the task) the live state is refreshed and the error returned.
    pub(super) async fn apply(
        &self,
        live: &LiveTask,
        st: &mut LiveState,
        change: impl FnOnce(&mut Task) -> Vec<StreamResponse>,
    ) -> Result<(), StoreError> {
        let mut next = Task::clone(&st.task);
        let mut events = Vec::with_capacity(3);
        if !st.started {
            // The first action of a task: log the task itself first.
            next.status = TaskStatus::new(TaskState::Working, None);
            events.push(Arc::new(StreamResponse::Task(next.clone())));
        }
        events.extend(change(&mut next).into_iter().map(Arc::new));
        let next = shared_snapshot(next);
        let write = st.write(&live.agent, Arc::clone(&next), events.clone());
        match self.inner.store.write_task(write).await {
            Ok(committed) => {
                let from = (st.version != 0).then_some(st.task.status.state);
                self.committed(&live.agent, from, &next, &events);
                st.task = next;
                st.version = committed.version;
                st.started = true;
                for (seq, event) in (committed.first_seq..).zip(&events) {
                    st.last_seq = seq;
                    live.channel.send(SequencedEvent {
                        seq: Some(seq),
                        event: Arc::clone(event),
                    });
                }
                self.queued(&committed);
                self.publish(&live.task_id, committed.first_seq, &events)
                    .await;
                Ok(())
            }
            Err(e) => {
                if matches!(e, StoreError::Conflict { .. })
                    && let Ok(Some(fresh)) = self.inner.store.get_task(&live.task_id).await
                {
                    st.task = Arc::new(fresh.task);
                    st.version = fresh.version;
                    st.last_seq = fresh.last_seq;
                    st.started = true;
                    if st.task.status.state.is_terminal() {
                        st.turn_over = true;
                        live.turn_over.store(true, Ordering::SeqCst);
                    }
                }
                Err(e)
            }
        }
    }

    /// Writes a task whose creating write is still waiting (see
    /// [`ManagerConfig::coalesce_window`]) as it is now; does nothing if
    /// it is stored already.
    ///
    /// [`ManagerConfig::coalesce_window`]: super::ManagerConfig::coalesce_window
    pub(super) async fn write_created(
        &self,
        live: &LiveTask,
        st: &mut LiveState,
    ) -> Result<(), StoreError> {
        if st.version != 0 {
            return Ok(());
        }
        let committed = self
            .inner
            .store
            .write_task(st.write(&live.agent, Arc::clone(&st.task), Vec::new()))
            .await?;
        st.version = committed.version;
        self.committed(&live.agent, None, &st.task, &[]);
        Ok(())
    }

    /// Writes the waiting new tasks of `agent` (all agents: `None`), so
    /// that a listing or a shutdown finds them in the store.
    pub(super) async fn write_waiting(&self, agent: Option<&str>) {
        let waiting: Vec<Arc<LiveTask>> = self
            .inner
            .live
            .lock()
            .values()
            .filter(|l| agent.is_none_or(|a| a == l.agent))
            .cloned()
            .collect();
        for live in waiting {
            let mut st = live.state.lock().await;
            if let Err(e) = self.write_created(&live, &mut st).await {
                log_write_created_error(&live.task_id, &e);
            }
        }
    }

    /// Applies one agent action.
    async fn act(&self, live: &LiveTask, action: Action) -> Result<(), ActionError> {
        let mut st = live.state.lock().await;
        if live.cancel.is_cancelled() || st.task.status.state == TaskState::Canceled {
            return Err(ActionError::Canceled);
        }
        if st.turn_over {
            return Err(ActionError::TaskFinished(format!(
                "the task is already {}",
                state_word(st.task.status.state)
            )));
        }
        let settle = |st: &mut LiveState, live: &LiveTask| {
            st.turn_over = true;
            live.turn_over.store(true, Ordering::SeqCst);
            live.settled.send_replace(Some(Settled::Resting));
        };
        match action {
            Action::Reply(parts) => {
                if !st.first_turn || st.started {
                    return Err(ActionError::TaskFinished(
                        "reply is only allowed as the first and only action of a new task; \
                         use complete instead"
                            .into(),
                    ));
                }
                check_parts(&parts)?;
                let mut reply = agent_message(&st.task, parts);
                reply.task_id = None;
                let mut next = Task::clone(&st.task);
                next.history.push(reply.clone());
                next.status = TaskStatus::new(TaskState::Completed, None);
                let next = shared_snapshot(next);
                let events = vec![Arc::new(StreamResponse::Message(reply.clone()))];
                let committed = self
                    .inner
                    .store
                    .write_task(st.write(&live.agent, Arc::clone(&next), events.clone()))
                    .await
                    .map_err(store_action_error)?;
                let from = (st.version != 0).then_some(st.task.status.state);
                self.committed(&live.agent, from, &next, &events);
                st.task = next;
                st.version = committed.version;
                st.started = true;
                st.last_seq = committed.first_seq;
                st.turn_over = true;
                live.turn_over.store(true, Ordering::SeqCst);
                live.channel.send(SequencedEvent {
                    seq: Some(committed.first_seq),
                    event: Arc::clone(&events[0]),
                });
                self.queued(&committed);
                self.publish(&live.task_id, committed.first_seq, &events)
                    .await;
                live.settled.send_replace(Some(Settled::Reply(reply)));
                Ok(())
            }
            Action::Status(parts) => {
                let message = match parts {
                    Some(p) => {
                        check_parts(&p)?;
                        Some(agent_message(&st.task, p))
                    }
                    None => None,
                };
                self.apply(live, &mut st, |task| {
                    task.status = TaskStatus::new(TaskState::Working, message);
                    vec![status_event(task)]
                })
                .await
                .map_err(store_action_error)
            }
            Action::Artifact {
                artifact,
                append,
                last_chunk,
            } => {
                if artifact.artifact_id.is_empty() {
                    return Err(ActionError::InvalidArgument(
                        "artifact id must not be empty".into(),
                    ));
                }
                check_parts(&artifact.parts)?;
                self.apply(live, &mut st, |task| {
                    task.apply_artifact(&artifact, append);
                    vec![StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
                        task_id: task.id.clone(),
                        context_id: task.context_id.clone(),
                        artifact,
                        append,
                        last_chunk,
                        metadata: None,
                    })]
                })
                .await
                .map_err(store_action_error)
            }
            Action::Complete(parts) => {
                let parts = parts.filter(|p| !p.is_empty());
                if let Some(p) = &parts {
                    check_parts(p)?;
                }
                self.finish(live, &mut st, TaskState::Completed, parts)
                    .await?;
                settle(&mut st, live);
                Ok(())
            }
            Action::RequestInput(parts) | Action::RequestAuth(parts) if parts.is_empty() => {
                Err(ActionError::InvalidArgument(
                    "say what you need: the message must have at least one part".into(),
                ))
            }
            Action::RequestInput(parts) => {
                check_parts(&parts)?;
                self.finish(live, &mut st, TaskState::InputRequired, Some(parts))
                    .await?;
                settle(&mut st, live);
                Ok(())
            }
            Action::RequestAuth(parts) => {
                check_parts(&parts)?;
                self.finish(live, &mut st, TaskState::AuthRequired, Some(parts))
                    .await?;
                settle(&mut st, live);
                Ok(())
            }
            Action::Fail(reason) => {
                self.finish(
                    live,
                    &mut st,
                    TaskState::Failed,
                    Some(vec![Part::text(reason)]),
                )
                .await?;
                settle(&mut st, live);
                Ok(())
            }
            Action::Reject(reason) => {
                self.finish(
                    live,
                    &mut st,
                    TaskState::Rejected,
                    Some(vec![Part::text(reason)]),
                )
                .await?;
                settle(&mut st, live);
                Ok(())
            }
        }
    }

    /// Moves a live task to a resting state; its message joins the history.
    async fn finish(
        &self,
        live: &LiveTask,
        st: &mut LiveState,
        state: TaskState,
        parts: Option<Vec<Part>>,
    ) -> Result<(), ActionError> {
        let message = parts.map(|p| agent_message(&st.task, p));
        self.apply(live, st, |task| {
            if let Some(m) = &message {
                task.history.push(m.clone());
            }
            task.status = TaskStatus::new(state, message);
            vec![status_event(task)]
        })
        .await
        .map_err(store_action_error)
    }
}

/// The [`TurnSink`] the manager gives each turn.
struct Sink {
    manager: TaskManager,
    live: Arc<LiveTask>,
}

#[async_trait]
impl TurnSink for Sink {
    async fn act(&self, action: Action) -> Result<(), ActionError> {
        self.manager.act(&self.live, action).await
    }

    fn is_cancelled(&self) -> bool {
        self.live.cancel.is_cancelled()
    }

    async fn cancelled(&self) {
        self.live.cancel.cancelled().await
    }

    async fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>, ActionError> {
        let context = self.live.state.lock().await.task.context_id.clone();
        self.manager
            .inner
            .store
            .get_state(&self.live.agent, &context, key)
            .await
            .map_err(store_action_error)
    }

    async fn set_state(&self, key: &str, value: Option<Vec<u8>>) -> Result<(), ActionError> {
        if key.is_empty() || key.len() > 512 {
            return Err(ActionError::InvalidArgument(
                "state keys must be 1 to 512 bytes long".into(),
            ));
        }
        let context = self.live.state.lock().await.task.context_id.clone();
        self.manager
            .inner
            .store
            .set_state(&self.live.agent, &context, key, value.as_deref())
            .await
            .map_err(store_action_error)
    }
}

fn store_action_error(e: StoreError) -> ActionError {
    match e {
        StoreError::Conflict { .. } => ActionError::TaskFinished(
            "the task was changed elsewhere (canceled or finished)".into(),
        ),
        other => ActionError::Internal(other.to_string()),
    }
}

/// Logs a failed write of a new task. Both places that write one call
/// this, so they share one throttle: a store that is down fails every new
/// task, and the log gets a few lines per window (see [`log_throttled`]).
fn log_write_created_error(task_id: &str, error: &StoreError) {
    log_throttled!(error, task = %task_id, %error, "could not write a new task");
}

pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}
