//! Protocol errors, and how each binding writes them.
//!
//! One enum, [`A2aError`], is what the task manager and the bindings return.
//! The JSON-RPC binding turns it into `{code, message, data:[ErrorInfo]}`,
//! the HTTP+JSON binding into `{"error":{code,status,message,details}}`
//! (google.rpc.Status). The codes and HTTP statuses follow A2A 1.0.1, except
//! that an unsupported request Content-Type answers 415 as the TCK expects.

use serde_json::{Value, json};

/// The ErrorInfo domain every A2A error carries.
pub const ERROR_DOMAIN: &str = "a2a-protocol.org";

/// An error a client can see.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum A2aError {
    /// The request could not be parsed as JSON (JSON-RPC -32700).
    #[error("{0}")]
    Parse(String),
    /// The request is not a valid request, or its body could not be read
    /// (JSON-RPC -32600).
    #[error("{0}")]
    InvalidRequest(String),
    /// The JSON-RPC method does not exist (-32601).
    #[error("method `{0}` is not part of A2A")]
    MethodNotFound(String),
    /// `field` names the offending parameter (dotted path), if known.
    #[error("{message}")]
    InvalidParams {
        /// What is wrong with the parameters.
        message: String,
        /// The offending parameter, as a dotted path.
        field: Option<String>,
    },
    /// The server failed (JSON-RPC -32603).
    #[error("{0}")]
    Internal(String),
    /// No task with this id exists for this agent.
    #[error("task `{0}` was not found")]
    TaskNotFound(String),
    /// The task exists but has no push config with this id (answered as
    /// TaskNotFoundError, the spec's error for a missing config).
    #[error("task `{task_id}` has no push notification config `{config_id}`")]
    PushConfigNotFound {
        /// The task.
        task_id: String,
        /// The config id asked for.
        config_id: String,
    },
    /// The task is in a state that cannot be canceled, e.g. terminal.
    #[error("{0}")]
    TaskNotCancelable(String),
    /// The agent does not support push notifications.
    #[error("push notifications are not supported by this agent")]
    PushNotificationNotSupported,
    /// The operation is not supported by this agent or in the task's
    /// current state, e.g. a message to a terminal task.
    #[error("{0}")]
    UnsupportedOperation(String),
    /// A part's media type, or the request's Content-Type, is not accepted.
    #[error("{0}")]
    ContentTypeNotSupported(String),
    /// The agent produced a response the host cannot accept.
    #[error("{0}")]
    InvalidAgentResponse(String),
    /// The agent declares an extended card but none is configured.
    #[error("this agent has no extended agent card configured")]
    ExtendedCardNotConfigured,
    /// The client must support an extension it did not declare.
    #[error("{0}")]
    ExtensionSupportRequired(String),
    /// The requested `A2A-Version` is not served here.
    #[error("A2A version `{0}` is not supported; use 1.0 or 0.3")]
    VersionNotSupported(String),
    /// The body was larger than the configured limit (HTTP 413).
    #[error("request body is larger than the {0}-byte limit")]
    PayloadTooLarge(usize),
    /// The agent does not exist under this URL (HTTP 404).
    #[error("no agent named `{0}` is served here")]
    AgentNotFound(String),
    /// A backing service is down or the host is draining (HTTP 503).
    #[error("{0}")]
    Unavailable(String),
}

impl A2aError {
    /// Invalid params naming a field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        A2aError::InvalidParams {
            message: message.into(),
            field: Some(field.to_string()),
        }
    }

    /// Invalid params with no particular field.
    pub fn invalid(message: impl Into<String>) -> Self {
        A2aError::InvalidParams {
            message: message.into(),
            field: None,
        }
    }

    /// The JSON-RPC error code.
    pub fn code(&self) -> i64 {
        match self {
            A2aError::Parse(_) => -32700,
            A2aError::InvalidRequest(_) => -32600,
            A2aError::MethodNotFound(_) | A2aError::AgentNotFound(_) => -32601,
            A2aError::InvalidParams { .. } => -32602,
            A2aError::Internal(_) | A2aError::Unavailable(_) => -32603,
            A2aError::TaskNotFound(_) | A2aError::PushConfigNotFound { .. } => -32001,
            A2aError::TaskNotCancelable(_) => -32002,
            A2aError::PushNotificationNotSupported => -32003,
            A2aError::UnsupportedOperation(_) => -32004,
            A2aError::ContentTypeNotSupported(_) => -32005,
            A2aError::InvalidAgentResponse(_) => -32006,
            A2aError::ExtendedCardNotConfigured => -32007,
            A2aError::ExtensionSupportRequired(_) => -32008,
            A2aError::VersionNotSupported(_) => -32009,
            A2aError::PayloadTooLarge(_) => -32600,
        }
    }

    /// The ErrorInfo `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            A2aError::Parse(_) => "PARSE_ERROR",
            A2aError::InvalidRequest(_) => "INVALID_REQUEST",
            A2aError::MethodNotFound(_) => "METHOD_NOT_FOUND",
            A2aError::InvalidParams { .. } => "INVALID_PARAMS",
            A2aError::Internal(_) => "INTERNAL_ERROR",
            A2aError::TaskNotFound(_) | A2aError::PushConfigNotFound { .. } => "TASK_NOT_FOUND",
            A2aError::TaskNotCancelable(_) => "TASK_NOT_CANCELABLE",
            A2aError::PushNotificationNotSupported => "PUSH_NOTIFICATION_NOT_SUPPORTED",
            A2aError::UnsupportedOperation(_) => "UNSUPPORTED_OPERATION",
            A2aError::ContentTypeNotSupported(_) => "CONTENT_TYPE_NOT_SUPPORTED",
            A2aError::InvalidAgentResponse(_) => "INVALID_AGENT_RESPONSE",
            A2aError::ExtendedCardNotConfigured => "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
            A2aError::ExtensionSupportRequired(_) => "EXTENSION_SUPPORT_REQUIRED",
            A2aError::VersionNotSupported(_) => "VERSION_NOT_SUPPORTED",
            A2aError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            A2aError::AgentNotFound(_) => "AGENT_NOT_FOUND",
            A2aError::Unavailable(_) => "UNAVAILABLE",
        }
    }

    /// The HTTP status of the HTTP+JSON binding.
    pub fn http_status(&self) -> u16 {
        match self {
            A2aError::Parse(_)
            | A2aError::InvalidRequest(_)
            | A2aError::InvalidParams { .. }
            | A2aError::TaskNotCancelable(_)
            | A2aError::PushNotificationNotSupported
            | A2aError::UnsupportedOperation(_)
            | A2aError::ExtendedCardNotConfigured
            | A2aError::ExtensionSupportRequired(_)
            | A2aError::VersionNotSupported(_) => 400,
            A2aError::TaskNotFound(_)
            | A2aError::PushConfigNotFound { .. }
            | A2aError::MethodNotFound(_)
            | A2aError::AgentNotFound(_) => 404,
            A2aError::ContentTypeNotSupported(_) => 415,
            A2aError::PayloadTooLarge(_) => 413,
            A2aError::Internal(_) | A2aError::InvalidAgentResponse(_) => 500,
            A2aError::Unavailable(_) => 503,
        }
    }

    /// The google.rpc canonical code name for the HTTP status.
    pub fn grpc_status(&self) -> &'static str {
        match self.http_status() {
            400 | 413 | 415 => {
                if matches!(
                    self,
                    A2aError::Parse(_)
                        | A2aError::InvalidRequest(_)
                        | A2aError::InvalidParams { .. }
                        | A2aError::ContentTypeNotSupported(_)
                        | A2aError::PayloadTooLarge(_)
                ) {
                    "INVALID_ARGUMENT"
                } else {
                    "FAILED_PRECONDITION"
                }
            }
            404 => "NOT_FOUND",
            503 => "UNAVAILABLE",
            _ => "INTERNAL",
        }
    }

    /// The typed details: an ErrorInfo, and a BadRequest naming the field
    /// for invalid params.
    pub fn details(&self) -> Vec<Value> {
        let mut metadata = serde_json::Map::new();
        if let A2aError::TaskNotFound(id) = self {
            metadata.insert("taskId".into(), Value::String(id.clone()));
        }
        let mut details = vec![json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": self.reason(),
            "domain": ERROR_DOMAIN,
            "metadata": metadata,
        })];
        if let A2aError::InvalidParams {
            field: Some(field),
            message,
        } = self
        {
            details.push(json!({
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": message}],
            }));
        }
        details
    }

    /// The JSON-RPC `error` object.
    pub fn to_jsonrpc_error(&self) -> Value {
        json!({"code": self.code(), "message": self.to_string(), "data": self.details()})
    }

    /// The HTTP+JSON error body.
    pub fn to_rest_body(&self) -> Value {
        json!({"error": {
            "code": self.http_status(),
            "status": self.grpc_status(),
            "message": self.to_string(),
            "details": self.details(),
        }})
    }
}

impl From<crate::store::StoreError> for A2aError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::NotFound(id) => A2aError::TaskNotFound(id),
            crate::store::StoreError::Unavailable(m) => {
                A2aError::Unavailable(format!("task store unavailable: {m}"))
            }
            other => A2aError::Internal(format!("task store: {other}")),
        }
    }
}
