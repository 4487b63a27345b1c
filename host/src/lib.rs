//! # a2a-host
//!
//! Serve [A2A](https://a2a-protocol.org) agents written as sandboxed
//! WebAssembly components — or as native Rust — over JSON-RPC 2.0, HTTP+JSON
//! and SSE, with durable task storage.
//!
//! ## Layout
//! - [`model`]: the A2A 1.0 data model (ProtoJSON).
//! - [`error`]: protocol errors and their wire forms.
//! - [`compat`]: another name for [`server::v03`], the A2A 0.3 wire shapes
//!   the HTTP bindings convert at their edge.
//! - [`agent`]: the [`agent::Agent`] trait every agent implements, and the
//!   [`agent::TaskContext`] it acts through.
//! - [`manager`]: the task manager — lifecycle, event logs, streaming,
//!   cancellation, multi-turn; the one place task state changes.
//! - [`bus`]: how several host processes share work and events (Redis).
//! - [`store`]: storage behind the [`store::Store`] trait (memory, SQLite).
//! - [`registry`]: the agents served, by name, hot-swappable.
//! - [`server`]: the HTTP surface — bindings, cards, routing.
//! - [`net`]: outbound addresses — which are public (the IANA
//!   special-purpose registries), checked resolution, `host[:port]`.
//! - [`runtime`]: the wasmtime runtime that turns `.wasm` components into
//!   agents, and the agents-folder watcher.
//! - [`client`]: the A2A client (discovery, retries, resumable streams) behind `a2a-host call`.
//! - [`config`]: settings from flags, environment and `a2a-host.toml`.
//! - [`scaffold`]: `a2a-host new`, a new agent project.
//!
//! ## Embedding
//! [`server::router`] returns an `axum::Router` that another service can
//! nest into its own app; see `examples/embed`.

pub mod agent;
pub mod bus;
#[cfg(feature = "client")]
pub mod client;
pub use server::v03 as compat;
pub mod config;
pub mod error;
pub mod hooks;
pub mod host;
mod log_throttle;
pub mod manager;
pub mod model;
pub mod net;
pub mod registry;
#[cfg(feature = "wasm")]
pub mod runtime;
#[cfg(feature = "cli")]
pub mod scaffold;
pub mod server;
pub mod store;

pub use host::{Host, HostBuilder};
