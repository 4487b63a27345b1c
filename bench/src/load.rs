//! Closed-loop load: N clients, each on its own keep-alive connection, each
//! sending its next request as soon as the previous answer is in and
//! checked. A phase has a warm-up (not measured) and a measured window of
//! fixed length; the server's CPU time is read at both ends of the window.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::client::{self, Conn, Kind};
use crate::procs::{self, ProcessGroup, Server};

/// Latency summary, in microseconds.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Latency {
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub max_us: f64,
    pub samples: usize,
}

impl Latency {
    /// Summarise durations given in nanoseconds (sorts them).
    pub fn of(samples: &mut [u64]) -> Option<Latency> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let n = samples.len();
        let at = |q: f64| {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            samples[rank - 1] as f64 / 1000.0
        };
        let mean = samples.iter().map(|&s| s as f64).sum::<f64>() / n as f64 / 1000.0;
        Some(Latency {
            p50_us: at(0.50),
            p99_us: at(0.99),
            mean_us: mean,
            max_us: samples[n - 1] as f64 / 1000.0,
            samples: n,
        })
    }
}

/// What a measured phase produced.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    pub name: String,
    pub concurrency: usize,
    /// Length of the measured window, seconds.
    pub window_s: f64,
    /// Tasks completed (and checked) inside the window.
    pub completed: u64,
    /// Failed requests inside the window (bad status, JSON-RPC error, wrong
    /// answer, broken connection).
    pub errors: u64,
    /// The first few distinct failures.
    pub error_samples: Vec<String>,
    pub rps: f64,
    /// Whole request (or whole stream) latency.
    pub latency: Option<Latency>,
    /// Streams only: time to the first event.
    pub first_event: Option<Latency>,
    /// Server user+system CPU time in the window.
    pub server_cpu_s: f64,
    /// Server CPU per completed task, microseconds: the headline figure.
    pub cpu_per_task_us: Option<f64>,
    /// Server CPU time / window (1.0 = one core busy).
    pub server_util: f64,
    /// Load generator CPU time / window.
    pub loadgen_util: f64,
    /// CPU used on the server's core by other processes (other builds on
    /// the machine) / window: a noise indicator.
    pub foreign_util: Option<f64>,
    /// Server processes the clients were spread over (round-robin).
    pub processes: usize,
    /// CPU of the services the servers use (PostgreSQL, Redis), by name;
    /// empty for a server that uses none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceCpu>,
}

/// What a service (all its processes) spent in a measured window.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceCpu {
    /// Processes of the service seen at the end of the window.
    pub processes: usize,
    /// User+system CPU time in the window.
    pub cpu_s: f64,
    /// CPU per completed task, microseconds.
    pub cpu_per_task_us: Option<f64>,
}

/// What a phase loads and meters: one or more server processes serving the
/// same tasks, and the services they share.
pub struct Target<'a> {
    /// Client `i` talks to `servers[i % servers.len()]`; the servers' CPU
    /// is summed.
    pub servers: Vec<&'a Server>,
    /// Services whose CPU is read over the same window.
    pub services: Vec<ProcessGroup>,
}

impl<'a> Target<'a> {
    /// One server, no services.
    pub fn one(server: &'a Server) -> Target<'a> {
        Target {
            servers: vec![server],
            services: Vec::new(),
        }
    }

    /// CPU time of all the servers so far.
    fn cpu(&self) -> Result<Duration> {
        let mut total = Duration::ZERO;
        for s in &self.servers {
            total += s.cpu()?;
        }
        Ok(total)
    }
}

#[derive(Default)]
struct WorkerStats {
    latency: Vec<u64>,
    first_event: Vec<u64>,
    /// (end of the request since the phase began, latency), both in ns;
    /// kept only when `A2A_BENCH_TRACE` names a file to write them to.
    trace: Vec<(u64, u64)>,
    completed: u64,
    errors: u64,
    error_samples: Vec<String>,
}

impl WorkerStats {
    fn error(&mut self, e: &anyhow::Error) {
        self.errors += 1;
        if self.error_samples.len() < 3 {
            self.error_samples.push(format!("{e:#}"));
        }
    }
}

/// One request/answer of `kind`, checked. Returns (total, first event) in
/// nanoseconds.
async fn one(conn: &mut Conn, kind: Kind, tag: &str) -> Result<(u64, Option<u64>)> {
    let (body, text) = client::echo_request(kind, tag);
    match kind {
        Kind::Stream => {
            let t = client::stream_echo(conn, body, &text).await?;
            Ok((
                t.end.as_nanos() as u64,
                Some(t.first_event.as_nanos() as u64),
            ))
        }
        Kind::JsonRpc | Kind::Rest => {
            let start = Instant::now();
            let (status, answer) = conn.post(&kind.path(), body).await?;
            let elapsed = start.elapsed().as_nanos() as u64;
            client::check_send(kind, status, &answer, &text)?;
            Ok((elapsed, None))
        }
    }
}

/// A unique tag per request across the whole bench run.
fn next_tag(worker: usize) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!("{worker}-{}", SEQ.fetch_add(1, Ordering::Relaxed))
}

/// Open a connection, retrying for a while (the server may be busy
/// accepting many at once).
async fn connect(addr: SocketAddr, until: Instant) -> Result<Conn> {
    loop {
        match Conn::open(addr).await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() >= until => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Run `concurrency` closed-loop clients of `kind` against `target` for
/// `warmup + window`, measuring the window.
pub async fn phase(
    target: &Target<'_>,
    name: &str,
    kind: Kind,
    concurrency: usize,
    warmup: Duration,
    window: Duration,
    core: Option<usize>,
) -> Result<PhaseResult> {
    let addrs: Vec<SocketAddr> = target.servers.iter().map(|s| s.addr).collect();
    let t0 = Instant::now();
    let start = t0 + warmup;
    let end = start + window;
    let trace_to = std::env::var_os("A2A_BENCH_TRACE");
    let keep_trace = trace_to.is_some();
    let mut workers = Vec::with_capacity(concurrency);
    for w in 0..concurrency {
        let addr = addrs[w % addrs.len()];
        workers.push(tokio::spawn(async move {
            let mut stats = WorkerStats::default();
            let mut conn = None;
            while Instant::now() < end {
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => match connect(addr, end).await {
                        Ok(c) => conn.insert(c),
                        Err(e) => {
                            stats.error(&e);
                            break;
                        }
                    },
                };
                let outcome = one(c, kind, &next_tag(w)).await;
                let done = Instant::now();
                let in_window = done >= start && done <= end;
                match outcome {
                    Ok((total, first)) => {
                        if in_window {
                            stats.completed += 1;
                            stats.latency.push(total);
                            if keep_trace {
                                stats.trace.push(((done - t0).as_nanos() as u64, total));
                            }
                            if let Some(f) = first {
                                stats.first_event.push(f);
                            }
                        }
                    }
                    Err(e) => {
                        if in_window {
                            stats.error(&e);
                        }
                        conn = None; // the connection may be unusable
                    }
                }
            }
            stats
        }));
    }
    tokio::time::sleep_until(start.into()).await;
    let busy = || core.and_then(|c| procs::core_busy(c).ok());
    let services = || -> Vec<_> { target.services.iter().map(|g| g.snapshot()).collect() };
    let (cpu0, self0, busy0, at0) = (target.cpu()?, procs::self_cpu(), busy(), Instant::now());
    let services0 = services();
    tokio::time::sleep_until(end.into()).await;
    let (cpu1, self1, busy1, at1) = (target.cpu()?, procs::self_cpu(), busy(), Instant::now());
    let services1 = services();

    let mut all = WorkerStats::default();
    for w in workers {
        let s = w.await?;
        all.latency.extend(s.latency);
        all.first_event.extend(s.first_event);
        all.trace.extend(s.trace);
        all.completed += s.completed;
        all.errors += s.errors;
        for e in s.error_samples {
            if all.error_samples.len() < 5 && !all.error_samples.contains(&e) {
                all.error_samples.push(e);
            }
        }
    }
    if let Some(path) = trace_to {
        all.trace.sort_unstable();
        let lines: String = all
            .trace
            .iter()
            .map(|(at, l)| format!("{at} {l}\n"))
            .collect();
        std::fs::write(&path, lines)?;
    }
    let measured = (at1 - at0).as_secs_f64();
    let server_cpu = (cpu1.saturating_sub(cpu0)).as_secs_f64();
    let per_task = |cpu_s: f64| (all.completed > 0).then(|| cpu_s * 1e6 / all.completed as f64);
    let services = target
        .services
        .iter()
        .zip(services0.iter().zip(&services1))
        .map(|(group, (before, after))| {
            let cpu_s = procs::group_cpu_between(before, after).as_secs_f64();
            let cpu = ServiceCpu {
                processes: after.len(),
                cpu_s,
                cpu_per_task_us: per_task(cpu_s),
            };
            (group.name.clone(), cpu)
        })
        .collect();
    Ok(PhaseResult {
        name: name.to_string(),
        concurrency,
        window_s: window.as_secs_f64(),
        completed: all.completed,
        errors: all.errors,
        error_samples: all.error_samples,
        rps: all.completed as f64 / window.as_secs_f64(),
        latency: Latency::of(&mut all.latency),
        first_event: Latency::of(&mut all.first_event),
        server_cpu_s: server_cpu,
        cpu_per_task_us: per_task(server_cpu),
        server_util: server_cpu / measured,
        loadgen_util: (self1.saturating_sub(self0)).as_secs_f64() / measured,
        foreign_util: match (busy0, busy1) {
            (Some(a), Some(b)) => {
                Some(((b.saturating_sub(a)).as_secs_f64() - server_cpu).max(0.0) / measured)
            }
            _ => None,
        },
        processes: addrs.len(),
        services,
    })
}

/// Outcome of [`run_tasks`].
#[derive(Debug, Clone, Copy)]
pub struct CountRun {
    pub completed: u64,
    pub errors: u64,
    pub server_cpu: Duration,
}

/// Complete `count` more tasks with `concurrency` clients (blocking
/// JSON-RPC SendMessage), or stop at `deadline`. Every client finishes its
/// request before this returns, so nothing is in flight afterwards.
pub async fn run_tasks(
    server: &Server,
    count: u64,
    concurrency: usize,
    deadline: Instant,
) -> Result<CountRun> {
    let addr = server.addr;
    let tickets = Arc::new(AtomicU64::new(0));
    let cpu0 = server.cpu()?;
    let mut workers = Vec::with_capacity(concurrency);
    for w in 0..concurrency {
        let tickets = tickets.clone();
        workers.push(tokio::spawn(async move {
            let mut stats = WorkerStats::default();
            let mut conn = None;
            while Instant::now() < deadline && tickets.fetch_add(1, Ordering::Relaxed) < count {
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => match connect(addr, deadline).await {
                        Ok(c) => conn.insert(c),
                        Err(e) => {
                            stats.error(&e);
                            break;
                        }
                    },
                };
                match one(c, Kind::JsonRpc, &next_tag(w)).await {
                    Ok(_) => stats.completed += 1,
                    Err(e) => {
                        stats.error(&e);
                        conn = None;
                    }
                }
            }
            stats
        }));
    }
    let mut completed = 0;
    let mut errors = 0;
    for w in workers {
        let s = w.await?;
        completed += s.completed;
        errors += s.errors;
    }
    Ok(CountRun {
        completed,
        errors,
        server_cpu: server.cpu()?.saturating_sub(cpu0),
    })
}
