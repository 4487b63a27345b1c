//! The `a2a-host` binary as an operator runs it: `serve` on a real port with
//! a SQLite file, SIGTERM draining, restarting on the same file, `new`, and
//! `inspect`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::guests::{fill_agents_folder, repo_root};
use crate::support::http::rpc;
use crate::support::process::{Serve, a2a_host};

/// `a2a-host serve` on 127.0.0.1:0 with a SQLite file.
fn serve(agents: &Path, db: &Path, cache: &Path) -> Serve {
    let mut cmd = a2a_host();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--drain-secs", "20"])
        .arg("--agents")
        .arg(agents)
        .arg("--store")
        .arg(format!("sqlite:{}", db.display()))
        .arg("--cache-dir")
        .arg(cache);
    Serve::start(cmd)
}

fn message(text: &str, id: &str) -> Value {
    json!({"messageId": id, "role": "ROLE_USER", "parts": [{"text": text}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_and_a_restart_finds_every_task() {
    let dir = tempfile::tempdir().unwrap();
    let agents = dir.path().join("agents");
    fill_agents_folder(
        &agents,
        &["echo", "countdown"],
        &[("countdown", "[config]\ntick_ms = \"200\"\n")],
    );
    let db = dir.path().join("host.db");
    let cache = dir.path().join("cache");

    let mut host = serve(&agents, &db, &cache);
    let done = rpc(
        &host.base,
        "echo",
        "SendMessage",
        json!({"message": message("kept across restarts", "m1")}),
    )
    .await;
    let done_task = done["task"].clone();
    assert_eq!(done_task["status"]["state"], "TASK_STATE_COMPLETED");

    // A task still running when SIGTERM arrives is allowed to finish.
    let running = rpc(
        &host.base,
        "countdown",
        "SendMessage",
        json!({"message": message("3", "m2"), "configuration": {"returnImmediately": true}}),
    )
    .await;
    let running_id = running["task"]["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(150)).await;
    host.sigterm();
    let status = host.wait(Duration::from_secs(30));
    assert!(status.success(), "exit status {status}");
    let log = host.log();
    assert!(log.contains("draining"), "{log}");

    let host = serve(&agents, &db, &cache);
    let again = rpc(
        &host.base,
        "echo",
        "GetTask",
        json!({"id": done_task["id"]}),
    )
    .await;
    assert_eq!(again, done_task, "task and history survive the restart");
    let drained = rpc(
        &host.base,
        "countdown",
        "GetTask",
        json!({"id": running_id}),
    )
    .await;
    assert_eq!(
        drained["status"]["state"], "TASK_STATE_COMPLETED",
        "the drain let the running task finish: {drained}"
    );
    let texts: Vec<_> = drained["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["parts"][0]["text"].clone())
        .collect();
    assert_eq!(texts.first(), Some(&json!("3")));
}

#[test]
fn serve_refuses_a_missing_agents_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = a2a_host()
        .args(["serve", "--store", "memory", "--listen", "127.0.0.1:0"])
        .arg("--agents")
        .arg(dir.path().join("nope"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
}

/// `THP_enabled` of a running process, from `/proc/PID/status`.
#[cfg(target_os = "linux")]
fn thp_enabled(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("THP_enabled:"));
    line.expect("THP_enabled in /proc/PID/status")
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

#[cfg(target_os = "linux")]
#[test]
fn serve_turns_transparent_huge_pages_off_unless_mimalloc_is_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |allow: Option<&str>| {
        let mut cmd = a2a_host();
        cmd.args(["serve", "--store", "memory", "--listen", "127.0.0.1:0"])
            .arg("--agents")
            .arg(dir.path())
            .env_remove("MIMALLOC_ALLOW_THP");
        if let Some(v) = allow {
            cmd.env("MIMALLOC_ALLOW_THP", v);
        }
        Serve::start(cmd)
    };
    let host = serve(None);
    assert_eq!(thp_enabled(host.pid()), "0", "{}", host.log());
    drop(host);
    // The operator's own choice wins (and the test runner's THP setting is
    // what a child keeps when nothing turns it off).
    let host = serve(Some("1"));
    assert_eq!(thp_enabled(host.pid()), thp_enabled(std::process::id()));
}

#[test]
fn serve_rejects_a_bad_store_setting() {
    let out = a2a_host()
        .args(["serve", "--store", "mysql://x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("memory") && err.contains("sqlite"), "{err}");
}

#[test]
fn new_scaffolds_an_agent_that_builds_and_inspects() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("my-agent");
    let out = a2a_host()
        .args(["new", "my-agent", "--path"])
        .arg(&project)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A second `new` into the same folder refuses to overwrite it.
    let again = a2a_host()
        .args(["new", "my-agent", "--path"])
        .arg(&project)
        .output()
        .unwrap();
    assert!(!again.status.success());

    // Build it as a user would; share a target dir across runs for speed.
    let target = repo_root().join("target/scaffold-test");
    let build = Command::new(env!("CARGO"))
        .current_dir(&project)
        .args(["build", "--release"])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "the scaffold does not build:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = target.join("wasm32-wasip2/release/my_agent.wasm");
    let inspect = a2a_host()
        .arg("inspect")
        .arg(&wasm)
        .env("A2A_HOST_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        inspect.status.success(),
        "{shown}\n{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    assert!(shown.contains("my-agent"), "{shown}");

    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"not a component").unwrap();
    let bad = a2a_host().arg("inspect").arg(&garbage).output().unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.to_lowercase().contains("wasm"), "{err}");
}
