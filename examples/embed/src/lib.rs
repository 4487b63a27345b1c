//! An existing axum service that also serves A2A agents.
//!
//! The service keeps its own routes (`/`, `/api/status`) and nests the
//! a2a-host routes under `/a2a`: a native Rust agent (`word-count`) and
//! every WebAssembly agent of a folder, hot-reloaded. Agent `NAME` is then
//! at `/a2a/agents/NAME`, its card at
//! `/a2a/agents/NAME/.well-known/agent-card.json`. A tower layer tags every
//! A2A response, the way an embedder adds its own auth or headers.

use std::path::Path;

use a2a_host::agent::{Agent, AgentError, AgentInfo, TaskContext};
use a2a_host::host::{Host, HostError};
use a2a_host::model::Part;
use axum::Router;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::get;

/// The service: its own routes, and the A2A host under `/a2a`.
pub async fn app(agents: &Path) -> Result<(Router, Host), HostError> {
    let host = Host::builder()
        .store("memory")
        .agent("word-count", WordCount)
        .agents_dir(agents)
        .layer(axum::middleware::map_response(tag))
        .build()
        .await?;
    let app = Router::new()
        .route("/", get(|| async { "my service, with agents under /a2a" }))
        .route("/api/status", get(|| async { "ok" }))
        .nest("/a2a", host.router());
    Ok((app, host))
}

/// The layer's work: one header on every A2A response.
async fn tag(mut response: Response) -> Response {
    let value = HeaderValue::from_static("embed-example");
    response.headers_mut().insert("x-served-by", value);
    response
}

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
