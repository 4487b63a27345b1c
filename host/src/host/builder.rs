//! [`HostBuilder`]: every setting of a host, and the start-up sequence.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::Route;
use tokio_util::task::AbortOnDropHandle;
use tower::{Layer, Service};

use super::{ApplyLayer, Background, Host, Inner};
use crate::agent::Agent;
use crate::bus::{Bus, LocalBus};
use crate::config::{HostConfig, StoreSpec};
use crate::hooks::Hooks;
use crate::manager::{ManagerConfig, TaskManager};
use crate::registry::{AgentRegistry, LoadedAgent};
use crate::server::ServerConfig;
use crate::store::{Retention, Store};

/// Why a host could not be built. The message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The store could not be opened, or its spec is not valid.
    #[error("store: {0}")]
    Store(String),
    /// The shared bus could not be reached, or its URL is not valid.
    #[error("bus: {0}")]
    Bus(String),
    /// The agents folder or the WebAssembly runtime could not be set up.
    #[error("agents: {0}")]
    Agents(String),
    /// Settings that do not fit together.
    #[error("{0}")]
    Config(String),
}

/// Where the host keeps its tasks: a spec such as `"memory"`,
/// `"sqlite:./a2a-host.db"` or `"postgres://…"`, or a store you built.
pub enum StoreSource {
    /// Opened by [`crate::store::open`] when the host is built.
    Spec(StoreSpec),
    /// Used as is.
    Value(Arc<dyn Store>),
    /// A spec that did not parse; reported by [`HostBuilder::build`].
    Invalid(String),
}

impl From<&str> for StoreSource {
    fn from(spec: &str) -> Self {
        spec.parse()
            .map_or_else(StoreSource::Invalid, StoreSource::Spec)
    }
}

impl From<String> for StoreSource {
    fn from(spec: String) -> Self {
        spec.as_str().into()
    }
}

impl From<StoreSpec> for StoreSource {
    fn from(spec: StoreSpec) -> Self {
        StoreSource::Spec(spec)
    }
}

impl From<Arc<dyn Store>> for StoreSource {
    fn from(store: Arc<dyn Store>) -> Self {
        StoreSource::Value(store)
    }
}

impl<S: Store + 'static> From<S> for StoreSource {
    fn from(store: S) -> Self {
        StoreSource::Value(Arc::new(store))
    }
}

/// How several host processes share work: a Redis URL
/// (`redis://HOST[:PORT][/DB][?prefix=NAME]`, feature `redis`) or a bus you
/// built.
pub enum BusSource {
    /// Connected when the host is built.
    Url(String),
    /// Used as is.
    Value(Arc<dyn Bus>),
}

impl From<&str> for BusSource {
    fn from(url: &str) -> Self {
        BusSource::Url(url.to_string())
    }
}

impl From<String> for BusSource {
    fn from(url: String) -> Self {
        BusSource::Url(url)
    }
}

impl From<Arc<dyn Bus>> for BusSource {
    fn from(bus: Arc<dyn Bus>) -> Self {
        BusSource::Value(bus)
    }
}

/// Every setting of a [`Host`]. Start from [`Host::builder`]; each setting
/// has the same default as `a2a-host serve`, except the store, which is
/// `memory` here (an embedder chooses where its data goes).
pub struct HostBuilder {
    store: StoreSource,
    bus: Option<BusSource>,
    reclaim_idle: Duration,
    max_attempts: u32,
    agents: Vec<(String, Arc<dyn Agent>)>,
    #[cfg(feature = "wasm")]
    agents_dir: Option<std::path::PathBuf>,
    #[cfg(feature = "wasm")]
    runtime: crate::runtime::RuntimeConfig,
    #[cfg(feature = "wasm")]
    wasm_runtime: Option<crate::runtime::WasmRuntime>,
    manager: ManagerConfig,
    server: ServerConfig,
    retention: Retention,
    retention_interval: Duration,
    drain: Duration,
    recover: bool,
    layers: Vec<ApplyLayer>,
    hooks: Vec<Arc<dyn Hooks>>,
    push: crate::push::PushSettings,
}

impl Default for HostBuilder {
    fn default() -> Self {
        HostBuilder {
            store: StoreSource::Spec(StoreSpec::Memory),
            bus: None,
            reclaim_idle: Duration::from_secs(30),
            max_attempts: 3,
            agents: Vec::new(),
            #[cfg(feature = "wasm")]
            agents_dir: None,
            #[cfg(feature = "wasm")]
            runtime: crate::runtime::RuntimeConfig::default(),
            #[cfg(feature = "wasm")]
            wasm_runtime: None,
            manager: ManagerConfig::default(),
            server: ServerConfig::default(),
            retention: Retention::default(),
            retention_interval: Duration::from_secs(3600),
            drain: Duration::from_secs(30),
            recover: true,
            layers: Vec::new(),
            hooks: Vec::new(),
            push: crate::push::PushSettings::default(),
        }
    }
}

impl HostBuilder {
    /// Every setting `a2a-host serve` resolved from its flags, environment
    /// and `a2a-host.toml` (all but the listen address, which belongs to
    /// whoever binds the listener).
    pub fn config(mut self, config: &HostConfig) -> Self {
        self.store = StoreSource::Spec(config.store.clone());
        self.bus = config.bus.clone().map(BusSource::Url);
        self.reclaim_idle = config.reclaim_idle;
        self.max_attempts = config.max_attempts;
        #[cfg(feature = "wasm")]
        {
            self.agents_dir = Some(config.agents.clone());
            self.runtime.cache_dir = config.cache_dir.clone();
            self.runtime.max_concurrent_total = config.max_concurrent;
            self.runtime.cancel_grace = config.cancel_grace;
        }
        self.manager.blocking_timeout = config.blocking_timeout;
        self.manager.cancel_grace = config.cancel_grace;
        self.manager.workers = config.workers;
        self.server.public_url = config.public_url.clone();
        self.server.default_agent = config.default_agent.clone();
        self.server.max_body_bytes = config.max_body_bytes;
        self.server.card_v03_members = config.card_v03;
        self.retention = config.retention;
        self.retention_interval = config.retention_interval;
        self.drain = config.drain;
        self.push = config.push.clone();
        self
    }

    /// Where tasks are kept: `"memory"` (the default here),
    /// `"sqlite:PATH"`, `"postgres://…"`, or a [`Store`] value.
    pub fn store(mut self, store: impl Into<StoreSource>) -> Self {
        self.store = store.into();
        self
    }

    /// Share work and events with other processes on the same store:
    /// `"redis://…"` or a [`Bus`] value. Needs a store they all reach
    /// (PostgreSQL).
    pub fn bus(mut self, bus: impl Into<BusSource>) -> Self {
        self.bus = Some(bus.into());
        self
    }

    /// With a Redis bus: how long a job may go without a heartbeat before
    /// another process takes it over. Default 30 s.
    pub fn reclaim_idle(mut self, idle: Duration) -> Self {
        self.reclaim_idle = idle;
        self
    }

    /// With a Redis bus: runs of a job before its task is failed. Default 3.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// With a shared bus: turns this process runs at once (0: none, it only
    /// takes requests). Default 64.
    pub fn workers(mut self, workers: usize) -> Self {
        self.manager.workers = workers;
        self
    }

    /// Serves a native agent as `name`.
    pub fn agent(self, name: &str, agent: impl Agent + 'static) -> Self {
        self.shared_agent(name, Arc::new(agent))
    }

    /// Serves an agent you already hold in an `Arc` as `name`.
    pub fn shared_agent(mut self, name: &str, agent: Arc<dyn Agent>) -> Self {
        self.agents.push((name.to_string(), agent));
        self
    }

    /// Serves every `NAME.wasm` in `dir` (with its optional `NAME.toml`),
    /// reloading on changes. The folder must exist.
    #[cfg(feature = "wasm")]
    pub fn agents_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.agents_dir = Some(dir.into());
        self
    }

    /// The WebAssembly runtime's settings (compile cache, pooling, limits,
    /// timeouts). [`HostBuilder::cancel_grace`] also sets its grace.
    #[cfg(feature = "wasm")]
    pub fn runtime_config(mut self, config: crate::runtime::RuntimeConfig) -> Self {
        self.runtime = config;
        self
    }

    /// Runs the agents folder on a runtime you built (and may share with
    /// other hosts: one engine, one compile cache). The runtime settings of
    /// this builder are then not used.
    #[cfg(feature = "wasm")]
    pub fn wasm_runtime(mut self, runtime: crate::runtime::WasmRuntime) -> Self {
        self.wasm_runtime = Some(runtime);
        self
    }

    /// Where compiled components are cached (default:
    /// `$XDG_CACHE_HOME/a2a-host`).
    #[cfg(feature = "wasm")]
    pub fn cache_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.runtime.cache_dir = Some(dir.into());
        self
    }

    /// WebAssembly turns running at once, all agents together. Default 64.
    #[cfg(feature = "wasm")]
    pub fn max_concurrent(mut self, turns: u32) -> Self {
        self.runtime.max_concurrent_total = turns.max(1);
        self
    }

    /// The task manager's settings, all at once.
    pub fn manager_config(mut self, config: ManagerConfig) -> Self {
        self.manager = config;
        self
    }

    /// How long a blocking SendMessage waits before returning the task as
    /// it is. Default 60 s.
    pub fn blocking_timeout(mut self, timeout: Duration) -> Self {
        self.manager.blocking_timeout = timeout;
        self
    }

    /// How long a canceled agent may keep running before it is stopped.
    /// Default 2 s.
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.manager.cancel_grace = grace;
        #[cfg(feature = "wasm")]
        {
            self.runtime.cancel_grace = grace;
        }
        self
    }

    /// The HTTP surface's settings, all at once.
    pub fn server_config(mut self, config: ServerConfig) -> Self {
        self.server = config;
        self
    }

    /// The externally visible URL of the host's routes, mount prefix
    /// included (e.g. `https://example.com/a2a`), for the cards. Default:
    /// derived per request.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.server.public_url = Some(url.into().trim_end_matches('/').to_string());
        self
    }

    /// The agent served at the root routes. Default: the only agent, if
    /// there is one.
    pub fn default_agent(mut self, name: impl Into<String>) -> Self {
        self.server.default_agent = Some(name.into());
        self
    }

    /// The largest request body accepted (HTTP 413 above). Default 10 MiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.server.max_body_bytes = bytes;
        self
    }

    /// What expires, and how often the retention job looks. Default: keep
    /// everything.
    pub fn retention(mut self, policy: Retention, every: Duration) -> Self {
        self.retention = policy;
        self.retention_interval = every.max(Duration::from_secs(1));
        self
    }

    /// How long shutdown waits for running turns. Default 30 s.
    pub fn drain(mut self, timeout: Duration) -> Self {
        self.drain = timeout;
        self
    }

    /// Whether tasks that a previous process left `submitted` or `working`
    /// are failed at start-up (default `true`; never with a shared bus,
    /// where another process takes such work over).
    pub fn recover(mut self, recover: bool) -> Self {
        self.recover = recover;
        self
    }

    /// Applies a tower layer to the A2A routes — every agent route and card,
    /// not `/healthz` and `/readyz`. Layers apply in the order added, so the
    /// last one added sees a request first.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<std::convert::Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.layers
            .push(Arc::new(move |r: Router| r.layer(layer.clone())));
        self
    }

    /// How push notifications are accepted and delivered (on by default
    /// with the `push` feature; `enabled: false` turns them off). See
    /// [`crate::push`].
    pub fn push(mut self, settings: crate::push::PushSettings) -> Self {
        self.push = settings;
        self
    }

    /// Calls `hooks` on every task state transition and artifact; see
    /// [`crate::hooks`]. Several can be added.
    pub fn hooks(mut self, hooks: impl Hooks) -> Self {
        self.hooks.push(Arc::new(hooks));
        self
    }

    /// Opens and starts everything, in the order the [module
    /// docs](super) give. Must be called inside a tokio runtime.
    pub async fn build(self) -> Result<Host, HostError> {
        #[cfg(feature = "wasm")]
        if let Some(dir) = &self.agents_dir
            && !dir.is_dir()
        {
            return Err(HostError::Agents(format!(
                "the agents folder {} does not exist (create it, or pass --agents DIR)",
                dir.display()
            )));
        }
        let store = match self.store {
            StoreSource::Spec(spec) => crate::store::open(&spec).await.map_err(HostError::Store)?,
            StoreSource::Value(store) => store,
            StoreSource::Invalid(why) => return Err(HostError::Store(why)),
        };
        tracing::info!(store = %store.describe(), "store open");
        // Aborted if a later step fails.
        let retention = (!self.retention.keeps_everything()).then(|| {
            AbortOnDropHandle::new(crate::store::retention::spawn_retention(
                store.clone(),
                self.retention,
                self.retention_interval,
            ))
        });

        let registry = AgentRegistry::new();
        for (name, agent) in self.agents {
            registry.insert(&name, LoadedAgent::new(agent, None));
        }
        let bus = open_bus(self.bus, self.reclaim_idle, self.max_attempts).await?;
        if bus.is_shared() {
            tracing::info!(bus = %bus.describe(), workers = self.manager.workers, "bus ready");
        }
        let manager = TaskManager::with_bus(store.clone(), registry.clone(), self.manager, bus);
        manager.set_hooks(self.hooks);
        #[cfg(feature = "push")]
        let push = if self.push.enabled {
            let service =
                crate::push::PushService::start(store, self.push).map_err(HostError::Config)?;
            manager.set_push(service.policy().clone());
            Some(service)
        } else {
            None
        };
        if self.recover {
            manager
                .recover()
                .await
                .map_err(|e| HostError::Store(e.to_string()))?;
        }

        let background = Background {
            #[cfg(feature = "wasm")]
            watcher: match self.agents_dir {
                None => None,
                Some(dir) => {
                    Some(load_folder(self.wasm_runtime, self.runtime, dir, registry).await?)
                }
            },
            retention,
            #[cfg(feature = "push")]
            push,
        };
        #[cfg(feature = "push")]
        let jwks = background.push.as_ref().and_then(|p| p.jwks());
        #[cfg(not(feature = "push"))]
        let jwks = None;
        // Claim queued work only once the agents are loaded.
        manager.start_bus();

        Ok(Host {
            inner: Arc::new(Inner {
                manager,
                server: self.server,
                layers: self.layers,
                drain: self.drain,
                background: parking_lot::Mutex::new(background),
                jwks,
            }),
        })
    }
}

async fn open_bus(
    source: Option<BusSource>,
    reclaim_idle: Duration,
    max_attempts: u32,
) -> Result<Arc<dyn Bus>, HostError> {
    match source {
        None => Ok(Arc::new(LocalBus)),
        Some(BusSource::Value(bus)) => Ok(bus),
        Some(BusSource::Url(url)) => connect_bus(url, reclaim_idle, max_attempts).await,
    }
}

#[cfg(feature = "redis")]
async fn connect_bus(
    url: String,
    reclaim_idle: Duration,
    max_attempts: u32,
) -> Result<Arc<dyn Bus>, HostError> {
    use crate::bus::redis::{RedisBus, RedisBusConfig};
    let bus = RedisBus::connect(RedisBusConfig {
        reclaim_idle,
        max_attempts,
        ..RedisBusConfig::new(url)
    })
    .await
    .map_err(|e| HostError::Bus(e.to_string()))?;
    Ok(bus)
}

#[cfg(not(feature = "redis"))]
async fn connect_bus(url: String, _: Duration, _: u32) -> Result<Arc<dyn Bus>, HostError> {
    Err(HostError::Bus(format!(
        "`{url}` needs the Redis bus, and this a2a-host was built without the `redis` feature"
    )))
}

/// Loads every agent of `dir` into `registry`, then watches it.
#[cfg(feature = "wasm")]
async fn load_folder(
    runtime: Option<crate::runtime::WasmRuntime>,
    config: crate::runtime::RuntimeConfig,
    dir: std::path::PathBuf,
    registry: AgentRegistry,
) -> Result<crate::runtime::FolderWatcher, HostError> {
    use crate::runtime::{AgentsFolder, WasmRuntime};
    let runtime = match runtime {
        Some(runtime) => runtime,
        None => WasmRuntime::new(config).map_err(HostError::Agents)?,
    };
    let folder = AgentsFolder::new(runtime, dir, registry);
    let report = folder.sync().await.map_err(HostError::Agents)?;
    for (name, error) in &report.failed {
        tracing::warn!(agent = %name, %error, "agent failed to load");
    }
    for (path, why) in &report.ignored {
        tracing::warn!(file = %path.display(), %why, "file ignored");
    }
    folder.watch().map_err(HostError::Agents)
}
