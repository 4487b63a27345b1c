//! How each operation travels over the two bindings, and how an answer is
//! read and classified for the retry and fallback logic in
//! [`super::A2aClient`].
//!
//! | Operation | JSON-RPC (`POST url`) | HTTP+JSON |
//! |---|---|---|
//! | SendMessage | `SendMessage` | `POST url/message:send` |
//! | SendStreamingMessage | `SendStreamingMessage` (SSE) | `POST url/message:stream` (SSE) |
//! | GetTask | `GetTask` | `GET url/tasks/{id}?historyLength=` |
//! | ListTasks | `ListTasks` | `GET url/tasks?contextId=&status=&…` |
//! | CancelTask | `CancelTask` | `POST url/tasks/{id}:cancel` |
//! | SubscribeToTask | `SubscribeToTask` (SSE) | `POST url/tasks/{id}:subscribe` (SSE) |
//!
//! Every request carries `A2A-Version: 1.0`; a resumed subscription also
//! `Last-Event-ID`. With an interface `tenant`, JSON-RPC sets the `tenant`
//! field and HTTP+JSON prefixes the path with `/{tenant}`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::ClientConfig;
use super::error::{ClientError, RemoteError, chain};
use super::sse::SseReader;
use crate::model::{
    CancelTaskRequest, GetTaskRequest, ListTasksRequest, SendMessageRequest, StreamResponse,
    SubscribeToTaskRequest,
};

/// The protocol version this client speaks.
pub const PROTOCOL_VERSION: &str = "1.0";

/// A protocol binding the client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binding {
    /// JSON-RPC 2.0 over HTTP (`JSONRPC` in cards).
    JsonRpc,
    /// The HTTP+JSON ("REST") binding (`HTTP+JSON` in cards).
    HttpJson,
}

impl Binding {
    /// The binding a card's `protocolBinding` names, if this client speaks
    /// it (case-insensitive).
    pub fn from_card_name(name: &str) -> Option<Binding> {
        let n = name.trim();
        if n.eq_ignore_ascii_case("JSONRPC") {
            Some(Binding::JsonRpc)
        } else if n.eq_ignore_ascii_case("HTTP+JSON") {
            Some(Binding::HttpJson)
        } else {
            None
        }
    }

    /// The name cards use.
    pub fn card_name(self) -> &'static str {
        match self {
            Binding::JsonRpc => "JSONRPC",
            Binding::HttpJson => "HTTP+JSON",
        }
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.card_name())
    }
}

impl FromStr for Binding {
    type Err = String;

    /// Accepts the card names and the friendlier `jsonrpc`, `json-rpc`,
    /// `http-json`, `rest`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(b) = Binding::from_card_name(s) {
            return Ok(b);
        }
        match s.trim().to_ascii_lowercase().as_str() {
            "json-rpc" | "jsonrpc" | "rpc" => Ok(Binding::JsonRpc),
            "http-json" | "httpjson" | "rest" | "http" => Ok(Binding::HttpJson),
            other => Err(format!(
                "unknown binding `{other}`; use `jsonrpc` or `http-json`"
            )),
        }
    }
}

/// One interface of an agent: where it is and how to speak to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The protocol binding the interface speaks.
    pub binding: Binding,
    /// The interface URL, without a trailing `/`.
    pub url: String,
    /// The tenant to send on every request, if the card names one.
    pub tenant: Option<String>,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.binding, self.url)
    }
}

/// One operation, with its parameters.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    Send(SendMessageRequest),
    Stream(SendMessageRequest),
    Get(GetTaskRequest),
    List(ListTasksRequest),
    Cancel(CancelTaskRequest),
    /// SubscribeToTask, resuming after the given event id if any.
    Subscribe(SubscribeToTaskRequest, Option<String>),
}

impl Op {
    fn method(&self) -> &'static str {
        match self {
            Op::Send(_) => "SendMessage",
            Op::Stream(_) => "SendStreamingMessage",
            Op::Get(_) => "GetTask",
            Op::List(_) => "ListTasks",
            Op::Cancel(_) => "CancelTask",
            Op::Subscribe(..) => "SubscribeToTask",
        }
    }

    pub(crate) fn is_stream(&self) -> bool {
        matches!(self, Op::Stream(_) | Op::Subscribe(..))
    }

    /// Whether sending the operation twice does no harm. A message is safe
    /// to resend when the server can recognise the repeat: it has a
    /// `messageId` and a `contextId` or `taskId` (servers deduplicate per
    /// context and message id).
    pub(crate) fn retry_safe(&self) -> bool {
        match self {
            Op::Send(r) | Op::Stream(r) => message_is_resendable(r),
            Op::Get(_) | Op::List(_) | Op::Cancel(_) | Op::Subscribe(..) => true,
        }
    }
}

/// See [`Op::retry_safe`].
pub(crate) fn message_is_resendable(r: &SendMessageRequest) -> bool {
    let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    !r.message.message_id.is_empty() && (set(&r.message.context_id) || set(&r.message.task_id))
}

/// How a stream's `data:` is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// A JSON-RPC response per event.
    JsonRpc,
    /// The bare `StreamResponse` per event.
    Rest,
}

/// A successful answer.
pub(crate) enum Answer {
    /// The JSON result (JSON-RPC: the `result` member; HTTP+JSON: the body).
    Json(Value),
    /// An open event stream.
    Stream(Framing, SseReader),
}

/// Why one exchange with one endpoint failed, as far as retrying and
/// falling back are concerned.
pub(crate) enum Failure {
    /// No connection could be made: try the next interface; retryable.
    Unreachable(ClientError),
    /// A 502/503/504, a timeout, or a connection that broke mid-exchange:
    /// retry the same interface later (if the operation is retry-safe),
    /// after at least the given `Retry-After`.
    Transient(ClientError, Option<Duration>),
    /// This URL does not serve the operation (404/405 outside A2A, unknown
    /// method or agent, another protocol version, not an A2A answer): try
    /// the next interface; not retryable.
    WrongEndpoint(ClientError),
    /// A definite answer (an A2A error, a bad result): give up.
    Fatal(ClientError),
}

/// Sends `op` to `ep` once and classifies the outcome.
pub(crate) async fn exchange(
    http: &reqwest::Client,
    config: &ClientConfig,
    ep: &Endpoint,
    op: &Op,
) -> Result<Answer, Failure> {
    let (request, url) = build(http, config, ep, op).map_err(Failure::Fatal)?;
    // A stream has no overall timeout (its idle timeout applies once it
    // is open), but its answer must start within the request timeout.
    let resp = match tokio::time::timeout(config.request_timeout, request.send()).await {
        Ok(sent) => sent.map_err(|e| send_failure(&url, &e))?,
        Err(_) => {
            return Err(Failure::Transient(
                ClientError::Unreachable {
                    url,
                    message: format!(
                        "no answer within {} s",
                        config.request_timeout.as_secs_f64()
                    ),
                },
                None,
            ));
        }
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if op.is_stream()
        && (200..300).contains(&status)
        && content_type.starts_with("text/event-stream")
    {
        let framing = match ep.binding {
            Binding::JsonRpc => Framing::JsonRpc,
            Binding::HttpJson => Framing::Rest,
        };
        let body = resp.bytes_stream().map(|r| r.map_err(|e| chain(&e)));
        return Ok(Answer::Stream(framing, SseReader::new(Box::pin(body))));
    }
    let bytes = resp.bytes().await.map_err(|e| {
        Failure::Transient(
            ClientError::Unreachable {
                url: url.clone(),
                message: format!(
                    "the connection broke while reading the answer: {}",
                    chain(&e)
                ),
            },
            None,
        )
    })?;
    interpret(ep.binding, &url, status, &bytes, retry_after)
}

/// Classifies an error of `reqwest::RequestBuilder::send`.
fn send_failure(url: &str, e: &reqwest::Error) -> Failure {
    let message = chain(e);
    let err = ClientError::Unreachable {
        url: url.to_string(),
        message: message.clone(),
    };
    if e.is_builder() {
        Failure::Fatal(ClientError::InvalidArgument(format!(
            "cannot send a request to {url}: {message}"
        )))
    } else if e.is_connect() {
        Failure::Unreachable(err)
    } else {
        // Timeouts and connections closed before the answer: the request
        // may have been processed, so only a retry-safe operation retries.
        Failure::Transient(err, None)
    }
}

/// Reads a complete (non-stream) answer.
pub(crate) fn interpret(
    binding: Binding,
    url: &str,
    status: u16,
    bytes: &[u8],
    retry_after: Option<Duration>,
) -> Result<Answer, Failure> {
    let json: Option<Value> = serde_json::from_slice(bytes).ok();
    let http_error = |why: &str| ClientError::Http {
        url: url.to_string(),
        status,
        message: format!("{why}{}", snippet(bytes)),
    };
    if matches!(status, 502..=504) {
        let err = json
            .as_ref()
            .and_then(|v| remote_of_any_shape(v, status))
            .map(ClientError::from)
            .unwrap_or_else(|| http_error("the service is unavailable"));
        return Err(Failure::Transient(err, retry_after));
    }
    let ok = (200..300).contains(&status);
    let Some(v) = json else {
        return Err(if ok {
            Failure::WrongEndpoint(ClientError::InvalidResponse {
                url: url.to_string(),
                message: format!("the answer is not JSON{}", snippet(bytes)),
            })
        } else if matches!(status, 404 | 405 | 415 | 501) {
            Failure::WrongEndpoint(http_error("not an A2A answer"))
        } else {
            Failure::Fatal(http_error("not an A2A answer"))
        });
    };
    match binding {
        Binding::JsonRpc => {
            if let Some(err) = v.get("error").filter(|e| is_jsonrpc_error(e)) {
                let e = RemoteError::from_jsonrpc(err, Some(status));
                return Err(if e.is_wrong_endpoint() {
                    Failure::WrongEndpoint(ClientError::from(e))
                } else {
                    Failure::Fatal(ClientError::from(e))
                });
            }
            if let Some(e) = RemoteError::from_rest(&v, Some(status)) {
                // An HTTP+JSON error body at a JSON-RPC URL: wrong place.
                return Err(Failure::WrongEndpoint(ClientError::from(e)));
            }
            match v {
                Value::Object(mut obj) if ok && obj.contains_key("result") => {
                    Ok(Answer::Json(obj.remove("result").unwrap_or(Value::Null)))
                }
                _ if ok => Err(Failure::WrongEndpoint(ClientError::InvalidResponse {
                    url: url.to_string(),
                    message: format!("not a JSON-RPC response{}", snippet(bytes)),
                })),
                _ => Err(Failure::WrongEndpoint(http_error(
                    "not a JSON-RPC response",
                ))),
            }
        }
        Binding::HttpJson => {
            if ok {
                return Ok(Answer::Json(v));
            }
            if v.get("error").is_some_and(is_jsonrpc_error) {
                // A JSON-RPC error at an HTTP+JSON URL: wrong place.
                let e = RemoteError::from_jsonrpc(&v["error"], Some(status));
                return Err(Failure::WrongEndpoint(ClientError::from(e)));
            }
            match RemoteError::from_rest(&v, Some(status)) {
                Some(e) if e.is_wrong_endpoint() || status == 405 => {
                    Err(Failure::WrongEndpoint(ClientError::from(e)))
                }
                Some(e) => Err(Failure::Fatal(ClientError::from(e))),
                None if matches!(status, 404 | 405 | 415 | 501) => {
                    Err(Failure::WrongEndpoint(http_error("not an A2A answer")))
                }
                None => Err(Failure::Fatal(http_error("not an A2A answer"))),
            }
        }
    }
}

/// A JSON-RPC error object has a negative integer `code` (a google.rpc
/// Status in an HTTP+JSON body has the HTTP status there).
fn is_jsonrpc_error(e: &Value) -> bool {
    e.get("code").and_then(Value::as_i64).is_some_and(|c| c < 0)
}

fn remote_of_any_shape(v: &Value, status: u16) -> Option<RemoteError> {
    match v.get("error") {
        Some(e) if is_jsonrpc_error(e) => Some(RemoteError::from_jsonrpc(e, Some(status))),
        _ => RemoteError::from_rest(v, Some(status)),
    }
}

/// `: <first 200 characters of the body>`, or nothing for an empty body.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let mut s: String = text.chars().take(200).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    format!(": {s}")
}

/// Decodes a result into `T`, naming the offending field on failure.
pub(crate) fn decode<T: DeserializeOwned>(what: &str, v: Value) -> Result<T, ClientError> {
    serde_path_to_error::deserialize(v).map_err(|e| ClientError::InvalidResponse {
        url: what.to_string(),
        message: format!("`{}`: {}", e.path(), e.inner()),
    })
}

/// Decodes one stream event's `data:`.
pub(crate) fn decode_event(
    framing: Framing,
    source: &str,
    data: &str,
) -> Result<StreamResponse, ClientError> {
    let v: Value = serde_json::from_str(data).map_err(|e| ClientError::InvalidResponse {
        url: source.to_string(),
        message: format!(
            "a stream event is not JSON ({e}){}",
            snippet(data.as_bytes())
        ),
    })?;
    match framing {
        Framing::JsonRpc => {
            if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
                return Err(ClientError::from(RemoteError::from_jsonrpc(err, None)));
            }
            match v.get("result") {
                Some(result) => decode(source, result.clone()),
                None => Err(ClientError::InvalidResponse {
                    url: source.to_string(),
                    message: format!(
                        "a stream event is not a JSON-RPC response{}",
                        snippet(data.as_bytes())
                    ),
                }),
            }
        }
        Framing::Rest => {
            if let Some(e) = RemoteError::from_rest(&v, None) {
                return Err(ClientError::from(e));
            }
            decode(source, v)
        }
    }
}

// ---------------------------------------------------------------------------
// Building requests

/// The request for `op` at `ep`, and its URL (for messages).
fn build(
    http: &reqwest::Client,
    config: &ClientConfig,
    ep: &Endpoint,
    op: &Op,
) -> Result<(reqwest::RequestBuilder, String), ClientError> {
    let accept = if op.is_stream() {
        "text/event-stream, application/json;q=0.5"
    } else {
        "application/json"
    };
    let (mut req, url) = match ep.binding {
        Binding::JsonRpc => {
            let params = jsonrpc_params(op, ep.tenant.as_deref())?;
            let body = json!({
                "jsonrpc": "2.0",
                "id": uuid::Uuid::new_v4().to_string(),
                "method": op.method(),
                "params": params,
            });
            let req = http
                .post(&ep.url)
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
            (req, ep.url.clone())
        }
        Binding::HttpJson => rest_request(http, ep, op)?,
    };
    req = req
        .header(ACCEPT, accept)
        .header(crate::server::version::VERSION_HEADER, PROTOCOL_VERSION);
    if !config.extensions.is_empty() {
        let value = HeaderValue::from_str(&config.extensions.join(", ")).map_err(|_| {
            ClientError::InvalidArgument("extension URIs must be printable ASCII".into())
        })?;
        req = req.header(crate::server::version::EXTENSIONS_HEADER, value);
    }
    if let Op::Subscribe(_, Some(last)) = op {
        let value = HeaderValue::from_str(last).map_err(|_| {
            ClientError::InvalidArgument(format!("`{last}` cannot be sent as Last-Event-ID"))
        })?;
        req = req.header("Last-Event-ID", value);
    }
    if !op.is_stream() {
        req = req.timeout(config.request_timeout);
    }
    Ok((req, url))
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, ClientError> {
    serde_json::to_value(v)
        .map_err(|e| ClientError::InvalidArgument(format!("cannot encode the request: {e}")))
}

/// The JSON-RPC `params`, with the interface tenant filled in.
fn jsonrpc_params(op: &Op, tenant: Option<&str>) -> Result<Value, ClientError> {
    let mut v = match op {
        Op::Send(r) | Op::Stream(r) => to_value(r)?,
        Op::Get(r) => to_value(r)?,
        Op::List(r) => to_value(r)?,
        Op::Cancel(r) => to_value(r)?,
        Op::Subscribe(r, _) => to_value(r)?,
    };
    if let (Some(t), Some(obj)) = (tenant, v.as_object_mut()) {
        obj.entry("tenant")
            .or_insert_with(|| Value::String(t.to_string()));
    }
    Ok(v)
}

/// The HTTP+JSON request for `op`.
fn rest_request(
    http: &reqwest::Client,
    ep: &Endpoint,
    op: &Op,
) -> Result<(reqwest::RequestBuilder, String), ClientError> {
    let tenant = match op {
        Op::Send(r) | Op::Stream(r) => r.tenant.as_deref(),
        Op::Get(r) => r.tenant.as_deref(),
        Op::List(r) => r.tenant.as_deref(),
        Op::Cancel(r) => r.tenant.as_deref(),
        Op::Subscribe(r, _) => r.tenant.as_deref(),
    }
    .filter(|t| !t.is_empty())
    .or(ep.tenant.as_deref());
    let mut base = ep.url.trim_end_matches('/').to_string();
    if let Some(t) = tenant {
        base.push('/');
        base.push_str(&encode_segment(t));
    }
    let task = |id: &str| -> Result<String, ClientError> {
        if id.is_empty() {
            return Err(ClientError::InvalidArgument("the task id is empty".into()));
        }
        Ok(format!("{base}/tasks/{}", encode_segment(id)))
    };
    let json_body = |v: Value| v.to_string();
    Ok(match op {
        Op::Send(r) | Op::Stream(r) => {
            let path = if matches!(op, Op::Send(_)) {
                "message:send"
            } else {
                "message:stream"
            };
            let url = format!("{base}/{path}");
            let req = http
                .post(&url)
                .header(CONTENT_TYPE, "application/json")
                .body(json_body(to_value(r)?));
            (req, url)
        }
        Op::Get(r) => {
            let mut url = task(&r.id)?;
            let mut q = form_urlencoded::Serializer::new(String::new());
            if let Some(n) = r.history_length {
                q.append_pair("historyLength", &n.to_string());
            }
            append_query(&mut url, q.finish());
            (http.get(&url), url)
        }
        Op::List(r) => {
            let mut url = format!("{base}/tasks");
            let mut q = form_urlencoded::Serializer::new(String::new());
            if let Some(c) = r.context_id.as_deref().filter(|c| !c.is_empty()) {
                q.append_pair("contextId", c);
            }
            if let Some(s) = r.status {
                q.append_pair("status", s.as_proto_str());
            }
            if let Some(n) = r.page_size {
                q.append_pair("pageSize", &n.to_string());
            }
            if let Some(t) = r.page_token.as_deref().filter(|t| !t.is_empty()) {
                q.append_pair("pageToken", t);
            }
            if let Some(n) = r.history_length {
                q.append_pair("historyLength", &n.to_string());
            }
            if let Some(t) = r.status_timestamp_after {
                q.append_pair("statusTimestampAfter", &t.to_string());
            }
            if let Some(b) = r.include_artifacts {
                q.append_pair("includeArtifacts", if b { "true" } else { "false" });
            }
            append_query(&mut url, q.finish());
            (http.get(&url), url)
        }
        Op::Cancel(r) => {
            let url = format!("{}:cancel", task(&r.id)?);
            let mut body = Map::new();
            if let Some(m) = &r.metadata {
                body.insert("metadata".into(), Value::Object(m.clone()));
            }
            let req = http
                .post(&url)
                .header(CONTENT_TYPE, "application/json")
                .body(json_body(Value::Object(body)));
            (req, url)
        }
        Op::Subscribe(r, _) => {
            let url = format!("{}:subscribe", task(&r.id)?);
            (http.post(&url), url)
        }
    })
}

fn append_query(url: &mut String, query: String) {
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved
/// characters).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::A2aError;
    use crate::model::Message;

    fn classify(binding: Binding, status: u16, body: &str) -> &'static str {
        match interpret(binding, "u", status, body.as_bytes(), None) {
            Ok(_) => "ok",
            Err(Failure::Unreachable(_)) => "unreachable",
            Err(Failure::Transient(..)) => "transient",
            Err(Failure::WrongEndpoint(_)) => "wrong",
            Err(Failure::Fatal(_)) => "fatal",
        }
    }

    #[test]
    fn answers_are_classified_for_retry_and_fallback() {
        let rpc_err = |e: A2aError| json!({"jsonrpc":"2.0","id":"1","error":e.to_jsonrpc_error()});
        let rest_err = |e: A2aError| e.to_rest_body().to_string();
        use Binding::*;
        assert_eq!(
            classify(JsonRpc, 200, r#"{"jsonrpc":"2.0","id":"1","result":{}}"#),
            "ok"
        );
        assert_eq!(
            classify(
                JsonRpc,
                200,
                &rpc_err(A2aError::TaskNotFound("x".into())).to_string()
            ),
            "fatal"
        );
        assert_eq!(
            classify(
                JsonRpc,
                404,
                &rpc_err(A2aError::AgentNotFound("x".into())).to_string()
            ),
            "wrong"
        );
        assert_eq!(
            classify(
                JsonRpc,
                200,
                &rpc_err(A2aError::MethodNotFound("m".into())).to_string()
            ),
            "wrong"
        );
        assert_eq!(
            classify(
                JsonRpc,
                404,
                &rest_err(A2aError::MethodNotFound("p".into()))
            ),
            "wrong"
        );
        assert_eq!(classify(JsonRpc, 200, "<html>hi</html>"), "wrong");
        assert_eq!(classify(JsonRpc, 503, ""), "transient");
        assert_eq!(classify(HttpJson, 502, "bad gateway"), "transient");
        assert_eq!(classify(HttpJson, 200, r#"{"id":"t"}"#), "ok");
        assert_eq!(
            classify(HttpJson, 404, &rest_err(A2aError::TaskNotFound("t".into()))),
            "fatal"
        );
        assert_eq!(
            classify(
                HttpJson,
                404,
                &rest_err(A2aError::AgentNotFound("a".into()))
            ),
            "wrong"
        );
        assert_eq!(classify(HttpJson, 404, "Not Found"), "wrong");
        assert_eq!(
            classify(
                HttpJson,
                415,
                &rest_err(A2aError::ContentTypeNotSupported("x".into()))
            ),
            "fatal"
        );
        assert_eq!(classify(HttpJson, 500, "oops"), "fatal");
        assert_eq!(
            classify(
                HttpJson,
                400,
                &rest_err(A2aError::VersionNotSupported("0.3".into()))
            ),
            "wrong"
        );
    }

    #[test]
    fn messages_are_resendable_only_when_the_server_can_deduplicate() {
        let mut r = SendMessageRequest {
            message: Message::user_text("hi"),
            ..Default::default()
        };
        assert!(!Op::Send(r.clone()).retry_safe());
        r.message.context_id = Some("c".into());
        assert!(Op::Send(r.clone()).retry_safe());
        r.message.message_id.clear();
        assert!(!Op::Stream(r).retry_safe());
        assert!(Op::Get(GetTaskRequest::default()).retry_safe());
    }

    #[test]
    fn both_bindings_send_the_push_config_of_a_message() {
        use crate::model::{SendMessageConfiguration, TaskPushNotificationConfig};
        let req = SendMessageRequest {
            message: Message::user_text("hi"),
            configuration: Some(SendMessageConfiguration {
                task_push_notification_config: Some(TaskPushNotificationConfig {
                    url: "http://hook/".into(),
                    token: Some("tok".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let want = json!({"url": "http://hook/", "token": "tok"});
        for op in [Op::Send(req.clone()), Op::Stream(req)] {
            let params = jsonrpc_params(&op, None).unwrap();
            assert_eq!(params["configuration"]["taskPushNotificationConfig"], want);

            let http = reqwest::Client::new();
            let ep = Endpoint {
                binding: Binding::HttpJson,
                url: "http://a/agents/x".into(),
                tenant: None,
            };
            let (builder, _) = rest_request(&http, &ep, &op).unwrap();
            let request = builder.build().unwrap();
            let body: Value =
                serde_json::from_slice(request.body().unwrap().as_bytes().unwrap()).unwrap();
            assert_eq!(body["configuration"]["taskPushNotificationConfig"], want);
        }
    }

    #[test]
    fn bindings_parse_from_cards_and_flags() {
        assert_eq!(Binding::from_card_name("jsonrpc"), Some(Binding::JsonRpc));
        assert_eq!(Binding::from_card_name("GRPC"), None);
        assert_eq!("rest".parse::<Binding>(), Ok(Binding::HttpJson));
        assert_eq!("HTTP+JSON".parse::<Binding>(), Ok(Binding::HttpJson));
        assert!("grpc".parse::<Binding>().is_err());
        assert_eq!(encode_segment("a b/c:d~"), "a%20b%2Fc%3Ad~");
    }
}
