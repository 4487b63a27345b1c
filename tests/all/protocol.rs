//! The HTTP surface against the A2A 1.0 JSON-RPC and HTTP+JSON bindings:
//! real HTTP on 127.0.0.1:0, a real task manager over the memory store, and
//! native test agents (see `support::agents::TestAgent`).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::agents::TestAgent;
use crate::support::http::{Reply, user_message};
use crate::support::server::{Setup, TestServer, start};
use crate::support::sse::SseEvent;

const JSONRPC_CT: &str = "application/json";

fn assert_json_ct(ct: &str) {
    assert!(ct.starts_with("application/json"), "Content-Type {ct:?}");
}

/// Asserts a JSON-RPC error answer: HTTP status, code, reason, id.
fn assert_rpc_error(r: &Reply, http: u16, code: i64, reason: &str, id: Value) {
    assert_eq!(r.status, http, "{}", r.text);
    assert_json_ct(r.content_type());
    assert_eq!(r.body["jsonrpc"], "2.0", "{}", r.text);
    assert_eq!(r.body["id"], id, "{}", r.text);
    assert!(r.body.get("result").is_none(), "{}", r.text);
    assert_eq!(r.rpc_code(), Some(code), "{}", r.text);
    assert!(r.body["error"]["message"].is_string(), "{}", r.text);
    assert_eq!(r.reason().as_deref(), Some(reason), "{}", r.text);
    let info = r.body["error"]["data"]
        .as_array()
        .and_then(|d| d.first())
        .cloned()
        .unwrap_or_default();
    assert_eq!(info["domain"], "a2a-protocol.org", "{}", r.text);
    // JSON-RPC error objects carry only code, message, data.
    let keys: Vec<_> = r.body["error"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(
        keys.iter()
            .all(|k| ["code", "message", "data"].contains(&k.as_str())),
        "{keys:?}"
    );
}

/// Asserts a REST error answer: HTTP status, google.rpc status, reason.
fn assert_rest_error(r: &Reply, http: u16, status: &str, reason: &str) {
    assert_eq!(r.status, http, "{}", r.text);
    assert_json_ct(r.content_type());
    assert_eq!(r.body["error"]["code"], http, "{}", r.text);
    assert_eq!(r.body["error"]["status"], status, "{}", r.text);
    assert!(r.body["error"]["message"].is_string(), "{}", r.text);
    assert_eq!(r.reason().as_deref(), Some(reason), "{}", r.text);
}

async fn raw_rpc(s: &TestServer, url: &str, content_type: Option<&str>, body: &str) -> Reply {
    let mut req = s.client.post(url).header("A2A-Version", "1.0");
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    s.send(req.body(body.to_string())).await
}

fn state_of(task: &Value) -> &str {
    task["status"]["state"].as_str().unwrap_or("")
}

// ===========================================================================
// Operational routes

#[tokio::test]
async fn health_and_readiness_follow_the_handle() {
    let s = start(Setup::default()).await;
    let r = s.send(s.client.get(s.url("/healthz"))).await;
    assert_eq!(r.status, 200);
    let r = s.send(s.client.get(s.url("/readyz"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["agents"], 1);

    s.handle.set_ready(false);
    let r = s.send(s.client.get(s.url("/readyz/"))).await;
    assert_eq!(r.status, 503);
    let r = s.send(s.client.get(s.url("/healthz/"))).await;
    assert_eq!(r.status, 200, "liveness is not readiness");

    s.handle.set_ready(true);
    assert_eq!(s.send(s.client.get(s.url("/readyz"))).await.status, 200);
    s.handle.close_streams();
    assert_eq!(s.send(s.client.get(s.url("/readyz"))).await.status, 503);
    s.stop().await;
}

#[tokio::test]
async fn agents_listing_shows_status_urls_and_default() {
    let s = start(Setup::agents(&["alpha", "beta"])).await;
    s.registry.set_error("broken", "bad magic number");
    let r = s.send(s.client.get(s.url("/agents"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_json_ct(r.content_type());
    let agents = r.body["agents"].as_array().unwrap();
    let names: Vec<_> = agents.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "beta", "broken"]);
    assert_eq!(agents[0]["status"], "ready");
    assert_eq!(agents[0]["url"], s.agent("alpha"));
    assert_eq!(
        agents[0]["cardUrl"],
        format!("{}/.well-known/agent-card.json", s.agent("alpha"))
    );
    assert_eq!(agents[2]["status"], "broken");
    assert_eq!(agents[2]["error"], "bad magic number");
    assert_eq!(
        r.body["defaultAgent"],
        Value::Null,
        "two agents, no default"
    );

    // A broken agent is 503, not 404.
    let r = s
        .send(
            s.client
                .get(s.url("/agents/broken/.well-known/agent-card.json")),
        )
        .await;
    assert_rest_error(&r, 503, "UNAVAILABLE", "UNAVAILABLE");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bad magic number")
    );
    s.stop().await;
}

// ===========================================================================
// Agent cards

#[tokio::test]
async fn card_is_a2a_1_0_with_absolute_urls_and_cache_headers() {
    let s = start(Setup::default()).await;
    // A 1.0 client says so; without the header the card also carries the
    // 0.3 members (the compat tests).
    let r = s
        .send(
            s.client
                .get(s.url("/agents/echo/.well-known/agent-card.json"))
                .header("A2A-Version", "1.0"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_json_ct(r.content_type());
    let card = &r.body;
    assert_eq!(card["name"], "echo");
    assert_eq!(card["description"], "protocol test agent");
    assert_eq!(card["version"], "1.2.3");
    assert_eq!(card["defaultInputModes"], json!(["text/plain"]));
    assert_eq!(card["defaultOutputModes"], json!(["text/plain"]));
    assert_eq!(card["capabilities"]["streaming"], true);
    assert_eq!(card["capabilities"]["pushNotifications"], true);
    assert_eq!(card["capabilities"]["extendedAgentCard"], false);
    assert!(card["skills"].is_array());
    assert_eq!(
        card["supportedInterfaces"],
        json!([
            {"url": s.agent("echo"), "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": s.agent("echo"), "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"},
            {"url": s.agent("echo"), "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
            {"url": s.agent("echo"), "protocolBinding": "HTTP+JSON", "protocolVersion": "0.3"},
        ])
    );
    // No 0.3 members in the 1.0 card, no snake_case.
    for gone in [
        "url",
        "preferredTransport",
        "protocolVersion",
        "additionalInterfaces",
    ] {
        assert!(card.get(gone).is_none(), "{gone} in {card}");
    }
    assert!(!r.text.contains("_"), "snake_case key in {}", r.text);

    let cc = r.header("cache-control").unwrap();
    assert!(cc.contains("max-age=300"), "{cc}");
    let etag = r.header("etag").unwrap();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10,
        "{etag}"
    );
    let lm = r.header("last-modified").unwrap();
    assert!(lm.ends_with("GMT"), "{lm}");

    // The same card is served again with the same validator; the advertised
    // URLs work (JSON-RPC at `{url}/` too, as the TCK posts there).
    let again = s
        .send(
            s.client
                .get(s.url("/agents/echo/.well-known/agent-card.json/"))
                .header("A2A-Version", "1.0"),
        )
        .await;
    assert_eq!(again.header("etag"), Some(etag));
    assert!(again.header("vary").unwrap().contains("A2A-Version"));
    let url = card["supportedInterfaces"][0]["url"].as_str().unwrap();
    for u in [url.to_string(), format!("{url}/")] {
        let r = s
            .send(s.rpc_request(&u, json!(1), "NoSuchMethod", json!({})))
            .await;
        assert_rpc_error(&r, 200, -32601, "METHOD_NOT_FOUND", json!(1));
    }
    s.stop().await;
}

#[tokio::test]
async fn card_conditional_get_answers_304() {
    let mut setup = Setup::default();
    setup.config.card_max_age_secs = 42;
    let s = start(setup).await;
    let url = s.url("/.well-known/agent-card.json");
    let r = s.send(s.client.get(&url)).await;
    assert_eq!(r.status, 200);
    assert!(r.header("cache-control").unwrap().contains("max-age=42"));
    let etag = r.header("etag").unwrap().to_string();
    let lm = r.header("last-modified").unwrap().to_string();

    let r = s
        .send(s.client.get(&url).header("If-None-Match", &etag))
        .await;
    assert_eq!(r.status, 304);
    assert!(r.text.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert!(r.header("cache-control").is_some());

    let r = s
        .send(
            s.client
                .get(&url)
                .header("If-None-Match", format!("\"nope\", W/{etag}")),
        )
        .await;
    assert_eq!(r.status, 304, "weak comparison in a list");

    let r = s
        .send(s.client.get(&url).header("If-None-Match", "\"other\""))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["name"], "echo");

    let r = s
        .send(s.client.get(&url).header("If-Modified-Since", &lm))
        .await;
    assert_eq!(r.status, 304);
    let r = s
        .send(
            s.client
                .get(&url)
                .header("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"),
        )
        .await;
    assert_eq!(r.status, 200);
    // If-None-Match wins over If-Modified-Since.
    let r = s
        .send(
            s.client
                .get(&url)
                .header("If-None-Match", "\"other\"")
                .header("If-Modified-Since", &lm),
        )
        .await;
    assert_eq!(r.status, 200);

    let r = s.send(s.client.head(&url)).await;
    assert_eq!(r.status, 200);
    assert!(r.text.is_empty());
    assert!(r.header("etag").is_some());
    s.stop().await;
}

#[tokio::test]
async fn root_routes_serve_the_only_agent() {
    let s = start(Setup::default()).await;
    let r = s
        .send(s.client.get(s.url("/.well-known/agent-card.json")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "echo");
    // The root card points at the canonical agent URL, which works.
    assert_eq!(r.body["supportedInterfaces"][0]["url"], s.agent("echo"));
    // JSON-RPC at the root reaches the same agent.
    for path in ["/", ""] {
        let url = s.url(path);
        let r = s
            .send(s.rpc_request(&url, json!("x"), "Nope", json!({})))
            .await;
        assert_rpc_error(&r, 200, -32601, "METHOD_NOT_FOUND", json!("x"));
    }
    // REST at the root too (an invalid query parameter shows the route
    // exists and reached the binding).
    let r = s
        .rest(Method::GET, &s.url("/tasks?pageSize=many"), None)
        .await;
    assert_rest_error(&r, 400, "INVALID_ARGUMENT", "INVALID_PARAMS");
    s.stop().await;
}

#[tokio::test]
async fn root_routes_without_a_default_list_the_agents() {
    let s = start(Setup::agents(&["alpha", "beta"])).await;
    let r = s
        .send(s.client.get(s.url("/.well-known/agent-card.json")))
        .await;
    assert_rest_error(&r, 404, "NOT_FOUND", "AGENT_NOT_FOUND");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("alpha") && msg.contains("beta"), "{msg}");

    let r = s
        .send(s.rpc_request(&s.url("/"), json!(3), "GetTask", json!({"id": "x"})))
        .await;
    assert_rpc_error(&r, 404, -32601, "AGENT_NOT_FOUND", Value::Null);
    let r = s
        .rest(
            Method::POST,
            &s.url("/message:send"),
            Some(json!({"message": user_message("hi")})),
        )
        .await;
    assert_rest_error(&r, 404, "NOT_FOUND", "AGENT_NOT_FOUND");
    // Named agents still work.
    let r = s
        .send(
            s.client
                .get(s.url("/agents/beta/.well-known/agent-card.json")),
        )
        .await;
    assert_eq!(r.body["name"], "beta");
    s.stop().await;
}

#[tokio::test]
async fn configured_default_agent_is_served_at_root() {
    let mut setup = Setup::agents(&["alpha", "beta"]);
    setup.config.default_agent = Some("beta".into());
    let s = start(setup).await;
    let r = s
        .send(s.client.get(s.url("/.well-known/agent-card.json")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "beta");
    assert_eq!(r.body["supportedInterfaces"][1]["url"], s.agent("beta"));
    let r = s.send(s.client.get(s.url("/agents"))).await;
    assert_eq!(r.body["defaultAgent"], "beta");
    s.stop().await;

    let mut setup = Setup::agents(&["alpha"]);
    setup.config.default_agent = Some("gone".into());
    let s = start(setup).await;
    let r = s
        .send(s.client.get(s.url("/.well-known/agent-card.json")))
        .await;
    assert_rest_error(&r, 404, "NOT_FOUND", "AGENT_NOT_FOUND");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gone")
    );
    s.stop().await;
}

#[tokio::test]
async fn card_urls_honour_public_url_and_forwarded_headers() {
    let s = start(Setup::default()).await;
    let url = s.url("/agents/echo/.well-known/agent-card.json");
    let r = s
        .send(
            s.client
                .get(&url)
                .header("X-Forwarded-Proto", "https")
                .header("X-Forwarded-Host", "agents.example.com")
                .header("X-Forwarded-Prefix", "/gateway"),
        )
        .await;
    assert_eq!(
        r.body["supportedInterfaces"][0]["url"],
        "https://agents.example.com/gateway/agents/echo"
    );
    let plain = s.send(s.client.get(&url)).await;
    assert_ne!(
        plain.header("etag"),
        r.header("etag"),
        "ETag follows the content"
    );
    s.stop().await;

    let mut setup = Setup::default();
    setup.config.public_url = Some("https://public.example/a2a/".into());
    let s = start(setup).await;
    let r = s
        .send(
            s.client
                .get(s.url("/.well-known/agent-card.json"))
                .header("X-Forwarded-Host", "ignored.example"),
        )
        .await;
    assert_eq!(
        r.body["supportedInterfaces"][0]["url"],
        "https://public.example/a2a/agents/echo"
    );
    s.stop().await;

    let mut setup = Setup::default();
    setup.config.trust_forwarded_headers = false;
    let s = start(setup).await;
    let r = s
        .send(
            s.client
                .get(s.url("/.well-known/agent-card.json"))
                .header("X-Forwarded-Host", "evil.example"),
        )
        .await;
    assert_eq!(r.body["supportedInterfaces"][0]["url"], s.agent("echo"));
    s.stop().await;
}

#[tokio::test]
async fn nested_router_keeps_urls_and_routes_working() {
    let setup = Setup {
        nest: Some("/outer/a2a"),
        ..Default::default()
    };
    let s = start(setup).await;
    assert!(s.base.ends_with("/outer/a2a"));
    let r = s
        .send(
            s.client
                .get(s.url("/agents/echo/.well-known/agent-card.json")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.body["supportedInterfaces"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(url, format!("{}/outer/a2a/agents/echo", s.origin));
    for u in [url.clone(), format!("{url}/")] {
        let r = s.send(s.rpc_request(&u, json!(1), "Nope", json!({}))).await;
        assert_rpc_error(&r, 200, -32601, "METHOD_NOT_FOUND", json!(1));
    }
    let r = s
        .send(s.client.get(s.url("/.well-known/agent-card.json")))
        .await;
    assert_eq!(r.body["supportedInterfaces"][0]["url"], url);
    let r = s
        .rest(Method::GET, &format!("{url}/tasks?status=NOPE"), None)
        .await;
    assert_rest_error(&r, 400, "INVALID_ARGUMENT", "INVALID_PARAMS");
    s.stop().await;
}

#[tokio::test]
async fn unknown_agent_is_404_on_every_binding() {
    let s = start(Setup::default()).await;
    let r = s
        .send(
            s.client
                .get(s.url("/agents/nobody/.well-known/agent-card.json")),
        )
        .await;
    assert_rest_error(&r, 404, "NOT_FOUND", "AGENT_NOT_FOUND");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("echo")
    );

    let r = s.rpc("nobody", "GetTask", json!({"id": "t"})).await;
    assert_rpc_error(&r, 404, -32601, "AGENT_NOT_FOUND", Value::Null);

    for (m, path) in [
        (Method::GET, "/agents/nobody/tasks"),
        (Method::GET, "/agents/nobody/tasks/t1"),
        (Method::POST, "/agents/nobody/tasks/t1:cancel"),
        (Method::GET, "/agents/nobody/extendedAgentCard"),
    ] {
        let r = s.rest(m, &s.url(path), None).await;
        assert_rest_error(&r, 404, "NOT_FOUND", "AGENT_NOT_FOUND");
    }
    s.stop().await;
}

// ===========================================================================
// JSON-RPC envelope

#[tokio::test]
async fn jsonrpc_wrong_content_type_is_32005_before_parsing() {
    let s = start(Setup::default()).await;
    let url = s.agent("echo");
    // Not JSON at all: still -32005, not -32700 (TCK JSONRPC-SSE-002).
    let r = raw_rpc(&s, &url, Some("text/plain"), "this is not json").await;
    assert_rpc_error(&r, 200, -32005, "CONTENT_TYPE_NOT_SUPPORTED", Value::Null);
    let valid =
        json!({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}).to_string();
    let r = raw_rpc(&s, &url, Some("application/x-www-form-urlencoded"), &valid).await;
    assert_rpc_error(&r, 200, -32005, "CONTENT_TYPE_NOT_SUPPORTED", Value::Null);
    let r = raw_rpc(&s, &url, None, &valid).await;
    assert_rpc_error(&r, 200, -32005, "CONTENT_TYPE_NOT_SUPPORTED", Value::Null);
    s.stop().await;
}

#[tokio::test]
async fn jsonrpc_accepts_content_type_parameters_and_a2a_media_type() {
    let s = start(Setup::default()).await;
    let url = s.agent("echo");
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": "Nope"}).to_string();
    for ct in [
        "application/json; charset=utf-8",
        "application/a2a+json",
        "Application/A2A+JSON;charset=UTF-8",
    ] {
        let r = raw_rpc(&s, &url, Some(ct), &body).await;
        assert_rpc_error(&r, 200, -32601, "METHOD_NOT_FOUND", json!(9));
        assert_eq!(
            r.content_type(),
            JSONRPC_CT,
            "JSON-RPC always answers application/json"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn jsonrpc_malformed_json_is_32700() {
    let s = start(Setup::default()).await;
    let url = s.agent("echo");
    for body in ["{", "", "{\"jsonrpc\": \"2.0\",}", "\u{0}"] {
        let r = raw_rpc(&s, &url, Some("application/json"), body).await;
        assert_rpc_error(&r, 200, -32700, "PARSE_ERROR", Value::Null);
    }
    s.stop().await;
}

#[tokio::test]
async fn jsonrpc_invalid_envelopes_are_32600() {
    let s = start(Setup::default()).await;
    let url = s.agent("echo");
    for body in [
        json!([{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}]),
        json!([]),
        json!("GetTask"),
        json!(42),
        json!({"id": 1, "method": "GetTask"}),
        json!({"jsonrpc": "1.0", "id": 1, "method": "GetTask"}),
        json!({"jsonrpc": 2.0, "id": 1, "method": "GetTask"}),
        json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "GetTask"}),
        json!({"jsonrpc": "2.0", "id": [1], "method": "GetTask"}),
        json!({"jsonrpc": "2.0", "id": false, "method": "GetTask"}),
        json!({"jsonrpc": "2.0", "id": 1}),
        json!({"jsonrpc": "2.0", "id": 1, "method": ["GetTask"]}),
    ] {
        let r = raw_rpc(&s, &url, Some("application/json"), &body.to_string()).await;
        assert_rpc_error(&r, 200, -32600, "INVALID_REQUEST", Value::Null);
    }
    let r = raw_rpc(&s, &url, Some("application/json"), "[{}, {}]").await;
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("batch"),
        "{}",
        r.text
    );
    s.stop().await;
}

#[tokio::test]
async fn jsonrpc_unknown_method_is_32601_with_the_request_id() {
    let s = start(Setup::default()).await;
    let url = s.agent("echo");
    for id in [json!(7), json!("abc"), json!(1.5), Value::Null, json!(-3)] {
        for method in [
            "NonExistentMethod",
            "message/send",
            "tasks/get",
            "sendMessage",
        ] {
            let r = s
                .send(s.rpc_request(&url, id.clone(), method, json!({})))
                .await;
            assert_rpc_error(&r, 200, -32601, "METHOD_NOT_FOUND", id.clone());
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn jsonrpc_version_negotiation() {
    let s = start(Setup::default()).await;
    let url = s.agent("echo");
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "SendMessage",
                      "params": {"message": user_message("v")}})
    .to_string();
    let post = |version: Option<&str>, query: &str| {
        let mut req = s
            .client
            .post(format!("{url}{query}"))
            .header("Content-Type", "application/json")
            .body(body.clone());
        if let Some(v) = version {
            req = req.header("A2A-Version", v);
        }
        req
    };
    // Unsupported: -32009 with the id, naming the versions served.
    for (v, q) in [
        (Some("99.0"), ""),
        (Some("2.0"), ""),
        (Some("1.1"), ""),
        (Some("banana"), ""),
        (None, "?A2A-Version=7.0"),
        (Some("99.0"), "?A2A-Version=1.0"),
    ] {
        let r = s.send(post(v, q)).await;
        assert_rpc_error(&r, 200, -32009, "VERSION_NOT_SUPPORTED", json!(5));
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("1.0 and 0.3"), "{msg}");
    }
    // Absent, empty or 0.3 means A2A 0.3, where `SendMessage` is not a
    // method: -32601, and the message says what to send.
    for (v, q) in [
        (None, ""),
        (Some(""), ""),
        (Some("0.3"), ""),
        (None, "?A2A-Version=0.3"),
    ] {
        let r = s.send(post(v, q)).await;
        assert_rpc_error(&r, 200, -32601, "METHOD_NOT_FOUND", json!(5));
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("A2A-Version: 1.0"), "{msg}");
    }

    // 1.0, a patch release, and the query parameter reach the method.
    let nope = |v: Option<&str>, q: &str| {
        let mut req = s
            .client
            .post(format!("{url}{q}"))
            .header("Content-Type", "application/json")
            .body(json!({"jsonrpc": "2.0", "id": 6, "method": "Nope"}).to_string());
        if let Some(v) = v {
            req = req.header("a2a-version", v);
        }
        req
    };
    for (v, q) in [
        (Some("1.0"), ""),
        (Some("1.0.7"), ""),
        (None, "?A2A-Version=1.0"),
        (None, "?a2a-version=1.0.0"),
    ] {
        let r = s.send(nope(v, q)).await;
        assert_rpc_error(&r, 200, -32601, "METHOD_NOT_FOUND", json!(6));
    }
    s.stop().await;
}

#[tokio::test]
async fn jsonrpc_invalid_params_name_the_field() {
    let s = start(Setup::default()).await;
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        ("SendMessage", json!({}), Some("message")),
        ("SendMessage", Value::Null, None),
        ("SendMessage", json!([user_message("x")]), None),
        (
            "SendMessage",
            json!({"message": {"role": "ROLE_USER", "parts": []}}),
            Some("message.messageId"),
        ),
        (
            "SendMessage",
            json!({"message": {"messageId": "m", "role": "ROLE_BOSS", "parts": []}}),
            Some("message.role"),
        ),
        (
            "SendMessage",
            json!({"message": user_message("x"), "configuration": {"historyLength": "lots"}}),
            Some("configuration.historyLength"),
        ),
        (
            "SendStreamingMessage",
            json!({"message": 5}),
            Some("message"),
        ),
        ("GetTask", json!({}), Some("id")),
        ("GetTask", json!({"id": 5}), Some("id")),
        (
            "ListTasks",
            json!({"status": "TASK_STATE_BOGUS"}),
            Some("status"),
        ),
        (
            "ListTasks",
            json!({"statusTimestampAfter": "yesterday"}),
            Some("statusTimestampAfter"),
        ),
        (
            "ListTasks",
            json!({"includeArtifacts": "yes"}),
            Some("includeArtifacts"),
        ),
        ("CancelTask", json!({"metadata": {}}), Some("id")),
        ("SubscribeToTask", json!({}), Some("id")),
        (
            "CreateTaskPushNotificationConfig",
            json!({"taskId": "t"}),
            Some("url"),
        ),
        (
            "GetTaskPushNotificationConfig",
            json!({"taskId": "t"}),
            Some("id"),
        ),
        ("ListTaskPushNotificationConfigs", json!({}), Some("taskId")),
        (
            "DeleteTaskPushNotificationConfig",
            json!({"id": "c"}),
            Some("taskId"),
        ),
        ("GetExtendedAgentCard", json!([1]), None),
    ];
    for (method, params, field) in cases {
        let req = if params.is_null() {
            s.client
                .post(s.agent("echo"))
                .header("A2A-Version", "1.0")
                .header("Content-Type", "application/json")
                .body(json!({"jsonrpc": "2.0", "id": "p", "method": method}).to_string())
        } else {
            s.rpc_request(&s.agent("echo"), json!("p"), method, params.clone())
        };
        let r = s.send(req).await;
        assert_rpc_error(&r, 200, -32602, "INVALID_PARAMS", json!("p"));
        assert_eq!(
            r.violated_field().as_deref(),
            field,
            "{method} {params}: {}",
            r.text
        );
        if let Some(f) = field {
            let msg = r.body["error"]["message"].as_str().unwrap();
            assert!(msg.contains(f), "{method}: message {msg:?} should name {f}");
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn jsonrpc_notifications_get_204() {
    let s = start(Setup::default()).await;
    let note = |method: &str, params: Value| {
        s.client
            .post(s.agent("echo"))
            .header("A2A-Version", "1.0")
            .header("Content-Type", "application/json")
            .body(json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string())
    };
    // Even failures are not answered.
    for (m, p) in [
        ("Nope", json!({})),
        ("GetTask", json!({})),
        ("GetTask", json!({"id": "unknown"})),
    ] {
        let r = s.send(note(m, p)).await;
        assert_eq!(r.status, 204, "{m}: {}", r.text);
        assert!(r.text.is_empty());
    }
    // An envelope error is still answered (the id can not be known).
    let r = raw_rpc(
        &s,
        &s.agent("echo"),
        Some("application/json"),
        r#"{"method":"GetTask"}"#,
    )
    .await;
    assert_rpc_error(&r, 200, -32600, "INVALID_REQUEST", Value::Null);
    s.stop().await;
}

// ===========================================================================
// Limits, REST envelope

#[tokio::test]
async fn oversized_bodies_are_413() {
    let mut setup = Setup::default();
    setup.config.max_body_bytes = 1024;
    let s = start(setup).await;
    let big = json!({"message": user_message(&"x".repeat(4096))});
    let rpc = json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": big.clone()});
    let r = raw_rpc(
        &s,
        &s.agent("echo"),
        Some("application/json"),
        &rpc.to_string(),
    )
    .await;
    assert_rpc_error(&r, 413, -32600, "PAYLOAD_TOO_LARGE", Value::Null);

    let r = s
        .rest(
            Method::POST,
            &s.url("/agents/echo/message:send"),
            Some(big.clone()),
        )
        .await;
    assert_rest_error(&r, 413, "INVALID_ARGUMENT", "PAYLOAD_TOO_LARGE");

    // Chunked (no Content-Length) is cut off too.
    let chunks: Vec<Result<String, std::io::Error>> = (0..8).map(|_| Ok("x".repeat(512))).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = s
        .send(
            s.client
                .post(s.url("/agents/echo/message:send"))
                .header("A2A-Version", "1.0")
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await;
    assert_rest_error(&r, 413, "INVALID_ARGUMENT", "PAYLOAD_TOO_LARGE");
    s.stop().await;
}

#[tokio::test]
async fn rest_wrong_content_type_is_415() {
    let s = start(Setup::default()).await;
    let body = json!({"message": user_message("hi")}).to_string();
    for (path, ct) in [
        ("/agents/echo/message:send", Some("text/plain")),
        ("/agents/echo/message:send", None),
        ("/agents/echo/message:stream", Some("application/xml")),
        (
            "/agents/echo/tasks/t1/pushNotificationConfigs",
            Some("text/plain"),
        ),
        ("/agents/echo/tasks/t1:cancel", Some("text/plain")),
    ] {
        let mut req = s
            .client
            .post(s.url(path))
            .header("A2A-Version", "1.0")
            .body(body.clone());
        if let Some(ct) = ct {
            req = req.header("Content-Type", ct);
        }
        let r = s.send(req).await;
        assert_rest_error(&r, 415, "INVALID_ARGUMENT", "CONTENT_TYPE_NOT_SUPPORTED");
    }
    s.stop().await;
}

#[tokio::test]
async fn rest_version_errors_are_400() {
    let s = start(Setup::default()).await;
    let body = json!({"message": user_message("hi")}).to_string();
    let post = |v: Option<&str>| {
        let mut req = s
            .client
            .post(s.url("/agents/echo/message:send"))
            .header("Content-Type", "application/json")
            .body(body.clone());
        if let Some(v) = v {
            req = req.header("A2A-Version", v);
        }
        req
    };
    let r = s.send(post(Some("99.0"))).await;
    assert_rest_error(&r, 400, "FAILED_PRECONDITION", "VERSION_NOT_SUPPORTED");
    // Absent, empty or 0.3 speaks A2A 0.3 HTTP+JSON, where a message carries
    // its parts in `content`: the 1.0 body is refused naming the field.
    for v in [None, Some(""), Some("0.3")] {
        let r = s.send(post(v)).await;
        assert_rest_error(&r, 400, "INVALID_ARGUMENT", "INVALID_PARAMS");
        assert_eq!(
            r.violated_field().as_deref(),
            Some("message.parts"),
            "{}",
            r.text
        );
    }
    let r = s
        .send(s.client.get(s.url("/agents/echo/tasks?A2A-Version=3.0")))
        .await;
    assert_rest_error(&r, 400, "FAILED_PRECONDITION", "VERSION_NOT_SUPPORTED");
    // The query parameter alone is enough to speak 1.0.
    let r = s
        .send(
            s.client
                .get(s.url("/agents/echo/tasks?A2A-Version=1.0&pageSize=x")),
        )
        .await;
    assert_rest_error(&r, 400, "INVALID_ARGUMENT", "INVALID_PARAMS");
    // Cards need no version.
    let r = s
        .send(
            s.client
                .get(s.url("/agents/echo/.well-known/agent-card.json")),
        )
        .await;
    assert_eq!(r.status, 200);
    s.stop().await;
}

#[tokio::test]
async fn rest_malformed_json_and_bad_fields_are_400() {
    let s = start(Setup::default()).await;
    let url = s.url("/agents/echo/message:send");
    for body in ["{", "not json", ""] {
        let r = s
            .send(
                s.client
                    .post(&url)
                    .header("A2A-Version", "1.0")
                    .header("Content-Type", "application/json")
                    .body(body),
            )
            .await;
        assert_rest_error(&r, 400, "INVALID_ARGUMENT", "PARSE_ERROR");
    }
    for (body, field) in [
        (json!({}), Some("message")),
        (json!([]), None),
        (
            json!({"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"raw": "***"}]}}),
            Some("message.parts[0]"),
        ),
    ] {
        let r = s.rest(Method::POST, &url, Some(body.clone())).await;
        assert_rest_error(&r, 400, "INVALID_ARGUMENT", "INVALID_PARAMS");
        match field {
            Some(f) => assert!(
                r.violated_field().is_some_and(|v| v.starts_with(f)),
                "{body}: {}",
                r.text
            ),
            None => assert_eq!(r.violated_field(), None),
        }
    }
    // A push config whose body names another task.
    let r = s
        .rest(
            Method::POST,
            &s.url("/agents/echo/tasks/t1/pushNotificationConfigs"),
            Some(json!({"taskId": "t2", "url": "https://example.com/hook"})),
        )
        .await;
    assert_rest_error(&r, 400, "INVALID_ARGUMENT", "INVALID_PARAMS");
    assert_eq!(r.violated_field().as_deref(), Some("taskId"));
    s.stop().await;
}

#[tokio::test]
async fn rest_bad_query_parameters_name_the_parameter() {
    let s = start(Setup::default()).await;
    for (query, param) in [
        ("status=DONE", "status"),
        ("status=TASK_STATE_BOGUS", "status"),
        ("pageSize=ten", "pageSize"),
        ("pageSize=1.5", "pageSize"),
        ("historyLength=-x", "historyLength"),
        ("includeArtifacts=yes", "includeArtifacts"),
        ("statusTimestampAfter=2026-13-01", "statusTimestampAfter"),
    ] {
        let r = s
            .rest(
                Method::GET,
                &s.url(&format!("/agents/echo/tasks?{query}")),
                None,
            )
            .await;
        assert_rest_error(&r, 400, "INVALID_ARGUMENT", "INVALID_PARAMS");
        assert_eq!(r.violated_field().as_deref(), Some(param), "{query}");
        assert!(r.body["error"]["message"].as_str().unwrap().contains(param));
    }
    let r = s
        .rest(
            Method::GET,
            &s.url("/agents/echo/tasks/t1?historyLength=many"),
            None,
        )
        .await;
    assert_eq!(
        r.violated_field().as_deref(),
        Some("historyLength"),
        "{}",
        r.text
    );
    let r = s
        .rest(
            Method::GET,
            &s.url("/agents/echo/tasks/t1/pushNotificationConfigs?pageSize=big"),
            None,
        )
        .await;
    assert_eq!(
        r.violated_field().as_deref(),
        Some("pageSize"),
        "{}",
        r.text
    );
    s.stop().await;
}

#[tokio::test]
async fn rest_accept_negotiates_the_a2a_media_type() {
    let s = start(Setup::default()).await;
    let url = s.url("/agents/echo/tasks?pageSize=x");
    let get = |accept: Option<&str>| {
        let mut req = s.client.get(&url).header("A2A-Version", "1.0");
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        req
    };
    for (accept, want) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/json"), "application/json"),
        (Some("application/a2a+json"), "application/a2a+json"),
        (
            Some("application/json;q=0.5, application/a2a+json"),
            "application/a2a+json",
        ),
        (
            Some("application/json, application/a2a+json;q=0.1"),
            "application/json",
        ),
    ] {
        let r = s.send(get(accept)).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.content_type(), want, "Accept {accept:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn rest_unknown_routes_and_wrong_verbs() {
    let s = start(Setup::default()).await;
    let r = s
        .rest(
            Method::GET,
            &s.url("/agents/echo/nothing/here/at/all"),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_json_ct(r.content_type());
    assert!(r.body["error"]["message"].is_string());

    let r = s
        .rest(
            Method::POST,
            &s.url("/agents/echo/tasks/t1:frobnicate"),
            None,
        )
        .await;
    assert_rest_error(&r, 404, "NOT_FOUND", "METHOD_NOT_FOUND");
    let r = s
        .rest(Method::POST, &s.url("/agents/echo/tasks/t1"), None)
        .await;
    assert_rest_error(&r, 404, "NOT_FOUND", "METHOD_NOT_FOUND");
    let r = s
        .rest(Method::GET, &s.url("/agents/echo/tasks/t1:cancel"), None)
        .await;
    assert_rest_error(&r, 404, "NOT_FOUND", "METHOD_NOT_FOUND");
    let r = s
        .rest(Method::DELETE, &s.url("/agents/echo/message:send"), None)
        .await;
    assert_eq!(r.status, 405, "{}", r.text);
    let r = s.rest(Method::GET, &s.agent("echo"), None).await;
    assert_eq!(r.status, 405, "JSON-RPC is POST only: {}", r.text);
    s.stop().await;
}

#[tokio::test]
async fn trailing_slash_is_accepted_everywhere() {
    let s = start(Setup::default()).await;
    for path in [
        "/agents/",
        "/healthz/",
        "/.well-known/agent-card.json/",
        "/agents/echo/.well-known/agent-card.json/",
    ] {
        let r = s.send(s.client.get(s.url(path))).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    // REST routes with a trailing slash reach the binding (the bad query
    // parameter proves it).
    for path in [
        "/agents/echo/tasks/?pageSize=x",
        "/tasks/?pageSize=x",
        "/agents/echo/t1/tasks/?pageSize=x",
        "/agents/echo/tasks/t1/?historyLength=x",
        "/agents/echo/tasks/t1/pushNotificationConfigs/?pageSize=x",
    ] {
        let r = s.rest(Method::GET, &s.url(path), None).await;
        assert_rest_error(&r, 400, "INVALID_ARGUMENT", "INVALID_PARAMS");
    }
    let r = s
        .rest(Method::GET, &s.url("/agents/echo/extendedAgentCard/"), None)
        .await;
    assert_rest_error(&r, 400, "FAILED_PRECONDITION", "UNSUPPORTED_OPERATION");
    let r = s
        .rest(
            Method::POST,
            &s.url("/agents/echo/message:send/"),
            Some(json!({})),
        )
        .await;
    assert_rest_error(&r, 400, "INVALID_ARGUMENT", "INVALID_PARAMS");
    s.stop().await;
}

#[tokio::test]
async fn last_event_id_must_be_a_number() {
    let s = start(Setup::default()).await;
    let r = s
        .send(
            s.rest_request(Method::GET, &s.url("/agents/echo/tasks/t1:subscribe"), None)
                .header("Last-Event-ID", "yesterday"),
        )
        .await;
    assert_rest_error(&r, 400, "INVALID_ARGUMENT", "INVALID_PARAMS");
    assert_eq!(r.violated_field().as_deref(), Some("Last-Event-ID"));
    let r = s
        .send(
            s.rest_request(
                Method::POST,
                &s.url("/agents/echo/tasks/t1:subscribe"),
                None,
            )
            .header("Last-Event-ID", "-1"),
        )
        .await;
    assert_rest_error(&r, 400, "INVALID_ARGUMENT", "INVALID_PARAMS");
    let r = s
        .send(
            s.rpc_request(
                &s.agent("echo"),
                json!(1),
                "SubscribeToTask",
                json!({"id": "t1"}),
            )
            .header("Last-Event-ID", "1e3"),
        )
        .await;
    assert_rpc_error(&r, 200, -32602, "INVALID_PARAMS", json!(1));
    s.stop().await;
}

#[tokio::test]
async fn extended_card_is_unsupported_on_both_bindings() {
    let s = start(Setup::default()).await;
    let r = s.rpc("echo", "GetExtendedAgentCard", Value::Null).await;
    assert_rpc_error(&r, 200, -32004, "UNSUPPORTED_OPERATION", json!(1));
    let r = s
        .rpc("echo", "GetExtendedAgentCard", json!({"tenant": "t"}))
        .await;
    assert_rpc_error(&r, 200, -32004, "UNSUPPORTED_OPERATION", json!(1));
    for path in [
        "/agents/echo/extendedAgentCard",
        "/extendedAgentCard",
        "/agents/echo/acme/extendedAgentCard",
    ] {
        let r = s.rest(Method::GET, &s.url(path), None).await;
        assert_rest_error(&r, 400, "FAILED_PRECONDITION", "UNSUPPORTED_OPERATION");
    }
    s.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_ends_open_streams_and_serve() {
    let s = start(Setup::default()).await;
    let id = s.start_sleeper("echo").await;
    let mut stream = s
        .open(s.rest_request(
            Method::GET,
            &s.url(&format!("/agents/echo/tasks/{id}:subscribe")),
            None,
        ))
        .await
        .stream();
    assert!(stream.next().await.is_some(), "first event");
    s.handle.close_streams();
    // The stream ends promptly, then serve returns.
    let mut ended = false;
    for _ in 0..10 {
        if stream.next_within(Duration::from_secs(5)).await.is_none() {
            ended = true;
            break;
        }
    }
    assert!(ended, "stream did not end after close_streams");
    s.stop().await;
}

#[tokio::test]
async fn hostile_inputs_get_client_errors_not_crashes() {
    let s = start(Setup::default()).await;
    let long = "x".repeat(8000);
    for path in [
        "/agents/%FF%FE/.well-known/agent-card.json".to_string(),
        "/agents/echo/tasks/%FF".to_string(),
        "/agents/echo/tasks/%00:cancel".to_string(),
        format!("/agents/echo/tasks/{long}"),
        "/agents/echo/tasks/:subscribe".to_string(),
        "/agents/echo/tasks/a%2Fb".to_string(),
        "/agents/echo/tasks/t?historyLength=99999999999999".to_string(),
        "/agents/echo/tasks?pageToken=%FF%FF&status=%00".to_string(),
    ] {
        for m in [Method::GET, Method::POST, Method::DELETE] {
            let r = s.rest(m.clone(), &s.url(&path), None).await;
            assert!(
                (400..500).contains(&r.status),
                "{m} {path}: {} {}",
                r.status,
                r.text
            );
        }
    }
    let weird = reqwest::header::HeaderValue::from_bytes(b"1.0\xff").unwrap();
    let r = s
        .send(
            s.client
                .get(s.url("/agents/echo/tasks"))
                .header("A2A-Version", weird),
        )
        .await;
    assert_rest_error(&r, 400, "FAILED_PRECONDITION", "VERSION_NOT_SUPPORTED");
    let r = s
        .send(
            s.rest_request(Method::GET, &s.url("/agents/echo/tasks/t:subscribe"), None)
                .header("Last-Event-ID", "99999999999999999999999"),
        )
        .await;
    assert_rest_error(&r, 400, "INVALID_ARGUMENT", "INVALID_PARAMS");
    // Deeply nested JSON is a parse error, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = raw_rpc(&s, &s.agent("echo"), Some("application/json"), &deep).await;
    assert_rpc_error(&r, 200, -32700, "PARSE_ERROR", Value::Null);
    let r = s
        .send(
            s.client
                .post(s.url("/agents/echo/message:send"))
                .header("A2A-Version", "1.0")
                .header("Content-Type", "application/json")
                .body(format!("{{\"message\": {deep}}}")),
        )
        .await;
    assert_rest_error(&r, 400, "INVALID_ARGUMENT", "PARSE_ERROR");
    // The server is still fine.
    assert_eq!(s.send(s.client.get(s.url("/healthz"))).await.status, 200);
    s.stop().await;
}

// ===========================================================================
// Operations (these need the task manager)

#[tokio::test]
async fn send_message_returns_the_completed_task_on_both_bindings() {
    let s = start(Setup::default()).await;
    let res = s.send_text("echo", "hello there", Value::Null).await;
    let task = &res["task"];
    assert!(res.get("message").is_none());
    assert_eq!(state_of(task), "TASK_STATE_COMPLETED", "{res}");
    assert!(task["id"].as_str().is_some_and(|i| !i.is_empty()));
    assert!(task["contextId"].as_str().is_some_and(|i| !i.is_empty()));
    assert_eq!(
        task["status"]["message"]["parts"][0]["text"],
        "done: hello there"
    );
    let ts = task["status"]["timestamp"].as_str().unwrap();
    assert!(ts.ends_with('Z') && ts.len() == 24, "{ts}");

    let r = s
        .rest(
            Method::POST,
            &s.url("/agents/echo/message:send"),
            Some(json!({"message": user_message("via rest")})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_json_ct(r.content_type());
    assert_eq!(
        state_of(&r.body["task"]),
        "TASK_STATE_COMPLETED",
        "{}",
        r.text
    );
    assert_eq!(
        r.body["task"]["status"]["message"]["parts"][0]["text"],
        "done: via rest"
    );

    // Tenant routes and the root reach the same agent.
    for path in [
        "/agents/echo/acme/message:send",
        "/message:send",
        "/acme/message:send",
    ] {
        let r = s
            .rest(
                Method::POST,
                &s.url(path),
                Some(json!({"message": user_message("t")})),
            )
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(state_of(&r.body["task"]), "TASK_STATE_COMPLETED");
    }
    // Success bodies follow Accept too.
    let r = s
        .send(
            s.rest_request(
                Method::POST,
                &s.url("/agents/echo/message:send"),
                Some(json!({"message": user_message("a2a")})),
            )
            .header("Accept", "application/a2a+json"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type(), "application/a2a+json");
    s.stop().await;
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let s = start(Setup::default()).await;
    let mut msg = user_message("extra");
    msg["someNewField"] = json!({"x": 1});
    msg["parts"][0]["futurePartField"] = json!(true);
    let r = s
        .rpc(
            "echo",
            "SendMessage",
            json!({"message": msg, "unknownParam": 1}),
        )
        .await;
    assert_eq!(
        state_of(&r.body["result"]["task"]),
        "TASK_STATE_COMPLETED",
        "{}",
        r.text
    );
    // A2A-Extensions is accepted.
    let r = s
        .send(
            s.rpc_request(
                &s.agent("echo"),
                json!(2),
                "SendMessage",
                json!({"message": user_message("e")}),
            )
            .header(
                "A2A-Extensions",
                "https://example.com/ext/v1, https://example.com/ext/v2",
            ),
        )
        .await;
    assert!(r.body.get("result").is_some(), "{}", r.text);
    s.stop().await;
}

#[tokio::test]
async fn direct_reply_is_a_message_result() {
    let s = start(Setup::default()).await;
    let res = s.send_text("echo", "reply", Value::Null).await;
    assert!(res.get("task").is_none(), "{res}");
    assert_eq!(res["message"]["role"], "ROLE_AGENT");
    assert_eq!(res["message"]["parts"][0]["text"], "direct reply");
    let r = s
        .rest(
            Method::POST,
            &s.url("/agents/echo/message:send"),
            Some(json!({"message": user_message("reply")})),
        )
        .await;
    assert_eq!(
        r.body["message"]["parts"][0]["text"], "direct reply",
        "{}",
        r.text
    );
    s.stop().await;
}

#[tokio::test]
async fn return_immediately_answers_before_the_task_ends() {
    let s = start(Setup::default()).await;
    let res = s
        .send_text("echo", "slow 300", json!({"returnImmediately": true}))
        .await;
    let st = state_of(&res["task"]);
    assert!(
        st == "TASK_STATE_SUBMITTED" || st == "TASK_STATE_WORKING",
        "{res}"
    );
    // Blocking (the default) waits for the end.
    let res = s.send_text("echo", "slow 100", Value::Null).await;
    assert_eq!(state_of(&res["task"]), "TASK_STATE_COMPLETED");
    assert_eq!(res["task"]["artifacts"][0]["parts"][0]["text"], "half");
    s.stop().await;
}

#[tokio::test]
async fn get_task_honours_history_length() {
    let s = start(Setup::default()).await;
    let res = s.send_text("echo", "input", Value::Null).await;
    let id = res["task"]["id"].as_str().unwrap().to_string();
    assert_eq!(state_of(&res["task"]), "TASK_STATE_INPUT_REQUIRED");
    let follow = json!({"message": {"messageId": "f-1", "role": "ROLE_USER", "taskId": id, "parts": [{"text": "second"}]}});
    let r = s.rpc("echo", "SendMessage", follow).await;
    assert_eq!(
        state_of(&r.body["result"]["task"]),
        "TASK_STATE_COMPLETED",
        "{}",
        r.text
    );

    let r = s.rpc("echo", "GetTask", json!({"id": id})).await;
    assert_eq!(r.body["result"]["id"], id, "{}", r.text);
    let history = r.body["result"]["history"].as_array().unwrap();
    let user: Vec<_> = history
        .iter()
        .filter(|m| m["role"] == "ROLE_USER")
        .map(|m| m["parts"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(user, ["input", "second"], "chronological: {}", r.text);

    let r = s
        .rpc("echo", "GetTask", json!({"id": id, "historyLength": 1}))
        .await;
    assert_eq!(
        r.body["result"]["history"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    let r = s
        .rest(
            Method::GET,
            &s.url(&format!("/agents/echo/tasks/{id}?historyLength=0")),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("history").is_none(), "{}", r.text);
    assert_eq!(r.body["id"], id);
    let r = s
        .rest(
            Method::GET,
            &s.url(&format!("/agents/echo/tasks/{id}")),
            None,
        )
        .await;
    assert!(r.body["history"].as_array().unwrap().len() >= 2);

    let r = s
        .rpc("echo", "GetTask", json!({"id": "no-such-task"}))
        .await;
    assert_rpc_error(&r, 200, -32001, "TASK_NOT_FOUND", json!(1));
    let r = s
        .rest(Method::GET, &s.url("/agents/echo/tasks/no-such-task"), None)
        .await;
    assert_rest_error(&r, 404, "NOT_FOUND", "TASK_NOT_FOUND");
    s.stop().await;
}

#[tokio::test]
async fn list_tasks_filters_and_paginates() {
    let s = start(Setup::default()).await;
    let first = s.send_text("echo", "artifact", Value::Null).await;
    let ctx = first["task"]["contextId"].as_str().unwrap().to_string();
    let mut same_ctx = user_message("one more");
    same_ctx["contextId"] = json!(ctx);
    let r = s
        .rpc("echo", "SendMessage", json!({"message": same_ctx}))
        .await;
    assert_eq!(r.body["result"]["task"]["contextId"], ctx, "{}", r.text);
    s.send_text("echo", "input", Value::Null).await;

    let r = s.rpc("echo", "ListTasks", json!({})).await;
    let res = &r.body["result"];
    assert_eq!(res["totalSize"], 3, "{}", r.text);
    assert!(res["nextPageToken"].is_string());
    assert!(res["pageSize"].is_number());
    for t in res["tasks"].as_array().unwrap() {
        assert!(
            t.get("artifacts").is_none(),
            "artifacts omitted by default: {t}"
        );
    }
    // Params may be left out entirely.
    let r = s.rpc("echo", "ListTasks", Value::Null).await;
    assert_eq!(r.body["result"]["totalSize"], 3, "{}", r.text);

    let r = s
        .rest(
            Method::GET,
            &s.url(&format!("/agents/echo/tasks?contextId={ctx}")),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["tasks"].as_array().unwrap().len(), 2);
    let r = s
        .rest(
            Method::GET,
            &s.url("/agents/echo/tasks?status=TASK_STATE_INPUT_REQUIRED"),
            None,
        )
        .await;
    assert_eq!(r.body["tasks"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = s
        .rest(
            Method::GET,
            &s.url("/agents/echo/tasks?includeArtifacts=true&pageSize=100"),
            None,
        )
        .await;
    assert!(
        r.body["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["artifacts"][0]["parts"][0]["text"] == "generated"),
        "{}",
        r.text
    );
    let r = s
        .rest(
            Method::GET,
            &s.url("/agents/echo/tasks?statusTimestampAfter=2999-01-01T00:00:00Z"),
            None,
        )
        .await;
    assert_eq!(r.body["totalSize"], 0, "{}", r.text);

    // Pagination: 2 + 1, newest first, the last page's token is "".
    let r = s
        .rest(Method::GET, &s.url("/agents/echo/tasks?pageSize=2"), None)
        .await;
    let page1 = r.body["tasks"].as_array().unwrap().clone();
    assert_eq!(page1.len(), 2, "{}", r.text);
    let token = r.body["nextPageToken"].as_str().unwrap().to_string();
    assert!(!token.is_empty());
    let r = s
        .rest(
            Method::GET,
            &s.url(&format!("/agents/echo/tasks?pageSize=2&pageToken={token}")),
            None,
        )
        .await;
    let page2 = r.body["tasks"].as_array().unwrap();
    assert_eq!(page2.len(), 1, "{}", r.text);
    assert_eq!(r.body["nextPageToken"], "");
    assert!(page1.iter().all(|t| t["id"] != page2[0]["id"]));
    s.stop().await;
}

#[tokio::test]
async fn cancel_task_lifecycle() {
    let s = start(Setup::default()).await;
    let id = s.start_sleeper("echo").await;
    let r = s
        .rest(
            Method::POST,
            &s.url(&format!("/agents/echo/tasks/{id}:cancel")),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(state_of(&r.body), "TASK_STATE_CANCELED", "{}", r.text);
    assert_eq!(r.body["id"], id);

    let r = s
        .rest(
            Method::POST,
            &s.url(&format!("/agents/echo/tasks/{id}:cancel")),
            Some(json!({"metadata": {"why": "again"}})),
        )
        .await;
    assert_rest_error(&r, 400, "FAILED_PRECONDITION", "TASK_NOT_CANCELABLE");
    let r = s.rpc("echo", "CancelTask", json!({"id": id})).await;
    assert_rpc_error(&r, 200, -32002, "TASK_NOT_CANCELABLE", json!(1));

    let r = s
        .rest(
            Method::POST,
            &s.url("/agents/echo/tasks/ghost:cancel"),
            None,
        )
        .await;
    assert_rest_error(&r, 404, "NOT_FOUND", "TASK_NOT_FOUND");
    let r = s.rpc("echo", "CancelTask", json!({"id": "ghost"})).await;
    assert_rpc_error(&r, 200, -32001, "TASK_NOT_FOUND", json!(1));

    // Cancel over JSON-RPC, of an input-required task.
    let res = s.send_text("echo", "input", Value::Null).await;
    let id2 = res["task"]["id"].as_str().unwrap();
    let r = s.rpc("echo", "CancelTask", json!({"id": id2})).await;
    assert_eq!(
        state_of(&r.body["result"]),
        "TASK_STATE_CANCELED",
        "{}",
        r.text
    );
    s.stop().await;
}

#[tokio::test]
async fn follow_ups_and_bad_task_references() {
    let s = start(Setup::default()).await;
    let mut msg = user_message("hi");
    msg["taskId"] = json!("no-such-task");
    let r = s
        .rpc("echo", "SendMessage", json!({"message": msg.clone()}))
        .await;
    assert_rpc_error(&r, 200, -32001, "TASK_NOT_FOUND", json!(1));
    let r = s
        .rest(
            Method::POST,
            &s.url("/agents/echo/message:send"),
            Some(json!({"message": msg})),
        )
        .await;
    assert_rest_error(&r, 404, "NOT_FOUND", "TASK_NOT_FOUND");

    // A message to a terminal task is an unsupported operation.
    let done = s.send_text("echo", "complete", Value::Null).await;
    let mut again = user_message("more");
    again["taskId"] = done["task"]["id"].clone();
    let r = s
        .rpc("echo", "SendMessage", json!({"message": again}))
        .await;
    assert_rpc_error(&r, 200, -32004, "UNSUPPORTED_OPERATION", json!(1));

    let failed = s.send_text("echo", "fail", Value::Null).await;
    assert_eq!(state_of(&failed["task"]), "TASK_STATE_FAILED", "{failed}");
    let rejected = s.send_text("echo", "reject", Value::Null).await;
    assert_eq!(
        state_of(&rejected["task"]),
        "TASK_STATE_REJECTED",
        "{rejected}"
    );
    let auth = s.send_text("echo", "auth", Value::Null).await;
    assert_eq!(
        state_of(&auth["task"]),
        "TASK_STATE_AUTH_REQUIRED",
        "{auth}"
    );
    s.stop().await;
}

/// The payloads of a stream's events (unwrapping JSON-RPC responses,
/// checking their id).
fn payloads(events: &[SseEvent], rpc_id: Option<&Value>) -> Vec<Value> {
    events
        .iter()
        .map(|e| {
            let v = e.json();
            match rpc_id {
                Some(id) => {
                    assert_eq!(v["jsonrpc"], "2.0", "{v}");
                    assert_eq!(&v["id"], id, "{v}");
                    assert!(v.get("error").is_none(), "{v}");
                    v["result"].clone()
                }
                None => {
                    assert!(v.get("jsonrpc").is_none(), "REST events are bare: {v}");
                    v
                }
            }
        })
        .collect()
}

fn assert_task_stream(events: &[SseEvent], p: &[Value], last_state: &str) {
    assert!(!p.is_empty());
    assert!(
        p[0].get("task").is_some(),
        "first event is the task: {}",
        p[0]
    );
    let last = p.last().unwrap();
    let st = last["statusUpdate"]["status"]["state"]
        .as_str()
        .or_else(|| last["task"]["status"]["state"].as_str());
    assert_eq!(st, Some(last_state), "last event: {last}");
    let seqs: Vec<u64> = events.iter().map(SseEvent::seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "ids increase: {seqs:?}"
    );
    for e in p {
        let kinds = ["task", "message", "statusUpdate", "artifactUpdate"]
            .iter()
            .filter(|k| e.get(**k).is_some())
            .count();
        assert_eq!(kinds, 1, "exactly one kind per event: {e}");
    }
}

#[tokio::test]
async fn streaming_over_jsonrpc_frames_each_event() {
    let s = start(Setup::default()).await;
    let id = json!("stream-1");
    let answer = s
        .open(s.rpc_request(
            &s.agent("echo"),
            id.clone(),
            "SendStreamingMessage",
            json!({"message": user_message("stream 3")}),
        ))
        .await;
    let stream = answer.stream();
    assert_eq!(stream.status, 200);
    assert!(stream.content_type().starts_with("text/event-stream"));
    let events = stream.collect().await;
    let p = payloads(&events, Some(&id));
    assert_task_stream(&events, &p, "TASK_STATE_COMPLETED");
    let chunks: Vec<_> = p.iter().filter_map(|e| e.get("artifactUpdate")).collect();
    assert_eq!(chunks.len(), 3, "{p:?}");
    assert_eq!(chunks[0]["artifact"]["parts"][0]["text"], "w0 ");
    assert!(chunks[0].get("append").is_none());
    assert_eq!(chunks[1]["append"], true);
    assert_eq!(chunks[2]["lastChunk"], true);
    let task_id = p[0]["task"]["id"].clone();
    assert!(p.iter().skip(1).all(|e| {
        let inner = e
            .get("statusUpdate")
            .or_else(|| e.get("artifactUpdate"))
            .unwrap();
        inner["taskId"] == task_id && inner["contextId"].is_string()
    }));
    s.stop().await;
}

#[tokio::test]
async fn streaming_over_rest_sends_bare_events_with_ids() {
    let s = start(Setup::default()).await;
    let stream = s
        .open(s.rest_request(
            Method::POST,
            &s.url("/agents/echo/message:stream"),
            Some(json!({"message": user_message("stream 2")})),
        ))
        .await
        .stream();
    assert!(stream.content_type().starts_with("text/event-stream"));
    let events = stream.collect().await;
    let p = payloads(&events, None);
    assert_task_stream(&events, &p, "TASK_STATE_COMPLETED");

    // A stream that ends input-required closes too.
    let events = s
        .open(s.rest_request(
            Method::POST,
            &s.url("/message:stream"),
            Some(json!({"message": user_message("input")})),
        ))
        .await
        .stream()
        .collect()
        .await;
    let p = payloads(&events, None);
    assert_task_stream(&events, &p, "TASK_STATE_INPUT_REQUIRED");
    s.stop().await;
}

#[tokio::test]
async fn message_only_stream_has_one_event() {
    let s = start(Setup::default()).await;
    let id = json!(77);
    let events = s
        .open(s.rpc_request(
            &s.agent("echo"),
            id.clone(),
            "SendStreamingMessage",
            json!({"message": user_message("reply")}),
        ))
        .await
        .stream()
        .collect()
        .await;
    let p = payloads(&events, Some(&id));
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0]["message"]["parts"][0]["text"], "direct reply");
    s.stop().await;
}

#[tokio::test]
async fn errors_before_a_stream_are_plain_json() {
    let mut setup = Setup::default();
    setup
        .agents
        .push(("quiet".into(), TestAgent::non_streaming("quiet")));
    let s = start(setup).await;
    let card = s
        .send(
            s.client
                .get(s.url("/agents/quiet/.well-known/agent-card.json")),
        )
        .await;
    assert_eq!(card.body["capabilities"]["streaming"], false);

    let r = s
        .open(s.rpc_request(
            &s.agent("quiet"),
            json!(1),
            "SendStreamingMessage",
            json!({"message": user_message("x")}),
        ))
        .await
        .whole();
    assert_rpc_error(&r, 200, -32004, "UNSUPPORTED_OPERATION", json!(1));
    let r = s
        .open(s.rest_request(
            Method::POST,
            &s.url("/agents/quiet/message:stream"),
            Some(json!({"message": user_message("x")})),
        ))
        .await
        .whole();
    assert_rest_error(&r, 400, "FAILED_PRECONDITION", "UNSUPPORTED_OPERATION");
    let quiet_task = s.send_text("quiet", "input", Value::Null).await;
    let quiet_id = quiet_task["task"]["id"].as_str().unwrap();
    let r = s
        .open(s.rpc_request(
            &s.agent("quiet"),
            json!(4),
            "SubscribeToTask",
            json!({"id": quiet_id}),
        ))
        .await
        .whole();
    assert_rpc_error(&r, 200, -32004, "UNSUPPORTED_OPERATION", json!(4));
    let r = s
        .open(s.rest_request(
            Method::GET,
            &s.url(&format!("/agents/quiet/tasks/{quiet_id}:subscribe")),
            None,
        ))
        .await
        .whole();
    assert_rest_error(&r, 400, "FAILED_PRECONDITION", "UNSUPPORTED_OPERATION");

    // Subscribing to an unknown or a finished task.
    let r = s
        .open(s.rpc_request(
            &s.agent("echo"),
            json!(2),
            "SubscribeToTask",
            json!({"id": "ghost"}),
        ))
        .await
        .whole();
    assert_rpc_error(&r, 200, -32001, "TASK_NOT_FOUND", json!(2));
    let r = s
        .open(s.rest_request(
            Method::POST,
            &s.url("/agents/echo/tasks/ghost:subscribe"),
            None,
        ))
        .await
        .whole();
    assert_rest_error(&r, 404, "NOT_FOUND", "TASK_NOT_FOUND");
    let done = s.send_text("echo", "complete", Value::Null).await;
    let done_id = done["task"]["id"].as_str().unwrap();
    let r = s
        .open(s.rpc_request(
            &s.agent("echo"),
            json!(3),
            "SubscribeToTask",
            json!({"id": done_id}),
        ))
        .await
        .whole();
    assert_rpc_error(&r, 200, -32004, "UNSUPPORTED_OPERATION", json!(3));
    let r = s
        .open(s.rest_request(
            Method::GET,
            &s.url(&format!("/agents/echo/tasks/{done_id}:subscribe")),
            None,
        ))
        .await
        .whole();
    assert_rest_error(&r, 400, "FAILED_PRECONDITION", "UNSUPPORTED_OPERATION");
    s.stop().await;
}

#[tokio::test]
async fn concurrent_subscribers_see_the_same_events_in_the_same_order() {
    let s = start(Setup::default()).await;
    let res = s
        .send_text("echo", "tick 8 150", json!({"returnImmediately": true}))
        .await;
    let task_id = res["task"]["id"].as_str().unwrap().to_string();
    let rpc_id = json!("sub");
    let a = s
        .open(s.rpc_request(
            &s.agent("echo"),
            rpc_id.clone(),
            "SubscribeToTask",
            json!({"id": task_id}),
        ))
        .await
        .stream();
    let b = s
        .open(s.rest_request(
            Method::GET,
            &s.url(&format!("/agents/echo/tasks/{task_id}:subscribe")),
            None,
        ))
        .await
        .stream();
    let c = s
        .open(s.rest_request(
            Method::POST,
            &s.url(&format!("/agents/echo/tasks/{task_id}:subscribe")),
            None,
        ))
        .await
        .stream();
    let (ea, eb, ec) = tokio::join!(a.collect(), b.collect(), c.collect());
    let (pa, pb, pc) = (
        payloads(&ea, Some(&rpc_id)),
        payloads(&eb, None),
        payloads(&ec, None),
    );
    for (e, p) in [(&ea, &pa), (&eb, &pb), (&ec, &pc)] {
        assert_task_stream(e, p, "TASK_STATE_COMPLETED");
        assert_eq!(p[0]["task"]["id"], task_id.as_str());
    }
    // After the snapshots, every stream carries the same events in the same
    // order under the same ids.
    let from = [&ea, &eb, &ec].iter().map(|e| e[0].seq()).max().unwrap();
    let tail = |e: &[SseEvent], p: &[Value]| -> Vec<(u64, Value)> {
        e.iter()
            .zip(p)
            .filter(|(ev, _)| ev.seq() > from)
            .map(|(ev, v)| (ev.seq(), v.clone()))
            .collect()
    };
    let ta = tail(&ea, &pa);
    assert!(ta.len() >= 5, "{ta:?}");
    assert_eq!(ta, tail(&eb, &pb));
    assert_eq!(ta, tail(&ec, &pc));
    s.stop().await;
}

#[tokio::test]
async fn last_event_id_replays_missed_events() {
    let s = start(Setup::default()).await;
    let res = s
        .send_text("echo", "tick 8 200", json!({"returnImmediately": true}))
        .await;
    let task_id = res["task"]["id"].as_str().unwrap().to_string();
    let sub_url = s.url(&format!("/agents/echo/tasks/{task_id}:subscribe"));
    // A control subscriber sees everything from now on.
    let control = s
        .open(s.rest_request(Method::GET, &sub_url, None))
        .await
        .stream();
    let control = tokio::spawn(control.collect());

    // Another reads two events, then disconnects.
    let mut partial = s
        .open(s.rpc_request(
            &s.agent("echo"),
            json!(1),
            "SubscribeToTask",
            json!({"id": task_id}),
        ))
        .await
        .stream();
    let _snapshot = partial.next().await.expect("snapshot");
    let second = partial.next().await.expect("second event");
    let last_seen = second.seq();
    drop(partial);

    // It reconnects with Last-Event-ID (REST) and gets exactly what it missed.
    let replay = s
        .open(
            s.rest_request(Method::GET, &sub_url, None)
                .header("Last-Event-ID", last_seen.to_string()),
        )
        .await
        .stream()
        .collect()
        .await;
    let control = control.await.unwrap();
    let want: Vec<(u64, Value)> = control
        .iter()
        .filter(|e| e.seq() > last_seen)
        .map(|e| (e.seq(), e.json()))
        .collect();
    let got: Vec<(u64, Value)> = replay.iter().map(|e| (e.seq(), e.json())).collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    assert_eq!(
        got.last().unwrap().1["statusUpdate"]["status"]["state"],
        "TASK_STATE_COMPLETED"
    );

    // The same over JSON-RPC (header on the POST).
    let res = s
        .send_text("echo", "tick 5 200", json!({"returnImmediately": true}))
        .await;
    let task_id = res["task"]["id"].as_str().unwrap().to_string();
    let mut first = s
        .open(s.rpc_request(
            &s.agent("echo"),
            json!(2),
            "SubscribeToTask",
            json!({"id": task_id}),
        ))
        .await
        .stream();
    let snap = first.next().await.unwrap();
    drop(first);
    let replay = s
        .open(
            s.rpc_request(
                &s.agent("echo"),
                json!(3),
                "SubscribeToTask",
                json!({"id": task_id}),
            )
            .header("Last-Event-ID", snap.seq().to_string()),
        )
        .await
        .stream()
        .collect()
        .await;
    let seqs: Vec<u64> = replay.iter().map(SseEvent::seq).collect();
    assert_eq!(seqs.first(), Some(&(snap.seq() + 1)), "{seqs:?}");
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "gap-free: {seqs:?}"
    );
    let p = payloads(&replay, Some(&json!(3)));
    assert_eq!(
        p.last().unwrap()["statusUpdate"]["status"]["state"],
        "TASK_STATE_COMPLETED"
    );
    s.stop().await;
}

#[tokio::test]
async fn idle_streams_get_keep_alive_comments() {
    let mut setup = Setup::default();
    setup.config.sse_keep_alive = Duration::from_millis(100);
    let s = start(setup).await;
    let id = s.start_sleeper("echo").await;
    let mut st = s
        .open(s.rest_request(
            Method::GET,
            &s.url(&format!("/agents/echo/tasks/{id}:subscribe")),
            None,
        ))
        .await
        .stream();
    assert!(st.next().await.is_some(), "snapshot");
    assert!(
        st.next_within(Duration::from_millis(450)).await.is_none(),
        "no events while idle"
    );
    assert!(st.comments >= 2, "keep-alive comments: {}", st.comments);
    drop(st);
    s.stop().await;
}

#[tokio::test]
async fn a_dropped_stream_does_not_disturb_the_task() {
    let s = start(Setup::default()).await;
    let id = s.start_sleeper("echo").await;
    for _ in 0..3 {
        let mut st = s
            .open(s.rest_request(
                Method::GET,
                &s.url(&format!("/agents/echo/tasks/{id}:subscribe")),
                None,
            ))
            .await
            .stream();
        assert!(st.next().await.is_some());
        drop(st);
    }
    // A live subscriber sees the cancel, and the stream closes after it.
    let st = s
        .open(s.rest_request(
            Method::GET,
            &s.url(&format!("/agents/echo/tasks/{id}:subscribe")),
            None,
        ))
        .await
        .stream();
    let collector = tokio::spawn(st.collect());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = s.rpc("echo", "CancelTask", json!({"id": id})).await;
    assert_eq!(
        state_of(&r.body["result"]),
        "TASK_STATE_CANCELED",
        "{}",
        r.text
    );
    let events = collector.await.unwrap();
    let p = payloads(&events, None);
    assert_task_stream(&events, &p, "TASK_STATE_CANCELED");
    s.stop().await;
}

#[tokio::test]
async fn push_config_operations_are_not_supported_when_push_is_off() {
    let s = start(Setup::without_push()).await;
    let res = s.send_text("echo", "input", Value::Null).await;
    let id = res["task"]["id"].as_str().unwrap().to_string();
    for (method, params) in [
        (
            "CreateTaskPushNotificationConfig",
            json!({"taskId": id, "url": "https://example.com/hook"}),
        ),
        (
            "GetTaskPushNotificationConfig",
            json!({"taskId": id, "id": "c1"}),
        ),
        ("ListTaskPushNotificationConfigs", json!({"taskId": id})),
        (
            "DeleteTaskPushNotificationConfig",
            json!({"taskId": id, "id": "c1"}),
        ),
    ] {
        let r = s.rpc("echo", method, params).await;
        assert_rpc_error(&r, 200, -32003, "PUSH_NOTIFICATION_NOT_SUPPORTED", json!(1));
    }
    let base = s.url(&format!("/agents/echo/tasks/{id}/pushNotificationConfigs"));
    for (m, url, body) in [
        (
            Method::POST,
            base.clone(),
            Some(json!({"url": "https://example.com/hook"})),
        ),
        (Method::GET, base.clone(), None),
        (Method::GET, format!("{base}/c1"), None),
        (Method::DELETE, format!("{base}/c1"), None),
    ] {
        let r = s.rest(m, &url, body).await;
        assert_rest_error(
            &r,
            400,
            "FAILED_PRECONDITION",
            "PUSH_NOTIFICATION_NOT_SUPPORTED",
        );
    }
    s.stop().await;
}
