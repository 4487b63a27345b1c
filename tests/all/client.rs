//! The A2A client (`a2a_host::client`) and `a2a-host call` against a real
//! host on 127.0.0.1:0: discovery, both bindings, interface fallback,
//! retries through a failing TCP proxy, streams resumed after the proxy
//! cuts them (compared with the server's own event log), multi-turn calls,
//! and error reporting.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use a2a_host::agent::{Agent, AgentError, AgentInfo, TaskContext};
use a2a_host::client::{
    A2aClient, Binding, CallArgs, ClientConfig, ClientError, RetryPolicy, StreamEvent,
    TaskEventStream, run_call_to,
};
use a2a_host::error::A2aError;
use a2a_host::model::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::server::{Setup, TestServer, start};
use crate::support::tasks::{status_text, task_of};

/// How long any single step of a test may take.
const STEP: Duration = Duration::from_secs(20);

// ===========================================================================
// The agent

/// Acts on the first word of the message:
///
/// | word | behaviour |
/// |---|---|
/// | `words N MS` | status "writing", N artifact chunks `wI ` MS ms apart, completes "finished" |
/// | `say W…` | the words W… as artifact chunks, 10 ms apart, then completes "finished" |
/// | `ask` | asks "which colour?"; the follow-up completes with "got TEXT" |
/// | `sleep` | status "sleeping", then waits until canceled |
/// | `hold MS` | waits MS ms before it acts at all, then completes |
/// | `reply` | a direct message "direct" |
/// | `fail` | fails the task |
/// | anything else | completes with "done: TEXT" |
struct TestAgent;

#[async_trait::async_trait]
impl Agent for TestAgent {
    fn info(&self) -> AgentInfo {
        AgentInfo::new("tester", "agent for the client tests")
    }

    async fn handle(&self, ctx: TaskContext) -> Result<(), AgentError> {
        let text = ctx.text();
        let mut words = text.split_whitespace();
        match words.next().unwrap_or("") {
            "words" | "say" => {
                let chunks: Vec<String> = if text.starts_with("words") {
                    let n: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(5);
                    (0..n).map(|i| format!("w{i} ")).collect()
                } else {
                    let w: Vec<&str> = words.collect();
                    let last = w.len().saturating_sub(1);
                    w.iter()
                        .enumerate()
                        .map(|(i, s)| {
                            if i == last {
                                s.to_string()
                            } else {
                                format!("{s} ")
                            }
                        })
                        .collect()
                };
                let pause: u64 = if text.starts_with("words") {
                    text.split_whitespace()
                        .nth(2)
                        .and_then(|w| w.parse().ok())
                        .unwrap_or(10)
                } else {
                    10
                };
                ctx.send_status_text("writing").await?;
                let n = chunks.len();
                for (i, chunk) in chunks.into_iter().enumerate() {
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    let artifact = Artifact {
                        artifact_id: "answer".into(),
                        parts: vec![Part::text(chunk)],
                        ..Default::default()
                    };
                    ctx.emit_artifact(artifact, i > 0, i + 1 == n).await?;
                }
                ctx.complete(Some(vec![Part::text("finished")])).await?;
            }
            "ask" if ctx.history().is_empty() => {
                ctx.request_input(vec![Part::text("which colour?")]).await?
            }
            "sleep" => {
                ctx.send_status_text("sleeping").await?;
                ctx.cancelled().await;
            }
            "hold" => {
                let ms = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                ctx.complete(Some(vec![Part::text("held")])).await?;
            }
            "reply" => ctx.reply(vec![Part::text("direct")]).await?,
            "fail" => return Err(AgentError::Failed("asked to fail".into())),
            _ if !ctx.history().is_empty() => {
                ctx.complete(Some(vec![Part::text(format!("got {text}"))]))
                    .await?
            }
            _ => {
                ctx.complete(Some(vec![Part::text(format!("done: {text}"))]))
                    .await?
            }
        }
        Ok(())
    }
}

// ===========================================================================
// Harness

/// A host serving `TestAgent` as `tester` on 127.0.0.1:0.
struct Server {
    addr: SocketAddr,
    _server: TestServer,
}

impl Server {
    async fn start() -> Server {
        let server = start(Setup {
            agents: vec![("tester".to_string(), Arc::new(TestAgent))],
            ..Setup::default()
        })
        .await;
        let addr = server.origin["http://".len()..].parse().unwrap();
        Server {
            addr,
            _server: server,
        }
    }

    fn root(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn agent_url(&self) -> String {
        format!("http://{}/agents/tester", self.addr)
    }
}

/// A port nothing listens on.
async fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// Serves a hand-made agent card at `/.well-known/agent-card.json` and
/// `/card.json`.
async fn card_server(card: serde_json::Value) -> String {
    let body = card.to_string();
    let app = axum::Router::new()
        .route(
            "/.well-known/agent-card.json",
            axum::routing::get({
                let body = body.clone();
                move || async move { ([("content-type", "application/json")], body) }
            }),
        )
        .route(
            "/card.json",
            axum::routing::get(
                move || async move { ([("content-type", "application/json")], body) },
            ),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn card_with(interfaces: &[(&str, String)]) -> serde_json::Value {
    json!({
        "name": "tester",
        "description": "hand-made card",
        "version": "1.0.0",
        "supportedInterfaces": interfaces.iter().map(|(b, u)| json!({
            "url": u, "protocolBinding": b, "protocolVersion": "1.0"
        })).collect::<Vec<_>>(),
        "capabilities": {"streaming": true},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [],
    })
}

/// Quick retries, so failure tests stay fast.
fn fast_config() -> ClientConfig {
    ClientConfig {
        retry: RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(400),
            multiplier: 2.0,
        },
        request_timeout: Duration::from_secs(20),
        stream_idle_timeout: Duration::from_secs(10),
        stream_reconnects: 6,
        ..Default::default()
    }
}

fn only(binding: Binding) -> ClientConfig {
    ClientConfig {
        binding: Some(binding),
        ..fast_config()
    }
}

const BINDINGS: [Binding; 2] = [Binding::JsonRpc, Binding::HttpJson];

/// A message in a fresh context (so sends are retry-safe).
fn send_req(text: &str) -> SendMessageRequest {
    let mut message = Message::user_text(text);
    message.context_id = Some(uuid::Uuid::new_v4().to_string());
    SendMessageRequest {
        message,
        ..Default::default()
    }
}

async fn collect(mut s: TaskEventStream) -> (Vec<StreamEvent>, TaskEventStream) {
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(STEP, s.next()).await {
            Ok(Some(Ok(ev))) => out.push(ev),
            Ok(Some(Err(e))) => panic!("stream failed after {} events: {e}", out.len()),
            Ok(None) => return (out, s),
            Err(_) => panic!("stream stalled after {} events", out.len()),
        }
    }
}

fn artifact_text(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match &e.event {
            StreamResponse::ArtifactUpdate(a) => Some(
                a.artifact
                    .parts
                    .iter()
                    .filter_map(Part::as_text)
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// A TCP proxy that fails, drops and cuts on command

/// Sits between client and server, forwarding bytes, except that it can
/// answer the next requests with 503, drop the next connections, cut the
/// connection once a byte budget of server→client data is used up, or go
/// down altogether (cutting every connection and refusing new ones).
struct Proxy {
    addr: SocketAddr,
    ctl: Arc<ProxyCtl>,
}

struct ProxyCtl {
    upstream: SocketAddr,
    fail_503: AtomicUsize,
    drop_next: AtomicUsize,
    /// Byte budgets of server→client data; each cuts one connection.
    cuts: Mutex<VecDeque<usize>>,
    cuts_done: AtomicUsize,
    down: tokio::sync::watch::Sender<bool>,
}

const RESPONSE_503: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nretry-after: 0\r\nconnection: close\r\n\r\n";

/// Takes one from a counter if it is positive.
fn take(c: &AtomicUsize) -> bool {
    c.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ctl = Arc::new(ProxyCtl {
            upstream,
            fail_503: AtomicUsize::new(0),
            drop_next: AtomicUsize::new(0),
            cuts: Mutex::new(VecDeque::new()),
            cuts_done: AtomicUsize::new(0),
            down: tokio::sync::watch::channel(false).0,
        });
        let c = ctl.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                if *c.down.borrow() {
                    drop(conn);
                    continue;
                }
                tokio::spawn(pipe(conn, c.clone()));
            }
        });
        Proxy { addr, ctl }
    }

    fn agent_url(&self) -> String {
        format!("http://{}/agents/tester", self.addr)
    }

    fn fail_next(&self, n: usize) {
        self.ctl.fail_503.store(n, Ordering::SeqCst);
    }

    fn failures_left(&self) -> usize {
        self.ctl.fail_503.load(Ordering::SeqCst)
    }

    fn drop_next(&self, n: usize) {
        self.ctl.drop_next.store(n, Ordering::SeqCst);
    }

    fn cut_after(&self, budgets: &[usize]) {
        self.ctl.cuts.lock().unwrap().extend(budgets);
    }

    fn cuts_done(&self) -> usize {
        self.ctl.cuts_done.load(Ordering::SeqCst)
    }

    fn set_down(&self, down: bool) {
        self.ctl.down.send_replace(down);
    }
}

impl ProxyCtl {
    /// How many of `n` server bytes to pass on, and whether to cut after.
    fn budget(&self, n: usize) -> (usize, bool) {
        let mut cuts = self.cuts.lock().unwrap();
        match cuts.front_mut() {
            Some(left) if *left <= n => {
                let pass = *left;
                cuts.pop_front();
                self.cuts_done.fetch_add(1, Ordering::SeqCst);
                (pass, true)
            }
            Some(left) => {
                *left -= n;
                (n, false)
            }
            None => (n, false),
        }
    }
}

async fn pipe(mut client: TcpStream, ctl: Arc<ProxyCtl>) {
    let Ok(mut server) = TcpStream::connect(ctl.upstream).await else {
        return;
    };
    let mut down = ctl.down.subscribe();
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let mut cbuf = vec![0u8; 16 * 1024];
    let mut sbuf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            n = cr.read(&mut cbuf) => {
                let n = match n { Ok(0) | Err(_) => break, Ok(n) => n };
                if take(&ctl.fail_503) {
                    let _ = cw.write_all(RESPONSE_503).await;
                    break;
                }
                if take(&ctl.drop_next) {
                    break;
                }
                if sw.write_all(&cbuf[..n]).await.is_err() { break; }
            }
            n = sr.read(&mut sbuf) => {
                let n = match n { Ok(0) | Err(_) => break, Ok(n) => n };
                let (pass, cut) = ctl.budget(n);
                if cw.write_all(&sbuf[..pass]).await.is_err() { break; }
                let _ = cw.flush().await;
                if cut { break; }
            }
            _ = async { down.wait_for(|d| *d).await.is_ok() } => break,
        }
    }
}

/// Everything the server logged for a task, read with a fresh
/// SubscribeToTask from `Last-Event-ID: 0`, straight from the server.
async fn server_log(server: &Server, binding: Binding, task_id: &str) -> Vec<StreamEvent> {
    let direct = A2aClient::connect(&server.agent_url(), only(binding))
        .await
        .unwrap();
    let s = direct
        .subscribe_after(
            SubscribeToTaskRequest {
                id: task_id.to_string(),
                tenant: None,
            },
            Some("0"),
        )
        .await
        .unwrap();
    collect(s).await.0
}

// ===========================================================================
// Discovery and bindings

#[tokio::test]
async fn discovers_the_card_and_sends_on_each_binding() {
    let server = Server::start().await;
    for binding in BINDINGS {
        let client = A2aClient::connect(&server.agent_url(), only(binding))
            .await
            .unwrap();
        assert_eq!(client.card().unwrap().name, "tester");
        assert_eq!(client.endpoints().len(), 1);
        assert_eq!(client.active_endpoint().binding, binding);
        assert_eq!(client.active_endpoint().url, server.agent_url());

        let req = send_req("hello");
        let ctx = req.message.context_id.clone().unwrap();
        let task = task_of(client.send_message(req).await.unwrap());
        assert_eq!(task.status.state, TaskState::Completed, "{binding}");
        assert_eq!(status_text(&task), "done: hello");
        assert_eq!(task.context_id, ctx);

        let got = client
            .get_task(GetTaskRequest {
                id: task.id.clone(),
                history_length: Some(1),
                tenant: None,
            })
            .await
            .unwrap();
        assert_eq!(got.id, task.id);
        assert!(got.history.len() <= 1);

        let listed = client
            .list_tasks(ListTasksRequest {
                context_id: Some(ctx),
                status: Some(TaskState::Completed),
                page_size: Some(10),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(listed.tasks.len(), 1, "{binding}");
        assert_eq!(listed.tasks[0].id, task.id);
        assert_eq!(listed.total_size, 1);

        // A direct answer comes back as a message.
        match client.send_message(send_req("reply")).await.unwrap() {
            SendMessageResponse::Message(m) => assert_eq!(m.text(), "direct"),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn the_agent_is_found_from_a_host_root_or_a_card_url() {
    let server = Server::start().await;
    // The host root: its only agent is the default one.
    let client = A2aClient::connect(&server.root(), fast_config())
        .await
        .unwrap();
    assert_eq!(client.card().unwrap().name, "tester");
    assert_eq!(client.active_endpoint().url, server.agent_url());
    // A direct card URL, with a trailing slash on the agent URL for good measure.
    let card_url = format!("{}/.well-known/agent-card.json", server.agent_url());
    let client = A2aClient::connect(&card_url, fast_config()).await.unwrap();
    assert_eq!(client.card_url(), Some(card_url.as_str()));
    let client = A2aClient::connect(&format!("{}/", server.agent_url()), fast_config())
        .await
        .unwrap();
    let task = task_of(client.send_message(send_req("x")).await.unwrap());
    assert_eq!(task.status.state, TaskState::Completed);
}

#[tokio::test]
async fn the_cards_order_is_the_order_of_preference() {
    let server = Server::start().await;
    // This host lists JSONRPC first.
    let client = A2aClient::connect(&server.agent_url(), fast_config())
        .await
        .unwrap();
    let bindings: Vec<Binding> = client.endpoints().iter().map(|e| e.binding).collect();
    assert_eq!(bindings, [Binding::JsonRpc, Binding::HttpJson]);
    client.send_message(send_req("a")).await.unwrap();
    assert_eq!(client.active_endpoint().binding, Binding::JsonRpc);

    // A card that prefers HTTP+JSON gets HTTP+JSON.
    let cards = card_server(card_with(&[
        ("HTTP+JSON", server.agent_url()),
        ("JSONRPC", server.agent_url()),
    ]))
    .await;
    let client = A2aClient::connect(&cards, fast_config()).await.unwrap();
    client.send_message(send_req("b")).await.unwrap();
    assert_eq!(client.active_endpoint().binding, Binding::HttpJson);
}

#[tokio::test]
async fn falls_back_to_the_next_interface_when_one_is_dead_or_missing() {
    let server = Server::start().await;
    let dead = format!("http://127.0.0.1:{}/agents/tester", dead_port().await);

    // 1. The preferred JSON-RPC interface refuses connections.
    let cards = card_server(card_with(&[
        ("JSONRPC", dead.clone()),
        ("HTTP+JSON", server.agent_url()),
    ]))
    .await;
    let client = A2aClient::connect(&format!("{cards}/card.json"), fast_config())
        .await
        .unwrap();
    assert_eq!(client.active_endpoint().binding, Binding::JsonRpc);
    let started = Instant::now();
    let task = task_of(client.send_message(send_req("one")).await.unwrap());
    assert_eq!(status_text(&task), "done: one");
    assert_eq!(client.active_endpoint().binding, Binding::HttpJson);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "fallback should not wait"
    );
    // The working interface stays in use (no new detour via the dead one).
    let got = client
        .get_task(GetTaskRequest {
            id: task.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(got.id, task.id);
    assert_eq!(client.active_endpoint().binding, Binding::HttpJson);

    // 2. The preferred HTTP+JSON interface is a 404 path; also streams fall back.
    let cards = card_server(card_with(&[
        ("HTTP+JSON", format!("{}/nothing/here", server.root())),
        ("JSONRPC", server.agent_url()),
    ]))
    .await;
    let client = A2aClient::connect(&cards, fast_config()).await.unwrap();
    let stream = client
        .send_streaming_message(send_req("say two words"))
        .await
        .unwrap();
    let (events, _) = collect(stream).await;
    assert_eq!(artifact_text(&events), "two words");
    assert_eq!(client.active_endpoint().binding, Binding::JsonRpc);

    // 3. The preferred interface names an agent that does not exist there.
    let cards = card_server(card_with(&[
        ("JSONRPC", format!("{}/agents/ghost", server.root())),
        ("HTTP+JSON", server.agent_url()),
    ]))
    .await;
    let client = A2aClient::connect(&cards, fast_config()).await.unwrap();
    task_of(client.send_message(send_req("three")).await.unwrap());
    assert_eq!(client.active_endpoint().binding, Binding::HttpJson);

    // 4. An A2A error is an answer, not a reason to fall back.
    let cards = card_server(card_with(&[
        ("JSONRPC", server.agent_url()),
        ("HTTP+JSON", dead),
    ]))
    .await;
    let client = A2aClient::connect(&cards, fast_config()).await.unwrap();
    let err = client
        .get_task(GetTaskRequest {
            id: "no-such-task".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err.a2a(), Some(A2aError::TaskNotFound(_))),
        "{err}"
    );
    assert_eq!(client.active_endpoint().binding, Binding::JsonRpc);
}

// ===========================================================================
// Retries

#[tokio::test]
async fn retries_503s_and_dropped_connections_with_backoff() {
    let server = Server::start().await;
    let proxy = Proxy::start(server.addr).await;

    // The card fetch itself is retried.
    proxy.fail_next(2);
    let started = Instant::now();
    let client = A2aClient::connect(&proxy.agent_url(), only(Binding::JsonRpc))
        .await
        .unwrap();
    assert_eq!(proxy.failures_left(), 0);
    // Two backoffs of at least 25 ms and 50 ms (half of 50 and 100 ms).
    assert!(
        started.elapsed() >= Duration::from_millis(75),
        "{:?}",
        started.elapsed()
    );

    // Idempotent calls and resendable messages are retried.
    let task = task_of(client.send_message(send_req("hi")).await.unwrap());
    proxy.fail_next(2);
    let got = client
        .get_task(GetTaskRequest {
            id: task.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(got.id, task.id);
    assert_eq!(proxy.failures_left(), 0);

    proxy.fail_next(3);
    let t = task_of(client.send_message(send_req("again")).await.unwrap());
    assert_eq!(status_text(&t), "done: again");
    assert_eq!(proxy.failures_left(), 0);

    proxy.drop_next(2);
    let t = task_of(client.send_message(send_req("dropped")).await.unwrap());
    assert_eq!(status_text(&t), "done: dropped");

    // The server runs the message but its answer is lost on the way: the
    // resend does not create a second task, as the server recognises the
    // message id in its context.
    proxy.cut_after(&[0]);
    let req = send_req("lost answer");
    let ctx = req.message.context_id.clone();
    let t = task_of(client.send_message(req).await.unwrap());
    assert_eq!(status_text(&t), "done: lost answer");
    assert_eq!(proxy.cuts_done(), 1);
    let listed = client
        .list_tasks(ListTasksRequest {
            context_id: ctx,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.tasks.len(), 1);

    // A message the server could not recognise is not resent.
    proxy.fail_next(1);
    let mut req = send_req("once");
    req.message.context_id = None;
    let err = client.send_message(req).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Http { status: 503, .. }),
        "{err}"
    );
    assert_eq!(proxy.failures_left(), 0);

    // Attempts are bounded.
    proxy.fail_next(10);
    let err = client
        .get_task(GetTaskRequest {
            id: task.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Http { status: 503, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("gave up after 4 attempts"),
        "{err}"
    );
    assert_eq!(proxy.failures_left(), 6);
    proxy.fail_next(0);

    // With retries off, one failure is final.
    let strict = A2aClient::connect(
        &proxy.agent_url(),
        ClientConfig {
            retry: RetryPolicy::none(),
            ..fast_config()
        },
    )
    .await
    .unwrap();
    proxy.fail_next(1);
    assert!(
        strict
            .get_task(GetTaskRequest {
                id: task.id,
                ..Default::default()
            })
            .await
            .is_err()
    );
}

// ===========================================================================
// Streams

#[tokio::test]
async fn cut_streams_resume_without_losing_or_repeating_events() {
    let server = Server::start().await;
    for binding in BINDINGS {
        let proxy = Proxy::start(server.addr).await;
        let client = A2aClient::connect(&proxy.agent_url(), only(binding))
            .await
            .unwrap();
        // Cut the stream three times: mid-event, most likely.
        proxy.cut_after(&[1_100, 1_700, 900]);
        let stream = client
            .send_streaming_message(send_req("words 30 15"))
            .await
            .unwrap();
        let (events, stream) = collect(stream).await;
        assert_eq!(proxy.cuts_done(), 3, "{binding}");
        assert_eq!(stream.reconnects(), 3, "{binding}");

        let task_id = stream.task_id().unwrap().to_string();
        let log = server_log(&server, binding, &task_id).await;
        assert_eq!(
            events, log,
            "{binding}: the client saw exactly the server's log"
        );
        let seqs: Vec<u64> = events.iter().map(|e| e.seq().unwrap()).collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
        let words: String = (0..30).map(|i| format!("w{i} ")).collect();
        assert_eq!(artifact_text(&events), words);
        assert!(matches!(events[0].event, StreamResponse::Task(_)));
        assert_eq!(
            events.last().unwrap().event.state(),
            Some(TaskState::Completed)
        );
    }
}

#[tokio::test]
async fn a_stream_survives_an_outage_and_gives_up_after_bounded_reconnects() {
    let server = Server::start().await;
    let proxy = Proxy::start(server.addr).await;
    let client = A2aClient::connect(&proxy.agent_url(), fast_config())
        .await
        .unwrap();

    // A short outage: the stream resumes and misses nothing.
    let mut stream = client
        .send_streaming_message(send_req("words 20 25"))
        .await
        .unwrap();
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(stream.next().await.unwrap().unwrap());
    }
    proxy.set_down(true);
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.set_down(false);
    let (rest, stream) = collect(stream).await;
    events.extend(rest);
    assert!(stream.reconnects() >= 1);
    let log = server_log(&server, Binding::JsonRpc, stream.task_id().unwrap()).await;
    assert_eq!(events, log);

    // A long outage: bounded attempts, then a clear error.
    let client = A2aClient::connect(
        &proxy.agent_url(),
        ClientConfig {
            stream_reconnects: 2,
            ..fast_config()
        },
    )
    .await
    .unwrap();
    let mut stream = client
        .send_streaming_message(send_req("words 20 50"))
        .await
        .unwrap();
    stream.next().await.unwrap().unwrap();
    let task_id = stream.task_id().map(str::to_string);
    assert!(task_id.is_some());
    proxy.set_down(true);
    let err = loop {
        match tokio::time::timeout(STEP, stream.next()).await.unwrap() {
            Some(Ok(_)) => continue,
            Some(Err(e)) => break e,
            None => panic!("the stream ended without an error"),
        }
    };
    match &err {
        ClientError::StreamLost {
            task_id: t,
            message,
        } => {
            assert_eq!(t, &task_id);
            assert!(message.contains("2 reconnect attempts"), "{message}");
        }
        other => panic!("{other}"),
    }
    assert!(
        stream.next().await.is_none(),
        "the stream is over after an error"
    );
    proxy.set_down(false);
}

#[tokio::test]
async fn list_cancel_and_subscribe_on_each_binding() {
    let server = Server::start().await;
    for binding in BINDINGS {
        let client = A2aClient::connect(&server.agent_url(), only(binding))
            .await
            .unwrap();
        let mut req = send_req("sleep");
        req.configuration = Some(SendMessageConfiguration {
            return_immediately: true,
            ..Default::default()
        });
        let ctx = req.message.context_id.clone();
        let task = task_of(client.send_message(req).await.unwrap());
        assert!(!task.status.state.is_terminal());

        let mut sub = client
            .subscribe(SubscribeToTaskRequest {
                id: task.id.clone(),
                tenant: None,
            })
            .await
            .unwrap();
        let first = sub.next().await.unwrap().unwrap();
        assert!(matches!(&first.event, StreamResponse::Task(t) if t.id == task.id));

        let canceled = client
            .cancel_task(CancelTaskRequest {
                id: task.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(canceled.status.state, TaskState::Canceled, "{binding}");
        let (rest, _) = collect(sub).await;
        assert_eq!(
            rest.last().unwrap().event.state(),
            Some(TaskState::Canceled)
        );

        // Canceling again is an A2A error, typed.
        let err = client
            .cancel_task(CancelTaskRequest {
                id: task.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err.a2a(), Some(A2aError::TaskNotCancelable(_))),
            "{err}"
        );
        assert_eq!(err.remote().unwrap().code, -32002);

        let listed = client
            .list_tasks(ListTasksRequest {
                context_id: ctx,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(listed.tasks.len(), 1);
        assert_eq!(listed.tasks[0].status.state, TaskState::Canceled);
    }
}

// ===========================================================================
// Errors

#[tokio::test]
async fn errors_are_typed_and_say_what_went_wrong() {
    let server = Server::start().await;
    for binding in BINDINGS {
        let client = A2aClient::connect(&server.agent_url(), only(binding))
            .await
            .unwrap();
        let err = client
            .get_task(GetTaskRequest {
                id: "missing-task".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        let remote = err.remote().unwrap_or_else(|| panic!("{binding}: {err}"));
        assert_eq!(remote.code, -32001);
        assert_eq!(remote.reason, "TASK_NOT_FOUND");
        assert_eq!(remote.error, A2aError::TaskNotFound("missing-task".into()));
        assert!(err.to_string().contains("missing-task"), "{err}");

        let err = client
            .subscribe(SubscribeToTaskRequest {
                id: "missing-task".into(),
                tenant: None,
            })
            .await
            .unwrap_err();
        assert_eq!(err.remote().map(|r| r.code), Some(-32001), "{err}");
    }

    // Nothing listens there: a transport error naming the URL, after the
    // configured attempts.
    let port = dead_port().await;
    let err = A2aClient::connect(
        &format!("http://127.0.0.1:{port}/agents/x"),
        ClientConfig {
            retry: RetryPolicy {
                max_attempts: 2,
                initial_backoff: Duration::from_millis(10),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("gave up after 2 attempts"), "{text}");

    // An agent this host does not serve: the card fetch says so.
    let err = A2aClient::connect(&format!("{}/agents/ghost", server.root()), fast_config())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Card { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("404") && text.contains("ghost"), "{text}");

    // Not a URL at all.
    let err = A2aClient::connect("localhost:1234", fast_config())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidArgument(_)), "{err}");

    // A card with nothing this client speaks.
    let cards = card_server(card_with(&[("GRPC", "http://127.0.0.1:1".into())])).await;
    let err = A2aClient::connect(&cards, fast_config()).await.unwrap_err();
    assert!(err.to_string().contains("GRPC"), "{err}");
}

// ===========================================================================
// a2a-host call

/// Records every write, so tests can see output arrive piece by piece.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl std::io::Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(buf).into_owned());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Recorder {
    fn text(&self) -> String {
        self.0.lock().unwrap().concat()
    }
    fn writes(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn call_prints_streamed_words_as_they_arrive_and_the_final_state() {
    let server = Server::start().await;
    for binding in BINDINGS {
        let rec = Recorder::default();
        let mut args = CallArgs::new(server.agent_url(), "say the quick brown fox");
        args.stream = true;
        args.binding = Some(binding);
        let summary = run_call_to(args, &mut rec.clone()).await.unwrap();
        let task = summary.task_id.clone().unwrap();
        let ctx = summary.context_id.clone().unwrap();
        assert_eq!(summary.state, Some(TaskState::Completed));
        assert_eq!(
            rec.text(),
            format!(
                "writing\nthe quick brown fox\nfinished\n[completed] task={task} context={ctx}\n"
            ),
            "{binding}"
        );
        // Each word was written on its own, as it came.
        let writes = rec.writes();
        for word in ["the ", "quick ", "brown ", "fox"] {
            assert!(writes.iter().any(|w| w == word), "{word:?} in {writes:?}");
        }
    }

    // Without --stream: the blocking result, artifacts then status.
    let rec = Recorder::default();
    let summary = run_call_to(
        CallArgs::new(server.agent_url(), "say a b"),
        &mut rec.clone(),
    )
    .await
    .unwrap();
    let task = summary.task_id.unwrap();
    assert!(
        rec.text().starts_with("a b\nfinished\n[completed] task="),
        "{}",
        rec.text()
    );
    assert!(rec.text().contains(&task));

    // --json: one StreamResponse per line.
    let rec = Recorder::default();
    let mut args = CallArgs::new(server.agent_url(), "say x y");
    args.stream = true;
    args.json = true;
    run_call_to(args, &mut rec.clone()).await.unwrap();
    let lines: Vec<StreamResponse> = rec
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(matches!(lines[0], StreamResponse::Task(_)));
    assert_eq!(lines.last().unwrap().state(), Some(TaskState::Completed));

    // A direct message.
    let rec = Recorder::default();
    let summary = run_call_to(CallArgs::new(server.agent_url(), "reply"), &mut rec.clone())
        .await
        .unwrap();
    assert_eq!(summary.task_id, None);
    assert!(
        rec.text().starts_with("direct\n[message] context="),
        "{}",
        rec.text()
    );
}

#[tokio::test]
async fn call_continues_a_task_that_asked_for_input() {
    let server = Server::start().await;
    let rec = Recorder::default();
    let first = run_call_to(CallArgs::new(server.agent_url(), "ask"), &mut rec.clone())
        .await
        .unwrap();
    assert_eq!(first.state, Some(TaskState::InputRequired));
    let task = first.task_id.clone().unwrap();
    let out = rec.text();
    assert!(
        out.starts_with("which colour?\n[input-required] task="),
        "{out}"
    );
    assert!(out.contains(&format!("--task {task}")), "{out}");

    // The follow-up, streamed, on the other binding.
    let rec = Recorder::default();
    let mut args = CallArgs::new(server.agent_url(), "blue");
    args.task = Some(task.clone());
    args.stream = true;
    args.binding = Some(Binding::HttpJson);
    let second = run_call_to(args, &mut rec.clone()).await.unwrap();
    assert_eq!(second.task_id.as_deref(), Some(task.as_str()));
    assert_eq!(second.context_id, first.context_id);
    assert_eq!(second.state, Some(TaskState::Completed));
    assert!(
        rec.text().starts_with("got blue\n[completed] task="),
        "{}",
        rec.text()
    );

    // The same conversation continues by context: a new task there.
    let rec = Recorder::default();
    let mut args = CallArgs::new(server.agent_url(), "more");
    args.context = first.context_id.clone();
    let third = run_call_to(args, &mut rec.clone()).await.unwrap();
    assert_ne!(third.task_id, first.task_id);
    assert_eq!(third.context_id, first.context_id);

    // A finished task takes no more messages; the error says why.
    let mut args = CallArgs::new(server.agent_url(), "again");
    args.task = Some(task);
    let err = run_call_to(args, &mut Recorder::default())
        .await
        .unwrap_err();
    assert!(err.contains("UNSUPPORTED_OPERATION"), "{err}");
}

#[tokio::test]
async fn call_reports_unknown_tasks_and_unreachable_agents() {
    let server = Server::start().await;
    let mut args = CallArgs::new(server.agent_url(), "hello");
    args.task = Some("no-such-task".into());
    let err = run_call_to(args, &mut Recorder::default())
        .await
        .unwrap_err();
    assert!(
        err.contains("no-such-task") && err.contains("TASK_NOT_FOUND"),
        "{err}"
    );

    let port = dead_port().await;
    let mut args = CallArgs::new(format!("http://127.0.0.1:{port}/agents/x"), "hello");
    args.attempts = 1;
    let err = run_call_to(args, &mut Recorder::default())
        .await
        .unwrap_err();
    assert!(
        err.contains("could not reach") && err.contains(&port.to_string()),
        "{err}"
    );

    // A failed task prints its reason and reports the state.
    let rec = Recorder::default();
    let summary = run_call_to(CallArgs::new(server.agent_url(), "fail"), &mut rec.clone())
        .await
        .unwrap();
    assert_eq!(summary.state, Some(TaskState::Failed));
    assert!(rec.text().contains("asked to fail"), "{}", rec.text());
    assert!(rec.text().contains("[failed] task="), "{}", rec.text());
}

// ===========================================================================
// De-duplication against a server that replays too much

/// One SSE event of a hand-made stream: `{"statusUpdate"}` (or the opening
/// `{"task"}` for seq 1) with the text `event N`.
fn fake_event(seq: u64, last: u64) -> String {
    let state = if seq == last {
        "TASK_STATE_COMPLETED"
    } else {
        "TASK_STATE_WORKING"
    };
    let body = if seq == 1 {
        json!({"task": {"id": "t1", "contextId": "c1", "status": {"state": state}}})
    } else {
        json!({"statusUpdate": {"taskId": "t1", "contextId": "c1", "status": {
            "state": state,
            "message": {"messageId": format!("m{seq}"), "role": "ROLE_AGENT", "parts": [{"text": format!("event {seq}")}]}
        }}})
    };
    format!("id: {seq}\ndata: {body}\n\n")
}

#[tokio::test]
async fn events_replayed_by_the_server_are_delivered_once() {
    use axum::http::HeaderMap;
    // The stream stops after 3 events without a final state; a resubscribe
    // replays everything from the start (ignoring Last-Event-ID) up to 6.
    let seen_last_ids = Arc::new(Mutex::new(Vec::<Option<String>>::new()));
    let sse = |body: String| ([("content-type", "text/event-stream")], body);
    let seen = seen_last_ids.clone();
    let app = axum::Router::new()
        .route(
            "/agent/message:stream",
            axum::routing::post(
                move || async move { sse((1..=3).map(|i| fake_event(i, 6)).collect()) },
            ),
        )
        .route(
            "/agent/tasks/{action}",
            axum::routing::post(move |headers: HeaderMap| async move {
                let last = headers
                    .get("last-event-id")
                    .map(|v| v.to_str().unwrap().to_string());
                seen.lock().unwrap().push(last);
                sse((1..=6).map(|i| fake_event(i, 6)).collect())
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = A2aClient::for_endpoint(
        a2a_host::client::Endpoint {
            binding: Binding::HttpJson,
            url: format!("http://{addr}/agent"),
            tenant: None,
        },
        fast_config(),
    )
    .unwrap();
    let stream = client
        .send_streaming_message(send_req("anything"))
        .await
        .unwrap();
    let (events, stream) = collect(stream).await;
    let ids: Vec<u64> = events.iter().map(|e| e.seq().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    assert_eq!(stream.reconnects(), 1);
    assert_eq!(*seen_last_ids.lock().unwrap(), [Some("3".to_string())]);
    assert_eq!(events[5].event.state(), Some(TaskState::Completed));
}

/// Reads from `conn` into `buf` until `needle` appears; returns where it
/// ends.
async fn read_until(conn: &mut TcpStream, buf: &mut Vec<u8>, needle: &[u8]) -> usize {
    loop {
        if let Some(i) = buf.windows(needle.len()).position(|w| w == needle) {
            return i + needle.len();
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(STEP, conn.read(&mut chunk))
            .await
            .expect("the server went quiet")
            .unwrap();
        assert!(
            n > 0,
            "connection closed; got {:?}",
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

// A new stream's response waits briefly for its first event, so that an
// agent that acts at once gets headers and event out together; an agent
// that takes its time must still see `200 OK` before it acts.
#[tokio::test]
async fn a_streams_headers_do_not_wait_for_a_slow_agents_first_event() {
    let server = Server::start().await;
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "SendStreamingMessage",
        "params": {"message": {"role": "ROLE_USER", "messageId": "m-hold",
                               "parts": [{"text": "hold 4000"}]}},
    })
    .to_string();
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "POST /agents/tester HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         a2a-version: 1.0\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let sent = Instant::now();
    let mut buf = Vec::new();
    let head_end = read_until(&mut conn, &mut buf, b"\r\n\r\n").await;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");
    // The agent has not acted yet: no event has been sent.
    assert!(
        sent.elapsed() < Duration::from_millis(4000),
        "the headers waited for the agent"
    );
    assert!(!String::from_utf8_lossy(&buf).contains("data:"));
    // And the stream goes on to carry the task once the agent acts.
    read_until(&mut conn, &mut buf, b"held").await;
}

#[tokio::test]
async fn keep_alives_hold_a_quiet_stream_open_and_silence_resumes_it() {
    use axum::body::Body;
    use futures::StreamExt;
    // `quiet`: event 1, six keep-alive comments 100 ms apart, event 2.
    // `silent`: event 1, then nothing ever; its resubscribe replays 2.
    fn body(parts: Vec<(u64, String)>, then_hang: bool) -> axum::response::Response {
        let chunks = futures::stream::iter(parts).then(|(delay, text)| async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            Ok::<_, std::io::Error>(bytes::Bytes::from(text))
        });
        let body = if then_hang {
            Body::from_stream(chunks.chain(futures::stream::pending()))
        } else {
            Body::from_stream(chunks)
        };
        axum::response::Response::builder()
            .header("content-type", "text/event-stream")
            .body(body)
            .unwrap()
    }
    let app = axum::Router::new()
        .route(
            "/quiet/message:stream",
            axum::routing::post(|| async {
                let mut parts = vec![(0, fake_event(1, 2))];
                parts.extend((0..6).map(|_| (100, ": keep-alive\n\n".to_string())));
                parts.push((0, fake_event(2, 2)));
                body(parts, false)
            }),
        )
        .route(
            "/silent/message:stream",
            axum::routing::post(|| async { body(vec![(0, fake_event(1, 2))], true) }),
        )
        .route(
            "/silent/tasks/{action}",
            axum::routing::post(|| async { body(vec![(0, fake_event(2, 2))], false) }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let config = ClientConfig {
        stream_idle_timeout: Duration::from_millis(300),
        ..fast_config()
    };
    for (path, reconnects) in [("quiet", 0), ("silent", 1)] {
        let client = A2aClient::for_endpoint(
            a2a_host::client::Endpoint {
                binding: Binding::HttpJson,
                url: format!("http://{addr}/{path}"),
                tenant: None,
            },
            config.clone(),
        )
        .unwrap();
        let stream = client
            .send_streaming_message(send_req("anything"))
            .await
            .unwrap();
        let (events, stream) = collect(stream).await;
        let ids: Vec<u64> = events.iter().map(|e| e.seq().unwrap()).collect();
        assert_eq!(ids, [1, 2], "{path}");
        assert_eq!(stream.reconnects(), reconnects, "{path}");
    }
}
