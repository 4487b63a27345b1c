//! The 0.3 HTTP+JSON types to and from the 1.0 model, and the reading of
//! a send body.

use base64::Engine as _;
use serde_json::Value;

use super::rest_checks::check_send_request;
use super::rest_shapes::*;
use super::{auth_into_v1, data_object, decode_base64, encode_base64, field_err, non_empty, parse};
use crate::error::A2aError;
use crate::model::{self, Bytes, PartContent};

/// Parses a 0.3 HTTP+JSON send body: shape check, then typed.
pub fn parse_send_request(v: Value) -> Result<model::SendMessageRequest, A2aError> {
    check_send_request(&v)?;
    parse::<SendMessageRequest>(v, "")?.into_v1()
}

/// Decodes `fileWithBytes` (see the [`super`] docs on the double base64).
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::field_of;
    use super::super::{encode_base64, parse, proto};
    use crate::model::{self, Bytes, PartContent};

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
}
