//! A2A 0.3 on the same endpoints as 1.0, over real HTTP: version
//! negotiation, the 0.3 JSON-RPC methods and shapes, the 0.3 HTTP+JSON
//! `/v1/…` routes (protobuf JSON), the 0.3 card members, and refusals of
//! requests in the other version's shape.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::agents::TestAgent;
use crate::support::http::{Reply, user_message};
use crate::support::server::{Setup, TestServer, start};
use crate::support::sse::SseEvent;

// ---------------------------------------------------------------------------
// Helpers

/// A 0.3 JSON-RPC request: no `A2A-Version` unless `version` says one.
fn rpc03(
    s: &TestServer,
    url: &str,
    version: Option<&str>,
    method: &str,
    params: Value,
) -> reqwest::RequestBuilder {
    let mut body = json!({"jsonrpc": "2.0", "id": "r1", "method": method});
    if !params.is_null() {
        body["params"] = params;
    }
    let mut req = s
        .client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(v) = version {
        req = req.header("A2A-Version", v);
    }
    req
}

/// A 0.3 JSON-RPC call to agent `echo`, read whole.
async fn call03(s: &TestServer, method: &str, params: Value) -> Reply {
    s.send(rpc03(s, &s.agent("echo"), None, method, params))
        .await
}

/// The `result` of a successful 0.3 call (fails the test otherwise).
async fn ok03(s: &TestServer, method: &str, params: Value) -> Value {
    let r = call03(s, method, params).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("error").is_none(), "{method}: {}", r.text);
    assert_eq!(r.body["id"], "r1");
    r.body["result"].clone()
}

/// A 0.3 JSON-RPC user message.
fn msg03(text: &str) -> Value {
    json!({
        "kind": "message",
        "messageId": uuid::Uuid::new_v4().to_string(),
        "role": "user",
        "parts": [{"kind": "text", "text": text}],
    })
}

/// A 0.3 HTTP+JSON (protobuf JSON) user message.
fn proto_msg(text: &str) -> Value {
    json!({
        "messageId": uuid::Uuid::new_v4().to_string(),
        "role": "ROLE_USER",
        "content": [{"text": text}],
    })
}

/// A REST call without `A2A-Version`.
async fn rest03(s: &TestServer, method: Method, url: &str, body: Option<Value>) -> Reply {
    let mut req = s.client.request(method, url);
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    s.send(req).await
}

fn assert_rpc_code(r: &Reply, code: i64) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.rpc_code(), Some(code), "{}", r.text);
    assert!(r.body.get("result").is_none(), "{}", r.text);
}

fn assert_invalid_field(r: &Reply, field: &str) {
    if r.body.get("jsonrpc").is_some() {
        assert_eq!(r.rpc_code(), Some(-32602), "{}", r.text);
    } else {
        assert_eq!(r.status, 400, "{}", r.text);
    }
    assert_eq!(r.reason().as_deref(), Some("INVALID_PARAMS"), "{}", r.text);
    assert_eq!(r.violated_field().as_deref(), Some(field), "{}", r.text);
    let msg = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains(field), "{msg}");
}

/// The `result` of each JSON-RPC SSE event.
fn results(events: &[SseEvent]) -> Vec<Value> {
    events
        .iter()
        .map(|e| {
            let v = e.json();
            assert_eq!(v["jsonrpc"], "2.0", "{v}");
            assert!(v.get("error").is_none(), "{v}");
            v["result"].clone()
        })
        .collect()
}

/// Checks the 0.3 JSON-RPC event sequence of a stream that ends the task:
/// bare `kind`-tagged events, `final` only on the last, which ends it.
fn assert_v03_stream(results: &[Value], last_state: &str) {
    assert!(!results.is_empty());
    for r in results {
        let kind = r["kind"].as_str().unwrap_or_default();
        assert!(
            ["task", "message", "status-update", "artifact-update"].contains(&kind),
            "{r}"
        );
        for wrapper in ["task", "statusUpdate", "artifactUpdate", "message"] {
            assert!(r.get(wrapper).is_none(), "1.0 wrapper in {r}");
        }
    }
    let (last, before) = results.split_last().unwrap();
    assert_eq!(last["kind"], "status-update", "{last}");
    assert_eq!(last["final"], true, "{last}");
    assert_eq!(last["status"]["state"], last_state, "{last}");
    for r in before {
        if r["kind"] == "status-update" {
            assert_eq!(r["final"], false, "{r}");
        }
    }
}

// ---------------------------------------------------------------------------
// Negotiation

#[tokio::test]
async fn missing_empty_or_03_header_speaks_03_and_1_0_speaks_1_0() {
    let s = start(Setup::default()).await;
    let url = s.agent("echo");
    for version in [None, Some(""), Some("0.3"), Some("0.3.0")] {
        let r = s
            .send(rpc03(
                &s,
                &url,
                version,
                "message/send",
                json!({"message": msg03("hi")}),
            ))
            .await;
        assert_eq!(r.body["result"]["kind"], "task", "{version:?}: {}", r.text);
    }
    // With 1.0, the 0.3 method is unknown and the message says why.
    let r = s
        .send(rpc03(
            &s,
            &url,
            Some("1.0"),
            "message/send",
            json!({"message": msg03("hi")}),
        ))
        .await;
    assert_rpc_code(&r, -32601);
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("0.3 method"), "{msg}");
    // And a 1.0 method without the header is unknown in 0.3.
    let r = call03(&s, "GetTask", json!({"id": "x"})).await;
    assert_rpc_code(&r, -32601);
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("A2A-Version: 1.0"), "{msg}");
    // 0.3 had no ListTasks over JSON-RPC.
    let r = call03(&s, "tasks/list", json!({})).await;
    assert_rpc_code(&r, -32601);
    s.stop().await;
}

#[tokio::test]
async fn unsupported_versions_are_32009_listing_the_supported_ones() {
    let s = start(Setup::default()).await;
    let r = s
        .send(rpc03(
            &s,
            &s.agent("echo"),
            Some("2.0"),
            "message/send",
            json!({"message": msg03("hi")}),
        ))
        .await;
    assert_rpc_code(&r, -32009);
    assert_eq!(r.reason().as_deref(), Some("VERSION_NOT_SUPPORTED"));
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("`2.0`") && msg.contains("1.0 and 0.3"),
        "{msg}"
    );
    assert_eq!(
        r.body["error"]["data"][0]["metadata"]["supportedVersions"],
        "1.0,0.3"
    );

    let r = s
        .send(
            s.client
                .get(s.url("/agents/echo/tasks/x"))
                .header("A2A-Version", "2.0"),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.reason().as_deref(), Some("VERSION_NOT_SUPPORTED"));
    assert_eq!(
        r.body["error"]["details"][0]["metadata"]["supportedVersions"],
        "1.0,0.3"
    );
    s.stop().await;
}

// ---------------------------------------------------------------------------
// 0.3 JSON-RPC

#[tokio::test]
async fn v03_send_returns_the_bare_task_or_message() {
    let s = start(Setup::default()).await;
    let task = ok03(&s, "message/send", json!({"message": msg03("hello")})).await;
    assert_eq!(task["kind"], "task", "{task}");
    assert!(task.get("task").is_none(), "no 1.0 wrapper: {task}");
    assert_eq!(task["status"]["state"], "completed");
    let answer = &task["status"]["message"];
    assert_eq!(answer["kind"], "message");
    assert_eq!(answer["role"], "agent");
    assert_eq!(
        answer["parts"][0],
        json!({"kind": "text", "text": "done: hello"})
    );
    assert_eq!(task["history"][0]["kind"], "message");
    assert_eq!(task["history"][0]["role"], "user");
    assert!(task["contextId"].is_string());

    let reply = ok03(&s, "message/send", json!({"message": msg03("reply")})).await;
    assert_eq!(reply["kind"], "message", "{reply}");
    assert_eq!(reply["role"], "agent");
    assert_eq!(reply["parts"][0]["text"], "direct reply");

    // States come back lowercase with hyphens.
    for (word, state) in [
        ("input", "input-required"),
        ("auth", "auth-required"),
        ("fail", "failed"),
        ("reject", "rejected"),
    ] {
        let t = ok03(&s, "message/send", json!({"message": msg03(word)})).await;
        assert_eq!(t["status"]["state"], state, "{t}");
    }
    s.stop().await;
}

#[tokio::test]
async fn v03_parts_of_every_kind_round_trip() {
    let s = start(Setup::default()).await;
    let mut m = msg03("hello");
    m["parts"] = json!([
        {"kind": "text", "text": "hello"},
        {"kind": "file", "file": {"bytes": "dGNr", "mimeType": "text/plain", "name": "t.txt"}},
        {"kind": "file", "file": {"uri": "https://example.com/a.txt", "mimeType": "text/plain"}},
        {"kind": "data", "data": {"answer": 42}, "metadata": {"m": 1}},
    ]);
    m["metadata"] = json!({"trace": "x"});
    let task = ok03(&s, "message/send", json!({"message": m.clone()})).await;
    let sent = &task["history"][0];
    assert_eq!(sent["parts"], m["parts"], "{task}");
    assert_eq!(sent["metadata"], m["metadata"]);
    assert_eq!(sent["messageId"], m["messageId"]);
    s.stop().await;
}

#[tokio::test]
async fn v03_stream_sends_bare_events_with_final_on_the_last() {
    let s = start(Setup::default()).await;
    let stream = s
        .open(rpc03(
            &s,
            &s.agent("echo"),
            None,
            "message/stream",
            json!({"message": msg03("stream 3")}),
        ))
        .await
        .stream();
    assert!(stream.content_type().starts_with("text/event-stream"));
    let events = stream.collect().await;
    let res = results(&events);
    assert_eq!(res[0]["kind"], "task", "{:?}", res);
    assert_v03_stream(&res, "completed");
    let chunks: Vec<&Value> = res
        .iter()
        .filter(|r| r["kind"] == "artifact-update")
        .collect();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[0]["artifact"]["parts"][0]["kind"], "text");
    assert!(chunks[0].get("append").is_none());
    assert_eq!(chunks[1]["append"], true);
    assert_eq!(chunks[2]["lastChunk"], true);
    // Every event carries the request's id and a sequence number.
    for e in &events {
        assert_eq!(e.json()["id"], "r1");
        e.seq();
    }

    // A direct reply is a single bare message.
    let events = s
        .open(rpc03(
            &s,
            &s.agent("echo"),
            None,
            "message/stream",
            json!({"message": msg03("reply")}),
        ))
        .await
        .stream()
        .collect()
        .await;
    let res = results(&events);
    assert_eq!(res.len(), 1);
    assert_eq!(res[0]["kind"], "message");

    // Streaming needs `capabilities.streaming`.
    let s2 = start(Setup {
        agents: vec![("flat".into(), TestAgent::non_streaming("flat"))],
        ..Default::default()
    })
    .await;
    let r = s2
        .send(rpc03(
            &s2,
            &s2.agent("flat"),
            None,
            "message/stream",
            json!({"message": msg03("x")}),
        ))
        .await;
    assert_rpc_code(&r, -32004);
    s2.stop().await;
    s.stop().await;
}

#[tokio::test]
async fn v03_get_cancel_and_resubscribe() {
    let s = start(Setup::default()).await;
    let started = ok03(
        &s,
        "message/send",
        json!({"message": msg03("sleep"), "configuration": {"blocking": false}}),
    )
    .await;
    assert_eq!(started["kind"], "task");
    let id = started["id"].as_str().unwrap().to_string();
    assert!(
        ["submitted", "working"].contains(&started["status"]["state"].as_str().unwrap()),
        "{started}"
    );

    let got = ok03(&s, "tasks/get", json!({"id": id, "historyLength": 0})).await;
    assert_eq!(got["kind"], "task");
    assert_eq!(got["id"], id.as_str());
    assert!(got.get("history").is_none(), "{got}");

    let mut sub = s
        .open(rpc03(
            &s,
            &s.agent("echo"),
            None,
            "tasks/resubscribe",
            json!({"id": id}),
        ))
        .await
        .stream();
    let first = sub.next().await.unwrap().json();
    assert_eq!(first["result"]["kind"], "task", "{first}");
    assert_eq!(first["result"]["id"], id.as_str());

    let canceled = ok03(&s, "tasks/cancel", json!({"id": id})).await;
    assert_eq!(canceled["kind"], "task");
    assert_eq!(canceled["status"]["state"], "canceled");

    let rest = results(&sub.collect().await);
    let mut all = vec![first["result"].clone()];
    all.extend(rest);
    assert_v03_stream(&all, "canceled");

    // Errors keep their codes.
    let r = call03(&s, "tasks/cancel", json!({"id": id})).await;
    assert_rpc_code(&r, -32002);
    let r = call03(&s, "tasks/get", json!({"id": "no-such-task"})).await;
    assert_rpc_code(&r, -32001);
    let r = call03(&s, "tasks/get", json!({})).await;
    assert_invalid_field(&r, "id");
    s.stop().await;
}

#[tokio::test]
async fn v03_multi_turn_continues_an_input_required_task() {
    let s = start(Setup::default()).await;
    let first = ok03(&s, "message/send", json!({"message": msg03("input")})).await;
    assert_eq!(first["status"]["state"], "input-required");
    assert_eq!(
        first["status"]["message"]["parts"][0]["text"],
        "more please"
    );
    let mut follow = msg03("the rest");
    follow["taskId"] = first["id"].clone();
    follow["contextId"] = first["contextId"].clone();
    let done = ok03(&s, "message/send", json!({"message": follow})).await;
    assert_eq!(done["id"], first["id"]);
    assert_eq!(done["status"]["state"], "completed", "{done}");
    assert_eq!(
        done["status"]["message"]["parts"][0]["text"],
        "done: the rest"
    );

    // Over a stream, the interrupted state ends the stream with `final`.
    let events = s
        .open(rpc03(
            &s,
            &s.agent("echo"),
            None,
            "message/stream",
            json!({"message": msg03("input")}),
        ))
        .await
        .stream()
        .collect()
        .await;
    let res = results(&events);
    assert_v03_stream(&res, "input-required");
    let task_id = res[0]["id"].clone();
    let mut follow = msg03("more");
    follow["taskId"] = task_id.clone();
    let events = s
        .open(rpc03(
            &s,
            &s.agent("echo"),
            None,
            "message/stream",
            json!({"message": follow}),
        ))
        .await
        .stream()
        .collect()
        .await;
    let res = results(&events);
    assert_eq!(res[0]["id"], task_id);
    assert_v03_stream(&res, "completed");
    s.stop().await;
}

#[tokio::test]
async fn v03_push_config_and_extended_card_methods_answer_03_errors() {
    let s = start(Setup::without_push()).await;
    let task = ok03(&s, "message/send", json!({"message": msg03("hi")})).await;
    let id = task["id"].as_str().unwrap();
    let set = json!({"taskId": id, "pushNotificationConfig": {"url": "https://hook.example/x"}});
    for (method, params) in [
        ("tasks/pushNotificationConfig/set", set),
        ("tasks/pushNotificationConfig/get", json!({"id": id})),
        (
            "tasks/pushNotificationConfig/get",
            json!({"id": id, "pushNotificationConfigId": "p"}),
        ),
        ("tasks/pushNotificationConfig/list", json!({"id": id})),
        (
            "tasks/pushNotificationConfig/delete",
            json!({"id": id, "pushNotificationConfigId": "p"}),
        ),
    ] {
        let r = call03(&s, method, params).await;
        assert_rpc_code(&r, -32003);
    }
    let r = call03(&s, "agent/getAuthenticatedExtendedCard", Value::Null).await;
    assert_rpc_code(&r, -32007);
    s.stop().await;
}

// ---------------------------------------------------------------------------
// Shapes of the other version

#[tokio::test]
async fn v1_shapes_in_03_requests_are_refused_naming_the_field() {
    let s = start(Setup::default()).await;
    let mut no_kind = msg03("x");
    no_kind["parts"] = json!([{"text": "x"}]);
    let mut proto_role = msg03("x");
    proto_role["role"] = json!("ROLE_USER");
    let cases = [
        (json!({"message": no_kind}), "message.parts[0].kind"),
        (json!({"message": proto_role}), "message.role"),
        (
            json!({"message": msg03("x"), "configuration": {"returnImmediately": true}}),
            "configuration.returnImmediately",
        ),
        (
            json!({"message": msg03("x"),
                   "configuration": {"taskPushNotificationConfig": {"url": "https://h/x"}}}),
            "configuration.taskPushNotificationConfig",
        ),
    ];
    for (params, field) in cases {
        let r = call03(&s, "message/send", params).await;
        assert_invalid_field(&r, field);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("A2A-Version: 1.0"), "{msg}");
    }
    let r = call03(
        &s,
        "tasks/pushNotificationConfig/set",
        json!({"taskId": "t", "url": "https://h/x"}),
    )
    .await;
    assert_invalid_field(&r, "pushNotificationConfig");
    s.stop().await;
}

#[tokio::test]
async fn v03_shapes_in_1_0_requests_are_refused_naming_the_field() {
    let s = start(Setup::default()).await;
    let v1 = |extra: Value| {
        let mut m = user_message("x");
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        m
    };
    let cases = [
        (
            json!({"message": v1(json!({"parts": [{"kind": "text", "text": "x"}]}))}),
            "message.parts[0].kind",
        ),
        (
            json!({"message": v1(json!({"kind": "message"}))}),
            "message.kind",
        ),
        (
            json!({"message": v1(json!({"role": "user"}))}),
            "message.role",
        ),
        (
            json!({"message": v1(json!({})), "configuration": {"blocking": false}}),
            "configuration.blocking",
        ),
    ];
    for (params, field) in cases {
        let r = s.rpc("echo", "SendMessage", params.clone()).await;
        assert_invalid_field(&r, field);
        // The HTTP+JSON binding refuses the same body the same way.
        let r = s
            .rest(
                Method::POST,
                &s.url("/agents/echo/message:send"),
                Some(params),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_invalid_field(&r, field);
    }
    let r = s
        .rpc(
            "echo",
            "CreateTaskPushNotificationConfig",
            json!({"taskId": "t", "pushNotificationConfig": {"url": "https://h/x"}}),
        )
        .await;
    assert_invalid_field(&r, "pushNotificationConfig");
    s.stop().await;
}

// ---------------------------------------------------------------------------
// 0.3 HTTP+JSON under /v1

#[tokio::test]
async fn v03_rest_send_get_and_stream_under_v1() {
    let s = start(Setup::default()).await;
    for base in [s.agent("echo"), s.base.clone()] {
        let r = rest03(
            &s,
            Method::POST,
            &format!("{base}/v1/message:send"),
            Some(json!({"message": proto_msg("hello"), "configuration": {"blocking": true}})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let task = &r.body["task"];
        assert_eq!(
            task["status"]["state"], "TASK_STATE_COMPLETED",
            "{}",
            r.text
        );
        assert_eq!(task["status"]["message"]["role"], "ROLE_AGENT");
        assert_eq!(
            task["status"]["message"]["content"][0],
            json!({"text": "done: hello"})
        );
        assert!(task.get("kind").is_none());
        let id = task["id"].as_str().unwrap();

        let r = rest03(
            &s,
            Method::GET,
            &format!("{base}/v1/tasks/{id}?historyLength=1"),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["id"], id);
        assert_eq!(r.body["history"].as_array().unwrap().len(), 1);
    }

    // Without `blocking`, protobuf's default (false) applies.
    let r = rest03(
        &s,
        Method::POST,
        &s.url("/agents/echo/v1/message:send"),
        Some(json!({"message": proto_msg("sleep")})),
    )
    .await;
    let state = r.body["task"]["status"]["state"].as_str().unwrap();
    assert!(
        ["TASK_STATE_SUBMITTED", "TASK_STATE_WORKING"].contains(&state),
        "{}",
        r.text
    );
    let sleeper = r.body["task"]["id"].as_str().unwrap().to_string();
    // The /v1 routes speak 0.3 whatever the header says.
    let r = s
        .rest(
            Method::POST,
            &s.url(&format!("/agents/echo/v1/tasks/{sleeper}:cancel")),
            Some(json!({"name": format!("tasks/{sleeper}")})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"]["state"], "TASK_STATE_CANCELLED");

    // Streams send protobuf StreamResponse objects.
    let events = s
        .open(
            s.client
                .post(s.url("/agents/echo/v1/message:stream"))
                .header("Content-Type", "application/json")
                .body(json!({"message": proto_msg("stream 2")}).to_string()),
        )
        .await
        .stream()
        .collect()
        .await;
    let evs: Vec<Value> = events.iter().map(SseEvent::json).collect();
    assert!(evs[0].get("task").is_some(), "{:?}", evs);
    let last = evs.last().unwrap();
    assert_eq!(last["statusUpdate"]["final"], true, "{last}");
    assert_eq!(
        last["statusUpdate"]["status"]["state"],
        "TASK_STATE_COMPLETED"
    );
    for e in &evs[..evs.len() - 1] {
        assert!(e.get("kind").is_none(), "{e}");
        if let Some(u) = e.get("statusUpdate") {
            assert!(u.get("final").is_none(), "{e}");
        }
    }
    assert!(
        evs.iter()
            .any(|e| e["artifactUpdate"]["artifact"]["parts"][0]["text"] == "w0 ")
    );

    // Subscribing (GET, as the 0.3 proto says) to a running task.
    let r = rest03(
        &s,
        Method::POST,
        &s.url("/agents/echo/v1/message:send"),
        Some(json!({"message": proto_msg("tick 3 100")})),
    )
    .await;
    let ticking = r.body["task"]["id"].as_str().unwrap().to_string();
    let events = s
        .open(
            s.client
                .get(s.url(&format!("/agents/echo/v1/tasks/{ticking}:subscribe"))),
        )
        .await
        .stream()
        .collect()
        .await;
    let evs: Vec<Value> = events.iter().map(SseEvent::json).collect();
    assert_eq!(evs[0]["task"]["id"], ticking.as_str(), "{:?}", evs);
    assert_eq!(evs.last().unwrap()["statusUpdate"]["final"], true);

    // A bare array of tasks on GET /v1/tasks.
    let r = rest03(&s, Method::GET, &s.url("/agents/echo/v1/tasks"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body.as_array().is_some_and(|a| a.len() >= 4),
        "{}",
        r.text
    );
    s.stop().await;
}

#[tokio::test]
async fn v03_rest_files_use_the_sdk_bytes_form() {
    let s = start(Setup::default()).await;
    let mut m = proto_msg("hello");
    // a2a-sdk 0.3 sends base64 of the base64 text: "dGNr" ("tck").
    m["content"] = json!([
        {"text": "hello"},
        {"file": {"fileWithBytes": "ZEdOcg==", "mimeType": "text/plain", "name": "t.txt"}},
        {"data": {"data": {"answer": 42}}},
    ]);
    let r = rest03(
        &s,
        Method::POST,
        &s.url("/agents/echo/v1/message:send"),
        Some(json!({"message": m.clone(), "configuration": {"blocking": true}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["task"]["id"].as_str().unwrap();
    assert_eq!(r.body["task"]["history"][0]["content"], m["content"]);
    // The same task over 0.3 JSON-RPC shows the file with its real bytes.
    let task = ok03(&s, "tasks/get", json!({"id": id})).await;
    assert_eq!(
        task["history"][0]["parts"][1]["file"],
        json!({"bytes": "dGNr", "mimeType": "text/plain", "name": "t.txt"})
    );
    s.stop().await;
}

#[tokio::test]
async fn v03_rest_errors_and_other_shapes() {
    let s = start(Setup::default()).await;
    let url = s.url("/agents/echo/v1/message:send");
    let mut parts_msg = proto_msg("x");
    parts_msg["parts"] = json!([{"text": "x"}]);
    parts_msg.as_object_mut().unwrap().remove("content");
    let mut kind_msg = proto_msg("x");
    kind_msg["content"] = json!([{"kind": "text", "text": "x"}]);
    for (body, field) in [
        (json!({"message": parts_msg}), "message.parts"),
        (json!({"message": kind_msg}), "message.content[0].kind"),
        (json!({"message": msg03("x")}), "message.kind"),
    ] {
        let r = rest03(&s, Method::POST, &url, Some(body)).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.violated_field().as_deref(), Some(field), "{}", r.text);
    }
    let r = rest03(&s, Method::GET, &s.url("/agents/echo/v1/tasks/nope"), None).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.reason().as_deref(), Some("TASK_NOT_FOUND"));
    let r = rest03(&s, Method::GET, &s.url("/agents/echo/v1/card"), None).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.reason().as_deref(),
        Some("EXTENDED_AGENT_CARD_NOT_CONFIGURED")
    );
    let r = rest03(
        &s,
        Method::POST,
        &s.url("/agents/echo/v1/tasks/t1/pushNotificationConfigs"),
        Some(json!({"parent": "tasks/t1", "config": {"pushNotificationConfig": {"url": "https://h/x"}}})),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.reason().as_deref(), Some("TASK_NOT_FOUND"), "{}", r.text);
    // Without a header, the 1.0 paths speak 0.3 too.
    let r = rest03(
        &s,
        Method::POST,
        &s.url("/agents/echo/message:send"),
        Some(json!({"message": proto_msg("hi"), "configuration": {"blocking": true}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["task"]["status"]["state"], "TASK_STATE_COMPLETED");
    s.stop().await;
}

// ---------------------------------------------------------------------------
// The card

#[tokio::test]
async fn cards_carry_the_03_members_unless_1_0_is_asked_for() {
    let s = start(Setup::default()).await;
    let url = s.url("/agents/echo/.well-known/agent-card.json");
    let get = |v: Option<&'static str>| {
        let mut req = s.client.get(&url);
        if let Some(v) = v {
            req = req.header("A2A-Version", v);
        }
        req
    };
    let agent = s.agent("echo");
    for v in [None, Some("0.3")] {
        let r = s.send(get(v)).await;
        assert_eq!(r.status, 200);
        let c = &r.body;
        assert_eq!(c["url"], agent.as_str(), "{c}");
        assert_eq!(c["preferredTransport"], "JSONRPC");
        assert_eq!(c["protocolVersion"], "0.3.0");
        assert_eq!(
            c["additionalInterfaces"],
            json!([
                {"url": agent, "transport": "JSONRPC"},
                {"url": agent, "transport": "HTTP+JSON"},
            ])
        );
        assert_eq!(c["capabilities"]["streaming"], true);
        assert_eq!(c["capabilities"]["stateTransitionHistory"], false);
        assert_eq!(c["supportsAuthenticatedExtendedCard"], false);
        // What the a2a-sdk 0.3 AgentCard model requires.
        for k in [
            "name",
            "description",
            "url",
            "version",
            "capabilities",
            "defaultInputModes",
            "defaultOutputModes",
            "skills",
        ] {
            assert!(c.get(k).is_some(), "{k} missing: {c}");
        }
        // The 1.0 members are there too.
        assert_eq!(c["supportedInterfaces"][0]["protocolVersion"], "1.0");
        assert_eq!(c["supportedInterfaces"][2]["protocolVersion"], "0.3");
    }
    let dual = s.send(get(None)).await;
    let plain = s.send(get(Some("1.0"))).await;
    assert!(plain.body.get("url").is_none(), "{}", plain.text);
    assert_ne!(dual.header("etag"), plain.header("etag"));
    assert!(dual.header("vary").unwrap().contains("A2A-Version"));
    // The advertised 0.3 URLs work: JSON-RPC at `url`, REST at base + /v1.
    let r = s
        .send(rpc03(
            &s,
            dual.body["url"].as_str().unwrap(),
            None,
            "message/send",
            json!({"message": msg03("hi")}),
        ))
        .await;
    assert_eq!(r.body["result"]["kind"], "task", "{}", r.text);
    let rest_url = dual.body["additionalInterfaces"][1]["url"]
        .as_str()
        .unwrap();
    let r = rest03(
        &s,
        Method::POST,
        &format!("{rest_url}/v1/message:send"),
        Some(json!({"message": proto_msg("hi"), "configuration": {"blocking": true}})),
    )
    .await;
    assert_eq!(r.body["task"]["status"]["state"], "TASK_STATE_COMPLETED");
    s.stop().await;

    // The server can turn the 0.3 members off.
    let mut setup = Setup::default();
    setup.config.card_v03_members = false;
    let s = start(setup).await;
    let r = s
        .send(s.client.get(s.url("/.well-known/agent-card.json")))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("url").is_none(), "{}", r.text);
    assert!(r.body.get("preferredTransport").is_none());
    s.stop().await;
}
