//! # a2a-host
//!
//! Serve [A2A](https://a2a-protocol.org) agents written as sandboxed
//! WebAssembly components — or as native Rust — over JSON-RPC 2.0, HTTP+JSON
//! and SSE, with durable task storage.
//!
//! ## Embedding
//! [`Host::builder`] builds the whole host — store, bus, agents, task
//! manager — and [`Host::router`] gives the `axum::Router` to nest in your
//! own app; [`Host::serve_app`] runs it and drains on shutdown. See
//! [`host`] and `examples/embed`.
//!
//! ## Layout
//! - [`host`]: [`Host`] and [`HostBuilder`], the start-up and shutdown order.
//! - [`hooks`]: callbacks on every task state transition and artifact.
//! - [`model`]: the A2A 1.0 data model (ProtoJSON).
//! - [`error`]: protocol errors and their wire forms.
//! - [`agent`]: the [`agent::Agent`] trait every agent implements, and the
//!   [`agent::TaskContext`] it acts through.
//! - [`manager`]: the task manager — lifecycle, event logs, streaming,
//!   cancellation, multi-turn; the one place task state changes.
//! - [`bus`]: how several host processes share work and events (Redis,
//!   feature `redis`).
//! - [`store`]: storage behind the [`store::Store`] trait (memory; SQLite
//!   and PostgreSQL with features `sqlite` and `postgres`).
//! - [`registry`]: the agents served, by name, hot-swappable.
//! - [`server`]: the HTTP surface — bindings, cards, routing, and
//!   `server::v03`, where A2A 0.3 is converted at the edge (also reachable
//!   as `compat`).
//! - `push` (feature `push`): push notifications to webhooks, and their
//!   signatures.
//! - [`net`]: outbound addresses — which are public (the IANA
//!   special-purpose registries), checked resolution, `host[:port]`.
//! - `runtime` (feature `wasm`): the wasmtime runtime that turns `.wasm`
//!   components into agents, and the agents-folder watcher.
//! - `client` (feature `client`): the A2A client (discovery, retries,
//!   resumable streams) behind `a2a-host call`.
//! - [`config`]: settings from flags, environment and `a2a-host.toml`.
//! - `scaffold` (feature `cli`): `a2a-host new`, a new agent project.
//!
//! ## Cargo features
//! `default = ["wasm", "sqlite", "cli", "client", "push"]`; `full` adds
//! `postgres` and `redis`; `store-conformance` exposes the suite a `Store`
//! must pass. Without default features the crate compiles none of
//! wasmtime, SQLite, PostgreSQL, Redis, reqwest, ring or clap.

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
pub mod push;
pub mod registry;
#[cfg(feature = "wasm")]
pub mod runtime;
#[cfg(feature = "cli")]
pub mod scaffold;
pub mod server;
pub mod store;

pub use host::{Host, HostBuilder};
