//! `llm`: answers with a model behind an OpenAI-compatible
//! `POST {base_url}/chat/completions` API, called over outbound HTTP
//! (`wasi:http`).
//!
//! The conversation sent to the model is the task's history (user messages
//! as `user`, agent messages as `assistant`) plus the new message. The task
//! completes with `choices[0].message.content`. Any HTTP or API error fails
//! the task with a reason that names the cause.
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

/// Read a required config value.
fn required(ctx: &Context, key: &str) -> Result<String, AgentError> {
    match ctx.config(key) {
        Some(value) if !value.trim().is_empty() => Ok(value.trim().to_string()),
        _ => Err(AgentError::Failed(format!(
            "the llm agent is not configured: set `{key}` under [config] in llm.toml"
        ))),
    }
}

/// The chat messages for the model: system prompt, history, new message.
fn chat_messages(system_prompt: Option<String>, history: &[Message], text: String) -> Vec<Value> {
    let mut messages = Vec::with_capacity(history.len() + 2);
    if let Some(prompt) = system_prompt.filter(|p| !p.trim().is_empty()) {
        messages.push(json!({ "role": "system", "content": prompt }));
    }
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
                    "Answers your message with the configured model, keeping the task's history",
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

        let messages = chat_messages(ctx.config("system_prompt"), &ctx.history(), ctx.text());
        let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        let mut request = http::Request::post(&url)
            .json(&json!({ "model": model, "messages": messages }))
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
        let chat = chat_messages(Some("be brief".into()), &history, "why?".into());
        assert_eq!(
            chat,
            [
                json!({"role": "system", "content": "be brief"}),
                json!({"role": "user", "content": "hi"}),
                json!({"role": "assistant", "content": "hello"}),
                json!({"role": "user", "content": "why?"}),
            ]
        );
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
