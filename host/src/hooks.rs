//! Lifecycle hooks: code of the embedder's that hears about every task
//! state transition and every artifact, without being in the task's way.
//!
//! A [`Hooks`] implementation is registered with
//! [`HostBuilder::hooks`](crate::HostBuilder::hooks) (or
//! [`TaskManager::set_hooks`](crate::manager::TaskManager::set_hooks)). The
//! manager reports each change after it is committed to the store, in the
//! task's event order. Delivery is fire-and-forget: every hook has its own
//! queue and its own tokio task, so a hook that is slow, never returns or
//! panics delays and fails no task, and no other hook. A hook that falls
//! more than [`QUEUE_CAPACITY`] reports behind loses the newest ones
//! (counted, and logged once per hook per burst) rather than holding
//! memory without bound.
//!
//! Hooks see this process's writes: with several processes on a shared
//! bus, each process reports the changes its own turns and requests made.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use futures::FutureExt as _;
use tokio::sync::mpsc;

use crate::model::{StreamResponse, Task, TaskArtifactUpdateEvent, TaskState};

/// Reports a hook may queue before the newest are dropped.
pub const QUEUE_CAPACITY: usize = 4096;

/// A task entered a new state.
#[derive(Debug, Clone)]
pub struct Transition {
    /// The agent that owns the task.
    pub agent: String,
    /// The state before, or `None` for a task that was just created.
    pub from: Option<TaskState>,
    /// The new state.
    pub to: TaskState,
    /// The task as stored by the write that made the change (it may
    /// already hold later changes of the same write).
    pub task: Arc<Task>,
}

/// An artifact, or a chunk of one, was added to a task.
#[derive(Debug, Clone)]
pub struct ArtifactAdded {
    /// The agent that owns the task.
    pub agent: String,
    /// The event as streams carry it (`append` / `lastChunk` say whether it
    /// is a chunk).
    pub update: TaskArtifactUpdateEvent,
    /// The task as stored by the write that added the artifact.
    pub task: Arc<Task>,
}

/// Callbacks on task changes. Both methods do nothing by default; override
/// the ones you need.
///
/// ```
/// use a2a_host::hooks::{Hooks, Transition};
///
/// struct LogTransitions;
///
/// #[async_trait::async_trait]
/// impl Hooks for LogTransitions {
///     async fn on_transition(&self, t: &Transition) {
///         println!("task {} of {}: {:?} -> {:?}", t.task.id, t.agent, t.from, t.to);
///     }
/// }
/// ```
#[async_trait]
pub trait Hooks: Send + Sync + 'static {
    /// Called once per state a task enters, in order.
    async fn on_transition(&self, transition: &Transition) {
        let _ = transition;
    }

    /// Called once per artifact update, in order with the transitions.
    async fn on_artifact(&self, artifact: &ArtifactAdded) {
        let _ = artifact;
    }
}

enum Report {
    Transition(Transition),
    Artifact(Box<ArtifactAdded>),
}

/// One registered hook: its queue, and what it dropped.
struct Registered {
    queue: mpsc::Sender<Arc<Report>>,
    dropped: AtomicU64,
    /// Whether a drop was logged since the queue last had room.
    warned: AtomicBool,
}

/// The hooks of one manager, each fed by its own queue.
pub(crate) struct HookSet {
    hooks: Arc<Vec<Registered>>,
}

impl HookSet {
    /// Starts one delivery task per hook. Must be called inside a tokio
    /// runtime.
    pub(crate) fn new(hooks: Vec<Arc<dyn Hooks>>) -> Self {
        let hooks = hooks
            .into_iter()
            .map(|hook| {
                let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
                tokio::spawn(deliver(hook, rx));
                Registered {
                    queue,
                    dropped: AtomicU64::new(0),
                    warned: AtomicBool::new(false),
                }
            })
            .collect();
        HookSet {
            hooks: Arc::new(hooks),
        }
    }

    /// Reports a committed write of `task`: `from` is the state the task
    /// had before it (`None` when the write created it), `events` the
    /// events it logged, in order.
    pub(crate) fn committed(
        &self,
        agent: &str,
        from: Option<TaskState>,
        task: &Arc<Task>,
        events: &[Arc<StreamResponse>],
    ) {
        if self.hooks.is_empty() {
            return;
        }
        for report in reports(agent, from, task, events) {
            let report = Arc::new(report);
            for hook in self.hooks.iter() {
                hook.offer(Arc::clone(&report));
            }
        }
    }
}

impl Registered {
    fn offer(&self, report: Arc<Report>) {
        match self.queue.try_send(report) {
            Ok(()) => self.warned.store(false, Ordering::Relaxed),
            Err(mpsc::error::TrySendError::Full(_)) => {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        dropped,
                        capacity = QUEUE_CAPACITY,
                        "a lifecycle hook is too slow; dropping its newest reports"
                    );
                }
            }
            // The delivery task ended: only when the runtime shuts down.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// The transitions and artifacts of one write, in event order.
fn reports(
    agent: &str,
    from: Option<TaskState>,
    task: &Arc<Task>,
    events: &[Arc<StreamResponse>],
) -> Vec<Report> {
    let mut out = Vec::new();
    let mut state = from;
    let enter = |out: &mut Vec<Report>, state: &mut Option<TaskState>, to: TaskState| {
        if *state != Some(to) {
            out.push(Report::Transition(Transition {
                agent: agent.to_string(),
                from: *state,
                to,
                task: Arc::clone(task),
            }));
            *state = Some(to);
        }
    };
    for event in events {
        if let StreamResponse::ArtifactUpdate(a) = event.as_ref() {
            out.push(Report::Artifact(Box::new(ArtifactAdded {
                agent: agent.to_string(),
                update: a.clone(),
                task: Arc::clone(task),
            })));
        } else if let Some(to) = event.state() {
            enter(&mut out, &mut state, to);
        }
    }
    // A state no event announced: a task created without events, or a
    // direct reply that completes it.
    enter(&mut out, &mut state, task.status.state);
    out
}

/// Calls `hook` for each report, one at a time; a panic is logged and the
/// next report is delivered.
async fn deliver(hook: Arc<dyn Hooks>, mut rx: mpsc::Receiver<Arc<Report>>) {
    while let Some(report) = rx.recv().await {
        let call = async {
            match report.as_ref() {
                Report::Transition(t) => hook.on_transition(t).await,
                Report::Artifact(a) => hook.on_artifact(a).await,
            }
        };
        if let Err(panic) = AssertUnwindSafe(call).catch_unwind().await {
            let why = crate::manager::panic_message(panic);
            tracing::error!(panic = %why, "a lifecycle hook panicked; it keeps receiving reports");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::mpsc::UnboundedSender;

    use super::*;
    use crate::model::{TaskStatus, TaskStatusUpdateEvent};

    fn task(state: TaskState) -> Arc<Task> {
        Arc::new(Task {
            id: "t1".into(),
            status: TaskStatus::new(state, None),
            ..Task::default()
        })
    }

    fn status(state: TaskState) -> Arc<StreamResponse> {
        Arc::new(StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
            task_id: "t1".into(),
            status: TaskStatus::new(state, None),
            ..TaskStatusUpdateEvent::default()
        }))
    }

    fn artifact() -> Arc<StreamResponse> {
        Arc::new(StreamResponse::ArtifactUpdate(
            TaskArtifactUpdateEvent::default(),
        ))
    }

    /// Records what it hears as short strings.
    struct Record(UnboundedSender<String>);

    #[async_trait]
    impl Hooks for Record {
        async fn on_transition(&self, t: &Transition) {
            let _ = self.0.send(format!("{:?}->{:?}", t.from, t.to));
        }
        async fn on_artifact(&self, _: &ArtifactAdded) {
            let _ = self.0.send("artifact".into());
        }
    }

    /// Never returns from its first call.
    struct Stuck;

    #[async_trait]
    impl Hooks for Stuck {
        async fn on_transition(&self, _: &Transition) {
            std::future::pending::<()>().await;
        }
    }

    /// Panics on every call.
    struct Panics;

    #[async_trait]
    impl Hooks for Panics {
        async fn on_transition(&self, _: &Transition) {
            panic!("a broken hook");
        }
    }

    #[test]
    fn a_write_reports_each_state_entered_and_each_artifact_in_order() {
        use TaskState::*;
        let events = [
            Arc::new(StreamResponse::Task(Task::clone(&task(Working)))),
            status(Working),
            artifact(),
            status(Completed),
        ];
        let got: Vec<String> = reports("a", Some(Submitted), &task(Completed), &events)
            .iter()
            .map(|r| match r {
                Report::Transition(t) => format!("{:?}->{:?}", t.from, t.to),
                Report::Artifact(_) => "artifact".into(),
            })
            .collect();
        assert_eq!(
            got,
            [
                "Some(Submitted)->Working",
                "artifact",
                "Some(Working)->Completed"
            ]
        );
        // A write without events: the task was created, or its state was
        // stored without an event.
        let created = reports("a", None, &task(Submitted), &[]);
        assert_eq!(created.len(), 1);
        assert!(matches!(
            created.as_slice(),
            [Report::Transition(Transition {
                from: None,
                to: Submitted,
                ..
            })]
        ));
    }

    #[tokio::test]
    async fn stuck_and_panicking_hooks_delay_no_one() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let set = HookSet::new(vec![
            Arc::new(Stuck),
            Arc::new(Panics),
            Arc::new(Record(tx)),
        ]);
        // More reports than a queue holds: the stuck hook's queue fills and
        // drops, and `committed` still returns at once.
        for _ in 0..QUEUE_CAPACITY + 10 {
            set.committed(
                "a",
                Some(TaskState::Working),
                &task(TaskState::Completed),
                &[status(TaskState::Completed)],
            );
            // Let the delivery tasks run, as a busy host would.
            tokio::task::yield_now().await;
        }
        for _ in 0..QUEUE_CAPACITY + 10 {
            let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("the recording hook hears every report")
                .unwrap();
            assert_eq!(got, "Some(Working)->Completed");
        }
        assert!(set.hooks[0].dropped.load(Ordering::Relaxed) > 0);
        assert_eq!(set.hooks[1].dropped.load(Ordering::Relaxed), 0);
    }
}
