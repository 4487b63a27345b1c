//! The results of one run: the table (markdown, printed and reusable in the
//! README), the targets of issue 7 checked against the figures, and the
//! JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::inproc::InprocResult;
use crate::load::PhaseResult;
use crate::push::{PushResult, PushRun};
use crate::scenarios::{CancelResult, MemoryResult, StartupResult, StreamsResult};

/// The servers, in column order.
pub const CEILING: &str = "ceiling";
pub const HOST_MEMORY: &str = "a2a-host-memory";
pub const HOST_SQLITE: &str = "a2a-host-sqlite";
pub const SERVERS: [&str; 3] = [CEILING, HOST_MEMORY, HOST_SQLITE];
/// a2a-host on PostgreSQL + Redis: one process, and two sharing the work.
pub const CLUSTER_1: &str = "a2a-host-pg-redis-1proc";
pub const CLUSTER_2: &str = "a2a-host-pg-redis-2proc";
/// a2a-host on SQLite with `--push-allow-private`: the push phase.
pub const PUSH_SERVER: &str = "a2a-host-sqlite-push";
/// The cluster setups, in column order.
pub const CLUSTERS: [&str; 2] = [CLUSTER_1, CLUSTER_2];

/// The most server CPU per task that one push config may cost, as a
/// multiple of the same task's without push (SQLite, both).
pub const PUSH_CPU_LIMIT: f64 = 1.5;

/// Phase keys.
pub const RPC1: &str = "jsonrpc_c1";
pub const RPC64: &str = "jsonrpc_c64";
pub const REST64: &str = "rest_c64";
pub const STREAM1: &str = "stream_c1";
pub const STREAM64: &str = "stream_c64";

/// Everything measured on one server.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ServerResults {
    pub phases: BTreeMap<String, PhaseResult>,
    /// Every round of the primary phase (JSON-RPC, c=64), in run order.
    /// `phases[RPC64]` is the round with the median CPU per task.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rpc64_rounds: Vec<PhaseResult>,
    pub memory: Option<MemoryResult>,
    pub streams: Option<StreamsResult>,
    pub cancel: Option<CancelResult>,
}

impl ServerResults {
    /// Records the rounds of the primary phase and keeps the median one
    /// (by CPU per task; the lower of the two middle ones for an even
    /// count) as the phase's figures.
    pub fn set_rpc64_rounds(&mut self, rounds: Vec<PhaseResult>) {
        let mut order: Vec<&PhaseResult> = rounds.iter().collect();
        order.sort_by(|a, b| {
            let key = |p: &PhaseResult| p.cpu_per_task_us.unwrap_or(f64::INFINITY);
            key(a).total_cmp(&key(b))
        });
        if let Some(median) = order.get(order.len().saturating_sub(1) / 2) {
            self.phases.insert(RPC64.to_string(), (*median).clone());
        }
        self.rpc64_rounds = rounds;
    }
}

/// One target of the issue and whether it holds.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub target: String,
    pub measured: String,
    /// `None`: not measured in this run.
    pub holds: Option<bool>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Results {
    pub machine: BTreeMap<String, String>,
    pub settings: BTreeMap<String, String>,
    pub servers: BTreeMap<String, ServerResults>,
    pub startup: Option<StartupResult>,
    pub inprocess: Option<InprocResult>,
    /// Push notifications on SQLite: with one push config against none.
    pub push: Option<PushResult>,
    /// a2a-host figure / ceiling figure, per server and metric.
    pub ratios: BTreeMap<String, BTreeMap<String, f64>>,
    pub targets: Vec<TargetCheck>,
    /// Seconds: this run, and the release build before it (when known).
    pub timings: BTreeMap<String, f64>,
    pub notes: Vec<String>,
}

/// How a row's numbers print.
#[derive(Clone, Copy)]
enum Unit {
    PerSec,
    Micros,
    Millis,
    MiB,
    Bytes,
    /// A plain number with one decimal.
    Decimal,
}

/// The median of `values` (the mean of the two middle ones for an even
/// count); `NaN` for none.
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A table cell: the value in its unit, or `n/a`.
fn cell(unit: Unit, v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), |v| fmt(unit, v))
}

/// A ratio cell: `v ÷ base`, empty where the row has no ratio or a value
/// is missing.
fn ratio(shown: bool, base: Option<f64>, v: Option<f64>) -> String {
    match (shown, base, v) {
        (true, Some(b), Some(v)) if b > 0.0 => format!("{:.2}×", v / b),
        _ => String::new(),
    }
}

fn fmt(unit: Unit, v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    match unit {
        Unit::PerSec => format!("{v:.0}"),
        Unit::Micros if v >= 1000.0 => format!("{:.2} ms", v / 1000.0),
        Unit::Micros => format!("{v:.1} µs"),
        Unit::Millis => format!("{v:.1} ms"),
        Unit::MiB => format!("{:.1} MiB", v / (1024.0 * 1024.0)),
        Unit::Bytes if v.abs() >= 10_240.0 => format!("{:.1} KiB", v / 1024.0),
        Unit::Bytes => format!("{v:.0} B"),
        Unit::Decimal => format!("{v:.1}"),
    }
}

/// Each push round's CPU per task with push over without.
pub fn push_round_ratios(p: &PushResult) -> Vec<Option<f64>> {
    p.rounds
        .iter()
        .map(
            |(without, with)| match (with.cpu_per_task_us, without.cpu_per_task_us) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            },
        )
        .collect()
}

/// The push round with the median CPU ratio (the lower of the two middle
/// ones for an even count; a round without a ratio sorts last).
fn push_median_round(p: &PushResult) -> Option<&(PushRun, PushRun)> {
    let ratios = push_round_ratios(p);
    let mut order: Vec<usize> = (0..p.rounds.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| ratios[i].unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b))
    });
    let i = *order.get(order.len().saturating_sub(1) / 2)?;
    p.rounds.get(i)
}

struct Row {
    label: String,
    unit: Unit,
    values: [Option<f64>; 3],
    /// Whether a ratio to the ceiling is printed (and recorded).
    key: Option<String>,
}

/// A row of the cluster table: [`SERVERS`] then [`CLUSTERS`].
struct ClusterRow {
    label: String,
    unit: Unit,
    values: [Option<f64>; 5],
    /// Whether ratios to the ceiling are printed (and recorded) for the
    /// cluster columns.
    key: Option<String>,
}

impl Results {
    fn server(&self, name: &str) -> Option<&ServerResults> {
        self.servers.get(name)
    }

    /// `server`'s CPU per task over the ceiling's, round by round of the
    /// primary phase (one entry per round of `server`, `None` where either
    /// figure is missing): each pair ran back to back, so host drift
    /// between rounds cancels out of each ratio.
    pub fn round_ratios(&self, server: &str) -> Vec<Option<f64>> {
        let cpu = |name: &str| -> Vec<Option<f64>> {
            self.server(name).map_or(Vec::new(), |r| {
                r.rpc64_rounds.iter().map(|p| p.cpu_per_task_us).collect()
            })
        };
        let base = cpu(CEILING);
        cpu(server)
            .into_iter()
            .enumerate()
            .map(|(i, v)| match (v, base.get(i).copied().flatten()) {
                (Some(v), Some(b)) if b > 0.0 => Some(v / b),
                _ => None,
            })
            .collect()
    }

    fn phase_value(
        &self,
        phase: &str,
        f: impl Fn(&PhaseResult) -> Option<f64>,
    ) -> [Option<f64>; 3] {
        SERVERS.map(|s| self.server(s)?.phases.get(phase).and_then(&f))
    }

    fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        let mut phase_rows = |phase: &str, title: &str, stream: bool| {
            rows.push(Row {
                label: format!("{title}: server CPU per task"),
                unit: Unit::Micros,
                values: self.phase_value(phase, |p| p.cpu_per_task_us),
                key: Some(format!("{phase}.cpu_per_task")),
            });
            rows.push(Row {
                label: format!("{title}: tasks/s"),
                unit: Unit::PerSec,
                values: self.phase_value(phase, |p| Some(p.rps)),
                key: Some(format!("{phase}.rps")),
            });
            if stream {
                for (q, name) in [(50, "p50"), (99, "p99")] {
                    rows.push(Row {
                        label: format!("{title}: first event {name}"),
                        unit: Unit::Micros,
                        values: self.phase_value(phase, |p| {
                            p.first_event
                                .map(|l| if q == 50 { l.p50_us } else { l.p99_us })
                        }),
                        key: Some(format!("{phase}.first_event_{name}")),
                    });
                }
            }
            for (q, name) in [(50, "p50"), (99, "p99")] {
                let what = if stream { "end of stream" } else { "latency" };
                rows.push(Row {
                    label: format!("{title}: {what} {name}"),
                    unit: Unit::Micros,
                    values: self.phase_value(phase, |p| {
                        p.latency.map(|l| if q == 50 { l.p50_us } else { l.p99_us })
                    }),
                    key: Some(format!("{phase}.{name}")),
                });
            }
        };
        phase_rows(RPC1, "JSON-RPC send, c=1", false);
        phase_rows(RPC64, "JSON-RPC send, c=64", false);
        phase_rows(REST64, "HTTP+JSON send, c=64", false);
        phase_rows(STREAM1, "JSON-RPC stream, c=1", true);
        phase_rows(STREAM64, "JSON-RPC stream, c=64", true);

        let mem = |f: &dyn Fn(&MemoryResult) -> Option<f64>| {
            SERVERS.map(|s| self.server(s)?.memory.as_ref().and_then(f))
        };
        rows.push(Row {
            label: "RSS after start-up".into(),
            unit: Unit::MiB,
            values: mem(&|m| Some(m.rss_start_bytes as f64)),
            key: Some("rss_start".into()),
        });
        for n in [10_000u64, 100_000] {
            rows.push(Row {
                label: format!("RSS after {}k tasks", n / 1000),
                unit: Unit::MiB,
                values: mem(&|m| {
                    m.checkpoints
                        .iter()
                        .find(|(c, _)| *c == n)
                        .map(|(_, r)| *r as f64)
                }),
                key: Some(format!("rss_{}k", n / 1000)),
            });
        }
        rows.push(Row {
            label: "RSS growth per retained task".into(),
            unit: Unit::Bytes,
            values: mem(&|m| m.bytes_per_task),
            key: None,
        });

        let streams = |f: &dyn Fn(&StreamsResult) -> f64| {
            SERVERS.map(|s| self.server(s)?.streams.as_ref().map(f))
        };
        if let Some(n) = SERVERS
            .iter()
            .find_map(|s| self.server(s)?.streams.as_ref().map(|r| r.wanted))
        {
            rows.push(Row {
                label: format!("{n} SubscribeToTask streams: RSS"),
                unit: Unit::MiB,
                values: streams(&|r| r.rss_with_streams_bytes as f64),
                key: None,
            });
            rows.push(Row {
                label: format!("{n} streams: memory per stream"),
                unit: Unit::Bytes,
                values: streams(&|r| r.bytes_per_stream),
                key: None,
            });
            rows.push(Row {
                label: format!("{n} streams: one event reaches all"),
                unit: Unit::Millis,
                values: streams(&|r| r.reach_all_ms),
                key: None,
            });
        }
        let startup = self.startup.as_ref();
        let agents = startup.map_or(20, |s| s.agents);
        rows.push(Row {
            label: format!("start-up, {agents} agents, cold (compiling)"),
            unit: Unit::Millis,
            values: [None, startup.map(|s| s.cold_ms), None],
            key: None,
        });
        rows.push(Row {
            label: format!("start-up, {agents} agents, warm (cache)"),
            unit: Unit::Millis,
            values: [None, startup.map(|s| s.warm_median_ms), None],
            key: None,
        });
        let inproc = self.inprocess.as_ref();
        rows.push(Row {
            label: "echo instantiate + handle, in-process, p50".into(),
            unit: Unit::Micros,
            values: [None, inproc.map(|r| r.latency.p50_us), None],
            key: None,
        });
        rows.push(Row {
            label: "echo instantiate + handle, in-process, p99".into(),
            unit: Unit::Micros,
            values: [None, inproc.map(|r| r.latency.p99_us), None],
            key: None,
        });
        rows.push(Row {
            label: "echo instantiate + handle, CPU per task".into(),
            unit: Unit::Micros,
            values: [None, inproc.map(|r| r.thread_cpu_per_task_us), None],
            key: None,
        });
        let cancel = |f: &dyn Fn(&CancelResult) -> f64| {
            SERVERS.map(|s| self.server(s)?.cancel.as_ref().map(f))
        };
        rows.push(Row {
            label: "CancelTask on a CPU loop -> canceled, p50".into(),
            unit: Unit::Millis,
            values: cancel(&|c| c.cancel_p50_ms),
            key: None,
        });
        rows.push(Row {
            label: "CancelTask on a CPU loop -> canceled, max".into(),
            unit: Unit::Millis,
            values: cancel(&|c| c.cancel_max_ms),
            key: None,
        });
        rows.push(Row {
            label: "CancelTask -> guest stopped (slot free), p50".into(),
            unit: Unit::Millis,
            values: cancel(&|c| c.stopped_p50_ms),
            key: None,
        });
        rows
    }

    /// Fill `ratios` from the rows (and the push phase's ratios).
    pub fn compute_ratios(&mut self) {
        if let Some(p) = &mut self.push {
            p.cpu_ratios = push_round_ratios(p);
            let judged: Vec<f64> = p.cpu_ratios.iter().copied().flatten().collect();
            p.cpu_ratio = (!judged.is_empty()).then(|| median(&judged));
        }
        let mut ratios: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for row in self.rows() {
            let (Some(key), Some(base)) = (&row.key, row.values[0]) else {
                continue;
            };
            for (i, server) in SERVERS.iter().enumerate().skip(1) {
                if let Some(v) = row.values[i]
                    && base > 0.0
                {
                    ratios
                        .entry(server.to_string())
                        .or_default()
                        .insert(key.clone(), v / base);
                }
            }
        }
        for row in self.cluster_rows() {
            let (Some(key), Some(base)) = (&row.key, row.values[0]) else {
                continue;
            };
            for (i, server) in CLUSTERS.iter().enumerate() {
                if let Some(v) = row.values[SERVERS.len() + i]
                    && base > 0.0
                {
                    ratios
                        .entry(server.to_string())
                        .or_default()
                        .insert(key.clone(), v / base);
                }
            }
        }
        self.ratios = ratios;
    }

    /// The rows of the cluster table: blocking JSON-RPC at c=64 on the
    /// three servers of the load phases, then on PostgreSQL + Redis with one
    /// and two processes. Values in [`SERVERS`] then [`CLUSTERS`] order.
    fn cluster_rows(&self) -> Vec<ClusterRow> {
        let value = |f: &dyn Fn(&PhaseResult) -> Option<f64>| -> [Option<f64>; 5] {
            let mut out = [None; 5];
            for (i, s) in SERVERS.iter().chain(&CLUSTERS).enumerate() {
                out[i] = self.server(s).and_then(|r| r.phases.get(RPC64)).and_then(f);
            }
            out
        };
        let service = |name: &'static str| {
            move |p: &PhaseResult| p.services.get(name).and_then(|s| s.cpu_per_task_us)
        };
        let row = |label: &str, unit, values, key: Option<&str>| ClusterRow {
            label: label.to_string(),
            unit,
            values,
            key: key.map(|k| format!("{RPC64}.{k}")),
        };
        vec![
            row(
                "tasks/s",
                Unit::PerSec,
                value(&|p| Some(p.rps)),
                Some("rps"),
            ),
            row(
                "latency p50",
                Unit::Micros,
                value(&|p| p.latency.map(|l| l.p50_us)),
                Some("p50"),
            ),
            row(
                "latency p99",
                Unit::Micros,
                value(&|p| p.latency.map(|l| l.p99_us)),
                Some("p99"),
            ),
            row(
                "server CPU per task (all a2a-host processes)",
                Unit::Micros,
                value(&|p| p.cpu_per_task_us),
                Some("cpu_per_task"),
            ),
            row(
                "PostgreSQL CPU per task",
                Unit::Micros,
                value(&service("postgresql")),
                None,
            ),
            row(
                "Redis CPU per task",
                Unit::Micros,
                value(&service("redis")),
                None,
            ),
            row(
                "CPU per task, servers + PostgreSQL + Redis",
                Unit::Micros,
                value(&|p| {
                    let services: Option<f64> =
                        p.services.values().map(|s| s.cpu_per_task_us).sum();
                    Some(p.cpu_per_task_us? + services?)
                }),
                Some("total_cpu_per_task"),
            ),
        ]
    }

    /// The cluster table in markdown, or nothing when the cluster phase
    /// did not run.
    fn cluster_table(&self) -> String {
        let mut out = String::new();
        if !CLUSTERS.iter().any(|s| self.servers.contains_key(*s)) {
            return out;
        }
        out.push_str(
            "| JSON-RPC send, c=64 | ceiling | a2a-host, memory | a2a-host, SQLite \
             | PostgreSQL + Redis, 1 process | ÷ ceiling \
             | PostgreSQL + Redis, 2 processes | ÷ ceiling |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for row in self.cluster_rows() {
            let cell = |v: Option<f64>| cell(row.unit, v);
            let ratio = |i: usize| ratio(row.key.is_some(), row.values[0], row.values[i]);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                row.label,
                cell(row.values[0]),
                cell(row.values[1]),
                cell(row.values[2]),
                cell(row.values[3]),
                ratio(3),
                cell(row.values[4]),
                ratio(4),
            );
        }
        out
    }

    /// The table in markdown.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "| measure | ceiling | a2a-host, memory | ÷ ceiling | a2a-host, SQLite | ÷ ceiling |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|\n");
        for row in self.rows() {
            let cell = |v: Option<f64>| cell(row.unit, v);
            let ratio = |i: usize| ratio(row.key.is_some(), row.values[0], row.values[i]);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.label,
                cell(row.values[0]),
                cell(row.values[1]),
                ratio(1),
                cell(row.values[2]),
                ratio(2),
            );
        }
        let cluster = self.cluster_table();
        if !cluster.is_empty() {
            out.push('\n');
            out.push_str(&cluster);
        }
        let push = self.push_table();
        if !push.is_empty() {
            out.push('\n');
            out.push_str(&push);
        }
        out
    }

    /// The push table in markdown (the median round, by CPU ratio), or
    /// nothing when the push phase did not run.
    fn push_table(&self) -> String {
        let mut out = String::new();
        let Some(p) = &self.push else { return out };
        let Some((without, with)) = push_median_round(p) else {
            return out;
        };
        let rounds = if p.rounds.len() > 1 {
            format!(" (median of {} rounds)", p.rounds.len())
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| SQLite, JSON-RPC send, c={}{rounds} | without push | one push config | with ÷ without |",
            with.concurrency
        );
        out.push_str("|---|---:|---:|---:|\n");
        let lat = |r: &PushRun, q: u8| r.latency.map(|l| if q == 50 { l.p50_us } else { l.p99_us });
        // (label, unit, without, with, whether the ratio shows)
        type PushRow<'a> = (&'a str, Unit, Option<f64>, Option<f64>, bool);
        let rows: [PushRow; 7] = [
            (
                "server CPU per task (deliveries included)",
                Unit::Micros,
                without.cpu_per_task_us,
                with.cpu_per_task_us,
                true,
            ),
            (
                "tasks/s",
                Unit::PerSec,
                Some(without.tasks_per_s),
                Some(with.tasks_per_s),
                true,
            ),
            (
                "latency p50",
                Unit::Micros,
                lat(without, 50),
                lat(with, 50),
                true,
            ),
            (
                "latency p99",
                Unit::Micros,
                lat(without, 99),
                lat(with, 99),
                true,
            ),
            (
                "notifications per task",
                Unit::Decimal,
                None,
                (with.tasks > 0).then(|| with.notifications as f64 / with.tasks as f64),
                false,
            ),
            (
                "notifications/s to the receiver (first send to last notification)",
                Unit::PerSec,
                None,
                with.notifications_per_s,
                false,
            ),
            (
                "last notification after the last answer",
                Unit::Millis,
                None,
                with.drain_ms,
                false,
            ),
        ];
        for (label, unit, a, b, shown) in rows {
            let _ = writeln!(
                out,
                "| {label} | {} | {} | {} |",
                if a.is_none() && !shown {
                    String::new()
                } else {
                    cell(unit, a)
                },
                cell(unit, b),
                ratio(shown, a, b),
            );
        }
        out
    }

    /// Utilisation and errors per phase: is the load generator the limit,
    /// and how noisy was the machine.
    pub fn diagnostics(&self) -> String {
        let mut out = String::new();
        out.push_str("| server | phase | tasks | errors | server CPU | load gen CPU | others on server core |\n");
        out.push_str("|---|---|---:|---:|---:|---:|---:|\n");
        for s in SERVERS.into_iter().chain(CLUSTERS) {
            let Some(r) = self.server(s) else { continue };
            for p in [RPC1, RPC64, REST64, STREAM1, STREAM64] {
                let Some(ph) = r.phases.get(p) else { continue };
                let _ = writeln!(
                    out,
                    "| {s} | {p} | {} | {} | {:.0}% | {:.0}% | {} |",
                    ph.completed,
                    ph.errors,
                    ph.server_util * 100.0,
                    ph.loadgen_util * 100.0,
                    ph.foreign_util
                        .map_or("n/a".into(), |f| format!("{:.0}%", f * 100.0)),
                );
            }
        }
        if let Some(p) = &self.push {
            out.push_str(
                "\n| push, round | without: CPU per task | with: CPU per task | with ÷ without \
                 | notifications/s | tasks without / with | errors | tasks missing notifications |\n",
            );
            out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
            let ratios = push_round_ratios(p);
            for (i, (without, with)) in p.rounds.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} / {} | {} | {} |",
                    i + 1,
                    cell(Unit::Micros, without.cpu_per_task_us),
                    cell(Unit::Micros, with.cpu_per_task_us),
                    ratios[i].map_or("n/a".into(), |x| format!("{x:.2}×")),
                    cell(Unit::PerSec, with.notifications_per_s),
                    without.tasks,
                    with.tasks,
                    without.errors + with.errors,
                    with.incomplete_tasks,
                );
            }
        }
        let rounds = |s: &str| self.server(s).map_or(0, |r| r.rpc64_rounds.len());
        if rounds(CEILING) > 1 {
            out.push_str(
                "\n| JSON-RPC c=64, round by round | CPU per task | ÷ ceiling, same round |\n",
            );
            out.push_str("|---|---:|---:|\n");
            for s in SERVERS {
                let Some(r) = self.server(s) else { continue };
                let ratios = if s == CEILING {
                    Vec::new()
                } else {
                    self.round_ratios(s)
                };
                for (i, ph) in r.rpc64_rounds.iter().enumerate() {
                    let ratio = ratios
                        .get(i)
                        .copied()
                        .flatten()
                        .map_or(String::new(), |x| format!("{x:.2}×"));
                    let _ = writeln!(
                        out,
                        "| {s}, round {} | {} | {ratio} |",
                        i + 1,
                        cell(Unit::Micros, ph.cpu_per_task_us),
                    );
                }
            }
        }
        out
    }

    /// Check the targets of issue 7.
    pub fn check_targets(&mut self) {
        let mut t = Vec::new();
        let phase = |s: &str, p: &str| self.server(s).and_then(|r| r.phases.get(p)).cloned();
        let cpu = |s: &str| phase(s, RPC64).and_then(|p| p.cpu_per_task_us);
        let base_cpu = cpu(CEILING);
        for (server, limit) in [(HOST_MEMORY, 3.0), (HOST_SQLITE, 6.0)] {
            // With several rounds the target is judged on the median of the
            // round-by-round ratios: each pairs windows that ran back to
            // back, so a change of the host's speed between rounds cancels
            // out of it, which it does not out of a ratio of medians.
            let rounds: Vec<f64> = self.round_ratios(server).into_iter().flatten().collect();
            let (holds, measured) = match (cpu(server), base_cpu) {
                (Some(v), Some(b)) if rounds.len() > 1 => {
                    let judged = median(&rounds);
                    let each: Vec<String> = rounds.iter().map(|r| format!("{r:.2}×")).collect();
                    (
                        Some(judged <= limit),
                        format!(
                            "{judged:.2}×, the median of {} interleaved rounds' ratios ({}); median rounds {v:.1} µs vs ceiling {b:.1} µs = {:.2}×",
                            rounds.len(),
                            each.join(", "),
                            v / b
                        ),
                    )
                }
                (Some(v), Some(b)) => (
                    Some(v <= limit * b),
                    format!("{v:.1} µs vs ceiling {b:.1} µs = {:.2}×", v / b),
                ),
                _ => (None, "not measured".into()),
            };
            t.push(TargetCheck {
                target: format!(
                    "{server}: server CPU per task (JSON-RPC, c=64) ≤ {limit}× the ceiling's"
                ),
                measured,
                holds,
            });
        }
        let p99 = |s: &str, p: &str| phase(s, p).and_then(|p| p.latency).map(|l| l.p99_us);
        let p50 = |s: &str, p: &str| phase(s, p).and_then(|p| p.latency).map(|l| l.p50_us);
        for server in [HOST_MEMORY, HOST_SQLITE] {
            let (holds, measured) = match (p99(server, RPC1), p99(CEILING, RPC1)) {
                (Some(v), Some(b)) => (
                    Some(v <= 2.0 * b),
                    format!("p99 {v:.0} µs vs ceiling {b:.0} µs = {:.2}×", v / b),
                ),
                _ => (None, "not measured".into()),
            };
            t.push(TargetCheck {
                target: format!("{server}: JSON-RPC c=1 p99 ≤ 2× the ceiling's p99"),
                measured,
                holds,
            });
            for p in [RPC64, REST64] {
                let (holds, measured) = match (p99(server, p), p50(server, p)) {
                    (Some(a), Some(b)) => (
                        Some(a <= 2.0 * b),
                        format!("p99 {a:.0} µs, p50 {b:.0} µs = {:.2}×", a / b),
                    ),
                    _ => (None, "not measured".into()),
                };
                t.push(TargetCheck {
                    target: format!("{server}: {p} no long tail (p99 ≤ 2× own p50)"),
                    measured,
                    holds,
                });
            }
            let ttfe = |s: &str| phase(s, STREAM1).and_then(|p| p.first_event);
            let (holds, measured) = match (ttfe(server), ttfe(CEILING)) {
                (Some(v), Some(b)) => (
                    Some(v.p50_us <= 2.0 * b.p50_us),
                    format!(
                        "p50 {:.0} µs vs ceiling {:.0} µs = {:.2}× (p99 {:.0} vs {:.0} µs)",
                        v.p50_us,
                        b.p50_us,
                        v.p50_us / b.p50_us,
                        v.p99_us,
                        b.p99_us
                    ),
                ),
                _ => (None, "not measured".into()),
            };
            t.push(TargetCheck {
                target: format!("{server}: stream c=1 time to first event ≤ 2× the ceiling's"),
                measured,
                holds,
            });
        }
        let memory = |s: &str| self.server(s).and_then(|r| r.memory.clone());
        match memory(HOST_SQLITE) {
            Some(m) => {
                let (a, b) = (m.rss_at(10_000), m.rss_at(100_000));
                let (holds, measured) = match (a, b) {
                    (Some(a), Some(b)) if m.complete => (
                        Some(b as f64 <= 1.25 * a as f64),
                        format!(
                            "{:.1} MiB after 10k, {:.1} MiB after 100k = {:.2}×",
                            a as f64 / 1048576.0,
                            b as f64 / 1048576.0,
                            b as f64 / a as f64
                        ),
                    ),
                    _ => (
                        None,
                        format!("only {:?} reached", m.checkpoints.last().map(|c| c.0)),
                    ),
                };
                t.push(TargetCheck {
                    target: "SQLite: RSS after 100k tasks ≤ 1.25× RSS after 10k".into(),
                    measured,
                    holds,
                });
            }
            None => t.push(TargetCheck {
                target: "SQLite: RSS after 100k tasks ≤ 1.25× RSS after 10k".into(),
                measured: "not measured".into(),
                holds: None,
            }),
        }
        t.push(TargetCheck {
            target: "memory store: state the bytes per retained task".into(),
            measured: memory(HOST_MEMORY)
                .and_then(|m| m.bytes_per_task)
                .map_or("not measured".into(), |b| {
                    format!("{b:.0} bytes of RSS per retained echo task")
                }),
            holds: memory(HOST_MEMORY)
                .and_then(|m| m.bytes_per_task)
                .map(|_| true),
        });
        for server in [HOST_MEMORY, HOST_SQLITE] {
            let s = self.server(server).and_then(|r| r.streams.clone());
            t.push(TargetCheck {
                target: format!("{server}: 10,000 concurrent streams held in < 1 GiB"),
                measured: s.as_ref().map_or("not measured".into(), |s| {
                    format!(
                        "{} streams open ({} failed), RSS {:.1} MiB; event reached all in {:.1} ms, missed by {}",
                        s.opened,
                        s.open_errors,
                        s.rss_with_streams_bytes as f64 / 1048576.0,
                        s.reach_all_ms,
                        s.missed
                    )
                }),
                holds: s.as_ref().map(|s| {
                    s.opened >= 10_000 && s.rss_with_streams_bytes < 1 << 30 && s.missed == 0
                }),
            });
        }
        t.push(TargetCheck {
            target: "warm start of 20 agents < 300 ms".into(),
            measured: self.startup.as_ref().map_or("not measured".into(), |s| {
                format!(
                    "{} agents: warm {:.0} ms (median), cold {:.0} ms",
                    s.agents, s.warm_median_ms, s.cold_ms
                )
            }),
            holds: self
                .startup
                .as_ref()
                .map(|s| s.agents >= 20 && s.warm_median_ms < 300.0),
        });
        for server in [HOST_MEMORY, HOST_SQLITE] {
            let c = self.server(server).and_then(|r| r.cancel.clone());
            t.push(TargetCheck {
                target: format!("{server}: a cancel lands within 100 ms"),
                measured: c.as_ref().map_or("not measured".into(), |c| {
                    format!(
                        "canceled after {:.1} ms (p50), {:.1} ms (max); guest stopped after {:.0} ms (p50){}",
                        c.cancel_p50_ms,
                        c.cancel_max_ms,
                        c.stopped_p50_ms,
                        if c.errors.is_empty() {
                            String::new()
                        } else {
                            format!("; errors: {:?}", c.errors)
                        }
                    )
                }),
                holds: c
                    .as_ref()
                    .map(|c| c.errors.is_empty() && c.cancel_max_ms <= 100.0),
            });
        }
        t.push(self.push_target());
        self.targets = t;
    }

    /// The push target: one push config costs at most [`PUSH_CPU_LIMIT`]×
    /// the server CPU per task of the same task without push.
    fn push_target(&self) -> TargetCheck {
        let target = format!(
            "{HOST_SQLITE}: server CPU per task with one push config ≤ {PUSH_CPU_LIMIT}× without (JSON-RPC, c=64)"
        );
        let not_measured = |why: &str| TargetCheck {
            target: target.clone(),
            measured: why.to_string(),
            holds: None,
        };
        let Some(p) = &self.push else {
            return not_measured("not measured");
        };
        let ratios: Vec<f64> = push_round_ratios(p).into_iter().flatten().collect();
        let Some((without, with)) = push_median_round(p) else {
            return not_measured("not measured");
        };
        let (Some(a), Some(b)) = (with.cpu_per_task_us, without.cpu_per_task_us) else {
            return not_measured("no task completed");
        };
        let judged = median(&ratios);
        let mut measured = if ratios.len() > 1 {
            let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}×")).collect();
            format!(
                "{judged:.2}×, the median of {} interleaved rounds' ratios ({}); median round {a:.1} µs with vs {b:.1} µs without",
                ratios.len(),
                each.join(", ")
            )
        } else {
            format!("{a:.1} µs with vs {b:.1} µs without = {judged:.2}×")
        };
        if let Some(n) = with.notifications_per_s {
            let per_task = with.notifications as f64 / with.tasks.max(1) as f64;
            let _ = write!(
                measured,
                "; {n:.0} notifications/s ({per_task:.1} per task)"
            );
        }
        let missing: u64 = p.rounds.iter().map(|(_, w)| w.incomplete_tasks).sum();
        if missing > 0 {
            let _ = write!(
                measured,
                "; {missing} tasks did not get all their notifications"
            );
        }
        if judged > PUSH_CPU_LIMIT {
            let _ = write!(
                measured,
                " ({:.0} % over the target)",
                (judged / PUSH_CPU_LIMIT - 1.0) * 100.0
            );
        }
        TargetCheck {
            target,
            measured,
            holds: Some(judged <= PUSH_CPU_LIMIT && missing == 0),
        }
    }

    /// The target checks as text.
    pub fn targets_text(&self) -> String {
        let mut out = String::new();
        for t in &self.targets {
            let mark = match t.holds {
                Some(true) => "HOLDS",
                Some(false) => "MISSED",
                None => "n/a",
            };
            let _ = writeln!(out, "[{mark:>6}] {} — {}", t.target, t.measured);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(cpu_per_task_us: Option<f64>, completed: u64) -> PhaseResult {
        PhaseResult {
            name: RPC64.into(),
            concurrency: 64,
            window_s: 5.0,
            completed,
            errors: 0,
            error_samples: Vec::new(),
            rps: completed as f64 / 5.0,
            latency: None,
            first_event: None,
            server_cpu_s: 0.0,
            cpu_per_task_us,
            server_util: 1.0,
            loadgen_util: 0.5,
            foreign_util: None,
            processes: 1,
            services: BTreeMap::new(),
        }
    }

    fn with_rounds(rounds: &[(&str, &[f64])]) -> Results {
        let mut results = Results::default();
        for (server, cpus) in rounds {
            let phases = cpus
                .iter()
                .enumerate()
                .map(|(i, &c)| phase(Some(c), i as u64))
                .collect();
            results
                .servers
                .entry(server.to_string())
                .or_default()
                .set_rpc64_rounds(phases);
        }
        results
    }

    #[test]
    fn the_median_round_is_the_phase_and_every_round_is_kept() {
        let r = with_rounds(&[(HOST_MEMORY, &[40.0, 30.0, 35.0])]);
        let s = &r.servers[HOST_MEMORY];
        assert_eq!(s.rpc64_rounds.len(), 3);
        // The round measuring 35 µs (the second of run order's third).
        assert_eq!(s.phases[RPC64].cpu_per_task_us, Some(35.0));
        assert_eq!(s.phases[RPC64].completed, 2);
        // Even counts take the lower middle; a round without a figure sorts last.
        let mut s = ServerResults::default();
        s.set_rpc64_rounds(vec![phase(None, 0), phase(Some(9.0), 1)]);
        assert_eq!(s.phases[RPC64].cpu_per_task_us, Some(9.0));
    }

    #[test]
    fn ratios_pair_each_round_with_the_ceilings_round() {
        let mut r = with_rounds(&[
            (CEILING, &[10.0, 20.0, 10.0]),
            (HOST_MEMORY, &[30.0, 50.0, 34.0]),
            (HOST_SQLITE, &[55.0, 100.0, 60.0]),
        ]);
        assert_eq!(
            r.round_ratios(HOST_MEMORY),
            vec![Some(3.0), Some(2.5), Some(3.4)]
        );
        assert_eq!(
            r.round_ratios(HOST_SQLITE),
            vec![Some(5.5), Some(5.0), Some(6.0)]
        );
        r.check_targets();
        // Memory: round ratios 3.0, 2.5, 3.4, median 3.0 ≤ 3: holds, though
        // the median rounds (34 and 10 µs) divide to 3.4.
        let memory = &r.targets[0];
        assert_eq!(memory.holds, Some(true), "{}", memory.measured);
        assert_eq!(
            memory.measured,
            "3.00×, the median of 3 interleaved rounds' ratios (3.00×, 2.50×, 3.40×); \
             median rounds 34.0 µs vs ceiling 10.0 µs = 3.40×"
        );
        // SQLite: 5.5, 5.0, 6.0, median 5.5 ≤ 6: holds.
        assert_eq!(r.targets[1].holds, Some(true), "{}", r.targets[1].measured);
        let table = r.diagnostics();
        assert!(
            table.contains("| a2a-host-memory, round 2 | 50.0 µs | 2.50× |"),
            "{table}"
        );
        assert!(
            table.contains("| ceiling, round 1 | 10.0 µs |  |"),
            "{table}"
        );
    }

    #[test]
    fn a_round_without_a_figure_leaves_the_others_in_place() {
        let mut r = with_rounds(&[(CEILING, &[10.0, 20.0]), (HOST_MEMORY, &[30.0, 50.0])]);
        r.servers.get_mut(HOST_MEMORY).unwrap().rpc64_rounds[0].cpu_per_task_us = None;
        assert_eq!(r.round_ratios(HOST_MEMORY), vec![None, Some(2.5)]);
        let table = r.diagnostics();
        assert!(
            table.contains("| a2a-host-memory, round 1 | n/a |  |"),
            "{table}"
        );
        assert!(
            table.contains("| a2a-host-memory, round 2 | 50.0 µs | 2.50× |"),
            "{table}"
        );
    }

    #[test]
    fn a_single_round_prints_no_round_table() {
        let mut r = with_rounds(&[(CEILING, &[10.0]), (HOST_MEMORY, &[29.0])]);
        r.check_targets();
        assert_eq!(r.targets[0].measured, "29.0 µs vs ceiling 10.0 µs = 2.90×");
        assert!(!r.diagnostics().contains("round by round"));
    }

    #[test]
    fn an_even_number_of_rounds_takes_the_mean_of_the_middle_ratios() {
        let mut r = with_rounds(&[(CEILING, &[10.0, 10.0]), (HOST_MEMORY, &[31.0, 32.0])]);
        r.check_targets();
        assert_eq!(r.targets[0].holds, Some(false), "{}", r.targets[0].measured);
        assert!(
            r.targets[0].measured.starts_with("3.15×, the median of 2"),
            "{}",
            r.targets[0].measured
        );
    }

    fn push_run(push: bool, cpu: f64, tasks: u64, notifications: u64) -> PushRun {
        PushRun {
            push,
            concurrency: 64,
            tasks,
            errors: 0,
            error_samples: Vec::new(),
            load_s: 3.0,
            tasks_per_s: tasks as f64 / 3.0,
            latency: None,
            server_cpu_s: cpu * tasks as f64 / 1e6,
            cpu_per_task_us: Some(cpu),
            notifications,
            notifications_per_s: push.then(|| notifications as f64 / 4.0),
            drain_ms: push.then_some(12.5),
            incomplete_tasks: 0,
            duplicates: 0,
        }
    }

    fn with_push(rounds: &[(f64, f64)]) -> Results {
        let mut r = Results {
            push: Some(PushResult {
                rounds: rounds
                    .iter()
                    .map(|&(a, b)| (push_run(false, a, 3000, 0), push_run(true, b, 2000, 8000)))
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        r.compute_ratios();
        r.check_targets();
        r
    }

    fn push_target(r: &Results) -> &TargetCheck {
        r.targets
            .iter()
            .find(|t| t.target.contains("push config"))
            .expect("a push target")
    }

    #[test]
    fn one_push_round_is_judged_on_its_ratio_and_tabled() {
        let r = with_push(&[(100.0, 140.0)]);
        let t = push_target(&r);
        assert_eq!(t.holds, Some(true));
        assert_eq!(
            t.target,
            "a2a-host-sqlite: server CPU per task with one push config ≤ 1.5× without (JSON-RPC, c=64)"
        );
        assert_eq!(
            t.measured,
            "140.0 µs with vs 100.0 µs without = 1.40×; 2000 notifications/s (4.0 per task)"
        );
        assert_eq!(r.push.as_ref().unwrap().cpu_ratio, Some(1.4));
        let table = r.table();
        assert!(
            table.contains(
                "| SQLite, JSON-RPC send, c=64 | without push | one push config | with ÷ without |"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "| server CPU per task (deliveries included) | 100.0 µs | 140.0 µs | 1.40× |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| tasks/s | 1000 | 667 | 0.67× |"),
            "{table}"
        );
        assert!(
            table.contains("| notifications per task |  | 4.0 |  |"),
            "{table}"
        );
        assert!(
            table.contains("| last notification after the last answer |  | 12.5 ms |  |"),
            "{table}"
        );
        let diag = r.diagnostics();
        assert!(
            diag.contains("| 1 | 100.0 µs | 140.0 µs | 1.40× | 2000 | 3000 / 2000 | 0 | 0 |"),
            "{diag}"
        );
    }

    #[test]
    fn push_rounds_take_the_median_ratio_and_say_how_far_over() {
        let r = with_push(&[(100.0, 150.0), (100.0, 210.0), (120.0, 216.0)]);
        let t = push_target(&r);
        assert_eq!(t.holds, Some(false), "{}", t.measured);
        assert_eq!(
            t.measured,
            "1.80×, the median of 3 interleaved rounds' ratios (1.50×, 2.10×, 1.80×); \
             median round 216.0 µs with vs 120.0 µs without; \
             2000 notifications/s (4.0 per task) (20 % over the target)"
        );
        let table = r.table();
        assert!(table.contains("c=64 (median of 3 rounds) |"), "{table}");
        assert!(table.contains("| 120.0 µs | 216.0 µs | 1.80× |"), "{table}");
        assert_eq!(r.push.as_ref().unwrap().cpu_ratios.len(), 3);
    }

    #[test]
    fn missing_notifications_fail_the_push_target() {
        let mut r = with_push(&[(100.0, 120.0)]);
        r.push.as_mut().unwrap().rounds[0].1.incomplete_tasks = 7;
        r.check_targets();
        let t = push_target(&r);
        assert_eq!(t.holds, Some(false));
        assert!(
            t.measured
                .ends_with("; 7 tasks did not get all their notifications"),
            "{}",
            t.measured
        );
        // Without a push phase the target is not measured and no table shows.
        let mut none = Results::default();
        none.check_targets();
        assert_eq!(push_target(&none).holds, None);
        assert!(!none.table().contains("push config"));
    }
}
