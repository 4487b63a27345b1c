//! The model's requests and answers, for tests that drive a
//! [`a2a_host::manager::TaskManager`] directly.

use a2a_host::model::{Message, SendMessageRequest, SendMessageResponse, Task};

/// A request that sends `text` as a user message.
pub fn send(text: &str) -> SendMessageRequest {
    SendMessageRequest {
        message: Message::user_text(text),
        ..Default::default()
    }
}

/// The task of an answer (fails the test on a direct message).
pub fn task_of(r: SendMessageResponse) -> Task {
    match r {
        SendMessageResponse::Task(t) => std::sync::Arc::unwrap_or_clone(t),
        SendMessageResponse::Message(m) => panic!("expected a task, got message {m:?}"),
    }
}

/// The text of the task's status message (empty without one).
pub fn status_text(t: &Task) -> String {
    t.status
        .message
        .as_ref()
        .map(Message::text)
        .unwrap_or_default()
}
