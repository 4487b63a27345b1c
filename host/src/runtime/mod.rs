//! The WebAssembly runtime: `.wasm` components (world `agent` of
//! `wit/agent.wit`, target wasm32-wasip2) served as [`Agent`]s.
//!
//! # Pieces
//! - [`WasmRuntime`]: one per host. One wasmtime engine (pooling allocator
//!   when the address space allows, epoch interruption with a 10 ms ticker),
//!   one linker, one on-disk compile cache.
//! - [`WasmAgent`]: one loaded version of a component. Each turn of a task
//!   gets a fresh instance in a fresh store, so nothing leaks between tasks.
//! - [`AgentsFolder`]: loads every `NAME.wasm` of a folder into an
//!   [`AgentRegistry`](crate::registry::AgentRegistry) and hot-reloads it
//!   ([`AgentsFolder::watch`]).
//! - [`inspect()`]: what a component imports, exports and says on its card.
//!
//! ```no_run
//! # async fn start() -> Result<(), String> {
//! use a2a_host::registry::AgentRegistry;
//! use a2a_host::runtime::{AgentsFolder, RuntimeConfig, WasmRuntime};
//!
//! let runtime = WasmRuntime::new(RuntimeConfig::default())?;
//! let registry = AgentRegistry::new();
//! let folder = AgentsFolder::new(runtime, "agents", registry.clone());
//! let report = folder.sync().await?; // load everything before serving
//! let _watcher = folder.watch()?;    // keep it alive while serving
//! # Ok(()) }
//! ```
//!
//! # Sandbox
//! A guest gets nothing it is not given: no files (no preopened
//! directories), no environment variables, no arguments, no sockets and no
//! name lookups. Its stdout and stderr go to the host log (`tracing`, target
//! `a2a_host::agent`, tagged with agent and task), at most
//! [`RuntimeConfig::max_output_bytes`] per turn. Outbound HTTP (wasi-http)
//! is denied unless the policy allows the origin. Configuration comes only
//! from the policy file, never from the host's environment.
//!
//! A turn ends with the task failed, and a reason that names the cause,
//! when the agent traps (`agent trapped: …`, with its last stderr lines —
//! a Rust panic message), exceeds its memory limit (`agent exceeded its
//! 128 MiB memory limit`), runs out of time (`agent exceeded its 300 s time
//! limit`) or fuel, or keeps running longer than the cancel grace after its
//! task was canceled.
//!
//! # Policy: `NAME.toml`
//! Optional, next to `NAME.wasm`, written by the operator. Every key is
//! optional; unknown keys are errors that name the key. A broken policy
//! keeps the agent from loading (the last good version keeps serving).
//!
//! ```toml
//! [limits]
//! memory_mb = 128           # linear memory per instance, MiB; 1..=4096; default 128
//! timeout_secs = 300        # wall-clock time of one turn (one `handle` call); default 300
//! fuel = 0                  # instruction budget per turn; 0 or absent = unmetered.
//!                           # Needs RuntimeConfig::fuel_metering, else the agent fails to load
//! max_concurrent = 16       # turns of this agent running at once; 1..=10000; default 16
//! queue_timeout_secs = 30   # how long a turn waits for a free slot before it fails; default 30
//!
//! [network]
//! # Origins reachable over wasi-http: scheme://host[:port]. Host may be
//! # `*` or `*.example.com` (subdomains only); port may be `*`; without a
//! # port only the scheme's default port. Default: nothing.
//! allow = ["https://api.openai.com", "http://127.0.0.1:*"]
//!
//! [config]
//! # Values the agent reads with `task-context.config(key)`. Strings,
//! # numbers, booleans and dates (read as their text). Default: none.
//! model = "gpt-4o-mini"
//!
//! [card]
//! # Overrides of what the agent's card() says; each key is optional.
//! name = "Echo"
//! description = "Repeats what you say"
//! version = "1.2.0"
//! streaming = true
//! input_modes = ["text/plain"]
//! output_modes = ["text/plain"]
//! [[card.skills]]           # replaces the whole skill list
//! id = "echo"
//! name = "Echo"
//! description = "Echoes the input"   # default ""
//! tags = ["demo"]                    # tags, examples, input_modes, output_modes: default []
//! ```
//!
//! Host-wide defaults of the limits are [`RuntimeConfig::default_limits`].
//!
//! # Compile cache
//! Compiled components are cached in [`RuntimeConfig::cache_dir`]
//! (default `$XDG_CACHE_HOME/a2a-host`, else `~/.cache/a2a-host`) as
//! `<sha256 of the .wasm>-<engine hash>.cwasm`, written atomically. The
//! directory is created private (0700) and not used if other users can
//! write to it: only files this host wrote are ever loaded.
//!
//! # Known gaps
//! The network allowlist matches host names, not resolved addresses:
//! private-range (SSRF) checks and DNS pinning are still to come.

mod bindings;
mod component;
mod engine;
pub mod http;
mod inspect;
mod output;
pub mod policy;
mod wasm_agent;
mod watcher;

#[cfg(doc)]
use crate::agent::Agent;

pub use component::{Compiled, LoadError, MAX_COMPONENT_BYTES, WasmRuntime, is_valid_agent_name};
pub use engine::{POOLING_ENV, RuntimeConfig};
pub use http::{Allowlist, HttpTimeouts};
pub use inspect::{InspectReport, inspect};
pub use policy::{AgentPolicy, CardOverrides, Limits};
pub use wasm_agent::{MAX_CARD_BYTES, MAX_CARD_SKILLS, WasmAgent};
pub use watcher::{AgentsFolder, FolderWatcher, SyncReport};
