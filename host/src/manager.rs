//! The task manager: the one place where task state changes.
//!
//! Every binding (JSON-RPC, HTTP+JSON, 0.3) calls these methods with the
//! 1.0 model; every agent acts through a [`TaskContext`] whose actions come
//! back here as [`Action`]s.
//!
//! # How a task runs
//! 1. `send_message` validates the request, creates the task in the store
//!    (`submitted`) and spawns a **turn**: one call of [`Agent::handle`].
//! 2. The agent's first action decides what the task is. A [`Action::Reply`]
//!    makes the answer a direct message. Anything else starts the task: the
//!    manager logs the task snapshot (now `working`) as the first event, then
//!    the action's own events.
//! 3. Each action is applied under the task's write lock: compute the new
//!    snapshot, write it with its events to the store (atomically, checked
//!    against the version read), then broadcast the events to live streams.
//!    Holding the lock across write and broadcast makes every stream see the
//!    events in log order.
//! 4. The turn ends when the agent puts the task into a terminal or
//!    interrupted state. If `handle` returns without doing so, or with an
//!    error, or panics, the manager fails the task with a reason.
//! 5. A follow-up message (`message.taskId`) to an interrupted task starts a
//!    new turn on the same task.
//!
//! # Invariants
//! - A task has at most one running turn.
//! - Terminal tasks never change; every write re-checks the stored version.
//! - Event sequence numbers are assigned by the store and are gap-free; the
//!   broadcast carries them, so a lagging stream refills from the store.
//!
//! # Several processes (a shared [`Bus`])
//! With [`TaskManager::with_bus`] and a shared bus (Redis), processes that
//! share a store also share the work:
//! - `start` writes the task as above, then **queues** the turn as a
//!   [`Job`] instead of running it. Every process runs a worker that claims
//!   jobs while it has free slots ([`ManagerConfig::workers`]), loads the
//!   task from the store, rebuilds the turn's input (the latest user message,
//!   the history before it, the task's metadata) and runs the turn here.
//! - Every committed write is also published on the bus. Each task channel
//!   open here has a **bridge** that, on a wake-up (or every few seconds,
//!   from the store), sends the events it has not seen yet into the local
//!   broadcast. Streams dedupe by sequence number and refill gaps from the
//!   store, so a bridge may skip events: sending a later one is enough.
//! - A blocking send waits on the task's channel for a resting state or a
//!   direct message, wherever the turn runs, then reads the task.
//! - A cancel of a task that runs elsewhere is written to the store (the
//!   running process's next write conflicts and it stops) and signalled;
//!   the process running the turn fires its cancel token at once.
//! - `recover` does nothing: a turn whose process died is reclaimed from
//!   the queue by another process instead.

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use futures::{FutureExt as _, Stream, StreamExt};
use hashbrown::HashMap;
use parking_lot::Mutex as SyncMutex;
use tokio::sync::{Mutex, Notify, broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::agent::{
    Action, ActionError, Agent, AgentError, TaskContext, TaskUsage, TurnInput, TurnSink,
};
use crate::bus::{Bus, Job, JobOutcome, JobTicket, LocalBus, Worker};
use crate::error::A2aError;
use crate::log_throttle::log_throttled;
use crate::model::{
    CancelTaskRequest, GetTaskRequest, ListTaskPushConfigsRequest, ListTaskPushConfigsResponse,
    ListTasksRequest, ListTasksResponse, Message, Part, Role, SendMessageRequest,
    SendMessageResponse, StreamResponse, SubscribeToTaskRequest, Task, TaskArtifactUpdateEvent,
    TaskPushConfigRef, TaskPushNotificationConfig, TaskState, TaskStatus, TaskStatusUpdateEvent,
};
use crate::registry::{AgentRegistry, LoadedAgent};
use crate::store::{Store, StoreError, StoredTask, TaskQuery, TaskWrite};

/// Settings of the task manager.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// How long a blocking SendMessage waits for a terminal or interrupted
    /// state before it returns the task as it is.
    pub blocking_timeout: Duration,
    /// How long a canceled agent may keep running before it is stopped.
    pub cancel_grace: Duration,
    /// Capacity of each task's live event channel. A stream that falls
    /// further behind refills from the store's event log. The channel is
    /// allocated whole when a task's first stream opens, ~370 bytes a
    /// slot: 256 slots (96 KB, faulted in and initialized for every
    /// streamed task) cost a streaming send more than its agent did.
    pub broadcast_capacity: usize,
    /// With a shared bus: how many turns this process runs at once; it
    /// claims no more jobs while full, and none at all with 0 (it then only
    /// accepts requests). Without a shared bus every accepted turn runs.
    pub workers: usize,
    /// With a shared bus: how long a process that took a job waits for the
    /// job's message to appear in the store (jobs are queued just before
    /// the write that accepts the message) before it leaves the job for
    /// another attempt.
    pub job_wait: Duration,
    /// How long the write that creates a new task may wait to be merged
    /// with the write of its agent's first action (zero: never). Only a
    /// task nobody else can know of yet waits: a new context, a blocking
    /// or streaming send, one process. An agent that finishes within the
    /// window costs one store write instead of two; one that takes longer
    /// has its task written when the window ends. Until then the task is
    /// missing from the store, and a crash loses it, but its client has
    /// not been answered either.
    pub coalesce_window: Duration,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            blocking_timeout: Duration::from_secs(60),
            cancel_grace: Duration::from_secs(2),
            broadcast_capacity: 32,
            workers: 64,
            job_wait: Duration::from_secs(5),
            coalesce_window: Duration::from_millis(50),
        }
    }
}

/// One event of a task stream, with its sequence number in the task's
/// event log (the SSE `id:`).
#[derive(Debug, Clone, PartialEq)]
pub struct SequencedEvent {
    pub seq: Option<u64>,
    /// Shared: every stream of the task (and a memory store's log) holds
    /// the same event.
    pub event: Arc<StreamResponse>,
}

/// The events of one stream. It ends after the event that puts the task in
/// a terminal or interrupted state, or after a direct message.
pub type EventStream = Pin<Box<dyn Stream<Item = SequencedEvent> + Send + 'static>>;

/// Runs tasks against the agents of a registry and keeps them in a store.
/// Cheap to clone.
#[derive(Clone)]
pub struct TaskManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    registry: AgentRegistry,
    config: ManagerConfig,
    bus: Arc<dyn Bus>,
    /// `bus.is_shared()`: turns go through the bus's work queue.
    shared: bool,
    /// Tasks with a running turn, by id. Both maps hash with hashbrown's
    /// foldhash rather than SipHash: every turn inserts into and removes
    /// from both, and their keys are ids of tasks that exist, which hosts
    /// make and clients cannot choose, so there is no key flooding to
    /// defend against.
    live: SyncMutex<HashMap<String, Arc<LiveTask>>>,
    /// The live event channel of every task that has a turn or a stream
    /// open here. Entries remove themselves when the last user drops.
    channels: SyncMutex<HashMap<String, Weak<TaskChannel>>>,
    draining: AtomicBool,
    running_turns: AtomicUsize,
    turns_done: tokio::sync::Notify,
}

/// The in-process state of a task while a turn runs.
struct LiveTask {
    agent: String,
    task_id: String,
    /// Serialises writes; holds the latest snapshot and its version.
    state: Mutex<LiveState>,
    channel: Arc<TaskChannel>,
    /// Mirrors `LiveState::turn_over` for checks that cannot await the lock.
    turn_over: AtomicBool,
    /// Fires when the client cancels.
    cancel: CancellationToken,
    /// The task's state (or the reply) once the current turn settles.
    settled: watch::Sender<Option<Settled>>,
}

/// The live event channel of one task, shared by its turns (which send)
/// and its streams (which receive). A subscription can outlive a turn: a
/// SubscribeToTask on an input-required task keeps receiving when the next
/// turn starts.
struct TaskChannel {
    task_id: String,
    /// Created by the first subscriber: most tasks are awaited by a
    /// blocking send (through `LiveTask::settled`) and never streamed, and
    /// a broadcast ring is the largest allocation of a task. Events sent
    /// before it exists have no receiver to miss them; every stream reads
    /// the store after subscribing.
    sender: OnceLock<broadcast::Sender<SequencedEvent>>,
    capacity: usize,
    manager: Weak<Inner>,
    /// The highest sequence number sent on this channel.
    last_sent: AtomicU64,
    /// The highest sequence number a bus wake-up announced.
    announced: AtomicU64,
    /// Wakes the channel's bridge (shared bus only).
    wake: Arc<Notify>,
}

impl TaskChannel {
    fn send(&self, event: SequencedEvent) {
        if let Some(seq) = event.seq {
            self.last_sent.fetch_max(seq, Ordering::SeqCst);
        }
        if let Some(sender) = self.sender.get() {
            let _ = sender.send(event);
        }
    }

    /// A receiver of the events sent from now on.
    fn subscribe(&self) -> broadcast::Receiver<SequencedEvent> {
        self.sender
            .get_or_init(|| broadcast::channel(self.capacity).0)
            .subscribe()
    }
}

impl Drop for TaskChannel {
    fn drop(&mut self) {
        // Let the bridge (if any) notice that the channel is gone.
        self.wake.notify_one();
        if let Some(inner) = self.manager.upgrade() {
            let mut channels = inner.channels.lock();
            if channels
                .get(&self.task_id)
                .is_some_and(|w| w.strong_count() == 0)
            {
                channels.remove(&self.task_id);
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Settled {
    /// The task reached a terminal or interrupted state.
    Resting,
    Reply(Message),
}

struct LiveState {
    /// Shared with the write that stored it (a memory store keeps it).
    task: Arc<Task>,
    /// The stored version of `task`; 0 while the write that creates the
    /// task waits to be merged with the first action's (see
    /// [`ManagerConfig::coalesce_window`]).
    version: u64,
    last_seq: u64,
    /// Whether the first event (the task snapshot) has been logged.
    started: bool,
    /// Whether this is the first turn of a new task (a reply is allowed).
    first_turn: bool,
    /// Whether the current turn has put the task into a resting state.
    turn_over: bool,
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
        }
    }
}

impl TaskManager {
    /// A manager for one process: it runs every turn it accepts.
    pub fn new(store: Arc<dyn Store>, registry: AgentRegistry, config: ManagerConfig) -> Self {
        Self::build(store, registry, config, Arc::new(LocalBus))
    }

    /// A manager that shares work and events with other processes through
    /// `bus` (and a store they share). It claims no jobs and hears no
    /// signals until [`TaskManager::start_bus`]: load the agents first. With
    /// a bus that is not shared this is [`TaskManager::new`].
    pub fn with_bus(
        store: Arc<dyn Store>,
        registry: AgentRegistry,
        config: ManagerConfig,
        bus: Arc<dyn Bus>,
    ) -> Self {
        Self::build(store, registry, config, bus)
    }

    /// Starts the bus's worker and signal loops (once; later calls do
    /// nothing). Must be called inside a Tokio runtime.
    pub fn start_bus(&self) {
        if self.inner.shared {
            self.inner.bus.clone().start(Arc::new(ClusterWorker {
                inner: Arc::downgrade(&self.inner),
            }));
        }
    }

    fn build(
        store: Arc<dyn Store>,
        registry: AgentRegistry,
        config: ManagerConfig,
        bus: Arc<dyn Bus>,
    ) -> Self {
        TaskManager {
            inner: Arc::new(Inner {
                store,
                registry,
                config,
                shared: bus.is_shared(),
                bus,
                live: SyncMutex::new(HashMap::new()),
                channels: SyncMutex::new(HashMap::new()),
                draining: AtomicBool::new(false),
                running_turns: AtomicUsize::new(0),
                turns_done: tokio::sync::Notify::new(),
            }),
        }
    }

    pub fn registry(&self) -> &AgentRegistry {
        &self.inner.registry
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn config(&self) -> &ManagerConfig {
        &self.inner.config
    }

    /// The bus this manager shares work and events through.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.inner.bus
    }

    /// Number of turns running right now.
    pub fn running_turns(&self) -> usize {
        self.inner.running_turns.load(Ordering::SeqCst)
    }

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

    pub async fn get_task(&self, agent: &str, req: GetTaskRequest) -> Result<Task, A2aError> {
        let history_length = history_length(req.history_length, "historyLength")?;
        let mut task = self.current_task(agent, &req.id).await?;
        task.truncate_history(history_length);
        Ok(task)
    }

    pub async fn list_tasks(
        &self,
        agent: &str,
        req: ListTasksRequest,
    ) -> Result<ListTasksResponse, A2aError> {
        let page_size = match req.page_size {
            None => 50,
            Some(n) if (1..=100).contains(&n) => n as usize,
            Some(n) => {
                return Err(A2aError::invalid_field(
                    "pageSize",
                    format!("pageSize must be between 1 and 100, got {n}"),
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

    pub async fn create_push_config(
        &self,
        agent: &str,
        config: TaskPushNotificationConfig,
    ) -> Result<TaskPushNotificationConfig, A2aError> {
        self.require_agent(agent)?;
        let _ = config;
        Err(A2aError::PushNotificationNotSupported)
    }

    pub async fn get_push_config(
        &self,
        agent: &str,
        req: TaskPushConfigRef,
    ) -> Result<TaskPushNotificationConfig, A2aError> {
        self.require_agent(agent)?;
        let _ = req;
        Err(A2aError::PushNotificationNotSupported)
    }

    pub async fn list_push_configs(
        &self,
        agent: &str,
        req: ListTaskPushConfigsRequest,
    ) -> Result<ListTaskPushConfigsResponse, A2aError> {
        self.require_agent(agent)?;
        let _ = req;
        Err(A2aError::PushNotificationNotSupported)
    }

    pub async fn delete_push_config(
        &self,
        agent: &str,
        req: TaskPushConfigRef,
    ) -> Result<(), A2aError> {
        self.require_agent(agent)?;
        let _ = req;
        Err(A2aError::PushNotificationNotSupported)
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

    fn require_agent(&self, agent: &str) -> Result<LoadedAgent, A2aError> {
        self.inner
            .registry
            .get(agent)
            .ok_or_else(|| A2aError::AgentNotFound(agent.to_string()))
    }

    async fn stored_task(&self, agent: &str, id: &str) -> Result<StoredTask, A2aError> {
        match self.inner.store.get_task(id).await? {
            Some(stored) if stored.agent == agent => Ok(stored),
            _ => Err(A2aError::TaskNotFound(id.to_string())),
        }
    }

    /// Moves a task that has no turn running here to `state`, with `text`
    /// as the status message, if it is still at the version read.
    async fn write_status(
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
            })
            .await?;
        // Open subscriptions (e.g. across an input-required pause) hear it.
        let channel = self
            .inner
            .channels
            .lock()
            .get(&task.id)
            .and_then(Weak::upgrade);
        self.publish(&task.id, committed.first_seq, std::slice::from_ref(&event))
            .await;
        if let Some(channel) = channel {
            channel.send(SequencedEvent {
                seq: Some(committed.first_seq),
                event,
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

    /// Validates a send and starts a turn for it.
    /// `coalesce`: whether the caller answers only after the turn acted
    /// (a blocking or streaming send), so a new task's creating write may
    /// wait for the first action's.
    async fn start(
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
        if req
            .configuration
            .as_ref()
            .is_some_and(|c| c.task_push_notification_config.is_some())
        {
            return Err(A2aError::PushNotificationNotSupported);
        }
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
                    req.metadata,
                    accepted_output_modes,
                )
                .await
            }
            None => {
                self.create_task(
                    agent,
                    agent_name,
                    message,
                    req.metadata,
                    accepted_output_modes,
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
        metadata: Option<crate::model::Metadata>,
        accepted_output_modes: Vec<String>,
        coalesce: bool,
    ) -> Result<Started, A2aError> {
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
        let state = LiveState {
            task,
            version: committed.version,
            last_seq: committed.first_seq.saturating_sub(1),
            started: false,
            first_turn: true,
            turn_over: false,
        };
        Ok(self.launch(agent, input(message, accepted_output_modes), state, queued))
    }

    async fn continue_task(
        &self,
        agent: LoadedAgent,
        agent_name: &str,
        task_id: &str,
        mut message: Message,
        metadata: Option<crate::model::Metadata>,
        accepted_output_modes: Vec<String>,
    ) -> Result<Started, A2aError> {
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
            self.publish(task_id, committed.first_seq, &events).await;
            let live_state = LiveState {
                task: next,
                version: committed.version,
                last_seq: committed.first_seq,
                started: true,
                first_turn: false,
                turn_over: false,
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

    /// Registers a live task and spawns its turn.
    fn spawn_turn(&self, agent: LoadedAgent, input: TurnInput, state: LiveState) -> Arc<LiveTask> {
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
    fn register_turn(&self, input: &TurnInput, state: LiveState) -> Arc<LiveTask> {
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
    async fn run_turn(
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
    async fn apply(
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
    async fn write_created(&self, live: &LiveTask, st: &mut LiveState) -> Result<(), StoreError> {
        if st.version != 0 {
            return Ok(());
        }
        let committed = self
            .inner
            .store
            .write_task(st.write(&live.agent, Arc::clone(&st.task), Vec::new()))
            .await?;
        st.version = committed.version;
        Ok(())
    }

    /// Writes the waiting new tasks of `agent` (all agents: `None`), so
    /// that a listing or a shutdown finds them in the store.
    async fn write_waiting(&self, agent: Option<&str>) {
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

    /// A repeated message: answer with the task it already created, waiting
    /// like a fresh blocking send would if that task is still running here.
    async fn settle_existing(
        &self,
        stored: StoredTask,
        return_immediately: bool,
        history_length: Option<usize>,
    ) -> Result<SendMessageResponse, A2aError> {
        let live = self.inner.live.lock().get(&stored.task.id).cloned();
        let mut task = match live {
            Some(live) if !return_immediately => {
                let mut settled = live.settled.subscribe();
                let wait = settled.wait_for(|s| s.is_some());
                let _ = tokio::time::timeout(self.inner.config.blocking_timeout, wait).await;
                let outcome = settled.borrow().clone();
                if let Some(Settled::Reply(m)) = outcome {
                    return Ok(SendMessageResponse::Message(m));
                }
                Task::clone(&live.state.lock().await.task)
            }
            Some(live) => Task::clone(&live.state.lock().await.task),
            None if self.inner.shared
                && !return_immediately
                && !resting(stored.task.status.state) =>
            {
                // Its turn runs (or is queued) elsewhere: wait like a fresh
                // blocking send would.
                let channel = self.channel(&stored.task.id);
                let rx = channel.subscribe();
                if let Some(reply) = self.wait_resting(channel, rx, stored.last_seq).await {
                    return Ok(SendMessageResponse::Message(reply));
                }
                self.stored_task(&stored.agent, &stored.task.id).await?.task
            }
            None => stored.task,
        };
        // A task answered by a direct reply reports the reply again.
        if task.status.state == TaskState::Completed
            && task.history.len() == 2
            && let Ok(events) = self.inner.store.events_after(&task.id, 0).await
            && let Some((_, StreamResponse::Message(m))) = events.first()
        {
            return Ok(SendMessageResponse::Message(m.clone()));
        }
        task.truncate_history(history_length);
        Ok(SendMessageResponse::Task(Arc::new(task)))
    }

    /// The live channel of a task, created if no one holds it.
    fn channel(&self, task_id: &str) -> Arc<TaskChannel> {
        let mut channels = self.inner.channels.lock();
        if let Some(existing) = channels.get(task_id).and_then(Weak::upgrade) {
            return existing;
        }
        let channel = Arc::new(TaskChannel {
            task_id: task_id.to_string(),
            sender: OnceLock::new(),
            capacity: self.inner.config.broadcast_capacity.max(16),
            manager: Arc::downgrade(&self.inner),
            last_sent: AtomicU64::new(0),
            announced: AtomicU64::new(0),
            wake: Arc::new(Notify::new()),
        });
        channels.insert(task_id.to_string(), Arc::downgrade(&channel));
        if self.inner.shared {
            self.spawn_bridge(&channel);
        }
        channel
    }

    /// Feeds a task channel with the events other processes write: on each
    /// bus wake-up from the bus's copy of the log, and every
    /// [`BRIDGE_POLL`] from the store (wake-ups are not guaranteed). Ends
    /// when the channel is dropped.
    fn spawn_bridge(&self, channel: &Arc<TaskChannel>) {
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

    /// Waits (up to the blocking timeout) on a task's channel until the
    /// task rests or answers with a direct message, which is returned.
    async fn wait_resting(
        &self,
        channel: Arc<TaskChannel>,
        rx: broadcast::Receiver<SequencedEvent>,
        after: u64,
    ) -> Option<Message> {
        let mut stream = self
            .follow(channel, rx, after, None, true, None)
            .into_stream();
        let wait = async {
            while let Some(item) = stream.next().await {
                if let StreamResponse::Message(m) = &*item.event {
                    return Some(m.clone());
                }
            }
            None
        };
        tokio::time::timeout(self.inner.config.blocking_timeout, wait)
            .await
            .ok()
            .flatten()
    }

    /// Copies committed events, numbered from `first_seq`, to the bus when
    /// processes share the work (alone, nobody else reads them). A failure
    /// is logged, not returned: the events are stored, and streams
    /// elsewhere catch up from the store.
    async fn publish(&self, task_id: &str, first_seq: u64, events: &[Arc<StreamResponse>]) {
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

    /// The stream for a repeated streaming send: the task as it is, then
    /// its live events if it is still running.
    async fn stream_existing(&self, stored: StoredTask) -> Result<EventStream, A2aError> {
        let channel = self.channel(&stored.task.id);
        let rx = channel.subscribe();
        let first = SequencedEvent {
            seq: Some(stored.last_seq),
            event: Arc::new(StreamResponse::Task(stored.task)),
        };
        Ok(self
            .follow(channel, rx, stored.last_seq, Some(first), true, None)
            .into_stream())
    }

    /// A stream that emits `first` (if any), then the task's events with a
    /// sequence number above `after` — catching up from the store's log
    /// whenever the live channel skipped some — until an event ends it: a
    /// direct message, a terminal state, or (with `end_on_interrupted`) an
    /// input-required / auth-required state. With `settled`, the stream
    /// also ends once that turn is over and the log holds nothing more.
    /// [`Follow::into_stream`] makes it a stream; a caller that knows `rx`
    /// subscribed before any event after `after` was sent first clears
    /// `refill`, and the stream skips its first read of the log.
    fn follow(
        &self,
        channel: Arc<TaskChannel>,
        rx: broadcast::Receiver<SequencedEvent>,
        after: u64,
        first: Option<SequencedEvent>,
        end_on_interrupted: bool,
        settled: Option<watch::Receiver<Option<Settled>>>,
    ) -> Follow {
        let sent_task = first.is_some();
        Follow {
            store: self.inner.store.clone(),
            channel,
            rx,
            last: after,
            pending: first.into_iter().collect(),
            sent_task,
            end_on_interrupted,
            settled,
            turn_settled: false,
            refill: true,
            end_when_drained: false,
        }
    }
}

/// The state of one stream of a task's events (see [`TaskManager::follow`]):
/// the live channel, with the event log to catch up from.
struct Follow {
    store: Arc<dyn Store>,
    /// Held so that the channel lives as long as the stream.
    channel: Arc<TaskChannel>,
    rx: broadcast::Receiver<SequencedEvent>,
    /// The sequence number of the last event taken.
    last: u64,
    /// Events taken and not yet handed out, in order.
    pending: std::collections::VecDeque<SequencedEvent>,
    /// Whether the task itself went out already.
    sent_task: bool,
    end_on_interrupted: bool,
    /// The turn's outcome, if the stream should end when the turn does.
    settled: Option<watch::Receiver<Option<Settled>>>,
    turn_settled: bool,
    /// Read the log (for events before the subscription, or missed).
    refill: bool,
    /// What is pending is all there is: the turn is over, or the last
    /// event went out.
    end_when_drained: bool,
}

impl Follow {
    /// A plain stream, polled by whoever reads it (an SSE body, a blocking
    /// send's wait): no task or channel of its own in between.
    fn into_stream(self) -> EventStream {
        Box::pin(futures::stream::unfold(self, |mut follow| async move {
            let event = follow.next().await?;
            Some((event, follow))
        }))
    }

    /// Whether `event` is the last of the stream.
    fn ends(&self, event: &StreamResponse) -> bool {
        match event {
            StreamResponse::Message(_) => true,
            _ => event.state().is_some_and(|s| {
                s.is_terminal() || (self.end_on_interrupted && s.is_interrupted())
            }),
        }
    }

    /// A stream carries the task itself once, first. The log's own task
    /// event (a new task's first action) reaches a stream that already
    /// sent a snapshot as the status update it amounts to.
    fn once(&mut self, event: Arc<StreamResponse>) -> Arc<StreamResponse> {
        match &*event {
            StreamResponse::Task(task) if self.sent_task => {
                Arc::new(StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
                    task_id: task.id.clone(),
                    context_id: task.context_id.clone(),
                    status: task.status.clone(),
                    metadata: None,
                }))
            }
            StreamResponse::Task(_) => {
                self.sent_task = true;
                event
            }
            _ => event,
        }
    }

    async fn next(&mut self) -> Option<SequencedEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                if self.ends(&event.event) {
                    self.pending.clear();
                    self.end_when_drained = true;
                }
                return Some(event);
            }
            if self.end_when_drained {
                // Ended, or the turn is over and the log held nothing that
                // ends the stream (its final write failed).
                return None;
            }
            if self.refill {
                self.refill = false;
                let task_id = &self.channel.task_id;
                let events = match self.store.events_after(task_id, self.last).await {
                    Ok(events) => events,
                    Err(e) => {
                        tracing::warn!(task = %task_id, error = %e, "stream could not read the event log");
                        return None;
                    }
                };
                for (seq, event) in events {
                    self.last = seq;
                    let event = self.once(Arc::new(event));
                    self.pending.push_back(SequencedEvent {
                        seq: Some(seq),
                        event,
                    });
                }
                self.end_when_drained = self.turn_settled;
                continue;
            }
            let received = {
                let settled = &mut self.settled;
                let wait_settled = async {
                    match settled.as_mut() {
                        Some(rx) => rx.wait_for(|s| s.is_some()).await.is_ok(),
                        None => std::future::pending().await,
                    }
                };
                // The channel first: the turn's last event is usually sent
                // just before it settles, and taking the settle first would
                // read the whole log for nothing.
                tokio::select! {
                    biased;
                    r = self.rx.recv() => r,
                    ok = wait_settled, if !self.turn_settled => {
                        if ok {
                            self.turn_settled = true;
                            self.refill = true;
                        } else {
                            // The turn went away without a word: follow
                            // the channel alone.
                            self.settled = None;
                        }
                        continue;
                    }
                }
            };
            match received {
                Ok(ev) => {
                    let seq = ev.seq.unwrap_or(0);
                    if seq <= self.last {
                        continue;
                    }
                    if seq > self.last + 1 {
                        self.refill = true;
                        continue;
                    }
                    self.last = seq;
                    let event = self.once(ev.event);
                    self.pending
                        .push_back(SequencedEvent { seq: ev.seq, event });
                }
                // Lagged behind the channel: the log has what was missed.
                Err(_) => self.refill = true,
            }
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

enum Started {
    /// A repeated message id: the task it created before.
    Existing(Box<StoredTask>),
    Turn(Arc<LiveTask>),
    /// Queued on the shared bus: any process may run it.
    Queued(Box<Queued>),
}

/// A turn queued on the shared bus, with a subscription to its task's
/// channel taken before it was queued.
struct Queued {
    channel: Arc<TaskChannel>,
    rx: broadcast::Receiver<SequencedEvent>,
    /// The task as written when the message was accepted.
    task: Task,
    /// The last event logged before the turn was queued.
    last_seq: u64,
    first_turn: bool,
}

/// A job queued ahead of its store write, with the subscription to the
/// task's channel taken before it was queued.
struct Prequeued {
    channel: Arc<TaskChannel>,
    rx: broadcast::Receiver<SequencedEvent>,
    ticket: JobTicket,
}

/// How often a bridged task channel reads the store for events it was not
/// woken for.
const BRIDGE_POLL: Duration = Duration::from_secs(3);

/// The manager's side of a shared bus.
struct ClusterWorker {
    inner: Weak<Inner>,
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

// ---------------------------------------------------------------------------
// Helpers

/// `task` with at most `n` messages of history; copied only when that
/// drops some (the snapshot is shared with the live task and the store).
fn with_history_limit(mut task: Arc<Task>, n: Option<usize>) -> Arc<Task> {
    if n.is_some_and(|n| task.history.len() > n) {
        Arc::make_mut(&mut task).truncate_history(n);
    }
    task
}

fn history_length(value: Option<i32>, field: &str) -> Result<Option<usize>, A2aError> {
    match value {
        None => Ok(None),
        Some(n) if n >= 0 => Ok(Some(n as usize)),
        Some(n) => Err(A2aError::invalid_field(
            field,
            format!("{field} must not be negative, got {n}"),
        )),
    }
}

fn validate_message(m: &Message) -> Result<(), A2aError> {
    if m.message_id.trim().is_empty() {
        return Err(A2aError::invalid_field(
            "message.messageId",
            "message.messageId is required",
        ));
    }
    if m.parts.is_empty() {
        return Err(A2aError::invalid_field(
            "message.parts",
            "message.parts must contain at least one part",
        ));
    }
    if m.role == Role::Agent {
        return Err(A2aError::invalid_field(
            "message.role",
            "messages sent to an agent must have role ROLE_USER",
        ));
    }
    Ok(())
}

/// Rejects parts whose media type the agent does not accept.
fn check_input_modes(agent: &LoadedAgent, m: &Message) -> Result<(), A2aError> {
    let modes = &agent.info.input_modes;
    for (i, part) in m.parts.iter().enumerate() {
        let Some(media) = part.media_type.as_deref().filter(|s| !s.is_empty()) else {
            continue;
        };
        let accepted = if modes.is_empty() {
            media_matches("text/plain", media)
        } else {
            modes.iter().any(|mode| media_matches(mode, media))
        };
        if !accepted {
            let list = if modes.is_empty() {
                "text/plain".to_string()
            } else {
                modes.join(", ")
            };
            return Err(A2aError::ContentTypeNotSupported(format!(
                "message.parts[{i}] has media type `{media}`, which this agent does not accept (it accepts: {list})"
            )));
        }
    }
    Ok(())
}

/// Whether a card mode (`text/plain`, `image/*`, `*/*`, or a bare `text`)
/// accepts a part's media type.
fn media_matches(mode: &str, media: &str) -> bool {
    let media = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mode = mode.trim().to_ascii_lowercase();
    if mode == "*/*" || mode == "*" || mode == media {
        return true;
    }
    let (media_type, _) = media.split_once('/').unwrap_or((&media, ""));
    match mode.split_once('/') {
        Some((t, "*")) => t == media_type,
        Some(_) => false,
        None => mode == media_type,
    }
}

fn check_parts(parts: &[Part]) -> Result<(), ActionError> {
    if parts.is_empty() {
        return Err(ActionError::InvalidArgument(
            "a message or artifact needs at least one part".into(),
        ));
    }
    Ok(())
}

fn agent_message(task: &Task, parts: Vec<Part>) -> Message {
    let mut m = Message::agent(parts);
    m.task_id = Some(task.id.clone());
    m.context_id = Some(task.context_id.clone());
    m
}

/// A new snapshot, ready to share. The memory store keeps it as it is for
/// as long as it keeps the task, so the spare capacity its lists grew by
/// (a push doubles it) is given back first.
fn shared_snapshot(mut task: Task) -> Arc<Task> {
    task.history.shrink_to_fit();
    task.artifacts.shrink_to_fit();
    Arc::new(task)
}

fn status_event(task: &Task) -> StreamResponse {
    StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
        task_id: task.id.clone(),
        context_id: task.context_id.clone(),
        status: task.status.clone(),
        metadata: None,
    })
}

/// Terminal or interrupted: no turn runs.
fn resting(state: TaskState) -> bool {
    state.is_terminal() || state.is_interrupted()
}

fn state_word(state: TaskState) -> &'static str {
    match state {
        TaskState::Unspecified => "in an unknown state",
        TaskState::Submitted => "submitted",
        TaskState::Working => "working",
        TaskState::Completed => "completed",
        TaskState::Failed => "failed",
        TaskState::Canceled => "canceled",
        TaskState::InputRequired => "waiting for input",
        TaskState::Rejected => "rejected",
        TaskState::AuthRequired => "waiting for authentication",
    }
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

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::media_matches;

    #[test]
    fn media_modes_match_like_accept_headers() {
        assert!(media_matches("text/plain", "text/plain; charset=utf-8"));
        assert!(media_matches("image/*", "image/png"));
        assert!(media_matches("*/*", "application/x-anything"));
        assert!(media_matches("text", "text/markdown"));
        assert!(!media_matches(
            "text/plain",
            "application/x-unsupported-tck-type"
        ));
        assert!(!media_matches("image/*", "text/plain"));
    }
}
