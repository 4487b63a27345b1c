//! The WebAssembly runtime against real components: the example agents
//! (`cargo xtask agents` -> target/agents/NAME.wasm) and the misbehaving test
//! guests of tests/agents (built for wasm32-wasip2), both by
//! [`crate::support::guests`].

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use a2a_host::agent::{Action, ActionError, Agent, AgentError, TaskContext, TurnInput, TurnSink};
use a2a_host::model::{Message, Part, PartContent};
use a2a_host::registry::AgentRegistry;
use a2a_host::runtime::{
    AgentPolicy, AgentsFolder, Limits, LoadError, RuntimeConfig, WasmAgent, WasmRuntime, inspect,
};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::support::eventually;
use crate::support::guests::{example, guest};
use crate::support::http::{listener, ok_response};

// ---------------------------------------------------------------------------
// A runtime and a recording sink

/// One runtime for the tests that need no special settings, with a private
/// compile cache so components compile once per test run.
fn runtime() -> WasmRuntime {
    static RT: OnceLock<(WasmRuntime, tempfile::TempDir)> = OnceLock::new();
    RT.get_or_init(|| {
        let cache = tempfile::tempdir().unwrap();
        let rt = WasmRuntime::new(config(cache.path())).expect("runtime");
        (rt, cache)
    })
    .0
    .clone()
}

fn config(cache: &Path) -> RuntimeConfig {
    RuntimeConfig {
        cache_dir: Some(cache.to_path_buf()),
        max_instances: 100,
        cancel_grace: Duration::from_millis(300),
        ..Default::default()
    }
}

fn policy(toml: &str) -> AgentPolicy {
    AgentPolicy::parse(toml, &Limits::default()).expect("valid policy")
}

async fn load(path: &Path, name: &str, toml: &str) -> WasmAgent {
    let bytes = std::fs::read(path).unwrap();
    runtime()
        .load(name, bytes, policy(toml), Some(path.to_path_buf()))
        .await
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

/// Records what the agent does; can be canceled.
struct Recorder {
    actions: Mutex<Vec<Action>>,
    cancel: watch::Sender<bool>,
}

impl Recorder {
    fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            actions: Mutex::new(Vec::new()),
            cancel: watch::channel(false).0,
        })
    }
    fn cancel(&self) {
        self.cancel.send_replace(true);
    }
    fn actions(&self) -> Vec<Action> {
        self.actions.lock().clone()
    }
    /// The text of the final `Complete` action.
    fn completed_text(&self) -> String {
        match self.actions().last() {
            Some(Action::Complete(Some(parts))) => parts
                .iter()
                .filter_map(|p| p.as_text())
                .collect::<Vec<_>>()
                .join("\n"),
            other => panic!("expected a completion, got {other:?}"),
        }
    }
}

#[async_trait::async_trait]
impl TurnSink for Recorder {
    async fn act(&self, action: Action) -> Result<(), ActionError> {
        if *self.cancel.borrow() {
            return Err(ActionError::Canceled);
        }
        self.actions.lock().push(action);
        Ok(())
    }
    fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }
    async fn cancelled(&self) {
        let mut rx = self.cancel.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
    async fn get_state(&self, _key: &str) -> Result<Option<Vec<u8>>, ActionError> {
        Ok(None)
    }
    async fn set_state(&self, _key: &str, _value: Option<Vec<u8>>) -> Result<(), ActionError> {
        Ok(())
    }
}

fn turn(text: &str, sink: &Arc<Recorder>) -> TaskContext {
    TaskContext::new(
        TurnInput {
            agent: "test".into(),
            task_id: uuid::Uuid::new_v4().to_string(),
            context_id: "ctx".into(),
            message: Message::user_text(text),
            ..Default::default()
        },
        sink.clone(),
    )
}

/// Run one turn of `agent` on `text`.
async fn ask(agent: &dyn Agent, text: &str) -> (Result<(), AgentError>, Arc<Recorder>) {
    let sink = Recorder::new();
    let result = agent.handle(turn(text, &sink)).await;
    (result, sink)
}

fn failed(result: Result<(), AgentError>) -> String {
    match result {
        Err(AgentError::Failed(m)) => m,
        other => panic!("expected a failure, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Turns

#[tokio::test]
async fn echo_example_completes_with_the_input() {
    eprintln!("pooling allocator: {}", runtime().pooling());
    let agent = load(&example("echo"), "echo", "").await;
    assert_eq!(agent.info().name, "echo");
    let (result, sink) = ask(&agent, "hello, wasm").await;
    result.unwrap();
    assert_eq!(sink.completed_text(), "hello, wasm");
    assert_eq!(sink.actions().len(), 1);
}

#[tokio::test]
async fn agent_errors_become_agent_errors() {
    let agent = load(&guest("hostile"), "hostile", "").await;
    let (result, _) = ask(&agent, "fail now").await;
    assert_eq!(
        result,
        Err(AgentError::Failed("failing on purpose: now".into()))
    );
    let (result, _) = ask(&agent, "reject it").await;
    assert_eq!(
        result,
        Err(AgentError::Rejected("rejecting on purpose: it".into()))
    );
    // Returning without ending the turn is the manager's business.
    let (result, sink) = ask(&agent, "nothing").await;
    result.unwrap();
    assert!(sink.actions().is_empty());
}

#[tokio::test]
async fn a_panic_fails_the_task_with_the_panic_message() {
    let agent = load(&guest("hostile"), "hostile", "").await;
    let reason = failed(ask(&agent, "panic").await.0);
    assert!(reason.starts_with("agent `hostile` trapped:"), "{reason}");
    assert!(
        reason.contains("hostile agent panicked on purpose"),
        "{reason}"
    );
    // The next turn gets a fresh instance.
    let (result, sink) = ask(&agent, "still alive?").await;
    result.unwrap();
    assert_eq!(sink.completed_text(), "hostile: still alive?");
}

#[tokio::test]
async fn the_memory_limit_stops_a_hog() {
    let agent = load(&guest("hostile"), "hostile", "[limits]\nmemory_mb = 16").await;
    let reason = failed(ask(&agent, "hog").await.0);
    assert_eq!(
        reason,
        "agent `hostile` exceeded its 16 MiB memory limit (limits.memory_mb)"
    );
    let (result, _) = ask(&agent, "fine").await;
    result.unwrap();
}

#[tokio::test]
async fn the_time_limit_stops_an_endless_loop() {
    let agent = load(&guest("hostile"), "hostile", "[limits]\ntimeout_secs = 1").await;
    let started = Instant::now();
    let reason = failed(ask(&agent, "loop").await.0);
    assert_eq!(
        reason,
        "agent `hostile` exceeded its 1 s time limit (limits.timeout_secs)"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let (result, _) = ask(&agent, "fine").await;
    result.unwrap();
}

#[tokio::test]
async fn a_canceled_agent_that_ignores_it_is_stopped_after_the_grace() {
    let agent = load(&guest("hostile"), "hostile", "").await;
    let sink = Recorder::new();
    let ctx = turn("deaf 60000", &sink);
    let canceler = {
        let sink = sink.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            sink.cancel();
        })
    };
    let started = Instant::now();
    let reason = failed(agent.handle(ctx).await);
    canceler.await.unwrap();
    assert!(reason.contains("canceled"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_cooperative_agent_sees_the_cancel() {
    let agent = load(&guest("hostile"), "hostile", "").await;
    let sink = Recorder::new();
    let ctx = turn("sleep 60000", &sink);
    let canceler = {
        let sink = sink.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            sink.cancel();
        })
    };
    // The SDK's sleep wakes with `canceled`, which `?` turns into a failure
    // that names it.
    let reason = failed(agent.handle(ctx).await);
    canceler.await.unwrap();
    assert!(reason.contains("canceled"), "{reason}");
    assert!(matches!(sink.actions()[0], Action::Status(_)));
}

#[tokio::test]
async fn turns_beyond_max_concurrent_wait_then_fail() {
    let agent = load(
        &guest("hostile"),
        "hostile",
        "[limits]\nmax_concurrent = 1\nqueue_timeout_secs = 1",
    )
    .await;
    let busy = {
        let agent = agent.clone();
        tokio::spawn(async move { ask(&agent, "sleep 2500").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let reason = failed(ask(&agent, "me too").await.0);
    assert!(reason.contains("busy"), "{reason}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    let (result, sink) = busy.await.unwrap();
    result.unwrap();
    assert_eq!(sink.completed_text(), "hostile slept 2500 ms");
    // The slot is free again.
    ask(&agent, "now").await.0.unwrap();
}

#[tokio::test]
async fn the_sandbox_grants_nothing() {
    let agent = load(&guest("hostile"), "hostile", "").await;
    let (result, sink) = ask(&agent, "env").await;
    result.unwrap();
    let text = sink.completed_text();
    assert!(text.starts_with("vars=0 args=0 root=denied"), "{text}");
    assert!(text.contains("tmp=denied"), "{text}");
}

#[tokio::test]
async fn config_comes_from_the_policy_only() {
    let agent = load(
        &guest("hostile"),
        "hostile",
        "[config]\ngreeting = \"hi\"\nn = 3",
    )
    .await;
    let (_, sink) = ask(&agent, "config greeting").await;
    assert_eq!(sink.completed_text(), "hi");
    let (_, sink) = ask(&agent, "config n").await;
    assert_eq!(sink.completed_text(), "3");
    let (_, sink) = ask(&agent, "config PATH").await;
    assert_eq!(sink.completed_text(), "(none)");
}

#[tokio::test]
async fn invalid_json_from_the_guest_is_an_invalid_argument() {
    let agent = load(&guest("hostile"), "hostile", "").await;
    let (result, sink) = ask(&agent, "badjson").await;
    result.unwrap();
    let text = sink.completed_text();
    assert!(
        text.starts_with("invalid argument: message[0].data is not valid JSON"),
        "{text}"
    );
}

#[tokio::test]
async fn guest_output_does_not_disturb_the_turn() {
    let agent = load(&guest("hostile"), "hostile", "").await;
    let (result, sink) = ask(&agent, "print").await;
    result.unwrap();
    assert_eq!(sink.completed_text(), "printed");
}

#[tokio::test]
async fn outbound_http_follows_the_allowlist() {
    let port = listener(ok_response("hello")).await.port;
    let url = format!("http://127.0.0.1:{port}/x");

    let allowed = load(
        &guest("hostile"),
        "hostile",
        &format!("[network]\nallow = [\"http://127.0.0.1:{port}\"]"),
    )
    .await;
    let (_, sink) = ask(&allowed, &format!("fetch {url}")).await;
    assert_eq!(sink.completed_text(), "status 200: hello");

    let wildcard = load(
        &guest("hostile"),
        "hostile",
        "[network]\nallow = [\"http://127.0.0.1:*\"]",
    )
    .await;
    let (_, sink) = ask(&wildcard, &format!("fetch {url}")).await;
    assert_eq!(sink.completed_text(), "status 200: hello");

    for toml in [
        "",
        "[network]\nallow = [\"http://127.0.0.1:1\"]",
        "[network]\nallow = [\"https://127.0.0.1:*\"]",
    ] {
        let denied = load(&guest("hostile"), "hostile", toml).await;
        let (_, sink) = ask(&denied, &format!("fetch {url}")).await;
        let text = sink.completed_text();
        assert!(text.starts_with("fetch failed"), "{toml}: {text}");
        assert!(text.to_lowercase().contains("denied"), "{toml}: {text}");
    }
}

// ---------------------------------------------------------------------------
// Loading

#[tokio::test]
async fn policy_files_are_read_and_unknown_keys_named() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("h.wasm");
    std::fs::copy(guest("hostile"), &wasm).unwrap();

    std::fs::write(
        dir.path().join("h.toml"),
        "[card]\ndescription = \"From the operator\"\n",
    )
    .unwrap();
    let agent = runtime().load_file("h", &wasm).await.unwrap();
    assert_eq!(agent.info().description, "From the operator");
    assert_eq!(agent.info().name, "hostile");
    assert_eq!(agent.info().version, "1.0.0");

    std::fs::write(dir.path().join("h.toml"), "[limits]\nmemory = 5\n").unwrap();
    match runtime().load_file("h", &wasm).await {
        Err(LoadError::Policy(m)) => {
            assert!(m.contains("unknown field `memory`"), "{m}");
            assert!(m.contains("h.toml"), "{m}");
        }
        other => panic!("expected a policy error, got {other:?}"),
    }
}

#[tokio::test]
async fn things_that_are_not_agents_are_explained() {
    let rt = runtime();
    let load = |bytes: Vec<u8>| {
        let rt = rt.clone();
        async move {
            rt.load("x", bytes, AgentPolicy::default(), None)
                .await
                .unwrap_err()
        }
    };

    let e = load(b"#!/bin/sh\necho hi\n".to_vec()).await;
    assert!(matches!(e, LoadError::NotWasm(_)), "{e}");
    assert!(e.to_string().starts_with("not a WebAssembly file"), "{e}");

    let e = load(b"\0asm\x01\0\0\0".to_vec()).await;
    assert_eq!(e, LoadError::CoreModule);
    assert!(e.to_string().contains("wasm32-wasip2"), "{e}");

    let e = load(std::fs::read(guest("wrong-world")).unwrap()).await;
    assert!(matches!(e, LoadError::WrongWorld(_)), "{e}");
    assert!(
        e.to_string()
            .contains("does not export `card` and `handle`"),
        "{e}"
    );
    assert!(e.to_string().contains("`run`"), "{e}");

    let e = load(std::fs::read(guest("odd-import")).unwrap()).await;
    assert!(matches!(e, LoadError::UnsupportedImport(_)), "{e}");
    assert!(e.to_string().contains("test:odd/gadget"), "{e}");

    let mut truncated = std::fs::read(guest("hostile")).unwrap();
    truncated.truncate(truncated.len() / 2);
    let e = load(truncated).await;
    assert!(matches!(e, LoadError::Compile(_)), "{e}");

    let e = rt
        .load(
            "bad name",
            std::fs::read(example("echo")).unwrap(),
            AgentPolicy::default(),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, LoadError::InvalidName(_)), "{e}");

    let e = rt
        .load(
            "echo",
            std::fs::read(example("echo")).unwrap(),
            policy("[limits]\nfuel = 1000"),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, LoadError::Policy(ref m) if m.contains("fuel")),
        "{e}"
    );
}

#[tokio::test]
async fn fuel_limits_a_metered_agent() {
    let cache = tempfile::tempdir().unwrap();
    let rt = WasmRuntime::new(RuntimeConfig {
        fuel_metering: true,
        ..config(cache.path())
    })
    .unwrap();
    let bytes = std::fs::read(guest("hostile")).unwrap();
    let agent = rt
        .load("hostile", bytes, policy("[limits]\nfuel = 50000000"), None)
        .await
        .unwrap();
    let reason = failed(ask(&agent, "loop").await.0);
    assert_eq!(
        reason,
        "agent `hostile` used up its fuel budget of 50000000 (limits.fuel)"
    );
    ask(&agent, "cheap").await.0.unwrap();
}

#[tokio::test]
async fn the_compile_cache_is_written_and_hit() {
    let cache = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(guest("hostile")).unwrap();

    let first = WasmRuntime::new(config(cache.path())).unwrap();
    let t = Instant::now();
    let a = first
        .load("h", bytes.clone(), AgentPolicy::default(), None)
        .await
        .unwrap();
    let cold = t.elapsed();
    assert!(!a.cache_hit());
    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0].starts_with(a.digest()) && entries[0].ends_with(".cwasm"),
        "{entries:?}"
    );

    // A new runtime (a restarted host) finds it.
    let second = WasmRuntime::new(config(cache.path())).unwrap();
    let t = Instant::now();
    let b = second
        .load("h", bytes.clone(), AgentPolicy::default(), None)
        .await
        .unwrap();
    let warm = t.elapsed();
    assert!(b.cache_hit());
    eprintln!("cold load {cold:?}, cached load {warm:?}");
    ask(&b, "works").await.0.unwrap();

    // A damaged entry is discarded and rebuilt.
    let entry = cache.path().join(&entries[0]);
    std::fs::write(&entry, b"garbage").unwrap();
    let third = WasmRuntime::new(config(cache.path())).unwrap();
    let c = third
        .load("h", bytes, AgentPolicy::default(), None)
        .await
        .unwrap();
    assert!(!c.cache_hit());
    assert!(std::fs::read(&entry).unwrap().len() > 1000);
}

#[tokio::test]
async fn inspect_shows_the_card_or_the_problem() {
    let report = inspect(&guest("hostile")).await.unwrap();
    assert!(report.is_valid(), "{report}");
    assert_eq!(report.card.as_ref().unwrap().name, "hostile");
    assert!(
        report.exports.iter().any(|e| e == "handle (function)"),
        "{:?}",
        report.exports
    );
    assert!(
        report
            .imports
            .iter()
            .any(|i| i.starts_with("a2a:agent/types")),
        "{:?}",
        report.imports
    );
    let text = report.to_string();
    assert!(text.contains("status:  valid"), "{text}");

    let report = runtime().inspect(&guest("wrong-world")).await.unwrap();
    assert!(!report.is_valid());
    assert!(
        report.problem.as_ref().unwrap().contains("`card`"),
        "{report}"
    );
    assert!(report.to_string().contains("NOT SERVABLE"));

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"junk").unwrap();
    let err = runtime().inspect(&junk).await.unwrap_err();
    assert!(err.contains("not a WebAssembly file"), "{err}");
}

// ---------------------------------------------------------------------------
// The agents folder

/// Put `bytes` at `path` the way a deploy tool should: write elsewhere, rename.
fn install(path: &Path, bytes: &[u8]) {
    let tmp = path.with_file_name(format!(
        ".{}.part",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn the_folder_loads_everything_and_reports_what_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(example("echo"), dir.path().join("echo.wasm")).unwrap();
    std::fs::copy(guest("hostile"), dir.path().join("hostile.wasm")).unwrap();
    std::fs::copy(guest("wrong-world"), dir.path().join("other.wasm")).unwrap();
    std::fs::copy(example("echo"), dir.path().join("bad.name.wasm")).unwrap();
    std::fs::write(dir.path().join("README.md"), "not an agent").unwrap();

    let registry = AgentRegistry::new();
    let folder = AgentsFolder::new(runtime(), dir.path(), registry.clone());
    let report = folder.sync().await.unwrap();
    assert_eq!(
        report.loaded,
        vec!["echo".to_string(), "hostile".to_string()]
    );
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, "other");
    assert_eq!(report.ignored.len(), 1);
    assert!(
        report.ignored[0].1.contains("bad.name"),
        "{:?}",
        report.ignored
    );
    assert_eq!(
        registry.names(),
        vec!["echo".to_string(), "hostile".to_string()]
    );
    let other = registry
        .statuses()
        .into_iter()
        .find(|s| s.name == "other")
        .unwrap();
    assert_eq!(other.status, "broken");
    assert!(other.error.unwrap().contains("does not export"));

    // Nothing changed: a second pass does nothing.
    let again = folder.sync().await.unwrap();
    assert!(
        again.loaded.is_empty() && again.failed.is_empty(),
        "{again:?}"
    );

    let loaded = registry.get("echo").unwrap();
    let sink = Recorder::new();
    loaded
        .agent
        .handle(turn("via the registry", &sink))
        .await
        .unwrap();
    assert_eq!(sink.completed_text(), "via the registry");
}

#[tokio::test]
async fn hot_reload_adds_swaps_keeps_last_good_and_removes() {
    let rt = runtime();
    let hostile = std::fs::read(guest("hostile")).unwrap();
    let echo = std::fs::read(example("echo")).unwrap();
    // Warm the compile cache so the timings below measure the watcher.
    rt.compile(Arc::new(hostile.clone())).await.unwrap();
    rt.compile(Arc::new(echo.clone())).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let registry = AgentRegistry::new();
    let folder = AgentsFolder::new(rt, dir.path(), registry.clone());
    folder.sync().await.unwrap();
    let watcher = folder.watch().unwrap();
    let path = dir.path().join("agent.wasm");
    let limit = Duration::from_secs(2);

    // A new file is served within 2 s.
    install(&path, &hostile);
    eventually(limit, "the new agent", async || {
        registry.get("agent").is_some()
    })
    .await;
    let old = registry.get("agent").unwrap();
    assert_eq!(old.info.name, "hostile");

    // A task in flight on the old version...
    let in_flight = {
        let agent = old.agent.clone();
        tokio::spawn(async move {
            let sink = Recorder::new();
            let result = agent.handle(turn("sleep 1500", &sink)).await;
            (result, sink)
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;

    // ...while the file is replaced: new tasks get the new version.
    install(&path, &echo);
    eventually(limit, "the swap", async || {
        registry.get("agent").is_some_and(|a| a.info.name == "echo")
    })
    .await;
    let new = registry.get("agent").unwrap();
    let sink = Recorder::new();
    new.agent.handle(turn("new version", &sink)).await.unwrap();
    assert_eq!(sink.completed_text(), "new version");

    let (result, sink) = in_flight.await.unwrap();
    result.unwrap();
    assert_eq!(sink.completed_text(), "hostile slept 1500 ms");

    // A policy change reloads too.
    std::fs::write(
        dir.path().join("agent.toml"),
        "[card]\ndescription = \"v3\"\n",
    )
    .unwrap();
    eventually(limit, "the policy reload", async || {
        registry
            .get("agent")
            .is_some_and(|a| a.info.description == "v3")
    })
    .await;

    // A broken file: the error is recorded, the last good version serves.
    install(&path, b"\0asm\x0d\0\x01\0 this is not a component");
    eventually(limit, "the error", async || {
        registry
            .statuses()
            .iter()
            .any(|s| s.name == "agent" && s.status == "degraded")
    })
    .await;
    let status = registry
        .statuses()
        .into_iter()
        .find(|s| s.name == "agent")
        .unwrap();
    assert!(status.error.unwrap().contains("does not compile"));
    let still = registry.get("agent").unwrap();
    assert_eq!(still.info.name, "echo");

    // Fixing it clears the error.
    install(&path, &hostile);
    eventually(limit, "the fix", async || {
        registry
            .statuses()
            .iter()
            .any(|s| s.name == "agent" && s.status == "ready")
    })
    .await;

    // A deleted file is no longer served.
    std::fs::remove_file(&path).unwrap();
    eventually(limit, "the removal", async || {
        registry.get("agent").is_none()
    })
    .await;
    assert!(registry.statuses().is_empty());

    watcher.stop().await;
    // Stopped: a new file is not picked up.
    install(&dir.path().join("late.wasm"), &echo);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(registry.get("late").is_none());
}

#[tokio::test]
async fn a_file_copied_in_slowly_is_loaded_once_complete() {
    let rt = runtime();
    let hostile = std::fs::read(guest("hostile")).unwrap();
    rt.compile(Arc::new(hostile.clone())).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let registry = AgentRegistry::new();
    let folder = AgentsFolder::with_timing(
        rt,
        dir.path(),
        registry.clone(),
        Duration::from_millis(100),
        Duration::from_secs(5),
    );
    let _watcher = folder.watch().unwrap();

    // Written in place, in pieces, with pauses longer than the debounce.
    let path = dir.path().join("slow.wasm");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap();
        for chunk in hostile.chunks(hostile.len() / 4 + 1) {
            f.write_all(chunk).unwrap();
            f.flush().unwrap();
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    eventually(Duration::from_secs(3), "the complete file", async || {
        registry
            .statuses()
            .iter()
            .any(|s| s.name == "slow" && s.status == "ready")
    })
    .await;
    let (result, sink) = ask(&*registry.get("slow").unwrap().agent, "ok").await;
    result.unwrap();
    assert_eq!(sink.completed_text(), "hostile: ok");
}

#[tokio::test]
async fn parts_other_than_text_reach_the_guest() {
    // The echo example only reads text; make sure a message with every kind
    // of part converts (the host side of `message()`).
    {
        let agent = load(&example("echo"), "echo", "").await;
        let sink = Recorder::new();
        let mut message = Message::user_text("text part");
        message
            .parts
            .push(Part::data(serde_json::json!({"k": [1, 2]})));
        message.parts.push(Part::from_content(PartContent::Raw(
            a2a_host::model::Bytes(vec![0, 159, 255]),
        )));
        message.parts.push(Part::from_content(PartContent::Url(
            "https://example.com/x".into(),
        )));
        let ctx = TaskContext::new(
            TurnInput {
                agent: "echo".into(),
                task_id: "t".into(),
                context_id: "c".into(),
                message,
                ..Default::default()
            },
            sink.clone(),
        );
        agent.handle(ctx).await.unwrap();
        assert_eq!(sink.completed_text(), "text part");
    }
}
