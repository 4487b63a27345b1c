//! `cargo xtask fuzz [--secs N] [--target NAME] [--dev]`: run the property
//! tests of tests/all/fuzz.rs (the host's fuzz targets, the `fuzz::` tests of
//! the `all` test binary) for a time budget each, instead of the handful of
//! cases the ordinary test suite runs.
//!
//! cargo-fuzz needs a nightly toolchain; these targets are proptest
//! strategies on stable Rust. Each target runs batches of random cases until
//! `--secs` (default 60) have passed, prints how many cases it ran and what
//! they ran into, and fails on the first failing case after shrinking it.
//! Its seed lands in `tests/fuzz-regressions/TARGET.txt`, which every later
//! run (including the ordinary suite) replays first.
//!
//! The test guests of tests/agents are built first: mutations of real
//! components are the seeds of the `agent_files` target.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

/// The targets, as named in tests/all/fuzz.rs (`fuzz::fuzz_NAME`).
const TARGETS: &[&str] = &[
    "jsonrpc",
    "rest",
    "compat",
    "agent_files",
    "policy",
    "allowlist",
];

struct Options {
    secs: u64,
    target: Option<String>,
    release: bool,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut opts = Options {
        secs: 60,
        target: None,
        release: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--secs" => {
                let v = args.next().context("`--secs` needs a number of seconds")?;
                opts.secs = v
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .with_context(|| format!("`--secs {v}`: expected a positive number"))?;
            }
            "--target" => {
                let v = args.next().context("`--target` needs a target name")?;
                if !TARGETS.contains(&v.as_str()) {
                    bail!(
                        "unknown fuzz target `{v}`; the targets are {}",
                        TARGETS.join(", ")
                    );
                }
                opts.target = Some(v.clone());
            }
            "--dev" => opts.release = false,
            other => bail!(
                "unknown argument `{other}`; usage: cargo xtask fuzz [--secs N] [--target NAME] [--dev]"
            ),
        }
    }
    Ok(opts)
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Run the fuzz targets; see the module docs.
pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let opts = parse(args)?;
    let started = Instant::now();

    eprintln!("==> building the test guests (tests/agents) for the agent_files seeds");
    let status = cargo()
        .current_dir(root)
        .env_remove("CARGO_TARGET_DIR")
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(root.join("tests/agents/Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("tests/agents/target"))
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("building tests/agents failed ({status})");
    }

    let targets: Vec<&str> = match &opts.target {
        Some(t) => vec![t.as_str()],
        None => TARGETS.to_vec(),
    };
    eprintln!(
        "==> fuzzing {} for {} s each ({} build)",
        targets.join(", "),
        opts.secs,
        if opts.release { "release" } else { "dev" }
    );
    let mut cmd = cargo();
    cmd.current_dir(root)
        .env("A2A_FUZZ_SECS", opts.secs.to_string())
        .args(["test", "-p", "a2a-host", "--test", "all"]);
    if opts.release {
        cmd.arg("--release");
    }
    cmd.args(["--", "--nocapture", "--test-threads", "1"]);
    match &opts.target {
        Some(t) => cmd.args(["--exact", &format!("fuzz::fuzz_{t}")]),
        // Every test of the fuzz module, and only those.
        None => cmd.arg("fuzz::"),
    };
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run cargo test")?;
    let mut summary = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.context("reading the test output")?;
            println!("{line}");
            if let Some(at) = line.find("fuzz target ") {
                summary.push(line[at..].to_string());
            }
        }
    }
    let status = child.wait().context("waiting for cargo test")?;

    println!(
        "\n==> fuzz summary ({:.0} s in all)",
        started.elapsed().as_secs_f64()
    );
    for line in &summary {
        println!("  {line}");
    }
    if !status.success() {
        bail!("a fuzz target failed ({status}); its seed is in tests/fuzz-regressions/");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_parse() {
        let o = parse(&args(&[])).unwrap();
        assert_eq!((o.secs, o.target, o.release), (60, None, true));
        let o = parse(&args(&["--secs", "5", "--target", "rest", "--dev"])).unwrap();
        assert_eq!(
            (o.secs, o.target.as_deref(), o.release),
            (5, Some("rest"), false)
        );
        assert!(parse(&args(&["--secs", "0"])).is_err());
        assert!(parse(&args(&["--secs"])).is_err());
        assert!(parse(&args(&["--target", "nope"])).is_err());
        assert!(parse(&args(&["--fast"])).is_err());
    }
}
