//! Every example agent end to end: its real `.wasm` (built from examples/
//! by `cargo xtask agents`, once per test run) loaded from an agents folder
//! by the WebAssembly runtime, served by the real HTTP surface on
//! 127.0.0.1:0 over a SQLite store in a temp dir, and driven over HTTP
//! (JSON-RPC, HTTP+JSON and SSE) as a client would.
//!
//! The `llm` agent talks to a fake OpenAI-compatible server started by the
//! test on 127.0.0.1:0: the only stand-in, for the outside internet.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use a2a_host::config::StoreSpec;
use a2a_host::model::AgentCard;
use a2a_host::runtime::{RuntimeConfig, WasmRuntime};
use base64::Engine as _;
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::eventually;
use crate::support::guests::{example, fill_agents_folder};
use crate::support::http::{Reply, state, status_text, text_of, user_message};
use crate::support::server::{TestServer, start_host};
use crate::support::sse::SseEvent;

// ---------------------------------------------------------------------------
// One runtime (once per test run)

/// One runtime for all tests, with a private compile cache, so each
/// component compiles once per test run.
fn runtime() -> WasmRuntime {
    static RT: OnceLock<(WasmRuntime, TempDir)> = OnceLock::new();
    RT.get_or_init(|| {
        let cache = tempfile::tempdir().unwrap();
        let rt = WasmRuntime::new(RuntimeConfig {
            cache_dir: Some(cache.path().to_path_buf()),
            max_instances: 100,
            cancel_grace: CANCEL_GRACE,
            ..Default::default()
        })
        .expect("runtime");
        (rt, cache)
    })
    .0
    .clone()
}

// ---------------------------------------------------------------------------
// A host as `a2a-host serve` wires it

/// How long a canceled agent may keep running (runtime and manager alike).
const CANCEL_GRACE: Duration = Duration::from_secs(1);

/// A running host: agents folder (watched), SQLite store, HTTP server.
struct Host {
    server: TestServer,
    host: a2a_host::Host,
    agents: TempDir,
    data: TempDir,
}

impl Host {
    /// A host serving copies of the example agents `names`, with the given
    /// `NAME.toml` policies next to them.
    async fn start(names: &[&str], policies: &[(&str, &str)]) -> Host {
        let agents = tempfile::tempdir().unwrap();
        fill_agents_folder(agents.path(), names, policies);
        let host = Host::launch(agents, tempfile::tempdir().unwrap()).await;
        let mut served = host.server.registry.names();
        served.sort();
        let mut wanted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        wanted.sort();
        assert_eq!(served, wanted, "the agents folder did not load everything");
        host
    }

    /// A host as `a2a-host serve` builds it (SQLite store, recovery, the
    /// agents folder synced and watched), served on 127.0.0.1:0.
    async fn launch(agents: TempDir, data: TempDir) -> Host {
        let host = a2a_host::Host::builder()
            .store(StoreSpec::Sqlite(data.path().join("tasks.db")))
            .blocking_timeout(Duration::from_secs(20))
            .cancel_grace(CANCEL_GRACE)
            .wasm_runtime(runtime())
            .agents_dir(agents.path())
            .build()
            .await
            .expect("host");
        let server = start_host(&host).await;
        Host {
            server,
            host,
            agents,
            data,
        }
    }

    /// Stops everything and starts a new host over the same agents folder
    /// and the same SQLite file.
    async fn restart(self) -> Host {
        let Host {
            server,
            host,
            agents,
            data,
        } = self;
        host.shutdown(Duration::ZERO).await;
        server.stop().await;
        Host::launch(agents, data).await
    }

    async fn stop(self) {
        self.host.shutdown(Duration::ZERO).await;
        self.server.stop().await;
    }

    /// `http://127.0.0.1:PORT/agents/NAME` + `path`.
    fn url(&self, agent: &str, path: &str) -> String {
        format!("{}{path}", self.server.agent(agent))
    }

    /// HTTP+JSON `message:send` of `message`, with `configuration` unless
    /// null; returns the answer whole (status checked by the caller).
    async fn send_rest(&self, agent: &str, message: Value, configuration: Value) -> Reply {
        let mut body = json!({ "message": message });
        if !configuration.is_null() {
            body["configuration"] = configuration;
        }
        self.server
            .rest(Method::POST, &self.url(agent, "/message:send"), Some(body))
            .await
    }

    /// A blocking HTTP+JSON send that must answer with a task.
    async fn task(&self, agent: &str, message: Value) -> Value {
        let r = self.send_rest(agent, message, Value::Null).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body["task"].is_object(), "expected a task: {}", r.text);
        r.body["task"].clone()
    }

    /// `message:stream` over HTTP+JSON; every event until the server closes
    /// the stream.
    async fn stream_rest(&self, agent: &str, message: Value) -> Vec<SseEvent> {
        let stream = self
            .server
            .open(self.server.rest_request(
                Method::POST,
                &self.url(agent, "/message:stream"),
                Some(json!({ "message": message })),
            ))
            .await
            .stream();
        assert_eq!(stream.status, 200);
        assert!(stream.content_type().starts_with("text/event-stream"));
        stream.collect().await
    }

    /// GetTask over HTTP+JSON.
    async fn get_task(&self, agent: &str, id: &str) -> Value {
        let r = self
            .server
            .rest(Method::GET, &self.url(agent, &format!("/tasks/{id}")), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }
}

// ---------------------------------------------------------------------------
// Small helpers

/// A user message with `text`, plus these extra fields (`taskId`,
/// `contextId`, `messageId`, …).
fn message(text: &str, extra: Value) -> Value {
    let mut m = user_message(text);
    if let Value::Object(fields) = extra {
        for (k, v) in fields {
            m[k] = v;
        }
    }
    m
}

/// The payloads of REST stream events (bare `StreamResponse`s), after
/// checking that every event has an id and the ids count up by one.
fn payloads(events: &[SseEvent]) -> Vec<Value> {
    assert!(!events.is_empty(), "the stream had no events");
    let seqs: Vec<u64> = events.iter().map(SseEvent::seq).collect();
    for pair in seqs.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "SSE ids have a gap: {seqs:?}");
    }
    events.iter().map(SseEvent::json).collect()
}

/// The status updates of a stream: `(state, text)`.
fn status_updates(p: &[Value]) -> Vec<(String, String)> {
    p.iter()
        .filter_map(|e| e.get("statusUpdate"))
        .map(|u| (state(u).to_string(), text_of(&u["status"]["message"])))
        .collect()
}

// ---------------------------------------------------------------------------
// echo

#[tokio::test]
async fn echo_answers_a_blocking_send_and_serves_a_valid_card() {
    let host = Host::start(&["echo"], &[]).await;
    let s = &host.server;

    // JSON-RPC, blocking.
    let res = s.send_text("echo", "hello from a test", Value::Null).await;
    let task = &res["task"];
    assert_eq!(state(task), "TASK_STATE_COMPLETED", "{res}");
    assert_eq!(status_text(task), "hello from a test");
    assert_eq!(task["status"]["message"]["role"], "ROLE_AGENT");

    // HTTP+JSON, blocking; the task is stored and readable.
    let task = host.task("echo", message("and over REST", json!({}))).await;
    assert_eq!(state(&task), "TASK_STATE_COMPLETED");
    assert_eq!(status_text(&task), "and over REST");
    let id = task["id"].as_str().unwrap();
    let stored = host.get_task("echo", id).await;
    assert_eq!(state(&stored), "TASK_STATE_COMPLETED");
    assert_eq!(text_of(&stored["history"][0]), "and over REST");

    // The card.
    let r = s
        .send(
            s.client
                .get(host.url("echo", "/.well-known/agent-card.json")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.content_type().starts_with("application/json"), "{r:?}");
    let card: AgentCard = serde_json::from_value(r.body.clone())
        .unwrap_or_else(|e| panic!("not an AgentCard ({e}): {}", r.text));
    assert_eq!(card.name, "echo");
    assert_eq!(card.description, "Repeats what you say");
    assert!(!card.version.is_empty());
    assert_eq!(card.skills.len(), 1, "{}", r.text);
    assert_eq!(card.skills[0].id, "echo");
    assert!(!card.skills[0].name.is_empty() && !card.skills[0].description.is_empty());
    assert!(!card.default_input_modes.is_empty() && !card.default_output_modes.is_empty());
    let agent_url = s.agent("echo");
    // Both bindings in A2A 1.0, preferred (first); every interface at the
    // agent's absolute URL.
    let v1: Vec<&str> = card
        .supported_interfaces
        .iter()
        .filter(|i| i.protocol_version == "1.0")
        .map(|i| i.protocol_binding.as_str())
        .collect();
    assert!(v1.contains(&"JSONRPC"), "{v1:?}");
    assert!(v1.contains(&"HTTP+JSON"), "{v1:?}");
    assert_eq!(card.supported_interfaces[0].protocol_version, "1.0");
    assert!(agent_url.starts_with("http://127.0.0.1:"), "{agent_url}");
    for interface in &card.supported_interfaces {
        assert_eq!(interface.url, agent_url, "interfaces use absolute URLs");
    }
    // The advertised JSON-RPC URL works as is.
    let jsonrpc = &card
        .supported_interfaces
        .iter()
        .find(|i| i.protocol_binding == "JSONRPC" && i.protocol_version == "1.0")
        .unwrap()
        .url;
    let r = s
        .send(s.rpc_request(
            jsonrpc,
            json!(7),
            "SendMessage",
            json!({"message": user_message("via the card")}),
        ))
        .await;
    assert_eq!(
        status_text(&r.body["result"]["task"]),
        "via the card",
        "{}",
        r.text
    );

    host.stop().await;
}

// ---------------------------------------------------------------------------
// streaming

#[tokio::test]
async fn streaming_sends_the_task_then_status_then_words_then_completed() {
    let host = Host::start(
        &["streaming"],
        &[("streaming", "[config]\ndelay_ms = 10\n")],
    )
    .await;

    let events = host
        .stream_rest("streaming", message("hello stream", json!({})))
        .await;
    let p = payloads(&events);

    // First the task, then only updates of that task.
    let task_id = p[0]["task"]["id"]
        .as_str()
        .expect("the task first")
        .to_string();
    for e in &p[1..] {
        let update = e
            .get("statusUpdate")
            .or_else(|| e.get("artifactUpdate"))
            .unwrap_or_else(|| panic!("unexpected event {e}"));
        assert_eq!(update["taskId"], task_id.as_str());
    }

    // The three working updates, in order, before any artifact chunk.
    let statuses = status_updates(&p);
    let working: Vec<&str> = statuses
        .iter()
        .filter(|(s, t)| s == "TASK_STATE_WORKING" && !t.is_empty())
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        working,
        [
            "Reading your message…",
            "Thinking it over…",
            "Writing the answer…"
        ]
    );
    let first_chunk = p
        .iter()
        .position(|e| e.get("artifactUpdate").is_some())
        .unwrap();
    let last_step = p
        .iter()
        .position(|e| text_of(&e["statusUpdate"]["status"]["message"]) == "Writing the answer…")
        .unwrap();
    assert!(last_step < first_chunk);

    // Word by word: append from the second chunk on, lastChunk on the last.
    let chunks: Vec<&Value> = p.iter().filter_map(|e| e.get("artifactUpdate")).collect();
    let answer = "You said: hello stream. That is worth streaming, one word at a time.";
    assert_eq!(chunks.len(), answer.split_whitespace().count());
    let mut text = String::new();
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["artifact"]["artifactId"], "answer");
        let append = chunk["append"].as_bool().unwrap_or(false);
        let last = chunk["lastChunk"].as_bool().unwrap_or(false);
        assert_eq!(append, i > 0, "append of chunk {i}: {chunk}");
        assert_eq!(
            last,
            i + 1 == chunks.len(),
            "lastChunk of chunk {i}: {chunk}"
        );
        let part = chunk["artifact"]["parts"][0]["text"].as_str().unwrap();
        assert_eq!(
            part.split_whitespace().count(),
            1,
            "one word per chunk: {part:?}"
        );
        text.push_str(part);
    }
    assert_eq!(text, answer);
    assert_eq!(chunks[0]["artifact"]["name"], "Answer");

    // Completed last, after the artifact.
    let last = p.last().unwrap();
    assert_eq!(
        state(&last["statusUpdate"]),
        "TASK_STATE_COMPLETED",
        "{last}"
    );
    assert_eq!(
        text_of(&last["statusUpdate"]["status"]["message"]),
        "Done streaming."
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|(s, _)| s == "TASK_STATE_COMPLETED")
            .count(),
        1
    );

    // The stored task holds the whole answer as one artifact.
    let stored = host.get_task("streaming", &task_id).await;
    assert_eq!(state(&stored), "TASK_STATE_COMPLETED");
    let artifacts = stored["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1, "{stored}");
    let joined: String = artifacts[0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect();
    assert_eq!(joined, answer);

    host.stop().await;
}

// ---------------------------------------------------------------------------
// multi-turn

#[tokio::test]
async fn multi_turn_asks_for_input_until_it_has_a_name_and_a_city() {
    let host = Host::start(&["multi-turn"], &[]).await;

    let task = host.task("multi-turn", message("hello", json!({}))).await;
    assert_eq!(state(&task), "TASK_STATE_INPUT_REQUIRED", "{task}");
    assert_eq!(status_text(&task), "What is your name?");
    let id = task["id"].as_str().unwrap().to_string();
    let context = task["contextId"].as_str().unwrap().to_string();

    let task = host
        .task("multi-turn", message("Ada", json!({"taskId": id})))
        .await;
    assert_eq!(task["id"], id.as_str());
    assert_eq!(state(&task), "TASK_STATE_INPUT_REQUIRED", "{task}");
    assert_eq!(status_text(&task), "Which city are you in?");

    let task = host
        .task(
            "multi-turn",
            message("Paris", json!({"taskId": id, "contextId": context})),
        )
        .await;
    assert_eq!(state(&task), "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(status_text(&task), "Nice to meet you, Ada from Paris!");
    assert_eq!(task["contextId"], context.as_str());

    // The history: each user message, with the agent's questions between.
    let stored = host.get_task("multi-turn", &id).await;
    let history: Vec<(String, String)> = stored["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap().to_string(), text_of(m)))
        .collect();
    let expected = [
        ("ROLE_USER", "hello"),
        ("ROLE_AGENT", "What is your name?"),
        ("ROLE_USER", "Ada"),
        ("ROLE_AGENT", "Which city are you in?"),
        ("ROLE_USER", "Paris"),
    ];
    assert!(history.len() >= expected.len(), "{history:?}");
    for (got, want) in history.iter().zip(expected) {
        assert_eq!((got.0.as_str(), got.1.as_str()), want, "{history:?}");
    }
    for m in stored["history"].as_array().unwrap() {
        assert_eq!(m["taskId"], id.as_str());
        assert_eq!(m["contextId"], context.as_str());
    }

    // A finished task takes no more messages.
    let r = host
        .send_rest(
            "multi-turn",
            message("again", json!({"taskId": id})),
            Value::Null,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.reason().as_deref(),
        Some("UNSUPPORTED_OPERATION"),
        "{}",
        r.text
    );

    // Both facts at once, one as a data part: done in one turn.
    let mut m = message("name: Grace", json!({}));
    m["parts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"data": {"city": "Arlington"}}));
    let task = host.task("multi-turn", m).await;
    assert_eq!(state(&task), "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(
        status_text(&task),
        "Nice to meet you, Grace from Arlington!"
    );

    host.stop().await;
}

// ---------------------------------------------------------------------------
// countdown

const COUNTDOWN_POLICY: &str = "[config]\ntick_ms = 50\n";

#[tokio::test]
async fn countdown_sends_one_status_per_step_then_completes() {
    let host = Host::start(&["countdown"], &[("countdown", COUNTDOWN_POLICY)]).await;

    let events = host
        .stream_rest("countdown", message("count down from 4", json!({})))
        .await;
    let p = payloads(&events);
    assert!(p[0]["task"].is_object(), "{}", p[0]);
    let steps: Vec<String> = status_updates(&p)
        .into_iter()
        .filter(|(s, t)| s == "TASK_STATE_WORKING" && !t.is_empty())
        .map(|(_, t)| t)
        .collect();
    assert_eq!(steps, ["4…", "3…", "2…", "1…"]);
    let last = &p.last().unwrap()["statusUpdate"];
    assert_eq!(state(last), "TASK_STATE_COMPLETED", "{last}");
    assert_eq!(
        text_of(&last["status"]["message"]),
        "Counted down from 4. Liftoff!"
    );

    // Too long a countdown is rejected.
    let task = host.task("countdown", message("601", json!({}))).await;
    assert_eq!(state(&task), "TASK_STATE_REJECTED", "{task}");
    assert!(status_text(&task).contains("600"), "{task}");

    host.stop().await;
}

#[tokio::test]
async fn countdown_canceled_midway_stops_at_once() {
    let host = Host::start(&["countdown"], &[("countdown", COUNTDOWN_POLICY)]).await;
    let s = &host.server;

    // 600 steps of 50 ms: 30 s, far longer than this test.
    let r = host
        .send_rest(
            "countdown",
            message("600", json!({})),
            json!({"returnImmediately": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["task"]["id"].as_str().unwrap().to_string();

    // Watch it count: the subscription starts with the task as it is, then
    // one status update per step, counting down by one.
    let mut stream = s
        .open(s.rest_request(
            Method::GET,
            &host.url("countdown", &format!("/tasks/{id}:subscribe")),
            None,
        ))
        .await
        .stream();
    let first = stream.next().await.expect("the task").json();
    assert_eq!(first["task"]["id"], id.as_str(), "{first}");
    let mut seen: Vec<u64> = Vec::new();
    while seen.len() < 3 {
        let ev = stream.next().await.expect("the countdown goes on").json();
        let text = text_of(&ev["statusUpdate"]["status"]["message"]);
        if let Some(n) = text.strip_suffix('…') {
            seen.push(n.parse().unwrap());
        }
    }
    assert!(seen[0] < 600, "{seen:?}");
    assert_eq!(seen, [seen[0], seen[0] - 1, seen[0] - 2]);

    // Cancel: the answer is the canceled task, at once.
    let asked = Instant::now();
    let r = s
        .rest(
            Method::POST,
            &host.url("countdown", &format!("/tasks/{id}:cancel")),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(state(&r.body), "TASK_STATE_CANCELED", "{}", r.text);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "canceling took {:?}",
        asked.elapsed()
    );

    // The subscription ends with the canceled status.
    let mut last = Value::Null;
    while let Some(ev) = stream.next().await {
        last = ev.json();
    }
    assert_eq!(
        state(&last["statusUpdate"]),
        "TASK_STATE_CANCELED",
        "{last}"
    );

    // The agent stops: no turn keeps running, and nothing more happens to
    // the task.
    eventually(
        Duration::from_secs(5),
        "the countdown to stop",
        async || s.manager.running_turns() == 0,
    )
    .await;
    let before = host.get_task("countdown", &id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = host.get_task("countdown", &id).await;
    assert_eq!(state(&after), "TASK_STATE_CANCELED");
    assert_eq!(before, after, "the task changed after it was canceled");

    host.stop().await;
}

// ---------------------------------------------------------------------------
// memory

/// Sends `text` to the memory agent in `context`: (answer text, data part).
async fn tell(host: &Host, context: &str, text: &str) -> (String, Value) {
    let task = host
        .task("memory", message(text, json!({"contextId": context})))
        .await;
    assert_eq!(state(&task), "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(task["contextId"], context);
    let parts = task["status"]["message"]["parts"].as_array().unwrap();
    let data = parts
        .iter()
        .find_map(|p| p.get("data"))
        .cloned()
        .unwrap_or(Value::Null);
    (status_text(&task), data)
}

#[tokio::test]
async fn memory_remembers_per_context_across_tasks_and_restarts() {
    let host = Host::start(&["memory"], &[]).await;

    let (text, data) = tell(&host, "chat-a", "remember the door code is 4711").await;
    assert_eq!(text, "Got it. I remember 1 thing(s) now.");
    assert_eq!(
        data,
        json!({"turns": 1, "notes": ["the door code is 4711"]})
    );

    let (text, data) = tell(&host, "chat-a", "remember: milk").await;
    assert_eq!(text, "Got it. I remember 2 thing(s) now.");
    assert_eq!(data["turns"], 2);

    // Another task of the same context sees both notes.
    let (text, _) = tell(&host, "chat-a", "what do you know?").await;
    assert_eq!(
        text,
        "I remember (turn 3):\n- the door code is 4711\n- milk"
    );

    // Another context sees nothing.
    let (text, data) = tell(&host, "chat-b", "what do you know?").await;
    assert!(
        text.starts_with("I don't remember anything yet (turn 1)"),
        "{text}"
    );
    assert_eq!(data, json!({"turns": 1, "notes": []}));

    // The memory lives in the SQLite store: it survives a restart.
    let host = host.restart().await;
    let (text, data) = tell(&host, "chat-a", "and now?").await;
    assert_eq!(
        text,
        "I remember (turn 4):\n- the door code is 4711\n- milk"
    );
    assert_eq!(data["turns"], 4);

    let (text, _) = tell(&host, "chat-a", "forget").await;
    assert_eq!(text, "Forgotten.");
    let (_, data) = tell(&host, "chat-a", "anything?").await;
    assert_eq!(data, json!({"turns": 6, "notes": []}));
    let (_, data) = tell(&host, "chat-b", "anything?").await;
    assert_eq!(data["turns"], 2);

    host.stop().await;
}

// ---------------------------------------------------------------------------
// files

#[tokio::test]
async fn files_returns_data_file_and_url_parts() {
    let host = Host::start(&["files"], &[]).await;

    let task = host
        .task("files", message("The cat and the hat.", json!({})))
        .await;
    assert_eq!(state(&task), "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(
        status_text(&task),
        "Your report is attached: data, file and URL parts."
    );
    let artifacts = task["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1, "{task}");
    let report = &artifacts[0];
    assert_eq!(report["artifactId"], "report");
    assert_eq!(report["name"], "Word report");
    assert_eq!(
        report["description"],
        "Statistics and word counts of your message"
    );
    let parts = report["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3, "{report}");

    // Data: statistics of the message.
    assert_eq!(
        parts[0]["data"],
        json!({"characters": 20, "words": 5, "lines": 1})
    );

    // File: raw bytes, base64 in JSON.
    assert_eq!(parts[1]["mediaType"], "text/csv");
    assert_eq!(parts[1]["filename"], "words.csv");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(parts[1]["raw"].as_str().expect("a raw part"))
        .expect("base64");
    assert_eq!(
        String::from_utf8(raw).unwrap(),
        "word,count\nthe,2\nand,1\ncat,1\nhat,1\n"
    );

    // URL: the specification's section on parts.
    assert_eq!(
        parts[2]["url"],
        "https://a2a-protocol.org/latest/specification/#65-part-object"
    );
    assert_eq!(parts[2]["mediaType"], "text/html");
    for part in parts {
        let kinds = ["text", "raw", "url", "data"]
            .iter()
            .filter(|k| part.get(**k).is_some())
            .count();
        assert_eq!(kinds, 1, "one kind per part: {part}");
    }

    host.stop().await;
}

// ---------------------------------------------------------------------------
// llm

/// What the fake model API saw.
#[derive(Default)]
struct Seen {
    /// `(Authorization header, JSON body)` per request.
    requests: Vec<(Option<String>, Value)>,
}

/// A fake OpenAI-compatible `POST /v1/chat/completions` on 127.0.0.1:0.
/// It answers "answer N to: LAST USER MESSAGE" (N counts requests).
async fn fake_model_api() -> (u16, Arc<Mutex<Seen>>) {
    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::routing::post;

    async fn chat(
        State(seen): State<Arc<Mutex<Seen>>>,
        headers: HeaderMap,
        axum::Json(body): axum::Json<Value>,
    ) -> axum::Json<Value> {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let last = body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_string();
        let n = {
            let mut seen = seen.lock();
            seen.requests.push((auth, body));
            seen.requests.len()
        };
        axum::Json(json!({
            "id": format!("chatcmpl-{n}"),
            "object": "chat.completion",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": format!("answer {n} to: {last}")},
                "finish_reason": "stop",
            }],
        }))
    }

    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, seen)
}

fn llm_policy(port: u16, allow: bool) -> String {
    let network = if allow {
        format!("[network]\nallow = [\"http://127.0.0.1:{port}\"]\n\n")
    } else {
        String::new()
    };
    format!(
        "{network}[config]\n\
         base_url = \"http://127.0.0.1:{port}/v1\"\n\
         model = \"fake-model\"\n\
         api_key = \"sk-test-123\"\n\
         system_prompt = \"Answer briefly.\"\n\
         timeout_secs = 10\n"
    )
}

#[tokio::test]
async fn llm_sends_the_conversation_and_the_key_to_the_model() {
    let (port, seen) = fake_model_api().await;
    let policy = llm_policy(port, true);
    let host = Host::start(&["llm"], &[("llm", &policy)]).await;

    let task = host
        .task(
            "llm",
            message("Say hi in French.", json!({"contextId": "conv-1"})),
        )
        .await;
    assert_eq!(state(&task), "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(status_text(&task), "answer 1 to: Say hi in French.");

    // A second task of the same context continues the conversation.
    let task = host
        .task(
            "llm",
            message("And in German?", json!({"contextId": "conv-1"})),
        )
        .await;
    assert_eq!(state(&task), "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(status_text(&task), "answer 2 to: And in German?");

    // Another context starts afresh.
    let task = host
        .task(
            "llm",
            message("Who are you?", json!({"contextId": "conv-2"})),
        )
        .await;
    assert_eq!(status_text(&task), "answer 3 to: Who are you?");

    let requests = seen.lock().requests.clone();
    assert_eq!(requests.len(), 3);
    for (auth, body) in &requests {
        assert_eq!(auth.as_deref(), Some("Bearer sk-test-123"));
        assert_eq!(body["model"], "fake-model");
    }
    assert_eq!(
        requests[0].1["messages"],
        json!([
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Say hi in French."},
        ])
    );
    assert_eq!(
        requests[1].1["messages"],
        json!([
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Say hi in French."},
            {"role": "assistant", "content": "answer 1 to: Say hi in French."},
            {"role": "user", "content": "And in German?"},
        ])
    );
    assert_eq!(
        requests[2].1["messages"],
        json!([
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Who are you?"},
        ])
    );

    host.stop().await;
}

#[tokio::test]
async fn llm_fails_with_denied_when_the_policy_does_not_allow_the_api() {
    let (port, seen) = fake_model_api().await;
    let policy = llm_policy(port, false);
    let host = Host::start(&["llm"], &[("llm", &policy)]).await;

    let task = host.task("llm", message("hello?", json!({}))).await;
    assert_eq!(state(&task), "TASK_STATE_FAILED", "{task}");
    let reason = status_text(&task);
    assert!(reason.contains("denied"), "{reason}");
    assert!(reason.contains(&format!("127.0.0.1:{port}")), "{reason}");
    assert!(seen.lock().requests.is_empty(), "the request got out");

    host.stop().await;
}

// ---------------------------------------------------------------------------
// tck

#[tokio::test]
async fn tck_message_id_prefixes_pick_the_scenario() {
    let host = Host::start(&["tck"], &[]).await;
    let with_id = |prefix: &str| {
        message(
            "hi",
            json!({"messageId": format!("{prefix}-{}", uuid::Uuid::new_v4().simple())}),
        )
    };

    let task = host.task("tck", with_id("tck-complete-task")).await;
    assert_eq!(state(&task), "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(status_text(&task), "Hello from TCK");

    let task = host.task("tck", with_id("tck-artifact-file")).await;
    assert_eq!(state(&task), "TASK_STATE_COMPLETED", "{task}");
    let part = &task["artifacts"][0]["parts"][0];
    assert_eq!(task["artifacts"][0]["artifactId"], "file-artifact");
    assert_eq!(part["raw"], "dGNr", "base64 of `tck`: {part}");
    assert_eq!(part["mediaType"], "text/plain");
    assert_eq!(part["filename"], "output.txt");

    let task = host.task("tck", with_id("tck-artifact-file-url")).await;
    let part = &task["artifacts"][0]["parts"][0];
    assert_eq!(part["url"], "https://example.com/output.txt", "{task}");

    // A direct message, no task.
    let r = host
        .send_rest("tck", with_id("tck-message-response"), Value::Null)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("task").is_none(), "{}", r.text);
    assert_eq!(r.body["message"]["role"], "ROLE_AGENT");
    assert_eq!(text_of(&r.body["message"]), "Direct message response");

    // Input required, then a follow-up completes it (echo-style).
    let task = host.task("tck", with_id("tck-input-required")).await;
    assert_eq!(state(&task), "TASK_STATE_INPUT_REQUIRED", "{task}");
    assert_eq!(status_text(&task), "Please provide more input");
    let task = host
        .task(
            "tck",
            message("here you are", json!({"taskId": task["id"].clone()})),
        )
        .await;
    assert_eq!(state(&task), "TASK_STATE_COMPLETED", "{task}");
    assert_eq!(status_text(&task), "here you are");

    let task = host.task("tck", with_id("tck-reject-task")).await;
    assert_eq!(state(&task), "TASK_STATE_REJECTED", "{task}");
    assert_eq!(status_text(&task), "rejected");

    // Over JSON-RPC streaming: the chunked artifact.
    let s = &host.server;
    let events = s
        .open(s.rpc_request(
            &s.agent("tck"),
            json!("chunks"),
            "SendStreamingMessage",
            json!({"message": with_id("tck-stream-artifact-chunked")}),
        ))
        .await
        .stream()
        .collect()
        .await;
    let results: Vec<Value> = events
        .iter()
        .map(|e| {
            let v = e.json();
            assert_eq!(v["id"], "chunks", "{v}");
            v["result"].clone()
        })
        .collect();
    let chunks: Vec<&Value> = results
        .iter()
        .filter_map(|r| r.get("artifactUpdate"))
        .collect();
    assert_eq!(chunks.len(), 2, "{results:?}");
    assert_eq!(chunks[0]["artifact"]["parts"][0]["text"], "chunk-1 ");
    assert_eq!(chunks[1]["artifact"]["parts"][0]["text"], "chunk-2");
    assert_eq!(chunks[1]["lastChunk"], true);
    assert_eq!(
        state(&results.last().unwrap()["statusUpdate"]),
        "TASK_STATE_COMPLETED"
    );

    host.stop().await;
}

// ---------------------------------------------------------------------------
// Hot reload through HTTP

#[tokio::test]
async fn an_agent_copied_in_is_served_within_two_seconds_and_gone_once_deleted() {
    // Compile echo first, so the time below measures the watcher.
    let bytes = std::fs::read(example("echo")).unwrap();
    runtime().compile(Arc::new(bytes.clone())).await.unwrap();

    let host = Host::start(&[], &[]).await;
    let s = &host.server;
    let card_url = host.url("echo", "/.well-known/agent-card.json");
    let r = s.send(s.client.get(&card_url)).await;
    assert_eq!(r.status, 404, "{}", r.text);

    // Copied in the way a deploy should: written aside, then renamed.
    let path = host.agents.path().join("echo.wasm");
    let part = host.agents.path().join(".echo.wasm.part");
    std::fs::write(&part, &bytes).unwrap();
    std::fs::rename(&part, &path).unwrap();
    eventually(Duration::from_secs(2), "echo to be served", async || {
        s.send(s.client.get(&card_url)).await.status == 200
    })
    .await;
    let res = s.send_text("echo", "hot", Value::Null).await;
    assert_eq!(status_text(&res["task"]), "hot");
    let agents = s.send(s.client.get(s.url("/agents"))).await;
    assert!(agents.text.contains("echo"), "{}", agents.text);

    std::fs::remove_file(&path).unwrap();
    eventually(Duration::from_secs(2), "echo to be gone", async || {
        s.send(s.client.get(&card_url)).await.status == 404
    })
    .await;
    let r = s
        .send(s.rpc_request(
            &s.agent("echo"),
            json!(1),
            "SendMessage",
            json!({"message": user_message("anyone?")}),
        ))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);

    host.stop().await;
}
