//! The embedding example over real HTTP: the service's own routes, the
//! native agent, a WebAssembly agent from the folder, the layer, and a
//! graceful drain.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::oneshot;

/// A folder with the `echo` and `countdown` example components (built by
/// `cargo xtask agents` when missing), countdown ticking every 100 ms.
fn agents_folder() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let built = root.join("target/agents");
    if !built.join("countdown.wasm").is_file() {
        let status = Command::new(env!("CARGO"))
            .current_dir(&root)
            .args(["xtask", "agents"])
            .status()
            .expect("cargo xtask agents runs");
        assert!(status.success(), "cargo xtask agents failed");
    }
    let dir = tempfile::tempdir().unwrap();
    for name in ["echo", "countdown"] {
        let file = format!("{name}.wasm");
        std::fs::copy(built.join(&file), dir.path().join(&file)).unwrap();
    }
    std::fs::write(
        dir.path().join("countdown.toml"),
        "[config]\ntick_ms = \"100\"\n",
    )
    .unwrap();
    dir
}

struct Running {
    base: String,
    host: a2a_host::Host,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    _agents: tempfile::TempDir,
}

async fn start() -> Running {
    let agents = agents_folder();
    let (app, host) = embed::app(agents.path()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = host.clone();
    let served = tokio::spawn(async move {
        let signal = async move {
            let _ = stopped.await;
        };
        server.serve_app(listener, app, signal).await
    });
    Running {
        base,
        host,
        stop,
        served,
        _agents: agents,
    }
}

async fn send(base: &str, agent: &str, text: &str, return_immediately: bool) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/a2a/agents/{agent}"))
        .header("A2A-Version", "1.0")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "SendMessage",
            "params": {
                "message": {"messageId": format!("m-{text}"), "role": "ROLE_USER",
                            "parts": [{"text": text}]},
                "configuration": {"returnImmediately": return_immediately}
            }
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn own_routes_native_and_wasm_agents_live_side_by_side() {
    let running = start().await;
    let base = &running.base;
    let client = reqwest::Client::new();

    let status = client
        .get(format!("{base}/api/status"))
        .send()
        .await
        .unwrap();
    assert!(
        status.headers().get("x-served-by").is_none(),
        "the layer is on the A2A routes only"
    );
    assert_eq!(status.text().await.unwrap(), "ok");

    let card = client
        .get(format!(
            "{base}/a2a/agents/word-count/.well-known/agent-card.json"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(card.headers()["x-served-by"], "embed-example");
    let card: Value = card.json().await.unwrap();
    assert_eq!(card["name"], "word-count");
    let url = card["supportedInterfaces"][0]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{base}/a2a/agents/word-count")),
        "{url}"
    );

    let reply = send(base, "word-count", "one two three", false).await;
    let task = &reply["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{reply}");
    assert_eq!(task["status"]["message"]["parts"][0]["text"], "3 words");

    let reply = send(base, "echo", "hello from the folder", false).await;
    let text = reply.to_string();
    assert!(text.contains("hello from the folder"), "{reply}");
    assert!(!text.contains("\"error\""), "{reply}");

    let probe = client
        .get(format!("{base}/a2a/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 200);
    assert!(probe.headers().get("x-served-by").is_none());
}

#[tokio::test]
async fn shutdown_drains_running_tasks() {
    let running = start().await;
    // Five ticks of 100 ms: still running when the shutdown starts.
    let reply = send(&running.base, "countdown", "5", true).await;
    let id = reply["result"]["task"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{reply}"))
        .to_string();
    running.stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running.served)
        .await
        .expect("the server stops after the drain")
        .unwrap()
        .unwrap();
    assert!(!running.host.handle().is_ready());
    let task = running
        .host
        .manager()
        .get_task(
            "countdown",
            a2a_host::model::GetTaskRequest {
                id,
                history_length: None,
                tenant: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        task.status.state,
        a2a_host::model::TaskState::Completed,
        "the drain let the running task finish"
    );
}
