//! (7) The per-task cost of the sandbox alone: a fresh instance of the
//! `echo` component in a fresh store, `handle` called, the store dropped,
//! measured in this process through [`WasmRuntime`] with a sink that only
//! records the completion. No HTTP, no task manager, no store.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use a2a_host::agent::{Action, ActionError, Agent, TaskContext, TurnInput, TurnSink};
use a2a_host::model::Message;
use a2a_host::runtime::{AgentPolicy, RuntimeConfig, WasmRuntime};
use anyhow::{Context as _, Result, anyhow};
use serde::Serialize;

use crate::load::Latency;
use crate::procs;

/// Result of the in-process measurement.
#[derive(Debug, Clone, Serialize)]
pub struct InprocResult {
    pub iterations: usize,
    pub latency: Latency,
    /// CPU time of this thread per task (the epoch ticker thread is not
    /// counted; it ticks every 10 ms whatever the load).
    pub thread_cpu_per_task_us: f64,
    /// Whether wasmtime's pooling allocator is in use.
    pub pooling: bool,
    /// What a reference loop on wasmtime alone (no a2a-host) measured on
    /// this kind of machine, for comparison.
    pub reference: &'static str,
}

/// Counts completions; everything else is accepted and dropped.
struct CountingSink {
    completions: AtomicU64,
}

#[async_trait::async_trait]
impl TurnSink for CountingSink {
    async fn act(&self, action: Action) -> Result<(), ActionError> {
        if matches!(action, Action::Complete(_)) {
            self.completions.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
    fn is_cancelled(&self) -> bool {
        false
    }
    async fn cancelled(&self) {
        std::future::pending::<()>().await
    }
    async fn get_state(&self, _key: &str) -> Result<Option<Vec<u8>>, ActionError> {
        Ok(None)
    }
    async fn set_state(&self, _key: &str, _value: Option<Vec<u8>>) -> Result<(), ActionError> {
        Ok(())
    }
}

/// Load `echo.wasm` and run `handle` in a loop: `warmup`, then `window`.
pub async fn run(
    echo: &Path,
    cache: &Path,
    warmup: Duration,
    window: Duration,
) -> Result<InprocResult> {
    let runtime = WasmRuntime::new(RuntimeConfig {
        cache_dir: Some(cache.to_path_buf()),
        ..Default::default()
    })
    .map_err(|e| anyhow!("starting the wasm runtime: {e}"))?;
    let bytes = std::fs::read(echo).with_context(|| format!("reading {}", echo.display()))?;
    let agent = runtime
        .load("echo", bytes, AgentPolicy::default(), None)
        .await
        .map_err(|e| anyhow!("loading echo: {e}"))?;
    let sink = Arc::new(CountingSink {
        completions: AtomicU64::new(0),
    });
    let turn = |i: u64| {
        TaskContext::new(
            TurnInput {
                agent: "echo".into(),
                task_id: format!("bench-{i}"),
                context_id: "bench".into(),
                message: Message::user_text("hello from the bench"),
                ..Default::default()
            },
            sink.clone(),
        )
    };

    let warm_end = Instant::now() + warmup;
    let mut i = 0u64;
    while Instant::now() < warm_end {
        agent
            .handle(turn(i))
            .await
            .map_err(|e| anyhow!("echo failed: {e}"))?;
        i += 1;
    }
    let before = sink.completions.load(Ordering::Relaxed);
    let mut samples = Vec::new();
    let cpu0 = procs::thread_cpu();
    let end = Instant::now() + window;
    while Instant::now() < end {
        // The context is built outside the timed part: it is the input, not
        // the sandbox.
        let ctx = turn(i);
        let t = Instant::now();
        agent
            .handle(ctx)
            .await
            .map_err(|e| anyhow!("echo failed: {e}"))?;
        samples.push(t.elapsed().as_nanos() as u64);
        i += 1;
    }
    let cpu = procs::thread_cpu().saturating_sub(cpu0);
    let n = samples.len();
    let completed = sink.completions.load(Ordering::Relaxed) - before;
    if completed != n as u64 {
        return Err(anyhow!("{n} turns ran but {completed} completed"));
    }
    Ok(InprocResult {
        iterations: n,
        latency: Latency::of(&mut samples).context("no iterations")?,
        thread_cpu_per_task_us: cpu.as_secs_f64() * 1e6 / n.max(1) as f64,
        pooling: runtime.pooling(),
        reference: "wasmtime alone, instantiate + handle (3 host calls) + drop, pooling + InstancePre: 35.5-40.6 µs median; on-demand: 41-44 µs",
    })
}
