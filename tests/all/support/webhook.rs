//! A real webhook receiver for push-notification tests: axum on
//! 127.0.0.1:0 that records what it is sent and misbehaves on request.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 at once.
    Ok,
    /// This status (e.g. 500, 503) without recording the request as
    /// accepted.
    Status(u16),
    /// 429 with `Retry-After: 1`.
    TooMany,
    /// 307 to another URL.
    Redirect,
    /// Never answers.
    Hang,
    /// Answers 200 with a 4 MiB body.
    HugeBody,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Whether it was answered 2xx.
    pub accepted: bool,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// `X-A2A-Notification-Id`.
    pub fn id(&self) -> String {
        self.header("x-a2a-notification-id")
            .expect("a notification id")
    }

    /// The sequence number at the end of the notification id.
    pub fn seq(&self) -> u64 {
        self.id().rsplit('/').next().unwrap().parse().unwrap()
    }

    /// The task id at the start of the notification id.
    pub fn task(&self) -> String {
        self.id().split('/').next().unwrap().to_string()
    }
}

struct State {
    /// Answers for the next requests, in order; then `then`.
    script: Vec<Behaviour>,
    then: Behaviour,
    received: Vec<Received>,
}

/// A receiver on 127.0.0.1:0.
#[derive(Clone)]
pub struct Webhook {
    pub url: String,
    state: Arc<Mutex<State>>,
    _server: Arc<tokio::task::JoinHandle<()>>,
}

impl Webhook {
    /// A receiver that answers `script` to its first requests, then `then`.
    pub async fn start(script: Vec<Behaviour>, then: Behaviour) -> Webhook {
        let state = Arc::new(Mutex::new(State {
            script,
            then,
            received: Vec::new(),
        }));
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let state = shared.clone();
            async move { answer(state, headers, body).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Webhook {
            url: format!("http://{addr}/hook"),
            state,
            _server: Arc::new(server),
        }
    }

    /// A receiver that always answers 200.
    pub async fn ok() -> Webhook {
        Webhook::start(Vec::new(), Behaviour::Ok).await
    }

    /// From now on, answer `b`.
    pub fn set(&self, b: Behaviour) {
        let mut s = self.state.lock();
        s.script.clear();
        s.then = b;
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().received.clone()
    }

    /// The requests answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.accepted).collect()
    }
}

async fn answer(state: Arc<Mutex<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let behaviour = {
        let mut s = state.lock();
        let b = if s.script.is_empty() {
            s.then
        } else {
            s.script.remove(0)
        };
        s.received.push(Received {
            headers,
            body,
            accepted: matches!(b, Behaviour::Ok | Behaviour::HugeBody),
        });
        b
    };
    match behaviour {
        Behaviour::Ok => StatusCode::OK.into_response(),
        Behaviour::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Behaviour::TooMany => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response()
        }
        Behaviour::Redirect => (
            StatusCode::TEMPORARY_REDIRECT,
            [("location", "http://127.0.0.1:1/")],
        )
            .into_response(),
        Behaviour::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Behaviour::HugeBody => (StatusCode::OK, vec![b'x'; 4 << 20]).into_response(),
    }
}

/// Sends `message` to `agent` of the host at `base`, blocking, with this
/// receiver as its push webhook; checks the task completed and returns its
/// id.
pub async fn send_completed(base: &str, agent: &str, message: Value, hook: &Webhook) -> String {
    let done = crate::support::http::rpc(
        base,
        agent,
        "SendMessage",
        json!({"message": message,
               "configuration": {"taskPushNotificationConfig": {"url": hook.url}}}),
    )
    .await;
    assert_eq!(
        done["task"]["status"]["state"], "TASK_STATE_COMPLETED",
        "{done}"
    );
    done["task"]["id"].as_str().unwrap().to_string()
}

/// Waits until every task in `tasks` has its completed status accepted,
/// then checks what arrived with [`complete_without_gaps`] and returns the
/// distinct count.
pub async fn wait_complete(hook: &Webhook, tasks: &[String], limit: std::time::Duration) -> usize {
    crate::support::eventually(limit, "every final notification", async || {
        all_final(hook, tasks)
    })
    .await;
    complete_without_gaps(&hook.accepted())
}

/// Whether every task in `tasks` has its completed status accepted.
fn all_final(hook: &Webhook, tasks: &[String]) -> bool {
    let got = hook.accepted();
    tasks.iter().all(|t| {
        got.iter().any(|r| {
            r.task() == *t && r.json()["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
        })
    })
}

/// Checks that `got` holds, per task, the notifications 1..=max with no
/// gap (duplicates allowed, each with the same body), and that each task's
/// last one is a terminal status; returns the distinct count.
pub fn complete_without_gaps(got: &[Received]) -> usize {
    use std::collections::BTreeMap;
    let mut per_task: BTreeMap<String, BTreeMap<u64, Bytes>> = BTreeMap::new();
    for r in got {
        let seqs = per_task.entry(r.task()).or_default();
        if let Some(earlier) = seqs.get(&r.seq()) {
            assert_eq!(earlier, &r.body, "a duplicate of {} differs", r.id());
        }
        seqs.insert(r.seq(), r.body.clone());
    }
    let mut distinct = 0;
    for (task, seqs) in &per_task {
        let max = *seqs.keys().last().unwrap();
        let want: Vec<u64> = (1..=max).collect();
        assert_eq!(
            seqs.keys().copied().collect::<Vec<_>>(),
            want,
            "task {task}: notifications missing"
        );
        let last: Value = serde_json::from_slice(seqs.values().last().unwrap()).unwrap();
        let state = last["statusUpdate"]["status"]["state"]
            .as_str()
            .or_else(|| last["task"]["status"]["state"].as_str())
            .unwrap_or_default();
        assert!(
            matches!(
                state,
                "TASK_STATE_COMPLETED"
                    | "TASK_STATE_FAILED"
                    | "TASK_STATE_CANCELED"
                    | "TASK_STATE_REJECTED"
            ),
            "task {task}: the last notification is not the final status: {last}"
        );
        distinct += seqs.len();
    }
    distinct
}
