//! The A2A 0.3 JSON-RPC wire types ([`super::json`]): `kind`-tagged
//! objects, lowercase enums, bare results.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{self, Metadata};

macro_rules! kind_tag {
    ($(#[$doc:meta])* $name:ident, $lit:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            /// The only value, written as the tag's string.
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
    /// `user`: sent by the client (1.0 `ROLE_USER`).
    User,
    /// `agent`: sent by the agent (1.0 `ROLE_AGENT`; a 1.0 `ROLE_UNSPECIFIED`
    /// is written as this too).
    Agent,
}

/// A task state, lowercase with hyphens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    /// `submitted`: received, not started (1.0 `TASK_STATE_SUBMITTED`).
    Submitted,
    /// `working`: in progress (1.0 `TASK_STATE_WORKING`).
    Working,
    /// `input-required`: interrupted until the client sends a follow-up
    /// message (1.0 `TASK_STATE_INPUT_REQUIRED`).
    InputRequired,
    /// `completed`: finished; terminal (1.0 `TASK_STATE_COMPLETED`).
    Completed,
    /// `canceled`: canceled; terminal (1.0 `TASK_STATE_CANCELED`).
    Canceled,
    /// `failed`: ended in an error; terminal (1.0 `TASK_STATE_FAILED`).
    Failed,
    /// `rejected`: the agent refused the task; terminal (1.0
    /// `TASK_STATE_REJECTED`).
    Rejected,
    /// `auth-required`: interrupted until credentials arrive (1.0
    /// `TASK_STATE_AUTH_REQUIRED`).
    AuthRequired,
    /// `unknown`: the state is not known (1.0 `TASK_STATE_UNSPECIFIED`).
    Unknown,
}

/// The file of a file part: exactly one of `bytes` (base64) and `uri`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FileContent {
    /// The content, base64 (standard or URL-safe, padding optional); becomes
    /// the 1.0 part's `raw` bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
    /// Where the content can be fetched; becomes the 1.0 part's `url`. An
    /// empty string counts as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The media type (`mimeType`); the 1.0 part's `mediaType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The file name; the 1.0 part's `filename`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A part, tagged by `kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Part {
    /// `kind: "text"`: a 1.0 part with `text`.
    Text {
        /// The text.
        text: String,
        /// Extension data for the part; the 1.0 part's `metadata`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Metadata>,
    },
    /// `kind: "file"`: a 1.0 part with `raw` or `url`, plus its `filename`
    /// and `mediaType`.
    File {
        /// The content or its URI, with the name and media type.
        file: FileContent,
        /// Extension data for the part; the 1.0 part's `metadata`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Metadata>,
    },
    /// `kind: "data"`: a 1.0 part with `data`. A 1.0 value that is not a JSON
    /// object is written as `{"value": …}`.
    Data {
        /// The structured data; always a JSON object in 0.3.
        data: Map<String, Value>,
        /// Extension data for the part; the 1.0 part's `metadata`.
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
    /// The id the sender gave the message (`messageId`).
    pub message_id: String,
    /// Who sent the message.
    pub role: Role,
    /// The content, in order (1.0 `parts`).
    pub parts: Vec<Part>,
    /// The conversation the message belongs to; an empty string counts as
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// The task the message continues; an empty string counts as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Extension data for the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// URIs of the extensions the message uses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// Ids of related tasks, as hints for the agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_task_ids: Vec<String>,
}

/// A task's status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    /// Where the task is in its life cycle.
    pub state: TaskState,
    /// A message from the agent that goes with this state (1.0
    /// `status.message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// When the task entered this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<model::Timestamp>,
}

/// An output of a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Identifies the artifact within its task (`artifactId`).
    pub artifact_id: String,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The content.
    pub parts: Vec<Part>,
    /// Extension data for the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// URIs of the extensions the artifact uses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

/// A task (`kind: "task"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Always `"task"`; optional on input.
    #[serde(default)]
    pub kind: TaskKind,
    /// The task's id, chosen by the server.
    pub id: String,
    /// The conversation the task belongs to (`contextId`).
    pub context_id: String,
    /// The current status.
    pub status: TaskStatus,
    /// The messages of the task so far; left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Message>,
    /// The outputs produced so far; left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    /// Extension data for the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// A status change (`kind: "status-update"`); `final` is true on the
/// event that ends the stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatusUpdateEvent {
    /// Always `"status-update"`; optional on input.
    #[serde(default)]
    pub kind: StatusUpdateKind,
    /// The task whose status changed.
    pub task_id: String,
    /// The task's conversation.
    pub context_id: String,
    /// The new status.
    pub status: TaskStatus,
    /// `final`: true on the last event of the stream (a terminal or
    /// interrupted state, see [`model::StreamResponse::ends_stream`]). 1.0 has
    /// no such field.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Extension data for the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// A new or extended artifact (`kind: "artifact-update"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskArtifactUpdateEvent {
    /// Always `"artifact-update"`; optional on input.
    #[serde(default)]
    pub kind: ArtifactUpdateKind,
    /// The task the artifact belongs to.
    pub task_id: String,
    /// The task's conversation.
    pub context_id: String,
    /// The artifact, or the parts this event adds to it.
    pub artifact: Artifact,
    /// True when the parts extend the artifact of the same id sent before;
    /// written only when true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<bool>,
    /// True on the last chunk of the artifact (`lastChunk`); written only
    /// when true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_chunk: Option<bool>,
    /// Extension data for the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// A result or stream event: the bare object, told apart by `kind`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Event {
    /// A task (`kind: "task"`).
    Task(Task),
    /// A message (`kind: "message"`).
    Message(Message),
    /// A status change (`kind: "status-update"`).
    StatusUpdate(TaskStatusUpdateEvent),
    /// An artifact update (`kind: "artifact-update"`).
    ArtifactUpdate(TaskArtifactUpdateEvent),
}

/// How the host authenticates to a push webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationInfo {
    /// Auth scheme names, such as `Bearer`. 1.0 has a single `scheme`: on
    /// input the first non-empty entry is kept; a 1.0 scheme is written as a
    /// one-entry list.
    #[serde(default)]
    pub schemes: Vec<String>,
    /// The credentials for the scheme.
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
    /// The webhook URL notifications are posted to.
    pub url: String,
    /// A token for the receiver to check each notification against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// How to authenticate to the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationInfo>,
}

/// A task's push webhook: params of `tasks/pushNotificationConfig/set`
/// and the result of `…/get`, `…/set` and (in a list) `…/list`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskPushNotificationConfig {
    /// The task the webhook is for (`taskId`); the 1.0 config's `taskId`.
    /// An empty string counts as absent.
    pub task_id: String,
    /// The webhook; 1.0 has no nesting and puts these fields beside `taskId`.
    pub push_notification_config: PushNotificationConfig,
}

/// How `message/send` should behave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MessageSendConfiguration {
    /// Media types the client accepts in the answer (`acceptedOutputModes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_output_modes: Option<Vec<String>>,
    /// How many of the most recent history messages the returned task
    /// carries; 0 drops the history, left out keeps it all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_length: Option<i32>,
    /// A webhook for the task; becomes the 1.0
    /// `taskPushNotificationConfig` (with no `taskId`).
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
    /// The message to send.
    pub message: Message,
    /// How to send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<MessageSendConfiguration>,
    /// Extension data for the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// Params of `tasks/cancel`, `tasks/resubscribe` and
/// `tasks/pushNotificationConfig/list`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskIdParams {
    /// The task's id.
    pub id: String,
    /// Extension data; passed on by `tasks/cancel`, ignored by the other
    /// methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// Params of `tasks/get`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskQueryParams {
    /// The task's id.
    pub id: String,
    /// How many of the most recent history messages to return; 0 drops the
    /// history, left out returns it all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_length: Option<i32>,
    /// Extension data; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// Params of `tasks/pushNotificationConfig/get` and `…/delete`: `id` is
/// the task. Without a config id, `get` means the config whose id is the
/// task id (what a 0.3 server names a config set without one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PushConfigParams {
    /// The task's id.
    pub id: String,
    /// The config's id (`pushNotificationConfigId`); required by `…/delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_notification_config_id: Option<String>,
    /// Extension data; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}
