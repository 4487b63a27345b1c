//! Operator policy for one agent: the optional `NAME.toml` next to
//! `NAME.wasm`.
//!
//! The file belongs to the operator, not to the agent's author: it caps what
//! the agent may use (memory, time, fuel, concurrency, outbound HTTP), hands
//! it configuration values, and may override what its card says. Every key is
//! optional; an unknown key is an error that names it, so a typo never
//! silently weakens a limit. The keys and their defaults are listed in the
//! [module documentation of `runtime`](super).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::http::Allowlist;
use crate::agent::AgentInfo;
use crate::model::AgentSkill;

/// The largest memory cap a policy may set, in MiB (the linear-memory limit
/// of 32-bit WebAssembly).
pub const MAX_MEMORY_MB: u64 = 4096;
/// The largest `max_concurrent` a policy may set.
pub const MAX_CONCURRENT: u32 = 10_000;
/// The largest `max_queued` a policy may set.
pub const MAX_QUEUED: u32 = 100_000;
/// The largest `artifact_mb` a policy may set, in MiB.
pub const MAX_ARTIFACT_MB: u64 = 4096;
/// The largest `card_kb` a policy may set, in KiB.
pub const MAX_CARD_KB: u64 = 16 * 1024;

/// Resource limits of one agent, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory one instance may use, in MiB (all its memories together).
    pub memory_mb: u64,
    /// Wall-clock time one `handle` call may take.
    pub timeout: Duration,
    /// Fuel (roughly: WebAssembly instructions) one `handle` call may burn;
    /// `None` means unmetered.
    pub fuel: Option<u64>,
    /// Turns of this agent that may run at the same time. Counted per
    /// loaded version: after a hot reload, turns still running on the old
    /// version do not hold slots of the new one.
    pub max_concurrent: u32,
    /// How long a turn waits for one of the `max_concurrent` slots (and for
    /// a slot of the host-wide `RuntimeConfig::max_concurrent_total`) before
    /// it fails.
    pub queue_timeout: Duration,
    /// Turns of this agent that may wait for a slot; one more fails at once
    /// instead of queueing.
    pub max_queued: u32,
    /// Bytes of content (artifact parts and status messages) one turn may
    /// emit.
    pub artifact_bytes: u64,
    /// Events (status updates and artifact chunks) one turn may emit.
    pub max_events: u64,
    /// Events one turn may emit per second (a token bucket that holds one
    /// second's worth, so short bursts are fine).
    pub events_per_second: u32,
    /// Bytes of text the agent's card may hold (all strings together).
    pub card_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: 128,
            timeout: Duration::from_secs(300),
            fuel: None,
            max_concurrent: 16,
            queue_timeout: Duration::from_secs(30),
            max_queued: 64,
            artifact_bytes: 16 * 1024 * 1024,
            max_events: 10_000,
            events_per_second: 1_000,
            card_bytes: 64 * 1024,
        }
    }
}

impl Limits {
    /// The memory cap in bytes.
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }
}

/// Card fields the operator overrides. `None` keeps what the agent says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CardOverrides {
    /// `card.name`: the card's `name`.
    pub name: Option<String>,
    /// `card.description`: the card's `description`.
    pub description: Option<String>,
    /// `card.version`: the card's `version`.
    pub version: Option<String>,
    /// `card.streaming`: the card's `capabilities.streaming`; `false` also
    /// makes the streaming operations unsupported for this agent.
    pub streaming: Option<bool>,
    /// `card.input_modes`: the card's `defaultInputModes`.
    pub input_modes: Option<Vec<String>>,
    /// `card.output_modes`: the card's `defaultOutputModes`.
    pub output_modes: Option<Vec<String>>,
    /// Replaces the whole skill list.
    pub skills: Option<Vec<AgentSkill>>,
}

impl CardOverrides {
    /// Apply the overrides to what the agent said about itself.
    pub fn apply(&self, info: &mut AgentInfo) {
        if let Some(v) = &self.name {
            info.name = v.clone();
        }
        if let Some(v) = &self.description {
            info.description = v.clone();
        }
        if let Some(v) = &self.version {
            info.version = v.clone();
        }
        if let Some(v) = self.streaming {
            info.streaming = v;
        }
        if let Some(v) = &self.input_modes {
            info.input_modes = v.clone();
        }
        if let Some(v) = &self.output_modes {
            info.output_modes = v.clone();
        }
        if let Some(v) = &self.skills {
            info.skills = v.clone();
        }
    }
}

/// Everything the operator decided about one agent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentPolicy {
    /// The `[limits]` table, with the host's defaults for keys left out.
    pub limits: Limits,
    /// Origins the agent may call over wasi-http. Empty: no outbound HTTP.
    pub network: Allowlist,
    /// Values the agent reads with `task-context.config`.
    pub config: BTreeMap<String, String>,
    /// The `[card]` table.
    pub card: CardOverrides,
}

impl AgentPolicy {
    /// The policy of an agent without a `NAME.toml`: the given limits,
    /// nothing else.
    pub fn with_limits(limits: Limits) -> Self {
        AgentPolicy {
            limits,
            ..Default::default()
        }
    }

    /// Parse the text of a `NAME.toml`; absent keys take their value from
    /// `defaults`.
    pub fn parse(text: &str, defaults: &Limits) -> Result<AgentPolicy, String> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            // The toml error carries the line, a snippet and the message;
            // keep it on one line for logs and `GET /agents`.
            let msg = e.message().to_string();
            match e.span() {
                Some(span) => {
                    let start = span.start.min(text.len());
                    let line = text[..start].matches('\n').count() + 1;
                    let mut source = text.lines().nth(line - 1).unwrap_or("").trim().to_string();
                    super::bindings::truncate(&mut source, 80);
                    format!("line {line} (`{source}`): {msg}")
                }
                None => msg,
            }
        })?;
        raw.resolve(defaults)
    }

    /// Read the policy file at `path`. A missing file is not an error: the
    /// agent gets the defaults.
    pub fn load(path: &Path, defaults: &Limits) -> Result<AgentPolicy, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                AgentPolicy::parse(&text, defaults).map_err(|e| format!("{}: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(AgentPolicy::with_limits(defaults.clone()))
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }
}

// ---------------------------------------------------------------------------
// The file format

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
    #[serde(default)]
    card: RawCard,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory_mb: Option<u64>,
    timeout_secs: Option<u64>,
    fuel: Option<u64>,
    max_concurrent: Option<u32>,
    queue_timeout_secs: Option<u64>,
    max_queued: Option<u32>,
    artifact_mb: Option<u64>,
    max_events: Option<u64>,
    events_per_second: Option<u32>,
    card_kb: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    #[serde(default)]
    allow: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCard {
    name: Option<String>,
    description: Option<String>,
    version: Option<String>,
    streaming: Option<bool>,
    input_modes: Option<Vec<String>>,
    output_modes: Option<Vec<String>>,
    skills: Option<Vec<RawSkill>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSkill {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    input_modes: Vec<String>,
    #[serde(default)]
    output_modes: Vec<String>,
}

impl RawPolicy {
    fn resolve(self, defaults: &Limits) -> Result<AgentPolicy, String> {
        let l = self.limits;
        let memory_mb = l.memory_mb.unwrap_or(defaults.memory_mb);
        if memory_mb == 0 || memory_mb > MAX_MEMORY_MB {
            return Err(format!(
                "limits.memory_mb must be between 1 and {MAX_MEMORY_MB}, not {memory_mb}"
            ));
        }
        let timeout = match l.timeout_secs {
            Some(0) => return Err("limits.timeout_secs must be at least 1".into()),
            Some(s) => Duration::from_secs(s),
            None => defaults.timeout,
        };
        let max_concurrent = l.max_concurrent.unwrap_or(defaults.max_concurrent);
        if max_concurrent == 0 || max_concurrent > MAX_CONCURRENT {
            return Err(format!(
                "limits.max_concurrent must be between 1 and {MAX_CONCURRENT}, not {max_concurrent}"
            ));
        }
        let fuel = match l.fuel {
            Some(0) => None,
            Some(n) => Some(n),
            None => defaults.fuel,
        };
        let queue_timeout = l
            .queue_timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(defaults.queue_timeout);
        let max_queued = l.max_queued.unwrap_or(defaults.max_queued);
        if max_queued > MAX_QUEUED {
            return Err(format!(
                "limits.max_queued must be between 0 and {MAX_QUEUED}, not {max_queued}"
            ));
        }
        let artifact_bytes = match l.artifact_mb {
            Some(mb) if mb == 0 || mb > MAX_ARTIFACT_MB => {
                return Err(format!(
                    "limits.artifact_mb must be between 1 and {MAX_ARTIFACT_MB}, not {mb}"
                ));
            }
            Some(mb) => mb * 1024 * 1024,
            None => defaults.artifact_bytes,
        };
        let max_events = match l.max_events {
            Some(0) => return Err("limits.max_events must be at least 1".into()),
            Some(n) => n,
            None => defaults.max_events,
        };
        let events_per_second = match l.events_per_second {
            Some(0) => return Err("limits.events_per_second must be at least 1".into()),
            Some(n) => n,
            None => defaults.events_per_second,
        };
        let card_bytes = match l.card_kb {
            Some(kb) if kb == 0 || kb > MAX_CARD_KB => {
                return Err(format!(
                    "limits.card_kb must be between 1 and {MAX_CARD_KB}, not {kb}"
                ));
            }
            Some(kb) => (kb * 1024) as usize,
            None => defaults.card_bytes,
        };

        let network =
            Allowlist::parse(&self.network.allow).map_err(|e| format!("network.allow: {e}"))?;

        let mut config = BTreeMap::new();
        for (key, value) in self.config {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Datetime(d) => d.to_string(),
                toml::Value::Array(_) | toml::Value::Table(_) => {
                    return Err(format!(
                        "config.{key} must be a string, number, boolean or date, not a {}",
                        value.type_str()
                    ));
                }
            };
            config.insert(key, text);
        }

        let c = self.card;
        let card = CardOverrides {
            name: c.name,
            description: c.description,
            version: c.version,
            streaming: c.streaming,
            input_modes: c.input_modes,
            output_modes: c.output_modes,
            skills: c.skills.map(|skills| {
                skills
                    .into_iter()
                    .map(|s| AgentSkill {
                        id: s.id,
                        name: s.name,
                        description: s.description,
                        tags: s.tags,
                        examples: s.examples,
                        input_modes: s.input_modes,
                        output_modes: s.output_modes,
                        security_requirements: Vec::new(),
                    })
                    .collect()
            }),
        };

        Ok(AgentPolicy {
            limits: Limits {
                memory_mb,
                timeout,
                fuel,
                max_concurrent,
                queue_timeout,
                max_queued,
                artifact_bytes,
                max_events,
                events_per_second,
                card_bytes,
            },
            network,
            config,
            card,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_policy_takes_the_defaults() {
        let p = AgentPolicy::parse("", &Limits::default()).unwrap();
        assert_eq!(p, AgentPolicy::with_limits(Limits::default()));
    }

    #[test]
    fn full_policy_parses() {
        let p = AgentPolicy::parse(
            r#"
            [limits]
            memory_mb = 64
            timeout_secs = 10
            fuel = 1000000
            max_concurrent = 2
            queue_timeout_secs = 5
            max_queued = 3
            artifact_mb = 2
            max_events = 100
            events_per_second = 10
            card_kb = 8
            [network]
            allow = ["https://api.openai.com", "http://127.0.0.1:*"]
            [config]
            model = "gpt-4o-mini"
            max_tokens = 100
            [card]
            description = "Overridden"
            [[card.skills]]
            id = "s"
            name = "S"
            "#,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(p.limits.memory_mb, 64);
        assert_eq!(p.limits.timeout, Duration::from_secs(10));
        assert_eq!(p.limits.fuel, Some(1_000_000));
        assert_eq!(p.limits.max_concurrent, 2);
        assert_eq!(p.limits.queue_timeout, Duration::from_secs(5));
        assert_eq!(p.limits.max_queued, 3);
        assert_eq!(p.limits.artifact_bytes, 2 * 1024 * 1024);
        assert_eq!(p.limits.max_events, 100);
        assert_eq!(p.limits.events_per_second, 10);
        assert_eq!(p.limits.card_bytes, 8 * 1024);
        assert!(p.network.allows("https", "api.openai.com", 443));
        assert!(p.network.allows("http", "127.0.0.1", 9999));
        assert_eq!(p.config["model"], "gpt-4o-mini");
        assert_eq!(p.config["max_tokens"], "100");
        assert_eq!(p.card.description.as_deref(), Some("Overridden"));
        assert_eq!(p.card.skills.as_ref().unwrap()[0].id, "s");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = AgentPolicy::parse("[limits]\nmemory_mib = 3\n", &Limits::default()).unwrap_err();
        assert!(err.contains("memory_mib"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = AgentPolicy::parse("[netwrk]\n", &Limits::default()).unwrap_err();
        assert!(err.contains("netwrk"), "{err}");
    }

    #[test]
    fn bad_values_are_explained() {
        let d = Limits::default();
        for (text, needle) in [
            ("[limits]\nmemory_mb = 0", "memory_mb"),
            ("[limits]\nmemory_mb = 5000", "memory_mb"),
            ("[limits]\ntimeout_secs = 0", "timeout_secs"),
            ("[limits]\nmax_concurrent = 0", "max_concurrent"),
            ("[limits]\nmax_queued = 1000000", "max_queued"),
            ("[limits]\nartifact_mb = 0", "artifact_mb"),
            ("[limits]\nartifact_mb = 99999", "artifact_mb"),
            ("[limits]\nmax_events = 0", "max_events"),
            ("[limits]\nevents_per_second = 0", "events_per_second"),
            ("[limits]\ncard_kb = 0", "card_kb"),
            ("[limits]\nmemory_mb = -1", "memory_mb"),
            ("[network]\nallow = [\"ftp://x\"]", "network.allow"),
            ("[config]\nlist = [1]", "config.list"),
            ("[limits]\nmemory_mb = \"big\"", "memory_mb"),
        ] {
            let err = AgentPolicy::parse(text, &d).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn fuel_zero_means_off() {
        let p = AgentPolicy::parse("[limits]\nfuel = 0", &Limits::default()).unwrap();
        assert_eq!(p.limits.fuel, None);
    }
}
