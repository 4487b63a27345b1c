//! [`Context`]: one turn of a task, as the agent sees it.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bindings::a2a::agent::types::TaskContext;
use crate::part::parse_json_or_null;
use crate::{ActionError, Artifact, ArtifactStream, IntoParts, LogLevel, Message, Part};

/// How often [`Context::sleep`] checks for cancellation.
const CANCEL_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The current turn of a task: what the client sent, and every action the
/// agent can take on the task.
///
/// Actions return [`ActionError`] when the host refuses them (the task is
/// already finished, the client canceled it, a limit was hit, …); `?`
/// converts that into an [`AgentError`](crate::AgentError) that fails the
/// turn. Exactly one *final* action ends the turn: [`complete`](Self::complete),
/// [`fail`](Self::fail), [`reject`](Self::reject),
/// [`request_input`](Self::request_input),
/// [`request_auth`](Self::request_auth) or [`reply`](Self::reply).
///
/// Once the client cancels the task, actions return
/// [`ActionError::Canceled`]. Returning that error from `handle` (e.g. via
/// `?`) is harmless: the task stays canceled. Long loops should still check
/// [`is_cancelled`](Self::is_cancelled) and stop early.
///
/// ```no_run
/// use a2a_guest::prelude::*;
///
/// fn handle(ctx: &Context) -> Result<(), AgentError> {
///     ctx.status_text("Thinking…")?;
///     let words = ctx.text().split_whitespace().count();
///     ctx.emit_artifact(Artifact::data("stats", json!({ "words": words })))?;
///     ctx.complete_text(format!("You wrote {words} words."))?;
///     Ok(())
/// }
/// ```
#[derive(Debug)]
#[repr(transparent)]
pub struct Context {
    raw: TaskContext,
}

impl Context {
    /// View the borrowed `task-context` handle as a `Context`.
    pub(crate) fn from_raw(raw: &TaskContext) -> &Context {
        // SAFETY: `Context` is `repr(transparent)` over `TaskContext`, so the
        // two have the same layout, and the returned reference keeps the
        // borrow's lifetime. `Context` has no `Drop` and is never built by
        // value, so the resource handle is still owned by the caller.
        unsafe { &*(raw as *const TaskContext).cast::<Context>() }
    }

    /// The generated resource, for anything these wrappers leave out.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.raw().emit_artifact(&Artifact::text("a", "x"), false, true)?;
    /// # Ok(()) }
    /// ```
    pub fn raw(&self) -> &TaskContext {
        &self.raw
    }

    // ---- inputs -----------------------------------------------------------

    /// The A2A task id.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) {
    /// ctx.log(LogLevel::Debug, &format!("working on {}", ctx.task_id()));
    /// # }
    /// ```
    pub fn task_id(&self) -> String {
        self.raw.task_id()
    }

    /// The A2A context id that groups related tasks (a conversation).
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) {
    /// let conversation = ctx.context_id();
    /// # }
    /// ```
    pub fn context_id(&self) -> String {
        self.raw.context_id()
    }

    /// The message that started this turn.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) {
    /// let msg = ctx.message();
    /// let files = msg.parts.iter().filter(|p| p.as_raw().is_some()).count();
    /// # }
    /// ```
    pub fn message(&self) -> Message {
        self.raw.message()
    }

    /// The text parts of [`message`](Self::message), joined by newlines.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.complete_text(ctx.text().to_uppercase())?;
    /// # Ok(()) }
    /// ```
    pub fn text(&self) -> String {
        self.raw.text()
    }

    /// Earlier messages of the task, oldest first, without the current one.
    /// On a follow-up turn (after [`request_input`](Self::request_input))
    /// this holds the earlier user messages and the agent's question.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) {
    /// let first_question = ctx.history().into_iter().find(|m| m.is_user()).map(|m| m.text());
    /// # }
    /// ```
    pub fn history(&self) -> Vec<Message> {
        self.raw.history()
    }

    /// The request's metadata object, or `Value::Null` if the client sent
    /// none.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) {
    /// let lang = ctx.metadata()["lang"].as_str().unwrap_or("en").to_string();
    /// # }
    /// ```
    pub fn metadata(&self) -> Value {
        parse_json_or_null(self.raw.metadata().as_deref())
    }

    /// Media types the client accepts for output; empty means any.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) {
    /// let modes = ctx.accepted_output_modes();
    /// let wants_json = modes.is_empty() || modes.iter().any(|m| m == "application/json");
    /// # }
    /// ```
    pub fn accepted_output_modes(&self) -> Vec<String> {
        self.raw.accepted_output_modes()
    }

    // ---- lifecycle ----------------------------------------------------------

    /// Publish a `working` status with a message to every stream of the
    /// task. `()` sends the status without a message.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.send_status([Part::text("Step 1 of 2"), Part::data(json!({"step": 1}))])?;
    /// # Ok(()) }
    /// ```
    pub fn send_status(&self, message: impl IntoParts) -> Result<(), ActionError> {
        self.raw.send_status(non_empty(&message.into_parts()))
    }

    /// Publish a `working` status with a text message.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.status_text("Looking things up…")?;
    /// # Ok(()) }
    /// ```
    pub fn status_text(&self, text: impl Into<String>) -> Result<(), ActionError> {
        self.send_status(Part::text(text))
    }

    /// Add an artifact, or replace one with the same id. For chunked output
    /// use [`stream_artifact`](Self::stream_artifact) or
    /// [`emit_artifact_chunk`](Self::emit_artifact_chunk).
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.emit_artifact(Artifact::new("summary").name("Summary").part(Part::text("Short.")))?;
    /// # Ok(()) }
    /// ```
    pub fn emit_artifact(&self, artifact: Artifact) -> Result<(), ActionError> {
        self.raw.emit_artifact(&artifact, false, false)
    }

    /// Send one artifact update with explicit `append` and `lastChunk`
    /// flags, as in the A2A `TaskArtifactUpdateEvent`.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.emit_artifact_chunk(Artifact::text("out", "chunk-1 "), false, false)?;
    /// ctx.emit_artifact_chunk(Artifact::text("out", "chunk-2"), true, true)?;
    /// # Ok(()) }
    /// ```
    pub fn emit_artifact_chunk(
        &self,
        artifact: Artifact,
        append: bool,
        last_chunk: bool,
    ) -> Result<(), ActionError> {
        self.raw.emit_artifact(&artifact, append, last_chunk)
    }

    /// Start an artifact that is sent in chunks; see [`ArtifactStream`].
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// let mut out = ctx.stream_artifact("numbers");
    /// for n in 1..3 {
    ///     out.send(format!("{n} "))?;
    /// }
    /// out.finish("3")?;
    /// # Ok(()) }
    /// ```
    pub fn stream_artifact(&self, artifact_id: impl Into<String>) -> ArtifactStream<'_> {
        ArtifactStream::new(self, artifact_id.into())
    }

    /// Stream `text` as a text artifact, one word (with the whitespace after
    /// it) per chunk; the last chunk carries `lastChunk`. Joined, the chunks
    /// give back `text` exactly. Empty text sends one empty text part.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.stream_words("answer", "one word at a time")?;
    /// ctx.complete(())?;
    /// # Ok(()) }
    /// ```
    pub fn stream_words(
        &self,
        artifact_id: impl Into<String>,
        text: &str,
    ) -> Result<(), ActionError> {
        self.stream_artifact(artifact_id)
            .finish_words(text, Duration::ZERO)
    }

    /// Finish the task successfully, with a final agent message. `()`
    /// completes without a message.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.complete([Part::text("Done."), Part::data(json!({"items": 3}))])?;
    /// # Ok(()) }
    /// ```
    pub fn complete(&self, message: impl IntoParts) -> Result<(), ActionError> {
        self.raw.complete(non_empty(&message.into_parts()))
    }

    /// Finish the task successfully with a text message.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.complete_text("All done")?;
    /// # Ok(()) }
    /// ```
    pub fn complete_text(&self, text: impl Into<String>) -> Result<(), ActionError> {
        self.complete(Part::text(text))
    }

    /// Pause the task (`input-required`) and ask the client for more. The
    /// client's answer starts a new turn, with this question in
    /// [`history`](Self::history).
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// if ctx.text().trim().is_empty() {
    ///     ctx.request_input("Which city?")?;
    ///     return Ok(());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn request_input(&self, message: impl IntoParts) -> Result<(), ActionError> {
        self.raw.request_input(&message.into_parts())
    }

    /// Pause the task (`auth-required`) until the client supplies
    /// credentials.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.request_auth("Please sign in to your calendar first.")?;
    /// # Ok(()) }
    /// ```
    pub fn request_auth(&self, message: impl IntoParts) -> Result<(), ActionError> {
        self.raw.request_auth(&message.into_parts())
    }

    /// End the task as `failed`, with a reason for the client. Returning
    /// `Err(AgentError::Failed(..))` from `handle` does the same.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.fail("the upstream service is down")?;
    /// # Ok(()) }
    /// ```
    pub fn fail(&self, reason: impl AsRef<str>) -> Result<(), ActionError> {
        self.raw.fail(reason.as_ref())
    }

    /// End the task as `rejected`: the agent will not do it.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.reject("I only answer questions about the weather")?;
    /// # Ok(()) }
    /// ```
    pub fn reject(&self, reason: impl AsRef<str>) -> Result<(), ActionError> {
        self.raw.reject(reason.as_ref())
    }

    /// Answer with a direct message instead of a task. Valid only as the
    /// first and only action of a new task's first turn.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.reply([Part::text("pong"), Part::data(json!({"latency_ms": 0}))])?;
    /// # Ok(()) }
    /// ```
    pub fn reply(&self, message: impl IntoParts) -> Result<(), ActionError> {
        self.raw.reply(&message.into_parts())
    }

    /// Answer with a direct text message instead of a task.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.reply_text("pong")?;
    /// # Ok(()) }
    /// ```
    pub fn reply_text(&self, text: impl Into<String>) -> Result<(), ActionError> {
        self.reply(Part::text(text))
    }

    /// Whether the client has asked to cancel the task. Long-running agents
    /// check it regularly and return `Ok(())` when it is set.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// for step in 1..=10 {
    ///     if ctx.is_cancelled() {
    ///         return Ok(());
    ///     }
    ///     ctx.status_text(format!("step {step}"))?;
    /// }
    /// ctx.complete(())?;
    /// # Ok(()) }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.raw.is_cancelled()
    }

    /// Sleep for `duration`, waking early with `Err(ActionError::Canceled)`
    /// if the client cancels the task. Checks every 100 ms and costs no CPU
    /// in between.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// if let Err(err) = ctx.sleep(Duration::from_secs(5)) {
    ///     debug_assert!(err.is_canceled());
    ///     return Ok(()); // the host already marked the task canceled
    /// }
    /// ctx.complete_text("waited 5 s")?;
    /// # Ok(()) }
    /// ```
    pub fn sleep(&self, duration: Duration) -> Result<(), ActionError> {
        let mut left = duration;
        loop {
            if self.is_cancelled() {
                return Err(ActionError::Canceled);
            }
            if left.is_zero() {
                return Ok(());
            }
            let step = left.min(CANCEL_POLL_INTERVAL);
            crate::sleep(step);
            left -= step;
        }
    }

    // ---- state, logs and config ----------------------------------------------

    /// Read a value stored for the current A2A context (conversation).
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// let blob: Option<Vec<u8>> = ctx.get("avatar")?;
    /// # Ok(()) }
    /// ```
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ActionError> {
        self.raw.get(key)
    }

    /// Store a value for the current A2A context. It is visible to later
    /// turns and tasks of the same context, and only to this agent.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.set("last-topic", "weather")?;
    /// # Ok(()) }
    /// ```
    pub fn set(&self, key: &str, value: impl AsRef<[u8]>) -> Result<(), ActionError> {
        self.raw.set(key, Some(value.as_ref()))
    }

    /// Delete a stored value; deleting a missing key is not an error.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.delete("draft")?;
    /// # Ok(()) }
    /// ```
    pub fn delete(&self, key: &str) -> Result<(), ActionError> {
        self.raw.set(key, None)
    }

    /// Read a stored UTF-8 string. A value that is not UTF-8 is an
    /// `invalid-argument` error.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// let topic = ctx.get_string("last-topic")?.unwrap_or_default();
    /// # Ok(()) }
    /// ```
    pub fn get_string(&self, key: &str) -> Result<Option<String>, ActionError> {
        self.get(key)?
            .map(|bytes| {
                String::from_utf8(bytes).map_err(|_| {
                    ActionError::InvalidArgument(format!("state key {key:?} is not UTF-8"))
                })
            })
            .transpose()
    }

    /// Read a value stored with [`set_json`](Self::set_json). A value that
    /// does not decode as `T` is an `invalid-argument` error.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// let notes: Vec<String> = ctx.get_json("notes")?.unwrap_or_default();
    /// # Ok(()) }
    /// ```
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ActionError> {
        self.get(key)?
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| {
                    ActionError::InvalidArgument(format!("state key {key:?} holds bad JSON: {e}"))
                })
            })
            .transpose()
    }

    /// Store a value as JSON.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.set_json("notes", &vec!["buy milk"])?;
    /// # Ok(()) }
    /// ```
    pub fn set_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), ActionError> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            ActionError::InvalidArgument(format!("cannot encode state key {key:?}: {e}"))
        })?;
        self.set(key, bytes)
    }

    /// Write a line to the host's log, tagged with the agent and task.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) {
    /// ctx.log(LogLevel::Info, "cache miss, asking upstream");
    /// # }
    /// ```
    pub fn log(&self, level: LogLevel, message: &str) {
        self.raw.log(level, message)
    }

    /// A config value the operator set for this agent (`[config]` in its
    /// `NAME.toml`). Agents never see the host's environment.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) {
    /// let api_key: Option<String> = ctx.config("api_key");
    /// # }
    /// ```
    pub fn config(&self, key: &str) -> Option<String> {
        self.raw.config(key)
    }

    /// A config value, or `default` when it is not set.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) {
    /// let model = ctx.config_or("model", "gpt-4o-mini");
    /// # }
    /// ```
    pub fn config_or(&self, key: &str, default: &str) -> String {
        self.config(key).unwrap_or_else(|| default.to_string())
    }
}

/// `None` for an empty list, so "no message" reaches the host as `none`.
fn non_empty(parts: &[Part]) -> Option<&[Part]> {
    (!parts.is_empty()).then_some(parts)
}
