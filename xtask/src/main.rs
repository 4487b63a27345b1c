//! Developer commands, run as `cargo xtask <command>` (alias in
//! `.cargo/config.toml`). Plain `std::process::Command` calls, no build
//! scripts and no extra tools: everything needed is cargo and rustup.
//!
//! Commands:
//! - `agents`: build every example agent (`examples/*`) for wasm32-wasip2 and
//!   put it at `target/agents/NAME.wasm`; see [`agents`].
//! - `tck`: run the official A2A conformance kit against `a2a-host serve`;
//!   see [`tck`].
//! - `bench`: build in release and run the benchmark (a2a-host against a
//!   minimal A2A server); see [`bench`].
//! - `fuzz`: run the fuzz targets of tests/all/fuzz.rs for a time budget each;
//!   see [`fuzz`].

mod agents;
mod bench;
mod fuzz;
mod tck;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  agents    build the example agents (examples/*) as wasm32-wasip2 components
            into target/agents/NAME.wasm
  tck       run the official A2A TCK against a2a-host (needs A2A_TCK_DIR;
            extra arguments go to the kit's run_tck.py)
  bench     build in release and run the benchmark against the ceiling
            (arguments go to `bench run`; --quick for a short trial)
  fuzz      run the fuzz targets (tests/all/fuzz.rs) for a time budget each:
            [--secs N] (default 60) [--target NAME] [--dev]
  help      show this message
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match command.as_str() {
        "agents" => no_arguments(command, rest).and_then(|()| agents::run(&repo_root())),
        "tck" => tck::run(&repo_root(), rest),
        "bench" => bench::run(&repo_root(), rest),
        "fuzz" => fuzz::run(&repo_root(), rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprintln!("error: unknown command `{other}`\n");
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn no_arguments(command: &str, rest: &[String]) -> anyhow::Result<()> {
    match rest.first() {
        None => Ok(()),
        Some(arg) => anyhow::bail!("`{command}` takes no arguments, got `{arg}`"),
    }
}

/// The repository root: the parent of this crate's directory.
fn repo_root() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().unwrap_or(xtask_dir).to_path_buf()
}
