//! The task manager's lifecycle rules, driven directly (no HTTP) with a
//! native agent, against every store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use a2a_host::agent::{ActionError, Agent, AgentError, AgentInfo, TaskContext};
use a2a_host::error::A2aError;
use a2a_host::manager::{ManagerConfig, TaskManager};
use a2a_host::model::*;
use a2a_host::registry::{AgentRegistry, LoadedAgent};
use a2a_host::store::Store;
use futures::StreamExt;

use crate::support::tasks::{send, status_text, task_of};

/// Behaves according to the first word of the message.
struct Scripted {
    runs: AtomicUsize,
}

#[async_trait::async_trait]
impl Agent for Scripted {
    fn info(&self) -> AgentInfo {
        AgentInfo::new("scripted", "test agent")
    }

    async fn handle(&self, ctx: TaskContext) -> Result<(), AgentError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let text = ctx.text();
        let (cmd, rest) = text.split_once(' ').unwrap_or((&text, ""));
        match cmd {
            "ask" if ctx.history().is_empty() => {
                ctx.request_input(vec![Part::text("which one?")]).await?
            }
            "ask" | "answer" => {
                ctx.complete(Some(vec![Part::text(format!("got {rest}"))]))
                    .await?
            }
            "reply" => ctx.reply(vec![Part::text("direct")]).await?,
            "spent" => {
                let spent = ctx.spent();
                let text = format!("{} {}", spent.events, spent.content_bytes);
                ctx.complete(Some(vec![Part::text(text)])).await?
            }
            "artifact-then-ask" if ctx.history().is_empty() => {
                let artifact = Artifact {
                    artifact_id: "a".into(),
                    parts: vec![Part::text("12345")],
                    ..Default::default()
                };
                ctx.emit_artifact(artifact, false, true).await?;
                ctx.request_input(vec![Part::text("more?")]).await?
            }
            "nothing" => {}
            "err" => return Err(AgentError::Failed("it broke".into())),
            "reject" => return Err(AgentError::Rejected("not mine".into())),
            "panic" => panic!("boom"),
            "coop" => {
                ctx.send_status_text("waiting").await?;
                ctx.cancelled().await;
            }
            "stubborn" => {
                ctx.send_status_text("ignoring cancel").await?;
                tokio::time::sleep(Duration::from_secs(600)).await;
            }
            "stream" => {
                let n: usize = rest.parse().unwrap_or(3);
                for i in 0..n {
                    ctx.send_status_text(format!("step {i}")).await?;
                    let artifact = Artifact {
                        artifact_id: "out".into(),
                        parts: vec![Part::text(format!("w{i} "))],
                        ..Default::default()
                    };
                    ctx.emit_artifact(artifact, i > 0, i + 1 == n).await?;
                }
                ctx.complete(None).await?;
            }
            "count" => {
                let n = ctx
                    .get_state("n")
                    .await?
                    .map(|v| u32::from_le_bytes(v.try_into().unwrap()))
                    .unwrap_or(0)
                    + 1;
                ctx.set_state("n", Some(n.to_le_bytes().to_vec())).await?;
                ctx.complete(Some(vec![Part::text(n.to_string())])).await?;
            }
            "twice" => {
                ctx.complete(None).await?;
                let second = ctx.complete(None).await;
                assert!(
                    matches!(second, Err(ActionError::TaskFinished(_))),
                    "{second:?}"
                );
                let artifact = Artifact {
                    artifact_id: "late".into(),
                    parts: vec![Part::text("x")],
                    ..Default::default()
                };
                assert!(ctx.emit_artifact(artifact, false, true).await.is_err());
            }
            "slow" => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                ctx.complete(Some(vec![Part::text("slow done")])).await?;
            }
            _ => ctx.complete(Some(vec![Part::text(text.clone())])).await?,
        }
        Ok(())
    }
}

struct Fixture {
    manager: TaskManager,
    agent: Arc<Scripted>,
    _dir: tempfile::TempDir,
}

fn fixture_with(store: Arc<dyn Store>, dir: tempfile::TempDir) -> Fixture {
    fixture_config(store, dir, |_| {})
}

fn fixture_config(
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
    tune: impl FnOnce(&mut ManagerConfig),
) -> Fixture {
    let registry = AgentRegistry::new();
    let agent = Arc::new(Scripted {
        runs: AtomicUsize::new(0),
    });
    registry.insert("a", LoadedAgent::new(agent.clone(), None));
    let mut config = ManagerConfig {
        blocking_timeout: Duration::from_secs(10),
        cancel_grace: Duration::from_millis(200),
        ..Default::default()
    };
    tune(&mut config);
    Fixture {
        manager: TaskManager::new(store, registry, config),
        agent,
        _dir: dir,
    }
}

fn fixtures() -> Vec<(&'static str, Fixture)> {
    fixtures_config(|_| {})
}

fn fixtures_config(tune: impl Fn(&mut ManagerConfig)) -> Vec<(&'static str, Fixture)> {
    let mem = fixture_config(
        Arc::new(a2a_host::store::memory::MemoryStore::new()),
        tempfile::tempdir().unwrap(),
        &tune,
    );
    let dir = tempfile::tempdir().unwrap();
    let sqlite = a2a_host::store::sqlite::SqliteStore::open(dir.path().join("t.db")).unwrap();
    vec![
        ("memory", mem),
        ("sqlite", fixture_config(Arc::new(sqlite), dir, &tune)),
    ]
}

#[tokio::test]
async fn blocking_send_completes_and_is_stored() {
    for (name, f) in fixtures() {
        let t = task_of(f.manager.send_message("a", send("hello")).await.unwrap());
        assert_eq!(t.status.state, TaskState::Completed, "{name}");
        assert_eq!(status_text(&t), "hello");
        assert_eq!(t.history.len(), 2, "{name}: user + agent message");
        assert_eq!(t.history[0].role, Role::User);
        let got = f
            .manager
            .get_task(
                "a",
                GetTaskRequest {
                    id: t.id.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(got, t, "{name}");
        let zero = f
            .manager
            .get_task(
                "a",
                GetTaskRequest {
                    id: t.id.clone(),
                    history_length: Some(0),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(zero.history.is_empty());
    }
}

#[tokio::test]
async fn return_immediately_returns_an_active_task() {
    for (name, f) in fixtures() {
        let mut req = send("slow");
        req.configuration = Some(SendMessageConfiguration {
            return_immediately: true,
            ..Default::default()
        });
        let t = task_of(f.manager.send_message("a", req).await.unwrap());
        assert!(
            !t.status.state.is_terminal(),
            "{name}: {:?}",
            t.status.state
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        let got = f
            .manager
            .get_task(
                "a",
                GetTaskRequest {
                    id: t.id,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(got.status.state, TaskState::Completed, "{name}");
    }
}

#[tokio::test]
async fn multi_turn_follow_up_continues_the_task() {
    for (name, f) in fixtures() {
        let t = task_of(f.manager.send_message("a", send("ask")).await.unwrap());
        assert_eq!(t.status.state, TaskState::InputRequired, "{name}");
        let mut follow = send("answer blue");
        follow.message.task_id = Some(t.id.clone());
        let t2 = task_of(f.manager.send_message("a", follow).await.unwrap());
        assert_eq!(t2.id, t.id);
        assert_eq!(
            t2.context_id, t.context_id,
            "{name}: context inferred from the task"
        );
        assert_eq!(t2.status.state, TaskState::Completed);
        assert_eq!(status_text(&t2), "got blue");
        let texts: Vec<_> = t2.history.iter().map(|m| m.text()).collect();
        assert_eq!(
            texts,
            ["ask", "which one?", "answer blue", "got blue"],
            "{name}"
        );

        // A terminal task takes no more messages.
        let mut again = send("more");
        again.message.task_id = Some(t.id.clone());
        let err = f.manager.send_message("a", again).await.unwrap_err();
        assert_eq!(err.code(), -32004, "{name}: {err}");

        // Mismatched context is refused.
        let t3 = task_of(f.manager.send_message("a", send("ask")).await.unwrap());
        let mut wrong = send("answer x");
        wrong.message.task_id = Some(t3.id.clone());
        wrong.message.context_id = Some("other".into());
        assert_eq!(
            f.manager.send_message("a", wrong).await.unwrap_err().code(),
            -32602
        );

        // Unknown task.
        let mut unknown = send("answer x");
        unknown.message.task_id = Some("nope".into());
        assert_eq!(
            f.manager.send_message("a", unknown).await.unwrap_err(),
            A2aError::TaskNotFound("nope".into())
        );
    }
}

#[tokio::test]
async fn failures_end_the_task_with_a_reason() {
    for (name, f) in fixtures() {
        for (cmd, state, reason) in [
            ("nothing", TaskState::Failed, "returned without completing"),
            ("err", TaskState::Failed, "it broke"),
            ("reject", TaskState::Rejected, "not mine"),
            ("panic", TaskState::Failed, "agent panicked: boom"),
        ] {
            let t = task_of(f.manager.send_message("a", send(cmd)).await.unwrap());
            assert_eq!(t.status.state, state, "{name} {cmd}");
            assert!(
                status_text(&t).contains(reason),
                "{name} {cmd}: {}",
                status_text(&t)
            );
        }
        let t = task_of(f.manager.send_message("a", send("twice")).await.unwrap());
        assert_eq!(t.status.state, TaskState::Completed, "{name}");
    }
}

#[tokio::test]
async fn direct_reply_is_a_message() {
    for (name, f) in fixtures() {
        match f.manager.send_message("a", send("reply")).await.unwrap() {
            SendMessageResponse::Message(m) => {
                assert_eq!(m.text(), "direct", "{name}");
                assert_eq!(m.role, Role::Agent);
                assert!(m.context_id.is_some());
            }
            other => panic!("{name}: {other:?}"),
        }
        let mut stream = f
            .manager
            .send_streaming_message("a", send("reply"))
            .await
            .unwrap();
        let events: Vec<_> = (&mut stream).collect().await;
        assert_eq!(events.len(), 1, "{name}: {events:?}");
        assert!(matches!(*events[0].event, StreamResponse::Message(_)));
    }
}

#[tokio::test]
async fn repeated_message_id_does_not_run_the_agent_twice() {
    for (name, f) in fixtures() {
        let mut req = send("hello");
        req.message.context_id = Some("ctx-1".into());
        let a = task_of(f.manager.send_message("a", req.clone()).await.unwrap());
        let b = task_of(f.manager.send_message("a", req.clone()).await.unwrap());
        assert_eq!(a.id, b.id, "{name}");
        assert_eq!(f.agent.runs.load(Ordering::SeqCst), 1, "{name}");
        // The same id in another context is a new message.
        req.message.context_id = Some("ctx-2".into());
        let c = task_of(f.manager.send_message("a", req).await.unwrap());
        assert_ne!(a.id, c.id);
    }
}

#[tokio::test]
async fn cancel_is_cooperative_then_forced() {
    for (name, f) in fixtures() {
        for cmd in ["coop", "stubborn"] {
            let mut req = send(cmd);
            req.configuration = Some(SendMessageConfiguration {
                return_immediately: true,
                ..Default::default()
            });
            let t = task_of(f.manager.send_message("a", req).await.unwrap());
            tokio::time::sleep(Duration::from_millis(100)).await;
            let started = std::time::Instant::now();
            let c = f
                .manager
                .cancel_task(
                    "a",
                    CancelTaskRequest {
                        id: t.id.clone(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(c.status.state, TaskState::Canceled, "{name} {cmd}");
            // The turn is gone within the grace period (+ slack).
            for _ in 0..50 {
                if f.manager.running_turns() == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(f.manager.running_turns(), 0, "{name} {cmd}");
            assert!(started.elapsed() < Duration::from_secs(2));
            let err = f
                .manager
                .cancel_task(
                    "a",
                    CancelTaskRequest {
                        id: t.id.clone(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap_err();
            assert_eq!(err.code(), -32002, "{name}: {err}");
            let got = f
                .manager
                .get_task(
                    "a",
                    GetTaskRequest {
                        id: t.id.clone(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(got.status.state, TaskState::Canceled);
        }
        // An input-required task (no turn running) can be canceled too.
        let t = task_of(f.manager.send_message("a", send("ask")).await.unwrap());
        let c = f
            .manager
            .cancel_task(
                "a",
                CancelTaskRequest {
                    id: t.id,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(c.status.state, TaskState::Canceled, "{name}");
    }
}

#[tokio::test]
async fn streams_see_the_same_events_in_the_same_order_and_replay() {
    for (name, f) in fixtures() {
        let mut req = send("stream 20");
        req.configuration = Some(SendMessageConfiguration::default());
        let first = f.manager.send_streaming_message("a", req).await.unwrap();
        let a: Vec<_> = first.collect().await;
        assert!(
            matches!(*a[0].event, StreamResponse::Task(_)),
            "{name}: first event is the task"
        );
        assert_eq!(a.last().unwrap().event.state(), Some(TaskState::Completed));
        let seqs: Vec<u64> = a.iter().map(|e| e.seq.unwrap()).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "{name}: gap-free ids"
        );
        let task_id = match &*a[0].event {
            StreamResponse::Task(t) => t.id.clone(),
            _ => unreachable!(),
        };
        // Replay after event 5 gives exactly the rest.
        let replay: Vec<_> = f
            .manager
            .subscribe(
                "a",
                SubscribeToTaskRequest {
                    id: task_id.clone(),
                    ..Default::default()
                },
                Some(5),
            )
            .await
            .unwrap()
            .collect()
            .await;
        assert_eq!(replay, a[5..].to_vec(), "{name}");
        // Subscribing to a finished task without a cursor is refused.
        let err = f
            .manager
            .subscribe(
                "a",
                SubscribeToTaskRequest {
                    id: task_id,
                    ..Default::default()
                },
                None,
            )
            .await
            .err()
            .unwrap();
        assert_eq!(err.code(), -32004);
    }
}

// A stream that falls behind the live channel (its reader slower than
// the agent, the channel at its smallest) refills from the event log and
// still sees every event once, in order.
#[tokio::test]
async fn a_stream_that_falls_behind_refills_from_the_log() {
    for (name, f) in fixtures_config(|c| c.broadcast_capacity = 1) {
        let mut stream = f
            .manager
            .send_streaming_message("a", send("stream 60"))
            .await
            .unwrap();
        let first = stream.next().await.unwrap();
        // The agent writes its 121 events while this reader sleeps.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rest: Vec<_> = stream.collect().await;
        let seqs: Vec<u64> = std::iter::once(&first)
            .chain(&rest)
            .map(|e| e.seq.unwrap())
            .collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "{name}");
        assert_eq!(
            seqs.len(),
            2 + 2 * 60,
            "{name}: task, 60 × (status, artifact), completed"
        );
        assert_eq!(
            rest.last().unwrap().event.state(),
            Some(TaskState::Completed)
        );
    }
}

#[tokio::test]
async fn concurrent_subscribers_agree() {
    for (name, f) in fixtures() {
        let mut req = send("coop");
        req.configuration = Some(SendMessageConfiguration {
            return_immediately: true,
            ..Default::default()
        });
        let t = task_of(f.manager.send_message("a", req).await.unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
        let sub = || {
            f.manager.subscribe(
                "a",
                SubscribeToTaskRequest {
                    id: t.id.clone(),
                    ..Default::default()
                },
                None,
            )
        };
        let (s1, s2) = (sub().await.unwrap(), sub().await.unwrap());
        let h1 = tokio::spawn(s1.collect::<Vec<_>>());
        let h2 = tokio::spawn(s2.collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(50)).await;
        f.manager
            .cancel_task(
                "a",
                CancelTaskRequest {
                    id: t.id.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let (e1, e2) = (h1.await.unwrap(), h2.await.unwrap());
        assert_eq!(e1, e2, "{name}");
        assert!(matches!(*e1[0].event, StreamResponse::Task(_)));
        assert_eq!(e1.last().unwrap().event.state(), Some(TaskState::Canceled));
    }
}

#[tokio::test]
async fn context_state_persists_across_tasks() {
    for (name, f) in fixtures() {
        let mut req = send("count");
        req.message.context_id = Some("c".into());
        for expected in 1..=3 {
            let mut r = req.clone();
            r.message.message_id = format!("m{expected}");
            let t = task_of(f.manager.send_message("a", r).await.unwrap());
            assert_eq!(status_text(&t), expected.to_string(), "{name}");
        }
    }
}

#[tokio::test]
async fn list_tasks_filters_and_pages() {
    for (name, f) in fixtures() {
        let mut ids = Vec::new();
        for i in 0..7 {
            let mut r = send(&format!("hi {i}"));
            r.message.context_id = Some(if i % 2 == 0 { "even" } else { "odd" }.into());
            ids.push(task_of(f.manager.send_message("a", r).await.unwrap()).id);
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let page = f
                .manager
                .list_tasks(
                    "a",
                    ListTasksRequest {
                        page_size: Some(3),
                        page_token: token.clone(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(page.total_size, 7, "{name}");
            assert!(page.tasks.iter().all(|t| t.artifacts.is_empty()));
            seen.extend(page.tasks.into_iter().map(|t| t.id));
            if page.next_page_token.is_empty() {
                break;
            }
            token = Some(page.next_page_token);
        }
        ids.reverse();
        assert_eq!(seen, ids, "{name}: newest first, each once");
        let even = f
            .manager
            .list_tasks(
                "a",
                ListTasksRequest {
                    context_id: Some("even".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(even.total_size, 4);
        for bad in [0, 101, -1] {
            let err = f
                .manager
                .list_tasks(
                    "a",
                    ListTasksRequest {
                        page_size: Some(bad),
                        ..Default::default()
                    },
                )
                .await
                .unwrap_err();
            assert_eq!(err.code(), -32602, "{name} pageSize {bad}");
        }
    }
}

#[tokio::test]
async fn bad_messages_are_invalid_params() {
    for (_, f) in fixtures() {
        let mut no_parts = send("x");
        no_parts.message.parts.clear();
        let err = f.manager.send_message("a", no_parts).await.unwrap_err();
        assert!(
            matches!(&err, A2aError::InvalidParams { field: Some(f), .. } if f == "message.parts"),
            "{err:?}"
        );
        let mut no_id = send("x");
        no_id.message.message_id.clear();
        assert_eq!(
            f.manager.send_message("a", no_id).await.unwrap_err().code(),
            -32602
        );
        let mut odd_media = send("x");
        odd_media.message.parts = vec![Part {
            media_type: Some("application/x-unsupported-tck-type".into()),
            ..Part::from_content(PartContent::Raw(Bytes(b"tck".to_vec())))
        }];
        assert_eq!(
            f.manager
                .send_message("a", odd_media)
                .await
                .unwrap_err()
                .code(),
            -32005
        );
        assert_eq!(
            f.manager.send_message("zzz", send("x")).await.unwrap_err(),
            A2aError::AgentNotFound("zzz".into())
        );
    }
}

#[tokio::test]
async fn sqlite_tasks_survive_a_restart_and_orphans_are_failed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("restart.db");
    let (done, orphan) = {
        let store = a2a_host::store::sqlite::SqliteStore::open(&path).unwrap();
        let f = fixture_with(Arc::new(store), tempfile::tempdir().unwrap());
        let done = task_of(f.manager.send_message("a", send("ask")).await.unwrap());
        let mut follow = send("answer yes");
        follow.message.task_id = Some(done.id.clone());
        let done = task_of(f.manager.send_message("a", follow).await.unwrap());
        let mut req = send("stubborn");
        req.configuration = Some(SendMessageConfiguration {
            return_immediately: true,
            ..Default::default()
        });
        let orphan = task_of(f.manager.send_message("a", req).await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
        (done, orphan)
        // The manager is dropped with the stubborn turn still "running".
    };
    let store = a2a_host::store::sqlite::SqliteStore::open(&path).unwrap();
    let f = fixture_with(Arc::new(store), tempfile::tempdir().unwrap());
    assert_eq!(f.manager.recover().await.unwrap(), 1);
    let again = f
        .manager
        .get_task(
            "a",
            GetTaskRequest {
                id: done.id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again, done, "task and history survive a restart");
    let orphan = f
        .manager
        .get_task(
            "a",
            GetTaskRequest {
                id: orphan.id,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(orphan.status.state, TaskState::Failed);
    assert!(status_text(&orphan).contains("host stopped"));
}

#[tokio::test]
async fn a_subscription_spans_the_input_required_pause() {
    for (name, f) in fixtures() {
        let t = task_of(f.manager.send_message("a", send("ask")).await.unwrap());
        assert_eq!(t.status.state, TaskState::InputRequired);
        let stream = f
            .manager
            .subscribe(
                "a",
                SubscribeToTaskRequest {
                    id: t.id.clone(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let collector = tokio::spawn(stream.collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut follow = send("answer red");
        follow.message.task_id = Some(t.id.clone());
        let done = task_of(f.manager.send_message("a", follow).await.unwrap());
        assert_eq!(done.status.state, TaskState::Completed, "{name}");
        let events = tokio::time::timeout(Duration::from_secs(5), collector)
            .await
            .expect("the subscription ends when the task completes")
            .unwrap();
        assert_eq!(
            events[0].event.state(),
            Some(TaskState::InputRequired),
            "{name}: starts with the snapshot"
        );
        assert_eq!(
            events.last().unwrap().event.state(),
            Some(TaskState::Completed)
        );
        let seqs: Vec<u64> = events.iter().map(|e| e.seq.unwrap()).collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "{name}: {seqs:?}"
        );
    }
}

#[tokio::test]
async fn follow_ups_right_after_input_required_are_accepted() {
    // The turn that asked for input may still be unwinding when the client
    // answers; the answer must start the next turn, not bounce as "busy".
    for (name, f) in fixtures() {
        for _ in 0..20 {
            let t = task_of(f.manager.send_message("a", send("ask")).await.unwrap());
            let mut follow = send("answer now");
            follow.message.task_id = Some(t.id.clone());
            let done = task_of(f.manager.send_message("a", follow).await.unwrap());
            assert_eq!(done.status.state, TaskState::Completed, "{name}");
        }
    }
}

#[tokio::test]
async fn a_reused_message_id_with_new_content_is_a_new_message() {
    // Retries repeat the same message; a client that reuses an id for a
    // different message gets it processed, not swallowed.
    for (name, f) in fixtures() {
        let mut first = send("ask");
        first.message.context_id = Some("ctx".into());
        first.message.message_id = "same".into();
        let t = task_of(f.manager.send_message("a", first).await.unwrap());
        let mut follow = send("answer green");
        follow.message.message_id = "same".into();
        follow.message.task_id = Some(t.id.clone());
        let done = task_of(f.manager.send_message("a", follow.clone()).await.unwrap());
        assert_eq!(status_text(&done), "got green", "{name}");
        let mut other = send("hello again");
        other.message.context_id = Some("ctx".into());
        other.message.message_id = "same".into();
        let fresh = task_of(f.manager.send_message("a", other).await.unwrap());
        assert_ne!(fresh.id, t.id, "{name}");
        assert_eq!(status_text(&fresh), "hello again");
    }
}

#[tokio::test]
async fn canceling_a_paused_task_ends_its_subscriptions() {
    for (name, f) in fixtures() {
        let t = task_of(f.manager.send_message("a", send("ask")).await.unwrap());
        let stream = f
            .manager
            .subscribe(
                "a",
                SubscribeToTaskRequest {
                    id: t.id.clone(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let collector = tokio::spawn(stream.collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(50)).await;
        f.manager
            .cancel_task(
                "a",
                CancelTaskRequest {
                    id: t.id.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let events = tokio::time::timeout(Duration::from_secs(5), collector)
            .await
            .expect("the subscription ends when the task is canceled")
            .unwrap();
        assert_eq!(
            events.last().unwrap().event.state(),
            Some(TaskState::Canceled),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_stream_carries_the_task_once() {
    // Subscribing before the agent's first action: the snapshot is the
    // task; the logged task event that follows arrives as a status update.
    for (name, f) in fixtures() {
        let mut req = send("slow");
        req.configuration = Some(SendMessageConfiguration {
            return_immediately: true,
            ..Default::default()
        });
        let t = task_of(f.manager.send_message("a", req).await.unwrap());
        let events: Vec<_> = f
            .manager
            .subscribe(
                "a",
                SubscribeToTaskRequest {
                    id: t.id.clone(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap()
            .collect()
            .await;
        let tasks = events
            .iter()
            .filter(|e| matches!(*e.event, StreamResponse::Task(_)))
            .count();
        assert_eq!(tasks, 1, "{name}: {events:?}");
        assert!(matches!(*events[0].event, StreamResponse::Task(_)));
        assert_eq!(
            events.last().unwrap().event.state(),
            Some(TaskState::Completed)
        );
    }
}

#[tokio::test]
async fn a_follow_up_turn_knows_what_earlier_turns_spent() {
    // Per-task limits (events, artifact bytes) start each turn from here.
    for (name, f) in fixtures() {
        let t = task_of(
            f.manager
                .send_message("a", send("artifact-then-ask"))
                .await
                .unwrap(),
        );
        assert_eq!(t.status.state, TaskState::InputRequired, "{name}");
        let mut follow = send("spent");
        follow.message.task_id = Some(t.id.clone());
        let done = task_of(f.manager.send_message("a", follow).await.unwrap());
        // The task event, the artifact and the input-required status; the
        // five bytes of the artifact's text.
        assert_eq!(status_text(&done), "3 5", "{name}");
        let fresh = task_of(f.manager.send_message("a", send("spent")).await.unwrap());
        assert_eq!(
            status_text(&fresh),
            "0 0",
            "{name}: a new task starts at zero"
        );
    }
}

/// The stored tasks of agent `a`, read from the store itself (the
/// manager's ListTasks would first write any task still waiting).
async fn stored_tasks(f: &Fixture) -> Vec<Task> {
    let query = a2a_host::store::TaskQuery {
        agent: "a".into(),
        page_size: 100,
        ..Default::default()
    };
    f.manager.store().list_tasks(&query).await.unwrap().tasks
}

#[tokio::test]
async fn a_quick_new_task_is_created_by_its_first_action() {
    for (name, f) in fixtures() {
        let t = task_of(f.manager.send_message("a", send("hello")).await.unwrap());
        let stored = f.manager.store().get_task(&t.id).await.unwrap().unwrap();
        // One write created it, completed, with both events and the claim.
        assert_eq!((stored.version, stored.last_seq), (1, 2), "{name}");
        assert_eq!(stored.task, t, "{name}");
        let mut again = send("hello");
        again.message.message_id = t.history[0].message_id.clone();
        again.message.context_id = Some(t.context_id.clone());
        let same = task_of(f.manager.send_message("a", again).await.unwrap());
        assert_eq!(same.id, t.id, "{name}: the claim was written");
        assert_eq!(f.agent.runs.load(Ordering::SeqCst), 1, "{name}");

        // A message in a known context could be a resend: its task is
        // written before the agent runs.
        let mut follow = send("hello");
        follow.message.context_id = Some(t.context_id.clone());
        let t2 = task_of(f.manager.send_message("a", follow).await.unwrap());
        let stored = f.manager.store().get_task(&t2.id).await.unwrap().unwrap();
        assert_eq!(stored.version, 2, "{name}");

        // So is one sent with returnImmediately: its client holds the id.
        let mut quick = send("slow");
        quick.configuration = Some(SendMessageConfiguration {
            return_immediately: true,
            ..Default::default()
        });
        let t3 = task_of(f.manager.send_message("a", quick).await.unwrap());
        assert!(
            f.manager.store().get_task(&t3.id).await.unwrap().is_some(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_slow_new_task_is_stored_when_the_window_ends() {
    for (name, f) in fixtures_config(|c| c.coalesce_window = Duration::from_millis(50)) {
        let manager = f.manager.clone();
        let send = tokio::spawn(async move { manager.send_message("a", send("slow")).await });
        let started = std::time::Instant::now();
        let stored = loop {
            let tasks = stored_tasks(&f).await;
            if let Some(t) = tasks.into_iter().next() {
                break t;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{name}: never stored"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        assert_eq!(stored.status.state, TaskState::Submitted, "{name}");
        let done = task_of(send.await.unwrap().unwrap());
        assert_eq!(done.id, stored.id, "{name}");
        assert_eq!(done.status.state, TaskState::Completed, "{name}");
        let stored = f.manager.store().get_task(&done.id).await.unwrap().unwrap();
        assert_eq!((stored.version, stored.task), (2, done), "{name}");
    }
}

#[tokio::test]
async fn tasks_waiting_to_be_written_are_listed_and_returned_stored() {
    let tune = |c: &mut ManagerConfig| {
        c.coalesce_window = Duration::from_secs(30);
        c.blocking_timeout = Duration::from_millis(100);
    };
    for (name, f) in fixtures_config(tune) {
        // The blocking send gives up waiting before the agent acts; the
        // task it returns must be in the store.
        let t = task_of(f.manager.send_message("a", send("slow")).await.unwrap());
        assert_eq!(t.status.state, TaskState::Submitted, "{name}");
        assert!(
            f.manager.store().get_task(&t.id).await.unwrap().is_some(),
            "{name}"
        );

        // ListTasks writes the tasks still waiting before it reads.
        let manager = f.manager.clone();
        let stream = manager
            .send_streaming_message("a", send("slow"))
            .await
            .unwrap();
        while f.manager.running_turns() < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let listed = f
            .manager
            .list_tasks("a", ListTasksRequest::default())
            .await
            .unwrap();
        assert_eq!(listed.tasks.len(), 2, "{name}");
        assert_eq!(stored_tasks(&f).await.len(), 2, "{name}");
        let events: Vec<_> = stream.collect().await;
        assert!(!events.is_empty(), "{name}");
    }
}

/// A store whose task writes take `delay` (a busy disk), over memory; it
/// counts the reads of event logs.
struct SlowStore {
    inner: a2a_host::store::memory::MemoryStore,
    delay: Duration,
    log_reads: AtomicUsize,
}

#[async_trait::async_trait]
impl Store for SlowStore {
    async fn write_task(
        &self,
        write: a2a_host::store::TaskWrite<'_>,
    ) -> Result<a2a_host::store::Committed, a2a_host::store::StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.write_task(write).await
    }
    async fn get_task(
        &self,
        task_id: &str,
    ) -> Result<Option<a2a_host::store::StoredTask>, a2a_host::store::StoreError> {
        self.inner.get_task(task_id).await
    }
    async fn list_tasks(
        &self,
        query: &a2a_host::store::TaskQuery,
    ) -> Result<a2a_host::store::TaskPage, a2a_host::store::StoreError> {
        self.inner.list_tasks(query).await
    }
    async fn events_after(
        &self,
        task_id: &str,
        after_seq: u64,
    ) -> Result<Vec<(u64, StreamResponse)>, a2a_host::store::StoreError> {
        self.log_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.events_after(task_id, after_seq).await
    }
    async fn task_for_message(
        &self,
        agent: &str,
        context_id: &str,
        message_id: &str,
    ) -> Result<Option<String>, a2a_host::store::StoreError> {
        self.inner
            .task_for_message(agent, context_id, message_id)
            .await
    }
    async fn tasks_in_states(
        &self,
        agent: Option<&str>,
        states: &[TaskState],
    ) -> Result<Vec<String>, a2a_host::store::StoreError> {
        self.inner.tasks_in_states(agent, states).await
    }
    async fn get_state(
        &self,
        agent: &str,
        context_id: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, a2a_host::store::StoreError> {
        self.inner.get_state(agent, context_id, key).await
    }
    async fn set_state(
        &self,
        agent: &str,
        context_id: &str,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(), a2a_host::store::StoreError> {
        self.inner.set_state(agent, context_id, key, value).await
    }
    async fn put_push_config(
        &self,
        config: &TaskPushNotificationConfig,
    ) -> Result<(), a2a_host::store::StoreError> {
        self.inner.put_push_config(config).await
    }
    async fn get_push_config(
        &self,
        task_id: &str,
        config_id: &str,
    ) -> Result<Option<TaskPushNotificationConfig>, a2a_host::store::StoreError> {
        self.inner.get_push_config(task_id, config_id).await
    }
    async fn list_push_configs(
        &self,
        task_id: &str,
    ) -> Result<Vec<TaskPushNotificationConfig>, a2a_host::store::StoreError> {
        self.inner.list_push_configs(task_id).await
    }
    async fn delete_push_config(
        &self,
        task_id: &str,
        config_id: &str,
    ) -> Result<bool, a2a_host::store::StoreError> {
        self.inner.delete_push_config(task_id, config_id).await
    }
    async fn claim_pushes(
        &self,
        claim: &a2a_host::store::PushClaim<'_>,
    ) -> Result<Vec<a2a_host::store::PushDelivery>, a2a_host::store::StoreError> {
        self.inner.claim_pushes(claim).await
    }
    async fn finish_pushes(
        &self,
        owner: &str,
        done: &[a2a_host::store::PushFinish],
    ) -> Result<(), a2a_host::store::StoreError> {
        self.inner.finish_pushes(owner, done).await
    }
    async fn next_push_due(&self) -> Result<Option<i64>, a2a_host::store::StoreError> {
        self.inner.next_push_due().await
    }
    async fn dead_pushes(
        &self,
        query: &a2a_host::store::DeadPushQuery,
    ) -> Result<Vec<a2a_host::store::DeadPush>, a2a_host::store::StoreError> {
        self.inner.dead_pushes(query).await
    }
    async fn requeue_dead_pushes(
        &self,
        query: &a2a_host::store::DeadPushQuery,
        now_ms: i64,
    ) -> Result<u64, a2a_host::store::StoreError> {
        self.inner.requeue_dead_pushes(query, now_ms).await
    }
    async fn push_counts(
        &self,
    ) -> Result<Vec<a2a_host::store::PushCounts>, a2a_host::store::StoreError> {
        self.inner.push_counts().await
    }
    async fn purge(
        &self,
        policy: &a2a_host::store::Retention,
        now: std::time::SystemTime,
    ) -> Result<a2a_host::store::PurgeReport, a2a_host::store::StoreError> {
        self.inner.purge(policy, now).await
    }
    fn describe(&self) -> String {
        "slow memory".into()
    }
}

/// The write window closes while the agent's first action is still being
/// written (a slow store): that write creates the task, and the turn goes
/// on (it once deadlocked here, waiting for the lock that write held).
#[tokio::test]
async fn the_window_closing_during_the_first_write_is_harmless() {
    let store = Arc::new(SlowStore {
        inner: a2a_host::store::memory::MemoryStore::new(),
        delay: Duration::from_millis(200),
        log_reads: AtomicUsize::new(0),
    });
    let f = fixture_config(store, tempfile::tempdir().unwrap(), |c| {
        c.coalesce_window = Duration::from_millis(20);
    });
    let sent = f.manager.send_message("a", send("hello"));
    let t = task_of(
        tokio::time::timeout(Duration::from_secs(5), sent)
            .await
            .expect("the turn finished")
            .unwrap(),
    );
    assert_eq!(t.status.state, TaskState::Completed);
    let stored = f.manager.store().get_task(&t.id).await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
}

/// A stream that gets every event of its new task through the live channel
/// ends without reading the event log, even when the turn has settled by
/// the time the stream is first read. (It once took the settle before the
/// waiting events, at random, and read the whole log each time: a fifth of
/// the SQLite server's CPU in streams.)
#[tokio::test]
async fn a_stream_that_saw_every_event_does_not_read_the_log() {
    let store = Arc::new(SlowStore {
        inner: a2a_host::store::memory::MemoryStore::new(),
        delay: Duration::ZERO,
        log_reads: AtomicUsize::new(0),
    });
    let f = fixture_with(store.clone(), tempfile::tempdir().unwrap());
    for _ in 0..20 {
        let stream = f
            .manager
            .send_streaming_message("a", send("hello"))
            .await
            .unwrap();
        while f.manager.running_turns() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let events: Vec<_> = stream.collect().await;
        let last = events.last().expect("events").event.state();
        assert_eq!(last, Some(TaskState::Completed));
    }
    assert_eq!(store.log_reads.load(Ordering::SeqCst), 0);
}
