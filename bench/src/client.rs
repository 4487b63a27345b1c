//! The HTTP/1.1 side of the load generator: one keep-alive connection per
//! simulated client (hyper's connection API, no pool in between), the
//! requests the bench sends, and the checks every answer must pass.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// The agent every load phase talks to.
pub const AGENT: &str = "echo";

/// One HTTP/1.1 keep-alive connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

impl Conn {
    /// Connect (TCP_NODELAY) and complete the HTTP/1.1 handshake.
    pub async fn open(addr: SocketAddr) -> Result<Conn> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { sender, addr })
    }

    /// Send one request and return the response head; the body is read by
    /// the caller.
    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<Response<Incoming>> {
        self.sender
            .ready()
            .await
            .context("connection closed before the request")?;
        self.sender
            .send_request(req)
            .await
            .context("request failed")
    }

    /// POST `body` to `path` and read the whole answer.
    pub async fn post(&mut self, path: &str, body: Vec<u8>) -> Result<(StatusCode, Bytes)> {
        let resp = self.send(post(self.addr, path, body)).await?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .context("reading the body")?
            .to_bytes();
        Ok((status, body))
    }

    /// GET `path` and read the whole answer.
    pub async fn get(&mut self, path: &str) -> Result<(StatusCode, Bytes)> {
        let req = Request::get(path)
            .header(hyper::header::HOST, self.addr.to_string())
            .header("a2a-version", "1.0")
            .body(Full::new(Bytes::new()))?;
        let resp = self.send(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// A POST of a JSON body with the A2A headers.
pub fn post(addr: SocketAddr, path: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
    Request::post(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header("a2a-version", "1.0")
        .body(Full::new(Bytes::from(body)))
        .expect("static request parts are valid")
}

/// How a load phase asks for an echo task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Blocking `SendMessage` over JSON-RPC.
    JsonRpc,
    /// Blocking `POST …/message:send` (HTTP+JSON).
    Rest,
    /// `SendStreamingMessage` over JSON-RPC (SSE).
    Stream,
}

impl Kind {
    pub fn path(self) -> String {
        match self {
            Kind::JsonRpc | Kind::Stream => format!("/agents/{AGENT}"),
            Kind::Rest => format!("/agents/{AGENT}/message:send"),
        }
    }
}

/// The body of one request and the text the answer must echo. `tag` makes
/// the message id unique (a2a-host deduplicates by message id).
pub fn echo_request(kind: Kind, tag: &str) -> (Vec<u8>, String) {
    let text = format!("bench echo {tag}");
    let message = serde_json::json!({
        "messageId": format!("bench-{tag}"),
        "role": "ROLE_USER",
        "parts": [{"text": text}],
    });
    let body = match kind {
        Kind::JsonRpc => rpc_body("SendMessage", serde_json::json!({ "message": message })),
        Kind::Stream => rpc_body(
            "SendStreamingMessage",
            serde_json::json!({ "message": message }),
        ),
        Kind::Rest => serde_json::to_vec(&serde_json::json!({ "message": message }))
            .expect("JSON values serialize"),
    };
    (body, text)
}

/// A JSON-RPC 2.0 request body.
pub fn rpc_body(method: &str, params: Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": method, "params": params,
    }))
    .expect("JSON values serialize")
}

/// The `result` of a JSON-RPC answer, or why there is none.
pub fn rpc_result(status: StatusCode, body: &[u8]) -> Result<Value> {
    if status != StatusCode::OK {
        bail!("HTTP {status}: {}", snippet(body));
    }
    let mut v: Value = serde_json::from_slice(body)
        .map_err(|e| anyhow!("answer is not JSON ({e}): {}", snippet(body)))?;
    if let Some(err) = v.get("error") {
        bail!("JSON-RPC error: {err}");
    }
    match v.get_mut("result") {
        Some(r) => Ok(r.take()),
        None => bail!("JSON-RPC answer without result: {}", snippet(body)),
    }
}

/// Check a blocking send's answer: HTTP 200, no JSON-RPC error, a completed
/// task whose status message or artifacts hold `text`.
pub fn check_send(kind: Kind, status: StatusCode, body: &[u8], text: &str) -> Result<()> {
    let result = match kind {
        Kind::JsonRpc | Kind::Stream => rpc_result(status, body)?,
        Kind::Rest => {
            if status != StatusCode::OK {
                bail!("HTTP {status}: {}", snippet(body));
            }
            serde_json::from_slice(body)
                .map_err(|e| anyhow!("answer is not JSON ({e}): {}", snippet(body)))?
        }
    };
    let task = result
        .get("task")
        .ok_or_else(|| anyhow!("answer is not a task: {}", short(&result)))?;
    check_completed_task(task, text)
}

/// A task that is `completed` and echoes `text`.
pub fn check_completed_task(task: &Value, text: &str) -> Result<()> {
    if task["id"].as_str().is_none_or(str::is_empty) {
        bail!("task without id");
    }
    let state = task["status"]["state"].as_str().unwrap_or("");
    if state != "TASK_STATE_COMPLETED" {
        bail!("task is {state:?}, not TASK_STATE_COMPLETED");
    }
    if !holds_text(&task["status"]["message"], text)
        && !task["artifacts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|art| holds_text(art, text)))
    {
        bail!("completed task does not hold the echo {text:?}");
    }
    Ok(())
}

/// Whether a message or artifact has a text part equal to `text`.
fn holds_text(v: &Value, text: &str) -> bool {
    v["parts"]
        .as_array()
        .is_some_and(|parts| parts.iter().any(|p| p["text"].as_str() == Some(text)))
}

/// Timings of one stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamTiming {
    pub first_event: Duration,
    pub end: Duration,
}

/// Send a `SendStreamingMessage` and read the stream to its end, checking
/// every event: the stream must end with the task completed and echoing
/// `text`.
pub async fn stream_echo(conn: &mut Conn, body: Vec<u8>, text: &str) -> Result<StreamTiming> {
    let start = Instant::now();
    let resp = conn
        .send(post(conn.addr, &Kind::Stream.path(), body))
        .await?;
    let status = resp.status();
    if status != StatusCode::OK {
        let body = resp.into_body().collect().await?.to_bytes();
        bail!("HTTP {status}: {}", snippet(&body));
    }
    let is_sse = resp
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !is_sse {
        bail!("stream answer is not text/event-stream");
    }
    let mut body = resp.into_body();
    let mut parser = SseParser::default();
    let mut first = None;
    let mut last: Option<Value> = None;
    let mut events = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.context("reading the stream")?;
        let Some(chunk) = frame.data_ref() else {
            continue;
        };
        for data in parser.push(chunk) {
            if first.is_none() {
                first = Some(start.elapsed());
            }
            events += 1;
            last = Some(rpc_result(StatusCode::OK, &data)?);
        }
    }
    let end = start.elapsed();
    let first_event = first.ok_or_else(|| anyhow!("stream ended without an event"))?;
    let last = last.expect("an event was seen");
    if let Some(update) = last.get("statusUpdate") {
        let state = update["status"]["state"].as_str().unwrap_or("");
        if state != "TASK_STATE_COMPLETED" {
            bail!("stream ended with {state:?} after {events} events");
        }
        if !holds_text(&update["status"]["message"], text) {
            bail!("final status does not hold the echo {text:?}");
        }
    } else if let Some(task) = last.get("task") {
        check_completed_task(task, text)?;
    } else {
        bail!("stream ended with an unexpected event: {}", short(&last));
    }
    Ok(StreamTiming { first_event, end })
}

/// An incremental parser of `text/event-stream`: feed it chunks, get the
/// `data` of each complete event.
#[derive(Default)]
pub struct SseParser {
    buf: BytesMut,
}

impl SseParser {
    /// Add a chunk; return the data of every event it completes.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some((end, sep)) = find_event_end(&self.buf) {
            let raw = self.buf.split_to(end + sep);
            let mut data = Vec::new();
            for line in raw[..end].split(|b| *b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if let Some(rest) = line.strip_prefix(b"data:") {
                    if !data.is_empty() {
                        data.push(b'\n');
                    }
                    data.extend_from_slice(rest.strip_prefix(b" ").unwrap_or(rest));
                }
            }
            if !data.is_empty() {
                out.push(data);
            }
        }
        out
    }
}

/// Where the first event in `buf` ends: (offset of the blank line, its
/// length).
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The start of a body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    s.chars().take(300).collect()
}

fn short(v: &Value) -> String {
    v.to_string().chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_across_chunks() {
        let mut p = SseParser::default();
        assert!(p.push(b"data: {\"a\":").is_empty());
        let ev = p.push(b"1}\nid: 1\n\ndata: x\r\n\r\n: comment\n\n");
        assert_eq!(ev, vec![b"{\"a\":1}".to_vec(), b"x".to_vec()]);
    }

    #[test]
    fn a_completed_task_must_hold_the_echo() {
        let ok = serde_json::json!({"id": "t", "status": {"state": "TASK_STATE_COMPLETED",
            "message": {"parts": [{"text": "hi"}]}}});
        check_completed_task(&ok, "hi").unwrap();
        assert!(check_completed_task(&ok, "other").is_err());
        let working = serde_json::json!({"id": "t", "status": {"state": "TASK_STATE_WORKING"}});
        assert!(check_completed_task(&working, "hi").is_err());
    }

    #[test]
    fn json_rpc_errors_are_failures() {
        let body = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad"}}"#;
        assert!(check_send(Kind::JsonRpc, StatusCode::OK, body, "x").is_err());
        assert!(check_send(Kind::JsonRpc, StatusCode::INTERNAL_SERVER_ERROR, b"{}", "x").is_err());
    }
}
