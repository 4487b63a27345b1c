//! A2A 0.3 shapes in 1.0 requests: refused with invalid params that name
//! the field and point at the other version, before the request is read.

use serde_json::Value;

use super::field_err;
use crate::error::A2aError;

/// The hint appended when a 1.0 request uses a 0.3 shape.
const USE_V03: &str = "is the A2A 0.3 form, but this request speaks A2A 1.0 \
     (`A2A-Version: 1.0`; leave the header out to speak 0.3)";

/// Refuses a 1.0 request (`method` is the 1.0 method name, `params` its
/// params or HTTP+JSON body) that uses A2A 0.3 shapes: `kind` on messages or
/// parts, 0.3 file parts, lowercase roles, `content` instead of `parts`,
/// `configuration.blocking` or `…pushNotificationConfig`, the nested 0.3
/// push config, or 0.3 push config references. Other unknown fields pass.
pub fn reject_v03_shapes(method: &str, params: &Value) -> Result<(), A2aError> {
    let Some(obj) = params.as_object() else {
        return Ok(());
    };
    match method {
        "SendMessage" | "SendStreamingMessage" => {
            if let Some(m) = obj.get("message") {
                reject_v03_message(m, "message")?;
            }
            if let Some(Value::Object(c)) = obj.get("configuration") {
                if c.contains_key("blocking") {
                    return Err(field_err(
                        "configuration.blocking",
                        format!("`blocking` {USE_V03}; 1.0 says `returnImmediately`"),
                    ));
                }
                for key in ["pushNotificationConfig", "pushNotification"] {
                    if c.contains_key(key) {
                        return Err(field_err(
                            &format!("configuration.{key}"),
                            format!("`{key}` {USE_V03}; 1.0 says `taskPushNotificationConfig`"),
                        ));
                    }
                }
            }
            Ok(())
        }
        "CreateTaskPushNotificationConfig" => {
            if obj.contains_key("pushNotificationConfig") {
                return Err(field_err(
                    "pushNotificationConfig",
                    format!(
                        "the nested `pushNotificationConfig` {USE_V03}; 1.0 puts `url`, `token` \
                         and `authentication` beside `taskId`"
                    ),
                ));
            }
            Ok(())
        }
        "GetTaskPushNotificationConfig" | "DeleteTaskPushNotificationConfig" => {
            if obj.contains_key("pushNotificationConfigId") {
                return Err(field_err(
                    "pushNotificationConfigId",
                    format!("`pushNotificationConfigId` {USE_V03}; 1.0 says `{{taskId, id}}`"),
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether the JSON text of a 1.0 request's params could hold a shape that
/// [`reject_v03_shapes`] refuses. `false` is a promise that lets the typed
/// parse read the text directly: none of the keys those checks look for
/// (`kind`, `file`, `content`, `blocking`, `pushNotification…`) appears as
/// the start of a string anywhere in it, and no string has a `\u` escape,
/// the one escape that could spell such a key. A lowercase 0.3 role needs
/// no screening: the 1.0 `Role` refuses it, and the caller then takes the
/// checked path. `true` means only "parse into a value and check".
pub fn may_hold_v03_shapes(json: &str) -> bool {
    let b = json.as_bytes();
    memchr::memchr2_iter(b'"', b'\\', b).any(|i| {
        let rest = &b[i + 1..];
        if b[i] == b'\\' {
            return rest.first() == Some(&b'u');
        }
        let key: &[u8] = match rest.first() {
            Some(b'k') => b"kind\"",
            Some(b'f') => b"file\"",
            Some(b'c') => b"content\"",
            Some(b'b') => b"blocking\"",
            Some(b'p') => b"pushNotification",
            _ => return false,
        };
        rest.starts_with(key)
    })
}

fn reject_v03_message(m: &Value, path: &str) -> Result<(), A2aError> {
    let Some(obj) = m.as_object() else {
        return Ok(());
    };
    if obj.contains_key("kind") {
        return Err(field_err(
            &format!("{path}.kind"),
            format!("`kind` {USE_V03}; 1.0 messages have no `kind`"),
        ));
    }
    if let Some(Value::String(role)) = obj.get("role")
        && (role == "user" || role == "agent")
    {
        return Err(field_err(
            &format!("{path}.role"),
            format!("role `{role}` {USE_V03}; 1.0 says `ROLE_USER` or `ROLE_AGENT`"),
        ));
    }
    if obj.contains_key("content") && !obj.contains_key("parts") {
        return Err(field_err(
            &format!("{path}.content"),
            format!("`content` {USE_V03}; 1.0 messages carry `parts`"),
        ));
    }
    if let Some(Value::Array(parts)) = obj.get("parts") {
        for (i, p) in parts.iter().enumerate() {
            let Some(p) = p.as_object() else { continue };
            for key in ["kind", "file"] {
                if p.contains_key(key) {
                    return Err(field_err(
                        &format!("{path}.parts[{i}].{key}"),
                        format!(
                            "`{key}` {USE_V03}; 1.0 parts are `{{text}}`, `{{raw}}`, `{{url}}` \
                             or `{{data}}`"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::field_of;
    use super::*;

    #[test]
    fn v03_shapes_in_v1_requests_name_the_field() {
        let msg = |extra: Value| {
            let mut m = json!({"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "x"}]});
            for (k, v) in extra.as_object().unwrap() {
                m[k] = v.clone();
            }
            json!({"message": m})
        };
        let cases = [
            (
                "SendMessage",
                msg(json!({"kind": "message"})),
                "message.kind",
            ),
            ("SendMessage", msg(json!({"role": "user"})), "message.role"),
            (
                "SendStreamingMessage",
                msg(json!({"parts": [{"kind": "text", "text": "x"}]})),
                "message.parts[0].kind",
            ),
            (
                "SendMessage",
                msg(json!({"parts": [{"file": {"uri": "u"}}]})),
                "message.parts[0].file",
            ),
            (
                "SendMessage",
                json!({"message": {"messageId": "m", "role": "ROLE_USER", "content": []}}),
                "message.content",
            ),
            (
                "SendMessage",
                json!({"message": {"messageId": "m", "role": "ROLE_USER", "parts": []},
                       "configuration": {"blocking": true}}),
                "configuration.blocking",
            ),
            (
                "SendMessage",
                json!({"message": {"messageId": "m", "role": "ROLE_USER", "parts": []},
                       "configuration": {"pushNotificationConfig": {"url": "u"}}}),
                "configuration.pushNotificationConfig",
            ),
            (
                "CreateTaskPushNotificationConfig",
                json!({"taskId": "t", "pushNotificationConfig": {"url": "u"}}),
                "pushNotificationConfig",
            ),
            (
                "GetTaskPushNotificationConfig",
                json!({"id": "t", "pushNotificationConfigId": "c"}),
                "pushNotificationConfigId",
            ),
        ];
        for (method, params, field) in cases {
            let e = reject_v03_shapes(method, &params).unwrap_err();
            assert_eq!(field_of(&e), field, "{method} {params}");
            assert!(e.to_string().contains("A2A 0.3"), "{e}");
        }
        // Genuinely unknown fields still pass.
        reject_v03_shapes("SendMessage", &msg(json!({"zzz": 1}))).unwrap();
        reject_v03_shapes("GetTask", &json!({"id": "t", "kind": "x"})).unwrap();
    }
}
