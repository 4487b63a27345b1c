//! The WebAssembly guests as real `.wasm` files, each set built once per
//! test process: the example agents (`cargo xtask agents` ->
//! target/agents/NAME.wasm) and the misbehaving test guests of tests/agents
//! (built for wasm32-wasip2). When another process built them already,
//! cargo finds nothing to do.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::isolate;

/// The repository root (the parent of `host/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// `cargo`, as the one running the tests, in the repository root.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(repo_root());
    cmd
}

/// Runs `cmd`; its stderr in the error if it fails.
fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `target/agents`, after one `cargo xtask agents` per test process (a
/// test running alone in a child process finds them built by its parent).
/// Panics with cargo's output if the build fails.
pub fn examples() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let dir = repo_root().join("target").join("agents");
        if !isolate::is_child() {
            let mut cmd = cargo();
            cmd.args(["xtask", "agents"]);
            run(cmd, "cargo xtask agents")?;
        }
        Ok(dir)
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

/// Where the test guests of tests/agents land (built or not).
pub fn test_guests_dir() -> PathBuf {
    repo_root().join("tests/agents/target/wasm32-wasip2/release")
}

/// The folder of the test guests, after one build per test process (as
/// [`examples`]).
fn test_guests() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        if !isolate::is_child() {
            let root = repo_root();
            let mut cmd = cargo();
            cmd.env_remove("CARGO_TARGET_DIR")
                .args([
                    "build",
                    "--release",
                    "--target",
                    "wasm32-wasip2",
                    "--manifest-path",
                ])
                .arg(root.join("tests/agents/Cargo.toml"))
                .arg("--target-dir")
                .arg(root.join("tests/agents/target"));
            run(cmd, "building tests/agents")?;
        }
        Ok(test_guests_dir())
    });
    match built {
        Ok(dir) => dir,
        Err(e) => panic!("building the test guests: {e}"),
    }
}

/// The test guest `name` (tests/agents/NAME, `-` written `_`), built.
pub fn guest(name: &str) -> PathBuf {
    let path = test_guests().join(format!("{}.wasm", name.replace('-', "_")));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// Builds both sets now (what a child process of [`isolate`] will not do).
pub fn build_all() {
    examples();
    test_guests();
}

/// Puts copies of the example agents `names` in the agents folder `dir`
/// (made if missing), and each `(NAME, TOML)` of `policies` as `NAME.toml`
/// beside them.
pub fn fill_agents_folder(dir: &Path, names: &[&str], policies: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for name in names {
        let wasm = example(name);
        std::fs::copy(&wasm, dir.join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("copy {}: {e}", wasm.display()));
    }
    for (name, toml) in policies {
        std::fs::write(dir.join(format!("{name}.toml")), toml).unwrap();
    }
}
