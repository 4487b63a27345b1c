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
//!
//! # Files
//! - `api.rs`: the protocol methods, `drain` and `recover`.
//! - `start.rs`: a send accepted, written and handed to a turn.
//! - `turn.rs`: a turn run, and the agent's actions applied.
//! - `channel.rs`: a task's live event channel.
//! - `follow.rs`: a stream of a task's events, and the waits on one.
//! - `cluster.rs`: the shared-bus path.
//! - `validate.rs`: checks on what is sent.
//!
//! [`TaskContext`]: crate::agent::TaskContext
//! [`Action`]: crate::agent::Action
//! [`Action::Reply`]: crate::agent::Action::Reply
//! [`Agent::handle`]: crate::agent::Agent::handle
//! [`Job`]: crate::bus::Job

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use hashbrown::HashMap;
use parking_lot::Mutex as SyncMutex;

use crate::bus::{Bus, LocalBus};
use crate::hooks::{HookSet, Hooks};
use crate::model::{Message, Part, StreamResponse, Task, TaskState, TaskStatusUpdateEvent};
use crate::push::PushPolicy;
use crate::registry::AgentRegistry;
use crate::store::{Committed, Store};

mod api;
mod channel;
mod cluster;
mod follow;
mod start;
mod turn;
mod validate;

pub use channel::{EventStream, SequencedEvent};

use channel::TaskChannel;
use cluster::ClusterWorker;
use turn::LiveTask;
pub(crate) use turn::panic_message;

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
    /// Told of every committed change ([`TaskManager::set_hooks`]).
    hooks: OnceLock<HookSet>,
    /// Push notifications, when enabled ([`TaskManager::set_push`]).
    push: OnceLock<Arc<PushPolicy>>,
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

    /// Calls `hooks` on every task state transition and artifact this
    /// manager commits from now on (see [`crate::hooks`]). Only the first
    /// call takes effect: it returns `false` if hooks were set already.
    /// Must be called inside a Tokio runtime.
    pub fn set_hooks(&self, hooks: Vec<Arc<dyn Hooks>>) -> bool {
        hooks.is_empty() || self.inner.hooks.set(HookSet::new(hooks)).is_ok()
    }

    /// Accepts push configs under `policy` from now on (without it, the
    /// push methods answer PushNotificationNotSupportedError), and wakes
    /// `policy`'s deliverer whenever a write queues notifications. Only the
    /// first call takes effect: it returns `false` if push was set already.
    pub fn set_push(&self, policy: Arc<PushPolicy>) -> bool {
        self.inner.push.set(policy).is_ok()
    }

    /// Whether push configs are accepted (cards say `pushNotifications`).
    pub fn push_enabled(&self) -> bool {
        self.inner.push.get().is_some()
    }

    /// Wakes the deliverer if a write queued notifications.
    fn queued(&self, committed: &Committed) {
        if committed.pushes_queued > 0
            && let Some(push) = self.inner.push.get()
        {
            push.wake.notify_one();
        }
    }

    /// Tells the hooks of a committed write of `task` (see
    /// [`HookSet::committed`]).
    fn committed(
        &self,
        agent: &str,
        from: Option<TaskState>,
        task: &Arc<Task>,
        events: &[Arc<StreamResponse>],
    ) {
        if let Some(hooks) = self.inner.hooks.get() {
            hooks.committed(agent, from, task, events);
        }
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
                hooks: OnceLock::new(),
                push: OnceLock::new(),
            }),
        }
    }

    /// The agents this manager runs tasks for.
    pub fn registry(&self) -> &AgentRegistry {
        &self.inner.registry
    }

    /// The store that holds the tasks and their event logs.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The settings the manager was built with.
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
}

// ---------------------------------------------------------------------------
// Helpers

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
