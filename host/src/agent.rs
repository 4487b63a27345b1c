//! The agent interface inside the host.
//!
//! An [`Agent`] runs one *turn* of a task at a time: the host calls
//! [`Agent::handle`] with a [`TaskContext`] when a task is created and again
//! for each follow-up message of an interrupted task. The WebAssembly runtime
//! implements this trait for components; an embedder can implement it
//! natively:
//!
//! ```
//! use a2a_host::agent::{Agent, AgentError, AgentInfo, TaskContext};
//! use a2a_host::model::Part;
//!
//! struct Echo;
//!
//! #[async_trait::async_trait]
//! impl Agent for Echo {
//!     fn info(&self) -> AgentInfo {
//!         AgentInfo::new("echo", "Repeats what you say")
//!     }
//!     async fn handle(&self, ctx: TaskContext) -> Result<(), AgentError> {
//!         ctx.complete(Some(vec![Part::text(ctx.text())])).await?;
//!         Ok(())
//!     }
//! }
//! ```

use std::sync::Arc;

use async_trait::async_trait;

use crate::model::{AgentSkill, Artifact, Message, Metadata, Part};

/// What an agent says about itself; the host turns it into an A2A card.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentInfo {
    /// The agent's display name, published as the card's `name`.
    pub name: String,
    /// What the agent does, published as the card's `description`.
    pub description: String,
    /// The agent's own version, published as the card's `version`.
    pub version: String,
    /// The skills listed on the agent card.
    pub skills: Vec<AgentSkill>,
    /// Accepted input media types; empty means `text/plain`.
    pub input_modes: Vec<String>,
    /// Produced output media types; empty means `text/plain`.
    pub output_modes: Vec<String>,
    /// Whether the agent supports streaming (the card's
    /// `capabilities.streaming`); without it, SendStreamingMessage and
    /// SubscribeToTask are unsupported operations.
    pub streaming: bool,
}

impl AgentInfo {
    /// Info with a name and description, version `0.1.0`, streaming on.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        AgentInfo {
            name: name.into(),
            description: description.into(),
            version: "0.1.0".into(),
            streaming: true,
            ..Default::default()
        }
    }
}

/// An agent the host can run.
#[async_trait]
pub trait Agent: Send + Sync + 'static {
    /// Describe the agent. Called when it is registered, not per request.
    fn info(&self) -> AgentInfo;

    /// Run one turn of a task. Before returning `Ok`, the agent must call
    /// one of [`TaskContext::complete`], [`TaskContext::fail`],
    /// [`TaskContext::reject`], [`TaskContext::request_input`],
    /// [`TaskContext::request_auth`] or [`TaskContext::reply`]; otherwise the
    /// host fails the task with a reason that says so. An `Err` fails (or
    /// rejects) the task with its message.
    async fn handle(&self, ctx: TaskContext) -> Result<(), AgentError>;
}

/// Why an agent gave up on a turn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// The task fails with this reason.
    #[error("{0}")]
    Failed(String),
    /// The task is rejected with this reason.
    #[error("{0}")]
    Rejected(String),
}

impl From<ActionError> for AgentError {
    fn from(e: ActionError) -> Self {
        AgentError::Failed(e.to_string())
    }
}

/// Why the host refused an action of the agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The turn is over (the task is terminal or interrupted, or the agent
    /// already replied).
    #[error("the task turn is already finished: {0}")]
    TaskFinished(String),
    /// The client canceled the task.
    #[error("the task was canceled")]
    Canceled,
    /// The action's arguments are invalid; the message says which.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An operator limit was hit; the message names it.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// The host failed to apply the action, e.g. the task store failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An action on the task, as the task manager receives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A `working` status with an optional agent message.
    Status(Option<Vec<Part>>),
    /// Add an artifact, replace one with the same id, or extend it.
    Artifact {
        /// The artifact; its `artifactId` must not be empty.
        artifact: Artifact,
        /// Add the parts to the existing artifact with this id instead of
        /// replacing it.
        append: bool,
        /// This is the artifact's final chunk.
        last_chunk: bool,
    },
    /// End the task as `completed`, with an optional final agent message.
    Complete(Option<Vec<Part>>),
    /// Move the task to `input-required`, with a message that says what
    /// is needed.
    RequestInput(Vec<Part>),
    /// Move the task to `auth-required`, with a message that says what
    /// is needed.
    RequestAuth(Vec<Part>),
    /// End the task as `failed`; the reason becomes the agent's message.
    Fail(String),
    /// End the task as `rejected`; the reason becomes the agent's message.
    Reject(String),
    /// Answer with a direct message instead of a task; allowed only as the
    /// first and only action of a new task.
    Reply(Vec<Part>),
}

/// What earlier turns of a task already emitted. Limits that count per
/// task (events, content bytes) start each turn from here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskUsage {
    /// Events in the task's log.
    pub events: u64,
    /// Bytes of content in the task's artifacts.
    pub content_bytes: u64,
}

impl TaskUsage {
    /// The usage of `task`, whose log holds `events` events.
    pub fn of(task: &crate::model::Task, events: u64) -> Self {
        let content_bytes = task
            .artifacts
            .iter()
            .flat_map(|a| &a.parts)
            .map(part_bytes)
            .sum();
        TaskUsage {
            events,
            content_bytes,
        }
    }
}

/// Bytes of content in a part, the way the runtime's budget counts them.
fn part_bytes(p: &Part) -> u64 {
    use crate::model::PartContent;
    let content = match &p.content {
        PartContent::Text(t) => t.len(),
        PartContent::Raw(b) => b.0.len(),
        PartContent::Url(u) => u.len(),
        PartContent::Data(v) => v.to_string().len(),
    };
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let metadata = p.metadata.as_ref().map_or(0, |m| {
        serde_json::Value::Object(m.clone()).to_string().len()
    });
    (content + opt(&p.media_type) + opt(&p.filename) + metadata) as u64
}

/// The inputs of one turn.
#[derive(Debug, Clone, Default)]
pub struct TurnInput {
    /// The name the agent is served under.
    pub agent: String,
    /// The id of the task this turn belongs to.
    pub task_id: String,
    /// The id of the context (conversation) the task belongs to.
    pub context_id: String,
    /// The message that started this turn.
    pub message: Message,
    /// Earlier messages of the task, oldest first, not including `message`.
    pub history: Vec<Message>,
    /// The request's metadata.
    pub metadata: Option<Metadata>,
    /// The client's accepted output media types (empty means any).
    pub accepted_output_modes: Vec<String>,
    /// What earlier turns of the task emitted.
    pub spent: TaskUsage,
}

/// Where a [`TaskContext`] sends its actions. The task manager implements
/// it; tests of an agent can implement it to record what the agent did.
#[async_trait]
pub trait TurnSink: Send + Sync + 'static {
    /// Apply one action to the task.
    async fn act(&self, action: Action) -> Result<(), ActionError>;
    /// Whether the client asked to cancel the task.
    fn is_cancelled(&self) -> bool;
    /// Resolves once the client asks to cancel the task.
    async fn cancelled(&self);
    /// Read a context value.
    async fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>, ActionError>;
    /// Write (`Some`) or delete (`None`) a context value.
    async fn set_state(&self, key: &str, value: Option<Vec<u8>>) -> Result<(), ActionError>;
}

/// The agent's handle on one turn of a task. Cheap to clone.
#[derive(Clone)]
pub struct TaskContext {
    input: Arc<TurnInput>,
    sink: Arc<dyn TurnSink>,
}

impl std::fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskContext")
            .field("task_id", &self.input.task_id)
            .field("context_id", &self.input.context_id)
            .finish_non_exhaustive()
    }
}

impl TaskContext {
    /// A context over the given inputs that sends its actions to `sink`.
    pub fn new(input: TurnInput, sink: Arc<dyn TurnSink>) -> Self {
        TaskContext {
            input: Arc::new(input),
            sink,
        }
    }

    /// The name the agent is served under.
    pub fn agent_name(&self) -> &str {
        &self.input.agent
    }
    /// The id of the task this turn belongs to.
    pub fn task_id(&self) -> &str {
        &self.input.task_id
    }
    /// The id of the context (conversation) the task belongs to.
    pub fn context_id(&self) -> &str {
        &self.input.context_id
    }
    /// The message that started this turn.
    pub fn message(&self) -> &Message {
        &self.input.message
    }
    /// The text parts of the message, joined by newlines.
    pub fn text(&self) -> String {
        self.input.message.text()
    }
    /// Earlier messages of the task, oldest first.
    pub fn history(&self) -> &[Message] {
        &self.input.history
    }
    /// The request's metadata, if the client sent any.
    pub fn metadata(&self) -> Option<&Metadata> {
        self.input.metadata.as_ref()
    }
    /// The client's accepted output media types (empty means any).
    pub fn accepted_output_modes(&self) -> &[String] {
        &self.input.accepted_output_modes
    }
    /// What earlier turns of this task already emitted.
    pub fn spent(&self) -> TaskUsage {
        self.input.spent
    }

    /// Publish a `working` status, optionally with a message.
    pub async fn send_status(&self, message: Option<Vec<Part>>) -> Result<(), ActionError> {
        self.sink.act(Action::Status(message)).await
    }
    /// Publish a `working` status with a text message.
    pub async fn send_status_text(&self, text: impl Into<String>) -> Result<(), ActionError> {
        self.send_status(Some(vec![Part::text(text)])).await
    }
    /// Add or extend an artifact.
    pub async fn emit_artifact(
        &self,
        artifact: Artifact,
        append: bool,
        last_chunk: bool,
    ) -> Result<(), ActionError> {
        self.sink
            .act(Action::Artifact {
                artifact,
                append,
                last_chunk,
            })
            .await
    }
    /// End the task successfully.
    pub async fn complete(&self, message: Option<Vec<Part>>) -> Result<(), ActionError> {
        self.sink.act(Action::Complete(message)).await
    }
    /// Pause until the client sends a follow-up message.
    pub async fn request_input(&self, message: Vec<Part>) -> Result<(), ActionError> {
        self.sink.act(Action::RequestInput(message)).await
    }
    /// Pause until the client supplies credentials.
    pub async fn request_auth(&self, message: Vec<Part>) -> Result<(), ActionError> {
        self.sink.act(Action::RequestAuth(message)).await
    }
    /// End the task as failed.
    pub async fn fail(&self, reason: impl Into<String>) -> Result<(), ActionError> {
        self.sink.act(Action::Fail(reason.into())).await
    }
    /// End the task as rejected.
    pub async fn reject(&self, reason: impl Into<String>) -> Result<(), ActionError> {
        self.sink.act(Action::Reject(reason.into())).await
    }
    /// Answer with a direct message instead of a task.
    pub async fn reply(&self, message: Vec<Part>) -> Result<(), ActionError> {
        self.sink.act(Action::Reply(message)).await
    }
    /// Whether the client asked to cancel.
    pub fn is_cancelled(&self) -> bool {
        self.sink.is_cancelled()
    }
    /// Resolves once the client asks to cancel.
    pub async fn cancelled(&self) {
        self.sink.cancelled().await
    }
    /// Read a value stored for this context.
    pub async fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>, ActionError> {
        self.sink.get_state(key).await
    }
    /// Store (`Some`) or delete (`None`) a value for this context.
    pub async fn set_state(&self, key: &str, value: Option<Vec<u8>>) -> Result<(), ActionError> {
        self.sink.set_state(key, value).await
    }
}
