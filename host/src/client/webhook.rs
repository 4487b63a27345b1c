//! `a2a-host webhook --listen ADDR [--jwks URL_OR_PATH] [--token TOKEN]
//! [--fail-first N]`: a push notification receiver for trying webhooks out.
//!
//! It accepts a POST on any path and prints one line per notification:
//!
//! ```text
//! t1/cfg/3 task=t1 status-update working "thinking" token=ok sig=ok
//! t1/cfg/4 task=t1 artifact-update a1 last-chunk "the answer" token=ok sig=ok
//! t1/cfg/5 task=t1 status-update completed token=ok sig=ok -> 503 (fail-first 1/1)
//! ```
//!
//! - the notification id (`X-A2A-Notification-Id`), the task, the kind of
//!   event and its state or artifact, with a short text preview;
//! - with `--token`, whether `X-A2A-Notification-Token` matches it (the
//!   token itself is never printed);
//! - with `--jwks` (the host's URL, its JWK Set URL, or a saved JWK Set
//!   file), whether the signature verifies, `unsigned` without one;
//! - the answer when it is not 200: with `--fail-first N`, the first N
//!   notifications get a 503, to watch the sender retry.

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use super::cli::{Secret, state_word};
use super::notification::{Jwks, VerifyError, event_task_id, fetch_jwks, verify_notification};
use crate::model::StreamResponse;
use crate::model::notification::{
    NOTIFICATION_ID_HEADER, NOTIFICATION_SIGNATURE_HEADER, NOTIFICATION_TOKEN_HEADER,
};

/// Arguments of `a2a-host webhook`.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhookArgs {
    /// Where to listen, e.g. 127.0.0.1:9000 (port 0: any free port; the
    /// address is printed).
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Verify signatures with this JWK Set: the sending host's URL (its
    /// /.well-known/jwks.json is fetched), a JWK Set URL (….json), or a
    /// file.
    #[arg(long, value_name = "URL_OR_PATH")]
    pub jwks: Option<String>,
    /// Check that notifications carry this token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "A2A_WEBHOOK_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<Secret>,
    /// Answer the first N notifications with 503, to see the sender retry.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fail_first: u32,
}

impl WebhookArgs {
    /// Arguments for listening on `listen` with every option at its
    /// default.
    pub fn new(listen: SocketAddr) -> WebhookArgs {
        WebhookArgs {
            listen,
            jwks: None,
            token: None,
            fail_first: 0,
        }
    }
}

/// Whether a notification carried the expected token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    /// No `--token` was given.
    NotChecked,
    /// The token header matches.
    Matches,
    /// The token header holds another token.
    Differs,
    /// There is no token header.
    Missing,
}

/// What became of a notification's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    /// No `--jwks` was given; whether a signature header was present.
    NotChecked {
        /// Whether the notification had a signature header.
        signed: bool,
    },
    /// There is no signature header.
    Unsigned,
    /// The signature verifies with this key.
    Verified {
        /// The key that signed.
        key_id: String,
    },
    /// The signature does not check out.
    Failed(VerifyError),
}

/// One notification as the receiver saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    /// The path it was posted to.
    pub path: String,
    /// The `X-A2A-Notification-Id` header, or else the signed event id.
    pub notification_id: Option<String>,
    /// The task the event names (or else the one signed for).
    pub task_id: Option<String>,
    /// The event, or why the body is not one.
    pub event: Result<StreamResponse, String>,
    /// The token check.
    pub token: TokenCheck,
    /// The signature check.
    pub signature: SignatureCheck,
    /// The HTTP status the receiver answered with.
    pub status: u16,
    /// With `--fail-first N`: this was failure number `.0` of `.1`.
    pub failed_on_purpose: Option<(u32, u32)>,
}

impl fmt::Display for Received {
    /// The line `a2a-host webhook` prints (see the module docs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} task={}",
            self.notification_id.as_deref().unwrap_or("-"),
            self.task_id.as_deref().unwrap_or("-")
        )?;
        match &self.event {
            Ok(event) => write!(f, " {}", describe_event(event))?,
            Err(e) => write!(f, " invalid-body ({e})")?,
        }
        match self.token {
            TokenCheck::NotChecked => {}
            TokenCheck::Matches => f.write_str(" token=ok")?,
            TokenCheck::Differs => f.write_str(" token=MISMATCH")?,
            TokenCheck::Missing => f.write_str(" token=MISSING")?,
        }
        match &self.signature {
            SignatureCheck::NotChecked { signed: false } => {}
            SignatureCheck::NotChecked { signed: true } => f.write_str(" sig=unchecked")?,
            SignatureCheck::Unsigned => f.write_str(" sig=unsigned")?,
            SignatureCheck::Verified { .. } => f.write_str(" sig=ok")?,
            SignatureCheck::Failed(e) => write!(f, " sig=FAILED ({e})")?,
        }
        if self.status != 200 {
            write!(f, " -> {}", self.status)?;
            if let Some((n, of)) = self.failed_on_purpose {
                write!(f, " (fail-first {n}/{of})")?;
            }
        }
        Ok(())
    }
}

/// `KIND DETAIL`: `status-update working "text"`, `artifact-update ID
/// [append] [last-chunk] "text"`, `task STATE`, `message "text"`.
fn describe_event(event: &StreamResponse) -> String {
    match event {
        StreamResponse::StatusUpdate(s) => {
            let mut line = format!("status-update {}", state_word(s.status.state));
            if let Some(m) = &s.status.message {
                push_preview(&mut line, &m.text());
            }
            line
        }
        StreamResponse::ArtifactUpdate(a) => {
            let mut line = format!("artifact-update {}", a.artifact.artifact_id);
            if a.append {
                line.push_str(" append");
            }
            if a.last_chunk {
                line.push_str(" last-chunk");
            }
            let text: Vec<&str> = a
                .artifact
                .parts
                .iter()
                .filter_map(crate::model::Part::as_text)
                .collect();
            push_preview(&mut line, &text.join(" "));
            line
        }
        StreamResponse::Task(t) => format!("task {}", state_word(t.status.state)),
        StreamResponse::Message(m) => {
            let mut line = "message".to_string();
            push_preview(&mut line, &m.text());
            line
        }
    }
}

/// Appends ` "text"`, shortened to 40 characters on one line.
fn push_preview(line: &mut String, text: &str) {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return;
    }
    let mut short: String = flat.chars().take(40).collect();
    if short.len() < flat.len() {
        short.push('…');
    }
    line.push_str(&format!(" {short:?}"));
}

/// The most notifications a receiver remembers (the oldest are dropped).
const KEEP: usize = 1000;

/// Where the JWK Set comes from, for fetching it again when a notification
/// names a key it lacks.
struct KeySource {
    from: String,
    is_url: bool,
    current: Mutex<(Arc<Jwks>, Instant)>,
}

/// How often an unknown key may trigger a new fetch of the JWK Set.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

impl KeySource {
    async fn load(from: &str) -> Result<KeySource, String> {
        let is_url = from.starts_with("http://") || from.starts_with("https://");
        let jwks = fetch(from, is_url).await?;
        Ok(KeySource {
            from: from.to_string(),
            is_url,
            current: Mutex::new((Arc::new(jwks), Instant::now())),
        })
    }

    fn jwks(&self) -> Arc<Jwks> {
        self.current.lock().0.clone()
    }

    /// Reloads the set, unless it was loaded very recently (so that
    /// notifications under a bogus key cannot make the receiver fetch in a
    /// loop).
    async fn reload(&self) -> Option<Arc<Jwks>> {
        if self.current.lock().1.elapsed() < REFETCH_INTERVAL {
            return None;
        }
        // Marks the attempt first, so concurrent notifications wait for the
        // next interval instead of fetching too.
        self.current.lock().1 = Instant::now();
        match fetch(&self.from, self.is_url).await {
            Ok(jwks) => {
                let jwks = Arc::new(jwks);
                *self.current.lock() = (jwks.clone(), Instant::now());
                Some(jwks)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot reload the JWK Set");
                None
            }
        }
    }
}

async fn fetch(from: &str, is_url: bool) -> Result<Jwks, String> {
    if is_url {
        fetch_jwks(from).await.map_err(|e| e.to_string())
    } else {
        let path = PathBuf::from(from);
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("cannot read the JWK Set {}: {e}", path.display()))?;
        Jwks::from_json(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }
}

struct Shared {
    token: Option<Secret>,
    keys: Option<KeySource>,
    fail_first: u32,
    /// Notifications received so far.
    count: AtomicU32,
    received: Mutex<Vec<Received>>,
    out: Mutex<Box<dyn Write + Send>>,
}

/// The notifications a receiver has seen, readable while it runs.
#[derive(Clone)]
pub struct ReceivedLog(Arc<Shared>);

impl ReceivedLog {
    /// The notifications so far (the last 1000), oldest first.
    pub fn all(&self) -> Vec<Received> {
        self.0.received.lock().clone()
    }
}

impl fmt::Debug for ReceivedLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedLog")
            .field("received", &self.0.received.lock().len())
            .finish()
    }
}

/// A bound webhook receiver.
pub struct WebhookReceiver {
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
}

impl fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl WebhookReceiver {
    /// Loads the JWK Set (if `--jwks`) and binds `args.listen`. Each
    /// notification's line is written to `out`.
    pub async fn bind(
        args: &WebhookArgs,
        out: Box<dyn Write + Send>,
    ) -> Result<WebhookReceiver, String> {
        let keys = match &args.jwks {
            Some(from) => Some(KeySource::load(from).await?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        Ok(WebhookReceiver {
            listener,
            shared: Arc::new(Shared {
                token: args.token.clone(),
                keys,
                fail_first: args.fail_first,
                count: AtomicU32::new(0),
                received: Mutex::new(Vec::new()),
                out: Mutex::new(out),
            }),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, String> {
        self.listener
            .local_addr()
            .map_err(|e| format!("cannot read the listen address: {e}"))
    }

    /// The ids of the keys signatures are checked with (empty without
    /// `--jwks`).
    pub fn key_ids(&self) -> Vec<String> {
        self.shared.keys.as_ref().map_or_else(Vec::new, |k| {
            k.jwks().key_ids().map(str::to_string).collect()
        })
    }

    /// A handle on the notifications received.
    pub fn log(&self) -> ReceivedLog {
        ReceivedLog(self.shared.clone())
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), String> {
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(self.shared);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| format!("server error: {e}"))
    }
}

/// Runs `a2a-host webhook` until Ctrl-C, printing to stdout.
pub async fn run_webhook(args: WebhookArgs) -> Result<(), String> {
    let receiver = WebhookReceiver::bind(&args, Box::new(std::io::stdout())).await?;
    let addr = receiver.local_addr()?;
    let mut about = Vec::new();
    if let Some(from) = &args.jwks {
        about.push(format!(
            "verifying signatures with key(s) {} from {from}",
            receiver.key_ids().join(", ")
        ));
    }
    if args.token.is_some() {
        about.push("checking the token".into());
    }
    if args.fail_first > 0 {
        about.push(format!("answering 503 to the first {}", args.fail_first));
    }
    let about = if about.is_empty() {
        String::new()
    } else {
        format!("; {}", about.join("; "))
    };
    println!("listening on http://{addr} (POST any path){about}");
    receiver
        .serve(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "POST notifications here\n").into_response();
    }
    let received = inspect(&shared, uri.path(), &headers, &body).await;
    let status = StatusCode::from_u16(received.status).unwrap_or(StatusCode::OK);
    {
        let mut out = shared.out.lock();
        // A closed stdout must not fail the sender's request.
        let _ = writeln!(out, "{received}").and_then(|()| out.flush());
    }
    let mut log = shared.received.lock();
    if log.len() >= KEEP {
        log.remove(0);
    }
    log.push(received);
    status.into_response()
}

/// Checks one notification and decides the answer.
async fn inspect(shared: &Shared, path: &str, headers: &HeaderMap, body: &[u8]) -> Received {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
    };
    let token = match (&shared.token, header(NOTIFICATION_TOKEN_HEADER)) {
        (None, _) => TokenCheck::NotChecked,
        (Some(_), None) => TokenCheck::Missing,
        (Some(want), Some(got)) if constant_time_eq(want.expose(), &got) => TokenCheck::Matches,
        (Some(_), Some(_)) => TokenCheck::Differs,
    };
    let mut signed_ids = None;
    let signature = match &shared.keys {
        None => SignatureCheck::NotChecked {
            signed: headers.contains_key(NOTIFICATION_SIGNATURE_HEADER),
        },
        Some(keys) => {
            let now = SystemTime::now();
            let mut result = verify_notification(headers, body, &keys.jwks(), now);
            if matches!(result, Err(VerifyError::UnknownKey(_)))
                && let Some(jwks) = keys.reload().await
            {
                result = verify_notification(headers, body, &jwks, now);
            }
            match result {
                Ok(v) => {
                    signed_ids = Some((v.event_id, v.task_id));
                    SignatureCheck::Verified { key_id: v.key_id }
                }
                Err(VerifyError::Unsigned) => SignatureCheck::Unsigned,
                Err(e) => SignatureCheck::Failed(e),
            }
        }
    };
    let event = serde_json::from_slice::<StreamResponse>(body).map_err(|e| e.to_string());
    let (signed_event, signed_task) = signed_ids.unzip();
    let task_id = event
        .as_ref()
        .ok()
        .and_then(event_task_id)
        .map(str::to_string)
        .or(signed_task);
    let n = shared.count.fetch_add(1, Ordering::SeqCst) + 1;
    let failed_on_purpose = (n <= shared.fail_first).then_some((n, shared.fail_first));
    Received {
        path: path.to_string(),
        notification_id: header(NOTIFICATION_ID_HEADER).or(signed_event),
        task_id,
        event,
        token,
        signature,
        status: if failed_on_purpose.is_some() {
            503
        } else {
            200
        },
        failed_on_purpose,
    }
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell how much of a guessed token was right.
fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Artifact, Message, Part, TaskArtifactUpdateEvent, TaskState, TaskStatus,
        TaskStatusUpdateEvent,
    };

    fn status(state: TaskState, text: Option<&str>) -> StreamResponse {
        StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
            task_id: "t1".into(),
            context_id: "c".into(),
            status: TaskStatus::new(state, text.map(|t| Message::agent(vec![Part::text(t)]))),
            metadata: None,
        })
    }

    fn received(event: StreamResponse) -> Received {
        Received {
            path: "/".into(),
            notification_id: Some("t1/cfg/3".into()),
            task_id: Some("t1".into()),
            event: Ok(event),
            token: TokenCheck::NotChecked,
            signature: SignatureCheck::NotChecked { signed: false },
            status: 200,
            failed_on_purpose: None,
        }
    }

    #[test]
    fn lines_say_what_arrived_and_what_checked_out() {
        let mut r = received(status(TaskState::Working, Some("thinking\nhard")));
        assert_eq!(
            r.to_string(),
            "t1/cfg/3 task=t1 status-update working \"thinking hard\""
        );
        r.token = TokenCheck::Matches;
        r.signature = SignatureCheck::Verified { key_id: "k".into() };
        assert_eq!(
            r.to_string(),
            "t1/cfg/3 task=t1 status-update working \"thinking hard\" token=ok sig=ok"
        );
        r.token = TokenCheck::Differs;
        r.signature = SignatureCheck::Failed(VerifyError::BodyMismatch);
        r.status = 503;
        r.failed_on_purpose = Some((1, 2));
        assert_eq!(
            r.to_string(),
            "t1/cfg/3 task=t1 status-update working \"thinking hard\" token=MISMATCH \
             sig=FAILED (the body does not match its signature (SHA-256 differs)) \
             -> 503 (fail-first 1/2)"
        );

        let mut r = received(StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
            task_id: "t1".into(),
            context_id: "c".into(),
            artifact: Artifact {
                artifact_id: "a1".into(),
                parts: vec![Part::text("x".repeat(50)), Part::data(serde_json::json!(1))],
                ..Default::default()
            },
            append: true,
            last_chunk: true,
            metadata: None,
        }));
        r.signature = SignatureCheck::Unsigned;
        r.token = TokenCheck::Missing;
        assert_eq!(
            r.to_string(),
            format!(
                "t1/cfg/3 task=t1 artifact-update a1 append last-chunk \"{}…\" token=MISSING sig=unsigned",
                "x".repeat(40)
            )
        );

        let mut r = received(StreamResponse::Task(Default::default()));
        r.notification_id = None;
        r.task_id = None;
        r.signature = SignatureCheck::NotChecked { signed: true };
        assert_eq!(r.to_string(), "- task=- task unspecified sig=unchecked");
        r.event = Err("expected value".into());
        assert_eq!(
            r.to_string(),
            "- task=- invalid-body (expected value) sig=unchecked"
        );
    }

    #[test]
    fn the_arguments_parse_and_keep_the_token_out_of_debug_output() {
        use clap::{CommandFactory, Parser};
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            webhook: WebhookArgs,
        }
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "webhook",
            "--listen",
            "127.0.0.1:0",
            "--token",
            "hunter2",
            "--fail-first",
            "2",
        ])
        .unwrap();
        assert_eq!(cli.webhook.fail_first, 2);
        assert_eq!(cli.webhook.token.as_ref().unwrap().expose(), "hunter2");
        assert!(!format!("{:?}", cli.webhook).contains("hunter2"));
        assert!(Cli::try_parse_from(["webhook"]).is_err());
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd") && !constant_time_eq("abc", "ab"));
    }

    #[cfg(feature = "push")]
    #[tokio::test]
    async fn a_signed_notification_is_received_verified_and_logged() {
        use crate::push::signing::{KeyKind, PushSigner};

        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.pem");
        PushSigner::generate(KeyKind::P256, &key).unwrap();
        let signer = PushSigner::load(&[key]).unwrap();
        let jwks_file = dir.path().join("jwks.json");
        std::fs::write(&jwks_file, signer.jwks().to_string()).unwrap();

        let mut args = WebhookArgs::new("127.0.0.1:0".parse().unwrap());
        args.jwks = Some(jwks_file.display().to_string());
        args.token = Some("s3cret".parse().unwrap());
        args.fail_first = 1;
        let out = SharedBuf::default();
        let receiver = WebhookReceiver::bind(&args, Box::new(out.clone()))
            .await
            .unwrap();
        assert_eq!(receiver.key_ids(), [signer.key_id()]);
        let addr = receiver.local_addr().unwrap();
        let log = receiver.log();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(receiver.serve(async {
            let _ = stopped.await;
        }));

        let body = serde_json::to_vec(&status(TaskState::Completed, Some("done"))).unwrap();
        let http = reqwest::Client::new();
        let post = |id: &'static str, token: &'static str, body: Vec<u8>| {
            let jwt = signer.sign(&body, "t1", id, SystemTime::now());
            http.post(format!("http://{addr}/hooks/a2a"))
                .header(NOTIFICATION_ID_HEADER, id)
                .header(NOTIFICATION_TOKEN_HEADER, token)
                .header(NOTIFICATION_SIGNATURE_HEADER, jwt)
                .body(body)
                .send()
        };
        // The first answer is the purposeful failure; the retry succeeds.
        assert_eq!(
            post("t1/c/1", "s3cret", body.clone())
                .await
                .unwrap()
                .status(),
            503
        );
        assert_eq!(
            post("t1/c/1", "s3cret", body.clone())
                .await
                .unwrap()
                .status(),
            200
        );
        // A body other than the signed one, with a wrong token.
        let jwt = signer.sign(&body, "t1", "t1/c/2", SystemTime::now());
        let tampered = serde_json::to_vec(&status(TaskState::Failed, None)).unwrap();
        let resp = http
            .post(format!("http://{addr}/"))
            .header(NOTIFICATION_ID_HEADER, "t1/c/2")
            .header(NOTIFICATION_TOKEN_HEADER, "guess")
            .header(NOTIFICATION_SIGNATURE_HEADER, jwt)
            .body(tampered)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let resp = http
            .post(format!("http://{addr}/"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            http.get(format!("http://{addr}/"))
                .send()
                .await
                .unwrap()
                .status(),
            405
        );

        let seen = log.all();
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[0].status, 503);
        assert_eq!(seen[0].failed_on_purpose, Some((1, 1)));
        assert_eq!(seen[1].path, "/hooks/a2a");
        assert_eq!(seen[1].notification_id.as_deref(), Some("t1/c/1"));
        assert_eq!(seen[1].token, TokenCheck::Matches);
        assert_eq!(
            seen[1].signature,
            SignatureCheck::Verified {
                key_id: signer.key_id().into()
            }
        );
        assert_eq!(seen[2].token, TokenCheck::Differs);
        assert_eq!(
            seen[2].signature,
            SignatureCheck::Failed(VerifyError::BodyMismatch)
        );
        assert_eq!(seen[3].token, TokenCheck::Missing);
        assert_eq!(seen[3].signature, SignatureCheck::Unsigned);

        let printed = out.text();
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines.len(), 4, "{printed}");
        assert_eq!(
            lines[1],
            "t1/c/1 task=t1 status-update completed \"done\" token=ok sig=ok"
        );
        assert!(
            lines[0].ends_with("-> 503 (fail-first 1/1)"),
            "{}",
            lines[0]
        );
        assert!(!printed.contains("s3cret") && !printed.contains("guess"));

        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    /// An output the test can read while the receiver writes to it.
    #[cfg(feature = "push")]
    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    #[cfg(feature = "push")]
    impl SharedBuf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().clone()).unwrap()
        }
    }

    #[cfg(feature = "push")]
    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
