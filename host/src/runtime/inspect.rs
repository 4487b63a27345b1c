//! `a2a-host inspect FILE.wasm`: what a component imports and exports, its
//! card, and whether this host can serve it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::component::{LoadError, WasmRuntime, is_valid_agent_name, item_kind, read_wasm};
use super::engine::RuntimeConfig;
use super::policy::AgentPolicy;
use crate::agent::AgentInfo;

/// What `inspect` found out about a component.
#[derive(Debug, Clone)]
pub struct InspectReport {
    /// The component file that was inspected.
    pub path: PathBuf,
    /// The file size in bytes.
    pub size: usize,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// `name (kind)` of each import.
    pub imports: Vec<String>,
    /// `name (kind)` of each export.
    pub exports: Vec<String>,
    /// The card as it would be served (policy overrides applied), when the
    /// component is a valid agent.
    pub card: Option<AgentInfo>,
    /// The policy file used, if one exists next to the component.
    pub policy_file: Option<PathBuf>,
    /// Why the component cannot be served, if it cannot.
    pub problem: Option<String>,
}

impl InspectReport {
    /// Whether the host can serve this component.
    pub fn is_valid(&self) -> bool {
        self.problem.is_none()
    }
}

impl fmt::Display for InspectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "file:    {}", self.path.display())?;
        writeln!(f, "size:    {} bytes", self.size)?;
        writeln!(f, "sha256:  {}", self.sha256)?;
        if let Some(p) = &self.policy_file {
            writeln!(f, "policy:  {}", p.display())?;
        }
        writeln!(f, "imports:")?;
        for i in &self.imports {
            writeln!(f, "  {i}")?;
        }
        writeln!(f, "exports:")?;
        for e in &self.exports {
            writeln!(f, "  {e}")?;
        }
        if let Some(card) = &self.card {
            writeln!(f, "card:")?;
            writeln!(f, "  name:        {}", card.name)?;
            writeln!(f, "  description: {}", card.description)?;
            writeln!(f, "  version:     {}", card.version)?;
            writeln!(f, "  streaming:   {}", card.streaming)?;
            let modes = |m: &[String]| {
                if m.is_empty() {
                    "text/plain".to_string()
                } else {
                    m.join(", ")
                }
            };
            writeln!(f, "  input:       {}", modes(&card.input_modes))?;
            writeln!(f, "  output:      {}", modes(&card.output_modes))?;
            for s in &card.skills {
                writeln!(f, "  skill {}: {} — {}", s.id, s.name, s.description)?;
            }
        }
        match &self.problem {
            None => writeln!(f, "status:  valid a2a:agent component"),
            Some(p) => writeln!(f, "status:  NOT SERVABLE: {p}"),
        }
    }
}

/// Inspect the component at `path` with a private runtime (on-demand
/// allocation, default settings). `Err` means the file is not a component
/// at all; a component that is not a valid agent gives `Ok` with
/// [`InspectReport::problem`] set.
pub async fn inspect(path: &Path) -> Result<InspectReport, String> {
    let runtime = WasmRuntime::new(RuntimeConfig {
        pooling: Some(false),
        ..Default::default()
    })?;
    runtime.inspect(path).await
}

impl WasmRuntime {
    /// Inspect the component at `path`; see [`inspect`].
    pub async fn inspect(&self, path: &Path) -> Result<InspectReport, String> {
        let bytes = read_wasm(path).await.map_err(|e| e.to_string())?;
        let size = bytes.len();
        let compiled = self
            .compile(Arc::new(bytes.clone()))
            .await
            .map_err(|e| e.to_string())?;
        let engine = self.engine();
        let ty = compiled.component.component_type();
        let imports = ty
            .imports(engine)
            .map(|(n, e)| format!("{n} ({})", item_kind(&e.ty)))
            .collect();
        let exports = ty
            .exports(engine)
            .map(|(n, e)| format!("{n} ({})", item_kind(&e.ty)))
            .collect();
        let policy_path = path.with_extension("toml");
        let policy_file = policy_path.is_file().then(|| policy_path.clone());
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| is_valid_agent_name(s))
            .unwrap_or("agent")
            .to_string();

        let mut report = InspectReport {
            path: path.to_path_buf(),
            size,
            sha256: compiled.digest.clone(),
            imports,
            exports,
            card: None,
            policy_file,
            problem: None,
        };
        let loaded: Result<_, LoadError> = async {
            let policy = AgentPolicy::load(&policy_path, &self.config().default_limits)
                .map_err(LoadError::Policy)?;
            self.load(&name, bytes, policy, Some(path.to_path_buf()))
                .await
        }
        .await;
        match loaded {
            Ok(agent) => report.card = Some(crate::agent::Agent::info(&agent)),
            Err(e) => report.problem = Some(e.to_string()),
        }
        Ok(report)
    }
}
