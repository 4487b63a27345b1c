//! `bench-ceiling`: the least an A2A 1.0 server must do for an echo task,
//! and nothing more. `cargo xtask bench` runs it beside a2a-host, pinned to
//! the same core, so that a2a-host's figures can be read as ratios to what
//! this machine allows at all.
//!
//! It parses a `SendMessage` / `SendStreamingMessage` request (JSON-RPC 2.0
//! at `POST /agents/{agent}` and `POST /`, HTTP+JSON at
//! `POST /agents/{agent}/message:send` and `…/message:stream`), checks what
//! any server must check (JSON-RPC envelope, method, `A2A-Version`, a user
//! message with an id and parts), and answers with a completed task whose
//! status message echoes the text, shaped like a2a-host's answer (task id,
//! context id, agent message id, timestamp, history). It keeps no store and
//! runs no agent; there is no logging.
//!
//! Usage: `bench-ceiling --listen 127.0.0.1:PORT`. It prints
//! `listening ADDR` on stdout once it accepts connections; `GET /healthz`
//! answers 200.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

const COMPLETED: &str = "TASK_STATE_COMPLETED";
const WORKING: &str = "TASK_STATE_WORKING";

#[derive(Deserialize)]
struct RpcRequest<'a> {
    jsonrpc: &'a str,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    method: &'a str,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SendParams {
    message: Message,
}

#[derive(Deserialize, Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Message {
    message_id: String,
    role: String,
    parts: Vec<Part>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_id: Option<String>,
}

#[derive(Deserialize, Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Task {
    id: String,
    context_id: String,
    status: Status,
    history: Vec<Message>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message>,
    timestamp: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusUpdate<'a> {
    task_id: &'a str,
    context_id: &'a str,
    status: &'a Status,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum SendResult<'a> {
    Task(&'a Task),
    StatusUpdate(StatusUpdate<'a>),
}

#[derive(Serialize)]
struct RpcResponse<'a, T> {
    jsonrpc: &'static str,
    id: Option<&'a RawValue>,
    result: T,
}

/// A protocol error: JSON-RPC code, HTTP status for HTTP+JSON, message.
struct Invalid(i32, StatusCode, String);

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid(-32602, StatusCode::BAD_REQUEST, message.into())
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn check_version(headers: &HeaderMap) -> Result<(), Invalid> {
    match headers.get("a2a-version").map(HeaderValue::as_bytes) {
        None | Some(b"1.0") | Some(b"1") => Ok(()),
        Some(_) => Err(Invalid(
            -32009,
            StatusCode::BAD_REQUEST,
            "unsupported A2A-Version".into(),
        )),
    }
}

fn check_message(m: &Message) -> Result<String, Invalid> {
    if m.message_id.is_empty() {
        return Err(invalid("message.messageId is required"));
    }
    if m.role != "ROLE_USER" {
        return Err(invalid("message.role must be ROLE_USER"));
    }
    if m.parts.is_empty() {
        return Err(invalid("message.parts must not be empty"));
    }
    let mut text = String::new();
    for t in m.parts.iter().filter_map(|p| p.text.as_deref()) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(t);
    }
    Ok(text)
}

/// The task for `message`: the user message, then the agent's echo. With
/// `done == false`, the `working` snapshot a stream starts with.
fn make_task(mut message: Message, text: String, done: bool) -> Task {
    let id = uuid::Uuid::new_v4().to_string();
    let context_id = message
        .context_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    message.task_id = Some(id.clone());
    message.context_id = Some(context_id.clone());
    let mut history = vec![message];
    let status = if done {
        let reply = Message {
            message_id: uuid::Uuid::new_v4().to_string(),
            role: "ROLE_AGENT".into(),
            parts: vec![Part { text: Some(text) }],
            context_id: Some(context_id.clone()),
            task_id: Some(id.clone()),
        };
        history.push(reply.clone());
        Status {
            state: COMPLETED,
            message: Some(reply),
            timestamp: now(),
        }
    } else {
        Status {
            state: WORKING,
            message: None,
            timestamp: now(),
        }
    };
    Task {
        id,
        context_id,
        status,
        history,
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn rpc_error(id: Option<&RawValue>, code: i32, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.map(|r| serde_json::from_str::<serde_json::Value>(r.get()).unwrap_or_default()),
        "error": {"code": code, "message": message},
    });
    json_response(StatusCode::OK, body.to_string().into_bytes())
}

/// An SSE stream of two events: the working task, then its completion.
fn stream_response(id: Option<&RawValue>, message: Message, text: String) -> Response {
    let mut task = make_task(message, text.clone(), false);
    let working = event(
        1,
        &RpcResponse {
            jsonrpc: "2.0",
            id,
            result: SendResult::Task(&task),
        },
    );
    let reply = Message {
        message_id: uuid::Uuid::new_v4().to_string(),
        role: "ROLE_AGENT".into(),
        parts: vec![Part { text: Some(text) }],
        context_id: Some(task.context_id.clone()),
        task_id: Some(task.id.clone()),
    };
    task.status = Status {
        state: COMPLETED,
        message: Some(reply),
        timestamp: now(),
    };
    let done = event(
        2,
        &RpcResponse {
            jsonrpc: "2.0",
            id,
            result: SendResult::StatusUpdate(StatusUpdate {
                task_id: &task.id,
                context_id: &task.context_id,
                status: &task.status,
            }),
        },
    );
    let chunks = [Ok::<_, Infallible>(working), Ok(done)];
    let mut r = Response::new(Body::from_stream(futures::stream::iter(chunks)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn event<T: Serialize>(seq: u64, value: &T) -> Bytes {
    let mut out = b"data: ".to_vec();
    serde_json::to_writer(&mut out, value).unwrap_or_default();
    out.extend_from_slice(format!("\nid: {seq}\n\n").as_bytes());
    Bytes::from(out)
}

async fn jsonrpc(headers: HeaderMap, body: Bytes) -> Response {
    let req: RpcRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return rpc_error(None, -32700, &format!("parse error: {e}")),
    };
    if req.jsonrpc != "2.0" {
        return rpc_error(req.id, -32600, "jsonrpc must be \"2.0\"");
    }
    if let Err(Invalid(code, _, m)) = check_version(&headers) {
        return rpc_error(req.id, code, &m);
    }
    let streaming = match req.method {
        "SendMessage" => false,
        "SendStreamingMessage" => true,
        other => return rpc_error(req.id, -32601, &format!("method {other} not found")),
    };
    let Some(params) = req.params else {
        return rpc_error(req.id, -32602, "params are required");
    };
    let params: SendParams = match serde_json::from_str(params.get()) {
        Ok(p) => p,
        Err(e) => return rpc_error(req.id, -32602, &format!("invalid params: {e}")),
    };
    let text = match check_message(&params.message) {
        Ok(t) => t,
        Err(Invalid(code, _, m)) => return rpc_error(req.id, code, &m),
    };
    if streaming {
        return stream_response(req.id, params.message, text);
    }
    let task = make_task(params.message, text, true);
    let body = serde_json::to_vec(&RpcResponse {
        jsonrpc: "2.0",
        id: req.id,
        result: SendResult::Task(&task),
    })
    .unwrap_or_default();
    json_response(StatusCode::OK, body)
}

fn rest_error(Invalid(_, status, message): Invalid) -> Response {
    let body = serde_json::json!({"error": {"code": status.as_u16(), "message": message}});
    json_response(status, body.to_string().into_bytes())
}

async fn rest_send(headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = check_version(&headers) {
        return rest_error(e);
    }
    let params: SendParams = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return rest_error(invalid(format!("invalid body: {e}"))),
    };
    let text = match check_message(&params.message) {
        Ok(t) => t,
        Err(e) => return rest_error(e),
    };
    let task = make_task(params.message, text, true);
    let body = serde_json::to_vec(&SendResult::Task(&task)).unwrap_or_default();
    json_response(StatusCode::OK, body)
}

async fn rest_stream(headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = check_version(&headers) {
        return rest_error(e);
    }
    let params: SendParams = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return rest_error(invalid(format!("invalid body: {e}"))),
    };
    match check_message(&params.message) {
        Ok(text) => stream_response(None, params.message, text),
        Err(e) => rest_error(e),
    }
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found")
}

fn parse_listen() -> Result<SocketAddr, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, addr] if flag == "--listen" => addr
            .parse()
            .map_err(|e| format!("--listen {addr}: not ADDR:PORT: {e}")),
        [] => Ok(SocketAddr::from(([127, 0, 0, 1], 0))),
        _ => Err("usage: bench-ceiling [--listen ADDR:PORT]".into()),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let addr = match parse_listen() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let app = Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/", post(jsonrpc))
        .route("/agents/{agent}", post(jsonrpc))
        .route("/agents/{agent}/message:send", post(rest_send))
        .route("/agents/{agent}/message:stream", post(rest_stream))
        .fallback(not_found);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(local) => println!("listening {local}"),
        Err(e) => eprintln!("warning: cannot read the listen address: {e}"),
    }
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("error: {e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
