//! Run the embedding example: `cargo xtask agents && cargo run -p embed` and
//! open <http://127.0.0.1:3000/a2a/agents/word-count/.well-known/agent-card.json>.
//! `EMBED_AGENTS` names the folder of WebAssembly agents (default
//! `target/agents`), `EMBED_LISTEN` the address. Ctrl-C drains the running
//! tasks before the process exits.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .init();
    let agents = std::env::var("EMBED_AGENTS").unwrap_or_else(|_| "target/agents".into());
    let (app, host) = embed::app(agents.as_ref()).await?;
    let addr = std::env::var("EMBED_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    host.serve_app(listener, app, ctrl_c).await?;
    Ok(())
}
