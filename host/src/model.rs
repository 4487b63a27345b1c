//! The A2A 1.0 data model in its ProtoJSON form (package `lf.a2a.v1`).
//!
//! Rules that hold for every type here:
//! - field names are camelCase; enums are the proto names (`TASK_STATE_*`);
//! - unset and empty fields are omitted on output;
//! - unknown fields are ignored on input (no `deny_unknown_fields`);
//! - on input, the proto field names (`history_length`) are accepted beside
//!   the JSON names (`historyLength`), as ProtoJSON parsers must;
//! - timestamps are RFC 3339 UTC with millisecond precision and a `Z`.
//!
//! The 0.3 wire shapes live in [`crate::compat`], which converts at the
//! binding edge; nothing else in the host sees them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// A JSON object, as used for `metadata` fields.
pub type Metadata = Map<String, Value>;

fn is_false(b: &bool) -> bool {
    !*b
}

// ---------------------------------------------------------------------------
// Timestamps

/// A point in time, written as `YYYY-MM-DDTHH:MM:SS.sssZ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub OffsetDateTime);

impl Timestamp {
    /// The current time, truncated to milliseconds so that a value survives
    /// a round trip through its text form unchanged.
    pub fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        let ms = now.millisecond();
        Timestamp(now.replace_millisecond(ms).expect("valid millisecond"))
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// The inverse of [`Timestamp::unix_millis`].
    pub fn from_unix_millis(ms: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
            .ok()
            .map(Timestamp)
    }

    /// Parses RFC 3339 (any offset; normalised to UTC).
    pub fn parse(s: &str) -> Result<Self, String> {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| Timestamp(t.to_offset(time::UtcOffset::UTC)))
            .map_err(|e| format!("`{s}` is not an RFC 3339 timestamp: {e}"))
    }

    /// The text form, `YYYY-MM-DDTHH:MM:SS.sssZ`, written digit by digit:
    /// every task serializes a few timestamps, and a `write!` of seven
    /// padded integers costs several times as much.
    /// `None` for years outside 0–9999, which RFC 3339 cannot write.
    fn rfc3339(&self) -> Option<[u8; 24]> {
        fn put(out: &mut [u8], mut n: u32) {
            for b in out.iter_mut().rev() {
                *b = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        let t = self.0.to_offset(time::UtcOffset::UTC);
        let (year, month, day) = t.to_calendar_date();
        let year = u32::try_from(year).ok().filter(|y| *y <= 9999)?;
        let (hour, minute, second, milli) = t.to_hms_milli();
        let mut b = *b"0000-00-00T00:00:00.000Z";
        put(&mut b[0..4], year);
        put(&mut b[5..7], u8::from(month).into());
        put(&mut b[8..10], day.into());
        put(&mut b[11..13], hour.into());
        put(&mut b[14..16], minute.into());
        put(&mut b[17..19], second.into());
        put(&mut b[20..23], milli.into());
        Some(b)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = self.rfc3339() {
            return f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?);
        }
        let t = self.0.to_offset(time::UtcOffset::UTC);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339() {
            Some(text) => {
                s.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
            }
            None => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------
// Enums

/// The lifecycle state of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum TaskState {
    /// Unknown or unset; not a valid state for a task.
    #[default]
    #[serde(rename = "TASK_STATE_UNSPECIFIED")]
    Unspecified,
    /// Received and acknowledged; work has not started.
    #[serde(rename = "TASK_STATE_SUBMITTED")]
    Submitted,
    /// The agent is working on the task.
    #[serde(rename = "TASK_STATE_WORKING")]
    Working,
    /// Finished successfully (terminal).
    #[serde(rename = "TASK_STATE_COMPLETED")]
    Completed,
    /// Finished with an error (terminal).
    #[serde(rename = "TASK_STATE_FAILED")]
    Failed,
    /// Canceled before it finished (terminal).
    #[serde(rename = "TASK_STATE_CANCELED")]
    Canceled,
    /// Waiting for a follow-up message from the client (interrupted).
    #[serde(rename = "TASK_STATE_INPUT_REQUIRED")]
    InputRequired,
    /// The agent declined to do the task (terminal).
    #[serde(rename = "TASK_STATE_REJECTED")]
    Rejected,
    /// Waiting for the client to supply credentials (interrupted).
    #[serde(rename = "TASK_STATE_AUTH_REQUIRED")]
    AuthRequired,
}

impl TaskState {
    /// Every state, in proto order.
    pub const ALL: [TaskState; 9] = [
        TaskState::Unspecified,
        TaskState::Submitted,
        TaskState::Working,
        TaskState::Completed,
        TaskState::Failed,
        TaskState::Canceled,
        TaskState::InputRequired,
        TaskState::Rejected,
        TaskState::AuthRequired,
    ];

    /// Completed, failed, canceled and rejected tasks never change again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Failed | TaskState::Canceled | TaskState::Rejected
        )
    }

    /// Input-required and auth-required tasks wait for the client.
    pub fn is_interrupted(self) -> bool {
        matches!(self, TaskState::InputRequired | TaskState::AuthRequired)
    }

    /// Whether the state machine allows `self -> next`.
    ///
    /// Terminal states allow nothing. An interrupted task resumes to
    /// `working` (a follow-up) or ends; an active task may go anywhere but
    /// back to `submitted`.
    pub fn can_transition_to(self, next: TaskState) -> bool {
        if self.is_terminal() || next == TaskState::Unspecified {
            return false;
        }
        match self {
            TaskState::Unspecified => true,
            _ => next != TaskState::Submitted,
        }
    }

    /// The proto name, e.g. `TASK_STATE_WORKING`.
    pub fn as_proto_str(self) -> &'static str {
        match self {
            TaskState::Unspecified => "TASK_STATE_UNSPECIFIED",
            TaskState::Submitted => "TASK_STATE_SUBMITTED",
            TaskState::Working => "TASK_STATE_WORKING",
            TaskState::Completed => "TASK_STATE_COMPLETED",
            TaskState::Failed => "TASK_STATE_FAILED",
            TaskState::Canceled => "TASK_STATE_CANCELED",
            TaskState::InputRequired => "TASK_STATE_INPUT_REQUIRED",
            TaskState::Rejected => "TASK_STATE_REJECTED",
            TaskState::AuthRequired => "TASK_STATE_AUTH_REQUIRED",
        }
    }

    /// Parses the proto name (as used in query strings).
    pub fn from_proto_str(s: &str) -> Option<TaskState> {
        TaskState::ALL.into_iter().find(|st| st.as_proto_str() == s)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_proto_str())
    }
}

/// Who sent a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Role {
    /// Unset; not a valid role for a message.
    #[default]
    #[serde(rename = "ROLE_UNSPECIFIED")]
    Unspecified,
    /// Sent by the client.
    #[serde(rename = "ROLE_USER")]
    User,
    /// Sent by the agent.
    #[serde(rename = "ROLE_AGENT")]
    Agent,
}

// ---------------------------------------------------------------------------
// Parts, messages, artifacts

/// Raw bytes, written as standard base64 in JSON.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        let s = String::deserialize(d)?;
        // ProtoJSON accepts standard and URL-safe alphabets, padded or not.
        let trimmed = s.trim_end_matches('=');
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
            .map(Bytes)
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// The content of a part: exactly one of these.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PartContent {
    /// Plain text (`text`).
    Text(String),
    /// Inline file content (`raw`), base64 on the wire.
    Raw(Bytes),
    /// A URL where the file content can be fetched (`url`).
    Url(String),
    /// Structured data (`data`): any JSON value.
    Data(Value),
}

/// One piece of message or artifact content.
///
/// On the wire its content is one member beside the others
/// (`{"text": "hi", "mediaType": "text/plain"}`). Its serde forms are
/// written by hand rather than with `#[serde(flatten)]`, which buffers
/// every member of every part before reading it (the request's parts and
/// every answer's go through here); they also refuse a part with two
/// contents, as the protobuf `oneof` behind it does.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// What the part carries.
    pub content: PartContent,
    /// Optional metadata for this part.
    pub metadata: Option<Metadata>,
    /// An optional file name for the content.
    pub filename: Option<String>,
    /// The media type of the content, e.g. `text/plain` or `image/png`.
    pub media_type: Option<String>,
}

impl Serialize for Part {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let members = 1
            + usize::from(self.metadata.is_some())
            + usize::from(self.filename.is_some())
            + usize::from(self.media_type.is_some());
        let mut st = s.serialize_struct("Part", members)?;
        match &self.content {
            PartContent::Text(t) => st.serialize_field("text", t)?,
            PartContent::Raw(b) => st.serialize_field("raw", b)?,
            PartContent::Url(u) => st.serialize_field("url", u)?,
            PartContent::Data(v) => st.serialize_field("data", v)?,
        }
        if let Some(m) = &self.metadata {
            st.serialize_field("metadata", m)?;
        }
        if let Some(f) = &self.filename {
            st.serialize_field("filename", f)?;
        }
        if let Some(t) = &self.media_type {
            st.serialize_field("mediaType", t)?;
        }
        st.end()
    }
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PartVisitor)
    }
}

/// The members of a part; others are ignored.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum PartMember {
    Text,
    Raw,
    Url,
    Data,
    Metadata,
    Filename,
    #[serde(alias = "media_type")]
    MediaType,
    #[serde(other)]
    Other,
}

const PART_CONTENTS: &str = "`text`, `raw`, `url` or `data`";

struct PartVisitor;

impl<'de> serde::de::Visitor<'de> for PartVisitor {
    type Value = Part;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a part: an object with one of {PART_CONTENTS}")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Part, A::Error> {
        use serde::de::Error as _;
        fn once<T, E: serde::de::Error>(
            slot: &mut Option<T>,
            name: &'static str,
            value: T,
        ) -> Result<(), E> {
            match slot.replace(value) {
                None => Ok(()),
                Some(_) => Err(E::duplicate_field(name)),
            }
        }
        let mut content: Option<(&'static str, PartContent)> = None;
        let (mut metadata, mut filename, mut media_type) = (None, None, None);
        while let Some(member) = map.next_key::<PartMember>()? {
            let (name, value) = match member {
                PartMember::Text => ("text", PartContent::Text(map.next_value()?)),
                PartMember::Raw => ("raw", PartContent::Raw(map.next_value()?)),
                PartMember::Url => ("url", PartContent::Url(map.next_value()?)),
                PartMember::Data => ("data", PartContent::Data(map.next_value()?)),
                PartMember::Metadata => {
                    once(&mut metadata, "metadata", map.next_value::<Option<_>>()?)?;
                    continue;
                }
                PartMember::Filename => {
                    once(&mut filename, "filename", map.next_value::<Option<_>>()?)?;
                    continue;
                }
                PartMember::MediaType => {
                    once(&mut media_type, "mediaType", map.next_value::<Option<_>>()?)?;
                    continue;
                }
                PartMember::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    continue;
                }
            };
            if let Some((first, _)) = &content {
                return Err(A::Error::custom(format!(
                    "a part has exactly one of {PART_CONTENTS}; this one has `{first}` and `{name}`"
                )));
            }
            content = Some((name, value));
        }
        let Some((_, content)) = content else {
            return Err(A::Error::custom(format!(
                "a part needs one of {PART_CONTENTS}"
            )));
        };
        Ok(Part {
            content,
            metadata: metadata.flatten(),
            filename: filename.flatten(),
            media_type: media_type.flatten(),
        })
    }
}

impl Part {
    /// A text part.
    pub fn text(s: impl Into<String>) -> Self {
        Part::from_content(PartContent::Text(s.into()))
    }

    /// A structured-data part.
    pub fn data(v: Value) -> Self {
        Part::from_content(PartContent::Data(v))
    }

    /// A part with the given content and no extras.
    pub fn from_content(content: PartContent) -> Self {
        Part {
            content,
            metadata: None,
            filename: None,
            media_type: None,
        }
    }

    /// The text, if this is a text part.
    pub fn as_text(&self) -> Option<&str> {
        match &self.content {
            PartContent::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Unique id of the message, created by its sender.
    #[serde(alias = "message_id")]
    pub message_id: String,
    /// The id of the context (conversation) the message belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "context_id")]
    pub context_id: Option<String>,
    /// The id of the task the message belongs to. On a client message it
    /// continues that existing task; unset, the message starts a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "task_id")]
    pub task_id: Option<String>,
    /// Who sent the message.
    #[serde(default)]
    pub role: Role,
    /// The content of the message; at least one part.
    #[serde(default)]
    pub parts: Vec<Part>,
    /// Optional metadata for the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// URIs of the extensions that apply to this message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// Ids of related tasks, as hints for the agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "reference_task_ids")]
    pub reference_task_ids: Vec<String>,
}

impl Message {
    /// An agent message with a fresh id and the given parts.
    pub fn agent(parts: Vec<Part>) -> Self {
        Message {
            message_id: uuid::Uuid::new_v4().to_string(),
            role: Role::Agent,
            parts,
            ..Default::default()
        }
    }

    /// A user message with a fresh id and one text part.
    pub fn user_text(text: impl Into<String>) -> Self {
        Message {
            message_id: uuid::Uuid::new_v4().to_string(),
            role: Role::User,
            parts: vec![Part::text(text)],
            ..Default::default()
        }
    }

    /// All text parts joined by newlines.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for t in self.parts.iter().filter_map(Part::as_text) {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(t);
        }
        out
    }
}

/// An output of a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Id of the artifact, unique within its task.
    #[serde(alias = "artifact_id")]
    pub artifact_id: String,
    /// An optional human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An optional human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The content of the artifact; at least one part.
    #[serde(default)]
    pub parts: Vec<Part>,
    /// Optional metadata for the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// URIs of the extensions that apply to this artifact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

// ---------------------------------------------------------------------------
// Tasks

/// The current status of a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    /// Where the task is in its lifecycle.
    pub state: TaskState,
    /// An optional agent message about the status, e.g. what input is
    /// needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// When the task entered this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}

impl TaskStatus {
    /// A status in `state`, stamped now.
    pub fn new(state: TaskState, message: Option<Message>) -> Self {
        TaskStatus {
            state,
            message,
            timestamp: Some(Timestamp::now()),
        }
    }
}

/// A unit of work, identified by a server-generated id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Unique id of the task, generated by the server.
    pub id: String,
    /// The id of the context (conversation) this task belongs to.
    #[serde(default)]
    #[serde(alias = "context_id")]
    pub context_id: String,
    /// The task's current status.
    #[serde(default)]
    pub status: TaskStatus,
    /// The outputs the agent produced for the task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    /// The messages of the task, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Message>,
    /// Optional metadata for the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

impl Task {
    /// Keep only the `n` most recent history messages (`Some(0)` drops the
    /// history; `None` keeps it all).
    pub fn truncate_history(&mut self, n: Option<usize>) {
        if let Some(n) = n {
            let len = self.history.len();
            if len > n {
                self.history.drain(..len - n);
            }
        }
    }

    /// Apply an artifact update: a new artifact, a replacement, or (with
    /// `append`) extra parts for an existing one.
    pub fn apply_artifact(&mut self, artifact: &Artifact, append: bool) {
        match self
            .artifacts
            .iter_mut()
            .find(|a| a.artifact_id == artifact.artifact_id)
        {
            Some(existing) if append => existing.parts.extend(artifact.parts.iter().cloned()),
            Some(existing) => *existing = artifact.clone(),
            None => self.artifacts.push(artifact.clone()),
        }
    }
}

/// A change of task status, sent on streams and to push webhooks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatusUpdateEvent {
    /// The id of the task whose status changed.
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// The id of the task's context (conversation).
    #[serde(alias = "context_id")]
    pub context_id: String,
    /// The task's new status.
    pub status: TaskStatus,
    /// Optional metadata for the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// A new or extended artifact, sent on streams and to push webhooks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskArtifactUpdateEvent {
    /// The id of the task the artifact belongs to.
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// The id of the task's context (conversation).
    #[serde(alias = "context_id")]
    pub context_id: String,
    /// The artifact, or with `append` the parts to add to it.
    pub artifact: Artifact,
    /// Whether the parts extend the artifact with the same id instead of
    /// replacing it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub append: bool,
    /// Whether this is the artifact's final chunk.
    #[serde(default, skip_serializing_if = "is_false")]
    #[serde(alias = "last_chunk")]
    pub last_chunk: bool,
    /// Optional metadata for the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// One event of a stream: exactly one of these.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StreamResponse {
    /// A snapshot of the task; the first event of a task stream.
    Task(Task),
    /// A direct message from the agent; the only event of its stream.
    Message(Message),
    /// A change of the task's status.
    StatusUpdate(TaskStatusUpdateEvent),
    /// A new, replaced or extended artifact.
    ArtifactUpdate(TaskArtifactUpdateEvent),
}

impl StreamResponse {
    /// The task state this event leaves the task in, if it says.
    pub fn state(&self) -> Option<TaskState> {
        match self {
            StreamResponse::Task(t) => Some(t.status.state),
            StreamResponse::StatusUpdate(s) => Some(s.status.state),
            _ => None,
        }
    }

    /// Whether a stream ends after this event: a direct message, or a task
    /// that is terminal or waiting for the client.
    pub fn ends_stream(&self) -> bool {
        match self {
            StreamResponse::Message(_) => true,
            _ => self
                .state()
                .is_some_and(|s| s.is_terminal() || s.is_interrupted()),
        }
    }
}

// ---------------------------------------------------------------------------
// Requests and responses

/// Parameters of SendMessage and SendStreamingMessage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The message to send.
    pub message: Message,
    /// Optional settings for this send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<SendMessageConfiguration>,
    /// Optional request metadata, passed to the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// How SendMessage should behave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageConfiguration {
    /// Media types the client accepts in the response (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "accepted_output_modes")]
    pub accepted_output_modes: Vec<String>,
    /// A webhook to notify of the task's updates (its `taskId` left empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "task_push_notification_config")]
    pub task_push_notification_config: Option<TaskPushNotificationConfig>,
    /// How many of the most recent history messages the returned task
    /// carries (`0`: none; unset: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "history_length")]
    pub history_length: Option<i32>,
    /// Return as soon as the task exists instead of waiting until it is
    /// terminal or interrupted.
    #[serde(default, skip_serializing_if = "is_false")]
    #[serde(alias = "return_immediately")]
    pub return_immediately: bool,
}

/// The result of SendMessage: a task, or a direct message.
///
/// The task is shared: a blocking send answers with the snapshot the
/// host keeps (the memory store holds the same one), serialized without
/// a copy. `Arc::unwrap_or_clone` gives an owned [`Task`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SendMessageResponse {
    /// The task the message created or continued.
    Task(std::sync::Arc<Task>),
    /// A direct message from the agent, with no task.
    Message(Message),
}

/// Parameters of GetTask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct GetTaskRequest {
    /// The id of the task.
    pub id: String,
    /// How many of the most recent history messages to return (`0`: none;
    /// unset: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "history_length")]
    pub history_length: Option<i32>,
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Parameters of ListTasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListTasksRequest {
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Only tasks in this context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "context_id")]
    pub context_id: Option<String>,
    /// Only tasks in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskState>,
    /// Tasks per page, 1 to 100 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "page_size")]
    pub page_size: Option<i32>,
    /// The `nextPageToken` of the previous page; unset for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "page_token")]
    pub page_token: Option<String>,
    /// How many of the most recent history messages each task carries
    /// (`0`: none; unset: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "history_length")]
    pub history_length: Option<i32>,
    /// Only tasks whose status timestamp is at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "status_timestamp_after")]
    pub status_timestamp_after: Option<Timestamp>,
    /// Whether the tasks carry their artifacts (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "include_artifacts")]
    pub include_artifacts: Option<bool>,
}

/// The result of ListTasks. All four fields are always present.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListTasksResponse {
    /// The tasks of this page, most recent status first.
    pub tasks: Vec<Task>,
    /// The token for the next page; empty on the last page.
    #[serde(alias = "next_page_token")]
    pub next_page_token: String,
    /// The page size that was applied.
    #[serde(alias = "page_size")]
    pub page_size: i32,
    /// How many tasks match the filters, across all pages.
    #[serde(alias = "total_size")]
    pub total_size: i32,
}

/// Parameters of CancelTask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CancelTaskRequest {
    /// The id of the task to cancel.
    pub id: String,
    /// Optional metadata for the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Parameters of SubscribeToTask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeToTaskRequest {
    /// The id of the task to follow.
    pub id: String,
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// How the host authenticates to a push webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationInfo {
    /// The HTTP authentication scheme, e.g. `Bearer`.
    pub scheme: String,
    /// The credentials to send with the scheme, e.g. a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

/// A webhook that receives a task's events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskPushNotificationConfig {
    /// The tenant the config belongs to, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Id of this config, unique within its task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The id of the task whose updates are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "task_id")]
    pub task_id: Option<String>,
    /// The webhook URL that notifications are posted to.
    pub url: String,
    /// An optional token sent with every notification, for the webhook to
    /// check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// How to authenticate to the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationInfo>,
}

/// Parameters of GetTaskPushNotificationConfig and its Delete twin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskPushConfigRef {
    /// The id of the task.
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// The id of the push notification config within the task.
    pub id: String,
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Parameters of ListTaskPushNotificationConfigs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListTaskPushConfigsRequest {
    /// The id of the task whose configs to list.
    #[serde(alias = "task_id")]
    pub task_id: String,
    /// The largest number of configs to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "page_size")]
    pub page_size: Option<i32>,
    /// The `nextPageToken` of the previous page; unset for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "page_token")]
    pub page_token: Option<String>,
    /// The tenant the request is for, on multi-tenant interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// The result of ListTaskPushNotificationConfigs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListTaskPushConfigsResponse {
    /// The configs of this page.
    pub configs: Vec<TaskPushNotificationConfig>,
    /// The token for the next page; empty on the last page.
    #[serde(alias = "next_page_token")]
    pub next_page_token: String,
}

// ---------------------------------------------------------------------------
// Agent card

/// One way to reach the agent: a URL, a binding and a protocol version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AgentInterface {
    /// The absolute URL the binding is served at.
    pub url: String,
    /// The transport: `JSONRPC`, `GRPC`, `HTTP+JSON`, or a custom URI.
    #[serde(alias = "protocol_binding")]
    pub protocol_binding: String,
    /// The tenant to name in requests sent through this interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The A2A version served there, e.g. `1.0`.
    #[serde(alias = "protocol_version")]
    pub protocol_version: String,
}

/// The organisation behind the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AgentProvider {
    /// The provider's website.
    pub url: String,
    /// The provider's name.
    pub organization: String,
}

/// A protocol extension the agent supports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AgentExtension {
    /// The URI that identifies the extension.
    pub uri: String,
    /// How the agent uses the extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether clients must support the extension to use the agent.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Extension-specific settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Metadata>,
}

/// Optional protocol features the agent supports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AgentCapabilities {
    /// Whether the agent supports SendStreamingMessage and SubscribeToTask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<bool>,
    /// Whether the agent supports push notification configs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "push_notifications")]
    pub push_notifications: Option<bool>,
    /// Protocol extensions the agent supports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<AgentExtension>,
    /// Whether GetExtendedAgentCard gives authenticated clients a fuller
    /// card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "extended_agent_card")]
    pub extended_agent_card: Option<bool>,
}

/// A capability of the agent, described for people and planners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AgentSkill {
    /// Unique id of the skill within the agent.
    pub id: String,
    /// Human-readable name of the skill.
    pub name: String,
    /// What the skill does.
    pub description: String,
    /// Keywords that describe the skill.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Example requests the skill handles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// Media types the skill accepts, if they differ from the card's
    /// defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "input_modes")]
    pub input_modes: Vec<String>,
    /// Media types the skill produces, if they differ from the card's
    /// defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "output_modes")]
    pub output_modes: Vec<String>,
    /// Security requirements for using this skill, as raw JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "security_requirements")]
    pub security_requirements: Vec<Value>,
}

/// The self-description every A2A agent publishes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AgentCard {
    /// Human-readable name of the agent.
    pub name: String,
    /// What the agent does.
    pub description: String,
    /// The ways to reach the agent, in order of preference.
    #[serde(default)]
    #[serde(alias = "supported_interfaces")]
    pub supported_interfaces: Vec<AgentInterface>,
    /// The organisation that provides the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<AgentProvider>,
    /// The agent's own version (not the protocol version).
    pub version: String,
    /// Where the agent's documentation is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "documentation_url")]
    pub documentation_url: Option<String>,
    /// The optional protocol features the agent supports.
    #[serde(default)]
    pub capabilities: AgentCapabilities,
    /// The authentication schemes clients may use, by name, as raw JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "security_schemes")]
    pub security_schemes: Option<Metadata>,
    /// The security schemes a request must satisfy, as raw JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "security_requirements")]
    pub security_requirements: Vec<Value>,
    /// Media types the agent accepts by default.
    #[serde(default)]
    #[serde(alias = "default_input_modes")]
    pub default_input_modes: Vec<String>,
    /// Media types the agent produces by default.
    #[serde(default)]
    #[serde(alias = "default_output_modes")]
    pub default_output_modes: Vec<String>,
    /// What the agent can do.
    #[serde(default)]
    pub skills: Vec<AgentSkill>,
    /// JWS signatures of the card, as raw JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Value>,
    /// URL of an icon for the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "icon_url")]
    pub icon_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_round_trip_in_protojson_form() {
        let parts = json!([
            {"text": "hi"},
            {"raw": "dGNr", "filename": "a.png", "mediaType": "image/png"},
            {"url": "https://example.com/o.txt", "filename": "o.txt"},
            {"data": {"k": 1}, "mediaType": "application/json"}
        ]);
        let parsed: Vec<Part> = serde_json::from_value(parts.clone()).unwrap();
        assert_eq!(parsed[1].content, PartContent::Raw(Bytes(b"tck".to_vec())));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), parts);
    }

    #[test]
    fn parts_are_read_from_text_and_values_alike() {
        let text = r#"{"metadata": null, "media_type": "text/plain", "zzz": [1, {"a": 2}],
                       "text": "hi", "filename": "n.txt", "metadata": {"k": "v"}}"#;
        let e = serde_json::from_str::<Part>(text).unwrap_err();
        assert!(e.to_string().contains("duplicate field `metadata`"), "{e}");
        let text = r#"{"media_type": "text/plain", "zzz": [1, {"a": 2}], "text": "hi",
                       "filename": "n.txt", "metadata": {"k": "v"}}"#;
        let from_text: Part = serde_json::from_str(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(Part::deserialize(&value).unwrap(), from_text);
        assert_eq!(from_text.as_text(), Some("hi"));
        assert_eq!(from_text.media_type.as_deref(), Some("text/plain"));
        assert_eq!(from_text.filename.as_deref(), Some("n.txt"));
        assert_eq!(
            from_text.metadata,
            Some(json!({"k": "v"}).as_object().unwrap().clone())
        );
        // Null extras are absent.
        let p: Part = serde_json::from_str(r#"{"text": "x", "mediaType": null}"#).unwrap();
        assert_eq!(p, Part::text("x"));
    }

    #[test]
    fn a_part_has_exactly_one_content() {
        for (bad, says) in [
            (json!({}), "needs one of `text`, `raw`, `url` or `data`"),
            (json!({"mediaType": "text/plain"}), "needs one of"),
            (
                json!({"text": "a", "url": "https://x"}),
                "this one has `text` and `url`",
            ),
            (
                json!({"data": 1, "text": "a"}),
                "this one has `data` and `text`",
            ),
            (json!({"text": null}), "invalid type: null"),
            (json!({"raw": "***"}), "invalid base64"),
            (json!(["text", "hi"]), "a part: an object"),
        ] {
            let e = serde_json::from_value::<Part>(bad.clone()).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
            let e = serde_json::from_str::<Part>(&bad.to_string()).unwrap_err();
            assert!(e.to_string().contains(says), "{bad} as text: {e}");
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let m: Message = serde_json::from_value(json!({
            "messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "x", "zzz": 1}],
            "unknownField": true
        }))
        .unwrap();
        assert_eq!(m.text(), "x");
    }

    #[test]
    fn proto_field_names_are_accepted_on_input() {
        let r: GetTaskRequest =
            serde_json::from_value(json!({"id": "t", "history_length": 1})).unwrap();
        assert_eq!(r.history_length, Some(1));
        let p: Part =
            serde_json::from_value(json!({"text": "x", "media_type": "text/plain"})).unwrap();
        assert_eq!(p.media_type.as_deref(), Some("text/plain"));
        // Output always uses the JSON names.
        assert_eq!(serde_json::to_value(&r).unwrap()["historyLength"], 1);
    }

    #[test]
    fn timestamps_are_millisecond_utc_with_z() {
        let t = Timestamp::parse("2026-01-02T03:04:05.678+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-01-02T02:04:05.678Z");
        assert_eq!(Timestamp::from_unix_millis(t.unix_millis()), Some(t));
        assert_eq!(serde_json::to_value(t).unwrap(), "2026-01-02T02:04:05.678Z");
        // The padded digits at both ends of every field.
        for (text, ms) in [
            ("0001-01-01T00:00:00.000Z", -62_135_596_800_000),
            ("1970-01-01T00:00:00.007Z", 7),
            ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
        ] {
            let t = Timestamp::from_unix_millis(ms).unwrap();
            assert_eq!(t.to_string(), text);
            assert_eq!(serde_json::to_value(t).unwrap(), text);
            assert_eq!(Timestamp::parse(text), Ok(t));
        }
        // Before year 0: still written (RFC 3339 has no form for it).
        let ancient = Timestamp::from_unix_millis(-62_198_755_200_000).unwrap();
        assert_eq!(ancient.to_string(), "-001-01-01T00:00:00.000Z");
    }

    #[test]
    fn terminal_states_are_immutable() {
        for from in TaskState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in TaskState::ALL {
                assert!(!from.can_transition_to(to), "{from} -> {to}");
            }
        }
        assert!(TaskState::InputRequired.can_transition_to(TaskState::Working));
        assert!(!TaskState::Working.can_transition_to(TaskState::Submitted));
    }
}
