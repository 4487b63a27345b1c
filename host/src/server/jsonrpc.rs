//! The JSON-RPC 2.0 binding (A2A spec §9): `POST /agents/NAME` (and `/`).
//!
//! A request goes through these checks, in order, and the first failure is
//! the answer:
//!
//! 1. the agent exists — else HTTP 404 (`AGENT_NOT_FOUND`, code -32601), or
//!    503 if its only version failed to load;
//! 2. `Content-Type` is `application/json` or `application/a2a+json` —
//!    else -32005 ContentTypeNotSupported (checked **before** the body is
//!    parsed, as the TCK expects);
//! 3. the body fits [`ServerConfig::max_body_bytes`](super::ServerConfig) —
//!    else HTTP 413 with a -32600 error body;
//! 4. the body is JSON — else -32700;
//! 5. it is one request object with `"jsonrpc": "2.0"`, a string `method`
//!    and an `id` that is a string, number or null — else -32600.
//!    **Batches** (arrays) are refused with -32600 "batch requests are not
//!    supported": A2A clients do not send them, and a batch cannot mix with
//!    SSE answers;
//! 6. the `A2A-Version` is supported — else -32009, listing the versions
//!    served. `1.0` (any patch) speaks A2A 1.0; no header, an empty one or
//!    `0.3` speaks A2A 0.3 (see [`super::v03`]);
//! 7. the method is one of that version's methods (the 11 of 1.0, or the 10
//!    of 0.3: `message/send`, `tasks/get`, …) — else -32601, whose message
//!    says when the name belongs to the other version;
//! 8. the params are in that version's shape — else -32602 naming the field
//!    (a 1.0 request with 0.3 shapes, such as `kind` on parts, or the other
//!    way round, is refused, never misread);
//! 9. the params deserialize — else -32602 naming the offending field.
//!
//! A well-formed 1.0 request is read straight from its text into the
//! typed envelope and params; whatever that read does not take (a 0.3
//! key anywhere in the params, a malformed envelope, bad params) is read
//! into a JSON value and checked step by step, so the answers above are
//! the same either way (see `v1_object`).
//!
//! Errors are HTTP 200 with a JSON-RPC error body unless noted above.
//! Responses are `Content-Type: application/json`. The streaming methods
//! answer `text/event-stream`, each event a full JSON-RPC response with the
//! request's id (see `server/sse.rs`) whose `result` is the 1.0
//! `StreamResponse`, or for 0.3 the bare `kind`-tagged event; errors found
//! before the stream starts are a plain JSON-RPC error body.
//!
//! **Notifications** (a request without `id`) are executed, and answered
//! with HTTP 204 and no body, whatever the outcome, as JSON-RPC requires (a
//! streaming notification starts the task and drops its stream). Requests
//! that fail before their `id` can be known are answered with `id: null`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::http_util::{self, JSON};
use super::sse::{self, Framing, Wire};
use super::version::{self, RequestMeta, Version};
use super::{ApiError, App, PathArgs, Target, v03};
use crate::error::A2aError;
use crate::manager::EventStream;
use crate::model::{
    CancelTaskRequest, GetTaskRequest, ListTaskPushConfigsRequest, ListTasksRequest,
    SendMessageRequest, SubscribeToTaskRequest, TaskPushConfigRef, TaskPushNotificationConfig,
};

/// The 1.0 method names, in spec order.
pub const METHODS: [&str; 11] = [
    "SendMessage",
    "SendStreamingMessage",
    "GetTask",
    "ListTasks",
    "CancelTask",
    "SubscribeToTask",
    "CreateTaskPushNotificationConfig",
    "GetTaskPushNotificationConfig",
    "ListTaskPushNotificationConfigs",
    "DeleteTaskPushNotificationConfig",
    "GetExtendedAgentCard",
];

/// One parsed JSON-RPC request.
pub(super) struct RpcRequest {
    /// `None` for a notification.
    pub(super) id: Option<Value>,
    pub(super) method: String,
    /// The params' JSON text, read by each method into its own type;
    /// `None` when absent or `null`.
    pub(super) params: Option<Box<RawValue>>,
}

impl RpcRequest {
    /// The params as a JSON value (the 0.3 methods read them so).
    pub(super) fn params_value(&self) -> Result<Option<Value>, ApiError> {
        self.params
            .as_deref()
            .map(|p| serde_json::from_str(p.get()))
            .transpose()
            .map_err(|e| ApiError::new(A2aError::Parse(format!("unreadable `params`: {e}"))))
    }
}

/// The envelope as the common case is read: straight from the text, the
/// params left unparsed.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    jsonrpc: &'a str,
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    method: String,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

/// A field that is there, even as `null` (which `Option` would read as
/// absent: a request with `"id": null` is not a notification).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// What a method produced.
pub(super) enum Outcome {
    /// The `result`, already encoded: typed results are serialized once,
    /// straight to JSON text, never through a `serde_json::Value`.
    Value(Box<RawValue>),
    /// Events, and the form they are written in.
    Stream(EventStream, Wire),
}

/// The handler of `POST /agents/NAME` and `POST /`.
pub(crate) async fn handle(State(app): State<App>, path: PathArgs, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;

    let target = match app.resolve(&path) {
        Ok(t) => t,
        Err(e) => {
            let status = e.http_status();
            return error_response(status, Value::Null, &e);
        }
    };
    let rpc = match read_request(&app, headers, body).await {
        Ok(r) => r,
        Err((status, e)) => return error_response(status, Value::Null, &e),
    };
    let id = rpc.id.clone();
    let reply_id = id.clone().unwrap_or(Value::Null);

    let result = async {
        let meta = version::request_meta(headers, parts.uri.query())?;
        dispatch(&app, &target, &meta, headers, rpc).await
    }
    .await;

    if id.is_none() {
        if let Err(e) = &result {
            tracing::debug!(error = %e.message(), "JSON-RPC notification failed");
        }
        return StatusCode::NO_CONTENT.into_response();
    }
    match result {
        Ok(Outcome::Value(result)) => http_util::json_bytes_response(
            StatusCode::OK,
            JSON,
            result_envelope(&reply_id, &result),
        ),
        Ok(Outcome::Stream(stream, wire)) => {
            sse::response(stream, Framing::JsonRpc(reply_id, wire), &app.config).await
        }
        Err(e) => error_response(StatusCode::OK, reply_id, &e),
    }
}

/// Steps 2–5: content type, size, JSON, envelope.
async fn read_request(
    app: &App,
    headers: &HeaderMap,
    body: Body,
) -> Result<RpcRequest, (StatusCode, ApiError)> {
    if !http_util::is_json_content_type(headers) {
        return Err((StatusCode::OK, http_util::content_type_error(headers)));
    }
    let bytes = http_util::read_body(headers, body, app.config.max_body_bytes)
        .await
        .map_err(|e| {
            let status = if matches!(e.error, A2aError::PayloadTooLarge(_)) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::OK
            };
            (status, e)
        })?;
    parse_request(&bytes).map_err(|e| (StatusCode::OK, e))
}

/// Steps 4 and 5. A well-formed request (one object, `"jsonrpc": "2.0"`,
/// a string method, an id of an allowed kind) is read straight from the
/// text; anything else is read into a value and checked step by step,
/// which names what is wrong.
fn parse_request(bytes: &[u8]) -> Result<RpcRequest, ApiError> {
    // A struct also reads from an array; only an object is a request.
    if bytes.trim_ascii_start().first() == Some(&b'{')
        && let Ok(env) = serde_json::from_slice::<Envelope>(bytes)
        && env.jsonrpc == "2.0"
        && matches!(
            env.id,
            None | Some(Value::String(_) | Value::Number(_) | Value::Null)
        )
    {
        return Ok(RpcRequest {
            id: env.id,
            method: env.method,
            params: env.params.map(RawValue::to_owned),
        });
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(A2aError::Parse(format!(
            "request body is not valid JSON: {e}"
        )))
    })?;
    parse_envelope(value)
}

fn parse_envelope(value: Value) -> Result<RpcRequest, ApiError> {
    let invalid = |m: &str| ApiError::new(A2aError::InvalidRequest(m.to_string()));
    let mut obj = match value {
        Value::Object(o) => o,
        Value::Array(_) => {
            return Err(invalid(
                "batch requests are not supported; send one request object per HTTP request",
            ));
        }
        _ => return Err(invalid("a JSON-RPC request must be a JSON object")),
    };
    match obj.get("jsonrpc") {
        Some(Value::String(v)) if v == "2.0" => {}
        Some(_) => return Err(invalid("`jsonrpc` must be exactly \"2.0\"")),
        None => return Err(invalid("missing `jsonrpc: \"2.0\"`")),
    }
    let id = match obj.remove("id") {
        None => None,
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Null)) => Some(v),
        Some(_) => return Err(invalid("`id` must be a string, a number or null")),
    };
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        Some(_) => return Err(invalid("`method` must be a string")),
        None => return Err(invalid("missing `method`")),
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => None,
        Some(p) => Some(serde_json::value::to_raw_value(&p).map_err(|e| {
            ApiError::new(A2aError::Internal(format!("could not keep `params`: {e}")))
        })?),
    };
    Ok(RpcRequest { id, method, params })
}

/// Steps 7–9 (the version was read in step 6), and the call into the task
/// manager.
async fn dispatch(
    app: &App,
    target: &Target,
    meta: &RequestMeta,
    headers: &HeaderMap,
    rpc: RpcRequest,
) -> Result<Outcome, ApiError> {
    match meta.version {
        Version::V1_0 => dispatch_v1(app, target, headers, rpc).await,
        Version::V0_3 => v03::dispatch_rpc(app, target, headers, rpc).await,
    }
}

async fn dispatch_v1(
    app: &App,
    target: &Target,
    headers: &HeaderMap,
    rpc: RpcRequest,
) -> Result<Outcome, ApiError> {
    let m = &app.manager;
    let agent = target.name.as_str();
    let method = rpc.method.as_str();
    let params = rpc.params.as_deref();
    match method {
        "SendMessage" => {
            let req: SendMessageRequest = required(method, params)?;
            value(m.send_message(agent, req).await)
        }
        "SendStreamingMessage" => {
            let req: SendMessageRequest = required(method, params)?;
            target.require_streaming()?;
            let stream = m.send_streaming_message(agent, req).await?;
            Ok(Outcome::Stream(stream, Wire::V1))
        }
        "GetTask" => {
            let req: GetTaskRequest = required(method, params)?;
            value(m.get_task(agent, req).await)
        }
        "ListTasks" => {
            let req: ListTasksRequest = optional(method, params)?;
            value(m.list_tasks(agent, req).await)
        }
        "CancelTask" => {
            let req: CancelTaskRequest = required(method, params)?;
            value(m.cancel_task(agent, req).await)
        }
        "SubscribeToTask" => {
            let req: SubscribeToTaskRequest = required(method, params)?;
            target.require_streaming()?;
            let last = http_util::last_event_id(headers)?;
            Ok(Outcome::Stream(
                m.subscribe(agent, req, last).await?,
                Wire::V1,
            ))
        }
        "CreateTaskPushNotificationConfig" => {
            let req: TaskPushNotificationConfig = required(method, params)?;
            value(m.create_push_config(agent, req).await)
        }
        "GetTaskPushNotificationConfig" => {
            let req: TaskPushConfigRef = required(method, params)?;
            value(m.get_push_config(agent, req).await)
        }
        "ListTaskPushNotificationConfigs" => {
            let req: ListTaskPushConfigsRequest = required(method, params)?;
            value(m.list_push_configs(agent, req).await)
        }
        "DeleteTaskPushNotificationConfig" => {
            let req: TaskPushConfigRef = required(method, params)?;
            m.delete_push_config(agent, req).await?;
            value(Ok(Map::new()))
        }
        "GetExtendedAgentCard" => {
            // Params ({tenant?}) may be left out; still reject bad ones.
            let _: Map<String, Value> = optional(method, params)?;
            Err(extended_card_unsupported())
        }
        other if v03::METHODS.contains(&other) => Err(ApiError::new(A2aError::MethodNotFound(
            other.to_string(),
        ))
        .with_message(format!(
            "`{other}` is an A2A 0.3 method, but this request speaks A2A 1.0 \
             (`A2A-Version: 1.0`); leave the header out (or send 0.3) to use it, \
             or call the 1.0 methods: {}",
            METHODS.join(", ")
        ))),
        other => Err(
            ApiError::new(A2aError::MethodNotFound(other.to_string())).with_message(format!(
                "method `{other}` is not part of A2A 1.0; the methods are: {}",
                METHODS.join(", ")
            )),
        ),
    }
}

/// A manager result as a JSON-RPC `result` value.
pub(super) fn value<T: serde::Serialize>(r: Result<T, A2aError>) -> Result<Outcome, ApiError> {
    let v = r.map_err(ApiError::from)?;
    serde_json::value::to_raw_value(&v)
        .map(Outcome::Value)
        .map_err(|e| {
            ApiError::new(A2aError::Internal(format!(
                "could not encode the result: {e}"
            )))
        })
}

/// The body of a successful JSON-RPC response, written in one buffer of the
/// right size (a task can carry megabytes of artifacts).
fn result_envelope(id: &Value, result: &RawValue) -> Vec<u8> {
    let id = id.to_string();
    let result = result.get();
    let mut body = Vec::with_capacity(result.len() + id.len() + 40);
    body.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    body.extend_from_slice(id.as_bytes());
    body.extend_from_slice(b",\"result\":");
    body.extend_from_slice(result.as_bytes());
    body.push(b'}');
    body
}

/// The answer to GetExtendedAgentCard while no agent offers one.
pub(crate) fn extended_card_unsupported() -> ApiError {
    ApiError::new(A2aError::UnsupportedOperation(
        "this agent offers no extended agent card (capabilities.extendedAgentCard is false)".into(),
    ))
}

/// The params of 1.0 method `method`, which must be present.
fn required<T: DeserializeOwned>(method: &str, params: Option<&RawValue>) -> Result<T, ApiError> {
    match params {
        None => Err(ApiError::new(A2aError::invalid(
            "`params` is required for this method",
        ))),
        Some(p) => from_params(method, p),
    }
}

/// The params of 1.0 method `method`, which may be left out (then the
/// defaults apply).
fn optional<T: DeserializeOwned + Default>(
    method: &str,
    params: Option<&RawValue>,
) -> Result<T, ApiError> {
    match params {
        None => Ok(T::default()),
        Some(p) => from_params(method, p),
    }
}

fn from_params<T: DeserializeOwned>(method: &str, params: &RawValue) -> Result<T, ApiError> {
    if !params.get().starts_with('{') {
        return Err(ApiError::new(A2aError::invalid(
            "`params` must be a JSON object (by-name parameters)",
        )));
    }
    v1_object(method, params.get())
}

/// A 1.0 request's params (or HTTP+JSON body) of `method`, a JSON object's
/// text, as `T`: 0.3 shapes refused (see [`v03::reject_v03_shapes`]),
/// a failure naming the offending field. When the text cannot hold a 0.3
/// shape, it is read straight into `T`; otherwise, and whenever that read
/// fails, it is read into a value first, checked, and read again with the
/// path of a failure tracked — the same answer either way, the fast one
/// only for well-formed requests.
pub(crate) fn v1_object<T: DeserializeOwned>(method: &str, json: &str) -> Result<T, ApiError> {
    if !v03::may_hold_v03_shapes(json)
        && let Ok(t) = serde_json::from_str(json)
    {
        return Ok(t);
    }
    let v: Value = serde_json::from_str(json).map_err(|e| {
        ApiError::new(A2aError::Parse(format!(
            "request body is not valid JSON: {e}"
        )))
    })?;
    v1_value(method, v)
}

/// [`v1_object`]'s checked path, for params already read into a value.
pub(crate) fn v1_value<T: DeserializeOwned>(method: &str, v: Value) -> Result<T, ApiError> {
    v03::reject_v03_shapes(method, &v)?;
    deserialize_value(v)
}

/// Deserializes `v`, turning a failure into invalid params that names the
/// offending field as a dotted path (`message.parts[0]`, `message.messageId`).
pub(crate) fn deserialize_value<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    // Valid params first, without tracking the path: the tracker copies
    // every key it passes. Only a failure is read again to name the field.
    if let Ok(t) = T::deserialize(&v) {
        return Ok(t);
    }
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let mut field = if path == "." { String::new() } else { path };
        // serde reports a missing field at its parent; name the field itself.
        if let Some(missing) = inner
            .strip_prefix("missing field `")
            .and_then(|s| s.split('`').next())
        {
            if !field.is_empty() {
                field.push('.');
            }
            field.push_str(missing);
        }
        if field.is_empty() {
            ApiError::new(A2aError::invalid(format!("invalid params: {inner}")))
        } else {
            let msg = format!("invalid params: `{field}`: {inner}");
            ApiError::new(A2aError::invalid_field(&field, msg))
        }
    })
}

fn error_response(status: StatusCode, id: Value, err: &ApiError) -> Response {
    http_util::json_response(
        status,
        JSON,
        &json!({"jsonrpc": "2.0", "id": id, "error": err.jsonrpc_error()}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_checked() {
        let ok = parse_envelope(json!({"jsonrpc": "2.0", "id": 1, "method": "GetTask"})).unwrap();
        assert_eq!(ok.id, Some(json!(1)));
        let note = parse_envelope(json!({"jsonrpc": "2.0", "method": "GetTask"})).unwrap();
        assert_eq!(note.id, None);
        for bad in [
            json!([]),
            json!([{"jsonrpc": "2.0", "id": 1, "method": "GetTask"}]),
            json!("x"),
            json!({"id": 1, "method": "GetTask"}),
            json!({"jsonrpc": "1.0", "id": 1, "method": "GetTask"}),
            json!({"jsonrpc": "2.0", "id": {}, "method": "GetTask"}),
            json!({"jsonrpc": "2.0", "id": true, "method": "GetTask"}),
            json!({"jsonrpc": "2.0", "id": 1}),
            json!({"jsonrpc": "2.0", "id": 1, "method": 5}),
        ] {
            let e = parse_envelope(bad.clone()).err().unwrap();
            assert_eq!(e.error.code(), -32600, "{bad}");
        }
    }

    #[test]
    fn requests_read_from_text_keep_their_id_and_params() {
        let r = parse_request(
            br#" {"jsonrpc": "2.0", "id": null, "method": "GetTask",
                                    "params":  {"id": "t"} }"#,
        )
        .unwrap();
        assert_eq!(
            r.id,
            Some(Value::Null),
            "an id of null is not a notification"
        );
        assert_eq!(r.method, "GetTask");
        assert_eq!(
            r.params.as_deref().map(RawValue::get),
            Some(r#"{"id": "t"}"#)
        );
        let r =
            parse_request(br#"{"method": "GetTask", "params": null, "jsonrpc": "2.0"}"#).unwrap();
        assert_eq!((r.id, r.params.is_none()), (None, true));
        // What the text path does not take goes the checked way.
        let r = parse_request(br#"{"jsonrpc": "2.0", "id": 7, "method": "Get\u0054ask"}"#).unwrap();
        assert_eq!((r.id, r.method.as_str()), (Some(json!(7)), "GetTask"));
        for (bad, code) in [
            (&br#"["2.0", 1, "GetTask", {}]"#[..], -32600),
            (
                br#"{"jsonrpc": "2.0", "id": [1], "method": "GetTask"}"#,
                -32600,
            ),
            (
                br#"{"jsonrpc": "2.0", "id": 1, "method": "GetTask"} x"#,
                -32700,
            ),
            (
                br#"{"jsonrpc": "2.0", "id": 1, "id": 2, "method": "GetTask"}"#,
                0,
            ),
        ] {
            match parse_request(bad) {
                Err(e) => assert_eq!(e.error.code(), code, "{}", String::from_utf8_lossy(bad)),
                // A repeated member: the value's reading keeps the last.
                Ok(r) => assert_eq!((code, r.id), (0, Some(json!(2)))),
            }
        }
    }

    #[test]
    fn params_read_from_text_refuse_v03_shapes_like_values() {
        let message = |extra: &str| {
            format!(
                r#"{{"message": {{"messageId": "m", "role": "ROLE_USER", "parts": [{{"text": "x"}}]{extra}}}}}"#
            )
        };
        let cases = [
            ("SendMessage", message(r#", "kind": "message""#), "message.kind"),
            ("SendMessage", message(r#", "k\u0069nd": "message""#), "message.kind"),
            (
                "SendMessage",
                r#"{"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "x", "kind": "text"}]}}"#.to_string(),
                "message.parts[0].kind",
            ),
            (
                "SendMessage",
                r#"{"message": {"messageId": "m", "role": "ROLE_USER", "content": []}}"#.to_string(),
                "message.content",
            ),
            (
                "SendStreamingMessage",
                format!(r#"{}, "configuration": {{"blocking": true}}}}"#, &message("")[..message("").len() - 1]),
                "configuration.blocking",
            ),
            ("SendMessage", message("").replace("ROLE_USER", "user"), "message.role"),
            (
                "CreateTaskPushNotificationConfig",
                r#"{"taskId": "t", "pushNotificationConfig": {"url": "u"}}"#.to_string(),
                "pushNotificationConfig",
            ),
        ];
        for (method, text, field) in cases {
            let from_text = match method {
                "CreateTaskPushNotificationConfig" => {
                    v1_object::<TaskPushNotificationConfig>(method, &text).map(drop)
                }
                _ => v1_object::<SendMessageRequest>(method, &text).map(drop),
            }
            .unwrap_err();
            assert!(
                matches!(&from_text.error, A2aError::InvalidParams { field: Some(f), .. } if f == field),
                "{method} {text}: {from_text:?}"
            );
            let value: Value = serde_json::from_str(&text).unwrap();
            let from_value = v03::reject_v03_shapes(method, &value).unwrap_err();
            assert_eq!(from_text.error, from_value, "{method} {text}");
        }
        let ok: SendMessageRequest = v1_object("SendMessage", &message("")).unwrap();
        assert_eq!(ok.message.text(), "x");
        // A text that merely mentions a 0.3 key reads the same, the slow way.
        let ok: SendMessageRequest =
            v1_object("SendMessage", &message("").replace(r#""x""#, r#""kind""#)).unwrap();
        assert_eq!(ok.message.text(), "kind");
    }

    #[test]
    fn bad_params_name_the_field() {
        let e = deserialize_value::<SendMessageRequest>(json!({})).unwrap_err();
        assert_eq!(e.error, A2aError::invalid_field("message", e.message()));
        let e = deserialize_value::<SendMessageRequest>(json!({"message": {"role": "ROLE_USER"}}))
            .unwrap_err();
        assert!(
            matches!(&e.error, A2aError::InvalidParams { field: Some(f), .. } if f == "message.messageId"),
            "{e:?}"
        );
        let e = deserialize_value::<ListTasksRequest>(json!({"status": "TASK_STATE_BOGUS"}))
            .unwrap_err();
        assert!(
            matches!(&e.error, A2aError::InvalidParams { field: Some(f), .. } if f == "status"),
            "{e:?}"
        );
        let e = deserialize_value::<SendMessageRequest>(json!({
            "message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"raw": "!!"}]}
        }))
        .unwrap_err();
        assert!(
            matches!(&e.error, A2aError::InvalidParams { field: Some(f), .. } if f.starts_with("message.parts[0]")),
            "{e:?}"
        );
    }
}
