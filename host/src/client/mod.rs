//! An A2A 1.0 client: discovery through the agent card, both bindings
//! (JSON-RPC and HTTP+JSON), retries, and streams that survive dropped
//! connections. `a2a-host call` ([`cli`]) is built on it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), a2a_host::client::ClientError> {
//! use a2a_host::client::{A2aClient, ClientConfig};
//! use a2a_host::model::{Message, SendMessageRequest};
//!
//! let client = A2aClient::connect("http://localhost:8080/agents/echo", ClientConfig::default()).await?;
//! let mut message = Message::user_text("hello");
//! message.context_id = Some(uuid::Uuid::new_v4().to_string()); // makes the send retry-safe
//! let mut stream = client
//!     .send_streaming_message(SendMessageRequest { message, ..Default::default() })
//!     .await?;
//! while let Some(event) = stream.next().await {
//!     println!("{:?}", event?.event);
//! }
//! # Ok(()) }
//! ```
//!
//! ## Discovery and bindings
//! [`A2aClient::connect`] takes an agent URL (`http://host/agents/echo`), a
//! host root (`http://host`, its default agent) or a card URL (anything
//! ending in `.json`), fetches `…/.well-known/agent-card.json`, and keeps
//! the card's `supportedInterfaces` that it speaks (`JSONRPC`, `HTTP+JSON`;
//! protocol version 1.x), **in the card's order**, which is the agent's
//! order of preference. A call goes to the interface that last worked
//! (at first, the card's first). When an interface fails at the transport
//! level — no connection, a 404/405 that is not an A2A error, an unknown
//! method or agent, an unsupported protocol version, an answer that is not
//! A2A — the call moves on to the next interface, which then stays in use.
//!
//! ## Retries
//! Calls that are safe to repeat are retried with exponential backoff
//! ([`RetryPolicy`]) after connection errors, timeouts, broken connections
//! and HTTP 502/503/504 (honouring `Retry-After`): the card fetch, GetTask,
//! ListTasks, CancelTask, SubscribeToTask, and SendMessage /
//! SendStreamingMessage **when the message has a `messageId` and a
//! `contextId` or `taskId`** — servers deduplicate messages per context and
//! message id, so a repeat returns the task the first one created. A2A
//! errors are never retried.
//!
//! ## Streams
//! [`TaskEventStream`] yields the events of SendStreamingMessage or
//! SubscribeToTask. If the connection drops before the task reaches a
//! terminal or interrupted state, it resubscribes with `Last-Event-ID` set to
//! the SSE `id:` of the last event received (backing off between attempts,
//! up to [`ClientConfig::stream_reconnects`] in a row), and drops any event
//! it has already seen, so the caller sees every event exactly once. The
//! stream ends after the event that puts the task in a terminal or
//! interrupted state, or after a direct message.
//!
//! ## Push notifications
//! [`notification`] is for the other direction: a webhook receiving a
//! host's push notifications checks their signatures with
//! [`verify_notification`] against the host's JWK Set ([`fetch_jwks`]).
//! `a2a-host webhook` (`webhook`, feature `cli`) is such a receiver, for
//! trying push out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::A2aError;
use crate::model::{
    AgentCard, CancelTaskRequest, GetTaskRequest, ListTasksRequest, ListTasksResponse, Role,
    SendMessageRequest, SendMessageResponse, SubscribeToTaskRequest, Task, TaskState,
};

#[cfg(feature = "cli")]
pub mod cli;
pub mod error;
pub mod notification;
pub mod sse;
mod stream;
pub mod transport;
#[cfg(feature = "cli")]
pub mod webhook;

#[cfg(feature = "cli")]
pub use cli::{CallArgs, CallSummary, Secret, run_call, run_call_to};
pub use error::{ClientError, RemoteError};
pub use notification::{Jwks, VerifiedNotification, VerifyError, fetch_jwks, verify_notification};
pub use stream::{StreamEvent, TaskEventStream};
pub use transport::{Binding, Endpoint};
#[cfg(feature = "cli")]
pub use webhook::{WebhookArgs, run_webhook};

use transport::{Answer, Failure, Op, decode, exchange};

/// The path of the agent card below an agent's URL.
pub const CARD_PATH: &str = ".well-known/agent-card.json";

/// When and how often to retry.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (1 = no retries).
    pub max_attempts: u32,
    /// The delay before the first retry.
    pub initial_backoff: Duration,
    /// The longest delay between attempts (also caps `Retry-After`).
    pub max_backoff: Duration,
    /// How much the delay grows per attempt.
    pub multiplier: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            multiplier: 2.0,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        }
    }

    /// The delay after failed attempt number `attempt` (1-based):
    /// `initial × multiplier^(attempt-1)`, capped at `max_backoff`, with
    /// "equal jitter" (between half and all of it) so that many clients do
    /// not retry in step; at least `retry_after` (capped likewise).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .multiplier
            .max(1.0)
            .powi(attempt.saturating_sub(1).min(64) as i32);
        let base = self
            .initial_backoff
            .mul_f64(exp.min(1e9))
            .min(self.max_backoff);
        let jitter = (uuid::Uuid::new_v4().as_u128() % 1_000) as f64 / 1_000.0;
        let d = base / 2 + (base / 2).mul_f64(jitter);
        d.max(retry_after.unwrap_or_default().min(self.max_backoff))
    }
}

/// Settings of an [`A2aClient`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Retries of retry-safe calls (see the module docs).
    pub retry: RetryPolicy,
    /// How long establishing a connection may take.
    pub connect_timeout: Duration,
    /// How long a whole non-streaming call may take. A blocking SendMessage
    /// waits for the agent, so keep this above the server's blocking
    /// timeout.
    pub request_timeout: Duration,
    /// How long an open stream may stay silent (servers send keep-alive
    /// comments) before it counts as dropped and is resumed.
    pub stream_idle_timeout: Duration,
    /// How many reconnects in a row a stream attempts before giving up
    /// (the count restarts with each event received).
    pub stream_reconnects: u32,
    /// Use only this binding, even if the card offers others.
    pub binding: Option<Binding>,
    /// Extension URIs to request (`A2A-Extensions`).
    pub extensions: Vec<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(300),
            stream_idle_timeout: Duration::from_secs(60),
            stream_reconnects: 5,
            binding: None,
            extensions: Vec::new(),
        }
    }
}

/// A client of one agent. Cheap to clone; clones share the connection pool
/// and the choice of interface.
#[derive(Clone)]
pub struct A2aClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    card: Option<AgentCard>,
    card_url: Option<String>,
    endpoints: Vec<Endpoint>,
    /// Index into `endpoints` of the interface that last worked.
    active: AtomicUsize,
}

impl std::fmt::Debug for A2aClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("A2aClient")
            .field("card_url", &self.inner.card_url)
            .field("endpoints", &self.inner.endpoints)
            .field("active", &self.inner.active.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// One round over the interfaces failed.
pub(crate) struct RoundError {
    pub(crate) error: ClientError,
    /// Whether trying again later may help.
    pub(crate) retryable: bool,
    pub(crate) retry_after: Option<Duration>,
}

impl A2aClient {
    /// Discovers the agent at `url` through its card and returns a client
    /// for it. `url` is an agent URL, a host root, or a card URL (see the
    /// module docs).
    pub async fn connect(url: &str, config: ClientConfig) -> Result<A2aClient, ClientError> {
        let card_url = card_url_for(url)?;
        let http = http_client(&config)?;
        let card = fetch_card(&http, &config, &card_url).await?;
        A2aClient::build(http, config, card, card_url)
    }

    /// A client for an agent whose card is already known. Relative
    /// interface URLs are resolved against `card_url`.
    pub fn from_card(
        card: AgentCard,
        card_url: &str,
        config: ClientConfig,
    ) -> Result<A2aClient, ClientError> {
        let url = reqwest::Url::parse(card_url)
            .map_err(|e| ClientError::InvalidArgument(format!("`{card_url}` is not a URL: {e}")))?;
        let http = http_client(&config)?;
        A2aClient::build(http, config, card, url)
    }

    /// A client for one interface, without a card (no discovery, no
    /// fallback).
    pub fn for_endpoint(
        endpoint: Endpoint,
        config: ClientConfig,
    ) -> Result<A2aClient, ClientError> {
        let http = http_client(&config)?;
        let mut endpoint = endpoint;
        endpoint.url = endpoint.url.trim_end_matches('/').to_string();
        Ok(A2aClient {
            inner: Arc::new(Inner {
                http,
                config,
                card: None,
                card_url: None,
                endpoints: vec![endpoint],
                active: AtomicUsize::new(0),
            }),
        })
    }

    fn build(
        http: reqwest::Client,
        config: ClientConfig,
        card: AgentCard,
        card_url: reqwest::Url,
    ) -> Result<A2aClient, ClientError> {
        let endpoints = select_endpoints(&card, &card_url, config.binding)?;
        Ok(A2aClient {
            inner: Arc::new(Inner {
                http,
                config,
                card: Some(card),
                card_url: Some(card_url.to_string()),
                endpoints,
                active: AtomicUsize::new(0),
            }),
        })
    }

    /// The agent card, if the client was built from one.
    pub fn card(&self) -> Option<&AgentCard> {
        self.inner.card.as_ref()
    }

    /// Where the card was fetched from.
    pub fn card_url(&self) -> Option<&str> {
        self.inner.card_url.as_deref()
    }

    /// The usable interfaces, in order of preference.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.inner.endpoints
    }

    /// The interface calls go to now (the one that last worked).
    pub fn active_endpoint(&self) -> &Endpoint {
        &self.inner.endpoints[self.inner.active.load(Ordering::SeqCst)]
    }

    /// The client's settings.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Whether the card says the agent streams (`true` without a card).
    pub fn supports_streaming(&self) -> bool {
        self.card()
            .is_none_or(|c| c.capabilities.streaming.unwrap_or(false))
    }

    // -----------------------------------------------------------------------
    // Operations

    /// SendMessage. A missing `messageId` is filled in and the role set to
    /// user. Retried only when the message is resendable (module docs).
    pub async fn send_message(
        &self,
        req: SendMessageRequest,
    ) -> Result<SendMessageResponse, ClientError> {
        let req = prepare_message(req)?;
        let v = self.call_json(&Op::Send(req)).await?;
        decode("SendMessage result", v)
    }

    /// SendStreamingMessage: the task's events as they happen. See
    /// [`TaskEventStream`] for reconnects.
    pub async fn send_streaming_message(
        &self,
        req: SendMessageRequest,
    ) -> Result<TaskEventStream, ClientError> {
        let req = prepare_message(req)?;
        let op = Op::Stream(req.clone());
        let (answer, _) = self.call(&op).await?;
        TaskEventStream::open(self.clone(), answer, stream::Origin::Send(Box::new(req)))
    }

    /// GetTask.
    pub async fn get_task(&self, req: GetTaskRequest) -> Result<Task, ClientError> {
        require_id(&req.id)?;
        let v = self.call_json(&Op::Get(req)).await?;
        decode("GetTask result", v)
    }

    /// ListTasks.
    pub async fn list_tasks(
        &self,
        req: ListTasksRequest,
    ) -> Result<ListTasksResponse, ClientError> {
        let v = self.call_json(&Op::List(req)).await?;
        decode("ListTasks result", v)
    }

    /// CancelTask. If a retry finds the task already canceled (the first
    /// attempt went through but its answer was lost), returns the task.
    pub async fn cancel_task(&self, req: CancelTaskRequest) -> Result<Task, ClientError> {
        require_id(&req.id)?;
        let id = req.id.clone();
        let tenant = req.tenant.clone();
        match self.call(&Op::Cancel(req)).await {
            Ok((answer, _)) => decode("CancelTask result", answer_json(answer)?),
            Err(e) if e.attempts > 1 && matches!(e.a2a(), Some(A2aError::TaskNotCancelable(_))) => {
                let task = self
                    .get_task(GetTaskRequest {
                        id,
                        history_length: None,
                        tenant,
                    })
                    .await?;
                if task.status.state == TaskState::Canceled {
                    Ok(task)
                } else {
                    Err(e.error)
                }
            }
            Err(e) => Err(e.error),
        }
    }

    /// SubscribeToTask: the current task, then its events.
    pub async fn subscribe(
        &self,
        req: SubscribeToTaskRequest,
    ) -> Result<TaskEventStream, ClientError> {
        self.subscribe_after(req, None).await
    }

    /// SubscribeToTask resuming after the event with SSE id
    /// `last_event_id`: the events after it, without the task snapshot.
    /// `Some("0")` replays a task's whole event log (on this host).
    pub async fn subscribe_after(
        &self,
        req: SubscribeToTaskRequest,
        last_event_id: Option<&str>,
    ) -> Result<TaskEventStream, ClientError> {
        require_id(&req.id)?;
        let last = last_event_id.map(str::to_string);
        let (answer, _) = self.call(&Op::Subscribe(req.clone(), last.clone())).await?;
        TaskEventStream::open(self.clone(), answer, stream::Origin::Subscribe(req, last))
    }

    // -----------------------------------------------------------------------
    // The retry and fallback loop

    async fn call_json(&self, op: &Op) -> Result<serde_json::Value, ClientError> {
        let (answer, _) = self.call(op).await?;
        answer_json(answer)
    }

    /// Runs `op`, falling back across interfaces and retrying (when the
    /// operation is retry-safe) per the policy. Returns how many attempts
    /// it took.
    pub(crate) async fn call(&self, op: &Op) -> Result<(Answer, u32), CallError> {
        let policy = &self.inner.config.retry;
        let may_retry = op.retry_safe();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_endpoints(op).await {
                Ok(answer) => return Ok((answer, attempt)),
                Err(round) => {
                    if !round.retryable || !may_retry || attempt >= policy.max_attempts.max(1) {
                        return Err(CallError {
                            error: with_attempts(round.error, attempt),
                            attempts: attempt,
                        });
                    }
                    let delay = policy.delay(attempt, round.retry_after);
                    tracing::debug!(
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %round.error,
                        "A2A call failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One attempt: the active interface, then the others in card order.
    pub(crate) async fn try_endpoints(&self, op: &Op) -> Result<Answer, RoundError> {
        let endpoints = &self.inner.endpoints;
        let start = self.inner.active.load(Ordering::SeqCst);
        let order = std::iter::once(start).chain((0..endpoints.len()).filter(|&i| i != start));
        let mut failed: Vec<(ClientError, bool)> = Vec::new();
        for idx in order {
            let ep = &endpoints[idx];
            match exchange(&self.inner.http, &self.inner.config, ep, op).await {
                Ok(answer) => {
                    if idx != start {
                        tracing::info!(interface = %ep, "falling back to another interface of the agent");
                        self.inner.active.store(idx, Ordering::SeqCst);
                    }
                    return Ok(answer);
                }
                Err(Failure::Fatal(error)) => {
                    return Err(RoundError {
                        error,
                        retryable: false,
                        retry_after: None,
                    });
                }
                Err(Failure::Transient(error, retry_after)) => {
                    return Err(RoundError {
                        error,
                        retryable: true,
                        retry_after,
                    });
                }
                Err(Failure::Unreachable(error)) => {
                    tracing::debug!(interface = %ep, %error, "interface unreachable");
                    failed.push((error, true));
                }
                Err(Failure::WrongEndpoint(error)) => {
                    tracing::debug!(interface = %ep, %error, "interface does not serve this call");
                    failed.push((error, false));
                }
            }
        }
        // Every interface failed. Report the agent's own answer if there
        // was one (it says the most), else the first failure.
        let retryable = failed.iter().any(|(_, r)| *r);
        let pick = failed
            .iter()
            .position(|(e, _)| matches!(e, ClientError::Agent(_)))
            .unwrap_or(0);
        let error = failed
            .into_iter()
            .nth(pick)
            .map(|(e, _)| e)
            .unwrap_or_else(|| ClientError::InvalidArgument("the agent has no interfaces".into()));
        Err(RoundError {
            error,
            retryable,
            retry_after: None,
        })
    }
}

/// A failed call and how many attempts it made.
#[derive(Debug)]
pub(crate) struct CallError {
    pub(crate) error: ClientError,
    pub(crate) attempts: u32,
}

impl CallError {
    fn a2a(&self) -> Option<&A2aError> {
        self.error.a2a()
    }
}

impl From<CallError> for ClientError {
    fn from(e: CallError) -> Self {
        e.error
    }
}

fn answer_json(answer: Answer) -> Result<serde_json::Value, ClientError> {
    match answer {
        Answer::Json(v) => Ok(v),
        Answer::Stream(..) => Err(ClientError::InvalidResponse {
            url: "(non-streaming call)".into(),
            message: "the server answered with an event stream".into(),
        }),
    }
}

/// Notes the number of attempts in transport errors.
fn with_attempts(e: ClientError, attempts: u32) -> ClientError {
    if attempts < 2 {
        return e;
    }
    let note = |m: String| format!("{m} (gave up after {attempts} attempts)");
    match e {
        ClientError::Unreachable { url, message } => ClientError::Unreachable {
            url,
            message: note(message),
        },
        ClientError::Http {
            url,
            status,
            message,
        } => ClientError::Http {
            url,
            status,
            message: note(message),
        },
        ClientError::Agent(mut r) => {
            r.message = note(r.message);
            ClientError::Agent(r)
        }
        other => other,
    }
}

fn require_id(id: &str) -> Result<(), ClientError> {
    if id.trim().is_empty() {
        return Err(ClientError::InvalidArgument("the task id is empty".into()));
    }
    Ok(())
}

/// Fills in a message id and the user role.
fn prepare_message(mut req: SendMessageRequest) -> Result<SendMessageRequest, ClientError> {
    if req.message.parts.is_empty() {
        return Err(ClientError::InvalidArgument(
            "a message needs at least one part".into(),
        ));
    }
    if req.message.message_id.is_empty() {
        req.message.message_id = uuid::Uuid::new_v4().to_string();
    }
    if req.message.role == Role::Unspecified {
        req.message.role = Role::User;
    }
    Ok(req)
}

// ---------------------------------------------------------------------------
// Discovery

fn http_client(config: &ClientConfig) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .user_agent(concat!("a2a-host/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::InvalidArgument(format!("cannot build an HTTP client: {e}")))
}

/// The card URL for what the user gave: a card URL (`….json`) as is, else
/// `URL/.well-known/agent-card.json`.
pub fn card_url_for(url: &str) -> Result<reqwest::Url, ClientError> {
    let mut parsed = reqwest::Url::parse(url.trim()).map_err(|e| {
        ClientError::InvalidArgument(format!(
            "`{url}` is not a URL ({e}); give one like http://localhost:8080/agents/NAME"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ClientError::InvalidArgument(format!(
            "`{url}` is not an http(s) URL"
        )));
    }
    parsed.set_fragment(None);
    if parsed.path().ends_with(".json") {
        return Ok(parsed);
    }
    let path = format!("{}/{CARD_PATH}", parsed.path().trim_end_matches('/'));
    parsed.set_path(&path);
    parsed.set_query(None);
    Ok(parsed)
}

/// GETs the card, retrying transport failures per the policy.
async fn fetch_card(
    http: &reqwest::Client,
    config: &ClientConfig,
    url: &reqwest::Url,
) -> Result<AgentCard, ClientError> {
    let policy = &config.retry;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match fetch_card_once(http, config, url).await {
            Ok(card) => return Ok(card),
            Err((error, retry_after)) => {
                let retryable = retry_after.is_some();
                if !retryable || attempt >= policy.max_attempts.max(1) {
                    return Err(with_attempts(error, attempt));
                }
                tokio::time::sleep(policy.delay(attempt, retry_after.flatten())).await;
            }
        }
    }
}

/// One card fetch. On failure, `Some(retry_after)` means retryable.
async fn fetch_card_once(
    http: &reqwest::Client,
    config: &ClientConfig,
    url: &reqwest::Url,
) -> Result<AgentCard, (ClientError, Option<Option<Duration>>)> {
    let card_err = |message: String| ClientError::Card {
        url: url.to_string(),
        message,
    };
    let resp = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            crate::server::version::VERSION_HEADER,
            transport::PROTOCOL_VERSION,
        )
        .timeout(config.request_timeout)
        .send()
        .await
        .map_err(|e| {
            let err = ClientError::Unreachable {
                url: url.to_string(),
                message: error::chain(&e),
            };
            (err, (!e.is_builder()).then_some(None))
        })?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let bytes = resp.bytes().await.map_err(|e| {
        let err = ClientError::Unreachable {
            url: url.to_string(),
            message: format!(
                "the connection broke while reading the card: {}",
                error::chain(&e)
            ),
        };
        (err, Some(None))
    })?;
    let json: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    if !(200..300).contains(&status) {
        let server_says = json
            .as_ref()
            .and_then(|v| RemoteError::from_rest(v, Some(status)))
            .map(|e| format!(": {}", e.message))
            .unwrap_or_default();
        let err = card_err(format!(
            "HTTP {status}{server_says}{}",
            if status == 404 {
                "; is this the URL of an A2A agent (e.g. http://HOST/agents/NAME)?"
            } else {
                ""
            }
        ));
        let retryable = matches!(status, 502..=504).then_some(retry_after);
        return Err((err, retryable));
    }
    let Some(v) = json else {
        return Err((card_err("the card is not JSON".into()), None));
    };
    decode::<AgentCard>("agent card", v).map_err(|e| {
        let message = match e {
            ClientError::InvalidResponse { message, .. } => {
                format!("not a valid A2A 1.0 card: {message}")
            }
            other => other.to_string(),
        };
        (card_err(message), None)
    })
}

/// The card's interfaces this client speaks, in the card's order.
fn select_endpoints(
    card: &AgentCard,
    card_url: &reqwest::Url,
    only: Option<Binding>,
) -> Result<Vec<Endpoint>, ClientError> {
    let mut out: Vec<Endpoint> = Vec::new();
    for iface in &card.supported_interfaces {
        let Some(binding) = Binding::from_card_name(&iface.protocol_binding) else {
            continue;
        };
        if only.is_some_and(|b| b != binding) || !speaks_version(&iface.protocol_version) {
            continue;
        }
        let Ok(url) = card_url.join(iface.url.trim()) else {
            tracing::warn!(url = %iface.url, "skipping an interface whose URL does not parse");
            continue;
        };
        if !matches!(url.scheme(), "http" | "https") {
            continue;
        }
        let ep = Endpoint {
            binding,
            url: url.as_str().trim_end_matches('/').to_string(),
            tenant: iface.tenant.clone().filter(|t| !t.is_empty()),
        };
        if !out.contains(&ep) {
            out.push(ep);
        }
    }
    if out.is_empty() {
        let offered: Vec<String> = card
            .supported_interfaces
            .iter()
            .map(|i| {
                format!(
                    "{} {} (version {})",
                    i.protocol_binding, i.url, i.protocol_version
                )
            })
            .collect();
        let wanted = match only {
            Some(b) => format!("a {b} interface"),
            None => "a JSONRPC or HTTP+JSON interface".to_string(),
        };
        return Err(ClientError::Card {
            url: card_url.to_string(),
            message: format!(
                "the card offers no {wanted} for A2A 1.x; it lists: {}",
                if offered.is_empty() {
                    "nothing".to_string()
                } else {
                    offered.join(", ")
                }
            ),
        });
    }
    Ok(out)
}

/// Whether an interface's `protocolVersion` is one this client speaks
/// (1.x; an empty value is taken to mean the current version).
fn speaks_version(v: &str) -> bool {
    let v = v.trim();
    v.is_empty() || v == "1" || v.starts_with("1.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AgentInterface;

    #[test]
    fn card_urls_follow_the_well_known_path() {
        let u = |s: &str| card_url_for(s).unwrap().to_string();
        assert_eq!(
            u("http://h:1/agents/echo"),
            "http://h:1/agents/echo/.well-known/agent-card.json"
        );
        assert_eq!(u("http://h:1/agents/echo/"), u("http://h:1/agents/echo"));
        assert_eq!(u("http://h:1"), "http://h:1/.well-known/agent-card.json");
        assert_eq!(u("http://h:1/x/card.json"), "http://h:1/x/card.json");
        assert!(card_url_for("localhost:8080").is_err());
        assert!(card_url_for("ftp://h/").is_err());
        assert!(card_url_for("not a url").is_err());
    }

    #[test]
    fn interfaces_keep_card_order_and_skip_what_is_not_spoken() {
        let iface = |url: &str, binding: &str, version: &str| AgentInterface {
            url: url.into(),
            protocol_binding: binding.into(),
            tenant: None,
            protocol_version: version.into(),
        };
        let card = AgentCard {
            supported_interfaces: vec![
                iface("http://a/grpc", "GRPC", "1.0"),
                iface("http://a/rest/", "HTTP+JSON", "1.0"),
                iface("http://a/old", "JSONRPC", "0.3"),
                iface("/rpc", "JSONRPC", "1.0.1"),
            ],
            ..Default::default()
        };
        let base = reqwest::Url::parse("http://a/agents/x/.well-known/agent-card.json").unwrap();
        let eps = select_endpoints(&card, &base, None).unwrap();
        assert_eq!(
            eps.iter()
                .map(|e| (e.binding, e.url.as_str()))
                .collect::<Vec<_>>(),
            [
                (Binding::HttpJson, "http://a/rest"),
                (Binding::JsonRpc, "http://a/rpc")
            ]
        );
        let only = select_endpoints(&card, &base, Some(Binding::JsonRpc)).unwrap();
        assert_eq!(only.len(), 1);
        let none = AgentCard {
            supported_interfaces: vec![iface("http://a/grpc", "GRPC", "1.0")],
            ..Default::default()
        };
        let err = select_endpoints(&none, &base, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("GRPC http://a/grpc"), "{err}");
    }

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            multiplier: 2.0,
        };
        for _ in 0..20 {
            let d1 = p.delay(1, None);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.delay(3, None);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            assert!(p.delay(30, None) <= Duration::from_secs(1));
            assert!(p.delay(1, Some(Duration::from_millis(700))) >= Duration::from_millis(700));
            assert_eq!(
                p.delay(1, Some(Duration::from_secs(60))),
                Duration::from_secs(1)
            );
        }
    }
}
