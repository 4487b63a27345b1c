//! The example agents as real `.wasm` files, built once per test binary.
//!
//! Test files include this with `#[path = "common/agents.rs"] mod agents;`
//! (it is not part of `common`, so binaries that need only this stay small).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root (the parent of `host/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// `target/agents`, after one `cargo xtask agents` per test binary (a no-op
/// when another binary built them already). Panics with cargo's output if
/// the build fails.
pub fn examples() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let root = repo_root();
        let out = Command::new(env!("CARGO"))
            .current_dir(&root)
            .args(["xtask", "agents"])
            .output()
            .map_err(|e| format!("cannot run cargo xtask agents: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cargo xtask agents failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(root.join("target").join("agents"))
    });
    match built {
        Ok(dir) => dir,
        Err(e) => panic!("building the example agents: {e}"),
    }
}

/// `target/agents/NAME.wasm`, built.
pub fn example(name: &str) -> PathBuf {
    let path = examples().join(format!("{name}.wasm"));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}
