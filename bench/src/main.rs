//! `bench`: a2a-host against the ceiling (a minimal A2A server), side by
//! side in one run. `cargo xtask bench` builds everything in release and
//! runs `bench run`; see `bench run --help` for the knobs.
//!
//! Servers run pinned to one core (`taskset -c`), this process — the load
//! generator, a single-threaded tokio runtime — to the other. The headline
//! figure is server CPU per task: the server's utime + stime from
//! `/proc/PID/stat` over a measured window, divided by the tasks completed
//! (and checked) in it. Every a2a-host figure is also given as a ratio to
//! the ceiling's in the same run. Output: a markdown table on stdout and
//! `target/bench/results.json`.

mod client;
mod cluster;
mod inproc;
mod load;
mod procs;
mod push;
mod report;
mod scenarios;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};

use client::Kind;
use load::PhaseResult;
use procs::{Cores, Server};
use report::{
    CEILING, CLUSTER_1, CLUSTER_2, HOST_MEMORY, HOST_SQLITE, PUSH_SERVER, REST64, RPC1, RPC64,
    Results, STREAM1, STREAM64, ServerResults,
};

#[derive(Parser)]
#[command(name = "bench", about = "a2a-host against the ceiling, side by side")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole benchmark (what `cargo xtask bench` does after building).
    Run(Box<RunArgs>),
    /// Load a server that is already running (for profiling it): one
    /// closed-loop phase, printed as JSON.
    Load(LoadArgs),
}

#[derive(Parser, Clone)]
struct LoadArgs {
    /// The server's address.
    #[arg(long)]
    addr: std::net::SocketAddr,
    /// The server's PID, to read its CPU time (optional).
    #[arg(long)]
    pid: Option<u32>,
    /// jsonrpc, rest or stream.
    #[arg(long, default_value = "jsonrpc")]
    kind: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 1.0)]
    warmup_secs: f64,
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Core to pin the load generator to.
    #[arg(long)]
    core: Option<usize>,
}

#[derive(Parser, Clone)]
struct RunArgs {
    /// The a2a-host binary (release build).
    #[arg(long)]
    host_bin: Option<PathBuf>,
    /// The ceiling server binary.
    #[arg(long)]
    ceiling_bin: Option<PathBuf>,
    /// The example components (`cargo xtask agents`).
    #[arg(long)]
    examples: Option<PathBuf>,
    /// The `hostile` test guest (tests/agents).
    #[arg(long)]
    hostile: Option<PathBuf>,
    /// Where the JSON results go.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Scratch folder (agents, databases, logs); emptied first.
    #[arg(long)]
    work: Option<PathBuf>,
    /// Warm-up before each measured window, seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup_secs: f64,
    /// Length of each measured window, seconds.
    #[arg(long, default_value_t = 5.0)]
    phase_secs: f64,
    /// Rounds of the primary phase (JSON-RPC, c=64), each running every
    /// server in turn. The table shows each server's median round; the CPU
    /// targets take the median of the round-by-round ratios.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    rounds: u32,
    /// Task counts at which resident memory is read.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    tasks: Vec<u64>,
    /// Time limit of the memory run, per server, seconds.
    #[arg(long, default_value_t = 120.0)]
    memory_secs: f64,
    /// Concurrent SubscribeToTask streams.
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// Agents in the start-up folder.
    #[arg(long, default_value_t = 20)]
    startup_agents: usize,
    /// Warm starts after the cold one.
    #[arg(long, default_value_t = 3)]
    warm_starts: usize,
    /// Cancels of a looping guest, per a2a-host server.
    #[arg(long, default_value_t = 5)]
    cancels: usize,
    /// Short everything (1 s windows, 2k/10k tasks, 1,000 streams): for
    /// trying the bench out, not for figures.
    #[arg(long)]
    quick: bool,
    /// Parts to skip: any of phases, cluster, push, memory, streams,
    /// cancel, startup, inprocess, ceiling, memory-store, sqlite.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// Run only these parts (any of phases, cluster, push, memory,
    /// streams, cancel, startup, inprocess); the servers of the parts that
    /// run are still chosen with --skip.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Tasks in each run of the push phase with a push config (the runs
    /// without have 5× as many); it runs --rounds pairs of runs, after a
    /// warm-up of a quarter as many tasks with push and without.
    #[arg(long, default_value_t = 500)]
    push_tasks: u64,
    /// An extra argument of the push phase's `a2a-host serve` (repeat),
    /// e.g. `--push-serve-arg=--push-per-destination=64`: for trying
    /// settings out.
    #[arg(long, allow_hyphen_values = true)]
    push_serve_arg: Vec<String>,
    /// Core the servers run on.
    #[arg(long, default_value_t = 0)]
    server_core: usize,
    /// Core the load generator runs on.
    #[arg(long, default_value_t = 1)]
    loadgen_core: usize,
    /// Wall time of the build that preceded this run (recorded).
    #[arg(long)]
    build_secs: Option<f64>,
}

impl RunArgs {
    fn skips(&self, part: &str) -> bool {
        const SERVERS: [&str; 3] = ["ceiling", "memory-store", "sqlite"];
        self.skip.iter().any(|s| s == part)
            || (!self.only.is_empty()
                && !SERVERS.contains(&part)
                && !self.only.iter().any(|s| s == part))
    }
}

/// The cargo profile of this build, recorded with the results: the folder
/// the binary runs from (`target/release`, `target/fast-build`).
fn profile_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown".into())
}

/// The repository root (bench/..).
fn repo_root() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    dir.parent().unwrap_or(dir).to_path_buf()
}

fn main() -> ExitCode {
    let mut args = match Cli::parse().command {
        Command::Run(args) => *args,
        Command::Load(args) => return load_only(args),
    };
    if args.quick {
        args.warmup_secs = args.warmup_secs.min(0.5);
        args.phase_secs = args.phase_secs.min(1.0);
        args.tasks = vec![2_000, 10_000];
        args.memory_secs = args.memory_secs.min(30.0);
        args.streams = args.streams.min(1_000);
        args.warm_starts = args.warm_starts.min(1);
        args.cancels = args.cancels.min(2);
        args.rounds = 1;
        args.push_tasks = args.push_tasks.min(200);
    }
    let cores = Cores::detect(args.server_core, args.loadgen_core);
    if let Some(core) = cores.loadgen
        && let Err(e) = procs::pin_self(core)
    {
        eprintln!("warning: cannot pin the load generator: {e:#}");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args, cores)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `bench load`: one phase against a running server.
fn load_only(args: LoadArgs) -> ExitCode {
    if let Some(core) = args.core
        && let Err(e) = procs::pin_self(core)
    {
        eprintln!("warning: cannot pin the load generator: {e:#}");
    }
    let kind = match args.kind.as_str() {
        "jsonrpc" => Kind::JsonRpc,
        "rest" => Kind::Rest,
        "stream" => Kind::Stream,
        other => {
            eprintln!("error: unknown kind `{other}` (jsonrpc, rest, stream)");
            return ExitCode::from(2);
        }
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| {
            rt.block_on(async {
                let server = Server::external(args.addr, args.pid);
                load::phase(
                    &load::Target::one(&server),
                    &args.kind,
                    kind,
                    args.concurrency,
                    secs(args.warmup_secs),
                    secs(args.secs),
                    None,
                )
                .await
            })
        });
    match result {
        Ok(r) => {
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

struct Paths {
    host_bin: PathBuf,
    ceiling_bin: PathBuf,
    examples: PathBuf,
    hostile: PathBuf,
    out: PathBuf,
    work: PathBuf,
    agents: PathBuf,
    cache: PathBuf,
}

impl Paths {
    fn resolve(args: &RunArgs) -> Result<Paths> {
        let root = repo_root();
        let exe_dir = std::env::current_exe()?
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root.join("target/release"));
        let work = args
            .work
            .clone()
            .unwrap_or_else(|| root.join("target/bench/work"));
        let p = Paths {
            host_bin: args
                .host_bin
                .clone()
                .unwrap_or_else(|| exe_dir.join("a2a-host")),
            ceiling_bin: args
                .ceiling_bin
                .clone()
                .unwrap_or_else(|| exe_dir.join("bench-ceiling")),
            examples: args
                .examples
                .clone()
                .unwrap_or_else(|| root.join("target/agents")),
            hostile: args.hostile.clone().unwrap_or_else(|| {
                root.join("tests/agents/target/wasm32-wasip2/release/hostile.wasm")
            }),
            out: args
                .out
                .clone()
                .unwrap_or_else(|| root.join("target/bench/results.json")),
            agents: work.join("agents"),
            cache: work.join("cache"),
            work,
        };
        // What the parts that run need (the ceiling serves the load and
        // memory phases, countdown the streams, hostile the cancels).
        let ceiling_serves = !args.skips("phases") || !args.skips("memory");
        let ceiling = ceiling_serves && !args.skips("ceiling");
        for (what, path, needed) in [
            ("a2a-host binary", &p.host_bin, true),
            ("ceiling binary", &p.ceiling_bin, ceiling),
            ("echo component", &p.examples.join("echo.wasm"), true),
            (
                "countdown component",
                &p.examples.join("countdown.wasm"),
                !args.skips("streams"),
            ),
            ("hostile test guest", &p.hostile, !args.skips("cancel")),
        ] {
            if needed && !path.is_file() {
                bail!(
                    "the {what} is missing at {} (run `cargo xtask bench`, which builds it)",
                    path.display()
                );
            }
        }
        Ok(p)
    }

    /// Empty the scratch folder and fill the agents folder a2a-host serves:
    /// echo, countdown (1 s ticks, long turns) and hostile (one turn at a
    /// time, so a stopped guest frees the slot the next task needs).
    fn prepare(&self) -> Result<()> {
        if self.work.exists() {
            std::fs::remove_dir_all(&self.work)
                .with_context(|| format!("emptying {}", self.work.display()))?;
        }
        std::fs::create_dir_all(self.work.join("logs"))?;
        std::fs::create_dir_all(&self.agents)?;
        // `resolve` checked what the parts that run need; the others may
        // be missing.
        std::fs::copy(
            self.examples.join("echo.wasm"),
            self.agents.join("echo.wasm"),
        )?;
        let countdown = self.examples.join("countdown.wasm");
        if countdown.is_file() {
            std::fs::copy(&countdown, self.agents.join("countdown.wasm"))?;
            std::fs::write(
                self.agents.join("countdown.toml"),
                "[limits]\ntimeout_secs = 900\n\n[config]\ntick_ms = 1000\n",
            )?;
        }
        if self.hostile.is_file() {
            std::fs::copy(&self.hostile, self.agents.join("hostile.wasm"))?;
            std::fs::write(
                self.agents.join("hostile.toml"),
                "[limits]\nmax_concurrent = 1\nqueue_timeout_secs = 60\n",
            )?;
        }
        Ok(())
    }
}

/// Start one of the three servers on a fresh port.
async fn start_server(name: &str, paths: &Paths, cores: Cores, tag: &str) -> Result<Server> {
    let addr = procs::free_port()?;
    let (program, args, ready) = if name == CEILING {
        (
            paths.ceiling_bin.clone(),
            vec!["--listen".to_string(), addr.to_string()],
            "/healthz",
        )
    } else {
        let store = if name == HOST_MEMORY {
            "memory".to_string()
        } else {
            format!(
                "sqlite:{}",
                paths.work.join(format!("{name}-{tag}.db")).display()
            )
        };
        (
            paths.host_bin.clone(),
            host_args(paths, addr, &store),
            "/readyz",
        )
    };
    let log = paths.work.join(format!("logs/{name}-{tag}.log"));
    let mut server = Server::start(name, &program, &args, cores.server, addr, &paths.work, &log)?;
    server.wait_ready(ready, Duration::from_secs(120)).await?;
    Ok(server)
}

/// (10) a2a-host on SQLite with `--push-allow-private` (the receiver is on
/// 127.0.0.1), the same tasks with and without an inline push config.
async fn push_phase(args: &RunArgs, paths: &Paths, cores: Cores) -> Result<push::PushResult> {
    say(format!("starting {PUSH_SERVER} (--push-allow-private)"));
    let addr = procs::free_port()?;
    let store = format!("sqlite:{}", paths.work.join("push.db").display());
    let mut host = host_args(paths, addr, &store);
    host.push("--push-allow-private".into());
    host.extend(args.push_serve_arg.iter().cloned());
    let log = paths.work.join(format!("logs/{PUSH_SERVER}.log"));
    let mut server = Server::start(
        PUSH_SERVER,
        &paths.host_bin,
        &host,
        cores.server,
        addr,
        &paths.work,
        &log,
    )?;
    server
        .wait_ready("/readyz", Duration::from_secs(120))
        .await?;
    let rounds = args.rounds;
    let mut run = 0u32;
    let result = push::run(
        &server,
        64,
        (args.push_tasks / 4).max(100),
        args.push_tasks,
        args.push_tasks * 5,
        rounds,
        |r| {
            run += 1;
            let round = run.div_ceil(2);
            let what = if r.push { "one push config" } else { "without push" };
            let notes = match r.notifications_per_s {
                Some(n) => format!(
                    "  {} notifications, {n:.0}/s, last {:.1} ms after the last answer, {} tasks incomplete",
                    r.notifications,
                    r.drain_ms.unwrap_or(f64::NAN),
                    r.incomplete_tasks
                ),
                None => String::new(),
            };
            say(format!(
                "{PUSH_SERVER} ({round}/{rounds}) {what:<15} {:>6.0} tasks/s  cpu/task {:>7.1} µs  errors {}{notes}",
                r.tasks_per_s,
                r.cpu_per_task_us.unwrap_or(f64::NAN),
                r.errors
            ));
            for e in &r.error_samples {
                say(format!("  error: {e}"));
            }
        },
    )
    .await;
    server.stop(Duration::from_secs(3));
    result
}

/// The arguments of `a2a-host serve` on `addr` with `store`, serving the
/// bench's agents folder with `echo` as the default agent.
fn host_args(paths: &Paths, addr: SocketAddr, store: &str) -> Vec<String> {
    vec![
        "serve".into(),
        "--agents".into(),
        paths.agents.display().to_string(),
        "--store".into(),
        store.to_string(),
        "--listen".into(),
        addr.to_string(),
        "--default-agent".into(),
        "echo".into(),
        "--cache-dir".into(),
        paths.cache.display().to_string(),
        "--drain-secs".into(),
        "1".into(),
    ]
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn say(msg: impl AsRef<str>) {
    eprintln!("bench: {}", msg.as_ref());
}

/// One line per measured phase (and its first errors).
fn say_phase(server: &str, r: &PhaseResult) {
    let mut services = String::new();
    for (name, s) in &r.services {
        services.push_str(&format!(
            "  {name} {:.1} µs/task",
            s.cpu_per_task_us.unwrap_or(f64::NAN)
        ));
    }
    say(format!(
        "{server:<16} {:<11} {:>7.0} tasks/s  cpu/task {:>7.1} µs  p50 {:>8.1} µs  p99 {:>8.1} µs  errors {}{services}",
        r.name,
        r.rps,
        r.cpu_per_task_us.unwrap_or(f64::NAN),
        r.latency.map_or(f64::NAN, |l| l.p50_us),
        r.latency.map_or(f64::NAN, |l| l.p99_us),
        r.errors
    ));
    for e in &r.error_samples {
        say(format!("  error: {e}"));
    }
}

fn machine_info(cores: Cores, nofile: Option<u64>) -> std::collections::BTreeMap<String, String> {
    let mut m = std::collections::BTreeMap::new();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if let Some(model) = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
    {
        m.insert("cpu".into(), model.trim().to_string());
    }
    m.insert("cpus".into(), procs::online_cpus().to_string());
    if let Some(mem) = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().map(str::to_string))
    {
        m.insert(
            "memory".into(),
            mem.trim_start_matches("MemTotal:").trim().to_string(),
        );
    }
    if let Ok(k) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        m.insert("kernel".into(), k.trim().to_string());
    }
    m.insert(
        "pinning".into(),
        match (cores.server, cores.loadgen) {
            (Some(s), Some(l)) => format!("servers on core {s}, load generator on core {l}"),
            _ => "none (fewer than 2 cores or no taskset)".into(),
        },
    );
    if let Some(n) = nofile {
        m.insert("nofile_limit".into(), n.to_string());
    }
    m
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run(args: RunArgs, cores: Cores) -> Result<()> {
    let started = Instant::now();
    let paths = Paths::resolve(&args)?;
    paths.prepare()?;
    let nofile = match procs::raise_nofile() {
        Ok(n) => Some(n),
        Err(e) => {
            say(format!("cannot raise the open-file limit: {e:#}"));
            None
        }
    };
    let mut results = Results {
        machine: machine_info(cores, nofile),
        ..Default::default()
    };
    let s = &mut results.settings;
    s.insert("warmup_s".into(), args.warmup_secs.to_string());
    s.insert("window_s".into(), args.phase_secs.to_string());
    s.insert("rpc64_rounds".into(), args.rounds.to_string());
    s.insert("streams".into(), args.streams.to_string());
    s.insert("tasks_checkpoints".into(), format!("{:?}", args.tasks));
    s.insert("loadavg_at_start".into(), loadavg());
    s.insert("quick".into(), args.quick.to_string());
    s.insert("push_tasks".into(), args.push_tasks.to_string());
    if !args.push_serve_arg.is_empty() {
        s.insert("push_serve_args".into(), args.push_serve_arg.join(" "));
    }
    s.insert("profile".into(), profile_name());
    if let Some(b) = args.build_secs {
        results.timings.insert("build_s".into(), b);
    }

    let mut servers: Vec<&str> = Vec::new();
    for (name, skip) in [
        (CEILING, "ceiling"),
        (HOST_MEMORY, "memory-store"),
        (HOST_SQLITE, "sqlite"),
    ] {
        if !args.skips(skip) {
            servers.push(name);
            results
                .servers
                .insert(name.to_string(), ServerResults::default());
        }
    }

    // (7) The sandbox alone, in this process, before any server runs.
    if !args.skips("inprocess") {
        say("in-process: echo instantiate + handle");
        let r = inproc::run(
            &paths.examples.join("echo.wasm"),
            &paths.work.join("inproc-cache"),
            secs(args.warmup_secs),
            secs(args.phase_secs.min(3.0)),
        )
        .await?;
        say(format!(
            "  p50 {:.1} µs, p99 {:.1} µs over {} turns",
            r.latency.p50_us, r.latency.p99_us, r.iterations
        ));
        results.inprocess = Some(r);
    }

    // (1)-(3) Load phases, interleaved across the servers so that noise
    // from the rest of the machine spreads over all of them. The primary
    // phase runs `--rounds` times over, the servers taking turns: each
    // server's median round is its figure, and the CPU targets take the
    // median of the round-by-round ratios, so that they do not hang on a
    // single window of this machine's changing speed.
    if !args.skips("phases") {
        let mut running = Vec::new();
        for name in &servers {
            say(format!("starting {name}"));
            running.push(start_server(name, &paths, cores, "load").await?);
        }
        let plan = [
            (RPC1, Kind::JsonRpc, 1),
            (RPC64, Kind::JsonRpc, 64),
            (REST64, Kind::Rest, 64),
            (STREAM1, Kind::Stream, 1),
            (STREAM64, Kind::Stream, 64),
        ];
        for (key, kind, conc) in plan {
            let rounds = if key == RPC64 { args.rounds } else { 1 };
            let mut measured: Vec<Vec<PhaseResult>> = vec![Vec::new(); running.len()];
            for round in 1..=rounds {
                for (server, out) in running.iter().zip(&mut measured) {
                    let r = load::phase(
                        &load::Target::one(server),
                        key,
                        kind,
                        conc,
                        secs(args.warmup_secs),
                        secs(args.phase_secs),
                        cores.server,
                    )
                    .await?;
                    let label = if rounds > 1 {
                        format!("{} ({round}/{rounds})", server.name)
                    } else {
                        server.name.clone()
                    };
                    say_phase(&label, &r);
                    out.push(r);
                }
            }
            for (server, rs) in running.iter().zip(measured) {
                let Some(sr) = results.servers.get_mut(&server.name) else {
                    continue;
                };
                if key == RPC64 {
                    sr.set_rpc64_rounds(rs);
                } else if let Some(r) = rs.into_iter().next() {
                    sr.phases.insert(key.to_string(), r);
                }
            }
        }
        for mut s in running {
            s.stop(Duration::from_secs(3));
        }
    }

    // (9) PostgreSQL + Redis: one process, then two sharing the work.
    if !args.skips("cluster") {
        let services = cluster::Services::from_env();
        match services.probe().await {
            Err(reason) => {
                say(format!("cluster phase skipped: {reason}"));
                results
                    .notes
                    .push(format!("cluster phase skipped: {reason}"));
            }
            Ok(()) => {
                for (name, processes) in [(CLUSTER_1, 1), (CLUSTER_2, 2)] {
                    let noun = if processes == 1 {
                        "process"
                    } else {
                        "processes"
                    };
                    say(format!(
                        "starting {name}: {processes} {noun} on PostgreSQL + Redis"
                    ));
                    match cluster::run(
                        name,
                        processes,
                        &paths,
                        cores,
                        &services,
                        secs(args.warmup_secs),
                        secs(args.phase_secs),
                    )
                    .await
                    {
                        Ok(r) => {
                            say_phase(name, &r);
                            results
                                .servers
                                .entry(name.to_string())
                                .or_default()
                                .phases
                                .insert(RPC64.to_string(), r);
                        }
                        Err(e) => {
                            say(format!("  {name} failed: {e:#}"));
                            results.notes.push(format!("{name} failed: {e:#}"));
                        }
                    }
                }
            }
        }
    }

    // (10) Push notifications on SQLite: one push config against none.
    if !args.skips("push") {
        match push_phase(&args, &paths, cores).await {
            Ok(r) => results.push = Some(r),
            Err(e) => {
                say(format!("  push phase failed: {e:#}"));
                results.notes.push(format!("push phase failed: {e:#}"));
            }
        }
    }

    // (5) and (8), a2a-host only, each on a fresh server so that the tasks
    // the load phases left in the memory store do not count.
    if !args.skips("streams") || !args.skips("cancel") {
        for name in servers.iter().filter(|n| **n != CEILING) {
            let mut server = start_server(name, &paths, cores, "streams").await?;
            if !args.skips("streams") {
                say(format!("{name}: {} SubscribeToTask streams", args.streams));
                match scenarios::streams(&server, args.streams, Duration::from_secs(1)).await {
                    Ok(r) => {
                        say(format!(
                            "  {} open in {:.1} s, RSS {:.1} MiB, event reached all in {:.1} ms ({} missed)",
                            r.opened,
                            r.open_s,
                            r.rss_with_streams_bytes as f64 / 1048576.0,
                            r.reach_all_ms,
                            r.missed
                        ));
                        if let Some(sr) = results.servers.get_mut(*name) {
                            sr.streams = Some(r);
                        }
                    }
                    Err(e) => {
                        say(format!("  streams failed: {e:#}"));
                        results.notes.push(format!("{name}: streams failed: {e:#}"));
                    }
                }
                if !server.alive() {
                    bail!(
                        "{name} died during the streams test; log {}",
                        server.log.display()
                    );
                }
            }
            if !args.skips("cancel") {
                say(format!("{name}: CancelTask on a CPU loop"));
                let r = scenarios::cancel(&server, args.cancels).await?;
                say(format!(
                    "  canceled after {:.1} ms (p50), guest stopped after {:.0} ms (p50)",
                    r.cancel_p50_ms, r.stopped_p50_ms
                ));
                if let Some(sr) = results.servers.get_mut(*name) {
                    sr.cancel = Some(r);
                }
            }
            server.stop(Duration::from_secs(3));
        }
    }

    // (4) Resident memory after N tasks, each server started afresh.
    if !args.skips("memory") {
        for name in &servers {
            let server = start_server(name, &paths, cores, "memory").await?;
            say(format!(
                "{name}: resident memory after {:?} tasks",
                args.tasks
            ));
            let r = scenarios::memory(&server, &args.tasks, secs(args.memory_secs)).await?;
            say(format!(
                "  {:?} (tasks, RSS bytes); {:.1} s",
                r.checkpoints, r.elapsed_s
            ));
            if let Some(sr) = results.servers.get_mut(*name) {
                sr.memory = Some(r);
            }
        }
    }

    // (6) Start-up with 20 agents, cold then warm.
    if !args.skips("startup") {
        let dir = paths.work.join("startup-agents");
        scenarios::make_agents_folder(&paths.examples, &dir, args.startup_agents)?;
        say(format!("start-up with {} agents", args.startup_agents));
        let r = scenarios::startup(
            &paths.host_bin,
            &dir,
            &paths.work,
            cores.server,
            args.warm_starts,
        )
        .await?;
        say(format!(
            "  cold {:.0} ms, warm {:?} ms",
            r.cold_ms, r.warm_ms
        ));
        results.startup = Some(r);
    }

    results.settings.insert("loadavg_at_end".into(), loadavg());
    results
        .timings
        .insert("run_s".into(), started.elapsed().as_secs_f64());
    results.compute_ratios();
    results.check_targets();

    let table = results.table();
    println!("\n{table}");
    println!("{}", results.diagnostics());
    println!("Targets (issue 7):\n{}", results.targets_text());
    for n in &results.notes {
        println!("note: {n}");
    }
    if let Some(dir) = paths.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_string_pretty(&results)?;
    std::fs::write(&paths.out, json).with_context(|| format!("writing {}", paths.out.display()))?;
    let table_path = paths.out.with_extension("md");
    std::fs::write(&table_path, &table)?;
    println!(
        "results: {} (table: {}); run took {:.0} s",
        paths.out.display(),
        table_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
