//! Stream events: status and artifact updates, and the stream response that carries them.

use serde::{Deserialize, Serialize};

use super::{Artifact, Message, Metadata, Task, TaskState, TaskStatus, is_false};

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
