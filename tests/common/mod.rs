//! Test harness for the HTTP surface: a real server on 127.0.0.1:0 over a
//! [`TaskManager`] with a [`MemoryStore`], native test agents, a reqwest
//! client, and an SSE reader.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use a2a_host::agent::{Agent, AgentError, AgentInfo, TaskContext};
use a2a_host::manager::{ManagerConfig, TaskManager};
use a2a_host::model::{Artifact, Part};
use a2a_host::registry::{AgentRegistry, LoadedAgent};
use a2a_host::server::{ServerConfig, ServerHandle, router, serve};
use a2a_host::store::memory::MemoryStore;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// How long any single network step of a test may take.
pub const STEP: Duration = Duration::from_secs(10);

/// A native agent that acts on the first word of the message text:
///
/// | word | behaviour |
/// |---|---|
/// | `input` | asks for input (task becomes INPUT_REQUIRED) |
/// | `auth` | asks for auth (AUTH_REQUIRED) |
/// | `artifact` | emits a text artifact "generated", completes |
/// | `stream N` | N × (status "step i", artifact chunk "wi "), 20 ms apart, completes |
/// | `slow MS` | status, sleeps MS, artifact, sleeps MS, completes |
/// | `tick N MS` | N × (sleep MS, status "tick i"), completes |
/// | `sleep` | status "sleeping", then waits until canceled |
/// | `reply` | answers with a direct message "direct reply" |
/// | `fail` | fails the task ("asked to fail") |
/// | `reject` | rejects the task |
/// | anything else | completes with the message "done: TEXT" |
pub struct TestAgent {
    pub name: String,
    pub streaming: bool,
}

impl TestAgent {
    pub fn arc(name: &str) -> Arc<dyn Agent> {
        Arc::new(TestAgent {
            name: name.to_string(),
            streaming: true,
        })
    }

    /// An agent whose card says `streaming: false`.
    pub fn non_streaming(name: &str) -> Arc<dyn Agent> {
        Arc::new(TestAgent {
            name: name.to_string(),
            streaming: false,
        })
    }
}

#[async_trait::async_trait]
impl Agent for TestAgent {
    fn info(&self) -> AgentInfo {
        let mut info = AgentInfo::new(&self.name, "protocol test agent");
        info.version = "1.2.3".into();
        info.streaming = self.streaming;
        info
    }

    async fn handle(&self, ctx: TaskContext) -> Result<(), AgentError> {
        let text = ctx.text();
        let (cmd, rest) = text.split_once(' ').unwrap_or((&text, ""));
        match cmd {
            "input" => ctx.request_input(vec![Part::text("more please")]).await?,
            "auth" => {
                ctx.request_auth(vec![Part::text("credentials please")])
                    .await?
            }
            "artifact" => {
                let a = Artifact {
                    artifact_id: "a1".into(),
                    name: Some("result".into()),
                    parts: vec![Part::text("generated")],
                    ..Default::default()
                };
                ctx.emit_artifact(a, false, true).await?;
                ctx.complete(None).await?;
            }
            "stream" => {
                let n: usize = rest.trim().parse().unwrap_or(3);
                for i in 0..n {
                    ctx.send_status_text(format!("step {i}")).await?;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let a = Artifact {
                        artifact_id: "out".into(),
                        parts: vec![Part::text(format!("w{i} "))],
                        ..Default::default()
                    };
                    ctx.emit_artifact(a, i > 0, i + 1 == n).await?;
                }
                ctx.complete(Some(vec![Part::text("streamed")])).await?;
            }
            "slow" => {
                let ms: u64 = rest.trim().parse().unwrap_or(300);
                ctx.send_status_text("started").await?;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let a = Artifact {
                    artifact_id: "slow".into(),
                    parts: vec![Part::text("half")],
                    ..Default::default()
                };
                ctx.emit_artifact(a, false, true).await?;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                ctx.complete(Some(vec![Part::text("slow done")])).await?;
            }
            "tick" => {
                let mut args = rest
                    .split_whitespace()
                    .map(|a| a.parse::<u64>().unwrap_or(100));
                let n = args.next().unwrap_or(5);
                let ms = args.next().unwrap_or(100);
                for i in 0..n {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    ctx.send_status_text(format!("tick {i}")).await?;
                }
                ctx.complete(Some(vec![Part::text("ticked")])).await?;
            }
            "sleep" => {
                ctx.send_status_text("sleeping").await?;
                ctx.cancelled().await;
            }
            "reply" => ctx.reply(vec![Part::text("direct reply")]).await?,
            "fail" => return Err(AgentError::Failed("asked to fail".into())),
            "reject" => return Err(AgentError::Rejected("asked to reject".into())),
            _ => {
                ctx.complete(Some(vec![Part::text(format!("done: {text}"))]))
                    .await?
            }
        }
        Ok(())
    }
}

/// How to start a [`TestServer`].
pub struct Setup {
    pub agents: Vec<(String, Arc<dyn Agent>)>,
    pub config: ServerConfig,
    /// Nest the router under this prefix in an outer app.
    pub nest: Option<&'static str>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            agents: vec![("echo".to_string(), TestAgent::arc("echo"))],
            config: ServerConfig::default(),
            nest: None,
        }
    }
}

impl Setup {
    /// The default setup with these agents (all streaming test agents).
    pub fn agents(names: &[&str]) -> Setup {
        Setup {
            agents: names
                .iter()
                .map(|n| (n.to_string(), TestAgent::arc(n)))
                .collect(),
            ..Default::default()
        }
    }
}

/// A server running on an ephemeral port.
pub struct TestServer {
    /// `http://127.0.0.1:PORT` (plus the nest prefix, if any).
    pub base: String,
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    pub client: reqwest::Client,
    pub handle: ServerHandle,
    pub manager: TaskManager,
    pub registry: AgentRegistry,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    join: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Starts the server described by `setup`.
pub async fn start(setup: Setup) -> TestServer {
    let registry = AgentRegistry::new();
    for (name, agent) in setup.agents {
        registry.insert(&name, LoadedAgent::new(agent, None));
    }
    let config = ManagerConfig {
        blocking_timeout: Duration::from_secs(20),
        ..Default::default()
    };
    let manager = TaskManager::new(Arc::new(MemoryStore::new()), registry.clone(), config);
    let handle = setup.config.handle.clone();
    let app = router(manager.clone(), setup.config);
    let app = match setup.nest {
        Some(prefix) => axum::Router::new().nest(prefix, app),
        None => app,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let join = tokio::spawn(serve(listener, app, async move {
        let _ = rx.await;
    }));
    let origin = format!("http://{addr}");
    TestServer {
        base: format!("{origin}{}", setup.nest.unwrap_or("")),
        origin,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        handle,
        manager,
        registry,
        shutdown: Some(tx),
        join: Some(join),
    }
}

/// A non-streaming answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON (`Value::Null` if it is not JSON).
    pub body: Value,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The ErrorInfo reason of a JSON-RPC (`error.data`) or REST
    /// (`error.details`) error body.
    pub fn reason(&self) -> Option<String> {
        let err = &self.body["error"];
        let details = err.get("data").or_else(|| err.get("details"))?.as_array()?;
        details
            .iter()
            .find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")
            .and_then(|d| d["reason"].as_str())
            .map(str::to_string)
    }

    /// The JSON-RPC error code.
    pub fn rpc_code(&self) -> Option<i64> {
        self.body["error"]["code"].as_i64()
    }

    /// The field a BadRequest detail names, if any.
    pub fn violated_field(&self) -> Option<String> {
        let err = &self.body["error"];
        let details = err.get("data").or_else(|| err.get("details"))?.as_array()?;
        details
            .iter()
            .find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
            .and_then(|d| d["fieldViolations"][0]["field"].as_str())
            .map(str::to_string)
    }
}

/// Either a whole answer or an open SSE stream.
pub enum Answer {
    Whole(Reply),
    Stream(SseStream),
}

impl Answer {
    pub fn stream(self) -> SseStream {
        match self {
            Answer::Stream(s) => s,
            Answer::Whole(r) => panic!("expected an SSE stream, got {} {}", r.status, r.text),
        }
    }

    pub fn whole(self) -> Reply {
        match self {
            Answer::Whole(r) => r,
            Answer::Stream(s) => panic!("expected a whole answer, got a stream ({})", s.status),
        }
    }
}

impl TestServer {
    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The canonical URL of an agent.
    pub fn agent(&self, name: &str) -> String {
        self.url(&format!("/agents/{name}"))
    }

    /// Sends a request and reads the answer whole.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = tokio::time::timeout(STEP, req.send())
            .await
            .expect("request timed out")
            .expect("request failed");
        read_reply(resp).await
    }

    /// Sends a request; an `text/event-stream` answer stays open.
    pub async fn open(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = tokio::time::timeout(STEP, req.send())
            .await
            .expect("request timed out")
            .expect("request failed");
        let is_sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_sse {
            Answer::Stream(SseStream::new(resp))
        } else {
            Answer::Whole(read_reply(resp).await)
        }
    }

    /// A JSON-RPC POST with `A2A-Version: 1.0` and `Content-Type:
    /// application/json`.
    pub fn rpc_request(
        &self,
        url: &str,
        id: Value,
        method: &str,
        params: Value,
    ) -> reqwest::RequestBuilder {
        let mut body = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if !params.is_null() {
            body["params"] = params;
        }
        self.client
            .post(url)
            .header("A2A-Version", "1.0")
            .header("Content-Type", "application/json")
            .body(body.to_string())
    }

    /// A JSON-RPC call to agent `name`, read whole.
    pub async fn rpc(&self, name: &str, method: &str, params: Value) -> Reply {
        self.send(self.rpc_request(&self.agent(name), json!(1), method, params))
            .await
    }

    /// A REST request with `A2A-Version: 1.0` (and a JSON body if given).
    pub fn rest_request(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .client
            .request(method, url)
            .header("A2A-Version", "1.0");
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        req
    }

    /// A REST call, read whole.
    pub async fn rest(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Reply {
        self.send(self.rest_request(method, url, body)).await
    }

    /// Sends a text message to agent `name` over JSON-RPC and returns the
    /// `result` (fails the test on an error).
    pub async fn send_text(&self, name: &str, text: &str, configuration: Value) -> Value {
        let mut params = json!({"message": user_message(text)});
        if !configuration.is_null() {
            params["configuration"] = configuration;
        }
        let r = self.rpc(name, "SendMessage", params).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.body.get("error").is_none(),
            "SendMessage failed: {}",
            r.text
        );
        r.body["result"].clone()
    }

    /// Starts a task that keeps running (`sleep`) and returns its id.
    pub async fn start_sleeper(&self, name: &str) -> String {
        let res = self
            .send_text(name, "sleep", json!({"returnImmediately": true}))
            .await;
        res["task"]["id"].as_str().expect("a task").to_string()
    }

    /// Stops the server (gracefully) and waits for it.
    pub async fn stop(mut self) {
        self.handle.close_streams();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(join) = self.join.take() {
            tokio::time::timeout(STEP, join)
                .await
                .expect("server did not stop in time")
                .unwrap()
                .unwrap();
        }
    }
}

/// A user message with a fresh id and one text part, as JSON.
pub fn user_message(text: &str) -> Value {
    json!({
        "messageId": uuid::Uuid::new_v4().to_string(),
        "role": "ROLE_USER",
        "parts": [{"text": text}],
    })
}

async fn read_reply(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = tokio::time::timeout(STEP, resp.text())
        .await
        .expect("body timed out")
        .unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        body,
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("SSE data is not JSON ({e}): {}", self.data))
    }

    /// The `id:` as a number.
    pub fn seq(&self) -> u64 {
        self.id
            .as_deref()
            .expect("event has an id")
            .parse()
            .expect("numeric id")
    }
}

/// Reads `text/event-stream` incrementally.
pub struct SseStream {
    pub status: u16,
    pub headers: HeaderMap,
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: Vec<u8>,
    ready: VecDeque<SseEvent>,
    /// Comment lines seen (keep-alives).
    pub comments: usize,
    ended: bool,
}

impl SseStream {
    fn new(resp: reqwest::Response) -> SseStream {
        SseStream {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: Box::pin(resp.bytes_stream()),
            buf: Vec::new(),
            ready: VecDeque::new(),
            comments: 0,
            ended: false,
        }
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The next event; `None` once the server closes the stream. Panics
    /// after [`STEP`] without one.
    pub async fn next(&mut self) -> Option<SseEvent> {
        tokio::time::timeout(STEP, self.next_inner())
            .await
            .expect("no SSE event in time")
    }

    /// The next event, or `None` if the stream ends or `wait` passes.
    pub async fn next_within(&mut self, wait: Duration) -> Option<SseEvent> {
        tokio::time::timeout(wait, self.next_inner())
            .await
            .ok()
            .flatten()
    }

    async fn next_inner(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(ev) = self.ready.pop_front() {
                return Some(ev);
            }
            if self.ended {
                return None;
            }
            match self.body.next().await {
                Some(Ok(chunk)) => {
                    self.buf.extend_from_slice(&chunk);
                    self.parse();
                }
                Some(Err(_)) | None => {
                    self.ended = true;
                }
            }
        }
    }

    /// Every remaining event until the server closes the stream.
    pub async fn collect(mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while let Some(ev) = self.next().await {
            out.push(ev);
        }
        out
    }

    fn parse(&mut self) {
        // Events end at a blank line; accept \n and \r\n.
        loop {
            let text = String::from_utf8_lossy(&self.buf).replace("\r\n", "\n");
            let Some(end) = text.find("\n\n") else { return };
            let block = text[..end].to_string();
            let rest = text.as_bytes()[end + 2..].to_vec();
            self.buf = rest;
            let mut id = None;
            let mut data: Vec<String> = Vec::new();
            let mut any = false;
            for line in block.lines() {
                if line.starts_with(':') {
                    self.comments += 1;
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => {
                        id = Some(value.to_string());
                        any = true;
                    }
                    "data" => {
                        data.push(value.to_string());
                        any = true;
                    }
                    _ => {}
                }
            }
            if any {
                self.ready.push_back(SseEvent {
                    id,
                    data: data.join("\n"),
                });
            }
        }
    }
}

/// Starts a server over an existing [`TaskManager`] (any store, any
/// registry — e.g. one filled by a `runtime::AgentsFolder`), on
/// 127.0.0.1:0, at the root.
pub async fn start_with_manager(manager: TaskManager, config: ServerConfig) -> TestServer {
    let registry = manager.registry().clone();
    let handle = config.handle.clone();
    let app = router(manager.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let join = tokio::spawn(serve(listener, app, async move {
        let _ = rx.await;
    }));
    let origin = format!("http://{addr}");
    TestServer {
        base: origin.clone(),
        origin,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        handle,
        manager,
        registry,
        shutdown: Some(tx),
        join: Some(join),
    }
}
