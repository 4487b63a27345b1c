//! Interop with third-party A2A clients: the official Python SDK 1.x, its
//! 0.3 line, and a2akit's client, each driving the real `a2a-host serve`
//! binary and the example agents over real HTTP.
//!
//! Each client runs a script from tests/interop/ (one JSON line per check;
//! see tests/interop/interop_common.py) with the interpreter of its own
//! virtual environment. The environments live in target/interop-venvs/NAME,
//! made once by `python3 -m venv` and `pip install` of pinned versions, and
//! reused while the marker file inside names the same Python and
//! requirements. A file lock per environment keeps concurrent test
//! processes from building the same one twice.
//!
//! These tests need python3 (3.11+) with `venv`, and PyPI the first time.
//! Without them they fail with a message saying what to install; they never
//! pass silently. `A2A_INTEROP_PYTHON` picks another interpreter.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::guests::{fill_agents_folder, repo_root};
use crate::support::process::{Serve, a2a_host};

/// What a missing or unusable interpreter needs.
const INSTALL_PYTHON: &str = "python3 (3.11+) with venv is needed for the interop tests: \
     apt-get install python3 python3-venv (or point A2A_INTEROP_PYTHON at such an interpreter)";

/// Oldest Python the clients support (a2akit requires 3.11).
const MIN_PYTHON: (u32, u32) = (3, 11);

/// Longest a client script may run. Its checks take a few seconds; each one
/// has its own 30 s limit inside the script.
const SCRIPT_LIMIT: Duration = Duration::from_secs(240);

/// The operations every client goes through, in the scripts' order.
const OPERATIONS: [&str; 6] = ["card", "send", "get", "stream", "cancel", "multi_turn"];

/// One third-party client.
struct Client {
    /// Name of its virtual environment under target/interop-venvs.
    venv: &'static str,
    /// What it is, for messages.
    label: &'static str,
    /// pip requirement specifiers, pinned so that a run is repeatable; a
    /// change here rebuilds the environment.
    requirements: &'static [&'static str],
    /// Its script in tests/interop/.
    script: &'static str,
    /// Check-name prefixes the script runs every operation under (one per
    /// protocol binding).
    bindings: &'static [&'static str],
}

impl Client {
    /// Every check the script must report, passed.
    fn expected_checks(&self) -> Vec<String> {
        self.bindings
            .iter()
            .flat_map(|b| OPERATIONS.iter().map(move |op| format!("{b}.{op}")))
            .collect()
    }
}

const SDK_1X: Client = Client {
    venv: "a2a-sdk-1x",
    label: "a2a-sdk 1.x (A2A 1.0)",
    requirements: &["a2a-sdk==1.3.0"],
    script: "sdk1_client.py",
    bindings: &["jsonrpc", "rest"],
};

const SDK_03: Client = Client {
    venv: "a2a-sdk-03",
    label: "a2a-sdk 0.3 (A2A 0.3)",
    requirements: &["a2a-sdk==0.3.26"],
    script: "sdk03_client.py",
    bindings: &["jsonrpc", "rest"],
};

const A2AKIT: Client = Client {
    venv: "a2akit",
    label: "a2akit client (A2A 0.3)",
    requirements: &["a2akit==0.0.32"],
    script: "a2akit_client.py",
    bindings: &["jsonrpc"],
};

#[test]
fn interop_a2a_sdk_1x() {
    run_client(&SDK_1X);
}

#[test]
fn interop_a2a_sdk_03() {
    run_client(&SDK_03);
}

#[test]
fn interop_a2akit() {
    run_client(&A2AKIT);
}

/// The "what to install" message is what a machine without Python sees.
#[test]
fn a_missing_python_says_what_to_install() {
    let err = probe_python(OsStr::new("/nonexistent/bin/python3")).unwrap_err();
    assert!(
        err.contains("apt-get install python3 python3-venv"),
        "{err}"
    );
    assert!(err.contains("/nonexistent/bin/python3"), "{err}");
}

// ---------------------------------------------------------------------------
// One client against one host

fn run_client(client: &Client) {
    let python = venv_python(client);
    let agents = agents_folder();
    let host = Host::start(agents.path());
    let outcome = run_script(&python, client.script, &host.serve.base);
    let report = Report::new(client, &host.serve.base, &outcome.stdout);
    eprintln!("{}", report.text);
    let script_crashed = !matches!(outcome.exit_code, Some(0 | 1));
    if report.failures > 0 || script_crashed || outcome.timed_out {
        let mut msg = format!(
            "{} failed against a2a-host: {} of {} checks did not pass\n\n{}",
            client.label,
            report.failures,
            client.expected_checks().len(),
            report.text
        );
        if outcome.timed_out {
            msg += &format!("\nthe script ran longer than {SCRIPT_LIMIT:?} and was killed\n");
        }
        if script_crashed || !outcome.stderr.trim().is_empty() {
            msg += &format!(
                "\nscript exit code {:?}, stderr:\n{}\n",
                outcome.exit_code,
                tail(&outcome.stderr, 40)
            );
        }
        msg += &format!("\na2a-host log (tail):\n{}", tail(&host.serve.log(), 40));
        panic!("{msg}");
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The results a script printed, checked against what its client owes.
struct Report {
    text: String,
    failures: usize,
}

impl Report {
    fn new(client: &Client, base: &str, stdout: &str) -> Report {
        let mut results: Vec<(String, bool, String, Vec<String>)> = Vec::new();
        let mut versions = String::new();
        let mut stray = Vec::new();
        for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(obj) = serde_json::from_str::<Value>(line) else {
                stray.push(line.to_string());
                continue;
            };
            if let Some(info) = obj.get("info").and_then(Value::as_object) {
                versions = info
                    .iter()
                    .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(", ");
            } else if let Some(name) = obj.get("check").and_then(Value::as_str) {
                let ok = obj.get("ok").and_then(Value::as_bool) == Some(true);
                let detail = obj.get("detail").and_then(Value::as_str).unwrap_or("");
                let http = obj
                    .get("http")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                results.push((name.to_string(), ok, detail.to_string(), http));
            } else {
                stray.push(line.to_string());
            }
        }

        let mut text = format!("{} [{versions}] against {base}\n", client.label);
        let mut failures = 0;
        let expected = client.expected_checks();
        for name in &expected {
            match results.iter().find(|r| &r.0 == name) {
                Some((_, true, detail, _)) => text += &format!("  ok      {name:<20} {detail}\n"),
                Some((_, false, detail, http)) => {
                    failures += 1;
                    text += &format!("  FAILED  {name:<20} {detail}\n");
                    for exchange in http {
                        text += &format!("            {exchange}\n");
                    }
                }
                None => {
                    failures += 1;
                    text += &format!("  MISSING {name:<20} the script never reported it\n");
                }
            }
        }
        for (name, ..) in results.iter().filter(|r| !expected.contains(&r.0)) {
            failures += 1;
            text += &format!("  UNKNOWN {name:<20} not a check this test knows\n");
        }
        for line in &stray {
            text += &format!("  (stray output) {line}\n");
        }
        Report { text, failures }
    }
}

/// What a finished script left behind.
struct ScriptOutcome {
    exit_code: Option<i32>,
    timed_out: bool,
    stdout: String,
    stderr: String,
}

fn run_script(python: &Path, script: &str, base: &str) -> ScriptOutcome {
    let dir = repo_root().join("tests/interop");
    let mut child = Command::new(python)
        .arg(dir.join(script))
        .arg(base)
        .current_dir(&dir)
        // No __pycache__ folders in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + SCRIPT_LIMIT;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the client script") {
            break status;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for the killed client script");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    ScriptOutcome {
        exit_code: status.code(),
        timed_out,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Read a pipe to the end on a thread, so the child never blocks on a full
/// pipe.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

// ---------------------------------------------------------------------------
// Python and the virtual environments

/// The interpreter that makes the environments, and its "major.minor".
fn system_python() -> &'static (PathBuf, String) {
    static PYTHON: OnceLock<Result<(PathBuf, String), String>> = OnceLock::new();
    let found = PYTHON.get_or_init(|| {
        let python = std::env::var_os("A2A_INTEROP_PYTHON").unwrap_or_else(|| "python3".into());
        let version = probe_python(&python)?;
        Ok((PathBuf::from(python), version))
    });
    match found {
        Ok(found) => found,
        Err(err) => panic!("{err}"),
    }
}

/// Check that `python` runs, is new enough and has `venv` with `ensurepip`
/// (Debian ships those apart, in python3-venv); its "major.minor".
fn probe_python(python: &OsStr) -> Result<String, String> {
    let shown = python.to_string_lossy();
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])",
        ])
        .output()
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => format!("{INSTALL_PYTHON}; `{shown}` was not found"),
            _ => format!("{INSTALL_PYTHON}; `{shown}` did not run: {e}"),
        })?;
    if !out.status.success() {
        return Err(format!(
            "{INSTALL_PYTHON}; `{shown}` lacks venv/ensurepip:\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let parsed = version
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
    match parsed {
        Some(v) if v >= MIN_PYTHON => Ok(version),
        _ => Err(format!("{INSTALL_PYTHON}; `{shown}` is Python {version}")),
    }
}

/// The interpreter of `client`'s environment, made first if missing or
/// made for other requirements.
fn venv_python(client: &Client) -> PathBuf {
    let (python, version) = system_python();
    let root = repo_root().join("target/interop-venvs");
    fs::create_dir_all(&root).expect("create target/interop-venvs");
    let dir = root.join(client.venv);
    let venv_python = dir.join("bin/python");
    let marker = dir.join(".interop-requirements");
    let wanted = format!(
        "python {version} ({})\n{}\n",
        python.display(),
        client.requirements.join("\n")
    );

    // Held until this function returns: other test processes wait here
    // while one of them builds the environment.
    let lock = File::create(root.join(format!("{}.lock", client.venv))).expect("lock file");
    lock.lock().expect("lock the interop venv");

    if venv_python.is_file() && fs::read_to_string(&marker).ok().as_deref() == Some(&wanted) {
        return venv_python;
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("remove {}: {e}", dir.display()));
    }
    eprintln!(
        "creating {} for {} (once; later runs reuse it)",
        dir.display(),
        client.requirements.join(" ")
    );
    let out = Command::new(python)
        .args(["-m", "venv"])
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("{INSTALL_PYTHON}; running it failed: {e}"));
    assert!(
        out.status.success(),
        "{INSTALL_PYTHON}; `{} -m venv` failed:\n{}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&venv_python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--timeout",
            "20",
            "--retries",
            "2",
        ])
        .args(client.requirements)
        .output()
        .unwrap_or_else(|e| panic!("cannot run pip in {}: {e}", dir.display()));
    if !out.status.success() {
        // Leave no half-made environment behind (there is no marker yet).
        let _ = fs::remove_dir_all(&dir);
        panic!(
            "pip could not install {} for the interop tests; they need the Python \
             package index (PyPI, or the index PIP_INDEX_URL names) to be reachable \
             the first time. pip said:\n{}",
            client.requirements.join(" "),
            tail(&String::from_utf8_lossy(&out.stderr), 20)
        );
    }
    fs::write(&marker, &wanted).expect("write the venv marker");
    venv_python
}

// ---------------------------------------------------------------------------
// The host and its agents

/// A fresh agents folder: the four example agents the checks use, with
/// short delays so the run is quick (the countdown still ticks slowly
/// enough to be canceled mid-way).
fn agents_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    fill_agents_folder(
        dir.path(),
        &["echo", "streaming", "countdown", "multi-turn"],
        &[
            ("countdown", "[config]\ntick_ms = \"200\"\n"),
            ("streaming", "[config]\ndelay_ms = \"20\"\n"),
        ],
    );
    dir
}

/// A running `a2a-host serve` on 127.0.0.1:0 with a memory store, killed
/// on drop.
struct Host {
    serve: Serve,
    _cache: tempfile::TempDir,
}

impl Host {
    fn start(agents: &Path) -> Host {
        let cache = tempfile::tempdir().expect("temp dir");
        let mut cmd = a2a_host();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--store", "memory"])
            .arg("--agents")
            .arg(agents)
            .arg("--cache-dir")
            .arg(cache.path());
        Host {
            serve: Serve::start(cmd),
            _cache: cache,
        }
    }
}
