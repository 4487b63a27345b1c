//! Turning `.wasm` bytes into a validated, instantiable agent: the runtime
//! handle, the on-disk compile cache and the checks against the
//! `a2a:agent` world.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};

use super::bindings::{AgentBindings, AgentPre, HostState};
use super::engine::{RuntimeConfig, build_engine, start_epoch_ticker};
use super::policy::AgentPolicy;
use super::wasm_agent::WasmAgent;

/// Largest `.wasm` file the host loads.
pub const MAX_COMPONENT_BYTES: usize = 256 * 1024 * 1024;

/// Why a component could not be served. The message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly file: {0}")]
    NotWasm(String),
    /// A core module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component; build the agent for the \
         wasm32-wasip2 target (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// Larger than [`MAX_COMPONENT_BYTES`].
    #[error("the file is {0} bytes; the limit is {MAX_COMPONENT_BYTES}")]
    TooLarge(usize),
    /// wasmtime rejected the component.
    #[error("the component does not compile: {0}")]
    Compile(String),
    /// The exports do not match the `a2a:agent` world.
    #[error("not an a2a:agent component: {0}")]
    WrongWorld(String),
    /// The component imports something the host does not provide.
    #[error("the component needs an import this host does not provide: {0}")]
    UnsupportedImport(String),
    /// `NAME.toml` is invalid.
    #[error("invalid policy: {0}")]
    Policy(String),
    /// `card()` failed or returned something unusable.
    #[error("cannot read the agent card: {0}")]
    Card(String),
    /// The agent name is not usable in URLs.
    #[error("`{0}` is not a valid agent name; use letters, digits, `-` and `_` (at most 64)")]
    InvalidName(String),
}

/// Whether `name` may be served: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn is_valid_agent_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A compiled component and where it came from.
#[derive(Clone)]
pub struct Compiled {
    /// The compiled component, ready to instantiate.
    pub component: Component,
    /// Hex SHA-256 of the `.wasm` bytes.
    pub digest: String,
    /// Whether the compiled code came from the on-disk cache.
    pub cache_hit: bool,
}

/// The host's WebAssembly runtime: one engine, one linker, one compile
/// cache for all agents. Cheap to clone.
#[derive(Clone)]
pub struct WasmRuntime {
    pub(crate) inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    pub engine: Engine,
    pub linker: Linker<HostState>,
    pub config: RuntimeConfig,
    pub pooling: bool,
    /// Turn slots shared by all agents (`max_concurrent_total`).
    pub turns: tokio::sync::Semaphore,
    /// The number of those slots.
    pub total_turns: u32,
    cache: Option<CompileCache>,
}

impl std::fmt::Debug for WasmRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmRuntime")
            .field("pooling", &self.inner.pooling)
            .field("cache_dir", &self.cache_dir())
            .finish_non_exhaustive()
    }
}

impl WasmRuntime {
    /// Build the engine (probing for the pooling allocator), the linker with
    /// WASI p2 (nothing granted), wasi-http (policy-gated) and the
    /// `a2a:agent` imports, and start the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<WasmRuntime, String> {
        let (engine, pooling) = build_engine(&config)?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| format!("cannot link WASI: {e:#}"))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| format!("cannot link wasi-http: {e:#}"))?;
        AgentBindings::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| format!("cannot link the a2a:agent imports: {e:#}"))?;
        start_epoch_ticker(&engine, config.epoch_tick)?;
        let cache = config
            .resolved_cache_dir()
            .and_then(|dir| CompileCache::open(dir, &engine));
        let mut total_turns = config.max_concurrent_total.max(1);
        if pooling {
            total_turns = total_turns.min(config.max_instances.max(1));
        }
        Ok(WasmRuntime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                config,
                pooling,
                turns: tokio::sync::Semaphore::new(total_turns as usize),
                total_turns,
                cache,
            }),
        })
    }

    /// The settings this runtime was built with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Whether the pooling allocator is in use.
    pub fn pooling(&self) -> bool {
        self.inner.pooling
    }

    /// The compile cache directory, if caching is on and usable.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.inner.cache.as_ref().map(|c| c.dir.as_path())
    }

    /// Turns of all agents running right now (holding one of the
    /// `max_concurrent_total` slots).
    pub fn running_turns(&self) -> usize {
        (self.inner.total_turns as usize).saturating_sub(self.inner.turns.available_permits())
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Compile `bytes` (or load the cached compilation) without checking
    /// that it is an agent.
    pub async fn compile(&self, bytes: Arc<Vec<u8>>) -> Result<Compiled, LoadError> {
        check_header(&bytes)?;
        let digest = hex(&Sha256::digest(bytes.as_slice()));
        let inner = self.inner.clone();
        let d = digest.clone();
        tokio::task::spawn_blocking(move || compile_blocking(&inner, &bytes, d))
            .await
            .map_err(|e| LoadError::Compile(format!("the compile task failed: {e}")))?
            .map(|(component, cache_hit)| Compiled {
                component,
                digest,
                cache_hit,
            })
    }

    /// Check a compiled component against the `a2a:agent` world and prepare
    /// it for instantiation.
    pub(crate) fn prepare(&self, component: &Component) -> Result<AgentPre<HostState>, LoadError> {
        check_exports(&self.inner.engine, component)?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(component)
            .map_err(|e| LoadError::UnsupportedImport(format!("{e:#}")))?;
        AgentPre::new(pre).map_err(|e| LoadError::WrongWorld(format!("{e:#}")))
    }

    /// Load `NAME.wasm` and its `NAME.toml` (if any) as agent `name`.
    pub async fn load_file(&self, name: &str, wasm: &Path) -> Result<WasmAgent, LoadError> {
        if !is_valid_agent_name(name) {
            return Err(LoadError::InvalidName(name.to_string()));
        }
        let policy = AgentPolicy::load(
            &wasm.with_extension("toml"),
            &self.inner.config.default_limits,
        )
        .map_err(LoadError::Policy)?;
        let bytes = read_wasm(wasm).await?;
        self.load(name, bytes, policy, Some(wasm.to_path_buf()))
            .await
    }

    /// Load a component from memory as agent `name` under `policy`.
    pub async fn load(
        &self,
        name: &str,
        bytes: Vec<u8>,
        policy: AgentPolicy,
        source: Option<PathBuf>,
    ) -> Result<WasmAgent, LoadError> {
        if !is_valid_agent_name(name) {
            return Err(LoadError::InvalidName(name.to_string()));
        }
        if policy.limits.fuel.is_some() && !self.inner.config.fuel_metering {
            return Err(LoadError::Policy(
                "limits.fuel is set, but this host runs without fuel metering; remove it or \
                 turn fuel metering on"
                    .into(),
            ));
        }
        let started = Instant::now();
        let compiled = self.compile(Arc::new(bytes)).await?;
        let pre = self.prepare(&compiled.component)?;
        let agent =
            WasmAgent::new(self.inner.clone(), name, pre, policy, &compiled, source).await?;
        tracing::info!(
            agent = name,
            digest = &compiled.digest[..12],
            cache_hit = compiled.cache_hit,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "loaded wasm agent"
        );
        Ok(agent)
    }
}

/// Read a `.wasm` file, refusing files over the size limit.
pub(crate) async fn read_wasm(path: &Path) -> Result<Vec<u8>, LoadError> {
    let io = |e: std::io::Error| LoadError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let meta = tokio::fs::metadata(path).await.map_err(io)?;
    if meta.len() > MAX_COMPONENT_BYTES as u64 {
        return Err(LoadError::TooLarge(meta.len() as usize));
    }
    tokio::fs::read(path).await.map_err(io)
}

/// Reject what is not a component before handing it to the compiler.
fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() > MAX_COMPONENT_BYTES {
        return Err(LoadError::TooLarge(bytes.len()));
    }
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        if bytes.starts_with(b"(component") || bytes.starts_with(b"(module") {
            return Err(LoadError::NotWasm(
                "this is WebAssembly text; compile it to binary first".into(),
            ));
        }
        return Err(LoadError::NotWasm(
            "it does not start with the `\\0asm` magic bytes".into(),
        ));
    }
    // Bytes 4..8: version and layer. Core modules: 1, layer 0; components:
    // layer 1.
    match (&bytes[4..6], &bytes[6..8]) {
        (_, [0, 0]) => Err(LoadError::CoreModule),
        (_, [1, 0]) => Ok(()),
        _ => Err(LoadError::NotWasm(format!(
            "unknown WebAssembly version/layer bytes {:02x?}",
            &bytes[4..8]
        ))),
    }
}

/// The exports the host calls, checked by name and kind; the exact types
/// are checked when the bindings are created.
fn check_exports(engine: &Engine, component: &Component) -> Result<(), LoadError> {
    let ty = component.component_type();
    let mut missing = Vec::new();
    for name in ["card", "handle"] {
        match ty.get_export(engine, name).map(|e| e.ty) {
            Some(ComponentItem::ComponentFunc(_)) => {}
            Some(other) => {
                return Err(LoadError::WrongWorld(format!(
                    "export `{name}` is a {}, not a function",
                    item_kind(&other)
                )));
            }
            None => missing.push(format!("`{name}`")),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| format!("`{n}`")).collect();
    Err(LoadError::WrongWorld(format!(
        "it does not export {} (it exports {}); build it against wit/agent.wit, world `agent`",
        missing.join(" and "),
        if exports.is_empty() {
            "nothing".to_string()
        } else {
            exports.join(", ")
        }
    )))
}

/// A word for the kind of an import or export.
pub(crate) fn item_kind(item: &ComponentItem) -> &'static str {
    match item {
        ComponentItem::ComponentFunc(_) => "function",
        ComponentItem::CoreFunc(_) => "core function",
        ComponentItem::Module(_) => "core module",
        ComponentItem::Component(_) => "component",
        ComponentItem::ComponentInstance(_) => "instance",
        ComponentItem::Type(_) => "type",
        ComponentItem::Resource(_) => "resource",
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn compile_blocking(
    inner: &RuntimeInner,
    bytes: &[u8],
    digest: String,
) -> Result<(Component, bool), LoadError> {
    if let Some(cache) = &inner.cache
        && let Some(component) = cache.get(&inner.engine, &digest)
    {
        return Ok((component, true));
    }
    let component =
        Component::new(&inner.engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
    if let Some(cache) = &inner.cache {
        cache.put(&component, &digest);
    }
    Ok((component, false))
}

// ---------------------------------------------------------------------------
// The compile cache

/// Compiled components on disk, keyed by the SHA-256 of the `.wasm` and a
/// hash of the engine's compatibility settings. Only files this host wrote
/// are ever loaded: deserializing is loading native code.
struct CompileCache {
    dir: PathBuf,
    engine_tag: String,
}

/// Feeds `Hash` output into SHA-256, for a hash that is stable across runs.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let d = self.0.clone().finalize();
        u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl CompileCache {
    /// Use `dir`, creating it private to this user. Returns `None` (and
    /// logs why) when it cannot be used safely.
    fn open(dir: PathBuf, engine: &Engine) -> Option<CompileCache> {
        if let Err(e) = create_private_dir(&dir) {
            tracing::warn!(dir = %dir.display(), "compile cache disabled: {e}");
            return None;
        }
        let mut h = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut h);
        let engine_tag = hex(&h.0.finalize()[..8]);
        tracing::debug!(dir = %dir.display(), "compile cache enabled");
        Some(CompileCache { dir, engine_tag })
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_tag))
    }

    fn get(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path(digest);
        // Read into memory rather than `deserialize_file`, which maps the
        // file: a mapped file truncated underneath (someone rewriting the
        // cache in place) would crash the whole host with SIGBUS.
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(file = %path.display(), "cannot read compile cache entry: {e}");
                return None;
            }
        };
        // SAFETY: the cache directory is private to this user (checked in
        // `open`) and every file in it was written by `put` from a component
        // this engine compiled; the name carries the engine's compatibility
        // hash, and wasmtime re-checks compatibility when deserializing.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(file = %path.display(), "discarding unusable cache entry: {e:#}");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    fn put(&self, component: &Component, digest: &str) {
        let path = self.path(digest);
        let result = component
            .serialize()
            .map_err(|e| format!("{e:#}"))
            .and_then(|bytes| write_atomically(&path, &bytes).map_err(|e| e.to_string()));
        if let Err(e) = result {
            tracing::warn!(file = %path.display(), "cannot write compile cache entry: {e}");
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let meta = std::fs::metadata(dir)?;
        let uid = geteuid();
        if meta.uid() != uid {
            return Err(std::io::Error::other("it is owned by another user"));
        }
        if meta.permissions().mode() & 0o022 != 0 {
            return Err(std::io::Error::other(
                "others can write to it; run `chmod go-w` on it",
            ));
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

#[cfg(unix)]
unsafe extern "C" {
    /// POSIX `geteuid`: no preconditions, cannot fail.
    safe fn geteuid() -> u32;
}

/// Write `bytes` to `path` via a temporary file and a rename, so readers
/// never see a partial file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_classified() {
        assert!(matches!(
            check_header(b"hello world"),
            Err(LoadError::NotWasm(_))
        ));
        assert!(matches!(check_header(b""), Err(LoadError::NotWasm(_))));
        assert!(matches!(
            check_header(b"(module)"),
            Err(LoadError::NotWasm(m)) if m.contains("text")
        ));
        assert_eq!(check_header(b"\0asm\x01\0\0\0"), Err(LoadError::CoreModule));
        assert_eq!(check_header(b"\0asm\x0d\0\x01\0"), Ok(()));
    }

    #[test]
    fn agent_names() {
        assert!(is_valid_agent_name("echo"));
        assert!(is_valid_agent_name("multi-turn_2"));
        assert!(!is_valid_agent_name(""));
        assert!(!is_valid_agent_name("a.b"));
        assert!(!is_valid_agent_name("a b"));
        assert!(!is_valid_agent_name(&"x".repeat(65)));
    }

    #[test]
    fn atomic_write_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.cwasm");
        write_atomically(&p, b"abc").unwrap();
        write_atomically(&p, b"def").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"def");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
