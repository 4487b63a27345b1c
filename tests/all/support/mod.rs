//! What the test modules share, one concept a file: the native test agent,
//! the in-process server, HTTP and SSE, the `a2a-host` binary as a child
//! process, the WebAssembly guests, a webhook receiver, and running a test alone in a process
//! of its own.

pub mod agents;
pub mod guests;
pub mod http;
pub mod isolate;
pub mod process;
pub mod server;
pub mod sse;
pub mod tasks;
pub mod webhook;

use std::time::{Duration, Instant};

/// Polls `cond` every 25 ms until it holds; fails after `limit`.
pub async fn eventually(limit: Duration, what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !cond().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
