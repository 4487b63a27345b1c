//! The agents folder: every `NAME.wasm` in it is served as agent `NAME`, with
//! `NAME.toml` as its policy; changes are picked up while the host runs.
//!
//! A sync pass compares each file's fingerprint (size, modification time,
//! inode of the `.wasm` and of its `.toml`) with the one last acted on:
//! - new or changed: load it and swap it into the registry (tasks already
//!   running keep the old version);
//! - gone: remove the agent from the registry;
//! - load failed: record the error in the registry; the last good version,
//!   if any, keeps serving. If the file changed while it was being loaded
//!   (still being copied in), the error is not recorded and the file is
//!   tried again once it has been quiet for the debounce interval.
//!
//! The watcher runs a pass after file-system events have been quiet for the
//! debounce interval (200 ms), and every poll interval (5 s) in case an event
//! was lost.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::component::{WasmRuntime, is_valid_agent_name};
use crate::registry::{AgentRegistry, LoadedAgent};

/// What identifies one version of a file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

/// A `.wasm` and its policy file, as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    wasm: Stamp,
    policy: Option<Stamp>,
}

fn fingerprint(wasm: &Path) -> Option<Fingerprint> {
    let meta = std::fs::metadata(wasm).ok().filter(|m| m.is_file())?;
    let policy = std::fs::metadata(wasm.with_extension("toml"))
        .ok()
        .filter(|m| m.is_file())
        .map(|m| Stamp::of(&m));
    Some(Fingerprint {
        wasm: Stamp::of(&meta),
        policy,
    })
}

struct Scan {
    found: BTreeMap<String, (PathBuf, Fingerprint)>,
    ignored: Vec<(PathBuf, String)>,
}

fn scan(dir: &Path) -> Result<Scan, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut scan = Scan {
        found: BTreeMap::new(),
        ignored: Vec::new(),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            scan.ignored
                .push((path.clone(), "the file name is not valid UTF-8".into()));
            continue;
        };
        // Hidden files are temporaries of editors and copy tools.
        if stem.starts_with('.') {
            continue;
        }
        if !is_valid_agent_name(stem) {
            scan.ignored.push((
                path.clone(),
                format!(
                    "`{stem}` is not a valid agent name; use letters, digits, `-` and `_` (at most 64)"
                ),
            ));
            continue;
        }
        if let Some(fp) = fingerprint(&path) {
            scan.found.insert(stem.to_string(), (path, fp));
        }
    }
    Ok(scan)
}

/// What one sync pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Agents loaded or reloaded.
    pub loaded: Vec<String>,
    /// Agents whose file failed to load, with the reason.
    pub failed: Vec<(String, String)>,
    /// Agents whose file is gone.
    pub removed: Vec<String>,
    /// `.wasm` files that cannot be served, with the reason.
    pub ignored: Vec<(PathBuf, String)>,
    /// Files that changed while being loaded; they are retried.
    pub unsettled: Vec<String>,
}

struct FolderState {
    /// The fingerprint last acted on, per agent from this folder.
    seen: BTreeMap<String, Fingerprint>,
    /// Ignored files already warned about.
    warned: BTreeSet<PathBuf>,
}

struct FolderInner {
    runtime: WasmRuntime,
    dir: PathBuf,
    registry: AgentRegistry,
    debounce: Duration,
    poll_interval: Duration,
    state: Mutex<FolderState>,
}

/// A folder of agents, kept in sync with a registry. Cheap to clone.
#[derive(Clone)]
pub struct AgentsFolder {
    inner: Arc<FolderInner>,
}

impl std::fmt::Debug for AgentsFolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentsFolder")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl AgentsFolder {
    /// Serve the agents in `dir` through `registry`.
    pub fn new(runtime: WasmRuntime, dir: impl Into<PathBuf>, registry: AgentRegistry) -> Self {
        Self::with_timing(
            runtime,
            dir,
            registry,
            Duration::from_millis(200),
            Duration::from_secs(5),
        )
    }

    /// Like [`AgentsFolder::new`] with a custom debounce and poll interval.
    pub fn with_timing(
        runtime: WasmRuntime,
        dir: impl Into<PathBuf>,
        registry: AgentRegistry,
        debounce: Duration,
        poll_interval: Duration,
    ) -> Self {
        AgentsFolder {
            inner: Arc::new(FolderInner {
                runtime,
                dir: dir.into(),
                registry,
                debounce,
                poll_interval: poll_interval.max(Duration::from_millis(100)),
                state: Mutex::new(FolderState {
                    seen: BTreeMap::new(),
                    warned: BTreeSet::new(),
                }),
            }),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Bring the registry in line with the folder once. Call it at start-up
    /// to load every agent before serving; the watcher calls it on changes.
    pub async fn sync(&self) -> Result<SyncReport, String> {
        self.inner.sync().await
    }

    /// Watch the folder and keep the registry in sync until the returned
    /// guard is dropped or stopped. Runs a sync pass right away. Must be
    /// called inside a Tokio runtime.
    pub fn watch(&self) -> Result<FolderWatcher, String> {
        let dir = &self.inner.dir;
        if !dir.is_dir() {
            return Err(format!("{} is not a directory", dir.display()));
        }
        let (tx, rx) = mpsc::unbounded_channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let relevant = match &event {
                    Ok(ev) => is_relevant(ev),
                    // Errors may mean lost events: rescan.
                    Err(_) => true,
                };
                if relevant {
                    let _ = tx.send(());
                }
            })
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let inner = self.inner.clone();
        let task = tokio::spawn(async move { inner.watch_loop(rx, stop_rx).await });
        tracing::info!(dir = %dir.display(), "watching the agents folder");
        Ok(FolderWatcher {
            stop: Some(stop_tx),
            task: Some(task),
            _watcher: watcher,
        })
    }
}

fn is_relevant(event: &notify::Event) -> bool {
    use notify::event::{AccessKind, AccessMode};
    let kind_matters = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    kind_matters
        && (event.need_rescan()
            || event.paths.is_empty()
            || event.paths.iter().any(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("wasm") | Some("toml")
                )
            }))
}

impl FolderInner {
    async fn sync(&self) -> Result<SyncReport, String> {
        let mut state = self.state.lock().await;
        let dir = self.dir.clone();
        let scan = tokio::task::spawn_blocking(move || scan(&dir))
            .await
            .map_err(|e| format!("scan task failed: {e}"))??;
        let mut report = SyncReport::default();

        for (path, why) in scan.ignored {
            if state.warned.insert(path.clone()) {
                tracing::warn!(file = %path.display(), "not serving: {why}");
            }
            report.ignored.push((path, why));
        }

        for (name, (path, fp)) in &scan.found {
            if state.seen.get(name) == Some(fp) {
                continue;
            }
            match self.runtime.load_file(name, path).await {
                Ok(agent) => {
                    let loaded = LoadedAgent::new(Arc::new(agent), Some(path.clone()));
                    self.registry.insert(name, loaded);
                    state.seen.insert(name.clone(), *fp);
                    report.loaded.push(name.clone());
                }
                Err(e) => {
                    let p = path.clone();
                    let now = tokio::task::spawn_blocking(move || fingerprint(&p))
                        .await
                        .ok()
                        .flatten();
                    if now.is_some() && now != Some(*fp) {
                        tracing::debug!(agent = %name, "file changed while loading; retrying later");
                        report.unsettled.push(name.clone());
                        continue;
                    }
                    let why = e.to_string();
                    let serving = self.registry.get(name).is_some();
                    tracing::warn!(
                        agent = %name,
                        file = %path.display(),
                        last_good_version_serving = serving,
                        "cannot load agent: {why}"
                    );
                    self.registry.set_error(name, why.clone());
                    state.seen.insert(name.clone(), *fp);
                    report.failed.push((name.clone(), why));
                }
            }
        }

        let gone: Vec<String> = state
            .seen
            .keys()
            .filter(|n| !scan.found.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            state.seen.remove(&name);
            self.registry.remove(&name);
            tracing::info!(agent = %name, "agent file removed; no longer serving it");
            report.removed.push(name);
        }
        state
            .warned
            .retain(|p| report.ignored.iter().any(|(q, _)| q == p));
        Ok(report)
    }

    async fn watch_loop(
        self: Arc<Self>,
        mut events: mpsc::UnboundedReceiver<()>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut next_pass = Some(tokio::time::Instant::now());
        loop {
            let wake_at =
                next_pass.unwrap_or_else(|| tokio::time::Instant::now() + self.poll_interval);
            tokio::select! {
                _ = &mut stop => return,
                ev = events.recv() => {
                    if ev.is_none() {
                        return;
                    }
                    // Wait until events stay quiet for the debounce interval.
                    loop {
                        tokio::select! {
                            _ = &mut stop => return,
                            ev = events.recv() => if ev.is_none() { return },
                            _ = tokio::time::sleep(self.debounce) => break,
                        }
                    }
                }
                _ = tokio::time::sleep_until(wake_at) => {}
            }
            next_pass = match self.sync().await {
                Ok(report) if !report.unsettled.is_empty() => {
                    Some(tokio::time::Instant::now() + self.debounce)
                }
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), "agents folder scan failed: {e}");
                    None
                }
            };
        }
    }
}

/// Keeps the agents folder watched. Dropping it stops watching (the
/// background task ends at its next wake-up); [`FolderWatcher::stop`] also
/// waits for a sync pass in progress to finish.
pub struct FolderWatcher {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _watcher: notify::RecommendedWatcher,
}

impl std::fmt::Debug for FolderWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderWatcher").finish_non_exhaustive()
    }
}

impl FolderWatcher {
    /// Stop watching and wait for the background task to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FolderWatcher {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
