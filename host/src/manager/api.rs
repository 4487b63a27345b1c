//! The protocol methods every binding calls (SendMessage, GetTask,
//! ListTasks, CancelTask, SubscribeToTask, the push-config methods), the
//! shutdown and restart hooks (`drain`, `recover`), and the store reads and
//! writes they share with the rest of the manager.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::error::A2aError;
use crate::model::{
    CancelTaskRequest, GetTaskRequest, ListTaskPushConfigsRequest, ListTaskPushConfigsResponse,
    ListTasksRequest, ListTasksResponse, Part, SendMessageRequest, SendMessageResponse,
    StreamResponse, SubscribeToTaskRequest, Task, TaskPushConfigRef, TaskPushNotificationConfig,
    TaskState, TaskStatus,
};
use crate::push::PushPolicy;
use crate::registry::LoadedAgent;
use crate::store::{MAX_PAGE_SIZE, StoreError, StoredTask, TaskQuery, TaskWrite};

use super::channel::{EventStream, SequencedEvent};
use super::start::{Queued, Started};
use super::turn::Settled;
use super::validate::history_length;
use super::{TaskManager, agent_message, state_word, status_event};

impl TaskManager {
    /// SendMessage: create a task (or continue one by `message.taskId`) and,
    /// unless `returnImmediately`, wait for a terminal or interrupted state.
    pub async fn send_message(
        &self,
        agent: &str,
        req: SendMessageRequest,
    ) -> Result<SendMessageResponse, A2aError> {
        let history_length = history_length(
            req.configuration.as_ref().and_then(|c| c.history_length),
            "configuration.historyLength",
        )?;
        let return_immediately = req
            .configuration
            .as_ref()
            .is_some_and(|c| c.return_immediately);
        let started = self.start(agent, req, !return_immediately).await?;
        let live = match started {
            Started::Existing(stored) => {
                // A repeated message id: report the task it created.
                return self
                    .settle_existing(*stored, return_immediately, history_length)
                    .await;
            }
            Started::Queued(queued) => {
                let Queued {
                    channel,
                    rx,
                    mut task,
                    last_seq,
                    ..
                } = *queued;
                if !return_immediately {
                    if let Some(reply) = self.wait_resting(channel, rx, last_seq).await {
                        return Ok(SendMessageResponse::Message(reply));
                    }
                    task = self.current_task(agent, &task.id).await?;
                }
                task.truncate_history(history_length);
                return Ok(SendMessageResponse::Task(Arc::new(task)));
            }
            Started::Turn(live) => live,
        };
        let mut settled = live.settled.subscribe();
        if !return_immediately {
            let wait = settled.wait_for(|s| s.is_some());
            let _ = tokio::time::timeout(self.inner.config.blocking_timeout, wait).await;
        }
        let outcome = settled.borrow().clone();
        if let Some(Settled::Reply(message)) = outcome {
            return Ok(SendMessageResponse::Message(message));
        }
        let task = {
            // The client learns the task's id here: it must be stored.
            let mut st = live.state.lock().await;
            self.write_created(&live, &mut st).await?;
            Arc::clone(&st.task)
        };
        Ok(SendMessageResponse::Task(with_history_limit(
            task,
            history_length,
        )))
    }

    /// SendStreamingMessage: like `send_message`, but returns the task's
    /// events as they happen, the first being the task itself (or a single
    /// direct message).
    pub async fn send_streaming_message(
        &self,
        agent: &str,
        req: SendMessageRequest,
    ) -> Result<EventStream, A2aError> {
        match self.start(agent, req, true).await? {
            Started::Existing(stored) => self.stream_existing(*stored).await,
            Started::Queued(queued) => {
                let Queued {
                    channel,
                    rx,
                    task,
                    last_seq,
                    first_turn,
                } = *queued;
                if first_turn {
                    return Ok(self.follow(channel, rx, 0, None, true, None).into_stream());
                }
                let first = SequencedEvent {
                    seq: Some(last_seq),
                    event: Arc::new(StreamResponse::Task(task)),
                };
                Ok(self
                    .follow(channel, rx, last_seq, Some(first), true, None)
                    .into_stream())
            }
            Started::Turn(live) => {
                // Whatever the turn published before we subscribed is in the
                // log, and the stream catches up from there.
                let rx = live.channel.subscribe();
                let st = live.state.lock().await;
                let settled = Some(live.settled.subscribe());
                if st.first_turn {
                    drop(st);
                    // A task this call created: its every event goes
                    // through its channel, made before the turn started, so
                    // unless one went out before `rx` subscribed, `rx` gets
                    // them all and the log need not be read. (An RMW, not a
                    // load: it orders the subscription before the turn's
                    // next send.)
                    let missed = live.channel.last_sent.fetch_add(0, Ordering::SeqCst) > 0;
                    let mut follow = self.follow(live.channel.clone(), rx, 0, None, true, settled);
                    follow.refill = missed || self.inner.shared;
                    return Ok(follow.into_stream());
                }
                // A follow-up: start with the task as it is now.
                let first = SequencedEvent {
                    seq: Some(st.last_seq),
                    event: Arc::new(StreamResponse::Task(Task::clone(&st.task))),
                };
                let after = st.last_seq;
                drop(st);
                Ok(self
                    .follow(live.channel.clone(), rx, after, Some(first), true, settled)
                    .into_stream())
            }
        }
    }

    /// GetTask: the task's latest snapshot (the live one if a turn runs in
    /// this process), its history cut to `historyLength` messages.
    pub async fn get_task(&self, agent: &str, req: GetTaskRequest) -> Result<Task, A2aError> {
        let history_length = history_length(req.history_length, "historyLength")?;
        let mut task = self.current_task(agent, &req.id).await?;
        task.truncate_history(history_length);
        Ok(task)
    }

    /// ListTasks: one page of `agent`'s tasks, newest status first.
    /// `pageSize` is 1..=100 (default 50); artifacts are left out unless
    /// `includeArtifacts`.
    pub async fn list_tasks(
        &self,
        agent: &str,
        req: ListTasksRequest,
    ) -> Result<ListTasksResponse, A2aError> {
        let page_size = match req.page_size.map(|n| (n, usize::try_from(n))) {
            None => 50,
            Some((_, Ok(n))) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            Some((n, _)) => {
                return Err(A2aError::invalid_field(
                    "pageSize",
                    format!("pageSize must be between 1 and {MAX_PAGE_SIZE}, got {n}"),
                ));
            }
        };
        let history_length = history_length(req.history_length, "historyLength")?;
        if req.status == Some(TaskState::Unspecified) {
            return Err(A2aError::invalid_field(
                "status",
                "status TASK_STATE_UNSPECIFIED is not a filter; leave it out to list every state",
            ));
        }
        let page_token = req.page_token.filter(|t| !t.is_empty());
        if let Some(token) = &page_token
            && crate::store::decode_page_token(token).is_none()
        {
            return Err(A2aError::invalid_field(
                "pageToken",
                "pageToken is not a token this server issued",
            ));
        }
        let query = TaskQuery {
            agent: agent.to_string(),
            context_id: req.context_id.filter(|c| !c.is_empty()),
            state: req.status,
            status_after: req.status_timestamp_after,
            page_size,
            page_token,
        };
        self.require_agent(agent)?;
        self.write_waiting(Some(agent)).await;
        let page = self.inner.store.list_tasks(&query).await?;
        let include_artifacts = req.include_artifacts.unwrap_or(false);
        let tasks = page
            .tasks
            .into_iter()
            .map(|mut t| {
                t.truncate_history(history_length);
                if !include_artifacts {
                    t.artifacts.clear();
                }
                t
            })
            .collect();
        Ok(ListTasksResponse {
            tasks,
            next_page_token: page.next_page_token,
            page_size: page_size as i32,
            total_size: page.total_size.min(i32::MAX as u64) as i32,
        })
    }

    /// CancelTask: moves a task that is not yet terminal to `canceled` and
    /// stops its running turn, here or (through the bus) in another
    /// process. A terminal task is TaskNotCancelableError.
    pub async fn cancel_task(&self, agent: &str, req: CancelTaskRequest) -> Result<Task, A2aError> {
        let live = self.inner.live.lock().get(&req.id).cloned();
        if let Some(live) = live.filter(|l| l.agent == agent) {
            let mut st = live.state.lock().await;
            if st.task.status.state.is_terminal() {
                return Err(not_cancelable(&st.task));
            }
            let status = TaskStatus::new(
                TaskState::Canceled,
                Some(agent_message(
                    &st.task,
                    vec![Part::text("canceled by the client")],
                )),
            );
            self.apply(&live, &mut st, |task| {
                task.status = status.clone();
                vec![status_event(task)]
            })
            .await
            .map_err(A2aError::from)?;
            st.turn_over = true;
            live.turn_over.store(true, Ordering::SeqCst);
            let task = Task::clone(&st.task);
            drop(st);
            live.cancel.cancel();
            live.settled.send_replace(Some(Settled::Resting));
            return Ok(task);
        }
        // No turn is running here: change the stored task directly.
        for _ in 0..8 {
            let stored = self.stored_task(agent, &req.id).await?;
            if stored.task.status.state.is_terminal() {
                return Err(not_cancelable(&stored.task));
            }
            match self
                .write_status(&stored, TaskState::Canceled, "canceled by the client")
                .await
            {
                Ok(task) => {
                    if self.inner.shared
                        && let Err(e) = self.inner.bus.signal_cancel(&task.id).await
                    {
                        // The cancel is stored: the running turn's next
                        // write conflicts and stops it anyway.
                        tracing::warn!(task = %task.id, error = %e, "could not signal the cancel to the process running the task");
                    }
                    return Ok(task);
                }
                Err(StoreError::Conflict { .. }) => {
                    // A turn may have started meanwhile; retry via either path.
                    let now_live = self.inner.live.lock().contains_key(&req.id);
                    if now_live {
                        return Box::pin(self.cancel_task(agent, req)).await;
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(A2aError::Internal(format!(
            "task `{}` kept changing while it was being canceled",
            req.id
        )))
    }

    /// SubscribeToTask. With `last_event_id`, first replays the logged
    /// events after it; otherwise starts with the current task snapshot.
    pub async fn subscribe(
        &self,
        agent: &str,
        req: SubscribeToTaskRequest,
        last_event_id: Option<u64>,
    ) -> Result<EventStream, A2aError> {
        // Subscribe first, then read the state: nothing published between
        // the two is lost, and anything seen twice is skipped by sequence.
        let channel = self.channel(&req.id);
        let rx = channel.subscribe();
        let live = self.inner.live.lock().get(&req.id).cloned();
        let (task, seq) = match live.filter(|l| l.agent == agent) {
            Some(live) => {
                let st = live.state.lock().await;
                (Task::clone(&st.task), st.last_seq)
            }
            None => {
                let stored = self.stored_task(agent, &req.id).await?;
                (stored.task, stored.last_seq)
            }
        };
        if let Some(after) = last_event_id
            && task.status.state.is_terminal()
        {
            // Nothing more will happen: the replay is the whole stream.
            let events = self.inner.store.events_after(&task.id, after).await?;
            let items = events.into_iter().map(|(seq, event)| SequencedEvent {
                seq: Some(seq),
                event: Arc::new(event),
            });
            return Ok(Box::pin(futures::stream::iter(items.collect::<Vec<_>>())));
        }
        if let Some(after) = last_event_id {
            // Replay what the client missed, then go live (or end, if the
            // task finished meanwhile: the replay carries the final event).
            return Ok(self
                .follow(channel, rx, after, None, false, None)
                .into_stream());
        }
        if task.status.state.is_terminal() {
            return Err(terminal_subscribe(&task));
        }
        let first = SequencedEvent {
            seq: Some(seq),
            event: Arc::new(StreamResponse::Task(task)),
        };
        Ok(self
            .follow(channel, rx, seq, Some(first), false, None)
            .into_stream())
    }

    /// CreateTaskPushNotificationConfig: checks the config (URL, addresses,
    /// header values, the per-task limit), gives it an id if it has none,
    /// and stores it (replacing one with the same id). Events the task
    /// appends from now on are delivered to it.
    pub async fn create_push_config(
        &self,
        agent: &str,
        config: TaskPushNotificationConfig,
    ) -> Result<TaskPushNotificationConfig, A2aError> {
        self.require_agent(agent)?;
        self.push_policy()?;
        let task_id = config
            .task_id
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| A2aError::invalid_field("taskId", "taskId is required"))?;
        self.stored_task(agent, &task_id).await?;
        let config = self.vet_push_config(config, "").await?;
        self.check_push_room(&task_id, &config).await?;
        self.inner.store.put_push_config(&config).await?;
        Ok(config)
    }

    /// GetTaskPushNotificationConfig.
    pub async fn get_push_config(
        &self,
        agent: &str,
        req: TaskPushConfigRef,
    ) -> Result<TaskPushNotificationConfig, A2aError> {
        self.require_agent(agent)?;
        self.push_policy()?;
        self.stored_task(agent, &req.task_id).await?;
        self.inner
            .store
            .get_push_config(&req.task_id, &req.id)
            .await?
            .ok_or(A2aError::PushConfigNotFound {
                task_id: req.task_id,
                config_id: req.id,
            })
    }

    /// ListTaskPushNotificationConfigs, oldest first, in pages.
    pub async fn list_push_configs(
        &self,
        agent: &str,
        req: ListTaskPushConfigsRequest,
    ) -> Result<ListTaskPushConfigsResponse, A2aError> {
        self.require_agent(agent)?;
        self.push_policy()?;
        self.stored_task(agent, &req.task_id).await?;
        let size = match req.page_size {
            None | Some(0) => usize::MAX,
            Some(n) if n < 0 => {
                return Err(A2aError::invalid_field(
                    "pageSize",
                    format!("pageSize must be positive, not {n}"),
                ));
            }
            Some(n) => n as usize,
        };
        let skip = match req.page_token.as_deref().filter(|t| !t.is_empty()) {
            None => 0,
            Some(t) => t.parse::<usize>().map_err(|_| {
                A2aError::invalid_field(
                    "pageToken",
                    "pageToken is not one this server gave; pass the nextPageToken of the previous page",
                )
            })?,
        };
        let all = self.inner.store.list_push_configs(&req.task_id).await?;
        let end = skip.saturating_add(size).min(all.len());
        let configs = all.get(skip..end).map(<[_]>::to_vec).unwrap_or_default();
        let next_page_token = if end < all.len() {
            end.to_string()
        } else {
            String::new()
        };
        Ok(ListTaskPushConfigsResponse {
            configs,
            next_page_token,
        })
    }

    /// DeleteTaskPushNotificationConfig: idempotent (deleting a config that
    /// is not there succeeds); pending notifications for it are dropped.
    pub async fn delete_push_config(
        &self,
        agent: &str,
        req: TaskPushConfigRef,
    ) -> Result<(), A2aError> {
        self.require_agent(agent)?;
        self.push_policy()?;
        self.stored_task(agent, &req.task_id).await?;
        self.inner
            .store
            .delete_push_config(&req.task_id, &req.id)
            .await?;
        Ok(())
    }

    /// Checks a config given inline with a message
    /// (`configuration.taskPushNotificationConfig`) and gives it an id; the
    /// write that stores the message stores it too.
    pub(super) async fn inline_push_config(
        &self,
        message: &crate::model::Message,
        config: TaskPushNotificationConfig,
    ) -> Result<TaskPushNotificationConfig, A2aError> {
        const FIELD: &str = "configuration.taskPushNotificationConfig";
        self.push_policy()?;
        let message_task = message.task_id.as_deref().filter(|t| !t.is_empty());
        if let Some(given) = config.task_id.as_deref().filter(|t| !t.is_empty())
            && message_task.is_some_and(|t| t != given)
        {
            return Err(A2aError::invalid_field(
                &format!("{FIELD}.taskId"),
                format!("taskId `{given}` is not the message's task"),
            ));
        }
        let mut config = self.vet_push_config(config, FIELD).await?;
        config.task_id = message_task.map(str::to_string);
        Ok(config)
    }

    /// Checks a config under the push policy (errors name its fields under
    /// `prefix`) and gives it an id if it has none.
    async fn vet_push_config(
        &self,
        mut config: TaskPushNotificationConfig,
        prefix: &str,
    ) -> Result<TaskPushNotificationConfig, A2aError> {
        self.push_policy()?
            .check_config(&config)
            .await
            .map_err(|r| r.into_error(prefix))?;
        if config.id.as_deref().is_none_or(str::is_empty) {
            config.id = Some(uuid::Uuid::new_v4().to_string());
        }
        Ok(config)
    }

    /// Refuses a config that would take `task_id` over its limit.
    pub(super) async fn check_push_room(
        &self,
        task_id: &str,
        config: &TaskPushNotificationConfig,
    ) -> Result<(), A2aError> {
        let max = self.push_policy()?.settings().max_configs_per_task;
        let existing = self.inner.store.list_push_configs(task_id).await?;
        if existing.len() >= max && !existing.iter().any(|c| c.id == config.id) {
            return Err(A2aError::invalid_field(
                "taskId",
                format!(
                    "task `{task_id}` already has {} push configs, the most allowed; delete one \
                     or reuse its id",
                    existing.len()
                ),
            ));
        }
        Ok(())
    }

    /// The push policy, or PushNotificationNotSupportedError.
    pub(super) fn push_policy(&self) -> Result<&Arc<PushPolicy>, A2aError> {
        self.inner
            .push
            .get()
            .ok_or(A2aError::PushNotificationNotSupported)
    }

    /// Stop accepting new messages and wait (up to `timeout`) for running
    /// turns to finish. Turns still running afterwards are left to the
    /// restart recovery ([`TaskManager::recover`]).
    pub async fn drain(&self, timeout: Duration) {
        self.inner.draining.store(true, Ordering::SeqCst);
        let wait = async {
            loop {
                let notified = self.inner.turns_done.notified();
                if self.inner.running_turns.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(timeout, wait).await.is_err() {
            tracing::warn!(
                running = self.running_turns(),
                "drain timed out; running tasks will be recovered at the next start"
            );
        }
    }

    /// Whether `drain` was called.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// Deal with tasks a previous process left unfinished: a task stored as
    /// `submitted` or `working` has no turn running anywhere once this host
    /// starts (single-process deployments), so it is failed with a reason
    /// that says so. Interrupted tasks are left alone: they wait for the
    /// client. Returns how many tasks were failed.
    ///
    /// With a shared bus this does nothing: other processes may be running
    /// those tasks, and a turn whose process died is reclaimed from the
    /// work queue instead.
    pub async fn recover(&self) -> Result<usize, A2aError> {
        if self.inner.shared {
            return Ok(0);
        }
        let ids = self
            .inner
            .store
            .tasks_in_states(None, &[TaskState::Submitted, TaskState::Working])
            .await?;
        let mut failed = 0;
        for id in ids {
            let Some(stored) = self.inner.store.get_task(&id).await? else {
                continue;
            };
            if self.inner.live.lock().contains_key(&id) {
                continue;
            }
            let reason = "the host stopped while this task was running; send the message again";
            match self.write_status(&stored, TaskState::Failed, reason).await {
                Ok(_) => failed += 1,
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if failed > 0 {
            tracing::info!(failed, "failed tasks left running by a previous process");
        }
        Ok(failed)
    }

    // -----------------------------------------------------------------------
    // Internals

    pub(super) fn require_agent(&self, agent: &str) -> Result<LoadedAgent, A2aError> {
        self.inner
            .registry
            .get(agent)
            .ok_or_else(|| A2aError::AgentNotFound(agent.to_string()))
    }

    pub(super) async fn stored_task(&self, agent: &str, id: &str) -> Result<StoredTask, A2aError> {
        match self.inner.store.get_task(id).await? {
            Some(stored) if stored.agent == agent => Ok(stored),
            _ => Err(A2aError::TaskNotFound(id.to_string())),
        }
    }

    /// Moves a task that has no turn running here to `state`, with `text`
    /// as the status message, if it is still at the version read.
    pub(super) async fn write_status(
        &self,
        stored: &StoredTask,
        state: TaskState,
        text: &str,
    ) -> Result<Task, StoreError> {
        let mut task = stored.task.clone();
        let message = agent_message(&task, vec![Part::text(text)]);
        task.status = TaskStatus::new(state, Some(message));
        let event = Arc::new(status_event(&task));
        let task = Arc::new(task);
        let committed = self
            .inner
            .store
            .write_task(TaskWrite {
                agent: &stored.agent,
                task: Arc::clone(&task),
                expected_version: stored.version,
                events: vec![Arc::clone(&event)],
                claim_message_id: None,
                context_is_new: false,
                push_config: None,
            })
            .await?;
        let event = std::slice::from_ref(&event);
        self.committed(&stored.agent, Some(stored.task.status.state), &task, event);
        // Open subscriptions (e.g. across an input-required pause) hear it.
        let channel = self
            .inner
            .channels
            .lock()
            .get(&task.id)
            .and_then(Weak::upgrade);
        self.queued(&committed);
        self.publish(&task.id, committed.first_seq, event).await;
        if let Some(channel) = channel {
            channel.send(SequencedEvent {
                seq: Some(committed.first_seq),
                event: Arc::clone(&event[0]),
            });
        }
        Ok(Arc::unwrap_or_clone(task))
    }

    /// The freshest snapshot: the live one if a turn runs here.
    async fn current_task(&self, agent: &str, id: &str) -> Result<Task, A2aError> {
        let live = self.inner.live.lock().get(id).cloned();
        if let Some(live) = live.filter(|l| l.agent == agent) {
            return Ok(Task::clone(&live.state.lock().await.task));
        }
        Ok(self.stored_task(agent, id).await?.task)
    }
}

/// `task` with at most `n` messages of history; copied only when that
/// drops some (the snapshot is shared with the live task and the store).
fn with_history_limit(mut task: Arc<Task>, n: Option<usize>) -> Arc<Task> {
    if n.is_some_and(|n| task.history.len() > n) {
        Arc::make_mut(&mut task).truncate_history(n);
    }
    task
}

fn not_cancelable(task: &Task) -> A2aError {
    A2aError::TaskNotCancelable(format!(
        "task `{}` is already {} and cannot be canceled",
        task.id,
        state_word(task.status.state)
    ))
}

fn terminal_subscribe(task: &Task) -> A2aError {
    A2aError::UnsupportedOperation(format!(
        "task `{}` is already {}; there is nothing to subscribe to (use GetTask)",
        task.id,
        state_word(task.status.state)
    ))
}
