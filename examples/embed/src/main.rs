//! Run the embedding example: `cargo run -p embed` and open
//! <http://127.0.0.1:3000/a2a/agents/word-count/.well-known/agent-card.json>.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .init();
    let (app, _manager) = embed::app();
    let addr = std::env::var("EMBED_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
