//! `tck`: the system-under-test agent for the A2A conformance kit
//! (a2aproject/a2a-tck). Its behaviour is chosen by the **prefix** of the
//! incoming `messageId` (the TCK appends `-<session hex>`); see
//! [`ROUTES`] for the table. More specific prefixes come first, so
//! `tck-artifact-file-url` wins over `tck-artifact-file`.
use a2a_guest::prelude::*;

struct Tck;

/// What the agent does for one kind of TCK message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// Complete with the status message "Hello from TCK".
    Complete,
    /// Go to `input-required`.
    InputRequired,
    /// Artifact with text "Generated text content", complete.
    ArtifactText,
    /// Artifact with a URL part (`output.txt`, `text/plain`), complete.
    ArtifactFileUrl,
    /// Artifact with raw bytes `tck` (`output.txt`, `text/plain`), complete.
    ArtifactFile,
    /// Artifact with data `{"key":"value","count":42}`, complete.
    ArtifactData,
    /// Answer with a direct message, not a task.
    MessageResponse,
    /// Reject the task.
    Reject,
    /// `working`, a text artifact with this text, `completed`.
    StreamText(&'static str),
    /// Complete at once.
    StreamImmediate,
    /// `working`, a file artifact, `completed`.
    StreamFile,
    /// `working`, two appended chunks (the second the last), `completed`.
    StreamChunked,
    /// `working`, one streaming timeout (2 s) of work, then complete with
    /// "Done after delay"; for the blocking / `returnImmediately` tests.
    DelayedComplete,
    /// `working`, about 4 s of work (twice the TCK's streaming timeout),
    /// `completed`; for the resubscribe tests.
    SlowTask,
}

/// `messageId` prefixes, most specific first.
const ROUTES: &[(&str, Scenario)] = &[
    ("tck-complete-task", Scenario::Complete),
    ("tck-delayed-complete", Scenario::DelayedComplete),
    ("tck-input-required", Scenario::InputRequired),
    ("tck-artifact-text", Scenario::ArtifactText),
    ("tck-artifact-file-url", Scenario::ArtifactFileUrl),
    ("tck-artifact-file", Scenario::ArtifactFile),
    ("tck-artifact-data", Scenario::ArtifactData),
    ("tck-message-response", Scenario::MessageResponse),
    ("tck-reject-task", Scenario::Reject),
    (
        "tck-stream-artifact-text",
        Scenario::StreamText("Streamed text content"),
    ),
    ("tck-stream-artifact-file", Scenario::StreamFile),
    ("tck-stream-artifact-chunked", Scenario::StreamChunked),
    (
        "tck-stream-ordering-001",
        Scenario::StreamText("Ordered output"),
    ),
    (
        "tck-stream-001",
        Scenario::StreamText("Stream hello from TCK"),
    ),
    ("tck-stream-002", Scenario::StreamImmediate),
    (
        "tck-stream-003",
        Scenario::StreamText("Stream task lifecycle"),
    ),
    ("test-resubscribe-message-id", Scenario::SlowTask),
];

/// How long [`Scenario::DelayedComplete`] works: the TCK's default
/// streaming timeout.
const DELAYED_COMPLETE: Duration = Duration::from_secs(2);

/// How long [`Scenario::SlowTask`] works: twice the streaming timeout.
const SLOW_TASK: Duration = Duration::from_secs(4);

fn route(message_id: &str) -> Option<Scenario> {
    ROUTES
        .iter()
        .find(|(prefix, _)| message_id.starts_with(prefix))
        .map(|(_, scenario)| *scenario)
}

fn file_part() -> Part {
    Part::file(*b"tck", "text/plain", "output.txt")
}

impl Agent for Tck {
    fn card() -> Card {
        Card::new(
            "tck",
            "Test agent for the A2A TCK; behaviour follows the messageId prefix",
        )
        // The TCK sends parts of any media type and (at a2a-tck 1.0-dev,
        // 357c4a8) its CORE-SEND-003 check expects them to be accepted, so
        // this agent accepts everything. Agents that declare narrower modes
        // get ContentTypeNotSupportedError from the host for other types.
        .input_mode("*/*")
        .output_mode("text/plain")
        .output_mode("application/json")
        .skill(
            Skill::new(
                "tck",
                "TCK scenarios",
                "Completes, streams, asks for input, rejects or replies directly, \
                     depending on the messageId prefix",
            )
            .tag("tck")
            .example("hello"),
        )
    }

    fn handle(ctx: &Context) -> Result<(), AgentError> {
        let message = ctx.message();
        let Some(scenario) = route(&message.message_id) else {
            // Any other message, including follow-ups: complete, echo-style.
            let text = message.text();
            let reply = if text.trim().is_empty() {
                "Hello from TCK".to_string()
            } else {
                text
            };
            ctx.complete_text(reply)?;
            return Ok(());
        };
        match scenario {
            Scenario::Complete => ctx.complete_text("Hello from TCK")?,
            Scenario::InputRequired => ctx.request_input("Please provide more input")?,
            Scenario::ArtifactText => {
                ctx.emit_artifact(Artifact::text("text-artifact", "Generated text content"))?;
                ctx.complete(())?;
            }
            Scenario::ArtifactFileUrl => {
                let part = Part::url("https://example.com/output.txt")
                    .with_filename("output.txt")
                    .with_media_type("text/plain");
                ctx.emit_artifact(Artifact::new("file-url-artifact").part(part))?;
                ctx.complete(())?;
            }
            Scenario::ArtifactFile => {
                ctx.emit_artifact(Artifact::new("file-artifact").part(file_part()))?;
                ctx.complete(())?;
            }
            Scenario::ArtifactData => {
                let data = json!({ "key": "value", "count": 42 });
                ctx.emit_artifact(Artifact::data("data-artifact", data))?;
                ctx.complete(())?;
            }
            Scenario::MessageResponse => ctx.reply_text("Direct message response")?,
            Scenario::Reject => ctx.reject("rejected")?,
            Scenario::StreamText(text) => {
                ctx.send_status(())?;
                ctx.emit_artifact(Artifact::text("stream-artifact", text))?;
                ctx.complete(())?;
            }
            Scenario::StreamImmediate => ctx.complete(())?,
            Scenario::StreamFile => {
                ctx.send_status(())?;
                ctx.emit_artifact(Artifact::new("stream-file-artifact").part(file_part()))?;
                ctx.complete(())?;
            }
            Scenario::StreamChunked => {
                ctx.send_status(())?;
                // Both chunks carry `append`, as in the TCK's reference
                // agents; the host creates the artifact on the first one.
                let chunk = |text| Artifact::text("chunked-artifact", text);
                ctx.emit_artifact_chunk(chunk("chunk-1 "), true, false)?;
                ctx.emit_artifact_chunk(chunk("chunk-2"), true, true)?;
                ctx.complete(())?;
            }
            Scenario::DelayedComplete => {
                ctx.send_status(())?;
                if ctx.sleep(DELAYED_COMPLETE).is_err() {
                    return Ok(()); // canceled
                }
                ctx.complete_text("Done after delay")?;
            }
            Scenario::SlowTask => {
                ctx.send_status(())?;
                if ctx.sleep(SLOW_TASK).is_err() {
                    return Ok(()); // canceled
                }
                ctx.complete(())?;
            }
        }
        Ok(())
    }
}

a2a_guest::export_agent!(Tck);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_prefixes_win() {
        assert_eq!(
            route("tck-artifact-file-url-ab12"),
            Some(Scenario::ArtifactFileUrl)
        );
        assert_eq!(
            route("tck-artifact-file-ab12"),
            Some(Scenario::ArtifactFile)
        );
        assert_eq!(
            route("tck-stream-artifact-chunked-1"),
            Some(Scenario::StreamChunked)
        );
        assert_eq!(
            route("tck-stream-001-ff"),
            Some(Scenario::StreamText("Stream hello from TCK"))
        );
        assert_eq!(
            route("test-resubscribe-message-id-9"),
            Some(Scenario::SlowTask)
        );
        assert_eq!(route("some-other-id"), None);
    }
}
