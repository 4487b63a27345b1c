//! The native test agent the HTTP tests serve (the WebAssembly guests are
//! in [`super::guests`]).

use std::sync::Arc;
use std::time::Duration;

use a2a_host::agent::{Agent, AgentError, AgentInfo, TaskContext};
use a2a_host::model::{Artifact, Part};

/// A native agent that acts on the first word of the message text:
///
/// | word | behaviour |
/// |---|---|
/// | `input` | asks for input (task becomes INPUT_REQUIRED) |
/// | `auth` | asks for auth (AUTH_REQUIRED) |
/// | `artifact` | emits a text artifact "generated", completes |
/// | `stream N` | N × (status "step i", artifact chunk "wi "), 20 ms apart, completes |
/// | `slow MS` | status, sleeps MS, artifact, sleeps MS, completes |
/// | `tick N MS` | N × (sleep MS, status "tick i"), completes |
/// | `sleep` | status "sleeping", then waits until canceled |
/// | `reply` | answers with a direct message "direct reply" |
/// | `fail` | fails the task ("asked to fail") |
/// | `reject` | rejects the task |
/// | anything else | completes with the message "done: TEXT" |
pub struct TestAgent {
    pub name: String,
    pub streaming: bool,
}

impl TestAgent {
    pub fn arc(name: &str) -> Arc<dyn Agent> {
        Arc::new(TestAgent {
            name: name.to_string(),
            streaming: true,
        })
    }

    /// An agent whose card says `streaming: false`.
    pub fn non_streaming(name: &str) -> Arc<dyn Agent> {
        Arc::new(TestAgent {
            name: name.to_string(),
            streaming: false,
        })
    }
}

#[async_trait::async_trait]
impl Agent for TestAgent {
    fn info(&self) -> AgentInfo {
        let mut info = AgentInfo::new(&self.name, "protocol test agent");
        info.version = "1.2.3".into();
        info.streaming = self.streaming;
        info
    }

    async fn handle(&self, ctx: TaskContext) -> Result<(), AgentError> {
        let text = ctx.text();
        let (cmd, rest) = text.split_once(' ').unwrap_or((&text, ""));
        match cmd {
            "input" => ctx.request_input(vec![Part::text("more please")]).await?,
            "auth" => {
                ctx.request_auth(vec![Part::text("credentials please")])
                    .await?
            }
            "artifact" => {
                let a = Artifact {
                    artifact_id: "a1".into(),
                    name: Some("result".into()),
                    parts: vec![Part::text("generated")],
                    ..Default::default()
                };
                ctx.emit_artifact(a, false, true).await?;
                ctx.complete(None).await?;
            }
            "stream" => {
                let n: usize = rest.trim().parse().unwrap_or(3);
                for i in 0..n {
                    ctx.send_status_text(format!("step {i}")).await?;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let a = Artifact {
                        artifact_id: "out".into(),
                        parts: vec![Part::text(format!("w{i} "))],
                        ..Default::default()
                    };
                    ctx.emit_artifact(a, i > 0, i + 1 == n).await?;
                }
                ctx.complete(Some(vec![Part::text("streamed")])).await?;
            }
            "slow" => {
                let ms: u64 = rest.trim().parse().unwrap_or(300);
                ctx.send_status_text("started").await?;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let a = Artifact {
                    artifact_id: "slow".into(),
                    parts: vec![Part::text("half")],
                    ..Default::default()
                };
                ctx.emit_artifact(a, false, true).await?;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                ctx.complete(Some(vec![Part::text("slow done")])).await?;
            }
            "tick" => {
                let mut args = rest
                    .split_whitespace()
                    .map(|a| a.parse::<u64>().unwrap_or(100));
                let n = args.next().unwrap_or(5);
                let ms = args.next().unwrap_or(100);
                for i in 0..n {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    ctx.send_status_text(format!("tick {i}")).await?;
                }
                ctx.complete(Some(vec![Part::text("ticked")])).await?;
            }
            "sleep" => {
                ctx.send_status_text("sleeping").await?;
                ctx.cancelled().await;
            }
            "reply" => ctx.reply(vec![Part::text("direct reply")]).await?,
            "fail" => return Err(AgentError::Failed("asked to fail".into())),
            "reject" => return Err(AgentError::Rejected("asked to reject".into())),
            _ => {
                ctx.complete(Some(vec![Part::text(format!("done: {text}"))]))
                    .await?
            }
        }
        Ok(())
    }
}
