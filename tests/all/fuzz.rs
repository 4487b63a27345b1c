//! Property tests ("fuzzing" on stable Rust) of the edges a stranger can
//! reach: the JSON-RPC envelope and its params, the HTTP+JSON paths, query
//! strings and headers, the A2A 0.3 <-> 1.0 conversion, and the agents
//! folder (arbitrary bytes as a `.wasm` and as a `NAME.toml`).
//!
//! Each target checks that bad input gets an answer or an error — never a
//! panic, a hang, or a server error — and runs a small number of cases in the
//! ordinary suite. `cargo xtask fuzz [--secs N]` runs each for a time budget
//! instead (`A2A_FUZZ_SECS`), in release mode. `PROPTEST_CASES` sets the
//! number of cases of a normal run.
//!
//! A failing case is shrunk and its seed saved in
//! `tests/fuzz-regressions/TARGET.txt`; saved seeds are replayed first on
//! every run, so a crash once found stays covered.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use a2a_host::compat;
use a2a_host::manager::{ManagerConfig, TaskManager};
use a2a_host::registry::{AgentRegistry, LoadedAgent};
use a2a_host::runtime::{AgentPolicy, Allowlist, Limits, RuntimeConfig, WasmRuntime};
use a2a_host::server::{ServerConfig, router};
use a2a_host::store::memory::MemoryStore;
use axum::body::Body;
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use crate::support::agents::TestAgent;
use crate::support::guests::test_guests_dir;
use crate::support::http::user_message;

// ---------------------------------------------------------------------------
// The runner

/// What the cases of a target ran into, by outcome (e.g. `HTTP 400`).
#[derive(Default)]
struct Stats(parking_lot::Mutex<std::collections::BTreeMap<String, u64>>);

impl Stats {
    fn note(&self, outcome: impl Into<String>) {
        *self.0.lock().entry(outcome.into()).or_default() += 1;
    }
}

/// Run `test` on values of `strategy`: `default_cases` of them (or
/// `PROPTEST_CASES`), or as many as fit in `A2A_FUZZ_SECS` seconds. Prints
/// what it did and what the cases ran into; fails on the first failing case,
/// after shrinking it.
fn fuzz<S: Strategy>(
    target: &str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value, &Stats) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        Config::default().cases
    } else {
        default_cases
    };
    let budget = std::env::var("A2A_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs);
    let regressions = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fuzz-regressions")
        .join(format!("{target}.txt"));
    let regressions: &'static str =
        Box::leak(regressions.to_string_lossy().into_owned().into_boxed_str());
    let config = Config {
        cases: if budget.is_some() { 256 } else { cases },
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        // Panics are what we look for: keep their messages readable.
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let started = Instant::now();
    let mut total = 0u64;
    let stats = Stats::default();
    loop {
        let mut runner = TestRunner::new(config.clone());
        if let Err(e) = runner.run(&strategy, |v| test(v, &stats)) {
            panic!("fuzz target {target} failed after {total} cases: {e}");
        }
        total += u64::from(config.cases);
        match budget {
            Some(b) if started.elapsed() < b => continue,
            _ => break,
        }
    }
    let outcomes: Vec<String> = stats
        .0
        .lock()
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    println!(
        "fuzz target {target}: {total} cases in {:.1} s, no failures ({})",
        started.elapsed().as_secs_f64(),
        outcomes.join(", ")
    );
}

/// A multi-threaded runtime for the async parts of a target.
fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ---------------------------------------------------------------------------
// Generators

/// Strings that have broken parsers before: empty, huge numbers, odd
/// Unicode, escapes, separators of the paths and queries.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551616".to_string()),
        Just("1e400".to_string()),
        Just("NaN".to_string()),
        Just("\u{0}".to_string()),
        Just("\u{feff}".to_string()),
        Just("é\u{301}".to_string()),
        Just("\u{1F600}".to_string()),
        Just("%".to_string()),
        Just("%zz".to_string()),
        Just("%00".to_string()),
        Just("../..".to_string()),
        Just(":cancel".to_string()),
        Just("a:b:c".to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("TASK_STATE_WORKING".to_string()),
        Just("2024-01-01T00:00:00Z".to_string()),
        Just("9999-99-99T99:99:99Z".to_string()),
        Just("x".repeat(10_000)),
        "\\PC{0,12}",
        "[a-zA-Z0-9_:-]{1,12}",
    ]
}

/// Field names the A2A model knows, and some it does not.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "message", "messageId", "role", "parts", "text", "data", "raw", "url", "file",
            "mediaType", "filename", "metadata", "taskId", "contextId", "configuration",
            "historyLength", "returnImmediately", "blocking", "acceptedOutputModes",
            "pushNotificationConfig", "id", "tenant", "pageSize", "pageToken", "status",
            "includeArtifacts", "statusTimestampAfter", "kind", "extensions",
            "referenceTaskIds", "taskPushNotificationConfig", "token", "authentication",
            "content", "request", "state", "final", "artifact", "bytes", "uri", "mimeType",
            "name", "pushNotificationConfigId", "configId", "jsonrpc", "method", "params",
        ]).prop_map(str::to_string),
        1 => tricky_string(),
    ]
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        tricky_string().prop_map(Value::String),
        prop::sample::select(vec![
            "ROLE_USER",
            "ROLE_AGENT",
            "user",
            "agent",
            "TASK_STATE_COMPLETED",
            "completed",
            "text/plain",
            "application/json",
            "*/*",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A change to a JSON document: at the `pick`-th path (modulo the number of
/// paths), replace the value, remove the member, or add a member.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, Value),
    Remove(usize),
    Insert(usize, String, Value),
}

/// No edit a third of the time (the valid request must work too), else
/// one to three.
fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        3 => (any::<usize>(), json_value()).prop_map(|(i, v)| Edit::Replace(i, v)),
        1 => any::<usize>().prop_map(Edit::Remove),
        2 => (any::<usize>(), key(), json_value()).prop_map(|(i, k, v)| Edit::Insert(i, k, v)),
    ];
    prop_oneof![
        1 => Just(Vec::new()),
        2 => prop::collection::vec(edit, 1..4),
    ]
}

/// Every path into `v` (object keys and array indices), root first.
fn paths(v: &Value, prefix: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(PathStep::Key(k.clone()));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                prefix.push(PathStep::Index(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut Value, path: &[PathStep]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match step {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

fn apply(mut doc: Value, edits: &[Edit]) -> Value {
    for edit in edits {
        let mut all = Vec::new();
        paths(&doc, &mut Vec::new(), &mut all);
        let pick = |i: usize| all[i % all.len()].clone();
        match edit {
            Edit::Replace(i, v) => *at(&mut doc, &pick(*i)) = v.clone(),
            Edit::Remove(i) => {
                let path = pick(*i);
                if let Some((last, parent)) = path.split_last() {
                    match (at(&mut doc, parent), last) {
                        (Value::Object(m), PathStep::Key(k)) => {
                            m.remove(k);
                        }
                        (Value::Array(a), PathStep::Index(i)) if *i < a.len() => {
                            a.remove(*i);
                        }
                        _ => {}
                    }
                }
            }
            Edit::Insert(i, k, v) => match at(&mut doc, &pick(*i)) {
                Value::Object(m) => {
                    m.insert(k.clone(), v.clone());
                }
                Value::Array(a) => a.push(v.clone()),
                _ => {}
            },
        }
    }
    doc
}

/// Valid params of each method (1.0 and 0.3 forms), to be edited.
fn templates(task_ids: &[String]) -> Vec<(&'static str, Value)> {
    let id = task_ids.first().cloned().unwrap_or_default();
    let msg = json!({"messageId": "m-1", "role": "ROLE_USER", "parts": [{"text": "hello"}]});
    let msg03 = json!({"kind": "message", "messageId": "m-1", "role": "user",
        "parts": [{"kind": "text", "text": "hello"}]});
    vec![
        (
            "SendMessage",
            json!({"message": msg, "configuration": {"returnImmediately": true}}),
        ),
        (
            "SendMessage",
            json!({"message": {"messageId": "m-2", "role": "ROLE_USER",
            "parts": [{"data": {"k": [1, 2]}, "mediaType": "application/json"},
                      {"raw": "AAEC", "filename": "f.bin"}, {"url": "https://x.test/a"}],
            "taskId": id, "metadata": {"a": 1}}}),
        ),
        ("SendStreamingMessage", json!({"message": msg})),
        ("GetTask", json!({"id": id, "historyLength": 2})),
        (
            "ListTasks",
            json!({"pageSize": 2, "status": "TASK_STATE_COMPLETED",
            "includeArtifacts": true}),
        ),
        ("CancelTask", json!({"id": id})),
        ("SubscribeToTask", json!({"id": id})),
        (
            "CreateTaskPushNotificationConfig",
            json!({"taskId": id,
            "url": "https://hooks.test/x", "token": "t"}),
        ),
        (
            "GetTaskPushNotificationConfig",
            json!({"taskId": id, "id": "c"}),
        ),
        ("ListTaskPushNotificationConfigs", json!({"taskId": id})),
        (
            "DeleteTaskPushNotificationConfig",
            json!({"taskId": id, "id": "c"}),
        ),
        ("GetExtendedAgentCard", json!({})),
        (
            "message/send",
            json!({"message": msg03, "configuration": {"blocking": false}}),
        ),
        ("message/stream", json!({"message": msg03})),
        ("tasks/get", json!({"id": id, "historyLength": 1})),
        ("tasks/cancel", json!({"id": id})),
        ("tasks/resubscribe", json!({"id": id})),
        (
            "tasks/pushNotificationConfig/set",
            json!({"taskId": id,
            "pushNotificationConfig": {"url": "https://hooks.test/x"}}),
        ),
        ("agent/getAuthenticatedExtendedCard", Value::Null),
    ]
}

// ---------------------------------------------------------------------------
// The server under test

/// A router over native test agents (no wasm), with a few tasks in it.
struct Surface {
    app: axum::Router,
    task_ids: Vec<String>,
}

async fn surface() -> Surface {
    let registry = AgentRegistry::new();
    registry.insert("echo", LoadedAgent::new(TestAgent::arc("echo"), None));
    registry.insert("other", LoadedAgent::new(TestAgent::arc("other"), None));
    let manager = TaskManager::new(
        Arc::new(MemoryStore::new()),
        registry,
        ManagerConfig {
            blocking_timeout: Duration::from_secs(1),
            cancel_grace: Duration::from_millis(100),
            ..Default::default()
        },
    );
    let app = router(
        manager,
        ServerConfig {
            default_agent: Some("echo".into()),
            max_body_bytes: 64 * 1024,
            sse_keep_alive: Duration::from_millis(200),
            ..Default::default()
        },
    );
    let mut task_ids = Vec::new();
    for text in ["done", "input", "artifact"] {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
            "params": {"message": user_message(text)}});
        let answer = call(&app, post("/agents/echo", &body.to_string())).await;
        assert_eq!(answer.status, 200);
        let v: Value = serde_json::from_slice(&answer.body).unwrap();
        task_ids.push(v["result"]["task"]["id"].as_str().unwrap().to_string());
    }
    Surface { app, task_ids }
}

fn post(path: &str, body: &str) -> http::Request<Body> {
    http::Request::post(path)
        .header("A2A-Version", "1.0")
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// What came back for one request.
struct Answer {
    status: u16,
    /// Up to 1 MiB of the body.
    body: Vec<u8>,
    /// Whether it is an SSE stream.
    sse: bool,
    /// Whether the stream was still open when we stopped reading.
    open: bool,
}

/// Send one request and read the answer.
async fn call(app: &axum::Router, req: http::Request<Body>) -> Answer {
    let response = tokio::time::timeout(Duration::from_secs(10), app.clone().oneshot(req))
        .await
        .expect("no response head within 10 s")
        .expect("the router is infallible");
    let status = response.status().as_u16();
    let sse = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    // Streams may stay open (a task waiting for input); read a little.
    let wait = if sse {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(10)
    };
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("the body fails mid-way");
            if let Some(data) = frame.data_ref() {
                bytes.extend_from_slice(data);
                if bytes.len() > 1 << 20 {
                    break;
                }
            }
        }
    };
    let open = tokio::time::timeout(wait, read).await.is_err();
    assert!(!open || sse, "a non-stream body did not end within 10 s");
    Answer {
        status,
        body: bytes,
        sse,
        open,
    }
}

/// What every answer must be: no server error, JSON unless a stream, and
/// every complete stream event JSON.
fn check_answer(what: &str, a: &Answer) -> Result<(), TestCaseError> {
    let (status, body) = (a.status, a.body.as_slice());
    prop_assert!(
        status < 500,
        "{what}: HTTP {status}: {}",
        String::from_utf8_lossy(&body[..body.len().min(2000)])
    );
    if a.sse {
        let text = String::from_utf8_lossy(body);
        // A stream we stopped reading may end mid-event.
        let complete = text.rfind("\n\n").map_or("", |end| &text[..end]);
        for line in complete.lines() {
            if let Some(data) = line.strip_prefix("data:") {
                let parsed: Result<Value, _> = serde_json::from_str(data.trim_start());
                prop_assert!(parsed.is_ok(), "{what}: SSE data is not JSON: {data}");
            }
        }
    } else if !body.is_empty() {
        let parsed: Result<Value, _> = serde_json::from_slice(body);
        prop_assert!(
            parsed.is_ok(),
            "{what}: HTTP {status} body is not JSON: {}",
            String::from_utf8_lossy(&body[..body.len().min(2000)])
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Target: JSON-RPC envelope and params

#[derive(Debug, Clone)]
enum RpcBody {
    /// An envelope built from parts, serialized.
    Envelope(Value),
    /// Arbitrary bytes.
    Bytes(Vec<u8>),
    /// A valid envelope with bytes flipped or cut.
    Damaged(Value, Vec<(usize, u8)>, Option<usize>),
}

fn rpc_body(task_ids: Vec<String>) -> impl Strategy<Value = RpcBody> {
    let templates = templates(&task_ids);
    let ids = task_ids.clone();
    let envelope = (
        prop::sample::select(templates),
        edits(),
        prop_oneof![
            16 => Just(Some(json!("2.0"))),
            1 => json_value().prop_map(Some),
            1 => Just(None),
        ],
        prop_oneof![
            6 => any::<i64>().prop_map(|n| Some(json!(n))),
            1 => json_value().prop_map(Some),
            1 => Just(None),
        ],
        prop_oneof![8 => Just(None), 1 => tricky_string().prop_map(Some)],
        prop::sample::select(ids),
        any::<bool>(),
    )
        .prop_map(
            |((method, params), edits, jsonrpc, id, other_method, task, swap_id)| {
                let mut params = apply(params, &edits);
                if swap_id && params.get("id").is_some() {
                    params["id"] = json!(task);
                }
                let mut env = Map::new();
                if let Some(v) = jsonrpc {
                    env.insert("jsonrpc".into(), v);
                }
                if let Some(v) = id {
                    env.insert("id".into(), v);
                }
                env.insert(
                    "method".into(),
                    json!(other_method.unwrap_or_else(|| method.to_string())),
                );
                if !params.is_null() {
                    env.insert("params".into(), params);
                }
                Value::Object(env)
            },
        )
        .boxed();
    prop_oneof![
        8 => envelope.clone().prop_map(RpcBody::Envelope),
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(RpcBody::Bytes),
        1 => (
            envelope,
            prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            prop::option::of(any::<usize>())
        )
            .prop_map(|(e, flips, cut)| RpcBody::Damaged(e, flips, cut)),
    ]
}

fn render(body: &RpcBody) -> Vec<u8> {
    match body {
        RpcBody::Envelope(v) => v.to_string().into_bytes(),
        RpcBody::Bytes(b) => b.clone(),
        RpcBody::Damaged(v, flips, cut) => {
            let mut b = v.to_string().into_bytes();
            for (at, byte) in flips {
                let n = b.len();
                b[at % n] = *byte;
            }
            if let Some(cut) = cut {
                b.truncate(cut % (b.len() + 1));
            }
            b
        }
    }
}

/// `A2A-Version`: mostly 1.0 or 0.3, sometimes absent or odd.
fn version_header() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        6 => Just(Some("1.0")),
        3 => Just(Some("0.3")),
        1 => Just(None),
        1 => prop::sample::select(vec![Some(""), Some("2.0"), Some("1.0.7"), Some("banana")]),
    ]
}

#[derive(Debug, Clone)]
struct RpcHeaders {
    version: Option<&'static str>,
    content_type: Option<&'static str>,
    path: &'static str,
}

fn rpc_headers() -> impl Strategy<Value = RpcHeaders> {
    (
        version_header(),
        prop_oneof![
            10 => Just(Some("application/json")),
            2 => Just(Some("application/a2a+json")),
            1 => Just(Some("application/json; charset=latin1")),
            1 => Just(Some("text/plain")),
            1 => Just(None),
        ],
        prop_oneof![
            6 => Just("/agents/echo"),
            1 => Just("/agents/echo/"),
            2 => Just("/"),
            1 => Just("/agents/nobody"),
        ],
    )
        .prop_map(|(version, content_type, path)| RpcHeaders {
            version,
            content_type,
            path,
        })
}

#[test]
fn fuzz_jsonrpc() {
    let rt = tokio();
    let s = rt.block_on(surface());
    let strategy = (
        rpc_body(s.task_ids.clone()),
        rpc_headers(),
        prop::bool::weighted(0.8),
    );
    fuzz(
        "jsonrpc",
        64,
        strategy,
        |(body, mut headers, matched), stats| {
            // Mostly the version the method belongs to (0.3 names have a `/`).
            let method = match &body {
                RpcBody::Envelope(v) | RpcBody::Damaged(v, ..) => v["method"].as_str(),
                RpcBody::Bytes(_) => None,
            };
            if let (true, Some(m)) = (matched, method) {
                headers.version = Some(if m.contains('/') { "0.3" } else { "1.0" });
            }
            let mut req = http::Request::post(headers.path);
            if let Some(v) = headers.version {
                req = req.header("A2A-Version", v);
            }
            if let Some(v) = headers.content_type {
                req = req.header("Content-Type", v);
            }
            let req = req.body(Body::from(render(&body))).unwrap();
            let answer = rt.block_on(call(&s.app, req));
            check_answer("JSON-RPC", &answer)?;
            if answer.sse {
                stats.note(if answer.open {
                    "stream (left open)"
                } else {
                    "stream"
                });
                return Ok(());
            }
            let v: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            stats.note(match (&v["error"]["code"], v.get("result")) {
                (code, _) if code.is_i64() => format!("error {code}"),
                (_, Some(_)) => "result".to_string(),
                _ => format!("HTTP {}", answer.status),
            });
            if answer.status != 204 && !answer.body.is_empty() {
                // Every other JSON-RPC answer is one envelope.
                prop_assert_eq!(&v["jsonrpc"], "2.0", "{}", v);
                prop_assert!(
                    v.get("result").is_some() != v.get("error").is_some(),
                    "{}",
                    v
                );
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// Target: HTTP+JSON paths, queries, headers

#[derive(Debug, Clone)]
struct RestCase {
    method: &'static str,
    prefix: &'static str,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    version: Option<&'static str>,
    content_type: Option<&'static str>,
    accept: Option<&'static str>,
    last_event_id: Option<String>,
    body: Option<Value>,
}

/// Percent-encode everything but unreserved characters, unless `raw`.
fn encode_segment(s: &str, raw: bool) -> String {
    if raw {
        return s
            .chars()
            .filter(|c| c.is_ascii_graphic() && !"/?#".contains(*c))
            .collect();
    }
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The routes of the HTTP+JSON bindings (1.0, and 0.3 under `v1/`), with
/// their usual method; `{id}` and `{cfg}` are filled in.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "message:send"),
    ("POST", "message:stream"),
    ("GET", "tasks"),
    ("GET", "tasks/{id}"),
    ("POST", "tasks/{id}:cancel"),
    ("GET", "tasks/{id}:subscribe"),
    ("POST", "tasks/{id}:subscribe"),
    ("GET", "tasks/{id}/pushNotificationConfigs"),
    ("POST", "tasks/{id}/pushNotificationConfigs"),
    ("GET", "tasks/{id}/pushNotificationConfigs/{cfg}"),
    ("DELETE", "tasks/{id}/pushNotificationConfigs/{cfg}"),
    ("GET", "extendedAgentCard"),
    ("GET", ".well-known/agent-card.json"),
    ("POST", "v1/message:send"),
    ("POST", "v1/message:stream"),
    ("GET", "v1/tasks/{id}"),
    ("POST", "v1/tasks/{id}:cancel"),
    ("GET", "v1/tasks/{id}:subscribe"),
    ("GET", "v1/card"),
];

fn rest_case(task_ids: Vec<String>) -> impl Strategy<Value = RestCase> {
    // A route, its method most of the time, ids from the tasks that exist
    // most of the time; or a few arbitrary segments.
    let routed = (
        prop::sample::select(ROUTES),
        prop_oneof![
            4 => Just(None),
            1 => prop::sample::select(vec!["GET", "POST", "DELETE", "PUT", "PATCH"]).prop_map(Some),
        ],
        prop_oneof![
            4 => prop::sample::select(task_ids.clone()),
            1 => tricky_string(),
        ],
        prop_oneof![3 => Just("c1".to_string()), 1 => tricky_string()],
    )
        .prop_map(|((method, route), other, id, cfg)| {
            let id = encode_segment(&id, false);
            let cfg = encode_segment(&cfg, false);
            let path = route.replace("{id}", &id).replace("{cfg}", &cfg);
            (
                other.unwrap_or(method),
                path.split('/').map(str::to_string).collect::<Vec<_>>(),
            )
        });
    let free = (
        prop::sample::select(vec!["GET", "POST", "DELETE", "PUT"]),
        prop::collection::vec(
            prop_oneof![
                2 => prop::sample::select(vec![
                    "tasks", "message:send", "pushNotificationConfigs", "v1", "tenant-a",
                    "message:nope", "", "agents", "echo", ".well-known",
                ]).prop_map(str::to_string),
                2 => tricky_string().prop_map(|s| encode_segment(&s, false)),
                1 => tricky_string().prop_map(|s| encode_segment(&s, true)),
            ],
            0..4,
        ),
    );
    let target = prop_oneof![4 => routed, 1 => free];
    let query_key = prop_oneof![
        3 => prop::sample::select(vec![
            "historyLength", "pageSize", "pageToken", "status", "contextId",
            "statusTimestampAfter", "includeArtifacts", "tenant", "A2A-Version",
        ]).prop_map(str::to_string),
        1 => tricky_string(),
    ];
    let query_value = prop_oneof![
        2 => prop::sample::select(vec![
            "1", "0", "-1", "100000", "true", "false", "TASK_STATE_COMPLETED",
            "2024-01-01T00:00:00Z", "1.0",
        ]).prop_map(str::to_string),
        1 => tricky_string(),
    ];
    (
        target,
        prop_oneof![
            4 => Just("/agents/echo"),
            1 => Just("/agents/echo/t1"),
            2 => Just(""),
            1 => Just("/agents/nobody"),
        ],
        prop::collection::vec((query_key, query_value), 0..3),
        version_header(),
        prop_oneof![
            6 => Just(Some("application/json")),
            1 => Just(Some("application/a2a+json")),
            1 => Just(Some("text/plain")),
            1 => Just(None),
        ],
        prop_oneof![
            4 => Just(None),
            1 => prop::sample::select(vec![
                Some("application/a2a+json"),
                Some("text/event-stream"),
                Some("text/html;q=0.1, */*;q=0"),
            ]),
        ],
        prop::option::of(prop_oneof![
            Just("0".to_string()),
            Just("18446744073709551615".to_string()),
            Just("-3".to_string()),
            "[a-z0-9]{0,6}",
        ]),
        prop_oneof![
            1 => Just(None),
            3 => (prop::sample::select(templates(&[])), edits())
                .prop_map(|((_, p), e)| Some(apply(p, &e))),
            1 => json_value().prop_map(Some),
        ],
    )
        .prop_map(
            |(
                (method, segments),
                prefix,
                query,
                version,
                content_type,
                accept,
                last_event_id,
                body,
            )| {
                RestCase {
                    method,
                    prefix,
                    segments,
                    query,
                    version,
                    content_type,
                    accept,
                    last_event_id,
                    body,
                }
            },
        )
}

fn rest_request(c: &RestCase) -> Option<http::Request<Body>> {
    let mut path = c.prefix.to_string();
    for s in &c.segments {
        path.push('/');
        path.push_str(s);
    }
    if path.is_empty() {
        path.push('/');
    }
    if !c.query.is_empty() {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(c.query.iter())
            .finish();
        path.push('?');
        path.push_str(&q);
    }
    let mut req = http::Request::builder().method(c.method).uri(path);
    if let Some(v) = c.version {
        req = req.header("A2A-Version", v);
    }
    if let Some(v) = c.content_type {
        req = req.header("Content-Type", v);
    }
    if let Some(v) = c.accept {
        req = req.header("Accept", v);
    }
    if let Some(v) = &c.last_event_id {
        req = req.header("Last-Event-ID", v.as_str());
    }
    let body = c
        .body
        .as_ref()
        .map_or_else(Body::empty, |b| Body::from(b.to_string()));
    req.body(body).ok()
}

#[test]
fn fuzz_rest() {
    let rt = tokio();
    let s = rt.block_on(surface());
    let strategy = rest_case(s.task_ids.clone());
    fuzz("rest", 64, strategy, |case, stats| {
        // Some raw segments make no valid URI: that never reaches a server.
        let Some(req) = rest_request(&case) else {
            stats.note("not a URI");
            return Ok(());
        };
        let answer = rt.block_on(call(&s.app, req));
        stats.note(format!("HTTP {}", answer.status));
        check_answer("HTTP+JSON", &answer)
    });
}

// ---------------------------------------------------------------------------
// Target: the 0.3 <-> 1.0 conversion

#[test]
fn fuzz_compat() {
    let msg03 = json!({"kind": "message", "messageId": "m", "role": "user",
        "parts": [{"kind": "text", "text": "hi"},
                  {"kind": "data", "data": {"a": 1}},
                  {"kind": "file", "file": {"uri": "https://x.test/f", "mimeType": "text/plain"}},
                  {"kind": "file", "file": {"bytes": "AAEC", "name": "f.bin"}}],
        "contextId": "c", "taskId": "t", "metadata": {"k": "v"}});
    let proto03 = json!({"request": {"messageId": "m", "role": "ROLE_USER",
        "content": [{"text": "hi"}, {"data": {"data": {"a": 1}}},
                    {"file": {"fileWithUri": "https://x.test/f", "mimeType": "text/plain"}},
                    {"file": {"fileWithBytes": "AAEC", "name": "f.bin"}}]},
        "configuration": {"blocking": true, "historyLength": 2}});
    let strategy = (
        prop_oneof![
            3 => edits().prop_map(move |e| (0u8, apply(json!({"message": msg03.clone()}), &e))),
            3 => edits().prop_map(move |e| (1u8, apply(proto03.clone(), &e))),
            1 => json_value().prop_map(|v| (0u8, v)),
            1 => json_value().prop_map(|v| (1u8, v)),
        ],
        prop::sample::select(vec!["SendMessage", "GetTask", "message/send", "ListTasks"]),
    );
    fuzz(
        "compat",
        256,
        strategy,
        |((form, params), method), stats| {
            // Reading: an error or a request, never a panic.
            let read = if form == 0 {
                let _ = compat::json::check_send_params(&params);
                compat::json::parse_send_params(params.clone())
            } else {
                let _ = compat::proto::check_send_request(&params);
                compat::proto::parse_send_request(params.clone())
            };
            let _ = compat::reject_v03_shapes(method, &params);
            stats.note(match (&read, form) {
                (Ok(_), 0) => "0.3 JSON read",
                (Ok(_), _) => "0.3 proto read",
                (Err(_), 0) => "0.3 JSON refused",
                (Err(_), _) => "0.3 proto refused",
            });
            // What was read converts back to either 0.3 form and reads again.
            if let Ok(req) = read {
                let json_msg = compat::json::Message::from_v1(&req.message);
                let again = serde_json::to_value(&json_msg).expect("0.3 JSON message serializes");
                let back = compat::json::parse_send_params(json!({"message": again}));
                prop_assert!(back.is_ok(), "0.3 JSON round trip: {:?}", back.err());
                let back = back.unwrap().message;
                prop_assert_eq!(&back.message_id, &req.message.message_id);
                prop_assert_eq!(back.parts.len(), req.message.parts.len());

                let proto_msg = compat::proto::Message::from_v1(&req.message);
                let again = serde_json::to_value(&proto_msg).expect("0.3 proto message serializes");
                let back = compat::proto::parse_send_request(json!({"request": again}));
                prop_assert!(back.is_ok(), "0.3 proto round trip: {:?}", back.err());
                prop_assert_eq!(back.unwrap().message.parts.len(), req.message.parts.len());
            }
            Ok(())
        },
    );
}

/// Found by `fuzz_compat` (`cargo xtask fuzz`, after 196 096 cases): a 0.3
/// JSON-RPC file part with `"uri": ""` is accepted, as a 1.0 URL part with
/// an empty URL; its 0.3 HTTP+JSON form then carries `fileWithUri: ""`,
/// which the 0.3 HTTP+JSON reader refuses ("a file needs exactly one of
/// `fileWithUri` and `fileWithBytes`"). Both readers should agree (refuse
/// the empty URI, or both accept it). Fixed: both forms read an empty URI
/// as no URI and refuse the part.
#[test]
fn compat_regression_empty_file_uri() {
    let params = json!({"message": {"kind": "message", "messageId": "m", "role": "user",
        "parts": [{"kind": "file", "file": {"uri": "", "mimeType": "text/plain"}}]}});
    let json_read = compat::json::parse_send_params(params);
    let proto = json!({"request": {"messageId": "m", "role": "ROLE_USER",
        "content": [{"file": {"fileWithUri": "", "mimeType": "text/plain"}}]}});
    let proto_read = compat::proto::parse_send_request(proto);
    assert_eq!(
        json_read.is_ok(),
        proto_read.is_ok(),
        "0.3 JSON-RPC: {json_read:?}; 0.3 HTTP+JSON: {proto_read:?}"
    );
}

// ---------------------------------------------------------------------------
// Target: the agents folder

/// The test guests' components, built by the runtime or hostile tests (or
/// `cargo xtask fuzz`); mutations of real components reach deeper than random
/// bytes. Falls back to a hand-made component header when none is built.
fn seed_components() -> Vec<Vec<u8>> {
    let dir = test_guests_dir();
    let mut seeds: Vec<Vec<u8>> = ["odd_import.wasm", "wrong_world.wasm", "huge_card.wasm"]
        .iter()
        .filter_map(|f| std::fs::read(dir.join(f)).ok())
        .collect();
    if seeds.is_empty() {
        seeds.push(b"\0asm\x0d\0\x01\0".to_vec());
    }
    seeds
}

#[derive(Debug, Clone)]
enum WasmInput {
    Random(Vec<u8>),
    /// A component header and random bytes after it.
    Headed(Vec<u8>),
    /// A real component, some bytes changed, maybe cut short.
    Mutated {
        seed: usize,
        flips: Vec<(usize, u8)>,
        cut: Option<usize>,
    },
}

fn wasm_bytes(input: &WasmInput, seeds: &[Vec<u8>]) -> Vec<u8> {
    match input {
        WasmInput::Random(b) => b.clone(),
        WasmInput::Headed(rest) => {
            let mut b = b"\0asm\x0d\0\x01\0".to_vec();
            b.extend_from_slice(rest);
            b
        }
        WasmInput::Mutated { seed, flips, cut } => {
            let mut b = seeds[seed % seeds.len()].clone();
            for (at, byte) in flips {
                let n = b.len();
                // Keep the header, so the compiler sees the damage.
                let i = 8 + at % (n - 8).max(1);
                if i < n {
                    b[i] = *byte;
                }
            }
            if let Some(cut) = cut {
                b.truncate(8 + cut % b.len().saturating_sub(7).max(1));
            }
            b
        }
    }
}

#[test]
fn fuzz_agent_files() {
    let rt = tokio();
    let cache = tempfile::tempdir().unwrap();
    let runtime = WasmRuntime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        compile_cache: false,
        pooling: Some(false),
        card_timeout: Duration::from_secs(2),
        ..Default::default()
    })
    .expect("runtime");
    let seeds = seed_components();
    let dir = tempfile::tempdir().unwrap();
    let strategy = (
        prop_oneof![
            1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(WasmInput::Random),
            1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(WasmInput::Headed),
            3 => (
                any::<usize>(),
                prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
                prop::option::of(any::<usize>())
            )
                .prop_map(|(seed, flips, cut)| WasmInput::Mutated { seed, flips, cut }),
        ],
        prop_oneof![
            6 => Just(None),
            1 => prop::collection::vec(any::<u8>(), 0..128).prop_map(Some),
            1 => "\\PC{0,60}".prop_map(|s| Some(s.into_bytes())),
            2 => policy_text().prop_map(|s| Some(s.into_bytes())),
        ],
    );
    fuzz("agent_files", 24, strategy, |(input, policy), stats| {
        let bytes = wasm_bytes(&input, &seeds);
        let wasm = dir.path().join("agent.wasm");
        std::fs::write(&wasm, &bytes).unwrap();
        let toml = dir.path().join("agent.toml");
        match &policy {
            Some(p) => std::fs::write(&toml, p).unwrap(),
            None => {
                let _ = std::fs::remove_file(&toml);
            }
        }
        // Loading gives an agent or an error that says what is wrong.
        let loaded = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), runtime.load_file("agent", &wasm)).await
        });
        match loaded {
            Err(_) => prop_assert!(false, "loading took more than 60 s"),
            Ok(Err(e)) => {
                let text = e.to_string();
                prop_assert!(!text.is_empty());
                let kind = text.split(':').next().unwrap_or("").to_string();
                stats.note(kind);
            }
            Ok(Ok(_agent)) => stats.note("loaded"),
        }
        Ok(())
    });
}

/// Structured `NAME.toml` text: the known sections and keys with values of
/// every type.
fn policy_text() -> impl Strategy<Value = String> {
    let section = prop::sample::select(vec![
        "limits",
        "network",
        "config",
        "card",
        "card.skills",
        "limit",
        "",
    ]);
    let key = prop::sample::select(vec![
        "memory_mb",
        "timeout_secs",
        "fuel",
        "max_concurrent",
        "queue_timeout_secs",
        "max_queued",
        "artifact_mb",
        "max_events",
        "events_per_second",
        "card_kb",
        "allow",
        "name",
        "description",
        "version",
        "streaming",
        "input_modes",
        "output_modes",
        "id",
        "tags",
        "model",
        "x",
    ]);
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just("0".to_string()),
        Just("4096".to_string()),
        Just("18446744073709551615".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "\\PC{0,20}".prop_map(|s| format!("{s:?}")),
        prop::collection::vec(
            prop::sample::select(vec![
                "\"https://api.example.com\"",
                "\"http://127.0.0.1:*\"",
                "\"https://*.x.test:8443\"",
                "\"http://[::1]\"",
                "\"ftp://x\"",
                "\"*\"",
                "\"http://*:*\"",
                "\"https://a*b\"",
                "1",
            ]),
            0..4
        )
        .prop_map(|v| format!("[{}]", v.join(", "))),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("{ a = 1 }".to_string()),
    ];
    prop::collection::vec(
        (
            section,
            any::<bool>(),
            prop::collection::vec((key, value), 0..4),
        ),
        0..4,
    )
    .prop_map(|sections| {
        let mut out = String::new();
        for (name, array, entries) in sections {
            if !name.is_empty() {
                if array {
                    out.push_str(&format!("[[{name}]]\n"));
                } else {
                    out.push_str(&format!("[{name}]\n"));
                }
            }
            for (k, v) in entries {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
        out
    })
}

#[test]
fn fuzz_policy() {
    let strategy = prop_oneof![
        3 => policy_text(),
        1 => "\\PC{0,200}",
        1 => prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ];
    let defaults = Limits::default();
    fuzz("policy", 512, strategy, |text, stats| {
        match AgentPolicy::parse(&text, &defaults) {
            Err(e) => {
                prop_assert!(!e.is_empty());
                stats.note("refused");
            }
            Ok(p) => {
                stats.note("parsed");
                // Whatever parses is within the documented ranges.
                let l = &p.limits;
                prop_assert!((1..=4096).contains(&l.memory_mb));
                prop_assert!((1..=10_000).contains(&l.max_concurrent));
                prop_assert!(l.max_events >= 1 && l.events_per_second >= 1);
                prop_assert!(l.artifact_bytes >= 1 && l.card_bytes >= 1);
                prop_assert!(!l.timeout.is_zero());
                for entry in p.network.entries() {
                    prop_assert!(Allowlist::parse(&[entry]).is_ok());
                }
            }
        }
        Ok(())
    });
}

/// Allowlist entries and request URLs: parsing never panics, and a
/// wildcard never makes a non-public literal address explicit.
#[test]
fn fuzz_allowlist() {
    // Entries and URLs drawn from the same hosts, so that they meet.
    let hosts = vec![
        "127.0.0.1",
        "localhost",
        "[::1]",
        "api.x.test",
        "a.api.x.test",
        "10.0.0.1",
        "169.254.169.254",
        "[::ffff:127.0.0.1]",
        "0.0.0.0",
        "X.TEST.",
    ];
    let host_pattern = prop_oneof![
        4 => prop::sample::select(hosts.clone()).prop_map(str::to_string),
        1 => Just("*".to_string()),
        1 => Just("*.x.test".to_string()),
        1 => Just("*.api.x.test".to_string()),
        1 => "\\PC{0,8}",
    ];
    let port = prop_oneof![
        3 => Just(String::new()),
        3 => Just(":8080".to_string()),
        2 => Just(":*".to_string()),
        1 => Just(":443".to_string()),
        1 => Just(":0".to_string()),
    ];
    let scheme = prop_oneof![
        3 => Just("http"),
        2 => Just("https"),
        1 => Just("ftp"),
        1 => Just("HTTP"),
    ];
    let tail = prop_oneof![6 => Just(""), 2 => Just("/"), 1 => Just("/x")];
    let entry = prop_oneof![
        6 => (scheme.clone(), host_pattern, port.clone(), tail)
            .prop_map(|(s, h, p, tail)| format!("{s}://{h}{p}{tail}")),
        1 => "\\PC{0,30}",
    ];
    let url = prop_oneof![
        6 => (scheme, prop::sample::select(hosts), port, prop::sample::select(vec!["", "/", "/v1?q=1"]))
            .prop_map(|(s, h, p, path)| format!("{s}://{h}{}{path}", p.replace('*', "9"))),
        1 => "\\PC{0,30}",
    ];
    let strategy = (prop::collection::vec(entry, 0..4), url);
    fuzz("allowlist", 512, strategy, |(entries, url), stats| {
        // Each entry parses or is refused alone; the valid ones make a list.
        let valid: Vec<&String> = entries
            .iter()
            .filter(|e| Allowlist::parse(&[e]).is_ok())
            .collect();
        if valid.len() < entries.len() {
            stats.note("entry refused");
        }
        let list = Allowlist::parse(&valid).expect("valid entries make a valid list");
        let Ok(uri) = url.parse::<http::Uri>() else {
            stats.note("not a URI");
            return Ok(());
        };
        let allowed = list.allows_uri(&uri);
        stats.note(if allowed { "allowed" } else { "denied" });
        let dest = list.destination(&uri);
        prop_assert_eq!(allowed, dest.is_some());
        if let Some(d) = dest
            && d.explicit
        {
            // Explicit only if some entry names this very host.
            let named = list.entries().iter().any(|e| {
                e.to_ascii_lowercase().contains(&d.host) || e.contains(&format!("[{}]", d.host))
            });
            prop_assert!(named, "{:?} made {} explicit", list.entries(), d.host);
        }
        Ok(())
    });
}

/// The regressions folder exists, so that failures can be saved.
#[test]
fn regressions_folder_exists() {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz-regressions");
    assert!(dir.is_dir(), "{} is missing", dir.display());
}
