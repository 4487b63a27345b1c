//! [`TaskEventStream`]: the events of a streaming call, resumed across
//! dropped connections with `Last-Event-ID`, each delivered once.

use std::collections::{HashSet, VecDeque};

use futures::Stream;

use super::error::ClientError;
use super::sse::SseReader;
use super::transport::{Answer, Framing, Op, decode, decode_event, message_is_resendable};
use super::{A2aClient, RoundError};
use crate::error::A2aError;
use crate::model::{GetTaskRequest, SendMessageRequest, StreamResponse, SubscribeToTaskRequest};

/// One event of a task stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    /// The SSE `id:` the event came with (on this host, its sequence
    /// number in the task's event log).
    pub id: Option<String>,
    /// The event itself.
    pub event: StreamResponse,
}

impl StreamEvent {
    /// The id as a sequence number, if it is one.
    pub fn seq(&self) -> Option<u64> {
        self.id.as_deref().and_then(|s| s.trim().parse().ok())
    }
}

/// What opened the stream, so it can be reopened.
pub(crate) enum Origin {
    Send(Box<SendMessageRequest>),
    Subscribe(SubscribeToTaskRequest, Option<String>),
}

/// The events of SendStreamingMessage or SubscribeToTask.
///
/// Read it with [`TaskEventStream::next`] (or turn it into a `Stream` with
/// [`TaskEventStream::into_stream`]). It ends (`None`) after the event that
/// puts the task in a terminal or interrupted state, or after a direct
/// message. A dropped connection is resumed transparently (see the module
/// docs of [`crate::client`]); only when that fails, or the agent sends an
/// error, does `next` yield an `Err`, after which the stream is over.
pub struct TaskEventStream {
    client: A2aClient,
    conn: Option<(Framing, SseReader)>,
    /// Events to hand out before reading the connection again.
    pending: VecDeque<StreamEvent>,
    /// The message that opened the stream, while it may still be resent
    /// (before the task id is known, and only if resendable).
    resend: Option<SendMessageRequest>,
    task_id: Option<String>,
    tenant: Option<String>,
    last_id: Option<String>,
    /// Non-numeric ids seen (numeric ones are compared with `last_id`).
    seen: HashSet<String>,
    done: bool,
    /// Failed (re)connects since the last event.
    failures: u32,
    reconnects: u32,
    /// Why the connection was last lost.
    problem: String,
}

impl std::fmt::Debug for TaskEventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskEventStream")
            .field("task_id", &self.task_id)
            .field("last_event_id", &self.last_id)
            .field("reconnects", &self.reconnects)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl TaskEventStream {
    pub(crate) fn open(
        client: A2aClient,
        answer: Answer,
        origin: Origin,
    ) -> Result<TaskEventStream, ClientError> {
        let (resend, task_id, tenant, last_id) = match origin {
            Origin::Send(req) => {
                let tenant = req.tenant.clone();
                (
                    message_is_resendable(&req).then_some(*req),
                    None,
                    tenant,
                    None,
                )
            }
            Origin::Subscribe(req, last) => (None, Some(req.id), req.tenant, last),
        };
        let mut s = TaskEventStream {
            client,
            conn: None,
            pending: VecDeque::new(),
            resend,
            task_id,
            tenant,
            last_id,
            seen: HashSet::new(),
            done: false,
            failures: 0,
            reconnects: 0,
            problem: String::new(),
        };
        s.install(answer)?;
        Ok(s)
    }

    /// The task's id, once known.
    pub fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }

    /// The SSE id of the last event received.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// How many times the stream was resumed after losing its connection.
    pub fn reconnects(&self) -> u32 {
        self.reconnects
    }

    /// The stream as a `futures::Stream`.
    pub fn into_stream(self) -> impl Stream<Item = Result<StreamEvent, ClientError>> + Send {
        futures::stream::unfold(self, |mut s| async move {
            let item = s.next().await?;
            Some((item, s))
        })
    }

    /// The next event, `None` once the stream is over.
    pub async fn next(&mut self) -> Option<Result<StreamEvent, ClientError>> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                if let Some(ev) = self.accept(ev) {
                    return Some(Ok(ev));
                }
                continue;
            }
            if self.done {
                return None;
            }
            let idle = self.client.config().stream_idle_timeout;
            let Some((framing, reader)) = self.conn.as_mut() else {
                if let Err(e) = self.reconnect().await {
                    self.done = true;
                    return Some(Err(e));
                }
                continue;
            };
            let framing = *framing;
            match reader.next(idle).await {
                Some(Ok(sse)) => {
                    let source = self.source();
                    let event = match decode_event(framing, &source, &sse.data) {
                        Ok(event) => event,
                        Err(e) => {
                            self.done = true;
                            self.conn = None;
                            return Some(Err(e));
                        }
                    };
                    let id = sse.id.filter(|s| !s.trim().is_empty());
                    if let Some(ev) = self.accept(StreamEvent { id, event }) {
                        return Some(Ok(ev));
                    }
                }
                Some(Err(e)) => self.lost(format!("the stream broke: {e}")),
                None => self.lost(
                    "the server closed the stream before the task reached a final state".into(),
                ),
            }
        }
    }

    fn source(&self) -> String {
        match &self.task_id {
            Some(t) => format!("the event stream of task {t}"),
            None => "the event stream".to_string(),
        }
    }

    fn lost(&mut self, why: String) {
        tracing::debug!(task = ?self.task_id, last_event_id = ?self.last_id, "{why}");
        self.problem = why;
        self.conn = None;
    }

    /// Records an event; `None` if it is a repeat of one already delivered.
    fn accept(&mut self, ev: StreamEvent) -> Option<StreamEvent> {
        if let Some(id) = &ev.id {
            match (
                ev.seq(),
                self.last_id.as_deref().and_then(|l| l.parse::<u64>().ok()),
            ) {
                (Some(seq), Some(last)) if seq <= last => return None,
                (None, _) if !self.seen.insert(id.clone()) => return None,
                _ => {}
            }
            self.last_id = Some(id.clone());
        }
        if self.task_id.is_none() {
            self.task_id = match &ev.event {
                StreamResponse::Task(t) => Some(t.id.clone()),
                StreamResponse::StatusUpdate(s) => Some(s.task_id.clone()),
                StreamResponse::ArtifactUpdate(a) => Some(a.task_id.clone()),
                StreamResponse::Message(m) => m.task_id.clone(),
            }
            .filter(|t| !t.is_empty());
        }
        if self.task_id.is_some() {
            self.resend = None;
        }
        self.failures = 0;
        if ev.event.ends_stream() {
            self.done = true;
            self.conn = None;
        }
        Some(ev)
    }

    fn install(&mut self, answer: Answer) -> Result<(), ClientError> {
        match answer {
            Answer::Stream(framing, reader) => self.conn = Some((framing, reader)),
            Answer::Json(v) => {
                // A server may answer a streaming call with one plain result.
                let event: StreamResponse = decode(&self.source(), v)?;
                self.pending.push_back(StreamEvent { id: None, event });
            }
        }
        Ok(())
    }

    /// Opens a new connection: SubscribeToTask after the last event once
    /// the task is known, else the original message again (if resendable).
    async fn reconnect(&mut self) -> Result<(), ClientError> {
        let config = self.client.config().clone();
        loop {
            self.failures += 1;
            if self.failures > config.stream_reconnects {
                return Err(ClientError::StreamLost {
                    task_id: self.task_id.clone(),
                    message: format!(
                        "{}; gave up after {} reconnect attempts (last event id: {})",
                        self.problem,
                        config.stream_reconnects,
                        self.last_id.as_deref().unwrap_or("none")
                    ),
                });
            }
            tokio::time::sleep(config.retry.delay(self.failures, None)).await;
            let op = match (&self.task_id, &self.resend) {
                (Some(id), _) => Op::Subscribe(
                    SubscribeToTaskRequest {
                        id: id.clone(),
                        tenant: self.tenant.clone(),
                    },
                    self.last_id.clone(),
                ),
                (None, Some(req)) => Op::Stream(req.clone()),
                (None, None) => {
                    return Err(ClientError::StreamLost {
                        task_id: None,
                        message: format!(
                            "{} before the task was known, and the message cannot be resent \
                             safely (give it a contextId or taskId so that the server can \
                             recognise a repeat)",
                            self.problem
                        ),
                    });
                }
            };
            match self.client.try_endpoints(&op).await {
                Ok(answer) => {
                    self.reconnects += 1;
                    tracing::debug!(task = ?self.task_id, last_event_id = ?self.last_id, "stream resumed");
                    return self.install(answer);
                }
                Err(RoundError {
                    error, retryable, ..
                }) if retryable => {
                    self.problem = format!("{}; then: {error}", self.problem);
                    if self.problem.len() > 2_000 {
                        self.problem = error.to_string();
                    }
                }
                Err(RoundError { error, .. }) => return self.settle_refused(error).await,
            }
        }
    }

    /// A resubscribe was refused. If that is because the task has ended
    /// meanwhile (servers refuse to subscribe to a final task), end the
    /// stream with the task as it is; otherwise report the error.
    async fn settle_refused(&mut self, error: ClientError) -> Result<(), ClientError> {
        let Some(id) = self.task_id.clone() else {
            return Err(error);
        };
        if !matches!(error.a2a(), Some(A2aError::UnsupportedOperation(_))) {
            return Err(error);
        }
        let task = self
            .client
            .get_task(GetTaskRequest {
                id,
                history_length: None,
                tenant: self.tenant.clone(),
            })
            .await?;
        let event = StreamResponse::Task(task);
        if !event.ends_stream() {
            return Err(error);
        }
        self.pending.push_back(StreamEvent { id: None, event });
        Ok(())
    }
}
