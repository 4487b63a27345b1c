//! What can go wrong when calling an agent, and how the wire forms of A2A
//! errors (JSON-RPC `error` objects, google.rpc.Status bodies) become a
//! typed [`RemoteError`].

use std::fmt;

use serde_json::Value;

use crate::error::A2aError;

/// An A2A error the agent (or its host) answered with.
///
/// `code`, `reason` and `message` are what the server sent (for HTTP+JSON,
/// `code` is derived from the reason, as that binding carries no JSON-RPC
/// code). [`RemoteError::error`] classifies it as the host's own
/// [`A2aError`], so callers can `match` on the kind.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteError {
    /// The kind of error, rebuilt from `reason` (or `code`). String payloads
    /// hold the server's message; [`A2aError::TaskNotFound`] holds the task
    /// id when the server named it.
    pub error: A2aError,
    /// The JSON-RPC error code (e.g. -32001).
    pub code: i64,
    /// The google.rpc.ErrorInfo `reason` (e.g. `TASK_NOT_FOUND`); derived
    /// from the code when the server sent no ErrorInfo.
    pub reason: String,
    /// The server's human-readable message.
    pub message: String,
    /// The HTTP status of the answer, when it was not part of a stream.
    pub http_status: Option<u16>,
    /// The typed `details` / `data` entries as sent.
    pub details: Vec<Value>,
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, code {})", self.message, self.reason, self.code)
    }
}

impl RemoteError {
    /// Reads a JSON-RPC `error` member: `{code, message, data:[ErrorInfo…]}`.
    pub fn from_jsonrpc(error: &Value, http_status: Option<u16>) -> RemoteError {
        let code = error.get("code").and_then(Value::as_i64).unwrap_or(-32603);
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)")
            .to_string();
        let details = match error.get("data") {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other.clone()],
        };
        RemoteError::build(Some(code), message, http_status, details)
    }

    /// Reads an HTTP+JSON error body: `{"error":{code,status,message,details}}`.
    /// `None` if `body` is not one.
    pub fn from_rest(body: &Value, http_status: Option<u16>) -> Option<RemoteError> {
        let error = body.get("error")?.as_object()?;
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)")
            .to_string();
        let details = error
            .get("details")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Some(RemoteError::build(None, message, http_status, details))
    }

    fn build(
        code: Option<i64>,
        message: String,
        http_status: Option<u16>,
        details: Vec<Value>,
    ) -> RemoteError {
        let info = details.iter().find(|d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("google.rpc.ErrorInfo"))
        });
        let reason = info
            .and_then(|i| i.get("reason"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let meta = |key: &str| {
            info.and_then(|i| i.get("metadata"))
                .and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let field = details
            .iter()
            .filter_map(|d| d.get("fieldViolations")?.as_array()?.first()?.get("field"))
            .filter_map(Value::as_str)
            .map(str::to_string)
            .next();
        let error = classify(
            reason.as_deref(),
            code,
            http_status,
            &message,
            meta("taskId"),
            field,
        );
        RemoteError {
            code: code.unwrap_or_else(|| error.code()),
            reason: reason.unwrap_or_else(|| error.reason().to_string()),
            error,
            message,
            http_status,
            details,
        }
    }

    /// Whether the error says this URL does not serve the operation at all
    /// (no such agent, no such route or method, another protocol version),
    /// so that another interface of the card may do better.
    pub(crate) fn is_wrong_endpoint(&self) -> bool {
        matches!(
            self.reason.as_str(),
            "AGENT_NOT_FOUND" | "METHOD_NOT_FOUND" | "METHOD_NOT_ALLOWED" | "VERSION_NOT_SUPPORTED"
        )
    }
}

/// Rebuilds the host's error kind from what the wire said: the reason when
/// known, else the JSON-RPC code, else the HTTP status.
fn classify(
    reason: Option<&str>,
    code: Option<i64>,
    http_status: Option<u16>,
    message: &str,
    task_id: Option<String>,
    field: Option<String>,
) -> A2aError {
    let m = || message.to_string();
    let by_reason = match reason {
        Some("PARSE_ERROR") => Some(A2aError::Parse(m())),
        Some("INVALID_REQUEST") => Some(A2aError::InvalidRequest(m())),
        Some("METHOD_NOT_FOUND") => Some(A2aError::MethodNotFound(m())),
        Some("INVALID_PARAMS") => Some(A2aError::InvalidParams {
            message: m(),
            field: field.clone(),
        }),
        Some("INTERNAL_ERROR") | Some("INTERNAL") => Some(A2aError::Internal(m())),
        Some("TASK_NOT_FOUND") => Some(A2aError::TaskNotFound(task_id.clone().unwrap_or_default())),
        Some("TASK_NOT_CANCELABLE") => Some(A2aError::TaskNotCancelable(m())),
        Some("PUSH_NOTIFICATION_NOT_SUPPORTED") => Some(A2aError::PushNotificationNotSupported),
        Some("UNSUPPORTED_OPERATION") => Some(A2aError::UnsupportedOperation(m())),
        Some("CONTENT_TYPE_NOT_SUPPORTED") => Some(A2aError::ContentTypeNotSupported(m())),
        Some("INVALID_AGENT_RESPONSE") => Some(A2aError::InvalidAgentResponse(m())),
        Some("EXTENDED_AGENT_CARD_NOT_CONFIGURED") => Some(A2aError::ExtendedCardNotConfigured),
        Some("EXTENSION_SUPPORT_REQUIRED") => Some(A2aError::ExtensionSupportRequired(m())),
        Some("VERSION_NOT_SUPPORTED") => Some(A2aError::VersionNotSupported(m())),
        Some("PAYLOAD_TOO_LARGE") => Some(A2aError::PayloadTooLarge(0)),
        Some("AGENT_NOT_FOUND") => Some(A2aError::AgentNotFound(m())),
        Some("UNAVAILABLE") => Some(A2aError::Unavailable(m())),
        _ => None,
    };
    if let Some(e) = by_reason {
        return e;
    }
    match code {
        Some(-32700) => A2aError::Parse(m()),
        Some(-32600) => A2aError::InvalidRequest(m()),
        Some(-32601) => A2aError::MethodNotFound(m()),
        Some(-32602) => A2aError::InvalidParams {
            message: m(),
            field,
        },
        Some(-32001) => A2aError::TaskNotFound(task_id.unwrap_or_default()),
        Some(-32002) => A2aError::TaskNotCancelable(m()),
        Some(-32003) => A2aError::PushNotificationNotSupported,
        Some(-32004) => A2aError::UnsupportedOperation(m()),
        Some(-32005) => A2aError::ContentTypeNotSupported(m()),
        Some(-32006) => A2aError::InvalidAgentResponse(m()),
        Some(-32007) => A2aError::ExtendedCardNotConfigured,
        Some(-32008) => A2aError::ExtensionSupportRequired(m()),
        Some(-32009) => A2aError::VersionNotSupported(m()),
        Some(_) => A2aError::Internal(m()),
        None => match http_status {
            Some(400) => A2aError::invalid(m()),
            Some(404) => A2aError::MethodNotFound(m()),
            Some(413) => A2aError::PayloadTooLarge(0),
            Some(415) => A2aError::ContentTypeNotSupported(m()),
            Some(503) => A2aError::Unavailable(m()),
            _ => A2aError::Internal(m()),
        },
    }
}

/// Why a client call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The agent answered with an A2A error.
    #[error("the agent answered with an error: {0}")]
    Agent(Box<RemoteError>),
    /// No connection could be made (refused, DNS, TLS, connect timeout), or
    /// it broke before an answer arrived.
    #[error("could not reach {url}: {message}")]
    Unreachable {
        /// The URL that was called.
        url: String,
        /// What went wrong, with its chain of causes.
        message: String,
    },
    /// An HTTP answer that is not an A2A answer (e.g. a 404 page, a 502
    /// from a proxy).
    #[error("HTTP {status} from {url}: {message}")]
    Http {
        /// The URL that answered.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// What was wrong, followed by up to 200 characters of the body.
        message: String,
    },
    /// The answer could not be understood.
    #[error("unexpected answer from {url}: {message}")]
    InvalidResponse {
        /// The URL that answered.
        url: String,
        /// What could not be understood.
        message: String,
    },
    /// The agent card could not be used.
    #[error("agent card {url}: {message}")]
    Card {
        /// The card's URL.
        url: String,
        /// Why the card could not be fetched or used.
        message: String,
    },
    /// A stream broke and could not be resumed.
    #[error("the event stream was lost{}: {message}", task_id.as_ref().map(|t| format!(" (task {t})")).unwrap_or_default())]
    StreamLost {
        /// The task the stream was for, if it was known by then.
        task_id: Option<String>,
        /// Why the stream broke and why it could not be resumed.
        message: String,
    },
    /// The caller's input is unusable (e.g. a malformed URL).
    #[error("{0}")]
    InvalidArgument(String),
}

impl From<RemoteError> for ClientError {
    fn from(e: RemoteError) -> Self {
        ClientError::Agent(Box::new(e))
    }
}

impl ClientError {
    /// The A2A error, if the agent answered with one.
    pub fn remote(&self) -> Option<&RemoteError> {
        match self {
            ClientError::Agent(r) => Some(r.as_ref()),
            _ => None,
        }
    }

    /// The host's error kind, if the agent answered with an A2A error.
    pub fn a2a(&self) -> Option<&A2aError> {
        self.remote().map(|r| &r.error)
    }
}

/// The error message of `e` and all its sources, joined by `: ` (reqwest
/// hides the useful part, e.g. "Connection refused", in the sources).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jsonrpc_errors_keep_code_reason_and_message() {
        let wire = A2aError::TaskNotFound("t-9".into()).to_jsonrpc_error();
        let e = RemoteError::from_jsonrpc(&wire, Some(200));
        assert_eq!(e.code, -32001);
        assert_eq!(e.reason, "TASK_NOT_FOUND");
        assert_eq!(e.error, A2aError::TaskNotFound("t-9".into()));
        assert!(e.message.contains("t-9"));

        // No ErrorInfo: the code decides, and the reason is derived.
        let e = RemoteError::from_jsonrpc(&json!({"code": -32004, "message": "nope"}), None);
        assert_eq!(e.error, A2aError::UnsupportedOperation("nope".into()));
        assert_eq!(e.reason, "UNSUPPORTED_OPERATION");
    }

    #[test]
    fn rest_errors_derive_the_code_from_the_reason() {
        let wire = A2aError::invalid_field("pageSize", "too big").to_rest_body();
        let e = RemoteError::from_rest(&wire, Some(400)).unwrap();
        assert_eq!(e.code, -32602);
        assert_eq!(
            e.error,
            A2aError::InvalidParams {
                message: "too big".into(),
                field: Some("pageSize".into())
            }
        );
        assert!(RemoteError::from_rest(&json!({"x": 1}), Some(500)).is_none());
        let e = RemoteError::from_rest(&json!({"error": {"message": "gone"}}), Some(404)).unwrap();
        assert!(e.is_wrong_endpoint(), "{e:?}");
        let e = RemoteError::from_rest(&A2aError::AgentNotFound("x".into()).to_rest_body(), None)
            .unwrap();
        assert!(e.is_wrong_endpoint());
    }
}
