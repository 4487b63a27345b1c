//! (9) Several processes: a2a-host on PostgreSQL + Redis, as one process
//! and as two processes sharing one database and one key prefix. The
//! measurement is the `jsonrpc_c64` phase's (blocking JSON-RPC
//! `SendMessage`, 64 clients, spread round-robin over the processes), with
//! the CPU of every `postgres` and `redis-server` process read over the same
//! window: both do real work per task.
//!
//! Each run gets a database of its own (created empty, dropped at the end)
//! and a Redis key prefix of its own (its keys deleted at the end; a2a-host
//! leaves them).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio_postgres::NoTls;

use crate::client::Kind;
use crate::load::{self, PhaseResult, Target};
use crate::procs::{self, Cores, ProcessGroup, Server};
use crate::report::RPC64;
use crate::{Paths, host_args};

/// Where the PostgreSQL server is (the same variable as the tests').
const POSTGRES_VAR: &str = "A2A_HOST_TEST_POSTGRES_URL";
/// Where the Redis server is (the same variable as the tests').
const REDIS_VAR: &str = "A2A_HOST_TEST_REDIS_URL";
const POSTGRES_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_DEFAULT: &str = "redis://127.0.0.1:6379";
/// How long a service may take to answer the reachability probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The PostgreSQL and Redis servers the cluster phase uses.
pub struct Services {
    /// A database URL with the right to create databases (`postgres://…`).
    postgres: String,
    /// `redis://…`.
    redis: String,
}

impl Services {
    /// From `A2A_HOST_TEST_POSTGRES_URL` and `A2A_HOST_TEST_REDIS_URL`, or
    /// the local defaults.
    pub fn from_env() -> Services {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Services {
            postgres: var(POSTGRES_VAR, POSTGRES_DEFAULT),
            redis: var(REDIS_VAR, REDIS_DEFAULT),
        }
    }

    /// `Err(why)` unless both servers answer.
    pub async fn probe(&self) -> std::result::Result<(), String> {
        let postgres = async {
            let client = self.postgres_client().await?;
            client.simple_query("SELECT 1").await?;
            anyhow::Ok(())
        };
        match tokio::time::timeout(PROBE_TIMEOUT, postgres).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(self.unreachable("PostgreSQL", POSTGRES_VAR, e)),
            Err(_) => return Err(self.unreachable("PostgreSQL", POSTGRES_VAR, "no answer")),
        }
        let redis = async {
            let mut conn = self.redis_conn().await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await?;
            anyhow::Ok(())
        };
        match tokio::time::timeout(PROBE_TIMEOUT, redis).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.unreachable("Redis", REDIS_VAR, e)),
            Err(_) => Err(self.unreachable("Redis", REDIS_VAR, "no answer")),
        }
    }

    fn unreachable(&self, what: &str, var: &str, e: impl std::fmt::Display) -> String {
        let url = if what == "Redis" {
            &self.redis
        } else {
            &self.postgres
        };
        format!(
            "{what} unreachable at {} (set {var}): {e:#}",
            without_credentials(url)
        )
    }

    async fn postgres_client(&self) -> Result<tokio_postgres::Client> {
        let (client, conn) = tokio_postgres::connect(&self.postgres, NoTls)
            .await
            .context("connecting to PostgreSQL")?;
        tokio::spawn(conn);
        Ok(client)
    }

    async fn redis_conn(&self) -> Result<redis::aio::MultiplexedConnection> {
        redis::Client::open(self.redis.as_str())?
            .get_multiplexed_async_connection()
            .await
            .context("connecting to Redis")
    }
}

/// The database and key prefix of one run.
struct Scratch {
    database: String,
    prefix: String,
}

impl Scratch {
    /// A fresh, empty database and an unused prefix, named after this
    /// process and `tag`.
    async fn create(services: &Services, tag: &str) -> Result<Scratch> {
        let pid = std::process::id();
        let scratch = Scratch {
            database: format!("a2a_bench_{pid}_{tag}"),
            prefix: format!("a2a-bench-{pid}-{tag}"),
        };
        // A left-over of an earlier run with the same PID goes first. Two
        // statements: DROP DATABASE cannot share a (implicit) transaction.
        scratch.remove(services).await?;
        let client = services.postgres_client().await?;
        client
            .batch_execute(&format!("CREATE DATABASE \"{}\"", scratch.database))
            .await
            .with_context(|| format!("creating database {}", scratch.database))?;
        Ok(scratch)
    }

    /// Drop the database and delete the prefix's keys.
    async fn remove(&self, services: &Services) -> Result<()> {
        let client = services.postgres_client().await?;
        client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.database
            ))
            .await
            .with_context(|| format!("dropping database {}", self.database))?;
        self.delete_keys(services).await
    }

    async fn delete_keys(&self, services: &Services) -> Result<()> {
        let mut conn = services.redis_conn().await?;
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}:*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .context("listing the bench's Redis keys")?;
            if !keys.is_empty() {
                redis::cmd("UNLINK")
                    .arg(keys)
                    .query_async::<i64>(&mut conn)
                    .await
                    .context("deleting the bench's Redis keys")?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

/// Run `processes` a2a-host processes (on the server core) on one fresh
/// database and key prefix, and measure blocking JSON-RPC at c=64 spread
/// over all of them. The database and keys are removed afterwards, also
/// when the measurement fails.
pub async fn run(
    name: &str,
    processes: usize,
    paths: &Paths,
    cores: Cores,
    services: &Services,
    warmup: Duration,
    window: Duration,
) -> Result<PhaseResult> {
    let scratch = Scratch::create(services, &format!("{processes}p")).await?;
    let measured = async {
        let store = with_database(&services.postgres, &scratch.database);
        let bus = with_prefix(&services.redis, &scratch.prefix);
        let mut servers = Vec::with_capacity(processes);
        for i in 1..=processes {
            // One at a time: each is listening before the next port is
            // picked.
            let addr: SocketAddr = procs::free_port()?;
            let mut args = host_args(paths, addr, &store);
            args.extend(["--bus".to_string(), bus.clone()]);
            let label = format!("{name}-{i}");
            let log = paths.work.join(format!("logs/{label}.log"));
            let mut server = Server::start(
                &label,
                &paths.host_bin,
                &args,
                cores.server,
                addr,
                &paths.work,
                &log,
            )?;
            server
                .wait_ready("/readyz", Duration::from_secs(120))
                .await?;
            servers.push(server);
        }
        let target = Target {
            servers: servers.iter().collect(),
            services: vec![
                ProcessGroup::new("postgresql", "postgres"),
                ProcessGroup::new("redis", "redis-server"),
            ],
        };
        let result = load::phase(
            &target,
            RPC64,
            Kind::JsonRpc,
            64,
            warmup,
            window,
            cores.server,
        )
        .await;
        for mut s in servers {
            s.stop(Duration::from_secs(3));
        }
        result
    }
    .await;
    let removed = scratch.remove(services).await;
    let result = measured?;
    removed?;
    Ok(result)
}

/// `url` with its database replaced by `database` (URL or `key=value`
/// form).
fn with_database(url: &str, database: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return format!("{url} dbname={database}");
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let query = rest[authority_end..]
        .find('?')
        .map_or("", |q| &rest[authority_end + q..]);
    format!(
        "{}{}/{database}{query}",
        &url[..scheme_end + 3],
        &rest[..authority_end]
    )
}

/// A Redis URL with `?prefix=` set (other query parameters kept).
fn with_prefix(url: &str, prefix: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    // `redis://host:port` needs a path before the query.
    let has_path = base
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    let slash = if has_path { "" } else { "/" };
    match query {
        Some(q) if !q.is_empty() => format!("{base}{slash}?{q}&prefix={prefix}"),
        _ => format!("{base}{slash}?prefix={prefix}"),
    }
}

/// `url` without a user or password, for messages.
fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "b"),
            "postgresql://u:p@h/b?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "b"),
            "postgres://h:5432/b"
        );
        assert_eq!(with_database("postgres://h?x=1", "b"), "postgres://h/b?x=1");
        assert_eq!(
            with_database("host=h user=u", "b"),
            "host=h user=u dbname=b"
        );
    }

    #[test]
    fn prefix_is_added() {
        assert_eq!(
            with_prefix("redis://127.0.0.1:6379", "p"),
            "redis://127.0.0.1:6379/?prefix=p"
        );
        assert_eq!(with_prefix("redis://h/2", "p"), "redis://h/2?prefix=p");
        assert_eq!(
            with_prefix("redis://h/2?protocol=resp3", "p"),
            "redis://h/2?protocol=resp3&prefix=p"
        );
    }

    #[test]
    fn credentials_are_left_out_of_messages() {
        assert_eq!(
            without_credentials("redis://:secret@h:6379/0"),
            "redis://h:6379/0"
        );
        assert_eq!(
            without_credentials("postgres://postgres@127.0.0.1/postgres"),
            "postgres://127.0.0.1/postgres"
        );
        assert_eq!(without_credentials("host=h"), "host=h");
    }
}
