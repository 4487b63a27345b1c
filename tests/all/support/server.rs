//! The HTTP surface in process: a real server on 127.0.0.1:0 over a
//! [`Host`] (by default with a memory store and native test agents), and a
//! reqwest client that talks to it.

use std::sync::Arc;
use std::time::Duration;

use a2a_host::Host;
use a2a_host::agent::Agent;
use a2a_host::manager::TaskManager;
use a2a_host::push::PushSettings;
use a2a_host::registry::AgentRegistry;
use a2a_host::server::{ServerConfig, ServerHandle, serve};
use serde_json::{Value, json};

use super::agents::TestAgent;
use super::http::{Answer, Reply, STEP, read_reply, user_message};
use super::sse::SseStream;

/// How to start a [`TestServer`].
pub struct Setup {
    pub agents: Vec<(String, Arc<dyn Agent>)>,
    pub config: ServerConfig,
    /// Nest the router under this prefix in an outer app.
    pub nest: Option<&'static str>,
    pub push: PushSettings,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            agents: vec![("echo".to_string(), TestAgent::arc("echo"))],
            config: ServerConfig::default(),
            nest: None,
            push: PushSettings::default(),
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

    /// The default setup with push notifications turned off.
    pub fn without_push() -> Setup {
        Setup {
            push: PushSettings {
                enabled: false,
                ..Default::default()
            },
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

/// Starts the server described by `setup`: a [`Host`] with a memory
/// store and the setup's native agents.
pub async fn start(setup: Setup) -> TestServer {
    let mut builder = Host::builder()
        .blocking_timeout(Duration::from_secs(20))
        .server_config(setup.config)
        .push(setup.push);
    for (name, agent) in setup.agents {
        builder = builder.shared_agent(&name, agent);
    }
    let host = builder.build().await.expect("host");
    serve_on(
        host.router(),
        host.manager().clone(),
        host.handle().clone(),
        setup.nest,
    )
    .await
}

/// Serves a built [`Host`] (its router, with its layers) on 127.0.0.1:0.
pub async fn start_host(host: &Host) -> TestServer {
    serve_on(
        host.router(),
        host.manager().clone(),
        host.handle().clone(),
        None,
    )
    .await
}

/// Serves `app` on 127.0.0.1:0, under `nest` if given.
async fn serve_on(
    app: axum::Router,
    manager: TaskManager,
    handle: ServerHandle,
    nest: Option<&'static str>,
) -> TestServer {
    let registry = manager.registry().clone();
    let app = match nest {
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
        base: format!("{origin}{}", nest.unwrap_or("")),
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
