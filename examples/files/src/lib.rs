//! `files`: answers with one artifact that holds each non-text kind of A2A
//! part:
//! - a **data** part: statistics of your message as JSON,
//! - a **file** part: `words.csv` (`text/csv`), the word counts as raw bytes,
//! - a **url** part: a link to the A2A specification's section on parts.
use std::collections::BTreeMap;

use a2a_guest::prelude::*;

struct Files;

/// Where the A2A specification explains parts.
const PARTS_SPEC_URL: &str = "https://a2a-protocol.org/latest/specification/#65-part-object";

/// Word counts as CSV, most frequent first, then alphabetical.
fn word_counts_csv(text: &str) -> String {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for word in text.split_whitespace() {
        let word: String = word
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        if !word.is_empty() {
            *counts.entry(word).or_default() += 1;
        }
    }
    let mut rows: Vec<(String, u64)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut csv = String::from("word,count\n");
    for (word, count) in rows {
        // Trimming only strips punctuation at the ends: quote words such as
        // `a,b` (RFC 4180).
        if word.contains([',', '"']) {
            csv.push_str(&format!("\"{}\",{count}\n", word.replace('"', "\"\"")));
        } else {
            csv.push_str(&format!("{word},{count}\n"));
        }
    }
    csv
}

impl Agent for Files {
    fn card() -> Card {
        Card::new("files", "Returns an artifact with data, file and URL parts")
            .output_mode("text/plain")
            .output_mode("application/json")
            .output_mode("text/csv")
            .skill(
                Skill::new(
                    "analyse",
                    "Word statistics",
                    "Counts the words of your message: JSON stats, a CSV file and a link",
                )
                .tag("demo")
                .tag("artifacts")
                .example("the quick brown fox jumps over the lazy dog"),
            )
    }

    fn handle(ctx: &Context) -> Result<(), AgentError> {
        let text = ctx.text();
        let stats = json!({
            "characters": text.chars().count(),
            "words": text.split_whitespace().count(),
            "lines": text.lines().count(),
        });
        let report = Artifact::new("report")
            .name("Word report")
            .description("Statistics and word counts of your message")
            .part(Part::data(stats))
            .part(Part::file(word_counts_csv(&text), "text/csv", "words.csv"))
            .part(Part::url(PARTS_SPEC_URL).with_media_type("text/html"));
        ctx.emit_artifact(report)?;
        ctx.complete_text("Your report is attached: data, file and URL parts.")?;
        Ok(())
    }
}

a2a_guest::export_agent!(Files);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_case_insensitively() {
        assert_eq!(
            word_counts_csv("The cat, the hat. A,B"),
            "word,count\nthe,2\n\"a,b\",1\ncat,1\nhat,1\n"
        );
        assert_eq!(word_counts_csv("  "), "word,count\n");
    }
}
