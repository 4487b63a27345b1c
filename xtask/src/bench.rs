//! `cargo xtask bench [--profile NAME] [ARGS…]`: build what the benchmark
//! needs, then run it (`target/PROFILE/bench run ARGS…`).
//!
//! 1. At the same time, on two threads:
//!    - the example agents (`cargo xtask agents`) and the `hostile` test
//!      guest (tests/agents), for wasm32-wasip2, each workspace in its own
//!      target folder;
//!    - `cargo build --profile PROFILE` of `a2a-host`, `bench` and
//!      `bench-ceiling`: `release` (fat LTO, what a2a-host ships as) unless
//!      `--profile` names another, e.g. `fast-build` (no LTO: half the
//!      clean build time, figures that compare only with each other).
//!
//!    The host build compiles wasmtime and takes minutes from clean; the
//!    guests' build runs at the lowest CPU priority, so it takes the core
//!    that the host build's single-threaded stretches (a long crate, the
//!    fat-LTO link) leave idle instead of slowing its parallel part. Both
//!    are timed.
//! 2. The run itself, which pins the servers and the load generator to
//!    separate cores, prints the table and writes
//!    `target/bench/results.json` (and `results.md`, the table alone).
//!
//! Other arguments are passed to `bench run` (see `cargo xtask bench
//! --help`); `--quick` gives a short trial run.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use crate::agents::cargo;

/// The cargo profile the bench builds with unless `--profile` says
/// otherwise.
const DEFAULT_PROFILE: &str = "release";

/// See the module docs.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let (profile, args) = split_profile(args)?;
    let bench_bin = root.join("target").join(&profile).join("bench");
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return status(
            Command::new(&bench_bin).arg("run").arg("--help"),
            "bench run --help (build it first with `cargo xtask bench`)",
        );
    }

    let started = Instant::now();
    let (guests, build) = std::thread::scope(|scope| {
        let guests = scope.spawn(|| -> Result<f64> {
            lowest_priority();
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
            Ok(t.elapsed().as_secs_f64())
        });
        let t = Instant::now();
        let build = status(
            cargo()
                .current_dir(root)
                .args([
                    "build",
                    "--profile",
                    &profile,
                    "-p",
                    "a2a-host",
                    "-p",
                    "bench",
                    // The cluster phase serves from PostgreSQL + Redis.
                    "--features",
                    "a2a-host/full",
                ])
                .args([
                    "--bin",
                    "a2a-host",
                    "--bin",
                    "bench",
                    "--bin",
                    "bench-ceiling",
                ]),
            &format!("cargo build --profile {profile} (a2a-host, bench)"),
        )
        .map(|()| t.elapsed().as_secs_f64());
        let guests = guests
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the guest build thread panicked")));
        (guests, build)
    });
    let (guests, build) = (guests?, build?);
    let total = started.elapsed().as_secs_f64();
    eprintln!(
        "bench: guests built in {guests:.0} s and the {profile} build in {build:.0} s, \
         side by side: {total:.0} s"
    );

    status(
        Command::new(&bench_bin)
            .current_dir(root)
            .arg("run")
            .arg("--build-secs")
            .arg(format!("{total:.1}"))
            .args(args),
        "the benchmark",
    )
}

/// Lower the calling thread's CPU priority to the least (nice 19), so that
/// the cargo processes it starts, which inherit it, take only what the
/// host build leaves: the fat-LTO link's idle core, not a share of the
/// parallel part. (Linux keeps a nice value per thread.) Best effort.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; `who` 0 is this thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

/// Take `--profile NAME` (or `--profile=NAME`) out of the arguments.
fn split_profile(args: &[String]) -> Result<(String, Vec<String>)> {
    let mut profile = None;
    let mut rest = Vec::with_capacity(args.len());
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = if arg == "--profile" {
            Some(
                args.next()
                    .context("`--profile` needs a cargo profile name (release, fast-build)")?
                    .clone(),
            )
        } else {
            arg.strip_prefix("--profile=").map(str::to_owned)
        };
        match value {
            Some(name) if name.is_empty() || name.contains(['/', '\\']) => {
                bail!("`--profile {name}` is not a cargo profile name")
            }
            Some(name) => profile = Some(name),
            None => rest.push(arg.clone()),
        }
    }
    Ok((profile.unwrap_or_else(|| DEFAULT_PROFILE.into()), rest))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_profile_is_taken_out_and_the_rest_passed_on() {
        let (profile, rest) = split_profile(&strings(&[
            "--quick",
            "--profile",
            "fast-build",
            "--skip",
            "cluster",
        ]))
        .unwrap();
        assert_eq!(profile, "fast-build");
        assert_eq!(rest, strings(&["--quick", "--skip", "cluster"]));

        let (profile, rest) = split_profile(&strings(&["--profile=fast-build"])).unwrap();
        assert_eq!(profile, "fast-build");
        assert!(rest.is_empty());

        let (profile, rest) = split_profile(&strings(&["--quick"])).unwrap();
        assert_eq!(profile, DEFAULT_PROFILE);
        assert_eq!(rest, strings(&["--quick"]));
    }

    #[test]
    fn a_missing_or_odd_profile_name_is_refused() {
        let err = split_profile(&strings(&["--profile"])).unwrap_err();
        assert!(
            err.to_string().contains("needs a cargo profile name"),
            "{err}"
        );
        let err = split_profile(&strings(&["--profile=../x"])).unwrap_err();
        assert!(
            err.to_string().contains("not a cargo profile name"),
            "{err}"
        );
        assert!(split_profile(&strings(&["--profile="])).is_err());
    }
}
