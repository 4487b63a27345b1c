//! The set of agents a host serves, by name.
//!
//! Each name maps to a slot that holds the agent's current version (an
//! `Arc<dyn Agent>`) and, if its last load failed, why. Swapping a version is
//! one write under a short lock: tasks already running keep the `Arc` they
//! cloned and finish on the old version; new tasks get the new one. A broken
//! reload keeps the last good version serving and records the error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::Serialize;

use crate::agent::{Agent, AgentInfo};
use crate::model::Timestamp;

/// One loaded version of an agent. Cheap to clone (every request takes
/// one from the registry): the parts are shared.
#[derive(Clone)]
pub struct LoadedAgent {
    /// The agent itself.
    pub agent: Arc<dyn Agent>,
    /// Read once at load time.
    pub info: Arc<AgentInfo>,
    /// When this version was loaded; the card's Last-Modified.
    pub loaded_at: Timestamp,
    /// Where it came from (a `.wasm` file), if anywhere.
    pub source: Option<Arc<Path>>,
}

impl LoadedAgent {
    /// Wrap an agent, reading its info now.
    pub fn new(agent: Arc<dyn Agent>, source: Option<PathBuf>) -> Self {
        LoadedAgent {
            info: Arc::new(agent.info()),
            agent,
            loaded_at: Timestamp::now(),
            source: source.map(Arc::from),
        }
    }
}

#[derive(Clone, Default)]
struct Slot {
    current: Option<LoadedAgent>,
    error: Option<String>,
}

/// What `GET /agents` shows for one agent.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentStatus {
    /// The name the agent is served under.
    pub name: String,
    /// `ready` (serving), `broken` (never loaded), or `degraded` (serving
    /// the last good version; the newest file failed to load).
    pub status: &'static str,
    /// The serving version's description; absent when `broken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The serving version's own version string; absent when `broken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When the serving version was loaded; absent when `broken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded_at: Option<Timestamp>,
    /// The `.wasm` file the serving version came from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Why the last load failed; absent when `ready`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The agents of one host. Cheap to clone; clones share the set.
#[derive(Clone, Default)]
pub struct AgentRegistry {
    slots: Arc<RwLock<BTreeMap<String, Slot>>>,
}

impl AgentRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serve `agent` as `name`, replacing any earlier version and clearing
    /// any recorded error.
    pub fn insert(&self, name: &str, agent: LoadedAgent) {
        let mut slots = self.slots.write();
        let slot = slots.entry(name.to_string()).or_default();
        slot.current = Some(agent);
        slot.error = None;
    }

    /// Record that loading `name` failed. The last good version, if any,
    /// keeps serving.
    pub fn set_error(&self, name: &str, error: impl Into<String>) {
        let mut slots = self.slots.write();
        slots.entry(name.to_string()).or_default().error = Some(error.into());
    }

    /// Stop serving `name`. Tasks already running finish.
    pub fn remove(&self, name: &str) -> bool {
        self.slots.write().remove(name).is_some()
    }

    /// The current version of `name`, if it is serving.
    pub fn get(&self, name: &str) -> Option<LoadedAgent> {
        self.slots.read().get(name)?.current.clone()
    }

    /// Names of the agents that are serving.
    pub fn names(&self) -> Vec<String> {
        self.slots
            .read()
            .iter()
            .filter(|(_, s)| s.current.is_some())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Every known agent, serving or not, by name.
    pub fn statuses(&self) -> Vec<AgentStatus> {
        self.slots
            .read()
            .iter()
            .map(|(name, slot)| {
                let cur = slot.current.as_ref();
                AgentStatus {
                    name: name.clone(),
                    status: match (cur, &slot.error) {
                        (Some(_), None) => "ready",
                        (Some(_), Some(_)) => "degraded",
                        (None, _) => "broken",
                    },
                    description: cur.map(|c| c.info.description.clone()),
                    version: cur.map(|c| c.info.version.clone()),
                    loaded_at: cur.map(|c| c.loaded_at),
                    source: cur
                        .and_then(|c| c.source.as_ref())
                        .map(|p| p.display().to_string()),
                    error: slot.error.clone(),
                }
            })
            .collect()
    }
}
