//! The measurements that are not a plain closed loop: resident memory after
//! N tasks, 10,000 concurrent SubscribeToTask streams, start-up with 20
//! agents, and CancelTask on a CPU-bound guest.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, Result, anyhow, bail};
use http_body_util::BodyExt;
use hyper::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{self, Conn, SseParser};
use crate::load;
use crate::procs::{self, Server};

// ---------------------------------------------------------------------------
// (4) Resident memory after 10k and 100k tasks

/// Resident memory at task-count checkpoints.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryResult {
    /// RSS right after start-up (ready, no task yet).
    pub rss_start_bytes: u64,
    /// (tasks completed so far, RSS) at each checkpoint reached.
    pub checkpoints: Vec<(u64, u64)>,
    pub errors: u64,
    pub elapsed_s: f64,
    /// Server CPU per task over the whole run, microseconds.
    pub cpu_per_task_us: Option<f64>,
    /// Growth between the first and the last checkpoint, per task.
    pub bytes_per_task: Option<f64>,
    /// Whether the last checkpoint was reached before the time limit.
    pub complete: bool,
}

impl MemoryResult {
    pub fn rss_at(&self, tasks: u64) -> Option<u64> {
        self.checkpoints
            .iter()
            .find(|(n, _)| *n >= tasks)
            .map(|(_, r)| *r)
    }
}

/// Run blocking echo tasks up to each checkpoint in turn (64 clients),
/// reading RSS at each, within `limit` in total.
pub async fn memory(server: &Server, checkpoints: &[u64], limit: Duration) -> Result<MemoryResult> {
    let started = Instant::now();
    let deadline = started + limit;
    let rss_start_bytes = server.rss()?;
    let mut done = 0u64;
    let mut errors = 0u64;
    let mut cpu = Duration::ZERO;
    let mut reached = Vec::new();
    let mut complete = true;
    for &target in checkpoints {
        let run = load::run_tasks(server, target - done, 64, deadline).await?;
        done += run.completed;
        errors += run.errors;
        cpu += run.server_cpu;
        // Let freed buffers settle before reading RSS.
        tokio::time::sleep(Duration::from_millis(300)).await;
        if done < target {
            complete = false;
            if done > 0 {
                reached.push((done, server.rss()?));
            }
            break;
        }
        reached.push((done, server.rss()?));
    }
    let bytes_per_task = match (reached.first(), reached.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => Some((b.1 as f64 - a.1 as f64) / (b.0 - a.0) as f64),
        _ => None,
    };
    Ok(MemoryResult {
        rss_start_bytes,
        checkpoints: reached,
        errors,
        elapsed_s: started.elapsed().as_secs_f64(),
        cpu_per_task_us: (done > 0).then(|| cpu.as_secs_f64() * 1e6 / done as f64),
        bytes_per_task,
        complete,
    })
}

// ---------------------------------------------------------------------------
// JSON-RPC helpers

async fn rpc(conn: &mut Conn, path: &str, method: &str, params: Value) -> Result<Value> {
    let (status, body) = conn.post(path, client::rpc_body(method, params)).await?;
    client::rpc_result(status, &body)
}

fn user_message(text: &str) -> Value {
    json!({
        "messageId": uuid::Uuid::new_v4().to_string(),
        "role": "ROLE_USER",
        "parts": [{"text": text}],
    })
}

/// Start a task without waiting for it; returns its id.
async fn start_task(conn: &mut Conn, agent: &str, text: &str) -> Result<String> {
    let result = rpc(
        conn,
        &format!("/agents/{agent}"),
        "SendMessage",
        json!({"message": user_message(text), "configuration": {"returnImmediately": true}}),
    )
    .await?;
    result["task"]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("SendMessage did not return a task: {result}"))
}

// ---------------------------------------------------------------------------
// (5) 10,000 concurrent SubscribeToTask streams

/// Many subscribers on one task, and one event fanned out to all of them.
#[derive(Debug, Clone, Serialize)]
pub struct StreamsResult {
    pub wanted: usize,
    /// Streams that got their first event (the task snapshot).
    pub opened: usize,
    pub open_errors: usize,
    pub open_error_samples: Vec<String>,
    /// Time to open all of them.
    pub open_s: f64,
    pub rss_before_bytes: u64,
    pub rss_with_streams_bytes: u64,
    pub bytes_per_stream: f64,
    /// Server CPU spent per stream while opening them, microseconds.
    pub open_cpu_per_stream_us: f64,
    /// The event measured (its status text).
    pub event: String,
    /// From the event's timestamp (set by the server) to its arrival on the
    /// first and on the last stream, milliseconds (the server's timestamps
    /// have millisecond precision).
    pub first_arrival_ms: f64,
    pub reach_all_ms: f64,
    /// Last arrival minus first arrival.
    pub spread_ms: f64,
    /// Streams that did not get the event.
    pub missed: usize,
}

struct StreamLog {
    /// (arrival, event data) of every event after the first.
    events: Vec<(Instant, Vec<u8>)>,
    error: Option<String>,
}

/// Open `n` SubscribeToTask streams on one running `countdown` task, then
/// time the next status update reaching all of them.
pub async fn streams(server: &Server, n: usize, tick: Duration) -> Result<StreamsResult> {
    let addr = server.addr;
    let mut conn = Conn::open(addr).await?;
    let task_id = start_task(&mut conn, "countdown", "600").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_before = server.rss()?;
    let cpu0 = server.cpu()?;

    let opened = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let armed = Arc::new(AtomicBool::new(false));
    let reached = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    let body = client::rpc_body("SubscribeToTask", json!({"id": task_id}));
    let path = "/agents/countdown".to_string();
    let open_started = Instant::now();
    let open_deadline = open_started + Duration::from_secs(90);

    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        let (opened, failed, armed, reached) = (
            opened.clone(),
            failed.clone(),
            armed.clone(),
            reached.clone(),
        );
        let (gate, body, path, mut stop) =
            (gate.clone(), body.clone(), path.clone(), stop_rx.clone());
        handles.push(tokio::spawn(async move {
            let mut log = StreamLog {
                events: Vec::new(),
                error: None,
            };
            let mut permit = gate.acquire_owned().await.ok();
            let opening = async {
                let mut conn = loop {
                    match Conn::open(addr).await {
                        Ok(c) => break c,
                        Err(e) if Instant::now() > open_deadline => return Err(e),
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                };
                let resp = conn.send(client::post(addr, &path, body)).await?;
                if resp.status() != StatusCode::OK {
                    bail!("HTTP {}", resp.status());
                }
                Ok((conn, resp.into_body()))
            };
            let (_conn, mut body) = match opening.await {
                Ok(x) => x,
                Err(e) => {
                    failed.fetch_add(1, Ordering::SeqCst);
                    log.error = Some(format!("{e:#}"));
                    return log;
                }
            };
            let mut parser = SseParser::default();
            let mut first = true;
            let mut counted = false;
            loop {
                let frame = tokio::select! {
                    f = body.frame() => f,
                    _ = stop.wait_for(|s| *s) => break,
                };
                let Some(Ok(frame)) = frame else { break };
                let Some(chunk) = frame.data_ref() else {
                    continue;
                };
                let now = Instant::now();
                for data in parser.push(chunk) {
                    if first {
                        first = false;
                        opened.fetch_add(1, Ordering::SeqCst);
                        permit.take();
                    } else {
                        log.events.push((now, data));
                        if !counted && armed.load(Ordering::SeqCst) {
                            counted = true;
                            reached.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }
            if first {
                failed.fetch_add(1, Ordering::SeqCst);
                log.error = Some("stream ended before its first event".into());
            }
            log
        }));
    }
    while opened.load(Ordering::SeqCst) + failed.load(Ordering::SeqCst) < n
        && Instant::now() < open_deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open_s = open_started.elapsed().as_secs_f64();
    let open_cpu = server.cpu()?.saturating_sub(cpu0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_with = server.rss()?;
    let n_open = opened.load(Ordering::SeqCst);

    // Arm: the next event the server stamps after this moment is measured.
    let ready_wall = SystemTime::now();
    let ready = Instant::now();
    armed.store(true, Ordering::SeqCst);
    let wait_until = ready + tick * 3 + Duration::from_secs(5);
    while reached.load(Ordering::SeqCst) < n_open && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Let a straggler's second event arrive too, then end the task (which
    // ends every stream) and stop reading.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = rpc(
        &mut conn,
        "/agents/countdown",
        "CancelTask",
        json!({"id": task_id}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);
    let mut logs = Vec::with_capacity(n);
    for h in handles {
        logs.push(h.await?);
    }

    // Which event: the first status update stamped after `ready_wall`.
    let mut target: Option<(SystemTime, String)> = None;
    'find: for log in &logs {
        for (_, data) in &log.events {
            if let Some((ts, text)) = status_of(data)
                && ts >= ready_wall - Duration::from_millis(1)
            {
                if target.as_ref().is_none_or(|(t, _)| ts < *t) {
                    target = Some((ts, text));
                }
                continue 'find;
            }
        }
    }
    let (stamp, text) = target.context("no status update arrived after all streams were open")?;
    let emitted = match stamp.duration_since(ready_wall) {
        Ok(d) => ready + d,
        Err(e) => ready - e.duration(),
    };
    let mut first: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    let mut missed = 0;
    for log in logs.iter().filter(|l| l.error.is_none()) {
        let hit = log
            .events
            .iter()
            .find(|(_, d)| status_of(d).is_some_and(|(_, t)| t == text));
        match hit {
            Some((at, _)) => {
                first = Some(first.map_or(*at, |f| f.min(*at)));
                last = Some(last.map_or(*at, |l| l.max(*at)));
            }
            None => missed += 1,
        }
    }
    let (first, last) = (first.context("no arrival")?, last.context("no arrival")?);
    let ms = |a: Instant, b: Instant| {
        if a >= b {
            (a - b).as_secs_f64() * 1e3
        } else {
            -((b - a).as_secs_f64() * 1e3)
        }
    };
    let mut open_error_samples: Vec<String> = Vec::new();
    for e in logs.iter().filter_map(|l| l.error.clone()) {
        if open_error_samples.len() < 3 && !open_error_samples.contains(&e) {
            open_error_samples.push(e);
        }
    }
    Ok(StreamsResult {
        wanted: n,
        opened: n_open,
        open_errors: failed.load(Ordering::SeqCst),
        open_error_samples,
        open_s,
        rss_before_bytes: rss_before,
        rss_with_streams_bytes: rss_with,
        bytes_per_stream: (rss_with as f64 - rss_before as f64) / n_open.max(1) as f64,
        open_cpu_per_stream_us: open_cpu.as_secs_f64() * 1e6 / n_open.max(1) as f64,
        event: text,
        first_arrival_ms: ms(first, emitted),
        reach_all_ms: ms(last, emitted),
        spread_ms: ms(last, first),
        missed,
    })
}

/// The timestamp and text of a status-update event.
fn status_of(data: &[u8]) -> Option<(SystemTime, String)> {
    let v: Value = serde_json::from_slice(data).ok()?;
    let status = &v["result"]["statusUpdate"]["status"];
    let ts = status["timestamp"].as_str()?;
    let ts =
        time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).ok()?;
    let text = status["message"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Some((SystemTime::from(ts), text))
}

// ---------------------------------------------------------------------------
// (6) Start-up with 20 agents

/// Start-up times of a2a-host with a folder of agents.
#[derive(Debug, Clone, Serialize)]
pub struct StartupResult {
    pub agents: usize,
    /// From spawning the process to `/readyz` answering 200, with an empty
    /// compile cache.
    pub cold_ms: f64,
    /// The same with the cache filled by the cold start; every run.
    pub warm_ms: Vec<f64>,
    pub warm_median_ms: f64,
    /// Agents reported `ready` by `GET /agents` after each start.
    pub ready_agents: Vec<usize>,
}

/// A copy of a component with a custom section appended (`name`,
/// `payload`), so that it hashes (and compiles) as a different file.
fn with_custom_section(wasm: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    let mut content = Vec::new();
    leb(name.len(), &mut content);
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);
    let mut out = wasm.to_vec();
    out.push(0); // custom section id
    leb(content.len(), &mut out);
    out.extend_from_slice(&content);
    out
}

/// Fill `dir` with `count` distinct agents made from the example
/// components in `examples` (each copy gets its own custom section).
pub fn make_agents_folder(examples: &Path, dir: &Path, count: usize) -> Result<()> {
    let mut sources: Vec<PathBuf> = std::fs::read_dir(examples)
        .with_context(|| format!("reading {}", examples.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    sources.sort();
    if sources.is_empty() {
        bail!(
            "no example components in {} (run `cargo xtask agents`)",
            examples.display()
        );
    }
    std::fs::create_dir_all(dir)?;
    for i in 0..count {
        let src = &sources[i % sources.len()];
        let bytes = std::fs::read(src)?;
        let copy = with_custom_section(&bytes, "a2a-bench-variant", i.to_string().as_bytes());
        std::fs::write(dir.join(format!("agent-{i:02}.wasm")), copy)?;
    }
    Ok(())
}

/// How many agents `GET /agents` reports ready.
async fn ready_agents(server: &Server) -> Result<usize> {
    let mut conn = Conn::open(server.addr).await?;
    let (status, body) = conn.get("/agents").await?;
    if status != StatusCode::OK {
        bail!("GET /agents: HTTP {status}");
    }
    let v: Value = serde_json::from_slice(&body)?;
    Ok(v["agents"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|x| x["status"] == "ready").count()))
}

/// Cold start (empty cache), then `warm_runs` warm starts.
pub async fn startup(
    host_bin: &Path,
    agents: &Path,
    work: &Path,
    core: Option<usize>,
    warm_runs: usize,
) -> Result<StartupResult> {
    let cache = work.join("startup-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let count = std::fs::read_dir(agents)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .count();
    let mut times = Vec::new();
    let mut ready = Vec::new();
    for run in 0..=warm_runs {
        let addr = procs::free_port()?;
        let args = vec![
            "serve".to_string(),
            "--agents".into(),
            agents.display().to_string(),
            "--store".into(),
            "memory".into(),
            "--listen".into(),
            addr.to_string(),
            "--cache-dir".into(),
            cache.display().to_string(),
            "--drain-secs".into(),
            "1".into(),
        ];
        let t0 = Instant::now();
        let mut server = Server::start(
            &format!("startup-{run}"),
            host_bin,
            &args,
            core,
            addr,
            work,
            &work.join(format!("logs/startup-{run}.log")),
        )?;
        server
            .wait_ready("/readyz", Duration::from_secs(120))
            .await?;
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        ready.push(ready_agents(&server).await?);
        server.stop(Duration::from_secs(3));
    }
    let cold_ms = times[0];
    let mut warm = times[1..].to_vec();
    let mut sorted = warm.clone();
    sorted.sort_by(f64::total_cmp);
    let warm_median_ms = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    warm.truncate(warm_runs);
    Ok(StartupResult {
        agents: count,
        cold_ms,
        warm_ms: warm,
        warm_median_ms,
        ready_agents: ready,
    })
}

// ---------------------------------------------------------------------------
// (8) CancelTask on a CPU-bound guest

/// How fast a cancel lands on a guest stuck in a CPU loop.
#[derive(Debug, Clone, Serialize)]
pub struct CancelResult {
    pub runs: usize,
    /// CancelTask sent -> its answer (`TASK_STATE_CANCELED`), ms.
    pub cancel_ms: Vec<f64>,
    /// CancelTask sent -> the next task of the same agent completed. The
    /// agent runs one turn at a time (`max_concurrent = 1`), so this is
    /// when the looping guest was actually stopped.
    pub stopped_ms: Vec<f64>,
    pub cancel_p50_ms: f64,
    pub cancel_max_ms: f64,
    pub stopped_p50_ms: f64,
    pub errors: Vec<String>,
}

/// `runs` times: start `hostile loop`, let it spin, cancel it, then send
/// the next task.
pub async fn cancel(server: &Server, runs: usize) -> Result<CancelResult> {
    let mut conn = Conn::open(server.addr).await?;
    let mut cancel_ms = Vec::new();
    let mut stopped_ms = Vec::new();
    let mut errors = Vec::new();
    for i in 0..runs {
        let id = start_task(&mut conn, "hostile", "loop").await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t0 = Instant::now();
        let canceled = rpc(
            &mut conn,
            "/agents/hostile",
            "CancelTask",
            json!({"id": id}),
        )
        .await;
        let t1 = t0.elapsed();
        match canceled {
            Ok(task) if task["status"]["state"] == "TASK_STATE_CANCELED" => {
                cancel_ms.push(t1.as_secs_f64() * 1e3);
            }
            Ok(task) => errors.push(format!(
                "cancel answered {}",
                task["status"]["state"].as_str().unwrap_or("?")
            )),
            Err(e) => errors.push(format!("cancel failed: {e:#}")),
        }
        let text = format!("after {i}");
        let next = rpc(
            &mut conn,
            "/agents/hostile",
            "SendMessage",
            json!({"message": user_message(&text)}),
        )
        .await;
        let t2 = t0.elapsed();
        match next
            .and_then(|r| client::check_completed_task(&r["task"], &format!("hostile: {text}")))
        {
            Ok(()) => stopped_ms.push(t2.as_secs_f64() * 1e3),
            Err(e) => errors.push(format!("next task: {e:#}")),
        }
    }
    let p50 = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
    };
    Ok(CancelResult {
        runs,
        cancel_p50_ms: p50(&cancel_ms),
        cancel_max_ms: cancel_ms.iter().copied().fold(f64::NAN, f64::max),
        stopped_p50_ms: p50(&stopped_ms),
        cancel_ms,
        stopped_ms,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_sections_are_appended_with_leb_sizes() {
        let out = with_custom_section(b"\0asm\x0d\0\x01\0", "n", &[7; 200]);
        assert_eq!(&out[..8], b"\0asm\x0d\0\x01\0");
        assert_eq!(out[8], 0);
        // 1 (name length) + 1 (name) + 200 = 202 = 0xCA 0x01 in LEB128.
        assert_eq!(&out[9..11], &[0xCA, 0x01]);
        assert_eq!(out.len(), 8 + 1 + 2 + 202);
    }
}
