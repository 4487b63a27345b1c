//! The A2A 0.3 HTTP+JSON wire types ([`super::proto`]): the protobuf JSON
//! of the 0.3 `a2a.proto` behind the `/v1/…` routes.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::model::{self, Metadata};

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
    /// Where the content can be fetched (`fileWithUri`); becomes the 1.0
    /// part's `url`. An empty string counts as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "file_with_uri")]
    pub file_with_uri: Option<String>,
    /// Base64 of the UTF-8 of the base64 content (see the [`super`] docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "file_with_bytes")]
    pub file_with_bytes: Option<String>,
    /// The media type (`mimeType`); the 1.0 part's `mediaType`. An empty
    /// string counts as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "mime_type")]
    pub mime_type: Option<String>,
    /// The file name; the 1.0 part's `filename`. An empty string counts as
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Structured data: `{"data": {…}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct DataPart {
    /// The structured data; the 1.0 part's `data`. A 1.0 value that is not a
    /// JSON object is written as `{"value": …}`.
    #[serde(default)]
    pub data: Map<String, Value>,
}

/// A part: exactly one of `text`, `file` and `data`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Part {
    /// Plain text; the 1.0 part's `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A file; becomes the 1.0 part's `raw` or `url`, with its `filename`
    /// and `mediaType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FilePart>,
    /// Structured data, nested as `{"data": {"data": {…}}}` in the part; the
    /// 1.0 part's `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataPart>,
    /// Extension data for the part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// One turn of a conversation; its parts are in `content`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// The id the sender gave the message (`messageId`).
    #[serde(alias = "message_id")]
    pub message_id: String,
    /// The conversation the message belongs to; an empty string counts as
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "context_id")]
    pub context_id: Option<String>,
    /// The task the message continues; an empty string counts as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "task_id")]
    pub task_id: Option<String>,
    /// Who sent the message; `ROLE_UNSPECIFIED` when left out.
    #[serde(default)]
    pub role: Role,
    /// The parts, in order (1.0 `parts`). There is no `referenceTaskIds` in
    /// the 0.3 proto: a 1.0 message loses them here.
    #[serde(default)]
    pub content: Vec<Part>,
    /// Extension data for the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// URIs of the extensions the message uses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

/// A task's status (`message` is the proto field `update`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    /// Where the task is in its life cycle; `TASK_STATE_UNSPECIFIED` when
    /// left out.
    #[serde(default)]
    pub state: TaskState,
    /// A message from the agent that goes with this state (1.0
    /// `status.message`); also read as `update`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "update")]
    pub message: Option<Message>,
    /// When the task entered this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<model::Timestamp>,
}

/// An output of a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Identifies the artifact within its task (`artifactId`).
    #[serde(alias = "artifact_id")]
    pub artifact_id: String,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The content.
    #[serde(default)]
    pub parts: Vec<Part>,
    /// Extension data for the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// URIs of the extensions the artifact uses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

/// A task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// The task's id, chosen by the server.
    pub id: String,
    /// The conversation the task belongs to (`contextId`).
    #[serde(default)]
    #[serde(alias = "context_id")]
    pub context_id: String,
    /// The current status.
    #[serde(default)]
    pub status: TaskStatus,
    /// The outputs produced so far; left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    /// The messages of the task so far; left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Message>,
    /// Extension data for the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// A status change; `final` is written only when true (protobuf JSON
/// leaves defaults out).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatusUpdateEvent {
    /// The task whose status changed.
    pub task_id: String,
    /// The task's conversation.
    pub context_id: String,
    /// The new status.
    pub status: TaskStatus,
    /// `final`: true on the last event of the stream (a terminal or
    /// interrupted state); 1.0 has no such field.
    #[serde(rename = "final", default, skip_serializing_if = "is_false")]
    pub is_final: bool,
    /// Extension data for the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// A new or extended artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskArtifactUpdateEvent {
    /// The task the artifact belongs to.
    pub task_id: String,
    /// The task's conversation.
    pub context_id: String,
    /// The artifact, or the parts this event adds to it.
    pub artifact: Artifact,
    /// True when the parts extend the artifact of the same id sent before.
    #[serde(default, skip_serializing_if = "is_false")]
    pub append: bool,
    /// True on the last chunk of the artifact (`lastChunk`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub last_chunk: bool,
    /// Extension data for the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// The answer to `POST /v1/message:send`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SendMessageResponse {
    /// `{"task": …}`: the task the message created or continued.
    Task(Task),
    /// `{"message": …}`: the agent's direct answer, without a task.
    Message(Message),
}

/// One event of a 0.3 HTTP+JSON stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StreamResponse {
    /// `{"task": …}`: the task as it stands.
    Task(Task),
    /// `{"message": …}`: a message from the agent.
    Message(Message),
    /// `{"statusUpdate": …}`: a status change.
    StatusUpdate(TaskStatusUpdateEvent),
    /// `{"artifactUpdate": …}`: a new or extended artifact.
    ArtifactUpdate(TaskArtifactUpdateEvent),
}

/// How the host authenticates to a push webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationInfo {
    /// Auth scheme names, such as `Bearer`. 1.0 has a single `scheme`: on
    /// input the first non-empty entry is kept; a 1.0 scheme is written as a
    /// one-entry list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemes: Vec<String>,
    /// The credentials for the scheme; an empty string counts as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

/// A push webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PushNotificationConfig {
    /// The config's id; an empty string counts as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The webhook URL notifications are posted to; required when creating
    /// a config.
    #[serde(default)]
    pub url: String,
    /// A token for the receiver to check each notification against; an
    /// empty string counts as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// How to authenticate to the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationInfo>,
}

/// A task's push webhook, named
/// `tasks/{taskId}/pushNotificationConfigs/{configId}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskPushNotificationConfig {
    /// The resource name, `tasks/{taskId}/pushNotificationConfigs/{configId}`;
    /// written on output, ignored on input (the task comes from the path).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The webhook (`pushNotificationConfig`); 1.0 has no nesting and puts
    /// these fields at the top level of its config.
    #[serde(default)]
    #[serde(alias = "push_notification_config")]
    pub push_notification_config: PushNotificationConfig,
}

/// The body of `POST /v1/tasks/{id}/pushNotificationConfigs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateTaskPushNotificationConfigRequest {
    /// The task as `tasks/{taskId}`; if given, it must name the task of the
    /// path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The config's id (`configId`), used when `config` gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "config_id")]
    pub config_id: Option<String>,
    /// The webhook; required. A body that is a bare
    /// [`TaskPushNotificationConfig`] is read as this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<TaskPushNotificationConfig>,
}

/// The answer to `GET /v1/tasks/{id}/pushNotificationConfigs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListTaskPushNotificationConfigResponse {
    /// The task's webhooks.
    pub configs: Vec<TaskPushNotificationConfig>,
    /// The token for the next page; left out on the last page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

/// How `message:send` should behave. As in protobuf, a missing
/// `blocking` is false: a client that wants to wait says
/// `"blocking": true` (the a2a-sdk 0.3 client always does).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageConfiguration {
    /// Media types the client accepts in the answer (`acceptedOutputModes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "accepted_output_modes")]
    pub accepted_output_modes: Vec<String>,
    /// A webhook for the task (`pushNotification`); becomes the 1.0
    /// `taskPushNotificationConfig` (with no `taskId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "push_notification")]
    pub push_notification: Option<PushNotificationConfig>,
    /// How many of the most recent history messages the returned task
    /// carries. 0 and left out both keep it all: protobuf cannot tell 0 from
    /// unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "history_length")]
    pub history_length: Option<i32>,
    /// Wait for a terminal or interrupted state; false when left out. The
    /// inverse of 1.0 `returnImmediately`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub blocking: bool,
}

/// The body of `POST /v1/message:send` and `…:stream` (`message` is the
/// proto field `request`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    /// The message to send; also read as `request`, the proto field name.
    #[serde(alias = "request")]
    pub message: Message,
    /// How to send it. Left out, protobuf's defaults apply: the send does
    /// not block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<SendMessageConfiguration>,
    /// Extension data for the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}
