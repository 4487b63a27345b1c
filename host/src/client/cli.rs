//! `a2a-host call URL "text" [--stream] [--task ID] [--context ID]`: send
//! one message to an agent and print what comes back.
//!
//! Output (stdout):
//! - the agent's text as it arrives: artifact text chunks are written as
//!   they come (word by word, if the agent streams that way), status
//!   messages on lines of their own; non-text parts as a short `[file …]`,
//!   `[link …]` or JSON line;
//! - then one final line: `[STATE] task=ID context=ID` (or `[message]
//!   context=ID` for a direct answer). An interrupted task adds how to
//!   answer it with `--task`.
//!
//! With `--json`, the A2A JSON instead: the SendMessage result, or one line
//! per stream event. Without `--stream` the message is sent blocking; if the
//! agent is still working when the server stops waiting, the task is polled
//! until it settles.
//!
//! A new conversation gets a fresh `contextId` from the client, which makes
//! the send retry-safe (see [`crate::client`]).
//!
//! `--push URL [--push-token T]` asks the agent to post the task's updates
//! to a webhook as well (`configuration.taskPushNotificationConfig`); try
//! it with `a2a-host webhook` ([`super::webhook`]).

use std::fmt;
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{A2aClient, Binding, ClientConfig, ClientError, RetryPolicy};
use crate::model::{
    GetTaskRequest, Message, Part, PartContent, SendMessageConfiguration, SendMessageRequest,
    SendMessageResponse, StreamResponse, Task, TaskPushNotificationConfig, TaskState,
};

/// A secret given on the command line (a token): kept out of `Debug`
/// output, so logging the arguments does not leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Arguments of `a2a-host call`.
#[derive(Debug, Clone, clap::Args)]
pub struct CallArgs {
    /// The agent: its URL (http://HOST:PORT/agents/NAME), a host root (its
    /// default agent), or the URL of an agent card (….json).
    #[arg(value_name = "URL")]
    pub url: String,
    /// The message to send (`-` reads it from stdin).
    #[arg(value_name = "TEXT")]
    pub text: String,
    /// Stream the answer as the agent produces it.
    #[arg(long)]
    pub stream: bool,
    /// Continue this task (answer an agent that asked for input).
    #[arg(long, value_name = "ID")]
    pub task: Option<String>,
    /// Send within this context (conversation); default: a new one.
    #[arg(long, value_name = "ID")]
    pub context: Option<String>,
    /// The message id; default: a new UUID. Sending the same id again in
    /// the same context returns the task the first send created.
    #[arg(long, value_name = "ID")]
    pub message_id: Option<String>,
    /// Only use this binding: `jsonrpc` or `http-json`. Default: the card's
    /// order of preference, falling back to the next interface.
    #[arg(long, value_name = "BINDING")]
    pub binding: Option<Binding>,
    /// Attempts per retry-safe call, the first included (1 = no retries).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub attempts: u32,
    /// Give up on a non-streaming call after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
    /// Print the A2A JSON (one line per stream event) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Ask for this protocol extension (`A2A-Extensions`); repeatable.
    #[arg(long = "extension", value_name = "URI")]
    pub extensions: Vec<String>,
    /// Also have the task's updates posted to this webhook (a push
    /// notification config on the message; the agent must support push).
    #[arg(long, value_name = "URL")]
    pub push: Option<String>,
    /// The token the webhook gets with every notification
    /// (`X-A2A-Notification-Token`).
    #[arg(long, value_name = "TOKEN", requires = "push")]
    pub push_token: Option<Secret>,
}

impl CallArgs {
    /// Arguments for sending `text` to `url` with every option at its
    /// default.
    pub fn new(url: impl Into<String>, text: impl Into<String>) -> CallArgs {
        CallArgs {
            url: url.into(),
            text: text.into(),
            stream: false,
            task: None,
            context: None,
            message_id: None,
            binding: None,
            attempts: 4,
            timeout: 300,
            json: false,
            extensions: Vec::new(),
            push: None,
            push_token: None,
        }
    }

    /// The client settings these arguments ask for.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            retry: RetryPolicy {
                max_attempts: self.attempts.max(1),
                ..Default::default()
            },
            request_timeout: Duration::from_secs(self.timeout.max(1)),
            binding: self.binding,
            extensions: self.extensions.clone(),
            ..Default::default()
        }
    }

    /// The send's configuration: the webhook of `--push`, if given.
    pub fn configuration(&self) -> Result<Option<SendMessageConfiguration>, String> {
        let Some(url) = self.push.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let parsed =
            reqwest::Url::parse(url).map_err(|e| format!("--push `{url}` is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("--push `{url}` is not an http(s) URL"));
        }
        Ok(Some(SendMessageConfiguration {
            task_push_notification_config: Some(TaskPushNotificationConfig {
                url: url.to_string(),
                token: self.push_token.as_ref().map(|t| t.expose().to_string()),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }
}

/// What a call ended with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallSummary {
    /// The task, unless the agent answered with a direct message.
    pub task_id: Option<String>,
    /// The conversation, as the agent's answers named it.
    pub context_id: Option<String>,
    /// The task's last state (`None` for a direct message).
    pub state: Option<TaskState>,
    /// How often the stream was resumed after a dropped connection.
    pub reconnects: u32,
}

/// Runs `a2a-host call`, printing to stdout. A task that ends failed,
/// rejected or canceled is an `Err` (after its output is printed), so the
/// command exits non-zero.
pub async fn run_call(args: CallArgs) -> Result<(), String> {
    let mut out = std::io::stdout();
    let summary = run_call_to(args, &mut out).await?;
    match summary.state {
        Some(s @ (TaskState::Failed | TaskState::Rejected | TaskState::Canceled)) => Err(format!(
            "task {} ended {}",
            summary.task_id.as_deref().unwrap_or("?"),
            state_word(s)
        )),
        _ => Ok(()),
    }
}

/// [`run_call`], writing to `out`; returns how the call ended.
pub async fn run_call_to(
    args: CallArgs,
    out: &mut (dyn Write + Send),
) -> Result<CallSummary, String> {
    let text = if args.text == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| format!("cannot read the message from stdin: {e}"))?;
        s.trim_end_matches(['\r', '\n']).to_string()
    } else {
        args.text.clone()
    };
    if text.trim().is_empty() {
        return Err("the message is empty".into());
    }
    let configuration = args.configuration()?;
    let client = A2aClient::connect(&args.url, args.client_config())
        .await
        .map_err(|e| describe(&e))?;

    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
    let mut message = Message::user_text(text);
    message.task_id = nonempty(&args.task);
    message.context_id = nonempty(&args.context);
    if message.task_id.is_none() && message.context_id.is_none() {
        // A client-chosen context makes the send safe to retry.
        message.context_id = Some(uuid::Uuid::new_v4().to_string());
    }
    if let Some(id) = nonempty(&args.message_id) {
        message.message_id = id;
    }
    let req = SendMessageRequest {
        message,
        configuration,
        ..Default::default()
    };

    let mut p = Printer::new(out, args.json);
    let mut reconnects = 0;
    if args.stream && client.supports_streaming() {
        let mut stream = client
            .send_streaming_message(req)
            .await
            .map_err(|e| describe(&e))?;
        while let Some(ev) = stream.next().await {
            let ev = ev.map_err(|e| describe(&e))?;
            p.event(&ev.event).map_err(io_err)?;
        }
        reconnects = stream.reconnects();
    } else {
        if args.stream {
            eprintln!(
                "note: the agent does not stream (its card says so); sending without --stream"
            );
        }
        let resp = client.send_message(req).await.map_err(|e| describe(&e))?;
        match resp {
            SendMessageResponse::Message(m) => p.message(&m).map_err(io_err)?,
            SendMessageResponse::Task(t) => {
                let t = wait_until_settled(
                    &client,
                    Arc::unwrap_or_clone(t),
                    Duration::from_secs(args.timeout.max(1)),
                )
                .await
                .map_err(|e| describe(&e))?;
                p.task(&t).map_err(io_err)?;
            }
        }
    }
    let mut summary = p.finish(&args.url).map_err(io_err)?;
    summary.reconnects = reconnects;
    Ok(summary)
}

/// Polls GetTask until the task is terminal or interrupted (a blocking
/// send returns early when the server's wait times out).
async fn wait_until_settled(
    client: &A2aClient,
    mut task: Task,
    limit: Duration,
) -> Result<Task, ClientError> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(250);
    while !settled(task.status.state) && start.elapsed() < limit {
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
        task = client
            .get_task(GetTaskRequest {
                id: task.id.clone(),
                history_length: Some(0),
                tenant: None,
            })
            .await?;
    }
    Ok(task)
}

fn settled(s: TaskState) -> bool {
    s.is_terminal() || s.is_interrupted()
}

fn io_err(e: std::io::Error) -> String {
    format!("cannot write the output: {e}")
}

/// An error as the command reports it.
fn describe(e: &ClientError) -> String {
    match e {
        ClientError::Agent(r) => format!("{} [{}]", r.message, r.reason),
        other => other.to_string(),
    }
}

/// The lower-case word for a state: `completed`, `input-required`, ….
pub fn state_word(s: TaskState) -> &'static str {
    match s {
        TaskState::Unspecified => "unspecified",
        TaskState::Submitted => "submitted",
        TaskState::Working => "working",
        TaskState::Completed => "completed",
        TaskState::Failed => "failed",
        TaskState::Canceled => "canceled",
        TaskState::InputRequired => "input-required",
        TaskState::Rejected => "rejected",
        TaskState::AuthRequired => "auth-required",
    }
}

/// Writes a call's output and remembers where the task ended.
struct Printer<'a> {
    out: &'a mut (dyn Write + Send),
    json: bool,
    at_line_start: bool,
    wrote_text: bool,
    /// The artifact whose chunks are being written.
    artifact: Option<String>,
    summary: CallSummary,
    direct_message: bool,
}

impl<'a> Printer<'a> {
    fn new(out: &'a mut (dyn Write + Send), json: bool) -> Self {
        Printer {
            out,
            json,
            at_line_start: true,
            wrote_text: false,
            artifact: None,
            summary: CallSummary::default(),
            direct_message: false,
        }
    }

    fn write(&mut self, s: &str) -> std::io::Result<()> {
        if s.is_empty() {
            return Ok(());
        }
        self.out.write_all(s.as_bytes())?;
        self.out.flush()?;
        self.at_line_start = s.ends_with('\n');
        Ok(())
    }

    fn end_line(&mut self) -> std::io::Result<()> {
        if !self.at_line_start {
            self.write("\n")?;
        }
        Ok(())
    }

    fn json_line<T: serde::Serialize>(&mut self, v: &T) -> std::io::Result<()> {
        let line = serde_json::to_string(v).map_err(std::io::Error::other)?;
        self.write(&line)?;
        self.write("\n")
    }

    /// Writes parts inline (as chunks of running text).
    fn parts_inline(&mut self, parts: &[Part]) -> std::io::Result<()> {
        for part in parts {
            match &part.content {
                PartContent::Text(t) => {
                    self.write(t)?;
                    self.wrote_text = true;
                }
                _ => {
                    self.end_line()?;
                    let line = describe_part(part);
                    self.write(&line)?;
                    self.write("\n")?;
                    self.wrote_text = true;
                }
            }
        }
        Ok(())
    }

    /// Writes a message's parts as lines of their own.
    fn message_lines(&mut self, m: &Message) -> std::io::Result<()> {
        if m.parts.is_empty() {
            return Ok(());
        }
        self.end_line()?;
        self.artifact = None;
        self.parts_inline(&m.parts)?;
        self.end_line()
    }

    fn note_task(&mut self, task_id: &str, context_id: &str, state: Option<TaskState>) {
        if !task_id.is_empty() {
            self.summary.task_id = Some(task_id.to_string());
        }
        if !context_id.is_empty() {
            self.summary.context_id = Some(context_id.to_string());
        }
        if let Some(s) = state {
            self.summary.state = Some(s);
        }
    }

    /// One stream event.
    fn event(&mut self, ev: &StreamResponse) -> std::io::Result<()> {
        match ev {
            StreamResponse::Task(t) => self.note_task(&t.id, &t.context_id, Some(t.status.state)),
            StreamResponse::StatusUpdate(s) => {
                self.note_task(&s.task_id, &s.context_id, Some(s.status.state))
            }
            StreamResponse::ArtifactUpdate(a) => self.note_task(&a.task_id, &a.context_id, None),
            StreamResponse::Message(m) => {
                self.direct_message = true;
                self.summary.context_id = m.context_id.clone();
            }
        }
        if self.json {
            return self.json_line(ev);
        }
        match ev {
            StreamResponse::Task(t) => {
                // The snapshot that opens a stream repeats what is known;
                // print it only if it is all there is.
                if ev.ends_stream() && !self.wrote_text {
                    self.task_body(t)?;
                }
                Ok(())
            }
            StreamResponse::StatusUpdate(s) => match &s.status.message {
                Some(m) => self.message_lines(m),
                None => Ok(()),
            },
            StreamResponse::ArtifactUpdate(a) => {
                let id = &a.artifact.artifact_id;
                if self.artifact.as_deref() != Some(id.as_str()) || !a.append {
                    // A new artifact (or a replacement) starts a new line.
                    if self.artifact.is_some() || self.wrote_text {
                        self.end_line()?;
                    }
                    self.artifact = Some(id.clone());
                }
                self.parts_inline(&a.artifact.parts)?;
                if a.last_chunk {
                    self.end_line()?;
                    self.artifact = None;
                }
                Ok(())
            }
            StreamResponse::Message(m) => self.message_lines(m),
        }
    }

    /// The result of a blocking send: a task.
    fn task(&mut self, t: &Task) -> std::io::Result<()> {
        self.note_task(&t.id, &t.context_id, Some(t.status.state));
        if self.json {
            return self.json_line(&SendMessageResponse::Task(Arc::new(t.clone())));
        }
        self.task_body(t)
    }

    /// The result of a blocking send: a direct message.
    fn message(&mut self, m: &Message) -> std::io::Result<()> {
        self.direct_message = true;
        self.summary.context_id = m.context_id.clone();
        if self.json {
            return self.json_line(&SendMessageResponse::Message(m.clone()));
        }
        self.message_lines(m)
    }

    /// A task's output: its artifacts, then its status message.
    fn task_body(&mut self, t: &Task) -> std::io::Result<()> {
        for a in &t.artifacts {
            self.end_line()?;
            self.parts_inline(&a.parts)?;
            self.end_line()?;
        }
        if let Some(m) = &t.status.message {
            self.message_lines(m)?;
        }
        Ok(())
    }

    /// The final line; returns the summary.
    fn finish(mut self, url: &str) -> std::io::Result<CallSummary> {
        if self.direct_message {
            self.summary.task_id = None;
            self.summary.state = None;
        }
        if self.json {
            return Ok(self.summary);
        }
        self.end_line()?;
        let ctx = self
            .summary
            .context_id
            .as_deref()
            .map(|c| format!(" context={c}"))
            .unwrap_or_default();
        let line = match (&self.summary.task_id, self.summary.state) {
            (Some(task), Some(state)) => {
                let mut line = format!("[{}] task={task}{ctx}\n", state_word(state));
                if state.is_interrupted() {
                    line.push_str(&format!(
                        "the agent is waiting for {}; answer with: a2a-host call {url} --task {task} \"…\"\n",
                        if state == TaskState::AuthRequired {
                            "credentials"
                        } else {
                            "input"
                        }
                    ));
                }
                line
            }
            _ => format!("[message]{ctx}\n"),
        };
        self.write(&line)?;
        Ok(self.summary)
    }
}

/// A one-line description of a part that is not text.
fn describe_part(part: &Part) -> String {
    let name = part.filename.as_deref().unwrap_or("unnamed");
    let media = part
        .media_type
        .as_deref()
        .map(|m| format!(", {m}"))
        .unwrap_or_default();
    match &part.content {
        PartContent::Text(t) => t.clone(),
        PartContent::Raw(b) => format!("[file {name}{media}, {} bytes]", b.0.len()),
        PartContent::Url(u) => format!("[link {u} ({name}{media})]"),
        PartContent::Data(v) => format!("[data{media}] {v}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Artifact, TaskArtifactUpdateEvent, TaskStatus, TaskStatusUpdateEvent};

    fn run(events: &[StreamResponse]) -> (String, CallSummary) {
        let mut buf: Vec<u8> = Vec::new();
        let summary = {
            let mut p = Printer::new(&mut buf, false);
            for e in events {
                p.event(e).unwrap();
            }
            p.finish("http://h/agents/a").unwrap()
        };
        (String::from_utf8(buf).unwrap(), summary)
    }

    fn chunk(text: &str, append: bool, last: bool) -> StreamResponse {
        StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
            task_id: "t".into(),
            context_id: "c".into(),
            artifact: Artifact {
                artifact_id: "a".into(),
                parts: vec![Part::text(text)],
                ..Default::default()
            },
            append,
            last_chunk: last,
            metadata: None,
        })
    }

    fn status(state: TaskState, text: Option<&str>) -> StreamResponse {
        StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
            task_id: "t".into(),
            context_id: "c".into(),
            status: TaskStatus::new(state, text.map(|t| Message::agent(vec![Part::text(t)]))),
            metadata: None,
        })
    }

    #[test]
    fn the_arguments_parse_as_a_clap_command() {
        use clap::{CommandFactory, Parser};
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            call: CallArgs,
        }
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "call",
            "http://h/agents/a",
            "hi",
            "--stream",
            "--task",
            "t1",
            "--binding",
            "rest",
            "--extension",
            "urn:x",
            "--extension",
            "urn:y",
        ])
        .unwrap();
        assert!(cli.call.stream);
        assert_eq!(cli.call.task.as_deref(), Some("t1"));
        assert_eq!(cli.call.binding, Some(Binding::HttpJson));
        assert_eq!(cli.call.extensions, ["urn:x", "urn:y"]);
        assert_eq!(cli.call.attempts, 4);
        let bad = Cli::try_parse_from(["call", "u", "t", "--binding", "grpc"]);
        assert!(bad.is_err());
    }

    #[test]
    fn push_flags_put_a_webhook_on_the_send() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            call: CallArgs,
        }
        let cli = Cli::try_parse_from([
            "call",
            "http://h/agents/a",
            "hi",
            "--push",
            "http://127.0.0.1:9000/hook",
            "--push-token",
            "s3cret",
        ])
        .unwrap();
        let config = cli.call.configuration().unwrap().unwrap();
        let push = config.task_push_notification_config.unwrap();
        assert_eq!(push.url, "http://127.0.0.1:9000/hook");
        assert_eq!(push.token.as_deref(), Some("s3cret"));
        assert!(!format!("{:?}", cli.call).contains("s3cret"));

        assert_eq!(CallArgs::new("http://h/", "x").configuration(), Ok(None));
        let mut args = CallArgs::new("http://h/", "x");
        args.push = Some("ftp://h/hook".into());
        assert!(args.configuration().unwrap_err().contains("http(s)"));
        args.push = Some("hook".into());
        assert!(args.configuration().unwrap_err().contains("not a URL"));
        let token_alone = Cli::try_parse_from(["call", "u", "t", "--push-token", "x"]);
        assert!(token_alone.is_err());
    }

    #[test]
    fn the_call_future_and_streams_can_move_between_threads() {
        fn send<T: Send>(_: &T) {}
        send(&run_call(CallArgs::new("http://h/", "x")));
        fn stream_is_send(s: crate::client::TaskEventStream) -> impl Send {
            s.into_stream()
        }
        let _ = stream_is_send;
    }

    #[test]
    fn chunks_run_together_and_statuses_get_their_own_lines() {
        let (out, summary) = run(&[
            StreamResponse::Task(Task {
                id: "t".into(),
                context_id: "c".into(),
                status: TaskStatus::new(TaskState::Working, None),
                ..Default::default()
            }),
            status(TaskState::Working, Some("thinking")),
            chunk("the ", false, false),
            chunk("quick ", true, false),
            chunk("fox", true, true),
            status(TaskState::InputRequired, Some("more?")),
        ]);
        assert_eq!(
            out,
            "thinking\nthe quick fox\nmore?\n[input-required] task=t context=c\n\
             the agent is waiting for input; answer with: a2a-host call http://h/agents/a --task t \"…\"\n"
        );
        assert_eq!(summary.state, Some(TaskState::InputRequired));
        assert_eq!(summary.task_id.as_deref(), Some("t"));
    }

    #[test]
    fn a_lone_final_snapshot_is_printed_and_messages_have_no_task() {
        let task = Task {
            id: "t".into(),
            context_id: "c".into(),
            status: TaskStatus::new(
                TaskState::Completed,
                Some(Message::agent(vec![Part::text("done")])),
            ),
            artifacts: vec![Artifact {
                artifact_id: "a".into(),
                parts: vec![Part::text("out"), Part::data(serde_json::json!({"k": 1}))],
                ..Default::default()
            }],
            ..Default::default()
        };
        let (out, _) = run(&[StreamResponse::Task(task)]);
        assert_eq!(
            out,
            "out\n[data] {\"k\":1}\ndone\n[completed] task=t context=c\n"
        );

        let mut m = Message::agent(vec![Part::text("hi")]);
        m.context_id = Some("c".into());
        let (out, summary) = run(&[StreamResponse::Message(m)]);
        assert_eq!(out, "hi\n[message] context=c\n");
        assert_eq!(summary.task_id, None);
    }
}
