//! Starting a task: a send is validated, written as a new task or as a
//! follow-up to an interrupted one, and handed to a turn (run here, or
//! queued on the shared bus).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::broadcast;

use crate::agent::{TaskUsage, TurnInput};
use crate::bus::{Job, JobTicket};
use crate::error::A2aError;
use crate::model::{
    Message, Role, SendMessageRequest, Task, TaskPushNotificationConfig, TaskState, TaskStatus,
};
use crate::registry::LoadedAgent;
use crate::store::{StoreError, StoredTask, TaskWrite};

use super::channel::{SequencedEvent, TaskChannel};
use super::turn::{LiveState, LiveTask};
use super::validate::{check_input_modes, validate_message};
use super::{TaskManager, shared_snapshot, state_word, status_event};

/// What a send brings beside its message.
struct SendExtras {
    metadata: Option<crate::model::Metadata>,
    accepted_output_modes: Vec<String>,
    /// A push config given inline, checked, with its id.
    push: Option<TaskPushNotificationConfig>,
}

impl TaskManager {
    /// Validates a send and starts a turn for it.
    /// `coalesce`: whether the caller answers only after the turn acted
    /// (a blocking or streaming send), so a new task's creating write may
    /// wait for the first action's.
    pub(super) async fn start(
        &self,
        agent_name: &str,
        req: SendMessageRequest,
        coalesce: bool,
    ) -> Result<Started, A2aError> {
        if self.is_draining() {
            return Err(A2aError::Unavailable(
                "the host is shutting down and accepts no new messages".into(),
            ));
        }
        let agent = self.require_agent(agent_name)?;
        let mut message = req.message;
        validate_message(&message)?;
        check_input_modes(&agent, &message)?;
        message.role = Role::User;
        let accepted_output_modes = req
            .configuration
            .as_ref()
            .map(|c| c.accepted_output_modes.clone())
            .unwrap_or_default();
        let push = match req
            .configuration
            .as_ref()
            .and_then(|c| c.task_push_notification_config.clone())
        {
            Some(config) => Some(self.inline_push_config(&message, config).await?),
            None => None,
        };
        if self.inner.shared {
            // An outage is a clean 503 before anything is written.
            self.inner.bus.ready().await?;
        }

        match message.task_id.clone().filter(|t| !t.is_empty()) {
            Some(task_id) => {
                self.continue_task(
                    agent,
                    agent_name,
                    &task_id,
                    message,
                    SendExtras {
                        metadata: req.metadata,
                        accepted_output_modes,
                        push,
                    },
                )
                .await
            }
            None => {
                self.create_task(
                    agent,
                    agent_name,
                    message,
                    SendExtras {
                        metadata: req.metadata,
                        accepted_output_modes,
                        push,
                    },
                    coalesce,
                )
                .await
            }
        }
    }

    async fn create_task(
        &self,
        agent: LoadedAgent,
        agent_name: &str,
        mut message: Message,
        extras: SendExtras,
        coalesce: bool,
    ) -> Result<Started, A2aError> {
        let SendExtras {
            metadata,
            accepted_output_modes,
            mut push,
        } = extras;
        let context_given = message.context_id.clone().filter(|c| !c.is_empty());
        let context_is_new = context_given.is_none();
        // A new context and task id: until the turn acts, nobody can name
        // this task or resend its message, so its creation can wait for
        // the first action's write (one process only: a shared queue needs
        // the task stored before any process runs it).
        let defer = coalesce
            && context_is_new
            && !self.inner.shared
            && !self.inner.config.coalesce_window.is_zero();
        let mut claim = true;
        if let Some(ctx) = &context_given {
            match self.earlier_send(agent_name, ctx, &message).await? {
                Earlier::Retry(stored) => return Ok(Started::Existing(stored)),
                Earlier::Reused => claim = false,
                Earlier::None => {}
            }
        }
        // Time-ordered (v7) ids keep index inserts at the end of the B-trees
        // (the bench measured a third less SQLite CPU per task than with
        // random v4 ids); 74 random bits still make them unguessable.
        let task_id = uuid::Uuid::now_v7().to_string();
        let context_id = context_given.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        message.task_id = Some(task_id.clone());
        message.context_id = Some(context_id.clone());
        if let Some(config) = push.as_mut() {
            config.task_id = Some(task_id.clone());
        }
        let task = Arc::new(Task {
            id: task_id.clone(),
            context_id: context_id.clone(),
            status: TaskStatus::new(TaskState::Submitted, None),
            artifacts: Vec::new(),
            history: vec![message.clone()],
            metadata: metadata.clone(),
        });
        // The message moves into the turn's input once nothing else needs it.
        let input = |message, accepted_output_modes| TurnInput {
            agent: agent_name.to_string(),
            task_id,
            context_id,
            message,
            history: Vec::new(),
            metadata,
            accepted_output_modes,
            spent: TaskUsage::default(),
        };
        if defer {
            let state = LiveState {
                task,
                version: 0,
                last_seq: 0,
                started: false,
                first_turn: true,
                turn_over: false,
                push_config: push,
            };
            return Ok(self.launch(agent, input(message, accepted_output_modes), state, None));
        }
        let queued = self
            .prequeue(&task.id, agent_name, &message, 1, &accepted_output_modes)
            .await?;
        let written = self
            .inner
            .store
            .write_task(TaskWrite {
                agent: agent_name,
                task: Arc::clone(&task),
                expected_version: 0,
                events: Vec::new(),
                claim_message_id: claim.then_some(message.message_id.as_str()),
                context_is_new,
                push_config: push.as_ref(),
            })
            .await;
        let committed = match written {
            Ok(c) => c,
            Err(e) => {
                self.withdraw(queued).await;
                return match e {
                    StoreError::DuplicateMessage { task_id, .. } => Ok(Started::Existing(
                        Box::new(self.stored_task(agent_name, &task_id).await?),
                    )),
                    e => Err(e.into()),
                };
            }
        };
        self.committed(agent_name, None, &task, &[]);
        let state = LiveState {
            task,
            version: committed.version,
            last_seq: committed.first_seq.saturating_sub(1),
            started: false,
            first_turn: true,
            turn_over: false,
            push_config: None,
        };
        Ok(self.launch(agent, input(message, accepted_output_modes), state, queued))
    }

    async fn continue_task(
        &self,
        agent: LoadedAgent,
        agent_name: &str,
        task_id: &str,
        mut message: Message,
        extras: SendExtras,
    ) -> Result<Started, A2aError> {
        let SendExtras {
            metadata,
            accepted_output_modes,
            push,
        } = extras;
        if let Some(config) = &push {
            self.check_push_room(task_id, config).await?;
        }
        for _ in 0..8 {
            let stored = self.stored_task(agent_name, task_id).await?;
            let task = &stored.task;
            if let Some(ctx) = message.context_id.as_deref().filter(|c| !c.is_empty())
                && ctx != task.context_id
            {
                return Err(A2aError::invalid_field(
                    "message.contextId",
                    format!(
                        "contextId `{ctx}` does not match task `{task_id}`, which belongs to context `{}`",
                        task.context_id
                    ),
                ));
            }
            let claim = match self
                .earlier_send(agent_name, &task.context_id, &message)
                .await?
            {
                Earlier::Retry(stored) => return Ok(Started::Existing(stored)),
                Earlier::Reused => false,
                Earlier::None => true,
            };
            let state = task.status.state;
            if state.is_terminal() {
                return Err(A2aError::UnsupportedOperation(format!(
                    "task `{task_id}` is {} and cannot take more messages; send a message without taskId (same contextId) to start a new task",
                    state_word(state)
                )));
            }
            let busy = self
                .inner
                .live
                .lock()
                .get(task_id)
                .is_some_and(|l| !l.turn_over.load(Ordering::SeqCst));
            if !state.is_interrupted() || busy {
                return Err(A2aError::UnsupportedOperation(format!(
                    "task `{task_id}` is still {}; send a follow-up once it asks for input",
                    state_word(state)
                )));
            }
            message.task_id = Some(task_id.to_string());
            message.context_id = Some(task.context_id.clone());
            let history = task.history.clone();
            let mut next = task.clone();
            next.history.push(message.clone());
            next.status = TaskStatus::new(TaskState::Working, None);
            let events = vec![Arc::new(status_event(&next))];
            let next = shared_snapshot(next);
            let queued = self
                .prequeue(
                    task_id,
                    agent_name,
                    &message,
                    stored.version + 1,
                    &accepted_output_modes,
                )
                .await?;
            let written = self
                .inner
                .store
                .write_task(TaskWrite {
                    agent: agent_name,
                    task: Arc::clone(&next),
                    expected_version: stored.version,
                    events: events.clone(),
                    claim_message_id: claim.then_some(message.message_id.as_str()),
                    context_is_new: false,
                    push_config: push.as_ref(),
                })
                .await;
            let committed = match written {
                Ok(c) => c,
                Err(e) => {
                    self.withdraw(queued).await;
                    match e {
                        StoreError::Conflict { .. } => continue,
                        StoreError::DuplicateMessage { task_id, .. } => {
                            return Ok(Started::Existing(Box::new(
                                self.stored_task(agent_name, &task_id).await?,
                            )));
                        }
                        e => return Err(e.into()),
                    }
                }
            };
            let input = TurnInput {
                agent: agent_name.to_string(),
                task_id: task_id.to_string(),
                context_id: next.context_id.clone(),
                message,
                history,
                metadata,
                accepted_output_modes,
                spent: TaskUsage::of(&stored.task, stored.last_seq),
            };
            self.committed(agent_name, Some(task.status.state), &next, &events);
            self.queued(&committed);
            self.publish(task_id, committed.first_seq, &events).await;
            let live_state = LiveState {
                task: next,
                version: committed.version,
                last_seq: committed.first_seq,
                started: true,
                first_turn: false,
                turn_over: false,
                push_config: None,
            };
            return Ok(self.launch(agent, input, live_state, queued));
        }
        Err(A2aError::Internal(format!(
            "task `{task_id}` kept changing while the follow-up was being accepted"
        )))
    }

    /// Whether this message was sent before in the context. A retry (same
    /// id, same parts) answers with the task it created; an id reused for
    /// different content is a new message that claims nothing.
    async fn earlier_send(
        &self,
        agent: &str,
        context_id: &str,
        message: &Message,
    ) -> Result<Earlier, A2aError> {
        let Some(task_id) = self
            .inner
            .store
            .task_for_message(agent, context_id, &message.message_id)
            .await?
        else {
            return Ok(Earlier::None);
        };
        let stored = self.stored_task(agent, &task_id).await?;
        let same = stored.task.history.iter().any(|m| {
            m.message_id == message.message_id && m.role == Role::User && m.parts == message.parts
        });
        if same {
            Ok(Earlier::Retry(Box::new(stored)))
        } else {
            tracing::debug!(
                message_id = %message.message_id,
                "message id reused for different content; treating it as a new message"
            );
            Ok(Earlier::Reused)
        }
    }

    /// Runs an accepted turn: here (one process), or through the shared
    /// work queue on whichever process claims it.
    /// Queues the turn of a message about to be written (shared bus only;
    /// `None` otherwise). The job goes out *before* the write: a process
    /// that dies in between leaves a job for a task that was never
    /// written, which runners drop after waiting for it, instead of a
    /// written task that nothing will ever run.
    async fn prequeue(
        &self,
        task_id: &str,
        agent: &str,
        message: &Message,
        accepted_version: u64,
        accepted_output_modes: &[String],
    ) -> Result<Option<Prequeued>, A2aError> {
        if !self.inner.shared {
            return Ok(None);
        }
        // Subscribe before queueing: nothing the turn writes is missed.
        let channel = self.channel(task_id);
        let rx = channel.subscribe();
        let job = Job {
            v: Job::VERSION,
            task_id: task_id.to_string(),
            agent: agent.to_string(),
            first_turn: accepted_version == 1,
            message_id: message.message_id.clone(),
            accepted_output_modes: accepted_output_modes.to_vec(),
            accepted_version,
        };
        let ticket = self.inner.bus.enqueue(&job).await?;
        Ok(Some(Prequeued {
            channel,
            rx,
            ticket,
        }))
    }

    /// Takes back a job whose message was not written.
    async fn withdraw(&self, queued: Option<Prequeued>) {
        let Some(queued) = queued else { return };
        if let Err(e) = self.inner.bus.withdraw(&queued.ticket).await {
            // Its runner will find no message to run and drop it.
            tracing::warn!(job = %queued.ticket.0, error = %e, "could not withdraw a queued job");
        }
    }

    /// Runs the written turn here, or (shared bus) hands back what the
    /// caller needs to follow the turn that some process will run.
    fn launch(
        &self,
        agent: LoadedAgent,
        input: TurnInput,
        state: LiveState,
        queued: Option<Prequeued>,
    ) -> Started {
        match queued {
            None => Started::Turn(self.spawn_turn(agent, input, state)),
            Some(Prequeued { channel, rx, .. }) => Started::Queued(Box::new(Queued {
                channel,
                rx,
                task: Arc::unwrap_or_clone(state.task),
                last_seq: state.last_seq,
                first_turn: state.first_turn,
            })),
        }
    }
}

enum Earlier {
    /// Never sent in this context.
    None,
    /// The same message again: the task it created.
    Retry(Box<StoredTask>),
    /// The id was used before for different content.
    Reused,
}

pub(super) enum Started {
    /// A repeated message id: the task it created before.
    Existing(Box<StoredTask>),
    Turn(Arc<LiveTask>),
    /// Queued on the shared bus: any process may run it.
    Queued(Box<Queued>),
}

/// A turn queued on the shared bus, with a subscription to its task's
/// channel taken before it was queued.
pub(super) struct Queued {
    pub(super) channel: Arc<TaskChannel>,
    pub(super) rx: broadcast::Receiver<SequencedEvent>,
    /// The task as written when the message was accepted.
    pub(super) task: Task,
    /// The last event logged before the turn was queued.
    pub(super) last_seq: u64,
    pub(super) first_turn: bool,
}

/// A job queued ahead of its store write, with the subscription to the
/// task's channel taken before it was queued.
struct Prequeued {
    channel: Arc<TaskChannel>,
    rx: broadcast::Receiver<SequencedEvent>,
    ticket: JobTicket,
}
