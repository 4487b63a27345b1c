//! 1.0 shapes (and the 0.3 HTTP+JSON form) in 0.3 JSON-RPC requests:
//! refused with invalid params naming the field, before the params are read.

use serde_json::Value;

use super::{V1_FORM, field_err};
use crate::error::A2aError;

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::json;
    use super::super::test_support::field_of;

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
}
