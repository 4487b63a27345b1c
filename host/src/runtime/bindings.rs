//! The `a2a:agent` world as Rust: generated bindings, the per-store state,
//! and the host side of the `task-context` resource.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::budget::{TurnBudget, artifact_size, parts_size};
use super::http::OutboundHttp;
use super::output::{GuestOutput, OutputBudget};
use super::policy::Limits;
use crate::agent::{ActionError, TaskContext};
use crate::model::{Artifact, Message, Metadata, Part, PartContent, Role};

/// Code generated from `wit/agent.wit`.
pub(crate) mod generated {
    wasmtime::component::bindgen!({
        world: "agent",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "a2a:agent/types.task-context": crate::runtime::bindings::TaskContextResource,
        },
    });
}

pub(crate) use generated::a2a::agent::types as wit;
pub(crate) use generated::{Agent as AgentBindings, AgentPre};

/// Longest `log` line an agent may write; longer lines are cut.
const MAX_LOG_LINE: usize = 8 * 1024;
/// Longest `fail` / `reject` reason; longer ones are cut.
const MAX_REASON: usize = 16 * 1024;

/// What a guest's `task-context` handle points at.
pub struct TaskContextResource {
    ctx: TaskContext,
}

impl TaskContextResource {
    pub(crate) fn new(ctx: TaskContext) -> Self {
        TaskContextResource { ctx }
    }
}

/// Tracks linear memory across all memories of one instance and records
/// whether the cap was the reason a growth failed.
pub(crate) struct MemoryLimiter {
    limit: usize,
    used: usize,
    /// Set when a growth was refused because of the cap.
    pub exceeded: bool,
}

/// Table elements one table may have; far more than real programs use.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl MemoryLimiter {
    pub(crate) fn new(limit: usize) -> Self {
        MemoryLimiter {
            limit,
            used: 0,
            exceeded: false,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = desired.saturating_sub(current);
        let total = self.used.saturating_add(grow);
        if total > self.limit {
            self.exceeded = true;
            // An error (not `Ok(false)`) traps right here, instead of letting
            // the guest's allocator abort with a less helpful message.
            return Err(wasmtime::format_err!(
                "memory limit of {} MiB reached (asked for {} MiB)",
                self.limit / (1024 * 1024),
                total.div_ceil(1024 * 1024)
            ));
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// What one store (one instance, one turn or one card read) carries.
pub(crate) struct HostState {
    table: ResourceTable,
    /// Made by the guest's first WASI call ([`sandboxed_wasi`]): most turns
    /// make none (an echo turn calls only task actions), and making one
    /// seeds random generators twice over (`WasiCtxBuilder::build` starts a
    /// fresh builder), a visible share of a short task's cost.
    wasi: Option<WasiCtx>,
    http: WasiHttpCtx,
    hooks: OutboundHttp,
    pub limiter: MemoryLimiter,
    agent: Arc<str>,
    task: Arc<str>,
    config: Arc<BTreeMap<String, String>>,
    output: Arc<OutputBudget>,
    /// What this turn may still emit.
    pub budget: TurnBudget,
}

/// Inputs of [`HostState::new`].
pub(crate) struct StateParams {
    pub agent: Arc<str>,
    /// The task id, or a placeholder such as `(card)`.
    pub task: Arc<str>,
    pub config: Arc<BTreeMap<String, String>>,
    pub memory_bytes: usize,
    pub http: OutboundHttp,
    pub max_output_bytes: usize,
    /// The agent's limits (for the emit budget of the turn).
    pub limits: Limits,
    /// What earlier turns of the task emitted (per-task limits).
    pub spent: crate::agent::TaskUsage,
}

impl HostState {
    pub(crate) fn new(p: StateParams) -> Self {
        let output = Arc::new(OutputBudget::new(
            p.agent.clone(),
            p.task.clone(),
            p.max_output_bytes,
        ));
        HostState {
            table: ResourceTable::new(),
            wasi: None,
            http: WasiHttpCtx::new(),
            hooks: p.http,
            limiter: MemoryLimiter::new(p.memory_bytes),
            task: p.task,
            config: p.config,
            output,
            budget: TurnBudget::new(p.agent.clone(), &p.limits, p.spent),
            agent: p.agent,
        }
    }

    /// Put a task context in the table for the guest to borrow.
    pub(crate) fn push_context(
        &mut self,
        ctx: TaskContext,
    ) -> wasmtime::Result<Resource<TaskContextResource>> {
        Ok(self.table.push(TaskContextResource::new(ctx))?)
    }

    /// The last lines the guest wrote to stderr (a panic message, usually).
    pub(crate) fn stderr_tail(&self) -> String {
        self.output.stderr_tail()
    }

    fn context(&self, handle: &Resource<TaskContextResource>) -> wasmtime::Result<TaskContext> {
        Ok(self.table.get(handle)?.ctx.clone())
    }

    /// The context of an action on the task. Once the turn hit a limit its
    /// task is over, and the guest was told so: a further action traps.
    fn acting(&self, handle: &Resource<TaskContextResource>) -> wasmtime::Result<TaskContext> {
        if let Some(why) = self.budget.hit() {
            return Err(wasmtime::format_err!(
                "{why}, and kept acting on its task afterwards"
            ));
        }
        self.context(handle)
    }

    /// Charge an action to the turn's budget. When that hits a limit, fail
    /// the task with the reason, log it, and hand the guest
    /// `limit-exceeded`.
    async fn charge(
        &mut self,
        ctx: &TaskContext,
        charge: impl FnOnce(&mut TurnBudget) -> Result<(), String>,
    ) -> Result<(), wit::ActionError> {
        let Err(why) = charge(&mut self.budget) else {
            return Ok(());
        };
        tracing::warn!(agent = %self.agent, task = %self.task, "{why}");
        if let Err(e) = ctx.fail(why.clone()).await {
            tracing::debug!(agent = %self.agent, task = %self.task, "could not fail the task: {e}");
        }
        Err(wit::ActionError::LimitExceeded(why))
    }
}

/// The WASI context of a guest: nothing is granted — no preopened
/// directories, no environment, no arguments, stdin empty, sockets and name
/// lookups denied (wasmtime-wasi's defaults too; spelled out so that a
/// change of defaults cannot open anything) — and stdout and stderr go to
/// the host's log within the turn's output budget.
fn sandboxed_wasi(output: &Arc<OutputBudget>) -> WasiCtx {
    WasiCtx::builder()
        .stdout(GuestOutput::stdout(output.clone()))
        .stderr(GuestOutput::stderr(output.clone()))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }))
        .build()
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: self
                .wasi
                .get_or_insert_with(|| sandboxed_wasi(&self.output)),
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

// ---------------------------------------------------------------------------
// Conversions between the WIT types and the host model

fn parse_json(text: &str, what: &str) -> Result<Value, ActionError> {
    serde_json::from_str(text)
        .map_err(|e| ActionError::InvalidArgument(format!("{what} is not valid JSON: {e}")))
}

fn parse_metadata(text: Option<String>, what: &str) -> Result<Option<Metadata>, ActionError> {
    match text {
        None => Ok(None),
        Some(t) => match parse_json(&t, what)? {
            Value::Object(map) => Ok(Some(map)),
            other => Err(ActionError::InvalidArgument(format!(
                "{what} must be a JSON object, not {}",
                json_kind(&other)
            ))),
        },
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn part_from_wit(p: wit::Part, what: &str) -> Result<Part, ActionError> {
    let content = match p.content {
        wit::PartContent::Text(t) => PartContent::Text(t),
        wit::PartContent::Data(json) => {
            PartContent::Data(parse_json(&json, &format!("{what}.data"))?)
        }
        wit::PartContent::Raw(bytes) => PartContent::Raw(crate::model::Bytes(bytes)),
        wit::PartContent::Url(url) => PartContent::Url(url),
    };
    Ok(Part {
        content,
        metadata: parse_metadata(p.metadata, &format!("{what}.metadata"))?,
        filename: p.filename,
        media_type: p.media_type,
    })
}

fn parts_from_wit(parts: Vec<wit::Part>, what: &str) -> Result<Vec<Part>, ActionError> {
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| part_from_wit(p, &format!("{what}[{i}]")))
        .collect()
}

fn artifact_from_wit(a: wit::Artifact) -> Result<Artifact, ActionError> {
    Ok(Artifact {
        artifact_id: a.artifact_id,
        name: a.name,
        description: a.description,
        parts: parts_from_wit(a.parts, "artifact.parts")?,
        metadata: parse_metadata(a.metadata, "artifact.metadata")?,
        extensions: Vec::new(),
    })
}

fn metadata_to_wit(m: Option<&Metadata>) -> Option<String> {
    m.map(|m| Value::Object(m.clone()).to_string())
}

fn part_to_wit(p: &Part) -> wit::Part {
    wit::Part {
        content: match &p.content {
            PartContent::Text(t) => wit::PartContent::Text(t.clone()),
            PartContent::Data(v) => wit::PartContent::Data(v.to_string()),
            PartContent::Raw(b) => wit::PartContent::Raw(b.0.clone()),
            PartContent::Url(u) => wit::PartContent::Url(u.clone()),
        },
        media_type: p.media_type.clone(),
        filename: p.filename.clone(),
        metadata: metadata_to_wit(p.metadata.as_ref()),
    }
}

fn message_to_wit(m: &Message) -> wit::Message {
    wit::Message {
        message_id: m.message_id.clone(),
        role: match m.role {
            Role::Agent => wit::Role::Agent,
            Role::User | Role::Unspecified => wit::Role::User,
        },
        parts: m.parts.iter().map(part_to_wit).collect(),
        metadata: metadata_to_wit(m.metadata.as_ref()),
    }
}

fn action_error_to_wit(e: ActionError) -> wit::ActionError {
    match e {
        ActionError::TaskFinished(m) => wit::ActionError::TaskFinished(m),
        ActionError::Canceled => wit::ActionError::Canceled,
        ActionError::InvalidArgument(m) => wit::ActionError::InvalidArgument(m),
        ActionError::LimitExceeded(m) => wit::ActionError::LimitExceeded(m),
        ActionError::Internal(m) => wit::ActionError::Internal(m),
    }
}

type ActionResult<T> = wasmtime::Result<Result<T, wit::ActionError>>;

/// Run a host action and turn its error into the WIT one.
async fn act<T, F>(fut: F) -> ActionResult<T>
where
    F: Future<Output = Result<T, ActionError>>,
{
    Ok(fut.await.map_err(action_error_to_wit))
}

/// Cut `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
}

impl wit::Host for HostState {}

impl wit::HostTaskContext for HostState {
    async fn task_id(&mut self, h: Resource<TaskContextResource>) -> wasmtime::Result<String> {
        Ok(self.context(&h)?.task_id().to_string())
    }

    async fn context_id(&mut self, h: Resource<TaskContextResource>) -> wasmtime::Result<String> {
        Ok(self.context(&h)?.context_id().to_string())
    }

    async fn message(
        &mut self,
        h: Resource<TaskContextResource>,
    ) -> wasmtime::Result<wit::Message> {
        Ok(message_to_wit(self.context(&h)?.message()))
    }

    async fn text(&mut self, h: Resource<TaskContextResource>) -> wasmtime::Result<String> {
        Ok(self.context(&h)?.text())
    }

    async fn history(
        &mut self,
        h: Resource<TaskContextResource>,
    ) -> wasmtime::Result<Vec<wit::Message>> {
        Ok(self
            .context(&h)?
            .history()
            .iter()
            .map(message_to_wit)
            .collect())
    }

    async fn metadata(
        &mut self,
        h: Resource<TaskContextResource>,
    ) -> wasmtime::Result<Option<String>> {
        Ok(metadata_to_wit(self.context(&h)?.metadata()))
    }

    async fn accepted_output_modes(
        &mut self,
        h: Resource<TaskContextResource>,
    ) -> wasmtime::Result<Vec<String>> {
        Ok(self.context(&h)?.accepted_output_modes().to_vec())
    }

    async fn send_status(
        &mut self,
        h: Resource<TaskContextResource>,
        message: Option<Vec<wit::Part>>,
    ) -> ActionResult<()> {
        let ctx = self.acting(&h)?;
        let size = message.as_deref().map_or(0, parts_size);
        if let Err(e) = self.charge(&ctx, |b| b.charge_event(size)).await {
            return Ok(Err(e));
        }
        act(async move {
            let parts = message.map(|p| parts_from_wit(p, "message")).transpose()?;
            ctx.send_status(parts).await
        })
        .await
    }

    async fn emit_artifact(
        &mut self,
        h: Resource<TaskContextResource>,
        artifact: wit::Artifact,
        append: bool,
        last_chunk: bool,
    ) -> ActionResult<()> {
        let ctx = self.acting(&h)?;
        let size = artifact_size(&artifact);
        if let Err(e) = self.charge(&ctx, |b| b.charge_event(size)).await {
            return Ok(Err(e));
        }
        act(async move {
            let artifact = artifact_from_wit(artifact)?;
            ctx.emit_artifact(artifact, append, last_chunk).await
        })
        .await
    }

    async fn complete(
        &mut self,
        h: Resource<TaskContextResource>,
        message: Option<Vec<wit::Part>>,
    ) -> ActionResult<()> {
        let ctx = self.acting(&h)?;
        let size = message.as_deref().map_or(0, parts_size);
        if let Err(e) = self.charge(&ctx, |b| b.charge_bytes(size)).await {
            return Ok(Err(e));
        }
        act(async move {
            let parts = message.map(|p| parts_from_wit(p, "message")).transpose()?;
            ctx.complete(parts).await
        })
        .await
    }

    async fn request_input(
        &mut self,
        h: Resource<TaskContextResource>,
        message: Vec<wit::Part>,
    ) -> ActionResult<()> {
        let ctx = self.acting(&h)?;
        let size = parts_size(&message);
        if let Err(e) = self.charge(&ctx, |b| b.charge_bytes(size)).await {
            return Ok(Err(e));
        }
        act(async move { ctx.request_input(parts_from_wit(message, "message")?).await }).await
    }

    async fn request_auth(
        &mut self,
        h: Resource<TaskContextResource>,
        message: Vec<wit::Part>,
    ) -> ActionResult<()> {
        let ctx = self.acting(&h)?;
        let size = parts_size(&message);
        if let Err(e) = self.charge(&ctx, |b| b.charge_bytes(size)).await {
            return Ok(Err(e));
        }
        act(async move { ctx.request_auth(parts_from_wit(message, "message")?).await }).await
    }

    async fn fail(
        &mut self,
        h: Resource<TaskContextResource>,
        mut reason: String,
    ) -> ActionResult<()> {
        let ctx = self.acting(&h)?;
        truncate(&mut reason, MAX_REASON);
        act(ctx.fail(reason)).await
    }

    async fn reject(
        &mut self,
        h: Resource<TaskContextResource>,
        mut reason: String,
    ) -> ActionResult<()> {
        let ctx = self.acting(&h)?;
        truncate(&mut reason, MAX_REASON);
        act(ctx.reject(reason)).await
    }

    async fn reply(
        &mut self,
        h: Resource<TaskContextResource>,
        message: Vec<wit::Part>,
    ) -> ActionResult<()> {
        let ctx = self.acting(&h)?;
        let size = parts_size(&message);
        if let Err(e) = self.charge(&ctx, |b| b.charge_bytes(size)).await {
            return Ok(Err(e));
        }
        act(async move { ctx.reply(parts_from_wit(message, "message")?).await }).await
    }

    async fn is_cancelled(&mut self, h: Resource<TaskContextResource>) -> wasmtime::Result<bool> {
        Ok(self.context(&h)?.is_cancelled())
    }

    async fn get(
        &mut self,
        h: Resource<TaskContextResource>,
        key: String,
    ) -> ActionResult<Option<Vec<u8>>> {
        let ctx = self.context(&h)?;
        act(async move { ctx.get_state(&key).await }).await
    }

    async fn set(
        &mut self,
        h: Resource<TaskContextResource>,
        key: String,
        value: Option<Vec<u8>>,
    ) -> ActionResult<()> {
        let ctx = self.context(&h)?;
        act(async move { ctx.set_state(&key, value).await }).await
    }

    async fn log(
        &mut self,
        h: Resource<TaskContextResource>,
        level: wit::LogLevel,
        mut message: String,
    ) -> wasmtime::Result<()> {
        // Validate the handle even though the line only needs our own tags.
        self.table.get(&h)?;
        truncate(&mut message, MAX_LOG_LINE);
        self.output.log(level, &message);
        Ok(())
    }

    async fn config(
        &mut self,
        h: Resource<TaskContextResource>,
        key: String,
    ) -> wasmtime::Result<Option<String>> {
        self.table.get(&h)?;
        Ok(self.config.get(&key).cloned())
    }

    async fn drop(&mut self, h: Resource<TaskContextResource>) -> wasmtime::Result<()> {
        // The guest only ever borrows the context; the host owns it.
        self.table.delete(h)?;
        Ok(())
    }
}

impl HostState {
    /// The agent this store runs (for log lines).
    pub(crate) fn agent(&self) -> &str {
        &self.agent
    }
    /// The task this store runs (for log lines).
    pub(crate) fn task(&self) -> &str {
        &self.task
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_convert_both_ways() {
        let p = wit::Part {
            content: wit::PartContent::Data(r#"{"k":[1,2]}"#.into()),
            media_type: Some("application/json".into()),
            filename: None,
            metadata: Some(r#"{"m":true}"#.into()),
        };
        let host = part_from_wit(p, "p").unwrap();
        assert_eq!(
            host.content,
            PartContent::Data(serde_json::json!({"k":[1,2]}))
        );
        let back = part_to_wit(&host);
        assert_eq!(back.metadata.as_deref(), Some(r#"{"m":true}"#));
    }

    #[test]
    fn invalid_json_is_an_invalid_argument() {
        let p = wit::Part {
            content: wit::PartContent::Data("{nope".into()),
            media_type: None,
            filename: None,
            metadata: None,
        };
        match part_from_wit(p, "message[0]") {
            Err(ActionError::InvalidArgument(m)) => assert!(m.contains("message[0].data"), "{m}"),
            other => panic!("{other:?}"),
        }
        let p = wit::Part {
            content: wit::PartContent::Text("x".into()),
            media_type: None,
            filename: None,
            metadata: Some("[1]".into()),
        };
        match part_from_wit(p, "m") {
            Err(ActionError::InvalidArgument(m)) => assert!(m.contains("JSON object"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        let mut s = "ééé".to_string();
        truncate(&mut s, 3);
        assert_eq!(s, "é…");
    }
}
