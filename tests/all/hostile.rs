//! Hostile agents against the real host: each test loads a misbehaving
//! component (tests/agents) from an agents folder beside the well-behaved
//! `echo` example, serves both over HTTP on 127.0.0.1, and shows that
//! - the hostile task ends failed (or canceled, or with its first result
//!   intact) with a reason that names the limit or the denial;
//! - nothing leaks and nothing is reached (loopback listeners the guest
//!   aims at see no connection);
//! - echo tasks sent all along, concurrently, all complete;
//! - `/healthz` answers throughout;
//! - the process's resident memory comes back near where it started.
//!
//! They measure the resident memory of the process the server runs in, and
//! set the allocator's mmap threshold for all of it; the rest of the suite
//! runs in threads of the same test binary. So each test runs alone in a
//! child process of the binary ([`isolate::alone`]), one such child at a
//! time: nothing else allocates in the process it measures, and the
//! allocator setting stays in it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use a2a_host::runtime::{AgentsFolder, RuntimeConfig, SyncReport, WasmRuntime};
use a2a_host::store::Retention;
use serde_json::{Value, json};

use crate::support::guests::{example, guest};
use crate::support::http::{listener, ok_response, state, status_text as reason, user_message};
use crate::support::isolate;
use crate::support::server::{Setup, TestServer, start};

// ---------------------------------------------------------------------------
// The host under attack

/// Slack over the starting resident size allowed after an attack. With the
/// allocator's thresholds fixed (`fix_malloc_thresholds`) the tests leave
/// 0 to 4 MiB behind; 32 MiB still catches a leak of what one artifact
/// flood may store (two copies of 16 MiB).
const MEMORY_SLACK_KIB: u64 = 32 * 1024;
/// How long a canceled agent may run on; the tests give it 500 ms.
const CANCEL_GRACE: Duration = Duration::from_millis(500);
/// Terminal task states, as the wire spells them.
const TERMINAL: [&str; 4] = [
    "TASK_STATE_COMPLETED",
    "TASK_STATE_FAILED",
    "TASK_STATE_CANCELED",
    "TASK_STATE_REJECTED",
];

/// Resident memory of this process (the server runs in it), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// Hand memory the allocator keeps cached back to the system, so that the
/// resident size shows what is still in use.
fn release_cached_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            /// glibc `malloc_trim`: no preconditions.
            safe fn malloc_trim(pad: usize) -> i32;
        }
        malloc_trim(0);
    }
}

/// Keep glibc from holding on to freed megabyte-sized buffers: by default
/// it raises its mmap threshold after freeing a large block, so later ones
/// come from its per-thread arenas, whose freed memory stays resident and
/// fragments — one artifact flood left 14 to 50 MiB behind in runs of its
/// test alone, 73 MiB once in CI, and every further flood more. A fixed
/// threshold keeps every block of 128 KiB or more in a mapping of its own,
/// unmapped when freed: 0 to 3 MiB left after three floods. (The
/// `a2a-host` binary uses mimalloc; these tests run the server on the
/// system allocator.)
fn fix_malloc_thresholds() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            /// glibc `mallopt`: no preconditions.
            safe fn mallopt(param: i32, value: i32) -> i32;
        }
        /// `M_MMAP_THRESHOLD` in glibc's `malloc.h`.
        const M_MMAP_THRESHOLD: i32 = -3;
        static FIXED: std::sync::Once = std::sync::Once::new();
        FIXED.call_once(|| {
            assert_eq!(mallopt(M_MMAP_THRESHOLD, 128 * 1024), 1, "mallopt");
        });
    }
}

/// Whether this is the child process that runs the hostile test `name`
/// alone; if not, runs it in one (see the module docs).
fn alone(name: &str) -> bool {
    isolate::alone(&format!("hostile::{name}"))
}

/// A compile cache shared by the tests, so each component compiles once.
fn cache_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
}

/// An agent to put in the folder: name, component, `NAME.toml`.
struct Deploy<'a> {
    name: &'a str,
    wasm: PathBuf,
    policy: &'a str,
}

fn deploy<'a>(name: &'a str, wasm: PathBuf, policy: &'a str) -> Deploy<'a> {
    Deploy { name, wasm, policy }
}

struct Host {
    server: TestServer,
    runtime: WasmRuntime,
    report: SyncReport,
    baseline_kib: u64,
    _dir: tempfile::TempDir,
}

/// Serve `echo` plus `agents` from a fresh agents folder, warm everything
/// up, and note the resident memory.
async fn host(agents: &[Deploy<'_>]) -> Host {
    host_with(agents, RuntimeConfig::default()).await
}

async fn host_with(agents: &[Deploy<'_>], config: RuntimeConfig) -> Host {
    fix_malloc_thresholds();
    let echo = example("echo");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&echo, dir.path().join("echo.wasm")).unwrap();
    for a in agents {
        std::fs::copy(&a.wasm, dir.path().join(format!("{}.wasm", a.name))).unwrap();
        if !a.policy.is_empty() {
            std::fs::write(dir.path().join(format!("{}.toml", a.name)), a.policy).unwrap();
        }
    }
    let runtime = WasmRuntime::new(RuntimeConfig {
        cache_dir: Some(cache_dir().to_path_buf()),
        max_instances: 200,
        cancel_grace: CANCEL_GRACE,
        ..config
    })
    .expect("runtime");
    let server = start(Setup {
        agents: vec![],
        ..Default::default()
    })
    .await;
    let folder = AgentsFolder::new(runtime.clone(), dir.path(), server.registry.clone());
    let report = folder.sync().await.expect("agents folder");
    assert!(report.loaded.contains(&"echo".to_string()), "{report:?}");

    let host = Host {
        server,
        runtime,
        report,
        baseline_kib: 0,
        _dir: dir,
    };
    // Warm up the paths the attack and the bystanders take.
    for _ in 0..3 {
        echo_once(&host.server.client, &host.server.agent("echo"), "warm-up")
            .await
            .unwrap();
    }
    host.healthz().await;
    release_cached_memory();
    Host {
        baseline_kib: rss_kib(),
        ..host
    }
}

impl Host {
    fn url(&self, agent: &str) -> String {
        self.server.agent(agent)
    }

    /// `/healthz` answers 200.
    async fn healthz(&self) {
        let r = self
            .server
            .send(self.server.client.get(self.server.url("/healthz")))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    /// Send `text` to `agent` without waiting; the task's id.
    async fn start(&self, agent: &str, text: &str) -> String {
        let res = self
            .server
            .send_text(agent, text, json!({"returnImmediately": true}))
            .await;
        res["task"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no task in {res}"))
            .to_string()
    }

    async fn get_task(&self, agent: &str, id: &str) -> Value {
        let r = self.server.rpc(agent, "GetTask", json!({"id": id})).await;
        assert!(r.body.get("error").is_none(), "GetTask: {}", r.text);
        r.body["result"].clone()
    }

    /// Poll until the task is terminal (at most `limit`).
    async fn wait_terminal(&self, agent: &str, id: &str, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let task = self.get_task(agent, id).await;
            if TERMINAL.contains(&state(&task)) {
                return task;
            }
            assert!(
                started.elapsed() < limit,
                "task {id} still {} after {limit:?}",
                state(&task)
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Run `text` on `agent` to its end, with echo traffic all along.
    async fn attack(&self, agent: &str, text: &str, limit: Duration) -> Value {
        let bystanders = Bystanders::start(self);
        let id = self.start(agent, text).await;
        let task = self.wait_terminal(agent, &id, limit).await;
        bystanders.finish().await;
        task
    }

    async fn cancel(&self, agent: &str, id: &str) -> Value {
        let r = self
            .server
            .rpc(agent, "CancelTask", json!({"id": id}))
            .await;
        assert!(r.body.get("error").is_none(), "CancelTask: {}", r.text);
        r.body["result"].clone()
    }

    /// Wait until `n` wasm turns run (at most 10 s).
    async fn wait_running(&self, n: usize) {
        let started = Instant::now();
        while self.runtime.running_turns() != n {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{} turns running, expected {n}",
                self.runtime.running_turns()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// After the attack: healthy, echo still answers, memory back near the
    /// baseline.
    async fn check_aftermath(&self) {
        self.healthz().await;
        echo_once(&self.server.client, &self.url("echo"), "after the attack")
            .await
            .unwrap();
        // Freed memory may take a moment to leave the resident set.
        let limit = self.baseline_kib + MEMORY_SLACK_KIB;
        let started = Instant::now();
        release_cached_memory();
        let mut now = rss_kib();
        while now > limit && started.elapsed() < Duration::from_secs(3) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            release_cached_memory();
            now = rss_kib();
        }
        eprintln!(
            "resident memory: {} MiB before the attack, {} MiB after",
            self.baseline_kib / 1024,
            now / 1024
        );
        assert!(
            now <= limit,
            "resident memory grew from {} KiB to {now} KiB",
            self.baseline_kib
        );
    }
}

/// One blocking SendMessage to echo; checks the answer.
async fn echo_once(client: &reqwest::Client, url: &str, text: &str) -> Result<(), String> {
    let body = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {"message": user_message(text)},
    });
    let resp = client
        .post(url)
        .header("A2A-Version", "1.0")
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .map_err(|e| format!("echo request failed: {e}"))?;
    let v: Value = resp
        .json()
        .await
        .map_err(|e| format!("echo answer is not JSON: {e}"))?;
    let task = &v["result"]["task"];
    if state(task) != "TASK_STATE_COMPLETED" || reason(task) != text {
        return Err(format!("echo did not complete `{text}`: {v}"));
    }
    Ok(())
}

/// Well-behaved traffic while an attack runs: waves of four concurrent
/// echo tasks and a `/healthz` probe, until stopped.
struct Bystanders {
    stop: tokio::sync::watch::Sender<bool>,
    join: tokio::task::JoinHandle<(usize, usize)>,
}

impl Bystanders {
    fn start(host: &Host) -> Bystanders {
        let client = host.server.client.clone();
        let echo = host.url("echo");
        let health = host.server.url("/healthz");
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let join = tokio::spawn(async move {
            let (mut tasks, mut probes) = (0usize, 0usize);
            loop {
                let wave: Vec<_> = (0..4)
                    .map(|i| {
                        let client = client.clone();
                        let echo = echo.clone();
                        let text = format!("bystander {tasks}-{i}");
                        tokio::spawn(async move { echo_once(&client, &echo, &text).await })
                    })
                    .collect();
                for t in wave {
                    t.await
                        .expect("bystander panicked")
                        .expect("bystander task");
                    tasks += 1;
                }
                let r = client.get(&health).send().await.expect("/healthz");
                assert_eq!(r.status(), 200, "/healthz during the attack");
                probes += 1;
                if *stopped.borrow_and_update() && tasks >= 8 {
                    return (tasks, probes);
                }
                let _ = tokio::time::timeout(Duration::from_millis(20), stopped.changed()).await;
            }
        });
        Bystanders { stop, join }
    }

    async fn finish(self) {
        self.stop.send_replace(true);
        let (tasks, probes) = tokio::time::timeout(Duration::from_secs(60), self.join)
            .await
            .expect("bystanders did not finish")
            .expect("bystanders");
        eprintln!("bystanders: {tasks} echo tasks completed, {probes} /healthz probes answered");
    }
}

// ---------------------------------------------------------------------------
// 1. An endless CPU loop

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_cpu_loop() {
    if !alone("hostile_cpu_loop") {
        return;
    }
    let host = host(&[deploy(
        "hostile",
        guest("hostile"),
        "[limits]\ntimeout_secs = 2\n",
    )])
    .await;
    let started = Instant::now();
    let task = host
        .attack("hostile", "loop", Duration::from_secs(30))
        .await;
    assert_eq!(state(&task), "TASK_STATE_FAILED", "{task}");
    assert_eq!(
        reason(&task),
        "agent `hostile` exceeded its 2 s time limit (limits.timeout_secs)"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    host.wait_running(0).await;
    host.check_aftermath().await;
}

/// CancelTask on a guest spinning in a loop: the task is canceled at once,
/// and the guest stops within the grace period plus an epoch tick or two.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_cpu_loop_canceled() {
    if !alone("hostile_cpu_loop_canceled") {
        return;
    }
    let host = host(&[deploy("hostile", guest("hostile"), "")]).await;
    let bystanders = Bystanders::start(&host);
    let id = host.start("hostile", "loop").await;
    host.wait_running(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let canceled_at = Instant::now();
    let task = host.cancel("hostile", &id).await;
    assert_eq!(state(&task), "TASK_STATE_CANCELED", "{task}");
    host.wait_running(0).await;
    let stopped_after = canceled_at.elapsed();
    eprintln!(
        "CPU-bound guest stopped {} ms after CancelTask ({} ms after the {} ms grace)",
        stopped_after.as_millis(),
        stopped_after.saturating_sub(CANCEL_GRACE).as_millis(),
        CANCEL_GRACE.as_millis()
    );
    assert!(stopped_after >= CANCEL_GRACE - Duration::from_millis(50));
    assert!(
        stopped_after < CANCEL_GRACE + Duration::from_secs(1),
        "{stopped_after:?}"
    );
    bystanders.finish().await;
    let task = host.get_task("hostile", &id).await;
    assert_eq!(state(&task), "TASK_STATE_CANCELED", "{task}");
    host.check_aftermath().await;
}

// ---------------------------------------------------------------------------
// 2. Memory without bound

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_memory_growth() {
    if !alone("hostile_memory_growth") {
        return;
    }
    let host = host(&[deploy("hostile", guest("hostile"), "")]).await;
    let task = host.attack("hostile", "hog", Duration::from_secs(30)).await;
    assert_eq!(state(&task), "TASK_STATE_FAILED", "{task}");
    assert_eq!(
        reason(&task),
        "agent `hostile` exceeded its 128 MiB memory limit (limits.memory_mb)"
    );
    host.check_aftermath().await;
}

// ---------------------------------------------------------------------------
// 3. Unbounded recursion

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_stack_overflow() {
    if !alone("hostile_stack_overflow") {
        return;
    }
    let host = host(&[deploy("hostile", guest("hostile"), "")]).await;
    let task = host
        .attack("hostile", "recurse", Duration::from_secs(30))
        .await;
    assert_eq!(state(&task), "TASK_STATE_FAILED", "{task}");
    assert_eq!(
        reason(&task),
        "agent `hostile` trapped: it overflowed its call stack"
    );
    host.check_aftermath().await;
}

// ---------------------------------------------------------------------------
// 4. A panic in the middle of a stream

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_trap_mid_stream() {
    if !alone("hostile_trap_mid_stream") {
        return;
    }
    let host = host(&[deploy("hostile", guest("hostile"), "")]).await;
    let bystanders = Bystanders::start(&host);
    let req = host.server.rpc_request(
        &host.url("hostile"),
        json!(1),
        "SendStreamingMessage",
        json!({"message": user_message("stream-panic 3")}),
    );
    let events = host.server.open(req).await.stream().collect().await;
    bystanders.finish().await;
    let results: Vec<Value> = events.iter().map(|e| e.json()["result"].clone()).collect();
    let chunks = results
        .iter()
        .filter(|r| r.get("artifactUpdate").is_some())
        .count();
    assert_eq!(chunks, 3, "{results:#?}");
    let last = results.last().expect("events");
    let status = &last["statusUpdate"]["status"];
    assert_eq!(status["state"], "TASK_STATE_FAILED", "{last}");
    let why = status["message"]["parts"][0]["text"].as_str().unwrap_or("");
    assert!(why.starts_with("agent `hostile` trapped:"), "{why}");
    assert!(
        why.contains("hostile agent panicked mid-stream after 3 chunks"),
        "{why}"
    );
    // The partial artifact stays, as streamed; nothing after the panic.
    let id = last["statusUpdate"]["taskId"].as_str().unwrap();
    let task = host.get_task("hostile", id).await;
    assert_eq!(state(&task), "TASK_STATE_FAILED");
    let text: String = task["artifacts"][0]["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect();
    assert_eq!(text, "chunk 0 chunk 1 chunk 2 ", "{task}");
    host.check_aftermath().await;
}

// ---------------------------------------------------------------------------
// 5. Files, environment, arguments, sockets

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_ambient_access() {
    if !alone("hostile_ambient_access") {
        return;
    }
    let host = host(&[deploy("hostile", guest("hostile"), "")]).await;
    let target = listener(ok_response("host secret")).await;
    let _ = std::fs::remove_file("/tmp/hostile-was-here");
    let task = host
        .attack(
            "hostile",
            &format!("ambient {}", target.port),
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(state(&task), "TASK_STATE_FAILED", "{task}");
    let why = reason(&task);
    assert!(why.starts_with("denied: "), "{why}");
    assert!(!why.contains("LEAKED"), "{why}");
    for needle in [
        "preopened directories: none",
        "read /etc/passwd:",
        "read /proc/self/environ:",
        "write /tmp:",
        "environment: empty",
        "arguments: none",
        "working directory: none",
        "tcp socket: access-denied",
        "udp socket: access-denied",
        // How wasmtime-wasi refuses a lookup when lookups are off.
        "name lookup: permanent-resolver-failure",
    ] {
        assert!(why.contains(needle), "missing `{needle}` in: {why}");
    }
    // Nothing of the host shows up, and nothing was touched.
    let home = std::env::var("HOME").unwrap_or_default();
    assert!(home.is_empty() || !why.contains(&home), "{why}");
    assert_eq!(target.hits.load(Ordering::SeqCst), 0);
    assert!(!Path::new("/tmp/hostile-was-here").exists());
    host.check_aftermath().await;
}

// ---------------------------------------------------------------------------
// 6. Outbound HTTP where it must not go

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_outbound_http() {
    if !alone("hostile_outbound_http") {
        return;
    }
    let forbidden = listener(ok_response("internal secret")).await;
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{}/secret\r\ncontent-length: 0\r\n\
         connection: close\r\n\r\n",
        forbidden.port
    );
    let allowed = listener(redirect).await;
    // Any plain-HTTP host by wildcard, plus one loopback port by IP: the
    // wildcard must not open loopback, link-local or private addresses.
    let policy = format!(
        "[network]\nallow = [\"http://*:*\", \"http://127.0.0.1:{}\"]\n",
        allowed.port
    );
    let host = host(&[deploy("hostile", guest("hostile"), &policy)]).await;
    let p = forbidden.port;
    let urls = [
        "https://example.com/".to_string(),
        format!("http://127.0.0.1:{p}/secret"),
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/".to_string(),
        format!("http://localhost:{p}/secret"),
        format!("http://127.1:{p}/secret"),
        format!("http://2130706433:{p}/secret"),
        format!("http://[::1]:{p}/secret"),
        format!("http://[::ffff:127.0.0.1]:{p}/secret"),
        format!("http://0.0.0.0:{p}/secret"),
        "http://10.0.0.1/".to_string(),
        "http://100.100.100.200/latest/meta-data/".to_string(),
    ];
    let task = host
        .attack(
            "hostile",
            &format!("fetch-all {}", urls.join(" ")),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(state(&task), "TASK_STATE_FAILED", "{task}");
    let why = reason(&task);
    assert!(why.starts_with("denied: "), "{why}");
    let outcomes: Vec<&str> = why["denied: ".len()..].split("; ").collect();
    assert_eq!(outcomes.len(), urls.len(), "{why}");
    for (url, outcome) in urls.iter().zip(&outcomes) {
        assert!(outcome.starts_with(url.as_str()), "{outcome}");
        if url.starts_with("https://") {
            assert!(
                outcome.contains("HTTP request denied: the host does not allow requests"),
                "{outcome}"
            );
        } else {
            assert!(outcome.contains("DestinationIpProhibited"), "{outcome}");
        }
    }

    // The allowed origin is reachable; its redirect to the forbidden one
    // comes back as it is (wasi-http does not follow redirects).
    let task = host
        .attack(
            "hostile",
            &format!("fetch http://127.0.0.1:{}/", allowed.port),
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(state(&task), "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(reason(&task), "status 302: ");
    assert_eq!(allowed.hits.load(Ordering::SeqCst), 1);
    assert_eq!(forbidden.hits.load(Ordering::SeqCst), 0, "reached");
    host.check_aftermath().await;
}

// ---------------------------------------------------------------------------
// 7. A 200 MB artifact and a million status updates

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_huge_artifact() {
    if !alone("hostile_huge_artifact") {
        return;
    }
    let host = host(&[deploy("hostile", guest("hostile"), "")]).await;
    let task = host
        .attack("hostile", "artifact-flood 200", Duration::from_secs(60))
        .await;
    assert_eq!(state(&task), "TASK_STATE_FAILED", "{task}");
    assert_eq!(
        reason(&task),
        "agent `hostile` exceeded its limit of 16 MiB of artifact and status content per task \
         (limits.artifact_mb)"
    );
    // What was stored stays under the limit.
    let stored: usize = task["artifacts"]
        .as_array()
        .map(|a| {
            a.iter()
                .flat_map(|a| a["parts"].as_array().cloned().unwrap_or_default())
                .map(|p| p["text"].as_str().map_or(0, str::len))
                .sum()
        })
        .unwrap_or(0);
    assert!(stored <= 16 << 20, "{stored} bytes stored");
    assert!(stored >= 15 << 20, "{stored} bytes stored");
    drop(task);
    // The memory store keeps what the task legitimately produced: the
    // snapshot's artifacts and the log's artifact events, two copies of up
    // to 16 MiB. Expire the finished tasks, so that what is left resident
    // measures what the attack leaked, not what the store keeps.
    let purged = host
        .server
        .manager
        .store()
        .purge(
            &Retention {
                terminal_tasks: Some(Duration::ZERO),
                context_state: None,
            },
            SystemTime::now() + Duration::from_secs(1),
        )
        .await
        .unwrap();
    assert!(purged.tasks >= 1, "{purged:?}");
    host.check_aftermath().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_status_flood() {
    if !alone("hostile_status_flood") {
        return;
    }
    let host = host(&[
        deploy("flood", guest("hostile"), ""),
        deploy(
            "capped",
            guest("hostile"),
            "[limits]\nmax_events = 100\nevents_per_second = 100000\n",
        ),
    ])
    .await;
    // Default limits: 1000 events per second trips first on any machine
    // that writes events faster than that; 10000 per task otherwise.
    let task = host
        .attack("flood", "status-flood 1000000", Duration::from_secs(60))
        .await;
    assert_eq!(state(&task), "TASK_STATE_FAILED", "{task}");
    let why = reason(&task);
    eprintln!("flood: {why}");
    assert!(
        why == "agent `flood` exceeded its limit of 1000 events per second \
                (limits.events_per_second)"
            || why
                == "agent `flood` exceeded its limit of 10000 events per task \
                       (limits.max_events)",
        "{why}"
    );

    let task = host
        .attack("capped", "status-flood 1000000", Duration::from_secs(60))
        .await;
    assert_eq!(state(&task), "TASK_STATE_FAILED", "{task}");
    assert_eq!(
        reason(&task),
        "agent `capped` exceeded its limit of 100 events per task (limits.max_events)"
    );
    host.check_aftermath().await;
}

// ---------------------------------------------------------------------------
// 8. complete twice, act after complete

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_double_complete() {
    if !alone("hostile_double_complete") {
        return;
    }
    let host = host(&[deploy("hostile", guest("hostile"), "")]).await;
    let task = host
        .attack("hostile", "double-complete", Duration::from_secs(30))
        .await;
    // The first completion stands; everything after it was refused.
    assert_eq!(state(&task), "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(reason(&task), "first and only result");
    assert!(
        task.get("artifacts").is_none_or(|a| a == &json!([])),
        "{task}"
    );
    let id = task["id"].as_str().unwrap();
    let task = host
        .server
        .rpc("hostile", "GetTask", json!({"id": id, "historyLength": 10}))
        .await
        .body["result"]
        .clone();
    let history = task["history"].as_array().expect("history");
    let agent_messages: Vec<&Value> = history
        .iter()
        .filter(|m| m["role"] == "ROLE_AGENT")
        .collect();
    assert_eq!(agent_messages.len(), 1, "{task}");
    assert_eq!(
        agent_messages[0]["parts"][0]["text"],
        "first and only result"
    );
    // A finished task cannot be canceled either.
    let r = host
        .server
        .rpc("hostile", "CancelTask", json!({"id": id}))
        .await;
    assert!(r.body.get("error").is_some(), "{}", r.text);
    host.check_aftermath().await;
}

// ---------------------------------------------------------------------------
// 9. Returning without a lifecycle call

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_no_lifecycle_call() {
    if !alone("hostile_no_lifecycle_call") {
        return;
    }
    let host = host(&[deploy("hostile", guest("hostile"), "")]).await;
    let task = host
        .attack("hostile", "nothing", Duration::from_secs(30))
        .await;
    assert_eq!(state(&task), "TASK_STATE_FAILED", "{task}");
    assert!(
        reason(&task).starts_with("the agent returned without completing the task"),
        "{}",
        reason(&task)
    );
    host.check_aftermath().await;
}

// ---------------------------------------------------------------------------
// 10. Sleeping forever while the client cancels

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_ignores_cancel() {
    if !alone("hostile_ignores_cancel") {
        return;
    }
    let host = host(&[deploy("hostile", guest("hostile"), "")]).await;
    let bystanders = Bystanders::start(&host);
    let id = host.start("hostile", "deaf 600000").await;
    host.wait_running(1).await;
    let canceled_at = Instant::now();
    let task = host.cancel("hostile", &id).await;
    assert_eq!(state(&task), "TASK_STATE_CANCELED", "{task}");
    host.wait_running(0).await;
    let stopped_after = canceled_at.elapsed();
    eprintln!(
        "sleeping guest stopped {} ms after CancelTask (grace {} ms)",
        stopped_after.as_millis(),
        CANCEL_GRACE.as_millis()
    );
    assert!(
        stopped_after < CANCEL_GRACE + Duration::from_secs(1),
        "{stopped_after:?}"
    );
    bystanders.finish().await;
    // Canceled stays canceled: the agent's late end changes nothing.
    let task = host.get_task("hostile", &id).await;
    assert_eq!(state(&task), "TASK_STATE_CANCELED", "{task}");
    assert_eq!(reason(&task), "canceled by the client");
    host.check_aftermath().await;
}

// ---------------------------------------------------------------------------
// 11. A huge card

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_huge_card() {
    if !alone("hostile_huge_card") {
        return;
    }
    let host = host(&[
        deploy("huge-card", guest("huge-card"), ""),
        deploy("fat-card", guest("fat-card"), ""),
    ])
    .await;
    let failed: std::collections::BTreeMap<_, _> = host.report.failed.iter().cloned().collect();
    assert_eq!(
        failed.get("huge-card").map(String::as_str),
        Some("cannot read the agent card: it lists 5000 skills; the limit is 256"),
        "{:?}",
        host.report
    );
    let fat = failed.get("fat-card").expect("fat-card failed to load");
    assert!(
        fat.starts_with("cannot read the agent card: it holds ")
            && fat.ends_with("bytes of text; the limit is 65536 (limits.card_kb)"),
        "{fat}"
    );
    assert_eq!(host.report.loaded, vec!["echo".to_string()]);

    let bystanders = Bystanders::start(&host);
    // Neither is served; GET /agents says why.
    for name in ["huge-card", "fat-card"] {
        let r = host
            .server
            .send(
                host.server
                    .client
                    .get(format!("{}/.well-known/agent-card.json", host.url(name))),
            )
            .await;
        assert!(r.status >= 400, "{name}: {} {}", r.status, r.text);
        assert!(r.text.len() < 4096, "{name}: the error echoes the card");
    }
    let r = host
        .server
        .send(host.server.client.get(host.server.url("/agents")))
        .await;
    let agents = r.body["agents"].as_array().expect("agents");
    for name in ["huge-card", "fat-card"] {
        let a = agents
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {}", r.text));
        assert_eq!(a["status"], "broken", "{a}");
    }
    assert!(
        r.text.len() < 16 * 1024,
        "GET /agents is {} bytes",
        r.text.len()
    );
    bystanders.finish().await;
    host.check_aftermath().await;
}

// ---------------------------------------------------------------------------
// Limits under load: per-agent slots, the bounded queue, the host total

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_task_swarm() {
    if !alone("hostile_task_swarm") {
        return;
    }
    let host = host_with(
        &[
            deploy(
                "hostile",
                guest("hostile"),
                "[limits]\nmax_concurrent = 2\nmax_queued = 2\nqueue_timeout_secs = 20\n",
            ),
            deploy("other", guest("hostile"), ""),
        ],
        RuntimeConfig {
            max_concurrent_total: 3,
            ..Default::default()
        },
    )
    .await;
    // Ten slow tasks at once: two run, two wait, six are refused at once.
    let ids: Vec<String> =
        futures::future::join_all((0..10).map(|_| host.start("hostile", "sleep 1500"))).await;
    let started = Instant::now();
    let mut refused = 0;
    let mut completed = 0;
    // Meanwhile the third host-wide slot still serves other agents.
    let other = host.attack("other", "quick", Duration::from_secs(20)).await;
    assert_eq!(state(&other), "TASK_STATE_COMPLETED", "{other}");
    assert!(started.elapsed() < Duration::from_millis(1400));
    for id in &ids {
        let task = host
            .wait_terminal("hostile", id, Duration::from_secs(30))
            .await;
        match state(&task) {
            "TASK_STATE_COMPLETED" => completed += 1,
            "TASK_STATE_FAILED" => {
                assert_eq!(
                    reason(&task),
                    "agent `hostile` is busy: 2 tasks are waiting for a slot already \
                     (limits.max_queued)"
                );
                refused += 1;
            }
            other => panic!("{other}: {task}"),
        }
    }
    assert_eq!((completed, refused), (4, 6));
    host.check_aftermath().await;
}
