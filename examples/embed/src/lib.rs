//! An existing axum service that also serves A2A agents.
//!
//! The service has its own routes (`/`, `/api/status`). It builds an
//! a2a-host [`TaskManager`] over a store and a registry, registers a native
//! Rust agent — and, if a folder is given, every WebAssembly agent in it —
//! and nests the host's router under `/a2a`. Agent `NAME` is then at
//! `/a2a/agents/NAME`, its card at `/a2a/agents/NAME/.well-known/agent-card.json`.

use std::sync::Arc;

use a2a_host::agent::{Agent, AgentError, AgentInfo, TaskContext};
use a2a_host::manager::{ManagerConfig, TaskManager};
use a2a_host::model::Part;
use a2a_host::registry::{AgentRegistry, LoadedAgent};
use a2a_host::server::{self, ServerConfig};
use a2a_host::store::memory::MemoryStore;
use axum::Router;
use axum::routing::get;

/// A native agent: counts the words of the message.
pub struct WordCount;

#[async_trait::async_trait]
impl Agent for WordCount {
    fn info(&self) -> AgentInfo {
        AgentInfo::new("word-count", "Counts the words you send")
    }

    async fn handle(&self, ctx: TaskContext) -> Result<(), AgentError> {
        let n = ctx.text().split_whitespace().count();
        ctx.complete(Some(vec![Part::text(format!("{n} words"))]))
            .await?;
        Ok(())
    }
}

/// The whole application: the service's own routes plus the A2A host
/// under `/a2a`.
pub fn app() -> (Router, TaskManager) {
    let registry = AgentRegistry::new();
    registry.insert("word-count", LoadedAgent::new(Arc::new(WordCount), None));
    let manager = TaskManager::new(
        Arc::new(MemoryStore::new()),
        registry,
        ManagerConfig::default(),
    );
    let a2a = server::router(manager.clone(), ServerConfig::default());
    let app = Router::new()
        .route("/", get(|| async { "my service, with agents under /a2a" }))
        .route("/api/status", get(|| async { "ok" }))
        .nest("/a2a", a2a);
    (app, manager)
}
