//! Tasks: their lifecycle states, status and artifacts.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Message, Metadata, Part, Timestamp};

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

#[cfg(test)]
mod tests {
    use super::*;

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
