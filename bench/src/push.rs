//! (10) Push notifications: the server CPU per task of a2a-host on SQLite
//! with one inline push config on every `SendMessage`, against the same
//! tasks without one, and the notifications per second a local receiver
//! gets.
//!
//! The receiver is an axum server on `127.0.0.1:0` in this process, on a
//! thread and a tokio runtime of its own (the load generator's runtime
//! keeps its one thread). It answers 200 to everything and counts, per
//! task, the notifications it got, by their `X-A2A-Notification-Id`
//! (`TASK/CONFIG/SEQ`): a task is complete once its terminal status has
//! arrived (seq `n`) together with seqs `1..=n`.
//!
//! A run is a closed loop of blocking JSON-RPC `SendMessage`s to `echo`
//! (64 clients) for a fixed number of tasks, not a time window: the server's
//! CPU is read when the first request goes out and again once every task
//! of the run has all its notifications (or right after the last answer,
//! without push), so the CPU of deliveries that lag behind the answers is
//! charged to the tasks that caused it. Before the first run the server
//! is warmed up with and without push, and the receiver drained.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{self, Conn, Kind};
use crate::load::Latency;
use crate::procs::Server;

/// The notification-id header (`TASK/CONFIG/SEQ`).
const ID_HEADER: &str = "x-a2a-notification-id";

/// The token the bench's push config carries (the receiver does not check
/// it; it only makes the notification carry the header a real one would).
const TOKEN: &str = "bench-token";

/// How long the notifications of a run may take to arrive after its last
/// answer.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// How long the requests of one run may take.
const LOAD_LIMIT: Duration = Duration::from_secs(60);

/// What the receiver knows about one task.
#[derive(Default)]
struct TaskNotes {
    seqs: HashSet<u64>,
    /// The seq of the terminal status update, once it arrived.
    final_seq: Option<u64>,
    complete: bool,
}

#[derive(Default)]
struct Received {
    tasks: HashMap<String, TaskNotes>,
    /// When each task got its last missing notification.
    complete_at: HashMap<String, Instant>,
    total: u64,
    duplicates: u64,
    /// Requests without a usable notification id.
    malformed: u64,
}

/// A webhook receiver on 127.0.0.1, on its own thread and runtime.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<Received>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Bind `127.0.0.1:0` and serve on a new thread.
    pub fn start() -> Result<Receiver> {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("binding the receiver")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(Received::default()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("push-receiver".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("bench: push receiver: cannot start tokio: {e}");
                        return;
                    }
                };
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        eprintln!("bench: push receiver: cannot use its socket");
                        return;
                    };
                    let app =
                        axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
                            let state = shared.clone();
                            async move {
                                record(&state, &headers, &body);
                                StatusCode::OK
                            }
                        });
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
            })?;
        Ok(Receiver {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The webhook URL.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Notifications received so far (duplicates included).
    pub fn total(&self) -> u64 {
        lock(&self.state).total
    }

    /// Of `pending`, drop the tasks that are complete; returns the latest
    /// completion time among them.
    fn take_complete(&self, pending: &mut Vec<String>) -> Option<Instant> {
        let state = lock(&self.state);
        let mut latest = None;
        pending.retain(|task| match state.complete_at.get(task) {
            Some(at) => {
                latest = Some(latest.map_or(*at, |l: Instant| l.max(*at)));
                false
            }
            None => true,
        });
        latest
    }

    /// The notifications counted for `tasks` (their final seqs, or what
    /// arrived for an incomplete one), and the duplicates seen so far.
    fn notifications_of(&self, tasks: &[String]) -> (u64, u64) {
        let state = lock(&self.state);
        let n = tasks
            .iter()
            .filter_map(|t| state.tasks.get(t))
            .map(|n| n.final_seq.unwrap_or(n.seqs.len() as u64))
            .sum();
        (n, state.duplicates)
    }

    fn malformed(&self) -> u64 {
        lock(&self.state).malformed
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The receiver's state, whether or not a handler panicked with it held.
fn lock(state: &Mutex<Received>) -> MutexGuard<'_, Received> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a notification body is a terminal status (a status update or
/// a task snapshot in a final state).
fn is_terminal(body: &[u8]) -> bool {
    // Most notifications are not final: skip the parse unless the body
    // names a final state at all.
    const FINAL: [&[u8]; 4] = [
        b"TASK_STATE_COMPLETED",
        b"TASK_STATE_FAILED",
        b"TASK_STATE_CANCELED",
        b"TASK_STATE_REJECTED",
    ];
    if !FINAL.iter().any(|f| body.windows(f.len()).any(|w| w == *f)) {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let state = v["statusUpdate"]["status"]["state"]
        .as_str()
        .or_else(|| v["task"]["status"]["state"].as_str())
        .unwrap_or("");
    FINAL.iter().any(|f| f == &state.as_bytes())
}

/// `(task, seq)` from a notification id `TASK/CONFIG/SEQ`.
fn parse_id(id: &str) -> Option<(&str, u64)> {
    let (rest, seq) = id.rsplit_once('/')?;
    let (task, _config) = rest.rsplit_once('/')?;
    Some((task, seq.parse().ok()?))
}

fn record(state: &Mutex<Received>, headers: &HeaderMap, body: &[u8]) {
    let now = Instant::now();
    let terminal = is_terminal(body);
    let id = headers.get(ID_HEADER).and_then(|v| v.to_str().ok());
    let mut s = lock(state);
    s.total += 1;
    let Some((task, seq)) = id.and_then(parse_id) else {
        s.malformed += 1;
        return;
    };
    let notes = s.tasks.entry(task.to_string()).or_default();
    let fresh = notes.seqs.insert(seq);
    if terminal {
        notes.final_seq = Some(seq);
    }
    let done = !notes.complete
        && notes
            .final_seq
            .is_some_and(|f| notes.seqs.len() as u64 >= f);
    if done {
        notes.complete = true;
    }
    if !fresh {
        s.duplicates += 1;
    }
    if done {
        s.complete_at.insert(task.to_string(), now);
    }
}

/// One run: the same load with or without a push config.
#[derive(Debug, Clone, Serialize)]
pub struct PushRun {
    /// Whether every task carried the inline push config.
    pub push: bool,
    pub concurrency: usize,
    /// Tasks completed (and checked).
    pub tasks: u64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// From the first request to the last answer, seconds.
    pub load_s: f64,
    pub tasks_per_s: f64,
    pub latency: Option<Latency>,
    /// Server CPU from the first request to the last notification (with
    /// push) or the last answer (without), seconds.
    pub server_cpu_s: f64,
    /// Server CPU per task, microseconds: the figure compared.
    pub cpu_per_task_us: Option<f64>,
    /// Notifications of this run's tasks that reached the receiver
    /// (distinct ids).
    pub notifications: u64,
    /// Notifications per second, from the first request to the last
    /// notification.
    pub notifications_per_s: Option<f64>,
    /// From the last answer to the last notification, milliseconds.
    pub drain_ms: Option<f64>,
    /// Tasks whose notifications had not all arrived when the run gave up
    /// waiting.
    pub incomplete_tasks: u64,
    /// Notifications received twice (at-least-once delivery), run so far.
    pub duplicates: u64,
}

/// What the push phase measured.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PushResult {
    /// The runs, in order; without and with push alternate, so that
    /// `rounds[i] = (without, with)`.
    pub rounds: Vec<(PushRun, PushRun)>,
    /// Each round's CPU per task with push over without (`None` where a
    /// figure is missing).
    pub cpu_ratios: Vec<Option<f64>>,
    /// The median of `cpu_ratios`: the figure the target is judged on.
    pub cpu_ratio: Option<f64>,
    /// The webhook requests the receiver could not attribute.
    pub malformed: u64,
}

/// The body of one SendMessage, with the inline push config if `hook`.
fn request(tag: &str, hook: Option<&str>) -> (Vec<u8>, String) {
    let text = format!("bench echo {tag}");
    let message = json!({
        "messageId": format!("bench-{tag}"),
        "role": "ROLE_USER",
        "parts": [{"text": text}],
    });
    let params = match hook {
        Some(url) => json!({
            "message": message,
            "configuration": {"taskPushNotificationConfig": {"url": url, "token": TOKEN}},
        }),
        None => json!({ "message": message }),
    };
    (client::rpc_body("SendMessage", params), text)
}

/// One checked blocking send; the task id.
async fn send(conn: &mut Conn, tag: &str, hook: Option<&str>) -> Result<String> {
    let (body, text) = request(tag, hook);
    let (status, answer) = conn.post(&Kind::JsonRpc.path(), body).await?;
    let result = client::rpc_result(status, &answer)?;
    let task = result
        .get("task")
        .ok_or_else(|| anyhow!("answer is not a task"))?;
    client::check_completed_task(task, &text)?;
    Ok(task["id"].as_str().unwrap_or_default().to_string())
}

fn next_tag(worker: usize) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!("push-{worker}-{}", SEQ.fetch_add(1, Ordering::Relaxed))
}

struct Load {
    tasks: Vec<String>,
    latency: Vec<u64>,
    errors: u64,
    error_samples: Vec<String>,
}

/// `concurrency` closed-loop clients until `count` tasks were sent (or
/// [`LOAD_LIMIT`] passed); every client finishes its request before this
/// returns.
async fn closed_loop(addr: SocketAddr, hook: Option<&str>, concurrency: usize, count: u64) -> Load {
    let end = Instant::now() + LOAD_LIMIT;
    let tickets = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::with_capacity(concurrency);
    for w in 0..concurrency {
        let hook = hook.map(str::to_string);
        let tickets = tickets.clone();
        workers.push(tokio::spawn(async move {
            let mut out = Load {
                tasks: Vec::new(),
                latency: Vec::new(),
                errors: 0,
                error_samples: Vec::new(),
            };
            let mut conn: Option<Conn> = None;
            while Instant::now() < end && tickets.fetch_add(1, Ordering::Relaxed) < count {
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => match Conn::open(addr).await {
                        Ok(c) => conn.insert(c),
                        Err(e) => {
                            out.errors += 1;
                            out.error_samples.push(format!("{e:#}"));
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                };
                let start = Instant::now();
                match send(c, &next_tag(w), hook.as_deref()).await {
                    Ok(id) => {
                        out.latency.push(start.elapsed().as_nanos() as u64);
                        out.tasks.push(id);
                    }
                    Err(e) => {
                        out.errors += 1;
                        if out.error_samples.len() < 3 {
                            out.error_samples.push(format!("{e:#}"));
                        }
                        conn = None;
                    }
                }
            }
            out
        }));
    }
    let mut all = Load {
        tasks: Vec::new(),
        latency: Vec::new(),
        errors: 0,
        error_samples: Vec::new(),
    };
    for w in workers {
        match w.await {
            Ok(l) => {
                all.tasks.extend(l.tasks);
                all.latency.extend(l.latency);
                all.errors += l.errors;
                for e in l.error_samples {
                    if all.error_samples.len() < 5 && !all.error_samples.contains(&e) {
                        all.error_samples.push(e);
                    }
                }
            }
            Err(e) => {
                all.errors += 1;
                all.error_samples.push(format!("a client panicked: {e}"));
            }
        }
    }
    all
}

/// Wait until every task of `tasks` is complete at the receiver (or
/// `limit` passes); returns the time the last one completed and the tasks
/// still incomplete.
async fn drain(receiver: &Receiver, tasks: &[String], limit: Duration) -> (Option<Instant>, u64) {
    let mut pending = tasks.to_vec();
    let mut last = None;
    let give_up = Instant::now() + limit;
    loop {
        if let Some(at) = receiver.take_complete(&mut pending) {
            last = Some(last.map_or(at, |l: Instant| l.max(at)));
        }
        if pending.is_empty() || Instant::now() >= give_up {
            return (last, pending.len() as u64);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// One measured run against `server`.
pub async fn run_once(
    server: &Server,
    receiver: &Receiver,
    push: bool,
    concurrency: usize,
    count: u64,
) -> Result<PushRun> {
    let hook = push.then(|| receiver.url());
    let cpu0 = server.cpu()?;
    let t0 = Instant::now();
    let mut load = closed_loop(server.addr, hook.as_deref(), concurrency, count).await;
    let answered = Instant::now();
    let (last, incomplete) = if push {
        drain(receiver, &load.tasks, DRAIN_LIMIT).await
    } else {
        (None, 0)
    };
    // Let the deliverer settle its last batch (and, without push, the
    // server finish what follows the last answer) before reading the CPU;
    // the same pause in both runs.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let server_cpu = server.cpu()?.saturating_sub(cpu0).as_secs_f64();
    let tasks = load.tasks.len() as u64;
    let (notifications, duplicates) = if push {
        receiver.notifications_of(&load.tasks)
    } else {
        (0, 0)
    };
    let load_s = (answered - t0).as_secs_f64();
    let delivered_s = last.map(|l| (l - t0).as_secs_f64());
    Ok(PushRun {
        push,
        concurrency,
        tasks,
        errors: load.errors,
        error_samples: load.error_samples,
        load_s,
        tasks_per_s: tasks as f64 / load_s,
        latency: Latency::of(&mut load.latency),
        server_cpu_s: server_cpu,
        cpu_per_task_us: (tasks > 0).then(|| server_cpu * 1e6 / tasks as f64),
        notifications,
        notifications_per_s: delivered_s
            .filter(|s| *s > 0.0)
            .map(|s| notifications as f64 / s),
        drain_ms: last.map(|l| l.saturating_duration_since(answered).as_secs_f64() * 1e3),
        incomplete_tasks: incomplete,
        duplicates,
    })
}

/// Warm the server up with and without push (`count` tasks each), and wait
/// for the warm-up's notifications.
pub async fn warm_up(
    server: &Server,
    receiver: &Receiver,
    concurrency: usize,
    count: u64,
) -> Result<()> {
    closed_loop(server.addr, None, concurrency, count).await;
    let load = closed_loop(server.addr, Some(&receiver.url()), concurrency, count).await;
    if load.tasks.is_empty() {
        return Err(anyhow!(
            "no task completed in the warm-up: {:?}",
            load.error_samples
        ));
    }
    let (_, incomplete) = drain(receiver, &load.tasks, DRAIN_LIMIT).await;
    if incomplete > 0 {
        return Err(anyhow!(
            "{incomplete} of the warm-up's {} tasks did not get all their notifications in {DRAIN_LIMIT:?} ({} received in all)",
            load.tasks.len(),
            receiver.total()
        ));
    }
    Ok(())
}

/// The whole phase: a warm-up of `warmup` tasks with and without push,
/// then `rounds` pairs of runs, `count_without` tasks without push and
/// `count` with, in alternating order. (A run without push is over much
/// sooner: more tasks keep its CPU reading, in clock ticks, precise.)
pub async fn run(
    server: &Server,
    concurrency: usize,
    warmup: u64,
    count: u64,
    count_without: u64,
    rounds: u32,
    mut say: impl FnMut(&PushRun),
) -> Result<PushResult> {
    let receiver = Receiver::start()?;
    warm_up(server, &receiver, concurrency, warmup).await?;
    let mut result = PushResult::default();
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        let mut without = None;
        let mut with = None;
        for push in order {
            let n = if push { count } else { count_without };
            let r = run_once(server, &receiver, push, concurrency, n).await?;
            say(&r);
            if push {
                with = Some(r);
            } else {
                without = Some(r);
            }
        }
        if let (Some(a), Some(b)) = (without, with) {
            result.rounds.push((a, b));
        }
    }
    result.malformed = receiver.malformed();
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_ids_and_final_states_are_read() {
        assert_eq!(parse_id("t-1/c-2/7"), Some(("t-1", 7)));
        assert_eq!(parse_id("t-1/7"), None);
        assert_eq!(parse_id("t/c/x"), None);
        assert!(is_terminal(
            br#"{"statusUpdate":{"taskId":"t","status":{"state":"TASK_STATE_COMPLETED"}}}"#
        ));
        assert!(!is_terminal(
            br#"{"statusUpdate":{"status":{"state":"TASK_STATE_WORKING","message":{"parts":[{"text":"TASK_STATE_COMPLETED"}]}}}}"#
        ));
        assert!(!is_terminal(
            br#"{"task":{"status":{"state":"TASK_STATE_SUBMITTED"}}}"#
        ));
    }

    #[test]
    fn a_task_is_complete_with_its_final_status_and_every_seq_before_it() {
        let state = Mutex::new(Received::default());
        let note = |id: &str, state_name: &str| {
            let mut h = HeaderMap::new();
            h.insert(ID_HEADER, id.parse().unwrap());
            let body = format!(r#"{{"statusUpdate":{{"status":{{"state":"{state_name}"}}}}}}"#);
            (h, body)
        };
        for (id, st) in [
            ("a/c/1", "TASK_STATE_SUBMITTED"),
            ("a/c/3", "TASK_STATE_COMPLETED"),
        ] {
            let (h, b) = note(id, st);
            record(&state, &h, b.as_bytes());
        }
        assert!(!lock(&state).complete_at.contains_key("a"));
        let (h, b) = note("a/c/2", "TASK_STATE_WORKING");
        record(&state, &h, b.as_bytes());
        record(&state, &h, b.as_bytes());
        record(&state, &HeaderMap::new(), b"{}");
        let s = lock(&state);
        assert!(s.complete_at.contains_key("a"));
        assert_eq!((s.total, s.duplicates, s.malformed), (5, 1, 1));
    }
}
