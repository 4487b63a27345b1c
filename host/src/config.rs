//! Host settings: command-line flags, `A2A_HOST_*` environment variables, an
//! optional `a2a-host.toml`, and defaults — in that order of precedence.
//!
//! | setting | flag | environment | toml key | default |
//! |---|---|---|---|---|
//! | agents folder | `--agents DIR` | `A2A_HOST_AGENTS` | `agents` | `./agents` |
//! | listen address | `--listen ADDR:PORT` | `A2A_HOST_LISTEN` | `listen` | `127.0.0.1:8080` |
//! | store | `--store memory\|sqlite:PATH\|postgres://…` | `A2A_HOST_STORE` | `store` | `sqlite:./a2a-host.db` |
//! | default agent | `--default-agent NAME` | `A2A_HOST_DEFAULT_AGENT` | `default_agent` | the only agent, if there is one |
//! | public URL | `--public-url URL` | `A2A_HOST_PUBLIC_URL` | `public_url` | from `Host` / `X-Forwarded-*` |
//! | blocking timeout | `--blocking-timeout SECS` | `A2A_HOST_BLOCKING_TIMEOUT` | `blocking_timeout_secs` | 60 |
//! | cancel grace | `--cancel-grace-ms MS` | `A2A_HOST_CANCEL_GRACE_MS` | `cancel_grace_ms` | 2000 |
//! | request body limit | `--max-body-bytes N` | `A2A_HOST_MAX_BODY_BYTES` | `max_body_bytes` | 10485760 |
//! | shutdown drain | `--drain-secs SECS` | `A2A_HOST_DRAIN_SECS` | `drain_secs` | 30 |
//! | compile cache | `--cache-dir DIR` | `A2A_HOST_CACHE_DIR` | `cache_dir` | `$XDG_CACHE_HOME/a2a-host` |
//! | shared bus | `--bus redis://HOST[:PORT][/DB][?prefix=NAME]` | `A2A_HOST_BUS` | `bus` | none (one process) |
//! | turns run at once (with a bus) | `--workers N` | `A2A_HOST_WORKERS` | `workers` | 64 |
//! | reclaim a dead process's job after | `--reclaim-idle-secs SECS` | `A2A_HOST_RECLAIM_IDLE_SECS` | `reclaim_idle_secs` | 30 |
//! | runs of a job before it is given up | `--max-attempts N` | `A2A_HOST_MAX_ATTEMPTS` | `max_attempts` | 3 |
//! | wasm turns at once, all agents | `--max-concurrent N` | `A2A_HOST_MAX_CONCURRENT` | `max_concurrent` | 64 |
//! | expire ended tasks after | `--retain-terminal-hours H` | `A2A_HOST_RETAIN_TERMINAL_HOURS` | `retain_terminal_hours` | 168 (0 = never) |
//! | expire context state after | `--retain-state-days D` | `A2A_HOST_RETAIN_STATE_DAYS` | `retain_state_days` | 30 (0 = never) |
//! | retention job interval | `--retention-interval-secs S` | `A2A_HOST_RETENTION_INTERVAL_SECS` | `retention_interval_secs` | 3600 |
//! | 0.3 members on cards | `--card-v03 true\|false` | `A2A_HOST_CARD_V03` | `card_v03` | `true` |
//!
//! Push notifications have their own flags (`--push-*`) and `[push]`
//! table; [`crate::push::PushArgs`] lists them.
//!
//! The toml file is `--config PATH` (`A2A_HOST_CONFIG`), or `./a2a-host.toml`
//! when it exists. Unknown keys in it are an error, so a typo never goes
//! unnoticed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Where tasks are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// In memory; lost when the process exits.
    Memory,
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl StoreSpec {
    /// The Cargo feature of a2a-host that serves this store (`None`: the
    /// memory store, always built).
    pub fn feature(&self) -> Option<&'static str> {
        match self {
            StoreSpec::Memory => None,
            StoreSpec::Sqlite(_) => Some("sqlite"),
            StoreSpec::Postgres(_) => Some("postgres"),
        }
    }
}

impl std::str::FromStr for StoreSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "memory" {
            Ok(StoreSpec::Memory)
        } else if let Some(path) = s.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("`sqlite:` needs a file path, e.g. `sqlite:./a2a-host.db`".into());
            }
            Ok(StoreSpec::Sqlite(PathBuf::from(path)))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(StoreSpec::Postgres(s.to_string()))
        } else {
            Err(format!(
                "unknown store `{s}`: use `memory`, `sqlite:PATH` or `postgres://…`"
            ))
        }
    }
}

/// The `serve` settings as flags and environment variables (with feature
/// `cli`, a clap `Args`). Every field is optional here so that the toml
/// file and defaults can fill the gaps.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct ServeArgs {
    /// Folder of agent components (`NAME.wasm`, optional `NAME.toml`).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_AGENTS", value_name = "DIR")
    )]
    pub agents: Option<PathBuf>,
    /// Address to listen on.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_LISTEN", value_name = "ADDR:PORT")
    )]
    pub listen: Option<SocketAddr>,
    /// Task store: `memory`, `sqlite:PATH` or `postgres://…`.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_STORE", value_name = "STORE")
    )]
    pub store: Option<StoreSpec>,
    /// Agent served at `/` and `/.well-known/agent-card.json`.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_DEFAULT_AGENT", value_name = "NAME")
    )]
    pub default_agent: Option<String>,
    /// Public base URL used in agent cards (e.g. `https://agents.example.com`).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_PUBLIC_URL", value_name = "URL")
    )]
    pub public_url: Option<String>,
    /// How long a blocking SendMessage waits before returning the task as is.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_BLOCKING_TIMEOUT", value_name = "SECS")
    )]
    pub blocking_timeout: Option<u64>,
    /// How long a canceled agent may keep running before it is stopped.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_CANCEL_GRACE_MS", value_name = "MS")
    )]
    pub cancel_grace_ms: Option<u64>,
    /// Largest accepted request body.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_MAX_BODY_BYTES", value_name = "N")
    )]
    pub max_body_bytes: Option<usize>,
    /// How long shutdown waits for running tasks.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_DRAIN_SECS", value_name = "SECS")
    )]
    pub drain_secs: Option<u64>,
    /// Folder for compiled components.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_CACHE_DIR", value_name = "DIR")
    )]
    pub cache_dir: Option<PathBuf>,
    /// Whether agent cards also carry the A2A 0.3 members (`url`,
    /// `preferredTransport`, …) for clients that send no `A2A-Version`.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_CARD_V03", value_name = "true|false")
    )]
    pub card_v03: Option<bool>,
    /// Shared bus for several host processes on one store:
    /// `redis://HOST[:PORT][/DB][?prefix=NAME]` (key prefix default `a2a`).
    #[cfg_attr(feature = "cli", arg(long, env = "A2A_HOST_BUS", value_name = "URL"))]
    pub bus: Option<String>,
    /// With a bus: how many turns this process runs at once (0: accept
    /// requests but run no turns).
    #[cfg_attr(feature = "cli", arg(long, env = "A2A_HOST_WORKERS", value_name = "N"))]
    pub workers: Option<usize>,
    /// With a bus: how long a job may go without a heartbeat before another
    /// process takes it over (doubled for each earlier attempt).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_RECLAIM_IDLE_SECS", value_name = "SECS")
    )]
    pub reclaim_idle_secs: Option<u64>,
    /// With a bus: runs of a job (its process dying each time) before its
    /// task is failed and the job moved to the dead-letter stream.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_MAX_ATTEMPTS", value_name = "N")
    )]
    pub max_attempts: Option<u32>,
    /// WebAssembly turns running at once across all agents; more wait in
    /// each agent's bounded queue.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_MAX_CONCURRENT", value_name = "N")
    )]
    pub max_concurrent: Option<u32>,
    /// Delete tasks this many hours after they ended (0: keep forever).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_RETAIN_TERMINAL_HOURS", value_name = "HOURS")
    )]
    pub retain_terminal_hours: Option<u64>,
    /// Delete a context's agent state this many days after its last write
    /// (0: keep forever).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_RETAIN_STATE_DAYS", value_name = "DAYS")
    )]
    pub retain_state_days: Option<u64>,
    /// How often the retention job runs.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_RETENTION_INTERVAL_SECS", value_name = "SECS")
    )]
    pub retention_interval_secs: Option<u64>,
    /// Settings file (default: `./a2a-host.toml` if it exists).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_CONFIG", value_name = "PATH")
    )]
    pub config: Option<PathBuf>,
    /// The `--push-*` flags.
    #[cfg_attr(feature = "cli", command(flatten))]
    pub push: crate::push::PushArgs,
}

/// The optional `a2a-host.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    agents: Option<PathBuf>,
    listen: Option<String>,
    store: Option<String>,
    default_agent: Option<String>,
    public_url: Option<String>,
    blocking_timeout_secs: Option<u64>,
    cancel_grace_ms: Option<u64>,
    max_body_bytes: Option<usize>,
    drain_secs: Option<u64>,
    cache_dir: Option<PathBuf>,
    bus: Option<String>,
    workers: Option<usize>,
    reclaim_idle_secs: Option<u64>,
    max_attempts: Option<u32>,
    card_v03: Option<bool>,
    max_concurrent: Option<u32>,
    retain_terminal_hours: Option<u64>,
    retain_state_days: Option<u64>,
    retention_interval_secs: Option<u64>,
    push: Option<crate::push::PushFile>,
}

/// The resolved settings of `a2a-host serve`.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Folder of agent components (`NAME.wasm`, optional `NAME.toml`).
    pub agents: PathBuf,
    /// Address the server listens on.
    pub listen: SocketAddr,
    /// Where tasks are stored.
    pub store: StoreSpec,
    /// Agent served at `/` and `/.well-known/agent-card.json`; `None`: the
    /// only agent, if there is exactly one.
    pub default_agent: Option<String>,
    /// Public base URL used in agent cards, without a trailing `/`; `None`:
    /// derived from each request's headers.
    pub public_url: Option<String>,
    /// How long a blocking SendMessage waits before returning the task as is.
    pub blocking_timeout: Duration,
    /// How long a canceled agent may keep running before it is stopped.
    pub cancel_grace: Duration,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// How long shutdown waits for running tasks.
    pub drain: Duration,
    /// Folder for compiled components; `None`: `$XDG_CACHE_HOME/a2a-host`
    /// or `~/.cache/a2a-host`.
    pub cache_dir: Option<PathBuf>,
    /// The shared bus URL (`redis://…`), if several processes share work.
    pub bus: Option<String>,
    /// With a bus: turns this process runs at once.
    pub workers: usize,
    /// With a bus: idle time after which a dead process's job is reclaimed.
    pub reclaim_idle: Duration,
    /// With a bus: runs of a job before its task is failed.
    pub max_attempts: u32,
    /// Whether agent cards also carry the A2A 0.3 members (`url`,
    /// `preferredTransport`, …) for clients that send no `A2A-Version`.
    pub card_v03: bool,
    /// WebAssembly turns running at once, all agents together.
    pub max_concurrent: u32,
    /// What the retention job deletes.
    pub retention: crate::store::Retention,
    /// How often it runs.
    pub retention_interval: Duration,
    /// Push notifications.
    pub push: crate::push::PushSettings,
}

impl HostConfig {
    /// Merge flags/environment over the settings file over defaults.
    pub fn resolve(args: ServeArgs) -> Result<HostConfig, String> {
        let file = match &args.config {
            Some(path) => read_file_config(path)?,
            None if Path::new("a2a-host.toml").exists() => {
                read_file_config(Path::new("a2a-host.toml"))?
            }
            None => FileConfig::default(),
        };
        let listen = match (args.listen, file.listen) {
            (Some(l), _) => l,
            (None, Some(s)) => s
                .parse()
                .map_err(|e| format!("a2a-host.toml: `listen = \"{s}\"` is not ADDR:PORT: {e}"))?,
            (None, None) => "127.0.0.1:8080".parse().expect("valid default"),
        };
        let store = match (args.store, file.store) {
            (Some(s), _) => s,
            (None, Some(s)) => s.parse().map_err(|e| format!("a2a-host.toml: {e}"))?,
            (None, None) => StoreSpec::Sqlite(PathBuf::from("./a2a-host.db")),
        };
        if let Some(url) = args.public_url.as_ref().or(file.public_url.as_ref())
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!(
                "public URL `{url}` must start with http:// or https://"
            ));
        }
        let bus = args.bus.or(file.bus).filter(|b| !b.is_empty());
        if let Some(bus) = &bus {
            if !(bus.starts_with("redis://")
                || bus.starts_with("rediss://")
                || bus.starts_with("redis+unix://")
                || bus.starts_with("unix://"))
            {
                return Err("unknown bus: use `redis://HOST[:PORT][/DB][?prefix=NAME]`".to_string());
            }
            if store == StoreSpec::Memory {
                return Err(
                    "a shared bus needs a store every process shares (`postgres://…`), not `memory`"
                        .into(),
                );
            }
        }
        let reclaim_idle_secs = args
            .reclaim_idle_secs
            .or(file.reclaim_idle_secs)
            .unwrap_or(30);
        if reclaim_idle_secs == 0 {
            return Err("the reclaim idle time must be at least 1 second".into());
        }
        let max_attempts = args.max_attempts.or(file.max_attempts).unwrap_or(3);
        if max_attempts == 0 {
            return Err("max attempts must be at least 1".into());
        }
        let push = args.push.resolve(file.push.unwrap_or_default())?;
        Ok(HostConfig {
            push,
            agents: args
                .agents
                .or(file.agents)
                .unwrap_or_else(|| PathBuf::from("./agents")),
            listen,
            store,
            default_agent: args.default_agent.or(file.default_agent),
            public_url: args
                .public_url
                .or(file.public_url)
                .map(|u| u.trim_end_matches('/').to_string()),
            blocking_timeout: Duration::from_secs(
                args.blocking_timeout
                    .or(file.blocking_timeout_secs)
                    .unwrap_or(60),
            ),
            cancel_grace: Duration::from_millis(
                args.cancel_grace_ms
                    .or(file.cancel_grace_ms)
                    .unwrap_or(2000),
            ),
            max_body_bytes: args
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(10 * 1024 * 1024),
            drain: Duration::from_secs(args.drain_secs.or(file.drain_secs).unwrap_or(30)),
            cache_dir: args.cache_dir.or(file.cache_dir),
            bus,
            workers: args.workers.or(file.workers).unwrap_or(64),
            reclaim_idle: Duration::from_secs(reclaim_idle_secs),
            max_attempts,
            card_v03: args.card_v03.or(file.card_v03).unwrap_or(true),
            max_concurrent: args
                .max_concurrent
                .or(file.max_concurrent)
                .unwrap_or(64)
                .max(1),
            retention: crate::store::Retention {
                terminal_tasks: match args
                    .retain_terminal_hours
                    .or(file.retain_terminal_hours)
                    .unwrap_or(168)
                {
                    0 => None,
                    h => Some(Duration::from_secs(h * 3600)),
                },
                context_state: match args
                    .retain_state_days
                    .or(file.retain_state_days)
                    .unwrap_or(30)
                {
                    0 => None,
                    d => Some(Duration::from_secs(d * 86_400)),
                },
            },
            retention_interval: Duration::from_secs(
                args.retention_interval_secs
                    .or(file.retention_interval_secs)
                    .unwrap_or(3600)
                    .max(1),
            ),
        })
    }
}

fn read_file_config(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_specs_parse() {
        assert_eq!("memory".parse::<StoreSpec>(), Ok(StoreSpec::Memory));
        assert_eq!(
            "sqlite:/tmp/x.db".parse::<StoreSpec>(),
            Ok(StoreSpec::Sqlite("/tmp/x.db".into()))
        );
        assert!(matches!(
            "postgres://u@h/db".parse::<StoreSpec>(),
            Ok(StoreSpec::Postgres(_))
        ));
        assert!("mysql://x".parse::<StoreSpec>().is_err());
        assert!("sqlite:".parse::<StoreSpec>().is_err());
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a2a-host.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9999\"\nstore = \"memory\"\ndefault_agent = \"echo\"\n",
        )
        .unwrap();
        let cfg = HostConfig::resolve(ServeArgs {
            config: Some(path.clone()),
            default_agent: Some("tck".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cfg.listen.port(), 9999);
        assert_eq!(cfg.store, StoreSpec::Memory);
        assert_eq!(cfg.default_agent.as_deref(), Some("tck"));
        assert_eq!(cfg.blocking_timeout, Duration::from_secs(60));
        assert!(cfg.card_v03, "0.3 card members are on by default");
        assert_eq!(
            cfg.retention.terminal_tasks,
            Some(Duration::from_secs(168 * 3600))
        );
        let off = HostConfig::resolve(ServeArgs {
            config: Some(path),
            card_v03: Some(false),
            ..Default::default()
        })
        .unwrap();
        assert!(!off.card_v03);
    }

    #[test]
    fn bus_settings_resolve_and_are_checked() {
        let cfg = HostConfig::resolve(ServeArgs {
            store: Some(StoreSpec::Postgres("postgres://h/db".into())),
            bus: Some("redis://127.0.0.1:6379/?prefix=x".into()),
            workers: Some(0),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cfg.bus.as_deref(), Some("redis://127.0.0.1:6379/?prefix=x"));
        assert_eq!(cfg.workers, 0);
        assert_eq!(cfg.reclaim_idle, Duration::from_secs(30));
        assert_eq!(cfg.max_attempts, 3);
        let memory = HostConfig::resolve(ServeArgs {
            store: Some(StoreSpec::Memory),
            bus: Some("redis://h".into()),
            ..Default::default()
        });
        assert!(memory.unwrap_err().contains("memory"));
        let bad = HostConfig::resolve(ServeArgs {
            bus: Some("amqp://h".into()),
            ..Default::default()
        });
        assert!(bad.unwrap_err().contains("redis://"));
        let zero = HostConfig::resolve(ServeArgs {
            max_attempts: Some(0),
            ..Default::default()
        });
        assert!(zero.is_err());
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a2a-host.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let err = HostConfig::resolve(ServeArgs {
            config: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("lisen"), "{err}");
    }
}
