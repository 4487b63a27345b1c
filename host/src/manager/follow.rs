//! Following a task: the stream of its events ([`Follow`]), live from its
//! channel and caught up from the store's log, and the waits built on it
//! (a blocking send, a repeated message).

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::{broadcast, watch};

use crate::error::A2aError;
use crate::model::{
    Message, SendMessageResponse, StreamResponse, Task, TaskState, TaskStatusUpdateEvent,
};
use crate::store::{Store, StoredTask};

use super::channel::{EventStream, SequencedEvent, TaskChannel};
use super::turn::Settled;
use super::{TaskManager, resting};

impl TaskManager {
    /// A repeated message: answer with the task it already created, waiting
    /// like a fresh blocking send would if that task is still running here.
    pub(super) async fn settle_existing(
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

    /// Waits (up to the blocking timeout) on a task's channel until the
    /// task rests or answers with a direct message, which is returned.
    pub(super) async fn wait_resting(
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

    /// The stream for a repeated streaming send: the task as it is, then
    /// its live events if it is still running.
    pub(super) async fn stream_existing(
        &self,
        stored: StoredTask,
    ) -> Result<EventStream, A2aError> {
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
    pub(super) fn follow(
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
pub(super) struct Follow {
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
    pub(super) refill: bool,
    /// What is pending is all there is: the turn is over, or the last
    /// event went out.
    end_when_drained: bool,
}

impl Follow {
    /// A plain stream, polled by whoever reads it (an SSE body, a blocking
    /// send's wait): no task or channel of its own in between.
    pub(super) fn into_stream(self) -> EventStream {
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
