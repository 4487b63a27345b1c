//! Other shapes (JSON-RPC `kind`s, 1.0 parts and fields) in 0.3 HTTP+JSON
//! bodies: refused with invalid params naming the field, before the body is
//! read.

use serde_json::Value;

use super::{V1_FORM, field_err};
use crate::error::A2aError;

const PROTO_FORM: &str = "the 0.3 HTTP+JSON binding speaks the protobuf JSON of the 0.3 \
     a2a.proto";

fn check_part(v: &Value, path: &str) -> Result<(), A2aError> {
    let Some(obj) = v.as_object() else {
        return Ok(());
    };
    if obj.contains_key("kind") {
        return Err(field_err(
            &format!("{path}.kind"),
            format!(
                "{PROTO_FORM}: parts are `{{text}}`, `{{file}}` or `{{data}}` without `kind` \
                 (`kind` is the JSON-RPC form)"
            ),
        ));
    }
    for key in ["raw", "url", "mediaType", "filename"] {
        if obj.contains_key(key) {
            return Err(field_err(
                &format!("{path}.{key}"),
                format!(
                    "`{key}` is {}; 0.3 files are `{{file: {{fileWithUri | fileWithBytes, \
                     mimeType, name}}}}`",
                    V1_FORM
                ),
            ));
        }
    }
    if let Some(d) = obj.get("data") {
        let ok = d.as_object().is_some_and(|m| {
            m.keys().all(|k| k == "data") && m.get("data").is_none_or(Value::is_object)
        });
        if !ok {
            return Err(field_err(
                &format!("{path}.data"),
                format!("{PROTO_FORM}: a data part is `{{\"data\": {{\"data\": {{…}}}}}}`"),
            ));
        }
    }
    let set = ["text", "file", "data"]
        .iter()
        .filter(|k| obj.get(**k).is_some_and(|v| !v.is_null()))
        .count();
    if set != 1 {
        return Err(field_err(
            path,
            "a part needs exactly one of `text`, `file` and `data`",
        ));
    }
    Ok(())
}

/// Checks a 0.3 HTTP+JSON message for other shapes.
pub fn check_message(v: &Value, path: &str) -> Result<(), A2aError> {
    let Some(obj) = v.as_object() else {
        return Ok(());
    };
    if obj.contains_key("kind") {
        return Err(field_err(
            &format!("{path}.kind"),
            format!("{PROTO_FORM}: messages have no `kind` (that is the JSON-RPC form)"),
        ));
    }
    if obj.contains_key("parts") {
        return Err(field_err(
            &format!("{path}.parts"),
            format!(
                "{PROTO_FORM}: a message carries its parts in `content` (`parts` is the \
                 JSON-RPC and the 1.0 form)"
            ),
        ));
    }
    if let Some(Value::String(role)) = obj.get("role")
        && !role.starts_with("ROLE_")
    {
        return Err(field_err(
            &format!("{path}.role"),
            format!("{PROTO_FORM}: roles are `ROLE_USER` and `ROLE_AGENT`"),
        ));
    }
    if let Some(Value::Array(parts)) = obj.get("content") {
        for (i, p) in parts.iter().enumerate() {
            check_part(p, &format!("{path}.content[{i}]"))?;
        }
    }
    Ok(())
}

/// Checks a 0.3 HTTP+JSON send body for other shapes.
pub fn check_send_request(v: &Value) -> Result<(), A2aError> {
    let Some(obj) = v.as_object() else {
        return Ok(());
    };
    if let Some(m) = obj.get("message").or_else(|| obj.get("request")) {
        check_message(m, "message")?;
    }
    if let Some(Value::Object(c)) = obj.get("configuration") {
        for (key, ours) in [
            ("returnImmediately", "`blocking`"),
            ("taskPushNotificationConfig", "`pushNotification`"),
            ("pushNotificationConfig", "`pushNotification`"),
        ] {
            if c.contains_key(key) {
                return Err(field_err(
                    &format!("configuration.{key}"),
                    format!("{PROTO_FORM}: the configuration says {ours}, not `{key}`"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::proto;
    use super::super::test_support::field_of;

    #[test]
    fn other_shapes_in_v03_rest_bodies_name_the_field() {
        let cases = [
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "x"}]}}),
                "message.parts",
            ),
            (
                json!({"message": {"kind": "message", "messageId": "m", "role": "ROLE_USER", "content": []}}),
                "message.kind",
            ),
            (
                json!({"message": {"messageId": "m", "role": "user", "content": [{"text": "x"}]}}),
                "message.role",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER",
                                   "content": [{"kind": "text", "text": "x"}]}}),
                "message.content[0].kind",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER",
                                   "content": [{"raw": "dGNr"}]}}),
                "message.content[0].raw",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER",
                                   "content": [{"data": {"answer": 42}}]}}),
                "message.content[0].data",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER",
                                   "content": [{"text": "x", "file": {"fileWithUri": "u"}}]}}),
                "message.content[0]",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_USER", "content": []},
                       "configuration": {"returnImmediately": true}}),
                "configuration.returnImmediately",
            ),
            (
                json!({"message": {"messageId": "m", "role": "ROLE_BOSS", "content": []}}),
                "message.role",
            ),
        ];
        for (body, field) in cases {
            let e = proto::parse_send_request(body.clone()).unwrap_err();
            assert_eq!(field_of(&e), field, "{body}: {e}");
        }
    }
}
