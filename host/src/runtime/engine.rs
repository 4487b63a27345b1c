//! The wasmtime engine: configuration, the pooling-allocator probe and the
//! epoch ticker.

use std::path::PathBuf;
use std::time::Duration;

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, Memory, MemoryType, PoolingAllocationConfig, Store,
};

use super::http::HttpTimeouts;
use super::policy::Limits;

/// Environment variable that forces the pooling allocator on (`1`) or off
/// (`0`); anything else, or unset, means "probe".
pub const POOLING_ENV: &str = "A2A_HOST_POOLING";

/// Settings of the WebAssembly runtime, shared by all agents of a host.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled components are cached. `None`: `$XDG_CACHE_HOME/a2a-host`
    /// or `~/.cache/a2a-host`.
    pub cache_dir: Option<PathBuf>,
    /// Whether to cache compiled components on disk at all (default on).
    pub compile_cache: bool,
    /// Pooling allocator: `Some(true)` on, `Some(false)` off, `None` (the
    /// default) decides from `A2A_HOST_POOLING`, then from a probe of the
    /// available address space.
    pub pooling: Option<bool>,
    /// Instances that may exist at once when pooling (default 1000). Each
    /// running turn and each card read holds one.
    pub max_instances: u32,
    /// Turns of all agents together that may run at once (default 64); a
    /// turn beyond it waits, within its agent's `max_queued` and
    /// `queue_timeout_secs`. Capped at `max_instances` when pooling.
    pub max_concurrent_total: u32,
    /// Meter fuel in every agent (default off; epochs already bound time).
    /// Needed for `limits.fuel` in a policy to take effect.
    pub fuel_metering: bool,
    /// Limits of agents whose policy does not set them.
    pub default_limits: Limits,
    /// How long a turn keeps running after its task is canceled before it
    /// is stopped (match `ManagerConfig::cancel_grace`; default 2 s).
    pub cancel_grace: Duration,
    /// Deadline of the `card()` call at load time (default 5 s).
    pub card_timeout: Duration,
    /// Caps of outbound HTTP timeouts.
    pub http_timeouts: HttpTimeouts,
    /// Interval of the epoch ticker, the preemption granularity (10 ms).
    pub epoch_tick: Duration,
    /// Bytes of guest output (stdout, stderr, `log`) one turn may write to
    /// the host's log; the rest is dropped (default 1 MiB).
    pub max_output_bytes: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            compile_cache: true,
            pooling: None,
            max_instances: 1000,
            max_concurrent_total: 64,
            fuel_metering: false,
            default_limits: Limits::default(),
            cancel_grace: Duration::from_secs(2),
            card_timeout: Duration::from_secs(5),
            http_timeouts: HttpTimeouts::default(),
            epoch_tick: Duration::from_millis(10),
            max_output_bytes: 1024 * 1024,
        }
    }
}

impl RuntimeConfig {
    /// The cache directory this configuration resolves to, if any.
    pub fn resolved_cache_dir(&self) -> Option<PathBuf> {
        if !self.compile_cache {
            return None;
        }
        if let Some(dir) = &self.cache_dir {
            return Some(dir.clone());
        }
        if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(xdg).join("a2a-host"));
        }
        std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|home| PathBuf::from(home).join(".cache").join("a2a-host"))
    }
}

/// Whether this process can reserve the address space the pooling allocator
/// wants: 1000 slots of 4 GiB is about 2^42 bytes. Small VMs and tight
/// `ulimit -v` settings cannot, and then on-demand allocation is used.
fn pooling_fits() -> bool {
    const BITS: u32 = 42;
    let mut config = Config::new();
    config.wasm_memory64(true);
    config.memory_reservation(1 << BITS);
    let Ok(engine) = Engine::new(&config) else {
        return false;
    };
    let mut store = Store::new(&engine, ());
    // Maximum in 64 KiB pages.
    let ty = MemoryType::new64(0, Some(1 << (BITS - 16)));
    Memory::new(&mut store, ty).is_ok()
}

fn pooling_wanted(config: &RuntimeConfig) -> (bool, &'static str) {
    if let Some(on) = config.pooling {
        return (on, "set in the runtime configuration");
    }
    match std::env::var(POOLING_ENV).as_deref().map(str::trim) {
        Ok("1") | Ok("true") | Ok("on") => (true, "forced by A2A_HOST_POOLING"),
        Ok("0") | Ok("false") | Ok("off") => (false, "disabled by A2A_HOST_POOLING"),
        _ if pooling_fits() => (true, "address-space probe succeeded"),
        _ => (false, "address-space probe failed"),
    }
}

fn base_config(config: &RuntimeConfig) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    c.consume_fuel(config.fuel_metering);
    c
}

fn pooling_config(max_instances: u32) -> PoolingAllocationConfig {
    let n = max_instances.max(1);
    let mut p = PoolingAllocationConfig::default();
    // A Rust wasm32-wasip2 component holds one memory, two or three tables
    // and three to five core instances; leave headroom for bigger ones.
    p.total_component_instances(n)
        .total_core_instances(n.saturating_mul(8))
        .total_memories(n)
        .total_tables(n.saturating_mul(4))
        .total_stacks(n)
        .max_core_instances_per_component(64)
        .max_memories_per_component(8)
        .max_tables_per_component(32)
        .max_memories_per_module(2)
        .max_tables_per_module(2)
        .table_elements(50_000);
    // Where Linux has PAGEMAP_SCAN (6.7+), reset a finished instance's memory
    // by rewriting only the pages it dirtied instead of `madvise`, which both
    // costs a system call per instance and makes the next instance fault
    // every page back in. A Rust guest touches its 1 MiB shadow stack and the
    // start of its heap; 2 MiB covers that. Without the scan, keeping memory
    // resident means a memset of all of it per instance, which costs more
    // than it saves, so older kernels keep the `madvise` default. Wasmtime
    // restores the exact initial contents either way.
    if pagemap_scan_available() {
        p.pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(2 << 20)
            .table_keep_resident(64 << 10);
    }
    p
}

/// Whether the kernel has the PAGEMAP_SCAN ioctl (Linux 6.7 or newer).
fn pagemap_scan_available() -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|release| kernel_version(&release))
        .is_some_and(|version| version >= (6, 7))
}

/// `(major, minor)` of a kernel release string such as `6.18.44-generic`.
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Build the engine. Returns it and whether the pooling allocator is on.
pub(crate) fn build_engine(config: &RuntimeConfig) -> Result<(Engine, bool), String> {
    let (pooling, why) = pooling_wanted(config);
    if pooling {
        let mut c = base_config(config);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config(
            config.max_instances,
        )));
        match Engine::new(&c) {
            Ok(engine) => {
                tracing::info!(
                    max_instances = config.max_instances,
                    "wasm engine: pooling allocator ({why})"
                );
                return Ok((engine, true));
            }
            Err(e) if config.pooling == Some(true) => {
                return Err(format!("cannot create the pooling allocator: {e:#}"));
            }
            Err(e) => {
                tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand allocation");
            }
        }
    } else {
        tracing::info!("wasm engine: on-demand allocation ({why})");
    }
    let engine = Engine::new(&base_config(config))
        .map_err(|e| format!("cannot create the wasm engine: {e:#}"))?;
    Ok((engine, false))
}

/// Start the thread that advances the engine's epoch every `tick`. It holds
/// only a weak reference and ends once the engine is gone.
pub(crate) fn start_epoch_ticker(engine: &Engine, tick: Duration) -> Result<(), String> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("a2a-wasm-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .map(|_| ())
        .map_err(|e| format!("cannot start the epoch ticker thread: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_are_read_from_release_strings() {
        assert_eq!(kernel_version("6.18.44-fc-v657\n"), Some((6, 18)));
        assert_eq!(kernel_version("5.15.0-91-generic"), Some((5, 15)));
        assert_eq!(kernel_version("6.7"), Some((6, 7)));
        assert_eq!(kernel_version("6"), None);
        assert_eq!(kernel_version("garbage"), None);
        assert!(kernel_version("5.15.0").unwrap() < (6, 7));
    }

    #[test]
    fn cache_dir_can_be_set_or_disabled() {
        let mut c = RuntimeConfig {
            cache_dir: Some("/x/y".into()),
            ..Default::default()
        };
        assert_eq!(c.resolved_cache_dir(), Some(PathBuf::from("/x/y")));
        c.compile_cache = false;
        assert_eq!(c.resolved_cache_dir(), None);
    }

    #[test]
    fn on_demand_engine_builds() {
        let c = RuntimeConfig {
            pooling: Some(false),
            ..Default::default()
        };
        let (_engine, pooling) = build_engine(&c).unwrap();
        assert!(!pooling);
    }
}
