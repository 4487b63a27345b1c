//! Push notifications end to end: configs over every binding, delivery to
//! real local receivers (in order, with their headers, through failures,
//! beside a hanging receiver), the SSRF guard at creation and at dispatch,
//! and signed notifications.

use std::time::Duration;

use a2a_host::Host;
use a2a_host::model::TaskPushNotificationConfig;
use a2a_host::push::PushSettings;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::agents::TestAgent;
use crate::support::eventually;
use crate::support::http::{state, user_message};
use crate::support::server::{TestServer, start_host};
use crate::support::webhook::{
    Behaviour, Webhook, complete_without_gaps, send_completed, wait_complete,
};

const WAIT: Duration = Duration::from_secs(20);

/// Settings for local receivers, with quick retries.
fn local() -> PushSettings {
    PushSettings {
        allow_private: true,
        timeout: Duration::from_secs(2),
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        poll_interval: Duration::from_millis(100),
        ..Default::default()
    }
}

async fn serve(push: PushSettings) -> (Host, TestServer) {
    let host = Host::builder()
        .blocking_timeout(Duration::from_secs(20))
        .shared_agent("echo", TestAgent::arc("echo"))
        .push(push)
        .build()
        .await
        .expect("host");
    let server = start_host(&host).await;
    (host, server)
}

/// A completed task's id.
async fn finished_task(s: &TestServer) -> String {
    let done = s.send_text("echo", "hello", Value::Null).await;
    done["task"]["id"].as_str().unwrap().to_string()
}

/// `capabilities.pushNotifications` of the echo agent's card.
async fn push_capability(s: &TestServer) -> Value {
    let card = s
        .send(
            s.client
                .get(s.url("/agents/echo/.well-known/agent-card.json")),
        )
        .await
        .body;
    card["capabilities"]["pushNotifications"].clone()
}

fn inline(url: &str) -> Value {
    json!({"taskPushNotificationConfig": {
        "url": url,
        "token": "tok-1",
        "authentication": {"scheme": "Bearer", "credentials": "secret-1"}
    }})
}

#[tokio::test]
async fn configs_round_trip_on_every_binding_and_the_card_says_so() {
    let (_host, s) = serve(local()).await;
    assert_eq!(push_capability(&s).await, true);
    let task = finished_task(&s).await;

    // JSON-RPC 1.0.
    let r = s
        .rpc(
            "echo",
            "CreateTaskPushNotificationConfig",
            json!({"taskId": task, "url": "https://93.184.216.34/a", "token": "t"}),
        )
        .await;
    let created = &r.body["result"];
    let id = created["id"].as_str().expect("an id").to_string();
    assert_eq!(created["taskId"], task.as_str());
    assert_eq!(created["url"], "https://93.184.216.34/a");
    let r = s
        .rpc(
            "echo",
            "GetTaskPushNotificationConfig",
            json!({"taskId": task, "id": id}),
        )
        .await;
    assert_eq!(r.body["result"]["token"], "t", "{}", r.text);

    // HTTP+JSON: a second config, listed beside the first.
    let url = s.url(&format!(
        "/agents/echo/tasks/{task}/pushNotificationConfigs"
    ));
    let r = s
        .rest(
            Method::POST,
            &url,
            Some(json!({"id": "mine", "url": "https://93.184.216.34/b"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.rest(Method::GET, &url, None).await;
    let ids: Vec<&str> = r.body["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), "mine"]);
    // Pages of one.
    let r = s
        .rpc(
            "echo",
            "ListTaskPushNotificationConfigs",
            json!({"taskId": task, "pageSize": 1}),
        )
        .await;
    assert_eq!(r.body["result"]["configs"].as_array().unwrap().len(), 1);
    let token = r.body["result"]["nextPageToken"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .rpc(
            "echo",
            "ListTaskPushNotificationConfigs",
            json!({"taskId": task, "pageSize": 1, "pageToken": token}),
        )
        .await;
    assert_eq!(r.body["result"]["configs"][0]["id"], "mine");
    assert_eq!(r.body["result"]["nextPageToken"], "");
    for (params, field) in [
        (json!({"taskId": task, "pageSize": -1}), "pageSize"),
        (
            json!({"taskId": task, "pageToken": "not-ours"}),
            "pageToken",
        ),
    ] {
        let r = s
            .rpc("echo", "ListTaskPushNotificationConfigs", params)
            .await;
        assert_eq!(r.rpc_code(), Some(-32602), "{}", r.text);
        assert_eq!(r.violated_field().as_deref(), Some(field), "{}", r.text);
    }

    // Delete is idempotent; a deleted config is not found.
    for _ in 0..2 {
        let r = s.rest(Method::DELETE, &format!("{url}/mine"), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = s.rest(Method::GET, &format!("{url}/mine"), None).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = s
        .rpc(
            "echo",
            "GetTaskPushNotificationConfig",
            json!({"taskId": task, "id": "mine"}),
        )
        .await;
    assert_eq!(r.rpc_code(), Some(-32001), "{}", r.text);

    // A2A 0.3 names and nested shapes.
    let r = s
        .send(
            s.client
                .post(s.agent("echo"))
                .header("A2A-Version", "0.3")
                .json(&json!({"jsonrpc": "2.0", "id": 3, "method": "tasks/pushNotificationConfig/set",
                    "params": {"taskId": task, "pushNotificationConfig": {"id": "old", "url": "https://93.184.216.34/c"}}})),
        )
        .await;
    assert_eq!(
        r.body["result"]["pushNotificationConfig"]["id"], "old",
        "{}",
        r.text
    );
    let r = s
        .send(
            s.client
                .post(s.agent("echo"))
                .header("A2A-Version", "0.3")
                .json(&json!({"jsonrpc": "2.0", "id": 4, "method": "tasks/pushNotificationConfig/list",
                    "params": {"id": task}})),
        )
        .await;
    assert_eq!(r.body["result"].as_array().unwrap().len(), 2, "{}", r.text);
}

#[tokio::test]
async fn bad_configs_are_refused_clearly_and_nothing_is_stored() {
    let settings = PushSettings {
        max_configs_per_task: 2,
        ..Default::default()
    };
    let (_host, s) = serve(settings).await;
    let task = finished_task(&s).await;
    let create = |config: Value| {
        let mut params = config;
        params["taskId"] = json!(task);
        s.rpc("echo", "CreateTaskPushNotificationConfig", params)
    };
    for (config, field, needle) in [
        (json!({"url": "/relative"}), "url", "not an absolute URL"),
        (
            json!({"url": "http://93.184.216.34/x"}),
            "url",
            "plain http://",
        ),
        (json!({"url": "https://127.0.0.1:9/x"}), "url", "Loopback"),
        (
            json!({"url": "https://localhost/x"}),
            "url",
            "webhook refused",
        ),
        (
            json!({"url": "https://hooks.localhost/x"}),
            "url",
            "webhook refused",
        ),
        (
            json!({"url": "https://169.254.169.254/x"}),
            "url",
            "metadata",
        ),
        (
            json!({"url": "https://[::ffff:0:a00:1]/x"}),
            "url",
            "webhook refused",
        ),
        (json!({"url": "http://::1:8080/x"}), "url", "brackets"),
        (
            json!({"url": "https://93.184.216.34/x", "token": "a\r\nX-Evil: 1"}),
            "token",
            "CR or LF",
        ),
        (
            json!({"url": "https://93.184.216.34/x", "authentication": {"scheme": "Bearer", "credentials": "a\nb"}}),
            "authentication.credentials",
            "CR or LF",
        ),
    ] {
        let r = create(config.clone()).await;
        assert_eq!(r.rpc_code(), Some(-32602), "{config}: {}", r.text);
        assert_eq!(
            r.violated_field().as_deref(),
            Some(field),
            "{config}: {}",
            r.text
        );
        assert!(r.text.contains(needle), "{config}: {}", r.text);
    }
    // The same refusal on HTTP+JSON is a 400.
    let url = s.url(&format!(
        "/agents/echo/tasks/{task}/pushNotificationConfigs"
    ));
    let r = s
        .rest(
            Method::POST,
            &url,
            Some(json!({"url": "https://10.0.0.1/x"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    // Nothing of that was stored.
    let r = s.rest(Method::GET, &url, None).await;
    assert_eq!(r.body["configs"], json!([]), "{}", r.text);

    // The per-task limit; replacing an existing id still works.
    for id in ["a", "b"] {
        let r = create(json!({"id": id, "url": "https://93.184.216.34/x"})).await;
        assert!(r.body.get("result").is_some(), "{}", r.text);
    }
    let r = create(json!({"id": "c", "url": "https://93.184.216.34/x"})).await;
    assert_eq!(r.rpc_code(), Some(-32602), "{}", r.text);
    assert!(r.text.contains("already has 2 push configs"), "{}", r.text);
    let r = create(json!({"id": "b", "url": "https://93.184.216.34/y"})).await;
    assert_eq!(
        r.body["result"]["url"], "https://93.184.216.34/y",
        "{}",
        r.text
    );

    // An unknown task is -32001 / 404.
    let r = s
        .rpc(
            "echo",
            "CreateTaskPushNotificationConfig",
            json!({"taskId": "no-such-task", "url": "https://93.184.216.34/x"}),
        )
        .await;
    assert_eq!(r.rpc_code(), Some(-32001), "{}", r.text);
    let r = s
        .rest(
            Method::POST,
            &s.url("/agents/echo/tasks/no-such-task/pushNotificationConfigs"),
            Some(json!({"url": "https://93.184.216.34/x"})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);

    // An inline config with a bad URL refuses the message: no task is made.
    let r = s
        .rpc(
            "echo",
            "SendMessage",
            json!({"message": user_message("hi"), "configuration": inline("https://127.0.0.1/x")}),
        )
        .await;
    assert_eq!(r.rpc_code(), Some(-32602), "{}", r.text);
    assert_eq!(
        r.violated_field().as_deref(),
        Some("configuration.taskPushNotificationConfig.url")
    );
    let r = s.rpc("echo", "ListTasks", json!({})).await;
    assert_eq!(r.body["result"]["totalSize"], 1, "{}", r.text);
}

#[tokio::test]
async fn push_can_be_turned_off() {
    let settings = PushSettings {
        enabled: false,
        ..Default::default()
    };
    let (_host, s) = serve(settings).await;
    assert_eq!(push_capability(&s).await, false);
    let task = finished_task(&s).await;
    let r = s
        .rpc(
            "echo",
            "CreateTaskPushNotificationConfig",
            json!({"taskId": task, "url": "https://93.184.216.34/x"}),
        )
        .await;
    assert_eq!(r.rpc_code(), Some(-32003), "{}", r.text);
}

#[tokio::test]
async fn every_event_arrives_in_order_with_its_headers() {
    let hook = Webhook::ok().await;
    let (_host, s) = serve(local()).await;
    let done = s.send_text("echo", "stream 3", inline(&hook.url)).await;
    let task = done["task"]["id"].as_str().unwrap().to_string();
    assert_eq!(state(&done["task"]), "TASK_STATE_COMPLETED");

    // Compare with the task's own event log, as a stream replays it.
    let got = eventually_complete(&hook, &task).await;
    let mut last_seq = 0;
    for r in &got {
        assert!(r.seq() > last_seq, "out of order: {:?}", ids(&got));
        last_seq = r.seq();
        assert_eq!(
            r.header("authorization").as_deref(),
            Some("Bearer secret-1")
        );
        assert_eq!(
            r.header("x-a2a-notification-token").as_deref(),
            Some("tok-1")
        );
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json")
        );
        let body = r.json();
        let kinds: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(kinds.len(), 1, "a StreamResponse holds one event: {body}");
    }
    let kinds: Vec<String> = got
        .iter()
        .map(|r| r.json().as_object().unwrap().keys().next().unwrap().clone())
        .collect();
    assert_eq!(kinds[0], "task", "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| *k == "artifactUpdate").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(complete_without_gaps(&got), got.len());
    // Nothing is delivered twice to a receiver that answered.
    assert_eq!(hook.received().len(), got.len());
}

/// Waits until the receiver has a terminal notification for `task`.
async fn eventually_complete(hook: &Webhook, task: &str) -> Vec<crate::support::webhook::Received> {
    eventually(WAIT, "the final notification", async || {
        hook.accepted().iter().any(|r| {
            r.task() == task
                && r.json()["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
        })
    })
    .await;
    hook.accepted()
        .into_iter()
        .filter(|r| r.task() == task)
        .collect()
}

fn ids(got: &[crate::support::webhook::Received]) -> Vec<String> {
    got.iter().map(|r| r.id()).collect()
}

#[tokio::test]
async fn a_misbehaving_receiver_is_retried_until_it_has_everything() {
    let hook = Webhook::start(
        vec![
            Behaviour::Status(500),
            Behaviour::TooMany,
            Behaviour::Redirect,
            Behaviour::Status(503),
            Behaviour::HugeBody,
            Behaviour::Status(500),
        ],
        Behaviour::Ok,
    )
    .await;
    let (_host, s) = serve(local()).await;
    let done = s.send_text("echo", "stream 2", inline(&hook.url)).await;
    let task = done["task"]["id"].as_str().unwrap().to_string();
    let got = eventually_complete(&hook, &task).await;
    let distinct = complete_without_gaps(&got);
    // Every refused attempt was tried again with the same id.
    let received = hook.received();
    assert!(received.len() >= distinct + 5, "{:?}", ids(&received));
    let first = &received[0];
    assert!(
        received[1..]
            .iter()
            .any(|r| r.id() == first.id() && r.accepted),
        "the first notification was not retried: {:?}",
        ids(&received)
    );
    // The 429 asked for a second: the retry after it waited that long.
    assert!(
        received
            .windows(2)
            .all(|w| w[0].id() <= w[1].id() || w[0].task() != w[1].task())
    );
}

#[tokio::test]
async fn a_hanging_receiver_delays_neither_the_task_nor_another_receiver() {
    let hanging = Webhook::start(Vec::new(), Behaviour::Hang).await;
    let good = Webhook::ok().await;
    let mut settings = local();
    settings.timeout = Duration::from_secs(30);
    let (_host, s) = serve(settings).await;
    let started = std::time::Instant::now();
    // The hanging receiver is on the task from its first event.
    let done = s.send_text("echo", "input", inline(&hanging.url)).await;
    let task = done["task"]["id"].as_str().unwrap().to_string();
    assert_eq!(state(&done["task"]), "TASK_STATE_INPUT_REQUIRED");
    let r = s
        .rpc(
            "echo",
            "CreateTaskPushNotificationConfig",
            json!({"taskId": task, "id": "good", "url": good.url}),
        )
        .await;
    assert!(r.body.get("result").is_some(), "{}", r.text);
    let mut msg = user_message("stream 2");
    msg["taskId"] = json!(task);
    let r = s.rpc("echo", "SendMessage", json!({"message": msg})).await;
    assert_eq!(
        state(&r.body["result"]["task"]),
        "TASK_STATE_COMPLETED",
        "{}",
        r.text
    );
    let got = eventually_complete(&good, &task).await;
    assert!(got.len() >= 5, "{:?}", ids(&got));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the good receiver waited for the hanging one: {:?}",
        started.elapsed()
    );
    // The hanging receiver has had its first notification only: its queue
    // waits for it, in order.
    assert_eq!(
        hanging.received().len(),
        1,
        "{:?}",
        ids(&hanging.received())
    );
}

#[tokio::test]
async fn a_destination_refused_at_dispatch_is_dead_lettered_not_sent() {
    let hook = Webhook::ok().await;
    // No private addresses here; the config was stored as an older policy
    // allowed it (straight into the store).
    let settings = PushSettings {
        allow_http: true,
        poll_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let (host, s) = serve(settings).await;
    let done = s.send_text("echo", "input", Value::Null).await;
    let task = done["task"]["id"].as_str().unwrap().to_string();
    host.store()
        .put_push_config(&TaskPushNotificationConfig {
            id: Some("old".into()),
            task_id: Some(task.clone()),
            url: hook.url.replace("127.0.0.1", "localhost"),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msg = user_message("done");
    msg["taskId"] = json!(task);
    s.rpc("echo", "SendMessage", json!({"message": msg})).await;
    eventually(WAIT, "a dead letter", async || {
        let r = s.send(s.client.get(s.url("/agents"))).await;
        r.body["agents"][0]["pushDead"].as_u64() >= Some(1)
    })
    .await;
    let dead = host
        .store()
        .dead_pushes(&a2a_host::store::DeadPushQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(dead[0].error.contains("webhook refused"), "{dead:?}");
    assert!(dead[0].error.contains("127.0.0.1"), "{dead:?}");
    assert!(hook.received().is_empty());
}

#[tokio::test]
async fn signed_notifications_verify_and_a_tampered_body_does_not() {
    use a2a_host::client::{VerifyError, fetch_jwks, verify_notification};
    use a2a_host::push::signing::{KeyKind, PushSigner};

    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.pem");
    let new = dir.path().join("new.pem");
    PushSigner::generate(KeyKind::P256, &new).unwrap();
    PushSigner::generate(KeyKind::Ed25519, &old).unwrap();
    let hook = Webhook::ok().await;
    let mut settings = local();
    settings.signing_keys = vec![new, old];
    let (_host, s) = serve(settings).await;

    // Both keys are published; the first signs.
    let jwks = fetch_jwks(&s.base).await.expect("the JWK Set");
    assert_eq!(jwks.key_ids().count(), 2);

    let done = s.send_text("echo", "artifact", inline(&hook.url)).await;
    let task = done["task"]["id"].as_str().unwrap().to_string();
    let got = eventually_complete(&hook, &task).await;
    let now = std::time::SystemTime::now();
    for r in &got {
        let v = verify_notification(&r.headers, &r.body, &jwks, now)
            .unwrap_or_else(|e| panic!("{} does not verify: {e}", r.id()));
        assert_eq!(v.task_id, task);
        assert_eq!(v.event_id, r.id());
    }
    let r = &got[0];
    let mut tampered = r.body.to_vec();
    let at = tampered.iter().position(|b| *b == b'W').unwrap_or(2);
    tampered[at] ^= 0x20;
    assert_eq!(
        verify_notification(&r.headers, &tampered, &jwks, now).unwrap_err(),
        VerifyError::BodyMismatch
    );
    // A notification with another's id header is refused too.
    let mut headers = r.headers.clone();
    headers.insert("x-a2a-notification-id", got[1].id().parse().unwrap());
    assert!(matches!(
        verify_notification(&headers, &r.body, &jwks, now),
        Err(VerifyError::IdMismatch { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_pending_at_a_sigkill_arrive_after_the_restart() {
    use crate::support::guests::fill_agents_folder;
    use crate::support::process::{Serve, a2a_host};

    let dir = tempfile::tempdir().unwrap();
    let agents = dir.path().join("agents");
    fill_agents_folder(
        &agents,
        &["countdown"],
        &[("countdown", "[config]\ntick_ms = \"20\"\n")],
    );
    let db = dir.path().join("host.db");
    let serve = || {
        let mut cmd = a2a_host();
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--agents")
            .arg(&agents)
            .arg("--store")
            .arg(format!("sqlite:{}", db.display()))
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(["--push-allow-private", "--push-timeout-secs", "1"]);
        Serve::start(cmd)
    };
    // The receiver is down at first: every notification stays queued.
    let hook = Webhook::start(Vec::new(), Behaviour::Status(503)).await;
    let mut host = serve();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let message = json!({"messageId": format!("m{i}"), "role": "ROLE_USER",
                             "parts": [{"text": "3"}]});
        tasks.push(send_completed(&host.base, "countdown", message, &hook).await);
    }
    eventually(WAIT, "failed attempts", async || hook.received().len() >= 4).await;
    host.kill();
    assert!(hook.accepted().is_empty());

    hook.set(Behaviour::Ok);
    let _host = serve();
    let distinct = wait_complete(&hook, &tasks, Duration::from_secs(60)).await;
    assert!(distinct >= 4 * 5, "{distinct}: {:?}", ids(&hook.accepted()));
}

/// A raw receiver: each connection gets `answer` (after reading the
/// request head) and is reset; with `drip`, `answer` is followed by a body
/// a byte at a time instead, for as long as the connection stays open.
async fn raw_receiver(answer: &'static [u8], drip: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                if drip {
                    // A status line, then a body a byte at a time, forever.
                    let _ = conn.write_all(answer).await;
                    loop {
                        if conn.write_all(b"x").await.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                let _ = conn.set_zero_linger();
                drop(conn);
            });
        }
    });
    format!("http://{addr}/hook")
}

#[tokio::test]
async fn resets_and_dripping_bodies_are_retried_then_dead_lettered() {
    let reset = raw_receiver(b"", false).await;
    let drip = raw_receiver(b"HTTP/1.1 500 Oops\r\ncontent-length: 100000\r\n\r\n", true).await;
    let good = Webhook::ok().await;
    let mut settings = local();
    settings.max_attempts = 2;
    settings.timeout = Duration::from_secs(1);
    let (host, s) = serve(settings).await;
    let done = s.send_text("echo", "input", inline(&reset)).await;
    let task = done["task"]["id"].as_str().unwrap().to_string();
    for (id, url) in [("drip", &drip), ("good", &good.url)] {
        let r = s
            .rpc(
                "echo",
                "CreateTaskPushNotificationConfig",
                json!({"taskId": task, "id": id, "url": url}),
            )
            .await;
        assert!(r.body.get("result").is_some(), "{}", r.text);
    }
    let mut msg = user_message("done");
    msg["taskId"] = json!(task);
    s.rpc("echo", "SendMessage", json!({"message": msg})).await;
    // The good receiver has everything while the others fail.
    eventually_complete(&good, &task).await;
    eventually(WAIT, "dead letters of both bad receivers", async || {
        let dead = host
            .store()
            .dead_pushes(&a2a_host::store::DeadPushQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        dead.iter().any(|d| d.key.config_id == "drip")
            && dead.iter().filter(|d| d.key.config_id != "drip").count() >= 2
    })
    .await;
    let dead = host
        .store()
        .dead_pushes(&a2a_host::store::DeadPushQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    for d in &dead {
        assert_eq!(d.attempts, 2, "{d:?}");
        if d.key.config_id == "drip" {
            assert!(
                d.error.contains("timed out") || d.error.contains("500"),
                "{d:?}"
            );
        } else {
            assert!(
                d.error.contains("failed") || d.error.contains("connect"),
                "{d:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_push_command_lists_and_requeues_dead_letters() {
    use crate::support::process::a2a_host;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("host.db").display());
    let hook = Webhook::ok().await;
    let host = Host::builder()
        .store(store.as_str())
        .shared_agent("echo", TestAgent::arc("echo"))
        .push(PushSettings {
            allow_http: true,
            poll_interval: Duration::from_millis(100),
            ..Default::default()
        })
        .build()
        .await
        .unwrap();
    let s = start_host(&host).await;
    let done = s.send_text("echo", "input", Value::Null).await;
    let task = done["task"]["id"].as_str().unwrap().to_string();
    host.store()
        .put_push_config(&TaskPushNotificationConfig {
            id: Some("c".into()),
            task_id: Some(task.clone()),
            url: hook.url.replace("127.0.0.1", "localhost"),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msg = user_message("done");
    msg["taskId"] = json!(task);
    s.rpc("echo", "SendMessage", json!({"message": msg})).await;
    eventually(WAIT, "a dead letter", async || {
        host.store()
            .push_counts()
            .await
            .unwrap()
            .iter()
            .any(|c| c.dead >= 2)
    })
    .await;
    s.stop().await;
    host.shutdown(Duration::from_secs(1)).await;
    drop(host);

    let run = |args: &[&str]| {
        let out = a2a_host()
            .arg("push")
            .args(args)
            .args(["--store", &store])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let status = run(&["status"]);
    assert!(status.contains("echo"), "{status}");
    let dead = run(&["dead", "--task", &task]);
    assert!(dead.contains(&format!("{task}/c/")), "{dead}");
    assert!(dead.contains("webhook refused"), "{dead}");
    assert!(!dead.contains("?"), "{dead}");
    let n = dead.matches(&format!("{task}/c/")).count();
    assert!(n >= 2, "{dead}");
    let retried = run(&["retry", "--agent", "echo"]);
    assert!(
        retried.starts_with(&format!("{n} notification(s) requeued")),
        "{retried}"
    );
    let status = run(&["status"]);
    let row: Vec<&str> = status
        .lines()
        .find(|l| l.starts_with("echo"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(row, ["echo", &n.to_string(), "0"], "{status}");
    let none = run(&["dead"]);
    assert!(none.contains("no dead-lettered notifications"), "{none}");
}
