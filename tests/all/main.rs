//! The host's integration tests, in one test binary: one link of the host
//! (and wasmtime) instead of one per file. Each module is one area of the
//! host; `support` holds what they share.
//!
//! Filter by module as usual: `cargo test -p a2a-host --test all hostile::`.

mod support;

mod cli;
mod client;
mod cluster;
mod compat;
mod examples;
mod fuzz;
mod hostile;
mod interop;
mod lifecycle;
mod protocol;
mod push;
mod runtime;
