//! Live streams: the event channel of a task ([`TaskChannel`]), shared by
//! its turns (which send) and its streams (which receive), and the
//! [`SequencedEvent`]s and [`EventStream`]s they carry.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use futures::Stream;
use tokio::sync::{Notify, broadcast};

use crate::model::StreamResponse;

use super::{Inner, TaskManager};

/// One event of a task stream, with its sequence number in the task's
/// event log (the SSE `id:`).
#[derive(Debug, Clone, PartialEq)]
pub struct SequencedEvent {
    /// The sequence number, sent as the SSE `id:` that a client resumes
    /// from with `Last-Event-ID`; `None` sends no `id:`.
    pub seq: Option<u64>,
    /// Shared: every stream of the task (and a memory store's log) holds
    /// the same event.
    pub event: Arc<StreamResponse>,
}

/// The events of one stream. It ends after the event that puts the task in
/// a terminal or interrupted state, or after a direct message.
pub type EventStream = Pin<Box<dyn Stream<Item = SequencedEvent> + Send + 'static>>;

/// The live event channel of one task, shared by its turns (which send)
/// and its streams (which receive). A subscription can outlive a turn: a
/// SubscribeToTask on an input-required task keeps receiving when the next
/// turn starts.
pub(super) struct TaskChannel {
    pub(super) task_id: String,
    /// Created by the first subscriber: most tasks are awaited by a
    /// blocking send (through `LiveTask::settled`) and never streamed, and
    /// a broadcast ring is the largest allocation of a task. Events sent
    /// before it exists have no receiver to miss them; every stream reads
    /// the store after subscribing.
    sender: OnceLock<broadcast::Sender<SequencedEvent>>,
    capacity: usize,
    manager: Weak<Inner>,
    /// The highest sequence number sent on this channel.
    pub(super) last_sent: AtomicU64,
    /// The highest sequence number a bus wake-up announced.
    pub(super) announced: AtomicU64,
    /// Wakes the channel's bridge (shared bus only).
    pub(super) wake: Arc<Notify>,
}

impl TaskChannel {
    pub(super) fn send(&self, event: SequencedEvent) {
        if let Some(seq) = event.seq {
            self.last_sent.fetch_max(seq, Ordering::SeqCst);
        }
        if let Some(sender) = self.sender.get() {
            let _ = sender.send(event);
        }
    }

    /// A receiver of the events sent from now on.
    pub(super) fn subscribe(&self) -> broadcast::Receiver<SequencedEvent> {
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

impl TaskManager {
    /// The live channel of a task, created if no one holds it.
    pub(super) fn channel(&self, task_id: &str) -> Arc<TaskChannel> {
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
}
