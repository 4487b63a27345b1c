//! Validation of what clients and agents send: messages, their media
//! types, parts, and `historyLength`.

use crate::agent::ActionError;
use crate::error::A2aError;
use crate::model::{Message, Part, Role};
use crate::registry::LoadedAgent;

pub(super) fn history_length(value: Option<i32>, field: &str) -> Result<Option<usize>, A2aError> {
    match value {
        None => Ok(None),
        Some(n) if n >= 0 => Ok(Some(n as usize)),
        Some(n) => Err(A2aError::invalid_field(
            field,
            format!("{field} must not be negative, got {n}"),
        )),
    }
}

pub(super) fn validate_message(m: &Message) -> Result<(), A2aError> {
    if m.message_id.trim().is_empty() {
        return Err(A2aError::invalid_field(
            "message.messageId",
            "message.messageId is required",
        ));
    }
    if m.parts.is_empty() {
        return Err(A2aError::invalid_field(
            "message.parts",
            "message.parts must contain at least one part",
        ));
    }
    if m.role == Role::Agent {
        return Err(A2aError::invalid_field(
            "message.role",
            "messages sent to an agent must have role ROLE_USER",
        ));
    }
    Ok(())
}

/// Rejects parts whose media type the agent does not accept.
pub(super) fn check_input_modes(agent: &LoadedAgent, m: &Message) -> Result<(), A2aError> {
    let modes = &agent.info.input_modes;
    for (i, part) in m.parts.iter().enumerate() {
        let Some(media) = part.media_type.as_deref().filter(|s| !s.is_empty()) else {
            continue;
        };
        let accepted = if modes.is_empty() {
            media_matches("text/plain", media)
        } else {
            modes.iter().any(|mode| media_matches(mode, media))
        };
        if !accepted {
            let list = if modes.is_empty() {
                "text/plain".to_string()
            } else {
                modes.join(", ")
            };
            return Err(A2aError::ContentTypeNotSupported(format!(
                "message.parts[{i}] has media type `{media}`, which this agent does not accept (it accepts: {list})"
            )));
        }
    }
    Ok(())
}

/// Whether a card mode (`text/plain`, `image/*`, `*/*`, or a bare `text`)
/// accepts a part's media type.
fn media_matches(mode: &str, media: &str) -> bool {
    let media = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mode = mode.trim().to_ascii_lowercase();
    if mode == "*/*" || mode == "*" || mode == media {
        return true;
    }
    let (media_type, _) = media.split_once('/').unwrap_or((&media, ""));
    match mode.split_once('/') {
        Some((t, "*")) => t == media_type,
        Some(_) => false,
        None => mode == media_type,
    }
}

pub(super) fn check_parts(parts: &[Part]) -> Result<(), ActionError> {
    if parts.is_empty() {
        return Err(ActionError::InvalidArgument(
            "a message or artifact needs at least one part".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::media_matches;

    #[test]
    fn media_modes_match_like_accept_headers() {
        assert!(media_matches("text/plain", "text/plain; charset=utf-8"));
        assert!(media_matches("image/*", "image/png"));
        assert!(media_matches("*/*", "application/x-anything"));
        assert!(media_matches("text", "text/markdown"));
        assert!(!media_matches(
            "text/plain",
            "application/x-unsupported-tck-type"
        ));
        assert!(!media_matches("image/*", "text/plain"));
    }
}
