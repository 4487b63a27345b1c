//! Talking HTTP in the tests: requests and their answers read whole, JSON-RPC
//! calls to a host on its address, A2A messages as JSON, and stand-in HTTP
//! servers on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::sse::SseStream;

/// How long any single network step of a test may take.
pub const STEP: Duration = Duration::from_secs(10);

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

    /// The `type.googleapis.com/google.rpc.KIND` detail of a JSON-RPC
    /// (`error.data`) or REST (`error.details`) error body.
    fn detail(&self, kind: &str) -> Option<&Value> {
        let err = &self.body["error"];
        let details = err.get("data").or_else(|| err.get("details"))?.as_array()?;
        let kind = format!("type.googleapis.com/google.rpc.{kind}");
        details.iter().find(|d| d["@type"] == kind)
    }

    /// The ErrorInfo reason of an error body.
    pub fn reason(&self) -> Option<String> {
        let reason = self.detail("ErrorInfo")?["reason"].as_str()?;
        Some(reason.to_string())
    }

    /// The JSON-RPC error code.
    pub fn rpc_code(&self) -> Option<i64> {
        self.body["error"]["code"].as_i64()
    }

    /// The field a BadRequest detail names, if any.
    pub fn violated_field(&self) -> Option<String> {
        let field = self.detail("BadRequest")?["fieldViolations"][0]["field"].as_str()?;
        Some(field.to_string())
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

/// A user message with a fresh id and one text part, as JSON.
pub fn user_message(text: &str) -> Value {
    json!({
        "messageId": uuid::Uuid::new_v4().to_string(),
        "role": "ROLE_USER",
        "parts": [{"text": text}],
    })
}

/// The state of a task (or a status update) as JSON, as the wire spells
/// it; empty without one.
pub fn state(task: &Value) -> &str {
    task["status"]["state"].as_str().unwrap_or("")
}

/// The text parts of a message as JSON, joined by newlines.
pub fn text_of(message: &Value) -> String {
    message["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The text of a task's status message, as JSON.
pub fn status_text(task: &Value) -> String {
    text_of(&task["status"]["message"])
}

/// Reads `resp` whole.
pub async fn read_reply(resp: reqwest::Response) -> Reply {
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

/// A JSON-RPC call to agent `agent` of the host at `base`: the result, or
/// the error object.
pub async fn call(base: &str, agent: &str, method: &str, params: Value) -> Result<Value, Value> {
    let reply: Value = reqwest::Client::new()
        .post(format!("{base}/agents/{agent}"))
        .header("A2A-Version", "1.0")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    match reply.get("error") {
        Some(e) => Err(e.clone()),
        None => Ok(reply["result"].clone()),
    }
}

/// [`call`], which must succeed: the result.
pub async fn rpc(base: &str, agent: &str, method: &str, params: Value) -> Value {
    call(base, agent, method, params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// A loopback TCP listener that counts connections and answers each with
/// `response`.
pub struct Listener {
    pub port: u16,
    /// Connections accepted so far.
    pub hits: Arc<AtomicUsize>,
}

pub async fn listener(response: String) -> Listener {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = l.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = conn.write_all(response.as_bytes()).await;
            });
        }
    });
    Listener { port, hits }
}

/// A whole HTTP/1.1 200 answer with `body`.
pub fn ok_response(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}
