//! A2A 0.3 on the wire, converted to and from the 1.0 [model](crate::model)
//! at the binding edge. Nothing behind the bindings sees a 0.3 shape.
//!
//! A2A 0.3 has two JSON forms, and a 0.3 client expects the one of the
//! binding it speaks:
//!
//! - [`json`]: the **JSON-RPC** form of the 0.3 JSON schema. Parts, messages,
//!   tasks and stream events carry a `kind` discriminator (`text`, `file`,
//!   `data`, `message`, `task`, `status-update`, `artifact-update`); states
//!   and roles are lowercase (`input-required`, `user`); results are the bare
//!   objects (a `message/send` result is the Task or the Message itself);
//!   status updates carry `final`.
//! - [`proto`]: the **HTTP+JSON** form, which 0.3 defines as the protobuf
//!   JSON of its `a2a.proto` (package `a2a.v1`) behind the `/v1/…` routes:
//!   messages carry their parts in `content`, parts are
//!   `{text}`/`{file:{fileWithUri|fileWithBytes, mimeType, name}}`/
//!   `{data:{data:{…}}}`, enums are `TASK_STATE_CANCELLED`-style names, a
//!   send answers `{task}` or `{message}` and a stream event is
//!   `{task}|{message}|{statusUpdate}|{artifactUpdate}`. This is what the
//!   official a2a-sdk 0.3 REST client sends and parses (strictly: it rejects
//!   fields the 0.3 proto does not have, so nothing 1.0-only is emitted).
//!
//! ## Mixed-up versions are errors, never misreadings
//!
//! A request in the other version's shape is refused with invalid params
//! naming the field, before it is read: [`json::check_send_params`] and
//! friends for 0.3 requests, [`reject_v03_shapes`] for 1.0 requests. Fields
//! neither version knows are still ignored.
//!
//! ## What does not survive a conversion
//!
//! - A 1.0 data part whose value is not a JSON object becomes the 0.3 object
//!   `{"value": …}` (0.3 data parts hold objects only).
//! - 1.0 `AuthenticationInfo` has one `scheme`; 0.3 has `schemes[]`: a 0.3
//!   list becomes its first entry, and a 1.0 scheme a one-entry list.
//! - The 0.3 protobuf `Message` has no `referenceTaskIds`; the HTTP+JSON form
//!   drops them on output.
//! - Task state `TASK_STATE_UNSPECIFIED` is 0.3 `unknown` and back.
//!
//! ## `fileWithBytes` in the HTTP+JSON form
//!
//! The a2a-sdk 0.3 client and server put the UTF-8 bytes of the 0.3 base64
//! text (`file.bytes`) into the protobuf `bytes` field, so on the wire the
//! content is base64 *twice*. The host writes it that way, and reads a value
//! whose decoded bytes are themselves base64 text as such; any other value
//! is taken as plain (once-encoded) protobuf bytes.

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::A2aError;
use crate::model::{self, Bytes, Metadata, PartContent};

/// The `protocolVersion` a 0.3 card states.
pub const V03_PROTOCOL_VERSION: &str = "0.3.0";

/// Deserializes `v`, naming the offending field (a dotted path under
/// `prefix`) in the error.
pub fn parse<T: DeserializeOwned>(v: Value, prefix: &str) -> Result<T, A2aError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let mut field = join(prefix, if path == "." { "" } else { &path });
        if let Some(missing) = inner
            .strip_prefix("missing field `")
            .and_then(|s| s.split('`').next())
        {
            field = join(&field, missing);
        }
        if field.is_empty() {
            A2aError::invalid(format!("invalid params: {inner}"))
        } else {
            A2aError::invalid_field(&field, format!("invalid params: `{field}`: {inner}"))
        }
    })
}

/// `a.b`, or whichever is not empty.
fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ if b.starts_with('[') => format!("{a}{b}"),
        _ => format!("{a}.{b}"),
    }
}

fn field_err(field: &str, message: impl Into<String>) -> A2aError {
    let message = message.into();
    A2aError::invalid_field(field, format!("invalid params: `{field}`: {message}"))
}

/// What a 0.3 request that uses a 1.0 shape is told.
const V1_FORM: &str = "the A2A 1.0 form; send `A2A-Version: 1.0` to use 1.0 shapes";
/// The hint appended when a 1.0 request uses a 0.3 shape.
const USE_V03: &str = "is the A2A 0.3 form, but this request speaks A2A 1.0 \
     (`A2A-Version: 1.0`; leave the header out to speak 0.3)";

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let trimmed = s.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
        .ok()
}

fn encode_base64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// A 1.0 data value as a 0.3 data object.
fn data_object(v: &Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m.clone(),
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other.clone());
            m
        }
    }
}

/// 0.3 push authentication (`schemes[]`) as 1.0 (one `scheme`).
fn auth_into_v1(schemes: Vec<String>, credentials: Option<String>) -> model::AuthenticationInfo {
    model::AuthenticationInfo {
        scheme: schemes
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default(),
        credentials,
    }
}

// ---------------------------------------------------------------------------
// Mixed-up shapes in 1.0 requests

/// Refuses a 1.0 request (`method` is the 1.0 method name, `params` its
/// params or HTTP+JSON body) that uses A2A 0.3 shapes: `kind` on messages or
/// parts, 0.3 file parts, lowercase roles, `content` instead of `parts`,
/// `configuration.blocking` or `…pushNotificationConfig`, the nested 0.3
/// push config, or 0.3 push config references. Other unknown fields pass.
pub fn reject_v03_shapes(method: &str, params: &Value) -> Result<(), A2aError> {
    let Some(obj) = params.as_object() else {
        return Ok(());
    };
    match method {
        "SendMessage" | "SendStreamingMessage" => {
            if let Some(m) = obj.get("message") {
                reject_v03_message(m, "message")?;
            }
            if let Some(Value::Object(c)) = obj.get("configuration") {
                if c.contains_key("blocking") {
                    return Err(field_err(
                        "configuration.blocking",
                        format!("`blocking` {USE_V03}; 1.0 says `returnImmediately`"),
                    ));
                }
                for key in ["pushNotificationConfig", "pushNotification"] {
                    if c.contains_key(key) {
                        return Err(field_err(
                            &format!("configuration.{key}"),
                            format!("`{key}` {USE_V03}; 1.0 says `taskPushNotificationConfig`"),
                        ));
                    }
                }
            }
            Ok(())
        }
        "CreateTaskPushNotificationConfig" => {
            if obj.contains_key("pushNotificationConfig") {
                return Err(field_err(
                    "pushNotificationConfig",
                    format!(
                        "the nested `pushNotificationConfig` {USE_V03}; 1.0 puts `url`, `token` \
                         and `authentication` beside `taskId`"
                    ),
                ));
            }
            Ok(())
        }
        "GetTaskPushNotificationConfig" | "DeleteTaskPushNotificationConfig" => {
            if obj.contains_key("pushNotificationConfigId") {
                return Err(field_err(
                    "pushNotificationConfigId",
                    format!("`pushNotificationConfigId` {USE_V03}; 1.0 says `{{taskId, id}}`"),
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether the JSON text of a 1.0 request's params could hold a shape that
/// [`reject_v03_shapes`] refuses. `false` is a promise that lets the typed
/// parse read the text directly: none of the keys those checks look for
/// (`kind`, `file`, `content`, `blocking`, `pushNotification…`) appears as
/// the start of a string anywhere in it, and no string has a `\u` escape,
/// the one escape that could spell such a key. A lowercase 0.3 role needs
/// no screening: the 1.0 `Role` refuses it, and the caller then takes the
/// checked path. `true` means only "parse into a value and check".
pub fn may_hold_v03_shapes(json: &str) -> bool {
    let b = json.as_bytes();
    memchr::memchr2_iter(b'"', b'\\', b).any(|i| {
        let rest = &b[i + 1..];
        if b[i] == b'\\' {
            return rest.first() == Some(&b'u');
        }
        let key: &[u8] = match rest.first() {
            Some(b'k') => b"kind\"",
            Some(b'f') => b"file\"",
            Some(b'c') => b"content\"",
            Some(b'b') => b"blocking\"",
            Some(b'p') => b"pushNotification",
            _ => return false,
        };
        rest.starts_with(key)
    })
}

fn reject_v03_message(m: &Value, path: &str) -> Result<(), A2aError> {
    let Some(obj) = m.as_object() else {
        return Ok(());
    };
    if obj.contains_key("kind") {
        return Err(field_err(
            &format!("{path}.kind"),
            format!("`kind` {USE_V03}; 1.0 messages have no `kind`"),
        ));
    }
    if let Some(Value::String(role)) = obj.get("role")
        && (role == "user" || role == "agent")
    {
        return Err(field_err(
            &format!("{path}.role"),
            format!("role `{role}` {USE_V03}; 1.0 says `ROLE_USER` or `ROLE_AGENT`"),
        ));
    }
    if obj.contains_key("content") && !obj.contains_key("parts") {
        return Err(field_err(
            &format!("{path}.content"),
            format!("`content` {USE_V03}; 1.0 messages carry `parts`"),
        ));
    }
    if let Some(Value::Array(parts)) = obj.get("parts") {
        for (i, p) in parts.iter().enumerate() {
            let Some(p) = p.as_object() else { continue };
            for key in ["kind", "file"] {
                if p.contains_key(key) {
                    return Err(field_err(
                        &format!("{path}.parts[{i}].{key}"),
                        format!(
                            "`{key}` {USE_V03}; 1.0 parts are `{{text}}`, `{{raw}}`, `{{url}}` \
                             or `{{data}}`"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The JSON-RPC form

/// A2A 0.3 in its JSON-RPC form: `kind`-tagged objects, lowercase enums.
pub mod json {
    use serde::{Deserialize, Serialize};
    use serde_json::{Map, Value};

    use super::*;

    macro_rules! kind_tag {
        ($(#[$doc:meta])* $name:ident, $lit:literal) => {
            $(#[$doc])*
            #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
            pub enum $name {
                #[default]
                #[serde(rename = $lit)]
                Tag,
            }
        };
    }

    kind_tag!(
        /// `kind: "message"`.
        MessageKind,
        "message"
    );
    kind_tag!(
        /// `kind: "task"`.
        TaskKind,
        "task"
    );
    kind_tag!(
        /// `kind: "status-update"`.
        StatusUpdateKind,
        "status-update"
    );
    kind_tag!(
        /// `kind: "artifact-update"`.
        ArtifactUpdateKind,
        "artifact-update"
    );

    /// Who sent a message.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Role {
        User,
        Agent,
    }

    /// A task state, lowercase with hyphens.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum TaskState {
        Submitted,
        Working,
        InputRequired,
        Completed,
        Canceled,
        Failed,
        Rejected,
        AuthRequired,
        Unknown,
    }

    /// The file of a file part: exactly one of `bytes` (base64) and `uri`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct FileContent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub bytes: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub uri: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mime_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
    }

    /// A part, tagged by `kind`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "lowercase")]
    pub enum Part {
        Text {
            text: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            metadata: Option<Metadata>,
        },
        File {
            file: FileContent,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            metadata: Option<Metadata>,
        },
        Data {
            data: Map<String, Value>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            metadata: Option<Metadata>,
        },
    }

    /// One turn of a conversation (`kind: "message"`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Message {
        /// Optional on input (the parts are tagged); always written.
        #[serde(default)]
        pub kind: MessageKind,
        pub message_id: String,
        pub role: Role,
        pub parts: Vec<Part>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub context_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub task_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub extensions: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub reference_task_ids: Vec<String>,
    }

    /// A task's status.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskStatus {
        pub state: TaskState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<Message>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub timestamp: Option<model::Timestamp>,
    }

    /// An output of a task.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Artifact {
        pub artifact_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        pub parts: Vec<Part>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub extensions: Vec<String>,
    }

    /// A task (`kind: "task"`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Task {
        #[serde(default)]
        pub kind: TaskKind,
        pub id: String,
        pub context_id: String,
        pub status: TaskStatus,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub history: Vec<Message>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub artifacts: Vec<Artifact>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
    }

    /// A status change (`kind: "status-update"`); `final` is true on the
    /// event that ends the stream.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskStatusUpdateEvent {
        #[serde(default)]
        pub kind: StatusUpdateKind,
        pub task_id: String,
        pub context_id: String,
        pub status: TaskStatus,
        #[serde(rename = "final")]
        pub is_final: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
    }

    /// A new or extended artifact (`kind: "artifact-update"`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskArtifactUpdateEvent {
        #[serde(default)]
        pub kind: ArtifactUpdateKind,
        pub task_id: String,
        pub context_id: String,
        pub artifact: Artifact,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub append: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub last_chunk: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
    }

    /// A result or stream event: the bare object, told apart by `kind`.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    #[serde(untagged)]
    pub enum Event {
        Task(Task),
        Message(Message),
        StatusUpdate(TaskStatusUpdateEvent),
        ArtifactUpdate(TaskArtifactUpdateEvent),
    }

    /// How the host authenticates to a push webhook.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct AuthenticationInfo {
        #[serde(default)]
        pub schemes: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub credentials: Option<String>,
    }

    /// A push webhook.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct PushNotificationConfig {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<String>,
        pub url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub authentication: Option<AuthenticationInfo>,
    }

    /// A task's push webhook: params of `tasks/pushNotificationConfig/set`
    /// and the result of `…/get`, `…/set` and (in a list) `…/list`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskPushNotificationConfig {
        pub task_id: String,
        pub push_notification_config: PushNotificationConfig,
    }

    /// How `message/send` should behave.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct MessageSendConfiguration {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub accepted_output_modes: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub history_length: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub push_notification_config: Option<PushNotificationConfig>,
        /// Wait for a terminal or interrupted state; true when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub blocking: Option<bool>,
    }

    /// Params of `message/send` and `message/stream`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct MessageSendParams {
        pub message: Message,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub configuration: Option<MessageSendConfiguration>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
    }

    /// Params of `tasks/cancel`, `tasks/resubscribe` and
    /// `tasks/pushNotificationConfig/list`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskIdParams {
        pub id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
    }

    /// Params of `tasks/get`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskQueryParams {
        pub id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub history_length: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
    }

    /// Params of `tasks/pushNotificationConfig/get` and `…/delete`: `id` is
    /// the task. Without a config id, `get` means the config whose id is the
    /// task id (what a 0.3 server names a config set without one).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct PushConfigParams {
        pub id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub push_notification_config_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
    }

    // -- input checks: 1.0 shapes in 0.3 requests -------------------------

    fn check_part(v: &Value, path: &str) -> Result<(), A2aError> {
        let Some(obj) = v.as_object() else {
            return Ok(());
        };
        match obj.get("kind") {
            None => {
                let hint = if ["text", "raw", "url", "data", "mediaType", "filename"]
                    .iter()
                    .any(|k| obj.contains_key(*k))
                {
                    format!("; a part without `kind` is {}", V1_FORM)
                } else {
                    String::new()
                };
                Err(field_err(
                    &format!("{path}.kind"),
                    format!("A2A 0.3 parts need `kind` (`text`, `file` or `data`){hint}"),
                ))
            }
            Some(Value::String(k)) if k == "file" => {
                if let Some(Value::Object(f)) = obj.get("file") {
                    for key in ["fileWithBytes", "fileWithUri"] {
                        if f.contains_key(key) {
                            return Err(field_err(
                                &format!("{path}.file.{key}"),
                                format!(
                                    "`{key}` is the 0.3 HTTP+JSON (protobuf) form; \
                                     JSON-RPC file parts say `bytes` or `uri`"
                                ),
                            ));
                        }
                    }
                }
                Ok(())
            }
            Some(Value::String(k)) if k == "text" || k == "data" => Ok(()),
            Some(other) => Err(field_err(
                &format!("{path}.kind"),
                format!("unknown part kind {other}; A2A 0.3 parts are `text`, `file` or `data`"),
            )),
        }
    }

    /// Checks a 0.3 message for 1.0 shapes (and the 0.3 HTTP+JSON form).
    pub fn check_message(v: &Value, path: &str) -> Result<(), A2aError> {
        let Some(obj) = v.as_object() else {
            return Ok(());
        };
        if let Some(Value::String(role)) = obj.get("role")
            && role.starts_with("ROLE_")
        {
            return Err(field_err(
                &format!("{path}.role"),
                format!(
                    "A2A 0.3 roles are `user` and `agent`; `{role}` is {}",
                    V1_FORM
                ),
            ));
        }
        match obj.get("kind") {
            None => {}
            Some(Value::String(k)) if k == "message" => {}
            Some(other) => {
                return Err(field_err(
                    &format!("{path}.kind"),
                    format!("a message's `kind` is \"message\", not {other}"),
                ));
            }
        }
        if obj.contains_key("content") && !obj.contains_key("parts") {
            return Err(field_err(
                &format!("{path}.content"),
                "`content` is the 0.3 HTTP+JSON (protobuf) form; JSON-RPC messages carry `parts`",
            ));
        }
        if let Some(Value::Array(parts)) = obj.get("parts") {
            for (i, p) in parts.iter().enumerate() {
                check_part(p, &format!("{path}.parts[{i}]"))?;
            }
        }
        Ok(())
    }

    /// Checks `message/send` params for 1.0 shapes.
    pub fn check_send_params(v: &Value) -> Result<(), A2aError> {
        let Some(obj) = v.as_object() else {
            return Ok(());
        };
        if let Some(m) = obj.get("message") {
            check_message(m, "message")?;
        }
        if let Some(Value::Object(c)) = obj.get("configuration") {
            if c.contains_key("returnImmediately") {
                return Err(field_err(
                    "configuration.returnImmediately",
                    format!(
                        "A2A 0.3 says `blocking` (true when left out); `returnImmediately` is {}",
                        V1_FORM
                    ),
                ));
            }
            if c.contains_key("taskPushNotificationConfig") {
                return Err(field_err(
                    "configuration.taskPushNotificationConfig",
                    format!(
                        "A2A 0.3 says `pushNotificationConfig`; `taskPushNotificationConfig` is {}",
                        V1_FORM
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks `tasks/pushNotificationConfig/set` params for the flat 1.0
    /// shape.
    pub fn check_push_config(v: &Value) -> Result<(), A2aError> {
        if let Some(obj) = v.as_object()
            && !obj.contains_key("pushNotificationConfig")
            && obj.contains_key("url")
        {
            return Err(field_err(
                "pushNotificationConfig",
                format!(
                    "A2A 0.3 nests the webhook as `{{taskId, pushNotificationConfig: {{url, …}}}}`; \
                     a flat `{{taskId, url}}` is {}",
                    V1_FORM
                ),
            ));
        }
        Ok(())
    }

    /// Checks push config get/delete params for the 1.0 `{taskId, id}`.
    pub fn check_push_config_ref(v: &Value) -> Result<(), A2aError> {
        if let Some(obj) = v.as_object()
            && obj.contains_key("taskId")
            && !obj.contains_key("pushNotificationConfigId")
        {
            return Err(field_err(
                "taskId",
                format!(
                    "A2A 0.3 says `{{id: TASK, pushNotificationConfigId: CONFIG}}`; \
                     `{{taskId, id}}` is {}",
                    V1_FORM
                ),
            ));
        }
        Ok(())
    }

    // -- 0.3 -> 1.0 -------------------------------------------------------

    impl Part {
        /// The 1.0 part; `path` names it in errors.
        pub fn into_v1(self, path: &str) -> Result<model::Part, A2aError> {
            Ok(match self {
                Part::Text { text, metadata } => model::Part {
                    metadata,
                    ..model::Part::text(text)
                },
                Part::Data { data, metadata } => model::Part {
                    metadata,
                    ..model::Part::data(Value::Object(data))
                },
                Part::File { file, metadata } => {
                    // An empty `uri` is no URI, as in the proto form.
                    let content = match (file.bytes, non_empty(file.uri)) {
                        (Some(b), None) => {
                            let raw = decode_base64(&b).ok_or_else(|| {
                                field_err(&format!("{path}.file.bytes"), "is not valid base64")
                            })?;
                            PartContent::Raw(Bytes(raw))
                        }
                        (None, Some(u)) => PartContent::Url(u),
                        _ => {
                            return Err(field_err(
                                &format!("{path}.file"),
                                "a file needs exactly one of `bytes` and `uri`",
                            ));
                        }
                    };
                    model::Part {
                        content,
                        metadata,
                        filename: file.name,
                        media_type: file.mime_type,
                    }
                }
            })
        }

        /// The 0.3 form of a 1.0 part.
        pub fn from_v1(p: &model::Part) -> Part {
            let file = |bytes, uri| FileContent {
                bytes,
                uri,
                mime_type: p.media_type.clone(),
                name: p.filename.clone(),
            };
            let metadata = p.metadata.clone();
            match &p.content {
                PartContent::Text(t) => Part::Text {
                    text: t.clone(),
                    metadata,
                },
                PartContent::Raw(b) => Part::File {
                    file: file(Some(encode_base64(&b.0)), None),
                    metadata,
                },
                PartContent::Url(u) => Part::File {
                    file: file(None, Some(u.clone())),
                    metadata,
                },
                PartContent::Data(v) => Part::Data {
                    data: data_object(v),
                    metadata,
                },
            }
        }
    }

    impl Role {
        fn into_v1(self) -> model::Role {
            match self {
                Role::User => model::Role::User,
                Role::Agent => model::Role::Agent,
            }
        }

        fn from_v1(r: model::Role) -> Role {
            match r {
                model::Role::User => Role::User,
                model::Role::Agent | model::Role::Unspecified => Role::Agent,
            }
        }
    }

    impl TaskState {
        /// The 1.0 state (`unknown` is `TASK_STATE_UNSPECIFIED`).
        pub fn into_v1(self) -> model::TaskState {
            use model::TaskState as S;
            match self {
                TaskState::Submitted => S::Submitted,
                TaskState::Working => S::Working,
                TaskState::InputRequired => S::InputRequired,
                TaskState::Completed => S::Completed,
                TaskState::Canceled => S::Canceled,
                TaskState::Failed => S::Failed,
                TaskState::Rejected => S::Rejected,
                TaskState::AuthRequired => S::AuthRequired,
                TaskState::Unknown => S::Unspecified,
            }
        }

        /// The 0.3 form of a 1.0 state.
        pub fn from_v1(s: model::TaskState) -> TaskState {
            use model::TaskState as S;
            match s {
                S::Unspecified => TaskState::Unknown,
                S::Submitted => TaskState::Submitted,
                S::Working => TaskState::Working,
                S::Completed => TaskState::Completed,
                S::Failed => TaskState::Failed,
                S::Canceled => TaskState::Canceled,
                S::InputRequired => TaskState::InputRequired,
                S::Rejected => TaskState::Rejected,
                S::AuthRequired => TaskState::AuthRequired,
            }
        }
    }

    impl Message {
        /// The 1.0 message; `path` names it in errors.
        pub fn into_v1(self, path: &str) -> Result<model::Message, A2aError> {
            let parts = self
                .parts
                .into_iter()
                .enumerate()
                .map(|(i, p)| p.into_v1(&format!("{path}.parts[{i}]")))
                .collect::<Result<_, _>>()?;
            Ok(model::Message {
                message_id: self.message_id,
                context_id: non_empty(self.context_id),
                task_id: non_empty(self.task_id),
                role: self.role.into_v1(),
                parts,
                metadata: self.metadata,
                extensions: self.extensions,
                reference_task_ids: self.reference_task_ids,
            })
        }

        /// The 0.3 form of a 1.0 message.
        pub fn from_v1(m: &model::Message) -> Message {
            Message {
                kind: MessageKind::Tag,
                message_id: m.message_id.clone(),
                role: Role::from_v1(m.role),
                parts: m.parts.iter().map(Part::from_v1).collect(),
                context_id: m.context_id.clone(),
                task_id: m.task_id.clone(),
                metadata: m.metadata.clone(),
                extensions: m.extensions.clone(),
                reference_task_ids: m.reference_task_ids.clone(),
            }
        }
    }

    impl TaskStatus {
        /// The 0.3 form of a 1.0 status.
        pub fn from_v1(s: &model::TaskStatus) -> TaskStatus {
            TaskStatus {
                state: TaskState::from_v1(s.state),
                message: s.message.as_ref().map(Message::from_v1),
                timestamp: s.timestamp,
            }
        }

        /// The 1.0 status; `path` names it in errors.
        pub fn into_v1(self, path: &str) -> Result<model::TaskStatus, A2aError> {
            Ok(model::TaskStatus {
                state: self.state.into_v1(),
                message: self
                    .message
                    .map(|m| m.into_v1(&format!("{path}.message")))
                    .transpose()?,
                timestamp: self.timestamp,
            })
        }
    }

    impl Artifact {
        /// The 0.3 form of a 1.0 artifact.
        pub fn from_v1(a: &model::Artifact) -> Artifact {
            Artifact {
                artifact_id: a.artifact_id.clone(),
                name: a.name.clone(),
                description: a.description.clone(),
                parts: a.parts.iter().map(Part::from_v1).collect(),
                metadata: a.metadata.clone(),
                extensions: a.extensions.clone(),
            }
        }

        /// The 1.0 artifact; `path` names it in errors.
        pub fn into_v1(self, path: &str) -> Result<model::Artifact, A2aError> {
            Ok(model::Artifact {
                artifact_id: self.artifact_id,
                name: self.name,
                description: self.description,
                parts: self
                    .parts
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| p.into_v1(&format!("{path}.parts[{i}]")))
                    .collect::<Result<_, _>>()?,
                metadata: self.metadata,
                extensions: self.extensions,
            })
        }
    }

    impl Task {
        /// The 0.3 form of a 1.0 task.
        pub fn from_v1(t: &model::Task) -> Task {
            Task {
                kind: TaskKind::Tag,
                id: t.id.clone(),
                context_id: t.context_id.clone(),
                status: TaskStatus::from_v1(&t.status),
                history: t.history.iter().map(Message::from_v1).collect(),
                artifacts: t.artifacts.iter().map(Artifact::from_v1).collect(),
                metadata: t.metadata.clone(),
            }
        }

        /// The 1.0 task; `path` names it in errors.
        pub fn into_v1(self, path: &str) -> Result<model::Task, A2aError> {
            Ok(model::Task {
                id: self.id,
                context_id: self.context_id,
                status: self.status.into_v1(&format!("{path}.status"))?,
                artifacts: self
                    .artifacts
                    .into_iter()
                    .enumerate()
                    .map(|(i, a)| a.into_v1(&format!("{path}.artifacts[{i}]")))
                    .collect::<Result<_, _>>()?,
                history: self
                    .history
                    .into_iter()
                    .enumerate()
                    .map(|(i, m)| m.into_v1(&format!("{path}.history[{i}]")))
                    .collect::<Result<_, _>>()?,
                metadata: self.metadata,
            })
        }
    }

    impl Event {
        /// The 0.3 form of a 1.0 stream event. A status update that ends the
        /// stream (terminal or interrupted state) says `final: true`.
        pub fn from_v1(ev: &model::StreamResponse) -> Event {
            match ev {
                model::StreamResponse::Task(t) => Event::Task(Task::from_v1(t)),
                model::StreamResponse::Message(m) => Event::Message(Message::from_v1(m)),
                model::StreamResponse::StatusUpdate(s) => {
                    Event::StatusUpdate(TaskStatusUpdateEvent {
                        kind: StatusUpdateKind::Tag,
                        task_id: s.task_id.clone(),
                        context_id: s.context_id.clone(),
                        status: TaskStatus::from_v1(&s.status),
                        is_final: ev.ends_stream(),
                        metadata: s.metadata.clone(),
                    })
                }
                model::StreamResponse::ArtifactUpdate(a) => {
                    Event::ArtifactUpdate(TaskArtifactUpdateEvent {
                        kind: ArtifactUpdateKind::Tag,
                        task_id: a.task_id.clone(),
                        context_id: a.context_id.clone(),
                        artifact: Artifact::from_v1(&a.artifact),
                        append: a.append.then_some(true),
                        last_chunk: a.last_chunk.then_some(true),
                        metadata: a.metadata.clone(),
                    })
                }
            }
        }

        /// The `message/send` result: the bare Task or Message.
        pub fn from_send_response(r: &model::SendMessageResponse) -> Event {
            match r {
                model::SendMessageResponse::Task(t) => Event::Task(Task::from_v1(t)),
                model::SendMessageResponse::Message(m) => Event::Message(Message::from_v1(m)),
            }
        }
    }

    impl PushNotificationConfig {
        /// The 1.0 config of task `task_id` (unknown when sent with a
        /// message).
        pub fn into_v1(self, task_id: Option<String>) -> model::TaskPushNotificationConfig {
            model::TaskPushNotificationConfig {
                tenant: None,
                id: non_empty(self.id),
                task_id,
                url: self.url,
                token: self.token,
                authentication: self
                    .authentication
                    .map(|a| auth_into_v1(a.schemes, a.credentials)),
            }
        }
    }

    impl TaskPushNotificationConfig {
        /// The 1.0 config.
        pub fn into_v1(self) -> model::TaskPushNotificationConfig {
            self.push_notification_config
                .into_v1(Some(self.task_id).filter(|t| !t.is_empty()))
        }

        /// The 0.3 form of a 1.0 config.
        pub fn from_v1(c: &model::TaskPushNotificationConfig) -> TaskPushNotificationConfig {
            TaskPushNotificationConfig {
                task_id: c.task_id.clone().unwrap_or_default(),
                push_notification_config: PushNotificationConfig {
                    id: c.id.clone(),
                    url: c.url.clone(),
                    token: c.token.clone(),
                    authentication: c.authentication.as_ref().map(|a| AuthenticationInfo {
                        schemes: vec![a.scheme.clone()],
                        credentials: a.credentials.clone(),
                    }),
                },
            }
        }
    }

    impl MessageSendParams {
        /// The 1.0 request. `blocking` (default true) becomes the inverse
        /// `returnImmediately`.
        pub fn into_v1(self) -> Result<model::SendMessageRequest, A2aError> {
            let message = self.message.into_v1("message")?;
            let configuration = self.configuration.map(|c| model::SendMessageConfiguration {
                accepted_output_modes: c.accepted_output_modes.unwrap_or_default(),
                task_push_notification_config: c.push_notification_config.map(|p| p.into_v1(None)),
                history_length: c.history_length,
                return_immediately: c.blocking == Some(false),
            });
            Ok(model::SendMessageRequest {
                tenant: None,
                message,
                configuration,
                metadata: self.metadata,
            })
        }
    }

    /// Parses `message/send` params: shape check, then typed.
    pub fn parse_send_params(v: Value) -> Result<model::SendMessageRequest, A2aError> {
        check_send_params(&v)?;
        parse::<MessageSendParams>(v, "")?.into_v1()
    }
}

// ---------------------------------------------------------------------------
// The HTTP+JSON (protobuf JSON) form

/// A2A 0.3 in its HTTP+JSON form: the protobuf JSON of the 0.3 `a2a.proto`.
pub mod proto {
    use serde::{Deserialize, Deserializer, Serialize};
    use serde_json::{Map, Value};

    use super::*;

    fn is_false(b: &bool) -> bool {
        !*b
    }

    /// Reads a protobuf enum given by name or number.
    fn enum_value<'de, D: Deserializer<'de>>(
        d: D,
        names: &[&str],
        what: &str,
    ) -> Result<usize, D::Error> {
        let v = Value::deserialize(d)?;
        let found = match &v {
            Value::String(s) => names.iter().position(|n| n == s),
            Value::Number(n) => n.as_u64().map(|n| n as usize).filter(|n| *n < names.len()),
            _ => None,
        };
        found.ok_or_else(|| {
            serde::de::Error::custom(format!("{v} is not a {what} (one of {})", names.join(", ")))
        })
    }

    const ROLES: [&str; 3] = ["ROLE_UNSPECIFIED", "ROLE_USER", "ROLE_AGENT"];
    const STATES: [&str; 9] = [
        "TASK_STATE_UNSPECIFIED",
        "TASK_STATE_SUBMITTED",
        "TASK_STATE_WORKING",
        "TASK_STATE_COMPLETED",
        "TASK_STATE_FAILED",
        "TASK_STATE_CANCELLED",
        "TASK_STATE_INPUT_REQUIRED",
        "TASK_STATE_REJECTED",
        "TASK_STATE_AUTH_REQUIRED",
    ];

    /// Who sent a message: `ROLE_USER` or `ROLE_AGENT` (or the number).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct Role(pub model::Role);

    impl Serialize for Role {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(ROLES[self.0 as usize])
        }
    }

    impl<'de> Deserialize<'de> for Role {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Ok(Role(match enum_value(d, &ROLES, "role")? {
                1 => model::Role::User,
                2 => model::Role::Agent,
                _ => model::Role::Unspecified,
            }))
        }
    }

    /// A task state: the 0.3 proto names (`TASK_STATE_CANCELLED`, two Ls).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct TaskState(pub model::TaskState);

    impl Serialize for TaskState {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            // The 1.0 and 0.3 enums share their numbers.
            s.serialize_str(STATES[self.0 as usize])
        }
    }

    impl<'de> Deserialize<'de> for TaskState {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let i = enum_value(d, &STATES, "task state")?;
            Ok(TaskState(model::TaskState::ALL[i]))
        }
    }

    /// A file: exactly one of `fileWithUri` and `fileWithBytes`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct FilePart {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[serde(alias = "file_with_uri")]
        pub file_with_uri: Option<String>,
        /// Base64 of the UTF-8 of the base64 content (see the module docs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[serde(alias = "file_with_bytes")]
        pub file_with_bytes: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[serde(alias = "mime_type")]
        pub mime_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
    }

    /// Structured data: `{"data": {…}}`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    pub struct DataPart {
        #[serde(default)]
        pub data: Map<String, Value>,
    }

    /// A part: exactly one of `text`, `file` and `data`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    pub struct Part {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub file: Option<FilePart>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub data: Option<DataPart>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
    }

    /// One turn of a conversation; its parts are in `content`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct Message {
        #[serde(alias = "message_id")]
        pub message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[serde(alias = "context_id")]
        pub context_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[serde(alias = "task_id")]
        pub task_id: Option<String>,
        #[serde(default)]
        pub role: Role,
        #[serde(default)]
        pub content: Vec<Part>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub extensions: Vec<String>,
    }

    /// A task's status (`message` is the proto field `update`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskStatus {
        #[serde(default)]
        pub state: TaskState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[serde(alias = "update")]
        pub message: Option<Message>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub timestamp: Option<model::Timestamp>,
    }

    /// An output of a task.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct Artifact {
        #[serde(alias = "artifact_id")]
        pub artifact_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        #[serde(default)]
        pub parts: Vec<Part>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub extensions: Vec<String>,
    }

    /// A task.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct Task {
        pub id: String,
        #[serde(default)]
        #[serde(alias = "context_id")]
        pub context_id: String,
        #[serde(default)]
        pub status: TaskStatus,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub artifacts: Vec<Artifact>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub history: Vec<Message>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
    }

    /// A status change; `final` is written only when true (protobuf JSON
    /// leaves defaults out).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskStatusUpdateEvent {
        pub task_id: String,
        pub context_id: String,
        pub status: TaskStatus,
        #[serde(rename = "final", default, skip_serializing_if = "is_false")]
        pub is_final: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
    }

    /// A new or extended artifact.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskArtifactUpdateEvent {
        pub task_id: String,
        pub context_id: String,
        pub artifact: Artifact,
        #[serde(default, skip_serializing_if = "is_false")]
        pub append: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        pub last_chunk: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
    }

    /// The answer to `POST /v1/message:send`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub enum SendMessageResponse {
        Task(Task),
        Message(Message),
    }

    /// One event of a 0.3 HTTP+JSON stream.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub enum StreamResponse {
        Task(Task),
        Message(Message),
        StatusUpdate(TaskStatusUpdateEvent),
        ArtifactUpdate(TaskArtifactUpdateEvent),
    }

    /// How the host authenticates to a push webhook.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct AuthenticationInfo {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub schemes: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub credentials: Option<String>,
    }

    /// A push webhook.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct PushNotificationConfig {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<String>,
        #[serde(default)]
        pub url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub authentication: Option<AuthenticationInfo>,
    }

    /// A task's push webhook, named
    /// `tasks/{taskId}/pushNotificationConfigs/{configId}`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskPushNotificationConfig {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub name: String,
        #[serde(default)]
        #[serde(alias = "push_notification_config")]
        pub push_notification_config: PushNotificationConfig,
    }

    /// The body of `POST /v1/tasks/{id}/pushNotificationConfigs`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct CreateTaskPushNotificationConfigRequest {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub parent: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[serde(alias = "config_id")]
        pub config_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub config: Option<TaskPushNotificationConfig>,
    }

    /// The answer to `GET /v1/tasks/{id}/pushNotificationConfigs`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct ListTaskPushNotificationConfigResponse {
        pub configs: Vec<TaskPushNotificationConfig>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub next_page_token: String,
    }

    /// How `message:send` should behave. As in protobuf, a missing
    /// `blocking` is false: a client that wants to wait says
    /// `"blocking": true` (the a2a-sdk 0.3 client always does).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct SendMessageConfiguration {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[serde(alias = "accepted_output_modes")]
        pub accepted_output_modes: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[serde(alias = "push_notification")]
        pub push_notification: Option<PushNotificationConfig>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[serde(alias = "history_length")]
        pub history_length: Option<i32>,
        #[serde(default, skip_serializing_if = "is_false")]
        pub blocking: bool,
    }

    /// The body of `POST /v1/message:send` and `…:stream` (`message` is the
    /// proto field `request`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct SendMessageRequest {
        #[serde(alias = "request")]
        pub message: Message,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub configuration: Option<SendMessageConfiguration>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Metadata>,
    }

    // -- input checks: other shapes in 0.3 HTTP+JSON bodies -----------------

    const PROTO_FORM: &str = "the 0.3 HTTP+JSON binding speaks the protobuf JSON of the 0.3 \
         a2a.proto";

    fn check_part(v: &Value, path: &str) -> Result<(), A2aError> {
        let Some(obj) = v.as_object() else {
            return Ok(());
        };
        if obj.contains_key("kind") {
            return Err(field_err(
                &format!("{path}.kind"),
                format!(
                    "{PROTO_FORM}: parts are `{{text}}`, `{{file}}` or `{{data}}` without `kind` \
                     (`kind` is the JSON-RPC form)"
                ),
            ));
        }
        for key in ["raw", "url", "mediaType", "filename"] {
            if obj.contains_key(key) {
                return Err(field_err(
                    &format!("{path}.{key}"),
                    format!(
                        "`{key}` is {}; 0.3 files are `{{file: {{fileWithUri | fileWithBytes, \
                         mimeType, name}}}}`",
                        V1_FORM
                    ),
                ));
            }
        }
        if let Some(d) = obj.get("data") {
            let ok = d.as_object().is_some_and(|m| {
                m.keys().all(|k| k == "data") && m.get("data").is_none_or(Value::is_object)
            });
            if !ok {
                return Err(field_err(
                    &format!("{path}.data"),
                    format!("{PROTO_FORM}: a data part is `{{\"data\": {{\"data\": {{…}}}}}}`"),
                ));
            }
        }
        let set = ["text", "file", "data"]
            .iter()
            .filter(|k| obj.get(**k).is_some_and(|v| !v.is_null()))
            .count();
        if set != 1 {
            return Err(field_err(
                path,
                "a part needs exactly one of `text`, `file` and `data`",
            ));
        }
        Ok(())
    }

    /// Checks a 0.3 HTTP+JSON message for other shapes.
    pub fn check_message(v: &Value, path: &str) -> Result<(), A2aError> {
        let Some(obj) = v.as_object() else {
            return Ok(());
        };
        if obj.contains_key("kind") {
            return Err(field_err(
                &format!("{path}.kind"),
                format!("{PROTO_FORM}: messages have no `kind` (that is the JSON-RPC form)"),
            ));
        }
        if obj.contains_key("parts") {
            return Err(field_err(
                &format!("{path}.parts"),
                format!(
                    "{PROTO_FORM}: a message carries its parts in `content` (`parts` is the \
                     JSON-RPC and the 1.0 form)"
                ),
            ));
        }
        if let Some(Value::String(role)) = obj.get("role")
            && !role.starts_with("ROLE_")
        {
            return Err(field_err(
                &format!("{path}.role"),
                format!("{PROTO_FORM}: roles are `ROLE_USER` and `ROLE_AGENT`"),
            ));
        }
        if let Some(Value::Array(parts)) = obj.get("content") {
            for (i, p) in parts.iter().enumerate() {
                check_part(p, &format!("{path}.content[{i}]"))?;
            }
        }
        Ok(())
    }

    /// Checks a 0.3 HTTP+JSON send body for other shapes.
    pub fn check_send_request(v: &Value) -> Result<(), A2aError> {
        let Some(obj) = v.as_object() else {
            return Ok(());
        };
        if let Some(m) = obj.get("message").or_else(|| obj.get("request")) {
            check_message(m, "message")?;
        }
        if let Some(Value::Object(c)) = obj.get("configuration") {
            for (key, ours) in [
                ("returnImmediately", "`blocking`"),
                ("taskPushNotificationConfig", "`pushNotification`"),
                ("pushNotificationConfig", "`pushNotification`"),
            ] {
                if c.contains_key(key) {
                    return Err(field_err(
                        &format!("configuration.{key}"),
                        format!("{PROTO_FORM}: the configuration says {ours}, not `{key}`"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Parses a 0.3 HTTP+JSON send body: shape check, then typed.
    pub fn parse_send_request(v: Value) -> Result<model::SendMessageRequest, A2aError> {
        check_send_request(&v)?;
        parse::<SendMessageRequest>(v, "")?.into_v1()
    }

    // -- conversions -------------------------------------------------------

    /// Decodes `fileWithBytes` (see the module docs on the double base64).
    fn file_bytes(s: &str) -> Option<Vec<u8>> {
        let once = decode_base64(s)?;
        let inner_is_base64 = !once.is_empty()
            && once.len().is_multiple_of(4)
            && once
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if inner_is_base64
            && let Ok(text) = std::str::from_utf8(&once)
            && let Ok(twice) = base64::engine::general_purpose::STANDARD.decode(text)
        {
            return Some(twice);
        }
        Some(once)
    }

    impl Part {
        /// The 1.0 part; `path` names it in errors.
        pub fn into_v1(self, path: &str) -> Result<model::Part, A2aError> {
            let metadata = self.metadata;
            let part = match (self.text, self.file, self.data) {
                (Some(t), None, None) => model::Part::text(t),
                (None, None, Some(d)) => model::Part::data(Value::Object(d.data)),
                (None, Some(f), None) => {
                    let content = match (non_empty(f.file_with_uri), f.file_with_bytes) {
                        (Some(u), None) => PartContent::Url(u),
                        (None, Some(b)) => {
                            PartContent::Raw(Bytes(file_bytes(&b).ok_or_else(|| {
                                field_err(&format!("{path}.file.fileWithBytes"), "is not base64")
                            })?))
                        }
                        _ => {
                            return Err(field_err(
                                &format!("{path}.file"),
                                "a file needs exactly one of `fileWithUri` and `fileWithBytes`",
                            ));
                        }
                    };
                    model::Part {
                        content,
                        metadata: None,
                        filename: non_empty(f.name),
                        media_type: non_empty(f.mime_type),
                    }
                }
                _ => {
                    return Err(field_err(
                        path,
                        "a part needs exactly one of `text`, `file` and `data`",
                    ));
                }
            };
            Ok(model::Part { metadata, ..part })
        }

        /// The 0.3 HTTP+JSON form of a 1.0 part.
        pub fn from_v1(p: &model::Part) -> Part {
            let file = |uri: Option<String>, bytes: Option<String>| FilePart {
                file_with_uri: uri,
                file_with_bytes: bytes,
                mime_type: p.media_type.clone(),
                name: p.filename.clone(),
            };
            let mut out = Part {
                metadata: p.metadata.clone(),
                ..Default::default()
            };
            match &p.content {
                PartContent::Text(t) => out.text = Some(t.clone()),
                PartContent::Url(u) => out.file = Some(file(Some(u.clone()), None)),
                PartContent::Raw(b) => {
                    let inner = encode_base64(&b.0);
                    out.file = Some(file(None, Some(encode_base64(inner.as_bytes()))));
                }
                PartContent::Data(v) => {
                    out.data = Some(DataPart {
                        data: data_object(v),
                    })
                }
            }
            out
        }
    }

    impl Message {
        /// The 1.0 message; `path` names it in errors.
        pub fn into_v1(self, path: &str) -> Result<model::Message, A2aError> {
            Ok(model::Message {
                message_id: self.message_id,
                context_id: non_empty(self.context_id),
                task_id: non_empty(self.task_id),
                role: self.role.0,
                parts: self
                    .content
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| p.into_v1(&format!("{path}.content[{i}]")))
                    .collect::<Result<_, _>>()?,
                metadata: self.metadata,
                extensions: self.extensions,
                reference_task_ids: Vec::new(),
            })
        }

        /// The 0.3 HTTP+JSON form of a 1.0 message (without
        /// `referenceTaskIds`, which the 0.3 proto lacks).
        pub fn from_v1(m: &model::Message) -> Message {
            Message {
                message_id: m.message_id.clone(),
                context_id: m.context_id.clone(),
                task_id: m.task_id.clone(),
                role: Role(m.role),
                content: m.parts.iter().map(Part::from_v1).collect(),
                metadata: m.metadata.clone(),
                extensions: m.extensions.clone(),
            }
        }
    }

    impl TaskStatus {
        /// The 0.3 HTTP+JSON form of a 1.0 status.
        pub fn from_v1(s: &model::TaskStatus) -> TaskStatus {
            TaskStatus {
                state: TaskState(s.state),
                message: s.message.as_ref().map(Message::from_v1),
                timestamp: s.timestamp,
            }
        }
    }

    impl Artifact {
        /// The 0.3 HTTP+JSON form of a 1.0 artifact.
        pub fn from_v1(a: &model::Artifact) -> Artifact {
            Artifact {
                artifact_id: a.artifact_id.clone(),
                name: a.name.clone(),
                description: a.description.clone(),
                parts: a.parts.iter().map(Part::from_v1).collect(),
                metadata: a.metadata.clone(),
                extensions: a.extensions.clone(),
            }
        }
    }

    impl Task {
        /// The 0.3 HTTP+JSON form of a 1.0 task.
        pub fn from_v1(t: &model::Task) -> Task {
            Task {
                id: t.id.clone(),
                context_id: t.context_id.clone(),
                status: TaskStatus::from_v1(&t.status),
                artifacts: t.artifacts.iter().map(Artifact::from_v1).collect(),
                history: t.history.iter().map(Message::from_v1).collect(),
                metadata: t.metadata.clone(),
            }
        }
    }

    impl SendMessageResponse {
        /// The 0.3 HTTP+JSON form of a 1.0 send result.
        pub fn from_v1(r: &model::SendMessageResponse) -> SendMessageResponse {
            match r {
                model::SendMessageResponse::Task(t) => SendMessageResponse::Task(Task::from_v1(t)),
                model::SendMessageResponse::Message(m) => {
                    SendMessageResponse::Message(Message::from_v1(m))
                }
            }
        }
    }

    impl StreamResponse {
        /// The 0.3 HTTP+JSON form of a 1.0 stream event; a status update
        /// that ends the stream says `final: true`.
        pub fn from_v1(ev: &model::StreamResponse) -> StreamResponse {
            match ev {
                model::StreamResponse::Task(t) => StreamResponse::Task(Task::from_v1(t)),
                model::StreamResponse::Message(m) => StreamResponse::Message(Message::from_v1(m)),
                model::StreamResponse::StatusUpdate(s) => {
                    StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
                        task_id: s.task_id.clone(),
                        context_id: s.context_id.clone(),
                        status: TaskStatus::from_v1(&s.status),
                        is_final: ev.ends_stream(),
                        metadata: s.metadata.clone(),
                    })
                }
                model::StreamResponse::ArtifactUpdate(a) => {
                    StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
                        task_id: a.task_id.clone(),
                        context_id: a.context_id.clone(),
                        artifact: Artifact::from_v1(&a.artifact),
                        append: a.append,
                        last_chunk: a.last_chunk,
                        metadata: a.metadata.clone(),
                    })
                }
            }
        }
    }

    impl PushNotificationConfig {
        /// The 1.0 config of task `task_id`.
        pub fn into_v1(self, task_id: Option<String>) -> model::TaskPushNotificationConfig {
            model::TaskPushNotificationConfig {
                tenant: None,
                id: non_empty(self.id),
                task_id,
                url: self.url,
                token: non_empty(self.token),
                authentication: self
                    .authentication
                    .map(|a| auth_into_v1(a.schemes, non_empty(a.credentials))),
            }
        }
    }

    impl TaskPushNotificationConfig {
        /// The 0.3 HTTP+JSON form of a 1.0 config.
        pub fn from_v1(c: &model::TaskPushNotificationConfig) -> TaskPushNotificationConfig {
            let task = c.task_id.clone().unwrap_or_default();
            let id = c.id.clone().unwrap_or_default();
            TaskPushNotificationConfig {
                name: format!("tasks/{task}/pushNotificationConfigs/{id}"),
                push_notification_config: PushNotificationConfig {
                    id: c.id.clone(),
                    url: c.url.clone(),
                    token: c.token.clone(),
                    authentication: c.authentication.as_ref().map(|a| AuthenticationInfo {
                        schemes: vec![a.scheme.clone()],
                        credentials: a.credentials.clone(),
                    }),
                },
            }
        }
    }

    impl CreateTaskPushNotificationConfigRequest {
        /// The 1.0 config for task `task_id` (from the path). A `parent`, if
        /// given, must name the same task; `configId` fills a missing `id`.
        pub fn into_v1(self, task_id: &str) -> Result<model::TaskPushNotificationConfig, A2aError> {
            if let Some(parent) = non_empty(self.parent)
                && parent != format!("tasks/{task_id}")
            {
                return Err(field_err(
                    "parent",
                    format!("`{parent}` does not name task `{task_id}` of the path"),
                ));
            }
            let Some(config) = self.config else {
                return Err(field_err(
                    "config",
                    "is required: `{config: {pushNotificationConfig: {url, …}}}`",
                ));
            };
            let mut v1 = config
                .push_notification_config
                .into_v1(Some(task_id.to_string()));
            if v1.url.is_empty() {
                return Err(field_err(
                    "config.pushNotificationConfig.url",
                    "is required",
                ));
            }
            if v1.id.is_none() {
                v1.id = non_empty(self.config_id);
            }
            Ok(v1)
        }
    }

    impl SendMessageRequest {
        /// The 1.0 request.
        pub fn into_v1(self) -> Result<model::SendMessageRequest, A2aError> {
            let message = self.message.into_v1("message")?;
            let configuration = self.configuration.map(|c| model::SendMessageConfiguration {
                accepted_output_modes: c.accepted_output_modes,
                task_push_notification_config: c.push_notification.map(|p| p.into_v1(None)),
                // Protobuf cannot tell 0 from unset; 0 is "no limit" here.
                history_length: c.history_length.filter(|n| *n != 0),
                return_immediately: !c.blocking,
            });
            Ok(model::SendMessageRequest {
                tenant: None,
                message,
                // Without a configuration, protobuf's defaults apply:
                // `blocking` is false.
                configuration: Some(configuration.unwrap_or(model::SendMessageConfiguration {
                    return_immediately: true,
                    ..Default::default()
                })),
                metadata: self.metadata,
            })
        }
    }
}

// ---------------------------------------------------------------------------
// The agent card

/// The 0.3 members of an agent card, to merge into the 1.0 card document:
/// `protocolVersion` (`0.3.0`), `url` (the JSON-RPC URL),
/// `preferredTransport` (`JSONRPC`), `additionalInterfaces` (JSON-RPC at
/// `jsonrpc_url`, HTTP+JSON at `rest_url`, the base a 0.3 REST client
/// appends `/v1/…` to), `supportsAuthenticatedExtendedCard`, and
/// `capabilities.stateTransitionHistory`.
pub fn card_v03_members(
    card: &model::AgentCard,
    jsonrpc_url: &str,
    rest_url: &str,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("protocolVersion".into(), V03_PROTOCOL_VERSION.into());
    m.insert("url".into(), jsonrpc_url.into());
    m.insert("preferredTransport".into(), "JSONRPC".into());
    m.insert(
        "additionalInterfaces".into(),
        serde_json::json!([
            {"url": jsonrpc_url, "transport": "JSONRPC"},
            {"url": rest_url, "transport": "HTTP+JSON"},
        ]),
    );
    m.insert(
        "supportsAuthenticatedExtendedCard".into(),
        Value::Bool(card.capabilities.extended_agent_card.unwrap_or(false)),
    );
    m
}

/// The 1.0 card document with the 0.3 members beside the 1.0 ones (see
/// [`card_v03_members`]); 1.0 members win where both name one.
pub fn dual_card(card: &model::AgentCard, jsonrpc_url: &str, rest_url: &str) -> Value {
    let mut v = serde_json::to_value(card).unwrap_or_else(|_| Value::Object(Map::new()));
    if let Value::Object(obj) = &mut v {
        for (k, val) in card_v03_members(card, jsonrpc_url, rest_url) {
            obj.entry(k).or_insert(val);
        }
        if let Some(Value::Object(caps)) = obj.get_mut("capabilities") {
            caps.entry("stateTransitionHistory")
                .or_insert(Value::Bool(false));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(e: &A2aError) -> String {
        match e {
            A2aError::InvalidParams { field: Some(f), .. } => f.clone(),
            other => panic!("not invalid params with a field: {other:?}"),
        }
    }

    fn v03_message() -> Value {
        json!({
            "kind": "message",
            "messageId": "m1",
            "role": "user",
            "contextId": "c1",
            "referenceTaskIds": ["t0"],
            "metadata": {"k": "v"},
            "parts": [
                {"kind": "text", "text": "hello", "metadata": {"p": 1}},
                {"kind": "file", "file": {"bytes": "dGNr", "mimeType": "image/png", "name": "a.png"}},
                {"kind": "file", "file": {"uri": "https://example.com/o.txt", "mimeType": "text/plain"}},
                {"kind": "data", "data": {"answer": 42}}
            ]
        })
    }

    #[test]
    fn json_messages_round_trip_through_v1() {
        let original = v03_message();
        let m: json::Message = parse(original.clone(), "message").unwrap();
        let v1 = m.into_v1("message").unwrap();
        assert_eq!(v1.role, model::Role::User);
        assert_eq!(v1.parts[0].as_text(), Some("hello"));
        assert_eq!(
            v1.parts[1].content,
            PartContent::Raw(Bytes(b"tck".to_vec()))
        );
        assert_eq!(v1.parts[1].filename.as_deref(), Some("a.png"));
        assert_eq!(v1.parts[1].media_type.as_deref(), Some("image/png"));
        assert_eq!(
            v1.parts[2].content,
            PartContent::Url("https://example.com/o.txt".into())
        );
        assert_eq!(
            v1.parts[3].content,
            PartContent::Data(json!({"answer": 42}))
        );
        assert_eq!(v1.reference_task_ids, ["t0"]);
        let back = serde_json::to_value(json::Message::from_v1(&v1)).unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn json_tasks_and_states_use_kind_and_lowercase() {
        let mut task = model::Task {
            id: "t1".into(),
            context_id: "c1".into(),
            status: model::TaskStatus::new(model::TaskState::InputRequired, None),
            ..Default::default()
        };
        task.history.push(model::Message::user_text("hi"));
        task.artifacts.push(model::Artifact {
            artifact_id: "a".into(),
            parts: vec![model::Part::data(json!([1, 2]))],
            ..Default::default()
        });
        let v = serde_json::to_value(json::Task::from_v1(&task)).unwrap();
        assert_eq!(v["kind"], "task");
        assert_eq!(v["status"]["state"], "input-required");
        assert_eq!(v["history"][0]["kind"], "message");
        assert_eq!(v["history"][0]["role"], "user");
        assert_eq!(
            v["history"][0]["parts"][0],
            json!({"kind": "text", "text": "hi"})
        );
        // Non-object data is wrapped: 0.3 data parts are objects.
        assert_eq!(
            v["artifacts"][0]["parts"][0],
            json!({"kind": "data", "data": {"value": [1, 2]}})
        );
        let back: json::Task = parse(v, "").unwrap();
        assert_eq!(back.into_v1("task").unwrap().history, task.history);

        let names = [
            "unknown",
            "submitted",
            "working",
            "completed",
            "failed",
            "canceled",
            "input-required",
            "rejected",
            "auth-required",
        ];
        for (s, name) in model::TaskState::ALL.into_iter().zip(names) {
            let js = json::TaskState::from_v1(s);
            assert_eq!(js.into_v1(), s);
            assert_eq!(serde_json::to_value(js).unwrap(), json!(name));
        }
    }

    #[test]
    fn json_events_are_bare_and_final_marks_the_end() {
        let status = |state| {
            model::StreamResponse::StatusUpdate(model::TaskStatusUpdateEvent {
                task_id: "t".into(),
                context_id: "c".into(),
                status: model::TaskStatus::new(state, None),
                metadata: None,
            })
        };
        let working =
            serde_json::to_value(json::Event::from_v1(&status(model::TaskState::Working))).unwrap();
        assert_eq!(working["kind"], "status-update");
        assert_eq!(working["final"], false);
        assert_eq!(working["status"]["state"], "working");
        for end in [
            model::TaskState::Completed,
            model::TaskState::InputRequired,
            model::TaskState::Canceled,
        ] {
            let v = serde_json::to_value(json::Event::from_v1(&status(end))).unwrap();
            assert_eq!(v["final"], true, "{v}");
        }
        let art = model::StreamResponse::ArtifactUpdate(model::TaskArtifactUpdateEvent {
            task_id: "t".into(),
            context_id: "c".into(),
            artifact: model::Artifact {
                artifact_id: "a".into(),
                parts: vec![model::Part::text("x")],
                ..Default::default()
            },
            append: true,
            last_chunk: false,
            metadata: None,
        });
        let v = serde_json::to_value(json::Event::from_v1(&art)).unwrap();
        assert_eq!(v["kind"], "artifact-update");
        assert_eq!(v["append"], true);
        assert!(v.get("lastChunk").is_none());
        assert!(v.get("artifactUpdate").is_none(), "no 1.0 wrapper: {v}");
        let msg = model::StreamResponse::Message(model::Message::agent(vec![]));
        let v = serde_json::to_value(json::Event::from_v1(&msg)).unwrap();
        assert_eq!(v["kind"], "message");
        assert_eq!(v["role"], "agent");
    }

    #[test]
    fn json_send_params_map_blocking_and_push_config() {
        let req = json::parse_send_params(json!({
            "message": v03_message(),
            "configuration": {
                "blocking": false,
                "historyLength": 2,
                "acceptedOutputModes": ["text/plain"],
                "pushNotificationConfig": {
                    "url": "https://hook.example/x", "token": "tok",
                    "authentication": {"schemes": ["Bearer"], "credentials": "s3"}
                }
            },
            "metadata": {"m": true}
        }))
        .unwrap();
        let c = req.configuration.unwrap();
        assert!(c.return_immediately);
        assert_eq!(c.history_length, Some(2));
        assert_eq!(c.accepted_output_modes, ["text/plain"]);
        let push = c.task_push_notification_config.unwrap();
        assert_eq!(push.url, "https://hook.example/x");
        assert_eq!(push.authentication.unwrap().scheme, "Bearer");
        assert_eq!(req.metadata.unwrap()["m"], true);

        // blocking defaults to true.
        let req = json::parse_send_params(json!({"message": v03_message(), "configuration": {}}))
            .unwrap();
        assert!(!req.configuration.unwrap().return_immediately);
        let req = json::parse_send_params(json!({"message": v03_message()})).unwrap();
        assert!(req.configuration.is_none());
    }

    #[test]
    fn json_push_configs_nest_and_round_trip() {
        let v = json!({
            "taskId": "t1",
            "pushNotificationConfig": {
                "id": "p1", "url": "https://h/x", "token": "tok",
                "authentication": {"schemes": ["Bearer"], "credentials": "c"}
            }
        });
        json::check_push_config(&v).unwrap();
        let c: json::TaskPushNotificationConfig = parse(v.clone(), "").unwrap();
        let v1 = c.into_v1();
        assert_eq!(v1.task_id.as_deref(), Some("t1"));
        assert_eq!(v1.id.as_deref(), Some("p1"));
        let back = serde_json::to_value(json::TaskPushNotificationConfig::from_v1(&v1)).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn v1_shapes_in_v03_requests_name_the_field() {
        let cases = [
            (
                json!({"message": {"messageId": "m", "role": "user", "parts": [{"text": "x"}]}}),
                "message.parts[0].kind",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER",
                                   "parts": [{"kind": "text", "text": "x"}]}}),
                "message.role",
            ),
            (
                json!({"message": {"messageId": "m", "role": "user",
                                   "parts": [{"kind": "text", "text": "x"}]},
                       "configuration": {"returnImmediately": true}}),
                "configuration.returnImmediately",
            ),
            (
                json!({"message": {"messageId": "m", "role": "user",
                                   "parts": [{"kind": "text", "text": "x"}]},
                       "configuration": {"taskPushNotificationConfig": {"url": "u"}}}),
                "configuration.taskPushNotificationConfig",
            ),
            (
                json!({"message": {"messageId": "m", "role": "user",
                                   "parts": [{"raw": "dGNr", "mediaType": "image/png"}]}}),
                "message.parts[0].kind",
            ),
            (
                json!({"message": {"messageId": "m", "role": "user",
                                   "parts": [{"kind": "image", "text": "x"}]}}),
                "message.parts[0].kind",
            ),
            (
                json!({"message": {"messageId": "m", "role": "user",
                                   "parts": [{"kind": "file", "file": {}}]}}),
                "message.parts[0].file",
            ),
            (
                json!({"message": {"messageId": "m", "role": "user",
                                   "parts": [{"kind": "file", "file": {"bytes": "%%"}}]}}),
                "message.parts[0].file.bytes",
            ),
            (
                json!({"message": {"messageId": "m", "role": "user",
                                   "content": [{"text": "x"}]}}),
                "message.content",
            ),
            (
                json!({"message": {"role": "user", "parts": []}}),
                "message.messageId",
            ),
        ];
        for (params, field) in cases {
            let e = json::parse_send_params(params.clone()).unwrap_err();
            assert_eq!(field_of(&e), field, "{params}: {e}");
            assert_eq!(e.code(), -32602);
        }
        let e = json::check_push_config(&json!({"taskId": "t", "url": "u"})).unwrap_err();
        assert_eq!(field_of(&e), "pushNotificationConfig");
        let e = json::check_push_config_ref(&json!({"taskId": "t", "id": "c"})).unwrap_err();
        assert_eq!(field_of(&e), "taskId");
        // The hint points at the other version.
        let e = json::parse_send_params(
            json!({"message": {"messageId": "m", "role": "user", "parts": [{"text": "x"}]}}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("A2A-Version: 1.0"), "{e}");
    }

    #[test]
    fn v03_shapes_in_v1_requests_name_the_field() {
        let msg = |extra: Value| {
            let mut m = json!({"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "x"}]});
            for (k, v) in extra.as_object().unwrap() {
                m[k] = v.clone();
            }
            json!({"message": m})
        };
        let cases = [
            (
                "SendMessage",
                msg(json!({"kind": "message"})),
                "message.kind",
            ),
            ("SendMessage", msg(json!({"role": "user"})), "message.role"),
            (
                "SendStreamingMessage",
                msg(json!({"parts": [{"kind": "text", "text": "x"}]})),
                "message.parts[0].kind",
            ),
            (
                "SendMessage",
                msg(json!({"parts": [{"file": {"uri": "u"}}]})),
                "message.parts[0].file",
            ),
            (
                "SendMessage",
                json!({"message": {"messageId": "m", "role": "ROLE_USER", "content": []}}),
                "message.content",
            ),
            (
                "SendMessage",
                json!({"message": {"messageId": "m", "role": "ROLE_USER", "parts": []},
                       "configuration": {"blocking": true}}),
                "configuration.blocking",
            ),
            (
                "SendMessage",
                json!({"message": {"messageId": "m", "role": "ROLE_USER", "parts": []},
                       "configuration": {"pushNotificationConfig": {"url": "u"}}}),
                "configuration.pushNotificationConfig",
            ),
            (
                "CreateTaskPushNotificationConfig",
                json!({"taskId": "t", "pushNotificationConfig": {"url": "u"}}),
                "pushNotificationConfig",
            ),
            (
                "GetTaskPushNotificationConfig",
                json!({"id": "t", "pushNotificationConfigId": "c"}),
                "pushNotificationConfigId",
            ),
        ];
        for (method, params, field) in cases {
            let e = reject_v03_shapes(method, &params).unwrap_err();
            assert_eq!(field_of(&e), field, "{method} {params}");
            assert!(e.to_string().contains("A2A 0.3"), "{e}");
        }
        // Genuinely unknown fields still pass.
        reject_v03_shapes("SendMessage", &msg(json!({"zzz": 1}))).unwrap();
        reject_v03_shapes("GetTask", &json!({"id": "t", "kind": "x"})).unwrap();
    }

    #[test]
    fn proto_messages_round_trip_through_v1() {
        let original = json!({
            "messageId": "m1",
            "contextId": "c1",
            "role": "ROLE_USER",
            "content": [
                {"text": "hello"},
                {"file": {"fileWithUri": "https://example.com/o.txt", "mimeType": "text/plain", "name": "o.txt"}},
                {"file": {"fileWithBytes": "ZEdOcg==", "mimeType": "image/png"}},
                {"data": {"data": {"answer": 42}}, "metadata": {"p": 1}}
            ],
            "metadata": {"k": "v"}
        });
        proto::check_message(&original, "message").unwrap();
        let m: proto::Message = parse(original.clone(), "message").unwrap();
        let v1 = m.into_v1("message").unwrap();
        assert_eq!(v1.role, model::Role::User);
        assert_eq!(v1.parts[0].as_text(), Some("hello"));
        assert_eq!(v1.parts[1].filename.as_deref(), Some("o.txt"));
        // a2a-sdk 0.3 sends base64 of the base64 text: "dGNr" -> "tck".
        assert_eq!(
            v1.parts[2].content,
            PartContent::Raw(Bytes(b"tck".to_vec()))
        );
        assert_eq!(
            v1.parts[3].content,
            PartContent::Data(json!({"answer": 42}))
        );
        assert_eq!(v1.parts[3].metadata.as_ref().unwrap()["p"], 1);
        let back = serde_json::to_value(proto::Message::from_v1(&v1)).unwrap();
        assert_eq!(back, original);

        // Plain protobuf bytes (once-encoded binary) are read as such.
        let once = encode_base64(&[0u8, 159, 146, 150]);
        let p: proto::Part = parse(json!({"file": {"fileWithBytes": once}}), "").unwrap();
        assert_eq!(
            p.into_v1("p").unwrap().content,
            PartContent::Raw(Bytes(vec![0, 159, 146, 150]))
        );
        // Enums by number, as protobuf JSON allows.
        let m: proto::Message =
            parse(json!({"messageId": "m", "role": 2, "content": []}), "").unwrap();
        assert_eq!(m.role.0, model::Role::Agent);
    }

    #[test]
    fn proto_tasks_and_events_use_proto_names() {
        let task = model::Task {
            id: "t1".into(),
            context_id: "c1".into(),
            status: model::TaskStatus::new(
                model::TaskState::Canceled,
                Some(model::Message {
                    reference_task_ids: vec!["x".into()],
                    ..model::Message::agent(vec![model::Part::text("bye")])
                }),
            ),
            ..Default::default()
        };
        let v = serde_json::to_value(proto::Task::from_v1(&task)).unwrap();
        assert_eq!(v["status"]["state"], "TASK_STATE_CANCELLED");
        assert_eq!(v["status"]["message"]["role"], "ROLE_AGENT");
        assert_eq!(v["status"]["message"]["content"][0], json!({"text": "bye"}));
        assert!(v["status"]["message"].get("referenceTaskIds").is_none());
        assert!(v["status"]["message"].get("parts").is_none());
        let back: proto::Task = parse(v, "").unwrap();
        assert_eq!(back.status.state.0, model::TaskState::Canceled);

        let send = model::SendMessageResponse::Task(std::sync::Arc::new(task.clone()));
        let v = serde_json::to_value(proto::SendMessageResponse::from_v1(&send)).unwrap();
        assert_eq!(v["task"]["id"], "t1");
        let ev = model::StreamResponse::StatusUpdate(model::TaskStatusUpdateEvent {
            task_id: "t1".into(),
            context_id: "c1".into(),
            status: model::TaskStatus::new(model::TaskState::Completed, None),
            metadata: None,
        });
        let v = serde_json::to_value(proto::StreamResponse::from_v1(&ev)).unwrap();
        assert_eq!(v["statusUpdate"]["final"], true);
        assert_eq!(v["statusUpdate"]["status"]["state"], "TASK_STATE_COMPLETED");
        let raw = model::Part {
            content: PartContent::Raw(Bytes(b"tck".to_vec())),
            ..model::Part::text("")
        };
        let v = serde_json::to_value(proto::Part::from_v1(&raw)).unwrap();
        assert_eq!(v, json!({"file": {"fileWithBytes": "ZEdOcg=="}}));
    }

    #[test]
    fn proto_send_requests_default_to_non_blocking() {
        let msg = json!({"messageId": "m", "role": "ROLE_USER", "content": [{"text": "x"}]});
        let r = proto::parse_send_request(json!({"message": msg})).unwrap();
        assert!(r.configuration.unwrap().return_immediately);
        let r = proto::parse_send_request(
            json!({"request": msg, "configuration": {"blocking": true, "historyLength": 0}}),
        )
        .unwrap();
        let c = r.configuration.unwrap();
        assert!(!c.return_immediately);
        assert_eq!(c.history_length, None);
    }

    #[test]
    fn other_shapes_in_v03_rest_bodies_name_the_field() {
        let cases = [
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "x"}]}}),
                "message.parts",
            ),
            (
                json!({"message": {"kind": "message", "messageId": "m", "role": "ROLE_USER", "content": []}}),
                "message.kind",
            ),
            (
                json!({"message": {"messageId": "m", "role": "user", "content": [{"text": "x"}]}}),
                "message.role",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER",
                                   "content": [{"kind": "text", "text": "x"}]}}),
                "message.content[0].kind",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER",
                                   "content": [{"raw": "dGNr"}]}}),
                "message.content[0].raw",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER",
                                   "content": [{"data": {"answer": 42}}]}}),
                "message.content[0].data",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER",
                                   "content": [{"text": "x", "file": {"fileWithUri": "u"}}]}}),
                "message.content[0]",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER", "content": []},
                       "configuration": {"returnImmediately": true}}),
                "configuration.returnImmediately",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_BOSS", "content": []}}),
                "message.role",
            ),
        ];
        for (body, field) in cases {
            let e = proto::parse_send_request(body.clone()).unwrap_err();
            assert_eq!(field_of(&e), field, "{body}: {e}");
        }
    }

    #[test]
    fn proto_push_config_requests_check_the_task() {
        let body = json!({
            "parent": "tasks/t1",
            "configId": "p1",
            "config": {"pushNotificationConfig": {"url": "https://h/x",
                        "authentication": {"schemes": ["Bearer"]}}}
        });
        let r: proto::CreateTaskPushNotificationConfigRequest = parse(body.clone(), "").unwrap();
        let v1 = r.into_v1("t1").unwrap();
        assert_eq!(v1.id.as_deref(), Some("p1"));
        assert_eq!(v1.task_id.as_deref(), Some("t1"));
        let out = serde_json::to_value(proto::TaskPushNotificationConfig::from_v1(&v1)).unwrap();
        assert_eq!(out["name"], "tasks/t1/pushNotificationConfigs/p1");
        assert_eq!(out["pushNotificationConfig"]["url"], "https://h/x");

        let r: proto::CreateTaskPushNotificationConfigRequest = parse(body, "").unwrap();
        assert_eq!(field_of(&r.into_v1("other").unwrap_err()), "parent");
        let r: proto::CreateTaskPushNotificationConfigRequest = parse(json!({}), "").unwrap();
        assert_eq!(field_of(&r.into_v1("t1").unwrap_err()), "config");
    }

    #[test]
    fn dual_cards_keep_v1_members_and_add_v03_ones() {
        let card = model::AgentCard {
            name: "echo".into(),
            description: "Echoes".into(),
            version: "1.0.0".into(),
            capabilities: model::AgentCapabilities {
                streaming: Some(true),
                ..Default::default()
            },
            default_input_modes: vec!["text/plain".into()],
            default_output_modes: vec!["text/plain".into()],
            ..Default::default()
        };
        let v = dual_card(&card, "http://h/agents/echo", "http://h/agents/echo");
        assert_eq!(v["url"], "http://h/agents/echo");
        assert_eq!(v["preferredTransport"], "JSONRPC");
        assert_eq!(v["protocolVersion"], "0.3.0");
        assert_eq!(v["additionalInterfaces"][1]["transport"], "HTTP+JSON");
        assert_eq!(v["capabilities"]["streaming"], true);
        assert_eq!(v["capabilities"]["stateTransitionHistory"], false);
        // The 0.3 required members are all present.
        for k in [
            "name",
            "description",
            "url",
            "version",
            "capabilities",
            "defaultInputModes",
            "defaultOutputModes",
            "skills",
        ] {
            assert!(v.get(k).is_some(), "{k} missing in {v}");
        }
        // The 1.0 members are unchanged.
        let mut only_v1 = v.clone();
        for k in card_v03_members(&card, "", "").keys() {
            only_v1.as_object_mut().unwrap().remove(k);
        }
        only_v1["capabilities"]
            .as_object_mut()
            .unwrap()
            .remove("stateTransitionHistory");
        assert_eq!(only_v1, serde_json::to_value(&card).unwrap());
    }
}
