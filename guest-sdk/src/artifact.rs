//! The [`Artifact`] builder and [`ArtifactStream`], an artifact sent in
//! chunks.

use std::time::Duration;

use serde_json::Value;

use crate::{ActionError, Artifact, Context, IntoParts, Part};

impl Artifact {
    /// An empty artifact with the given id. The id must be unique within the
    /// task; emitting a second artifact with the same id replaces the first
    /// (or extends it, when appending).
    ///
    /// ```
    /// use a2a_guest::{Artifact, Part};
    /// let report = Artifact::new("report")
    ///     .name("Report")
    ///     .description("The weekly numbers")
    ///     .part(Part::text("All good."));
    /// assert_eq!(report.parts.len(), 1);
    /// ```
    pub fn new(artifact_id: impl Into<String>) -> Artifact {
        Artifact {
            artifact_id: artifact_id.into(),
            name: None,
            description: None,
            parts: Vec::new(),
            metadata: None,
        }
    }

    /// An artifact holding one text part.
    ///
    /// ```
    /// use a2a_guest::Artifact;
    /// assert_eq!(Artifact::text("answer", "42").parts[0].as_text(), Some("42"));
    /// ```
    pub fn text(artifact_id: impl Into<String>, text: impl Into<String>) -> Artifact {
        Artifact::new(artifact_id).part(Part::text(text))
    }

    /// An artifact holding one data part.
    ///
    /// ```
    /// use a2a_guest::{Artifact, serde_json::json};
    /// let a = Artifact::data("result", json!({"ok": true}));
    /// assert_eq!(a.parts[0].as_data(), Some(json!({"ok": true})));
    /// ```
    pub fn data(artifact_id: impl Into<String>, value: Value) -> Artifact {
        Artifact::new(artifact_id).part(Part::data(value))
    }

    /// Set the human-readable name.
    ///
    /// ```
    /// use a2a_guest::Artifact;
    /// assert_eq!(Artifact::new("a").name("Answer").name.as_deref(), Some("Answer"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Artifact {
        self.name = Some(name.into());
        self
    }

    /// Set the description.
    ///
    /// ```
    /// use a2a_guest::Artifact;
    /// let a = Artifact::new("a").description("What it is");
    /// assert_eq!(a.description.as_deref(), Some("What it is"));
    /// ```
    pub fn description(mut self, description: impl Into<String>) -> Artifact {
        self.description = Some(description.into());
        self
    }

    /// Add one part.
    ///
    /// ```
    /// use a2a_guest::{Artifact, Part};
    /// let a = Artifact::new("a").part(Part::text("x")).part(Part::url("https://example.com"));
    /// assert_eq!(a.parts.len(), 2);
    /// ```
    pub fn part(mut self, part: Part) -> Artifact {
        self.parts.push(part);
        self
    }

    /// Add several parts (anything [`IntoParts`]).
    ///
    /// ```
    /// use a2a_guest::{Artifact, Part};
    /// let a = Artifact::new("a").parts([Part::text("x"), Part::text("y")]);
    /// assert_eq!(a.parts.len(), 2);
    /// ```
    pub fn parts(mut self, parts: impl IntoParts) -> Artifact {
        self.parts.extend(parts.into_parts());
        self
    }

    /// Attach a metadata object.
    ///
    /// ```
    /// use a2a_guest::{Artifact, serde_json::json};
    /// let a = Artifact::new("a").metadata(json!({"source": "cache"}));
    /// assert_eq!(a.metadata.as_deref(), Some(r#"{"source":"cache"}"#));
    /// ```
    pub fn metadata(mut self, metadata: Value) -> Artifact {
        self.metadata = Some(metadata.to_string());
        self
    }
}

/// An artifact sent in chunks, e.g. tokens from a language model.
///
/// The first [`send`](Self::send) creates the artifact; later ones append to
/// it; [`finish`](Self::finish) appends the last chunk and marks it with
/// `lastChunk`. Clients that stream see each chunk as it is sent; clients
/// that poll see the joined artifact. Get one from
/// [`Context::stream_artifact`].
///
/// ```no_run
/// # use a2a_guest::prelude::*;
/// # fn turn(ctx: &Context) -> Result<(), AgentError> {
/// let mut answer = ctx.stream_artifact("answer").name("Answer");
/// for token in ["The ", "answer ", "is "] {
///     answer.send(token)?;
/// }
/// answer.finish("42.")?;
/// ctx.complete(())?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "an artifact stream does nothing until `send` or `finish` is called"]
pub struct ArtifactStream<'a> {
    ctx: &'a Context,
    /// Id, name, description and metadata, repeated on every chunk so each
    /// update event is self-describing; `parts` stays empty.
    header: Artifact,
    /// Whether a chunk was sent, i.e. whether the next one appends.
    started: bool,
}

impl<'a> ArtifactStream<'a> {
    pub(crate) fn new(ctx: &'a Context, artifact_id: String) -> Self {
        ArtifactStream {
            ctx,
            header: Artifact::new(artifact_id),
            started: false,
        }
    }

    /// Set the artifact's name (before the first chunk).
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.stream_artifact("poem").name("Poem").finish("Roses are red")?;
    /// # Ok(()) }
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.header.name = Some(name.into());
        self
    }

    /// Set the artifact's description (before the first chunk).
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.stream_artifact("log").description("Build output").finish("ok")?;
    /// # Ok(()) }
    /// ```
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.header.description = Some(description.into());
        self
    }

    /// The artifact id.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) {
    /// assert_eq!(ctx.stream_artifact("x").id(), "x");
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.header.artifact_id
    }

    /// Send a chunk. The first chunk creates the artifact, later chunks
    /// append to it.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// let mut out = ctx.stream_artifact("out");
    /// out.send("partial ")?;
    /// out.finish("result")?;
    /// # Ok(()) }
    /// ```
    pub fn send(&mut self, parts: impl IntoParts) -> Result<(), ActionError> {
        self.emit(parts.into_parts(), false)
    }

    /// Send the last chunk, flagged `lastChunk`. The host refuses an empty
    /// chunk, so pass at least one part.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// ctx.stream_artifact("out").finish(Part::data(json!({"done": true})))?;
    /// # Ok(()) }
    /// ```
    pub fn finish(mut self, parts: impl IntoParts) -> Result<(), ActionError> {
        self.emit(parts.into_parts(), true)
    }

    /// Send `text` one word (with the whitespace after it) per chunk,
    /// pausing `pause` after each chunk but the last, the way a model
    /// produces tokens; the last chunk carries `lastChunk`. Joined, the
    /// chunks give back `text` exactly; empty text sends one empty text
    /// part. Stops with `Err(ActionError::Canceled)` if the client cancels
    /// during a pause.
    ///
    /// ```no_run
    /// # use a2a_guest::prelude::*;
    /// # fn turn(ctx: &Context) -> Result<(), AgentError> {
    /// let answer = ctx.stream_artifact("answer").name("Answer");
    /// match answer.finish_words("slowly does it", Duration::from_millis(200)) {
    ///     Err(err) if err.is_canceled() => return Ok(()),
    ///     other => other?,
    /// }
    /// ctx.complete(())?;
    /// # Ok(()) }
    /// ```
    pub fn finish_words(mut self, text: &str, pause: Duration) -> Result<(), ActionError> {
        let chunks = word_chunks(text);
        let Some((last, rest)) = chunks.split_last() else {
            return self.finish(Part::text(""));
        };
        for chunk in rest {
            self.send(*chunk)?;
            if !pause.is_zero() {
                self.ctx.sleep(pause)?;
            }
        }
        self.finish(*last)
    }

    fn emit(&mut self, parts: Vec<Part>, last_chunk: bool) -> Result<(), ActionError> {
        let chunk = Artifact {
            parts,
            ..self.header.clone()
        };
        self.ctx
            .raw()
            .emit_artifact(&chunk, self.started, last_chunk)?;
        self.started = true;
        Ok(())
    }
}

/// Split text into chunks of one word plus the whitespace after it, so the
/// chunks joined give back the text exactly. Leading whitespace stays with
/// the first word. Empty text gives no chunks.
fn word_chunks(text: &str) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_word = false;
        } else {
            if !in_word && text[start..i].chars().any(|c| !c.is_whitespace()) {
                chunks.push(&text[start..i]);
                start = i;
            }
            in_word = true;
        }
    }
    if start < text.len() {
        chunks.push(&text[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_chunks_keep_every_character() {
        for text in [
            "",
            " ",
            "one",
            "one two  three",
            "  leading and trailing  ",
            "tabs\tand\nnewlines\n",
            "ünïcödé wörds ✓",
        ] {
            let chunks = word_chunks(text);
            assert_eq!(chunks.concat(), text, "chunks of {text:?}");
        }
    }

    #[test]
    fn word_chunks_split_after_whitespace() {
        assert_eq!(word_chunks("a bb  ccc"), ["a ", "bb  ", "ccc"]);
        assert_eq!(word_chunks("  a b "), ["  a ", "b "]);
        assert_eq!(word_chunks("   "), ["   "]);
        assert!(word_chunks("").is_empty());
    }
}
