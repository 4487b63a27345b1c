//! [`Host`]: the whole a2a-host — store, bus, task manager, agents, HTTP
//! surface — built in one place and started and stopped in one order.
//!
//! The `a2a-host serve` binary, `examples/embed` and the integration tests
//! all go through it, so the start-up and shutdown sequences below exist
//! once:
//!
//! - **start** ([`HostBuilder::build`]): open the store → start retention →
//!   connect the bus → create the task manager (with the hooks) → fail the
//!   tasks a previous process left running → load the agents folder and
//!   watch it → claim queued work from the bus.
//! - **stop** ([`Host::shutdown`], or when [`Host::serve`]'s signal fires):
//!   readiness off (`/readyz` answers 503) → drain the running turns → end
//!   the open SSE streams → (after the server stops) stop the folder watcher
//!   and the retention job.
//!
//! ```
//! use a2a_host::Host;
//! use a2a_host::agent::{Agent, AgentError, AgentInfo, TaskContext};
//! use a2a_host::model::Part;
//! use axum::{Router, routing::get};
//!
//! struct Hello;
//!
//! #[async_trait::async_trait]
//! impl Agent for Hello {
//!     fn info(&self) -> AgentInfo {
//!         AgentInfo::new("hello", "Says hello")
//!     }
//!     async fn handle(&self, ctx: TaskContext) -> Result<(), AgentError> {
//!         ctx.complete(Some(vec![Part::text("hello")])).await?;
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let host = Host::builder()
//!     .store("memory")
//!     .agent("hello", Hello)
//!     .build()
//!     .await?;
//! let app = Router::new()
//!     .route("/", get(|| async { "my service" }))
//!     .nest("/a2a", host.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! // In a real service: `async { let _ = tokio::signal::ctrl_c().await; }`.
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn({
//!     let host = host.clone();
//!     async move {
//!         host.serve_app(listener, app, async {
//!             let _ = stopped.await;
//!         })
//!         .await
//!     }
//! });
//! assert_eq!(host.registry().names(), ["hello"]);
//! stop.send(()).ok();
//! server.await??; // drained and stopped
//! assert!(!host.handle().is_ready());
//! # Ok(())
//! # }
//! ```

mod builder;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio_util::task::AbortOnDropHandle;

use crate::manager::TaskManager;
use crate::registry::AgentRegistry;
use crate::server::{self, ServerConfig, ServerHandle};
use crate::store::Store;

pub use builder::{BusSource, HostBuilder, HostError, StoreSource};

/// A layer added with [`HostBuilder::layer`], kept as the function that
/// applies it.
type ApplyLayer = Arc<dyn Fn(Router) -> Router + Send + Sync>;

/// A built host. Cheap to clone; all clones share one host.
#[derive(Clone)]
pub struct Host {
    inner: Arc<Inner>,
}

struct Inner {
    manager: TaskManager,
    server: ServerConfig,
    layers: Vec<ApplyLayer>,
    drain: Duration,
    background: parking_lot::Mutex<Background>,
    /// The public keys that verify signed push notifications, served at
    /// `/.well-known/jwks.json`.
    jwks: Option<serde_json::Value>,
}

/// What runs beside the server until shutdown.
#[derive(Default)]
struct Background {
    /// Aborted when dropped: by shutdown, by a failed build, or with the
    /// last clone of the host.
    retention: Option<AbortOnDropHandle<()>>,
    #[cfg(feature = "wasm")]
    watcher: Option<crate::runtime::FolderWatcher>,
    /// The deliverer of push notifications.
    #[cfg(feature = "push")]
    push: Option<crate::push::PushService>,
}

impl Host {
    /// Starts building a host. See [`HostBuilder`] for every setting.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// The A2A routes (`/agents/NAME/…`, cards, `/healthz`, `/readyz`, the
    /// default agent at the root), with the builder's layers, ready to
    /// `.nest` or `.merge` into another router or to serve as is. Card URLs
    /// follow wherever it is mounted.
    pub fn router(&self) -> Router {
        let layers = self.inner.layers.clone();
        let router =
            server::router_with(self.inner.manager.clone(), self.inner.server.clone(), |r| {
                layers.iter().fold(r, |r, apply| apply(r))
            });
        match &self.inner.jwks {
            Some(jwks) => {
                let jwks = jwks.clone();
                router.route(
                    crate::model::notification::JWKS_PATH,
                    axum::routing::get(move || async move {
                        (
                            [(http::header::CACHE_CONTROL, "max-age=300")],
                            axum::Json(jwks),
                        )
                    }),
                )
            }
            None => router,
        }
    }

    /// Serves [`Host::router`] on `listener` until `shutdown` resolves, then
    /// drains (see the module docs) and returns.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_app(listener, self.router(), shutdown).await
    }

    /// Serves `app` — an embedder's router that holds [`Host::router`]
    /// somewhere — on `listener` until `shutdown` resolves, then drains the
    /// host and returns once the connections have closed.
    pub async fn serve_app(
        &self,
        listener: tokio::net::TcpListener,
        app: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let host = self.clone();
        let drain = self.inner.drain;
        let result = server::serve(listener, app, async move {
            shutdown.await;
            host.stop_serving(drain).await;
        })
        .await;
        self.stop_background().await;
        result
    }

    /// Stops the host for an embedder that runs the server itself: readiness
    /// off, running turns get up to `grace` to finish, open streams end, and
    /// the background jobs stop. Call it from the server's graceful-shutdown
    /// future; calling it twice is harmless.
    pub async fn shutdown(&self, grace: Duration) {
        self.stop_serving(grace).await;
        self.stop_background().await;
    }

    /// The task manager: run tasks without HTTP, or read them.
    pub fn manager(&self) -> &TaskManager {
        &self.inner.manager
    }

    /// The agents served, by name. Native agents can be added or replaced
    /// here at any time.
    pub fn registry(&self) -> &AgentRegistry {
        self.inner.manager.registry()
    }

    /// The store the tasks live in.
    pub fn store(&self) -> &Arc<dyn Store> {
        self.inner.manager.store()
    }

    /// Readiness and stream control of the HTTP surface.
    pub fn handle(&self) -> &ServerHandle {
        &self.inner.server.handle
    }

    /// The drain time [`Host::serve`] gives running turns.
    pub fn drain_timeout(&self) -> Duration {
        self.inner.drain
    }

    async fn stop_serving(&self, grace: Duration) {
        let handle = &self.inner.server.handle;
        if handle.streams_closed() {
            return;
        }
        tracing::info!("shutting down: draining running tasks");
        handle.set_ready(false);
        self.inner.manager.drain(grace).await;
        handle.close_streams();
    }

    async fn stop_background(&self) {
        let background = std::mem::take(&mut *self.inner.background.lock());
        drop(background.retention);
        #[cfg(feature = "wasm")]
        if let Some(watcher) = background.watcher {
            watcher.stop().await;
        }
        #[cfg(feature = "push")]
        if let Some(push) = background.push {
            push.stop().await;
        }
    }
}

#[cfg(test)]
mod tests;
