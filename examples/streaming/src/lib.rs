//! `streaming`: three status updates, then the answer as an artifact streamed
//! one word per chunk, then `completed`.
//!
//! Config (`streaming.toml`, `[config]`): `delay_ms`, the pause after each
//! status update and each word (default 100, at most 2000), so the stream is
//! visible in a terminal.
use a2a_guest::prelude::*;

struct Streaming;

const STEPS: [&str; 3] = [
    "Reading your message…",
    "Thinking it over…",
    "Writing the answer…",
];

impl Agent for Streaming {
    fn card() -> Card {
        Card::new(
            "streaming",
            "Shows A2A streaming: status updates, then an answer streamed word by word",
        )
        .skill(
            Skill::new(
                "stream",
                "Stream an answer",
                "Sends progress updates, then streams your words back one at a time",
            )
            .tag("demo")
            .example("tell me a story"),
        )
    }

    fn handle(ctx: &Context) -> Result<(), AgentError> {
        let delay = Duration::from_millis(
            ctx.config("delay_ms")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(100u64)
                .min(2000),
        );
        for step in STEPS {
            ctx.status_text(step)?;
            if ctx.sleep(delay).is_err() {
                return Ok(()); // canceled
            }
        }

        let text = ctx.text();
        let topic = match text.trim() {
            "" => "nothing at all",
            t => t,
        };
        let answer = format!("You said: {topic}. That is worth streaming, one word at a time.");
        let stream = ctx.stream_artifact("answer").name("Answer");
        match stream.finish_words(&answer, delay) {
            Err(err) if err.is_canceled() => return Ok(()),
            other => other?,
        }

        ctx.complete_text("Done streaming.")?;
        Ok(())
    }
}

a2a_guest::export_agent!(Streaming);
