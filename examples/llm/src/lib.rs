//! `llm`: answers with a model behind an OpenAI-compatible
//! `POST {base_url}/chat/completions` API, called over outbound HTTP
//! (`wasi:http`).
//!
//! The conversation sent to the model is the A2A conversation so far: the
//! earlier exchanges of this `contextId` (kept in the host's agent state, the
//! last [`MAX_REMEMBERED`] messages), then this task's history (user messages
//! as `user`, agent messages as `assistant`; only a follow-up turn has any),
//! then the new message. The task completes with
//! `choices[0].message.content`, and the exchange is remembered for the next
//! task of the context. Any HTTP or API error fails the task with a reason
//! that names the cause (and is not remembered).
//!
//! Config (`llm.toml`, `[config]`):
//! - `base_url` (required), e.g. `https://api.openai.com/v1` or
//!   `http://127.0.0.1:11434/v1` for a local server,
//! - `model` (required), e.g. `gpt-4o-mini`,
//! - `api_key` (optional), sent as `Authorization: Bearer …`,
//! - `system_prompt` (optional), sent first as a `system` message,
//! - `timeout_secs` (optional, default 60).
//!
//! The policy must also let the agent reach the API:
//! `[network] allow = ["https://api.openai.com"]`.
use a2a_guest::prelude::*;

struct Llm;

const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// The agent-state key of the conversation of a context.
const CHAT_KEY: &str = "chat";
/// Chat messages remembered per context (user and assistant alike); older
/// ones are dropped.
const MAX_REMEMBERED: usize = 40;

/// Read a required config value.
fn required(ctx: &Context, key: &str) -> Result<String, AgentError> {
    match ctx.config(key) {
        Some(value) if !value.trim().is_empty() => Ok(value.trim().to_string()),
        _ => Err(AgentError::Failed(format!(
            "the llm agent is not configured: set `{key}` under [config] in llm.toml"
        ))),
    }
}

/// The chat messages for the model: system prompt, the context's earlier
/// exchanges, this task's history, the new message.
fn chat_messages(
    system_prompt: Option<String>,
    earlier: &[Value],
    history: &[Message],
    text: String,
) -> Vec<Value> {
    let mut messages = Vec::with_capacity(earlier.len() + history.len() + 2);
    if let Some(prompt) = system_prompt.filter(|p| !p.trim().is_empty()) {
        messages.push(json!({ "role": "system", "content": prompt }));
    }
    messages.extend(earlier.iter().cloned());
    for message in history {
        let content = message.text();
        if content.trim().is_empty() {
            continue;
        }
        let role = if message.is_user() {
            "user"
        } else {
            "assistant"
        };
        messages.push(json!({ "role": role, "content": content }));
    }
    messages.push(json!({ "role": "user", "content": text }));
    messages
}

/// What to remember after an answer: the earlier exchanges, this task's
/// history, the new message and the answer, at most [`MAX_REMEMBERED`]
/// messages (the most recent).
fn remembered(mut chat: Vec<Value>, answer: &str) -> Vec<Value> {
    // Drop the system prompt: it comes from the config on every turn.
    chat.retain(|m| m["role"] != "system");
    chat.push(json!({ "role": "assistant", "content": answer }));
    let excess = chat.len().saturating_sub(MAX_REMEMBERED);
    chat.drain(..excess);
    chat
}

/// The most helpful text of an error body: OpenAI's `error.message`, else
/// the body itself.
fn api_error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string())
}

impl Agent for Llm {
    fn card() -> Card {
        Card::new("llm", "Chats through an OpenAI-compatible language model")
            .streaming(true)
            .skill(
                Skill::new(
                    "chat",
                    "Chat",
                    "Answers your message with the configured model, remembering the conversation",
                )
                .tag("llm")
                .example("Explain the A2A protocol in one sentence."),
            )
    }

    fn handle(ctx: &Context) -> Result<(), AgentError> {
        let base_url = required(ctx, "base_url")?;
        let model = required(ctx, "model")?;
        let timeout = ctx
            .config("timeout_secs")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_TIMEOUT_SECS);

        let earlier: Vec<Value> = ctx.get_json(CHAT_KEY)?.unwrap_or_default();
        let messages = chat_messages(
            ctx.config("system_prompt"),
            &earlier,
            &ctx.history(),
            ctx.text(),
        );
        let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        let mut request = http::Request::post(&url)
            .json(&json!({ "model": model, "messages": &messages }))
            .timeout(Duration::from_secs(timeout));
        if let Some(key) = ctx.config("api_key").filter(|k| !k.trim().is_empty()) {
            request = request.bearer_auth(key.trim());
        }

        ctx.status_text(format!("Asking {model}…"))?;
        let response = request
            .send()
            .map_err(|e| format!("could not reach the model API at {url}: {e}"))?;
        if !response.is_success() {
            let detail = api_error_message(&response.text());
            let detail: String = detail.chars().take(500).collect();
            return Err(AgentError::Failed(format!(
                "the model API answered HTTP {}: {detail}",
                response.status
            )));
        }
        let body: Value = response
            .json()
            .map_err(|e| format!("the model API sent an unreadable answer: {e}"))?;
        let Some(answer) = body["choices"][0]["message"]["content"].as_str() else {
            return Err("the model API answer has no choices[0].message.content".into());
        };
        // Losing the memory must not lose the answer: warn and go on.
        if let Err(err) = ctx.set_json(CHAT_KEY, &remembered(messages, answer)) {
            ctx.log(
                LogLevel::Warn,
                &format!("could not remember the conversation: {err}"),
            );
        }
        ctx.complete_text(answer)?;
        Ok(())
    }
}

a2a_guest::export_agent!(Llm);

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: a2a_guest::Role, text: &str) -> Message {
        Message {
            message_id: "m".into(),
            role,
            parts: vec![Part::text(text)],
            metadata: None,
        }
    }

    #[test]
    fn builds_the_chat_from_history() {
        let history = [
            message(a2a_guest::Role::User, "hi"),
            message(a2a_guest::Role::Agent, "hello"),
            message(a2a_guest::Role::Agent, "  "),
        ];
        let earlier = [
            json!({"role": "user", "content": "before"}),
            json!({"role": "assistant", "content": "earlier answer"}),
        ];
        let chat = chat_messages(Some("be brief".into()), &earlier, &history, "why?".into());
        assert_eq!(
            chat,
            [
                json!({"role": "system", "content": "be brief"}),
                json!({"role": "user", "content": "before"}),
                json!({"role": "assistant", "content": "earlier answer"}),
                json!({"role": "user", "content": "hi"}),
                json!({"role": "assistant", "content": "hello"}),
                json!({"role": "user", "content": "why?"}),
            ]
        );
    }

    #[test]
    fn remembers_the_recent_exchanges_without_the_system_prompt() {
        let chat = chat_messages(Some("be brief".into()), &[], &[], "q".into());
        assert_eq!(
            remembered(chat, "a"),
            [
                json!({"role": "user", "content": "q"}),
                json!({"role": "assistant", "content": "a"}),
            ]
        );
        let long: Vec<Value> = (0..MAX_REMEMBERED)
            .map(|i| json!({"role": "user", "content": i.to_string()}))
            .collect();
        let kept = remembered(long, "last");
        assert_eq!(kept.len(), MAX_REMEMBERED);
        assert_eq!(kept[0]["content"], "1");
        assert_eq!(kept[MAX_REMEMBERED - 1]["content"], "last");
    }

    #[test]
    fn prefers_the_api_error_message() {
        assert_eq!(
            api_error_message(r#"{"error":{"message":"Incorrect API key"}}"#),
            "Incorrect API key"
        );
        assert_eq!(api_error_message(" upstream down \n"), "upstream down");
    }
}
