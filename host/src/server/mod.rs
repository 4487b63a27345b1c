//! The HTTP surface: agent cards, the JSON-RPC and HTTP+JSON bindings, SSE.
//!
//! [`router`] builds an `axum::Router` over a [`TaskManager`]; [`serve`]
//! runs it on a listener with graceful shutdown. The router is embeddable:
//! another service can `.nest("/a2a", router)` or `.merge(router)` it, and the
//! URLs in the cards follow (see [`card`] for how the base URL is found).
//!
//! ## URL layout
//!
//! | Route | What |
//! |---|---|
//! | `GET /agents` | every agent and its status |
//! | `GET /healthz` | 200 while the process runs |
//! | `GET /readyz` | 200 while [`ServerHandle::is_ready`], else 503 |
//! | `GET /agents/NAME/.well-known/agent-card.json` | the agent's card |
//! | `POST /agents/NAME` (and `/agents/NAME/`) | JSON-RPC 2.0 |
//! | `/agents/NAME/message:send`, `…/tasks`, … | HTTP+JSON (the spec's REST binding) |
//! | `/agents/NAME/{tenant}/message:send`, … | the same, with a tenant |
//! | `/agents/NAME/v1/message:send`, `…/v1/tasks/{id}`, `…/v1/card`, … | A2A 0.3 HTTP+JSON, whatever the header |
//! | `GET /.well-known/agent-card.json`, `POST /`, `/message:send`, `/v1/…`, … | the **default agent** |
//!
//! ## Protocol versions
//!
//! Every route serves A2A 1.0 and 0.3, chosen per request by `A2A-Version`
//! (see [`version`]): `1.0` (any patch) is 1.0; no header, an empty one or
//! `0.3` is 0.3; anything else is VersionNotSupportedError listing the
//! versions served. The `/v1/…` HTTP+JSON routes are the 0.3 REST binding
//! and always speak 0.3. The 0.3 shapes are converted at the binding edge
//! ([`v03`]); the task manager sees only the 1.0 model.
//! Cards carry the 0.3 members beside the 1.0 ones unless the card request
//! says `A2A-Version: 1.0` (see [`card`]).
//!
//! The default agent is [`ServerConfig::default_agent`], or the only agent
//! when exactly one is served; otherwise the root routes answer 404 with a
//! message that lists the agents. Every route also accepts a trailing `/`.
//! At the root, a tenant can not be called `agents` (that path is taken), and
//! nowhere can one be called `v1` (the 0.3 routes).
//!
//! Cards always advertise the canonical `{base}/agents/NAME` URLs for both
//! bindings, also when fetched from the root: they work however the router is
//! mounted (`nest` cannot serve `{prefix}/` for a nested `/`).
//!
//! ## Errors outside the protocol
//!
//! An unknown agent is [`A2aError::AgentNotFound`]: HTTP 404 on both
//! bindings (JSON-RPC: a JSON-RPC error body with code -32601 and reason
//! `AGENT_NOT_FOUND`). An agent whose only version failed to load answers
//! 503 (`UNAVAILABLE`). A body over [`ServerConfig::max_body_bytes`] answers
//! 413 on both bindings. Other JSON-RPC errors are HTTP 200.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, RawPathParams, State};
use axum::http::{StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use crate::error::A2aError;
use crate::manager::TaskManager;
use crate::registry::LoadedAgent;

pub mod card;
mod http_util;
pub mod jsonrpc;
pub mod rest;
mod sse;
pub mod v03;
pub mod version;

pub use version::{RequestMeta, Version};

/// The default cap on request bodies: 10 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// How long [`serve`] waits for open connections after shutdown begins.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Settings of the HTTP surface.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The externally visible URL of this router's root (scheme, host, and
    /// any mount prefix), e.g. `https://agents.example.com/a2a`. Cards use it
    /// as is. When unset, the base URL is derived per request from the
    /// forwarded headers (if trusted), the `Host` header, and the prefix the
    /// router is nested under.
    pub public_url: Option<String>,
    /// The agent the root routes (`/.well-known/agent-card.json`, `POST /`,
    /// `/message:send`, …) serve. When unset, the only agent if exactly one
    /// is served.
    pub default_agent: Option<String>,
    /// The largest request body accepted; larger ones get HTTP 413.
    pub max_body_bytes: usize,
    /// `Cache-Control: max-age` of agent cards, in seconds.
    pub card_max_age_secs: u64,
    /// How often an idle SSE stream sends a keep-alive comment.
    pub sse_keep_alive: Duration,
    /// Whether `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Forwarded-Prefix`
    /// and `Forwarded` are believed when building card URLs. Turn off when
    /// clients reach the host directly, not through a proxy.
    pub trust_forwarded_headers: bool,
    /// Whether agent cards carry the A2A 0.3 members (`url`,
    /// `preferredTransport`, `additionalInterfaces`, `protocolVersion`, …)
    /// beside the 1.0 ones, so that 0.3 clients can read them. A card request
    /// with `A2A-Version: 1.0` gets the plain 1.0 card either way. Turn off
    /// for validators that refuse members the 1.0 schema does not list.
    pub card_v03_members: bool,
    /// Readiness and shutdown control, shared with whoever runs the server.
    pub handle: ServerHandle,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            public_url: None,
            default_agent: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            card_max_age_secs: 300,
            sse_keep_alive: Duration::from_secs(15),
            trust_forwarded_headers: true,
            card_v03_members: true,
            handle: ServerHandle::new(),
        }
    }
}

/// Readiness and stream shutdown of a running router. Cheap to clone; all
/// clones share one state.
///
/// A new handle is ready. The owner of the process drives it:
///
/// ```no_run
/// # async fn run(manager: a2a_host::manager::TaskManager) -> std::io::Result<()> {
/// use a2a_host::server::{ServerConfig, ServerHandle, router, serve};
/// use std::time::Duration;
///
/// let handle = ServerHandle::new();
/// let app = router(manager.clone(), ServerConfig { handle: handle.clone(), ..Default::default() });
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let shutdown = async move {
///     let _ = tokio::signal::ctrl_c().await;
///     handle.set_ready(false);                      // /readyz -> 503
///     manager.drain(Duration::from_secs(30)).await; // running turns finish
///     handle.close_streams();                       // end the SSE streams still open
/// };
/// serve(listener, app, shutdown).await
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ServerHandle {
    inner: Arc<HandleInner>,
}

#[derive(Debug)]
struct HandleInner {
    ready: AtomicBool,
    streams: CancellationToken,
}

impl Default for ServerHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerHandle {
    /// A handle that reports ready.
    pub fn new() -> Self {
        ServerHandle {
            inner: Arc::new(HandleInner {
                ready: AtomicBool::new(true),
                streams: CancellationToken::new(),
            }),
        }
    }

    /// Set what `/readyz` reports: 200 when `true`, 503 when `false`.
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::SeqCst);
    }

    /// What `/readyz` reports.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst) && !self.inner.streams.is_cancelled()
    }

    /// End every open SSE stream (after its current event) and every stream
    /// opened from now on; marks the server not ready. Call it when shutting
    /// down, after draining the task manager: otherwise open streams keep
    /// their connections, and graceful shutdown waits for them.
    pub fn close_streams(&self) {
        self.set_ready(false);
        self.inner.streams.cancel();
    }

    /// Whether [`ServerHandle::close_streams`] was called.
    pub fn streams_closed(&self) -> bool {
        self.inner.streams.is_cancelled()
    }

    pub(crate) fn stream_token(&self) -> CancellationToken {
        self.inner.streams.clone()
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) manager: TaskManager,
    pub(crate) config: Arc<ServerConfig>,
}

/// Builds the router of the whole HTTP surface. See the module docs for the
/// URL layout. Requests are logged through `tracing` (tower-http
/// `TraceLayer`).
pub fn router(manager: TaskManager, config: ServerConfig) -> Router {
    router_with(manager, config, |a2a| a2a)
}

/// [`router`], with `wrap` applied to the A2A routes (agents, cards, the
/// bindings, the fallback) but not to `/healthz` and `/readyz`, so that an
/// embedder's layer (authentication, say) never blocks a probe.
pub fn router_with(
    manager: TaskManager,
    config: ServerConfig,
    wrap: impl FnOnce(Router) -> Router,
) -> Router {
    let app = App {
        manager,
        config: Arc::new(config),
    };
    let mut probes: Router<App> = Router::new();
    probes = add(probes, "/healthz", get(healthz));
    probes = add(probes, "/readyz", get(readyz));
    let mut r: Router<App> = Router::new();
    r = add(r, "/agents", get(list_agents));
    // JSON-RPC: the agent URL itself, and the root for the default agent.
    r = add(r, "/agents/{agent}", post(jsonrpc::handle));
    r = add(r, "/", post(jsonrpc::handle));
    // Cards.
    r = add(
        r,
        "/agents/{agent}/.well-known/agent-card.json",
        get(card::handle),
    );
    r = add(r, "/.well-known/agent-card.json", get(card::handle));
    // HTTP+JSON, per agent and at the root, each with an optional tenant.
    for prefix in [
        "/agents/{agent}",
        "/agents/{agent}/{tenant}",
        "",
        "/{tenant}",
    ] {
        r = rest::routes(r, prefix);
    }
    // A2A 0.3 HTTP+JSON under `/v1`, per agent and at the root.
    for prefix in ["/agents/{agent}/v1", "/v1"] {
        r = rest::v03_routes(r, prefix);
    }
    let a2a = r
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app.clone());
    wrap(a2a)
        .merge(
            probes
                .method_not_allowed_fallback(method_not_allowed)
                .with_state(app),
        )
        .layer(TraceLayer::new_for_http())
}

/// Adds `path` and `path/` (the trailing-slash form) to the router.
fn add(r: Router<App>, path: &str, route: MethodRouter<App>) -> Router<App> {
    if path == "/" {
        return r.route(path, route);
    }
    r.route(path, route.clone())
        .route(&format!("{path}/"), route)
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting connections and waits up to [`DEFAULT_SHUTDOWN_GRACE`] for the
/// open ones to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_grace(listener, router, shutdown, DEFAULT_SHUTDOWN_GRACE).await
}

/// [`serve`] with an explicit limit on how long open connections may take
/// to finish after `shutdown` resolves.
pub async fn serve_with_grace(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = tx.send(true);
    };
    // Without TCP_NODELAY a streamed event waits for the client's delayed
    // ACK (~40 ms) behind the response headers.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let server = server.into_future();
    tokio::pin!(server);
    let mut rx = rx;
    tokio::select! {
        res = &mut server => return res,
        _ = rx.wait_for(|v| *v) => {}
    }
    match tokio::time::timeout(grace, server).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(
                grace_secs = grace.as_secs_f64(),
                "connections still open after the shutdown grace period; closing them"
            );
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------
// Errors as the bindings render them

/// An [`A2aError`] with an optional, more helpful message for the client,
/// and optional extra ErrorInfo metadata.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) error: A2aError,
    message: Option<String>,
    info: Vec<(String, String)>,
}

impl ApiError {
    pub(crate) fn new(error: A2aError) -> Self {
        ApiError {
            error,
            message: None,
            info: Vec::new(),
        }
    }

    /// Adds `key: value` to the ErrorInfo metadata.
    pub(crate) fn with_info(mut self, key: &str, value: impl Into<String>) -> Self {
        self.info.push((key.to_string(), value.into()));
        self
    }

    /// Puts the extra ErrorInfo metadata into a details array.
    fn add_info(&self, details: Option<&mut Value>) {
        let Some(Value::Array(details)) = details else {
            return;
        };
        for d in details.iter_mut() {
            if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
                && let Some(Value::Object(meta)) = d.get_mut("metadata")
            {
                for (k, v) in &self.info {
                    meta.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
    }

    /// Replaces the message the client sees (code and reason stay).
    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub(crate) fn message(&self) -> String {
        self.message
            .clone()
            .unwrap_or_else(|| self.error.to_string())
    }

    /// The JSON-RPC `error` member.
    pub(crate) fn jsonrpc_error(&self) -> Value {
        let mut v = self.error.to_jsonrpc_error();
        v["message"] = Value::String(self.message());
        self.add_info(v.get_mut("data"));
        v
    }

    /// The HTTP+JSON error body.
    pub(crate) fn rest_body(&self) -> Value {
        let mut v = self.error.to_rest_body();
        v["error"]["message"] = Value::String(self.message());
        self.add_info(v["error"].get_mut("details"));
        v
    }

    pub(crate) fn http_status(&self) -> StatusCode {
        StatusCode::from_u16(self.error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<A2aError> for ApiError {
    fn from(error: A2aError) -> Self {
        ApiError::new(error)
    }
}

// ---------------------------------------------------------------------------
// Which agent a request is for

/// The path parameters of the matched route (`agent`, `tenant`, `id`,
/// `config`), percent-decoded. Routes without parameters give an empty map.
pub(crate) struct PathArgs(pub(crate) HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for PathArgs {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::RawPathParamsRejection;
        match RawPathParams::from_request_parts(parts, state).await {
            Ok(raw) => Ok(PathArgs(
                raw.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )),
            Err(RawPathParamsRejection::MissingPathParams(_)) => Ok(PathArgs(HashMap::new())),
            Err(e) => {
                let err = ApiError::new(A2aError::invalid(format!("bad URL path: {e}")));
                Err(http_util::rest_error(&parts.headers, &err))
            }
        }
    }
}

impl PathArgs {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// The agent a request addresses: its name and current version.
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) agent: LoadedAgent,
}

impl Target {
    /// SendStreamingMessage and SubscribeToTask need `capabilities.streaming`
    /// (the card says what the agent's info says); otherwise they are an
    /// unsupported operation.
    pub(crate) fn require_streaming(&self) -> Result<(), ApiError> {
        if self.agent.info.streaming {
            Ok(())
        } else {
            Err(ApiError::new(A2aError::UnsupportedOperation(format!(
                "agent `{}` does not support streaming (capabilities.streaming is false)",
                self.name
            ))))
        }
    }
}

impl App {
    /// Resolves the agent of a request: the `{agent}` path segment, or the
    /// default agent on the root routes.
    pub(crate) fn resolve(&self, path: &PathArgs) -> Result<Target, ApiError> {
        match path.get("agent") {
            Some(name) => self.named(name).map(|agent| Target {
                name: name.to_string(),
                agent,
            }),
            None => self
                .default_agent()
                .map(|(name, agent)| Target { name, agent }),
        }
    }

    fn named(&self, name: &str) -> Result<LoadedAgent, ApiError> {
        let registry = self.manager.registry();
        if let Some(agent) = registry.get(name) {
            return Ok(agent);
        }
        if let Some(status) = registry.statuses().into_iter().find(|s| s.name == name) {
            let why = status.error.unwrap_or_else(|| "it is not loaded".into());
            return Err(ApiError::new(A2aError::Unavailable(format!(
                "agent `{name}` is not serving: {why}"
            ))));
        }
        Err(
            ApiError::new(A2aError::AgentNotFound(name.to_string())).with_message(format!(
                "no agent named `{name}` is served here; {}",
                self.agents_hint()
            )),
        )
    }

    fn default_agent(&self) -> Result<(String, LoadedAgent), ApiError> {
        if let Some(name) = &self.config.default_agent {
            return self.named(name).map(|a| (name.clone(), a)).map_err(|e| {
                let msg = format!("the default agent: {}", e.message());
                e.with_message(msg)
            });
        }
        let names = self.manager.registry().names();
        if let [only] = names.as_slice()
            && let Some(agent) = self.manager.registry().get(only)
        {
            return Ok((only.clone(), agent));
        }
        Err(
            ApiError::new(A2aError::AgentNotFound("(default)".into())).with_message(format!(
                "this host has no default agent: {}; address one as /agents/NAME/…",
                self.agents_hint()
            )),
        )
    }

    fn agents_hint(&self) -> String {
        let names = self.manager.registry().names();
        if names.is_empty() {
            "no agents are served".to_string()
        } else {
            format!("the agents served are: {}", names.join(", "))
        }
    }
}

// ---------------------------------------------------------------------------
// Operational routes

async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
}

async fn readyz(State(app): State<App>) -> Response {
    let agents = app.manager.registry().names().len();
    if app.config.handle.is_ready() {
        (
            StatusCode::OK,
            axum::Json(json!({"status": "ready", "agents": agents})),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "draining", "agents": agents})),
        )
            .into_response()
    }
}

/// `GET /agents`: every known agent with its status and its URLs.
async fn list_agents(State(app): State<App>, parts: Parts) -> Response {
    let base = card::base_url(&app.config, &parts);
    // Notifications waiting and dead-lettered, per agent; a store error
    // leaves them out rather than failing the listing.
    let push = if app.manager.push_enabled() {
        match app.manager.store().push_counts().await {
            Ok(counts) => Some(counts),
            Err(e) => {
                tracing::warn!("GET /agents: cannot count push notifications: {e}");
                None
            }
        }
    } else {
        None
    };
    let agents: Vec<Value> = app
        .manager
        .registry()
        .statuses()
        .into_iter()
        .map(|s| {
            let url = card::agent_url(&base, &s.name);
            let mut v = serde_json::to_value(&s).unwrap_or_else(|_| json!({"name": s.name}));
            v["url"] = Value::String(url.clone());
            v["cardUrl"] = Value::String(format!("{url}/.well-known/agent-card.json"));
            if let Some(counts) = &push {
                let c = counts.iter().find(|c| c.agent == s.name);
                v["pushPending"] = json!(c.map_or(0, |c| c.pending));
                v["pushDead"] = json!(c.map_or(0, |c| c.dead));
            }
            v
        })
        .collect();
    let default = app.default_agent().ok().map(|(n, _)| n);
    (
        StatusCode::OK,
        axum::Json(json!({"agents": agents, "defaultAgent": default})),
    )
        .into_response()
}

async fn not_found(parts: Parts) -> Response {
    let err = ApiError::new(A2aError::MethodNotFound(format!(
        "{} {}",
        parts.method,
        parts.uri.path()
    )))
    .with_message(format!(
        "no route for {} {}; see GET /agents for the agents served",
        parts.method,
        parts.uri.path()
    ));
    http_util::rest_error(&parts.headers, &err)
}

async fn method_not_allowed(parts: Parts) -> Response {
    let msg = format!("{} is not allowed on {}", parts.method, parts.uri.path());
    let body = json!({"error": {
        "code": 405,
        "status": "UNIMPLEMENTED",
        "message": msg,
        "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "METHOD_NOT_ALLOWED",
            "domain": crate::error::ERROR_DOMAIN,
            "metadata": {},
        }],
    }});
    let ct = http_util::response_media_type(&parts.headers);
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(http::header::CONTENT_TYPE, ct)],
        body.to_string(),
    )
        .into_response()
}
