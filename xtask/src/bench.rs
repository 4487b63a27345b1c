//! `cargo xtask bench [ARGS…]`: build what the benchmark needs, in release,
//! then run it (`target/release/bench run ARGS…`).
//!
//! 1. The example agents (`cargo xtask agents`) and the `hostile` test
//!    guest (tests/agents), for wasm32-wasip2.
//! 2. `cargo build --release` of `a2a-host`, `bench` and `bench-ceiling`,
//!    timed: the first build compiles wasmtime and takes minutes; later ones
//!    are incremental.
//! 3. The run itself, which pins the servers and the load generator to
//!    separate cores, prints the table and writes
//!    `target/bench/results.json` (and `results.md`, the table alone).
//!
//! Arguments are passed to `bench run` (see `cargo xtask bench --help`);
//! `--quick` gives a short trial run.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

/// See the module docs.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return status(
            Command::new(root.join("target/release/bench"))
                .arg("run")
                .arg("--help"),
            "bench run --help (build it first with `cargo xtask bench`)",
        );
    }

    let t = Instant::now();
    crate::agents::run(root)?;
    status(
        cargo()
            .args(["build", "--release", "--target", crate::agents::TARGET])
            .arg("--manifest-path")
            .arg(root.join("tests/agents/Cargo.toml"))
            .arg("--target-dir")
            .arg(root.join("tests/agents/target")),
        "building the test guests (tests/agents)",
    )?;
    let guests = t.elapsed().as_secs_f64();

    let t = Instant::now();
    status(
        cargo()
            .current_dir(root)
            .args(["build", "--release", "-p", "a2a-host", "-p", "bench"])
            .args([
                "--bin",
                "a2a-host",
                "--bin",
                "bench",
                "--bin",
                "bench-ceiling",
            ]),
        "cargo build --release (a2a-host, bench)",
    )?;
    let build = t.elapsed().as_secs_f64();
    eprintln!("bench: guests built in {guests:.0} s, release build took {build:.0} s");

    status(
        Command::new(root.join("target/release/bench"))
            .current_dir(root)
            .arg("run")
            .arg("--build-secs")
            .arg(format!("{build:.1}"))
            .args(args),
        "the benchmark",
    )
}

/// The cargo that runs us, without flags meant for another target.
fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        command.env_remove(var);
    }
    command
}

fn status(command: &mut Command, what: &str) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}
