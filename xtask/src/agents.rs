//! `cargo xtask agents`: build every example agent as a WebAssembly
//! component and install it at `target/agents/NAME.wasm`.
//!
//! 1. Make sure the `wasm32-wasip2` target is installed (`rustup target add`
//!    if it is not).
//! 2. Ask `cargo metadata` which crates of the `examples/` workspace are
//!    agents: those with a `cdylib` target. NAME is the package name, so
//!    `multi-turn` stays `multi-turn` although rustc writes `multi_turn.wasm`.
//! 3. Build them all with one `cargo build --release --target wasm32-wasip2`
//!    and read the produced `.wasm` paths from cargo's JSON messages (no
//!    guessing of target directories).
//! 4. Copy each to `target/agents/NAME.wasm` through a temporary file and a
//!    rename, so a reader (or a second `cargo xtask agents` running at the
//!    same time) never sees a half-written file. An unchanged component is
//!    not rewritten, so a repeated run touches nothing; cargo's own
//!    fingerprints make the build step a no-op too.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

/// The compilation target of every agent.
pub const TARGET: &str = "wasm32-wasip2";

/// The first eight bytes of a WebAssembly *component* (binary format
/// version 0x0d, layer 1); a core module has layer 0.
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// Flags that a parent build (coverage, sanitizers, a `cargo test` of the
/// host) may have exported for *its* target; they must not leak into the
/// wasm build. Target-specific variables such as
/// `CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS` are still honoured.
const INHERITED_FLAGS: [&str; 3] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
];

/// One agent crate of the examples workspace.
#[derive(Debug)]
struct AgentCrate {
    /// The package name: the agent's name and its file name in
    /// `target/agents`.
    name: String,
    manifest_path: PathBuf,
}

/// What happened to one installed component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Install {
    Updated,
    Unchanged,
}

/// Build all example agents and install them into `<root>/target/agents`.
pub fn run(root: &Path) -> Result<()> {
    let examples = root.join("examples");
    let manifest = examples.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("no examples workspace at {}", manifest.display());
    }

    ensure_target(&examples)?;
    let agents = discover(&manifest)?;
    if agents.is_empty() {
        bail!(
            "{} has no agent crates (crate-type cdylib)",
            manifest.display()
        );
    }
    let wasm_files = build(&manifest)?;

    let out_dir = root.join("target").join("agents");
    fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let mut report = Vec::with_capacity(agents.len());
    for agent in &agents {
        let Some(wasm) = wasm_files.get(&agent.manifest_path) else {
            bail!("cargo reported no .wasm file for agent `{}`", agent.name);
        };
        let dest = out_dir.join(format!("{}.wasm", agent.name));
        let outcome = install(wasm, &dest)?;
        let size = fs::metadata(&dest)
            .with_context(|| format!("cannot stat {}", dest.display()))?
            .len();
        report.push((agent.name.as_str(), size, outcome));
    }

    let shown = out_dir.strip_prefix(root).unwrap_or(&out_dir);
    println!("agents: {} components in {}", report.len(), shown.display());
    for (name, size, outcome) in report {
        let what = match outcome {
            Install::Updated => "updated",
            Install::Unchanged => "unchanged",
        };
        println!(
            "  {:<24} {:>9.1} KiB  {what}",
            format!("{name}.wasm"),
            size as f64 / 1024.0
        );
    }
    Ok(())
}

/// The cargo that runs us (`cargo xtask` sets `CARGO`), else the one on
/// `PATH`, without flags meant for another target ([`INHERITED_FLAGS`]).
pub(crate) fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    for var in INHERITED_FLAGS {
        command.env_remove(var);
    }
    command
}

/// Install the wasm32-wasip2 standard library if the toolchain lacks it.
/// Runs in `dir` so that `rust-toolchain.toml` picks the toolchain.
fn ensure_target(dir: &Path) -> Result<()> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .with_context(|| format!("cannot run {}", rustc.to_string_lossy()))?;
    if !output.status.success() {
        bail!(
            "`rustc --print sysroot` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if sysroot.join("lib").join("rustlib").join(TARGET).is_dir() {
        return Ok(());
    }

    eprintln!("agents: installing the {TARGET} target (rustup target add {TARGET})");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .current_dir(dir)
        .status()
        .with_context(|| {
            format!(
                "the {TARGET} target is missing and rustup could not be run; \
                 install the target for your toolchain"
            )
        })?;
    if !status.success() {
        bail!("`rustup target add {TARGET}` failed ({status})");
    }
    Ok(())
}

/// The agent crates of the workspace: packages with a `cdylib` target.
fn discover(manifest: &Path) -> Result<Vec<AgentCrate>> {
    let output = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed ({})", output.status);
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed bad JSON")?;
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata without `packages`")?;

    let mut agents = Vec::new();
    for package in packages {
        let is_agent = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .any(is_cdylib);
        if !is_agent {
            continue;
        }
        let (Some(name), Some(manifest_path)) =
            (package["name"].as_str(), package["manifest_path"].as_str())
        else {
            bail!("cargo metadata: a package without name or manifest_path");
        };
        agents.push(AgentCrate {
            name: name.to_string(),
            manifest_path: PathBuf::from(manifest_path),
        });
    }
    agents.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(agents)
}

fn is_cdylib(target: &Value) -> bool {
    target["crate_types"]
        .as_array()
        .is_some_and(|types| types.iter().any(|t| t == "cdylib"))
}

/// Build the whole workspace for wasm32-wasip2 in release mode. Returns the
/// `.wasm` file of each cdylib, keyed by its crate's manifest path.
fn build(manifest: &Path) -> Result<BTreeMap<PathBuf, PathBuf>> {
    let mut child = cargo()
        .args(["build", "--release", "--workspace", "--target", TARGET])
        // Diagnostics stay human-readable on stderr; stdout carries one
        // JSON message per line.
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(manifest)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run cargo build")?;

    let mut wasm_files = BTreeMap::new();
    let stdout = child.stdout.take().context("cargo build stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo build output")?;
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue; // not a JSON message (a build script's stray output)
        };
        if message["reason"] != "compiler-artifact" || !is_cdylib(&message["target"]) {
            continue;
        }
        let Some(manifest_path) = message["manifest_path"].as_str() else {
            continue;
        };
        let wasm = message["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|f| f.ends_with(".wasm"));
        if let Some(wasm) = wasm {
            wasm_files.insert(PathBuf::from(manifest_path), PathBuf::from(wasm));
        }
    }
    let status = child.wait().context("waiting for cargo build")?;
    if !status.success() {
        bail!("building the agents failed ({status}); see cargo's errors above");
    }
    Ok(wasm_files)
}

/// Copy `src` to `dest` atomically, unless `dest` already holds the same
/// bytes.
fn install(src: &Path, dest: &Path) -> Result<Install> {
    let bytes = fs::read(src).with_context(|| format!("cannot read {}", src.display()))?;
    if !bytes.starts_with(&COMPONENT_HEADER) {
        bail!(
            "{} is not a WebAssembly component (was it built for {TARGET}?)",
            src.display()
        );
    }
    if fs::read(dest).is_ok_and(|existing| existing == bytes) {
        return Ok(Install::Unchanged);
    }

    let file_name = dest
        .file_name()
        .context("destination without a file name")?
        .to_string_lossy();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    // Unique per process and moment; the leading dot keeps hot-reload
    // watchers that look for `*.wasm` from picking it up.
    let tmp = dest.with_file_name(format!(".{file_name}.{}.{nanos}.tmp", std::process::id()));
    let written = fs::write(&tmp, &bytes)
        .and_then(|()| fs::rename(&tmp, dest))
        .with_context(|| format!("cannot write {}", dest.display()));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map(|()| Install::Updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn install_writes_once_then_leaves_the_file_alone() {
        let dir = scratch_dir("install");
        let src = dir.join("a.wasm");
        let dest = dir.join("agent.wasm");
        let mut component = COMPONENT_HEADER.to_vec();
        component.extend_from_slice(b"body");
        fs::write(&src, &component).unwrap();

        assert_eq!(install(&src, &dest).unwrap(), Install::Updated);
        assert_eq!(fs::read(&dest).unwrap(), component);
        assert_eq!(install(&src, &dest).unwrap(), Install::Unchanged);

        component.push(b'!');
        fs::write(&src, &component).unwrap();
        assert_eq!(install(&src, &dest).unwrap(), Install::Updated);
        assert_eq!(fs::read(&dest).unwrap(), component);

        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn install_refuses_core_modules() {
        let dir = scratch_dir("core-module");
        let src = dir.join("core.wasm");
        fs::write(&src, [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]).unwrap();
        let err = install(&src, &dir.join("out.wasm")).unwrap_err();
        assert!(
            err.to_string().contains("not a WebAssembly component"),
            "{err}"
        );
        assert!(!dir.join("out.wasm").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
