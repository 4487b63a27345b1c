//! A host built by the builder runs tasks and tells its hooks, whatever
//! other hooks do.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::Host;
use crate::agent::{Agent, AgentError, AgentInfo, TaskContext};
use crate::hooks::{ArtifactAdded, Hooks, Transition};
use crate::manager::ManagerConfig;
use crate::model::{
    Artifact, Message, Part, SendMessageRequest, SendMessageResponse, Task, TaskState,
};

/// Asks for input on its first turn (after a status and an artifact),
/// completes on the second.
struct TwoTurns;

#[async_trait::async_trait]
impl Agent for TwoTurns {
    fn info(&self) -> AgentInfo {
        AgentInfo::new("two-turns", "asks, then answers")
    }

    async fn handle(&self, ctx: TaskContext) -> Result<(), AgentError> {
        if ctx.history().is_empty() {
            ctx.send_status_text("thinking").await?;
            let artifact = Artifact {
                artifact_id: "a1".into(),
                parts: vec![Part::text("draft")],
                ..Artifact::default()
            };
            ctx.emit_artifact(artifact, false, true).await?;
            ctx.request_input(vec![Part::text("and then?")]).await?;
        } else {
            ctx.complete(Some(vec![Part::text("done")])).await?;
        }
        Ok(())
    }
}

struct Record(UnboundedSender<String>);

#[async_trait::async_trait]
impl Hooks for Record {
    async fn on_transition(&self, t: &Transition) {
        let _ = self.0.send(format!("{:?}->{:?}", t.from, t.to));
    }
    async fn on_artifact(&self, a: &ArtifactAdded) {
        let _ = self
            .0
            .send(format!("artifact {}", a.update.artifact.artifact_id));
    }
}

/// Takes a minute over every report.
struct Slow;

#[async_trait::async_trait]
impl Hooks for Slow {
    async fn on_transition(&self, _: &Transition) {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

struct Panics;

#[async_trait::async_trait]
impl Hooks for Panics {
    async fn on_transition(&self, _: &Transition) {
        panic!("hook bug");
    }
    async fn on_artifact(&self, _: &ArtifactAdded) {
        panic!("hook bug");
    }
}

async fn send(host: &Host, text: &str, task_id: Option<&str>) -> Arc<Task> {
    let mut message = Message::user_text(text);
    message.message_id = format!("m-{text}");
    message.task_id = task_id.map(str::to_string);
    let req = SendMessageRequest {
        tenant: None,
        message,
        configuration: None,
        metadata: None,
    };
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        host.manager().send_message("two-turns", req),
    )
    .await
    .expect("hooks never delay a task")
    .unwrap();
    match answer {
        SendMessageResponse::Task(task) => task,
        SendMessageResponse::Message(m) => panic!("a task, not {m:?}"),
    }
}

async fn next(rx: &mut UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a report")
        .unwrap()
}

#[tokio::test]
async fn hooks_hear_every_transition_and_artifact_in_order() {
    let (tx, mut rx) = unbounded_channel();
    let host = Host::builder()
        .agent("two-turns", TwoTurns)
        .manager_config(ManagerConfig {
            coalesce_window: Duration::ZERO,
            ..ManagerConfig::default()
        })
        .hooks(Slow)
        .hooks(Panics)
        .hooks(Record(tx))
        .build()
        .await
        .unwrap();

    let task = send(&host, "start", None).await;
    assert_eq!(task.status.state, TaskState::InputRequired);
    let task = send(&host, "go on", Some(&task.id)).await;
    assert_eq!(task.status.state, TaskState::Completed);

    let mut heard = Vec::new();
    for _ in 0..6 {
        heard.push(next(&mut rx).await);
    }
    assert_eq!(
        heard,
        [
            "None->Submitted",
            "Some(Submitted)->Working",
            "artifact a1",
            "Some(Working)->InputRequired",
            "Some(InputRequired)->Working",
            "Some(Working)->Completed",
        ]
    );
    host.shutdown(Duration::from_secs(1)).await;
    assert!(!host.handle().is_ready());
}

#[tokio::test]
async fn build_errors_say_what_to_fix() {
    let err = Host::builder()
        .store("mysql://x")
        .build()
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("unknown store"), "{err}");
    #[cfg(feature = "wasm")]
    {
        let err = Host::builder()
            .agents_dir("/nonexistent/agents")
            .build()
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
    #[cfg(not(feature = "redis"))]
    {
        let err = Host::builder()
            .bus("redis://127.0.0.1:6379")
            .build()
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("`redis` feature"), "{err}");
    }
}
