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

mod card;
mod events;
mod message;
pub mod notification;
mod requests;
mod task;
mod time;

pub use self::time::Timestamp;
pub use card::{
    AgentCapabilities, AgentCard, AgentExtension, AgentInterface, AgentProvider, AgentSkill,
};
pub use events::{StreamResponse, TaskArtifactUpdateEvent, TaskStatusUpdateEvent};
pub use message::{Bytes, Message, Part, PartContent, Role};
pub use requests::{
    AuthenticationInfo, CancelTaskRequest, GetTaskRequest, ListTaskPushConfigsRequest,
    ListTaskPushConfigsResponse, ListTasksRequest, ListTasksResponse, SendMessageConfiguration,
    SendMessageRequest, SendMessageResponse, SubscribeToTaskRequest, TaskPushConfigRef,
    TaskPushNotificationConfig,
};
pub use task::{Artifact, Task, TaskState, TaskStatus};

use serde_json::{Map, Value};

/// A JSON object, as used for `metadata` fields.
pub type Metadata = Map<String, Value>;

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
