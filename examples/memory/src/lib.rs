//! `memory`: remembers notes per conversation (A2A `contextId`) with the
//! host's agent state.
//!
//! - `remember <note>` stores the note.
//! - `forget` clears the notes.
//! - Anything else recalls the notes and how many turns the conversation has
//!   had.
//!
//! Tasks with the same `contextId` share the notes; another context starts
//! empty. The 50 most recent notes are kept.
use a2a_guest::prelude::*;
use serde::{Deserialize, Serialize};

struct MemoryAgent;

/// The state key under which the memory lives.
const KEY: &str = "memory";
/// Older notes are dropped beyond this many.
const MAX_NOTES: usize = 50;
/// Notes are cut to this many characters.
const MAX_NOTE_CHARS: usize = 500;

#[derive(Default, Serialize, Deserialize)]
struct Memory {
    /// Messages this context has sent to the agent, this one included.
    turns: u64,
    notes: Vec<String>,
}

/// `remember X` (any case, optional trailing colon) gives `Some(X)`.
fn note_to_remember(text: &str) -> Option<&str> {
    let text = text.trim();
    let prefix = text.get(..8)?;
    if !prefix.eq_ignore_ascii_case("remember") {
        return None;
    }
    let rest = &text[8..];
    if !rest.is_empty() && !rest.starts_with([' ', ':', '\t', '\n']) {
        return None; // e.g. "remembers", "rememberance"
    }
    Some(rest.trim_start_matches([':', ' ', '\t', '\n']).trim())
}

impl Agent for MemoryAgent {
    fn card() -> Card {
        Card::new("memory", "Remembers what you tell it, per conversation")
            .skill(
                Skill::new("remember", "Remember", "Stores a note: `remember <note>`")
                    .tag("state")
                    .example("remember the door code is 4711"),
            )
            .skill(
                Skill::new("recall", "Recall", "Lists the notes of this conversation")
                    .tag("state")
                    .example("what do you remember?"),
            )
    }

    fn handle(ctx: &Context) -> Result<(), AgentError> {
        let mut memory: Memory = ctx.get_json(KEY)?.unwrap_or_default();
        memory.turns += 1;
        let text = ctx.text();

        let answer = if let Some(note) = note_to_remember(&text) {
            if note.is_empty() {
                "Remember what? Say `remember <something>`.".to_string()
            } else {
                memory
                    .notes
                    .push(note.chars().take(MAX_NOTE_CHARS).collect());
                let excess = memory.notes.len().saturating_sub(MAX_NOTES);
                memory.notes.drain(..excess);
                format!("Got it. I remember {} thing(s) now.", memory.notes.len())
            }
        } else if text.trim().eq_ignore_ascii_case("forget") {
            memory.notes.clear();
            "Forgotten.".to_string()
        } else if memory.notes.is_empty() {
            format!(
                "I don't remember anything yet (turn {}). Say `remember <something>`.",
                memory.turns
            )
        } else {
            let list: Vec<String> = memory.notes.iter().map(|n| format!("- {n}")).collect();
            format!("I remember (turn {}):\n{}", memory.turns, list.join("\n"))
        };

        ctx.set_json(KEY, &memory)?;
        ctx.complete([
            Part::text(answer),
            Part::data(json!({ "turns": memory.turns, "notes": memory.notes })),
        ])?;
        Ok(())
    }
}

a2a_guest::export_agent!(MemoryAgent);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_remember_commands() {
        assert_eq!(note_to_remember("remember the milk"), Some("the milk"));
        assert_eq!(
            note_to_remember("  Remember: door code 4711 "),
            Some("door code 4711")
        );
        assert_eq!(note_to_remember("REMEMBER"), Some(""));
        assert_eq!(note_to_remember("remembers nothing"), None);
        assert_eq!(note_to_remember("what do you remember?"), None);
        assert_eq!(note_to_remember("rémember x"), None);
    }
}
