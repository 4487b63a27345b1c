//! The embedding example serves its own routes and a working A2A agent
//! side by side, over real HTTP.

use serde_json::{Value, json};

async fn start() -> String {
    let (app, _manager) = embed::app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn own_routes_and_agents_live_side_by_side() {
    let base = start().await;
    let client = reqwest::Client::new();
    let status = client
        .get(format!("{base}/api/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(status.text().await.unwrap(), "ok");

    let card: Value = client
        .get(format!(
            "{base}/a2a/agents/word-count/.well-known/agent-card.json"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(card["name"], "word-count");
    let url = card["supportedInterfaces"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with(&format!("{base}/a2a/agents/word-count")),
        "{url}"
    );

    let reply: Value = client
        .post(format!("{base}/a2a/agents/word-count"))
        .header("A2A-Version", "1.0")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "SendMessage",
            "params": {"message": {"messageId": "m1", "role": "ROLE_USER",
                                    "parts": [{"text": "one two three"}]}}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let task = &reply["result"]["task"];
    assert_eq!(task["status"]["state"], "TASK_STATE_COMPLETED", "{reply}");
    assert_eq!(task["status"]["message"]["parts"][0]["text"], "3 words");
}
