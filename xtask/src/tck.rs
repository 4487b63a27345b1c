//! `cargo xtask tck`: run the official A2A conformance kit (a2a-tck, branch
//! `1.0-dev`) against `a2a-host serve` with the `tck` example agent as the
//! default agent, on both the JSON-RPC and HTTP+JSON bindings.
//!
//! The kit is not part of this repository. Point `A2A_TCK_DIR` at a checkout
//! of it; the first run creates a Python virtual environment for it in
//! `target/tck-venv` (or uses the interpreter in `A2A_TCK_PYTHON`). Extra
//! arguments are passed to the kit's `run_tck.py` (e.g. `--level must`, or
//! `-- -k test_subscribe`).
//!
//! The push-notification tests run too: the host is started with
//! `--push-allow-private` (the kit's webhook receiver listens on this
//! machine, an address the host refuses by default) and the kit is told to
//! give the host `127.0.0.1` as the receiver's address
//! (`-- --webhook-host=127.0.0.1`, unless the arguments after `--` already
//! name one).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const HOW_TO_GET_IT: &str = "\
The A2A TCK is not part of this repository. Get a copy of its 1.0 branch and
point A2A_TCK_DIR at it:

    git clone --branch 1.0-dev https://github.com/a2aproject/a2a-tck /path/to/a2a-tck
    A2A_TCK_DIR=/path/to/a2a-tck cargo xtask tck

It needs Python 3.11+ (the first run creates target/tck-venv and installs
the kit's dependencies from PyPI).";

/// Kills the server when the run ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    let Some(tck) = std::env::var_os("A2A_TCK_DIR").map(PathBuf::from) else {
        bail!("A2A_TCK_DIR is not set.\n\n{HOW_TO_GET_IT}");
    };
    if !tck.join("run_tck.py").is_file() {
        bail!(
            "{} has no run_tck.py, so it is not an a2a-tck checkout.\n\n{HOW_TO_GET_IT}",
            tck.display()
        );
    }
    let python = python(root, &tck)?;

    crate::agents::run(root)?;
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["build", "--release", "-p", "a2a-host", "--bin", "a2a-host"])
        .status()
        .context("building a2a-host")?;
    if !status.success() {
        bail!("building a2a-host failed");
    }

    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Command::new(root.join("target/release/a2a-host"))
        // The TCK validates cards against the strict 1.0 schema, which
        // refuses the 0.3 members a2a-host adds for older clients.
        .args([
            "serve",
            "--store",
            "memory",
            "--default-agent",
            "tck",
            "--card-v03",
            "false",
            // The kit's webhook receiver is on 127.0.0.1, over plain http.
            "--push-allow-private",
        ])
        .arg("--agents")
        .arg(root.join("target/agents"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env("A2A_HOST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .context("starting a2a-host")?;
    let _server = Server(server);
    wait_ready(port)?;
    println!(
        "a2a-host is serving {base}; running the TCK from {}",
        tck.display()
    );

    let mut cmd = Command::new(&python);
    cmd.current_dir(&tck)
        .args(["run_tck.py", "--sut-host", &base]);
    cmd.args(run_tck_args(extra));
    let status = cmd.status().context("running run_tck.py")?;
    summarize(&tck.join("reports/compatibility.json"));
    if !status.success() {
        bail!("the TCK reported failures ({status})");
    }
    Ok(())
}

/// The arguments after `run_tck.py --sut-host URL`: the caller's, with
/// both bindings unless they name `--transport`, and the kit's pytest option
/// `--webhook-host=127.0.0.1` after `--` unless they name a webhook host.
fn run_tck_args(extra: &[String]) -> Vec<String> {
    let (options, pytest) = match extra.iter().position(|a| a == "--") {
        Some(i) => (&extra[..i], &extra[i + 1..]),
        None => (extra, &[][..]),
    };
    let mut args: Vec<String> = options.to_vec();
    if !options
        .iter()
        .any(|a| a == "--transport" || a.starts_with("--transport="))
    {
        args.extend(["--transport".into(), "jsonrpc,http_json".into()]);
    }
    args.push("--".into());
    if !pytest
        .iter()
        .any(|a| a == "--webhook-host" || a.starts_with("--webhook-host="))
    {
        args.push("--webhook-host=127.0.0.1".into());
    }
    args.extend(pytest.iter().cloned());
    args
}

/// The interpreter to run the kit with: `A2A_TCK_PYTHON`, or a venv made
/// once in target/tck-venv.
fn python(root: &Path, tck: &Path) -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("A2A_TCK_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let venv = root.join("target/tck-venv");
    let python = venv.join("bin/python");
    let marker = venv.join(".installed");
    if !marker.exists() {
        println!("creating {} (one time)", venv.display());
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .context("python3 is needed to run the TCK (install Python 3.11+)")?;
        if !status.success() {
            bail!("python3 -m venv failed");
        }
        let status = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "-e"])
            .arg(tck)
            .status()
            .context("pip install of the TCK")?;
        if !status.success() {
            bail!("installing the TCK's dependencies failed");
        }
        std::fs::write(&marker, b"")?;
    }
    Ok(python)
}

fn wait_ready(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = stream.write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let mut reply = String::new();
            let _ = stream.read_to_string(&mut reply);
            if reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("a2a-host did not become ready on port {port}")
}

/// Prints the kit's summary and every requirement that did not pass.
fn summarize(report: &Path) {
    let Ok(text) = std::fs::read_to_string(report) else {
        return;
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    println!("\nTCK summary ({}):", report.display());
    for key in [
        "must_compatibility",
        "should_compatibility",
        "may_compatibility",
        "overall_compatibility",
    ] {
        if let Some(v) = json["summary"][key].as_str() {
            println!("  {key:<22} {v}");
        }
    }
    if let Some(reqs) = json["per_requirement"].as_object() {
        for (id, r) in reqs {
            let status = r["status"].as_str().unwrap_or("");
            if status == "FAIL" {
                println!("  FAIL {id} ({}): {}", r["level"], r["errors"]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::run_tck_args;

    fn args(a: &[&str]) -> Vec<String> {
        run_tck_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_to_both_bindings_and_the_loopback_webhook_host() {
        assert_eq!(
            args(&[]),
            [
                "--transport",
                "jsonrpc,http_json",
                "--",
                "--webhook-host=127.0.0.1"
            ]
        );
    }

    #[test]
    fn keeps_the_callers_options_and_pytest_arguments_apart() {
        assert_eq!(
            args(&["--level", "must", "--", "-k", "push"]),
            [
                "--level",
                "must",
                "--transport",
                "jsonrpc,http_json",
                "--",
                "--webhook-host=127.0.0.1",
                "-k",
                "push"
            ]
        );
    }

    #[test]
    fn the_caller_may_name_the_transport_and_the_webhook_host() {
        assert_eq!(
            args(&["--transport=jsonrpc", "--", "--webhook-host", "10.0.0.2"]),
            ["--transport=jsonrpc", "--", "--webhook-host", "10.0.0.2"]
        );
    }
}
