//! The `a2a-host` command: serve an agents folder, call an agent, scaffold a
//! new agent, inspect a component; and for push notifications, receive
//! them and make signing keys.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use a2a_host::Host;
use a2a_host::config::{HostConfig, ServeArgs};

/// mimalloc, not the system allocator: a task allocates many small,
/// short-lived objects on one thread and frees them on another, which
/// glibc's malloc handles slowly (bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "a2a-host",
    version,
    about = "Serve A2A agents written as WebAssembly components"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every agent in a folder over A2A (JSON-RPC, HTTP+JSON, SSE).
    Serve(Box<ServeArgs>),
    /// Send a message to an agent and print the answer (`--stream` prints it
    /// as it arrives).
    #[cfg(feature = "client")]
    Call(a2a_host::client::CallArgs),
    /// Receive push notifications and print one line each, checking their
    /// token and signature (for trying webhooks out).
    #[cfg(feature = "client")]
    Webhook(a2a_host::client::WebhookArgs),
    /// Write a new push notification signing key (PKCS#8 PEM, readable by
    /// the owner only).
    #[cfg(feature = "push")]
    PushKeygen {
        /// The file to create (an existing file is not overwritten).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// An Ed25519 key, signing as EdDSA (the default).
        #[arg(long, conflicts_with = "p256")]
        ed25519: bool,
        /// A P-256 key, signing as ES256 (for receivers without EdDSA).
        #[arg(long)]
        p256: bool,
    },
    /// Look after push notifications in a store: pending counts, dead
    /// letters, requeueing them.
    Push(a2a_host::push::PushCommand),
    /// Create a new agent project that builds as is.
    New {
        /// The agent's name (letters, digits, `-` and `_`).
        name: String,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        path: Option<PathBuf>,
    },
    /// Show the card, imports and exports of a component, or why it is not
    /// a valid agent.
    Inspect {
        /// The `.wasm` file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    no_transparent_huge_pages();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            #[cfg(feature = "client")]
            Command::Call(args) => a2a_host::client::run_call(args).await,
            #[cfg(feature = "client")]
            Command::Webhook(args) => a2a_host::client::run_webhook(args).await,
            #[cfg(feature = "push")]
            Command::PushKeygen { out, p256, .. } => push_keygen(&out, p256),
            Command::Push(cmd) => a2a_host::push::run_push(cmd).await,
            Command::New { name, path } => a2a_host::scaffold::new_agent(&name, path.as_deref()),
            Command::Inspect { file } => inspect(file).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Turns transparent huge pages off for this process, unless the operator
/// set `MIMALLOC_ALLOW_THP` (mimalloc's own switch; `1` keeps them).
///
/// mimalloc asks for huge pages on its heap segments. A memory store grows
/// by a few KiB per task, so every few hundred tasks a page fault zeroes a
/// whole 2 MiB page, which in a VM can stall every request in flight
/// (bench/README.md, "No transparent huge pages"). Wasm linear memories
/// gain nothing either: a guest touches a few pages.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none()
        && let Err(e) = rustix::thread::disable_transparent_huge_pages(true)
    {
        tracing::debug!(error = %e, "could not turn transparent huge pages off");
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("A2A_HOST_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,wasmtime=warn,cranelift=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let config = HostConfig::resolve(args)?;
    let host = Host::builder()
        .config(&config)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listen address: {e}"))?;
    tracing::info!(
        url = %format!("http://{local}"),
        agents = ?host.registry().names(),
        "serving"
    );
    host.serve(listener, wait_for_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(feature = "push")]
fn push_keygen(out: &std::path::Path, p256: bool) -> Result<(), String> {
    use a2a_host::push::signing::{KeyKind, PushSigner};
    let kind = if p256 {
        KeyKind::P256
    } else {
        KeyKind::Ed25519
    };
    let kid = PushSigner::generate(kind, out)?;
    println!(
        "wrote {} ({kind}, {}, key id {kid})",
        out.display(),
        kind.algorithm()
    );
    Ok(())
}

async fn inspect(file: PathBuf) -> Result<(), String> {
    let report = a2a_host::runtime::inspect(&file).await?;
    println!("{report}");
    if report.is_valid() {
        Ok(())
    } else {
        Err(format!("{} is not a valid agent", file.display()))
    }
}
