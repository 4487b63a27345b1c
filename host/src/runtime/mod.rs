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
//! directories), no environment variables, no arguments, no sockets (TCP and
//! UDP off, every address refused) and no name lookups. Its stdout and
//! stderr go to the host log (`tracing`, target `a2a_host::agent`, tagged
//! with agent and task), at most [`RuntimeConfig::max_output_bytes`] per
//! turn. Outbound HTTP (wasi-http) is denied unless the policy allows the
//! origin, and then only to public addresses unless the entry names the
//! address itself (see [`http`]). Configuration comes only from the policy
//! file, never from the host's environment. Clocks and random numbers are
//! available.
//!
//! A turn ends with the task failed, and a reason that names the agent and
//! the cause (and the `NAME.toml` key of the limit), when the agent traps
//! (``agent `x` trapped: …``, with its last stderr lines — a Rust panic
//! message), exceeds its memory limit (``agent `x` exceeded its 128 MiB
//! memory limit (limits.memory_mb)``), runs out of time or fuel, emits more
//! than its events or bytes allow, or keeps running longer than the cancel
//! grace after its task was canceled. The same reason goes to the log
//! (`warn`), tagged with agent and task.
//!
//! # Limits
//! Host-wide defaults are [`RuntimeConfig::default_limits`] ([`Limits`]);
//! each agent's `NAME.toml` may change them (keys below).
//!
//! | limit | default | `NAME.toml` key | when hit |
//! |---|---|---|---|
//! | linear memory per instance | 128 MiB | `limits.memory_mb` (1..=4096) | growth traps; task failed |
//! | wall-clock time per turn (`handle` call) | 300 s | `limits.timeout_secs` | guest stopped; task failed |
//! | fuel per turn | off | `limits.fuel` (needs `RuntimeConfig::fuel_metering`) | guest trapped; task failed |
//! | turns of the agent at once | 16 | `limits.max_concurrent` (1..=10000) | turn waits |
//! | turns of all agents at once | 64 | `RuntimeConfig::max_concurrent_total` (host-wide only) | turn waits |
//! | waiting turns of the agent | 64 | `limits.max_queued` (0..=100000) | task failed at once ("busy") |
//! | wait for a slot | 30 s | `limits.queue_timeout_secs` | task failed ("busy") |
//! | artifact content per task (earlier turns count) | 16 MiB | `limits.artifact_mb` (1..=4096) | action refused (`limit-exceeded`); task failed |
//! | events (status updates, artifact chunks) per task (earlier turns count) | 10000 | `limits.max_events` | action refused; task failed |
//! | events per second (burst of one second's worth) | 1000 | `limits.events_per_second` | action refused; task failed |
//! | card text (all strings) | 64 KiB | `limits.card_kb` (1..=16384) | agent not loaded |
//! | card skills | 256 | (fixed, [`MAX_CARD_SKILLS`]) | agent not loaded |
//! | `card()` time | 5 s | `RuntimeConfig::card_timeout` (host-wide only) | agent not loaded |
//! | guest output to the log per turn | 1 MiB | `RuntimeConfig::max_output_bytes` (host-wide only) | rest dropped |
//! | cancel grace | 2 s | `RuntimeConfig::cancel_grace` (host-wide only) | guest stopped |
//! | `.wasm` size | 256 MiB | (fixed, [`MAX_COMPONENT_BYTES`]) | agent not loaded |
//! | outbound HTTP connect / first byte / between bytes | 10 s / 60 s / 60 s | `RuntimeConfig::http_timeouts` (host-wide only) | request fails |
//!
//! The emit limits count per task (over all its turns) and the rate per
//! turn. When an action goes over one, the host refuses it with
//! `action-error.limit-exceeded`, fails the task with the reason, and traps
//! the guest on its next action. One action's arguments are bounded by the
//! agent's memory limit (they are copied out of its memory).
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
//! max_queued = 64           # turns that may wait for a slot; more fail at once; default 64
//! artifact_mb = 16          # artifact and status content one task may emit, MiB; default 16
//! max_events = 10000        # status updates and artifact chunks per task; default 10000
//! events_per_second = 1000  # their rate (bursts of one second's worth); default 1000
//! card_kb = 64              # text the card may hold, KiB; 1..=16384; default 64
//!
//! [network]
//! # Origins reachable over wasi-http: scheme://host[:port]. Host may be
//! # `*` or `*.example.com` (subdomains only); port may be `*`; without a
//! # port only the scheme's default port. Default: nothing. Loopback,
//! # private, link-local (cloud metadata), CGNAT and other non-public
//! # addresses are refused unless the entry names the IP itself (or
//! # `localhost`), as the second entry does.
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

mod bindings;
mod budget;
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
