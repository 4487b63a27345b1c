//! `a2a-host new NAME`: a new agent project that builds as is.
//!
//! The project depends on the `a2a-guest` SDK of the a2a-host source tree
//! this binary was built from (a path dependency), builds for
//! `wasm32-wasip2` by default (`.cargo/config.toml`), and contains an echo
//! agent to start from.

use std::path::{Path, PathBuf};

/// Creates the project `name` in `dir` (default `./NAME`). Fails if the
/// folder exists and is not empty.
pub fn new_agent(name: &str, dir: Option<&Path>) -> Result<(), String> {
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(name));
    let files = project_files(name, &sdk_dependency())?;
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .next()
            .is_some()
    {
        return Err(format!("{} exists and is not empty", dir.display()));
    }
    for (rel, content) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, content)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let crate_name = name.replace('-', "_");
    println!(
        "Created agent `{name}` in {dir}.\n\n\
         Build it:   cd {dir} && cargo build --release\n\
         Serve it:   cp target/wasm32-wasip2/release/{crate_name}.wasm AGENTS_DIR/{name}.wasm\n\
         (needs the wasm32-wasip2 target: rustup target add wasm32-wasip2)",
        dir = dir.display()
    );
    Ok(())
}

/// The `a2a-guest` dependency line: a path to the SDK of this source tree
/// when it is still there, else the published crate.
fn sdk_dependency() -> String {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk");
    match sdk.canonicalize() {
        Ok(path) if path.join("Cargo.toml").exists() => {
            format!("a2a-guest = {{ path = {:?} }}", path.display().to_string())
        }
        _ => format!("a2a-guest = \"{}\"", env!("CARGO_PKG_VERSION")),
    }
}

/// Every file of a new project, by relative path.
pub fn project_files(name: &str, sdk_dependency: &str) -> Result<Vec<(String, String)>, String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || !name.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Err(format!(
            "`{name}` is not a valid agent name: use 1-64 letters, digits, `-` or `_`, starting with a letter"
        ));
    }
    let type_name: String = name
        .split(['-', '_'])
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let cargo_toml = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
{sdk_dependency}

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true

# Keep this project out of any enclosing workspace.
[workspace]
"#
    );
    let lib_rs = format!(
        r#"//! The `{name}` agent. Build with `cargo build --release`; serve the
//! resulting `.wasm` with `a2a-host serve`.

use a2a_guest::prelude::*;

struct {type_name};

impl Agent for {type_name} {{
    fn card() -> Card {{
        Card::new("{name}", "Repeats what you say")
    }}

    fn handle(ctx: &Context) -> Result<(), AgentError> {{
        Ok(ctx.complete_text(ctx.text())?)
    }}
}}

a2a_guest::export_agent!({type_name});
"#
    );
    let config = "[build]\ntarget = \"wasm32-wasip2\"\n".to_string();
    let readme = format!(
        "# {name}\n\nAn A2A agent for a2a-host.\n\n```sh\nrustup target add wasm32-wasip2\ncargo build --release\ncp target/wasm32-wasip2/release/{crate_name}.wasm path/to/agents/{name}.wasm\n```\n\nThe host serves it at `/agents/{name}` within two seconds.\n",
        crate_name = name.replace('-', "_")
    );
    let gitignore = "/target\n".to_string();
    Ok(vec![
        ("Cargo.toml".into(), cargo_toml),
        ("src/lib.rs".into(), lib_rs),
        (".cargo/config.toml".into(), config),
        ("README.md".into(), readme),
        (".gitignore".into(), gitignore),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(project_files("my-agent", "x").is_ok());
        for bad in ["", "1abc", "a/b", "a b", "../x"] {
            assert!(project_files(bad, "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn the_agent_type_is_camel_case() {
        let files = project_files("my-agent_x", "x").unwrap();
        let lib = &files.iter().find(|(p, _)| p == "src/lib.rs").unwrap().1;
        assert!(lib.contains("struct MyAgentX;"), "{lib}");
    }
}
