//! The 0.3 JSON-RPC types to and from the 1.0 model, and the reading of
//! `message/send` params.

use serde_json::Value;

use super::jsonrpc_checks::check_send_params;
use super::jsonrpc_shapes::*;
use super::{auth_into_v1, data_object, decode_base64, encode_base64, field_err, non_empty, parse};
use crate::error::A2aError;
use crate::model::{self, Bytes, PartContent};

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
            model::StreamResponse::StatusUpdate(s) => Event::StatusUpdate(TaskStatusUpdateEvent {
                kind: StatusUpdateKind::Tag,
                task_id: s.task_id.clone(),
                context_id: s.context_id.clone(),
                status: TaskStatus::from_v1(&s.status),
                is_final: ev.ends_stream(),
                metadata: s.metadata.clone(),
            }),
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{json, parse};
    use crate::model::{self, Bytes, PartContent};

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
}
