//! A store in PostgreSQL, shared by any number of a2a-host processes.
//!
//! # Connections
//! [`PostgresStore`] talks to the server with `tokio-postgres` through a
//! `deadpool-postgres` pool of at most [`PgOptions::pool_size`] connections,
//! opened lazily and reused. Statements are prepared once per connection and
//! cached. When the server is down or unreachable, operations fail with
//! [`StoreError::Unavailable`] after at most [`PgOptions::connect_timeout`]
//! (a refused connection fails at once); a request that finds every pooled
//! connection busy waits up to [`PgOptions::wait_timeout`]. Broken
//! connections are dropped when they come back to the pool and new ones are
//! opened on demand, so the store recovers by itself when the server
//! returns. TCP keepalives notice a silently vanished server.
//!
//! Only plaintext connections are supported (`sslmode=disable` or the
//! default `prefer`, which falls back to plaintext); a URL with
//! `sslmode=require` is rejected with an error that says so.
//!
//! # Schema
//! The tables live in [`PgOptions::schema`] (created if missing) or, without
//! one, in the first schema of the connection's `search_path` (usually
//! `public`; a URL may set it with `options=-c%20search_path%3Dname`). The
//! embedded [`MIGRATIONS`] are applied at [`PostgresStore::connect`] in one
//! transaction that first takes a transaction-scoped advisory lock for the
//! schema (`pg_advisory_xact_lock`): processes starting at once queue on the
//! lock, the first migrates, the others find the schema current. The
//! `schema_version` table records how many steps ran; a schema written by a
//! newer a2a-host is refused.
//!
//! Snapshots, events and push configs are stored as the JSON text of the
//! data model (`TEXT`, not `JSONB`): they round-trip byte for byte, strings
//! holding `\u0000` are fine, and the server never parses them, but for
//! a config's URL when a notification to it is dead-lettered. Every text key column uses the `"C"` collation, so ids
//! sort byte-wise as the conformance suite demands.
//!
//! # Concurrency
//! [`Store::write_task`] is one transaction: the snapshot is written with
//! `UPDATE … WHERE id = $1 AND version = $2` (or `INSERT … ON CONFLICT DO
//! NOTHING` for a create) and the number of rows decides between success
//! and [`StoreError::Conflict`] / [`StoreError::AlreadyExists`]; the
//! message-id claim is an `INSERT … ON CONFLICT DO NOTHING` whose row count
//! decides [`StoreError::DuplicateMessage`]; events get the sequence numbers
//! after the row's `last_seq`, which the same `UPDATE` advances under the row
//! lock. Any failure rolls the whole transaction back, so nothing is
//! written. The default `READ COMMITTED` isolation is enough: the row lock
//! taken by the `UPDATE` serializes writers of one task. (If the connection
//! breaks while `COMMIT` is in flight the outcome is unknown to the caller,
//! who gets [`StoreError::Unavailable`]; a retry based on the same version
//! then reports a conflict if the write did land.)
//!
//! The same transaction queues the write's events in the push outbox, after
//! the `UPDATE`, for the configs the task has then; see `outbox`.
//!
//! # ListTasks
//! Each filter combination is served by an index that matches its order,
//! read backwards (newest first): `tasks_by_time (agent, status_ms, id)`,
//! `tasks_by_context (agent, context_id, …)` and `tasks_by_state (agent,
//! state, …)`. They are ascending so that new tasks land at their right
//! end, which nbtree fills densely (schema version 2). Pages
//! continue from a keyset cursor `(status_ms, id) < ($ms, $id)` (the token of
//! [`super::encode_page_token`]), never an `OFFSET`, so page N costs the same
//! as page 1. `total_size` is a `count(*)` over the filtered set in the same
//! statement (one snapshot): it runs as an index-only scan, but it reads
//! every matching index entry, so its cost grows with the number of matching
//! tasks. Measured on a 2-core machine with a million tasks: a page takes
//! about 0.1 ms at any depth, the count of an agent's 500,000 tasks about
//! 100 ms, of 50,000 (one state) about 25 ms, of one context's tasks well
//! under 1 ms. The protocol asks for the total, so it is paid on every page.
//! Joint statistics on `(agent, state)` keep the planner on the right index
//! when agents' state mixes differ.
//!
//! # Retention
//! [`Store::purge`] deletes in batches of [`super::PURGE_BATCH`], one
//! transaction each, selecting rows with `FOR UPDATE SKIP LOCKED`, so
//! several processes may purge at once without waiting on each other.
//! Expired terminal tasks are found through the partial index
//! `tasks_expiring`, idle contexts through `contexts_by_age`.
//!
//! [`Store::write_task`]: super::Store::write_task
//! [`Store::purge`]: super::Store::purge

use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType,
};
use serde::de::DeserializeOwned;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use self::schema::{check_schema_name, migrate};
use super::StoreError;

mod commit;
mod list;
mod outbox;
mod purge;
mod schema;
mod store_impl;
#[cfg(test)]
mod testing;

pub use self::schema::MIGRATIONS;

/// How a [`PostgresStore`] connects.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Schema of the tables; created at connect if missing, and put on the
    /// connections' `search_path`. `None` uses the connection's own
    /// `search_path`. Lowercase ASCII letters, digits and `_`, not starting
    /// with a digit or `pg_`, at most 63 bytes.
    pub schema: Option<String>,
    /// Most connections kept open at once (at least 1). Default 16.
    pub pool_size: usize,
    /// How long opening a connection (TCP, startup, authentication) may
    /// take before the operation fails as unavailable. Default 5 s.
    pub connect_timeout: Duration,
    /// How long an operation waits for a free pooled connection before it
    /// fails as unavailable. Default 10 s.
    pub wait_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            schema: None,
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            wait_timeout: Duration::from_secs(10),
        }
    }
}

/// Tasks, event logs, context state and push configs in PostgreSQL.
/// Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PostgresStore {
    shared: Arc<Shared>,
}

struct Shared {
    pool: Pool,
    /// What [`Store::describe`] says: no user, no password.
    name: String,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:pass@host:port/db`
    /// or the `key=value` form), creates the schema if needed and brings it
    /// up to date.
    ///
    /// Fails with [`StoreError::Unavailable`] when the server cannot be
    /// reached and [`StoreError::Other`] for a bad URL or options, a failed
    /// migration, or a schema written by a newer a2a-host. Error messages
    /// never contain the password.
    pub async fn connect(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Other(format!("invalid PostgreSQL URL: {}", chain(&e))))?;
        if let Some(schema) = &options.schema {
            check_schema_name(schema)?;
            let mut merged = config.get_options().unwrap_or_default().to_string();
            if !merged.is_empty() {
                merged.push(' ');
            }
            write!(merged, "-c search_path={schema}").expect("writing to a String");
            config.options(merged);
        }
        if config.get_ssl_mode() == SslMode::Require {
            return Err(StoreError::Other(
                "`sslmode=require` is not supported: this a2a-host connects to PostgreSQL \
                 without TLS (use `sslmode=disable`, or a TLS-terminating proxy)"
                    .into(),
            ));
        }
        if config.get_application_name().is_none() {
            config.application_name("a2a-host");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3);
        let name = describe_config(&config, options.schema.as_deref());

        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .wait_timeout(Some(options.wait_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Other(format!("cannot build the PostgreSQL pool: {e}")))?;
        let store = PostgresStore {
            shared: Arc::new(Shared { pool, name }),
        };
        let mut client = store.client().await?;
        migrate(&mut client, options.schema.as_deref())
            .await
            .map_err(|e| match e {
                StoreError::Other(m) => {
                    StoreError::Other(format!("migrating {}: {m}", store.shared.name))
                }
                other => other,
            })?;
        Ok(store)
    }

    /// A pooled connection.
    async fn client(&self) -> Result<Object, StoreError> {
        self.shared.pool.get().await.map_err(|e| match e {
            PoolError::Timeout(TimeoutType::Wait) => StoreError::Unavailable(format!(
                "no PostgreSQL connection to {} became free in time (all {} are busy)",
                self.shared.name,
                self.shared.pool.status().max_size
            )),
            PoolError::Timeout(_) => StoreError::Unavailable(format!(
                "PostgreSQL at {} did not answer in time",
                self.shared.name
            )),
            PoolError::Backend(e) => match pg_error(&e) {
                StoreError::Unavailable(m) => StoreError::Unavailable(format!(
                    "cannot reach PostgreSQL at {}: {m}",
                    self.shared.name
                )),
                other => other,
            },
            PoolError::Closed => StoreError::Unavailable("the PostgreSQL pool is closed".into()),
            other => StoreError::Other(format!("PostgreSQL pool: {other}")),
        })
    }
}

/// `postgres://host:port/db` (plus the schema), without user or password.
fn describe_config(config: &tokio_postgres::Config, schema: Option<&str>) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let host = match host {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            // One port for all hosts, or one each.
            match ports.get(i).or(ports.first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost".to_string()
    } else {
        hosts.join(",")
    };
    let db = config.get_dbname().or(config.get_user()).unwrap_or("");
    let mut name = format!("postgres://{hosts}/{db}");
    if let Some(schema) = schema {
        write!(name, " (schema {schema})").expect("writing to a String");
    }
    name
}

/// A PostgreSQL URL as it may appear in logs and errors: host, port and
/// database only, never the password.
pub fn redacted_url(url: &str) -> String {
    match tokio_postgres::Config::from_str(url) {
        Ok(config) => describe_config(&config, None),
        Err(_) => "(an invalid PostgreSQL URL)".into(),
    }
}

/// An error with its causes, `outer: inner: …`.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// Sorts a client error into "try again later" and everything else.
fn pg_error(e: &tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let transient = code.starts_with("08") // connection exception
            || code.starts_with("53") // insufficient resources
            || code.starts_with("57P") // server shutting down / starting up
            || code == SqlState::QUERY_CANCELED.code()
            || code == SqlState::T_R_SERIALIZATION_FAILURE.code()
            || code == SqlState::T_R_DEADLOCK_DETECTED.code()
            || code == SqlState::LOCK_NOT_AVAILABLE.code()
            || code == SqlState::READ_ONLY_SQL_TRANSACTION.code();
        let message = format!("PostgreSQL: {} ({code})", db.message());
        return if transient {
            StoreError::Unavailable(message)
        } else {
            StoreError::Other(message)
        };
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut io = false;
    while let Some(cause) = source {
        io |= cause.is::<std::io::Error>();
        source = cause.source();
    }
    if e.is_closed() || io {
        StoreError::Unavailable(format!("PostgreSQL: {}", chain(e)))
    } else {
        StoreError::Other(format!("PostgreSQL: {}", chain(e)))
    }
}

fn db(e: tokio_postgres::Error) -> StoreError {
    pg_error(&e)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Other(format!("serializing: {e}")))
}

/// Reads a JSON text column into a model type.
fn json_column<T: DeserializeOwned>(
    row: &Row,
    index: usize,
    what: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    let parsed = match row.try_get::<_, &str>(index) {
        Ok(text) => serde_json::from_str(text).map_err(|e| format!("is not valid JSON: {e}")),
        Err(e) => Err(format!("is not text: {e}")),
    };
    parsed.map_err(|problem| StoreError::Other(format!("{} {problem}", what())))
}

/// A stored counter as `u64`.
fn unsigned(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Other(format!("{what} is negative ({value})")))
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    use tokio::net::{TcpListener, TcpStream};
    use tokio_util::sync::CancellationToken;

    use super::testing::{TestSchema, create, expect_other, task};
    use super::*;
    use crate::config::StoreSpec;
    use crate::model::TaskState;
    use crate::store::{Retention, Store, TaskQuery, open};

    #[test]
    fn names_never_show_the_password() {
        let config =
            tokio_postgres::Config::from_str("postgres://alice:s3cret@db.example:5433/tasks")
                .unwrap();
        assert_eq!(
            describe_config(&config, Some("a2a")),
            "postgres://db.example:5433/tasks (schema a2a)"
        );
        assert_eq!(
            redacted_url("postgresql://alice:s3cret@db.example/tasks?sslmode=disable"),
            "postgres://db.example:5432/tasks"
        );
        assert_eq!(
            redacted_url("host=/run/postgresql user=bob password=s3cret"),
            "postgres:///run/postgresql/bob"
        );
        assert_eq!(
            redacted_url("postgres://alice:s3cret@[::1]:6000,other:6001/db"),
            "postgres://[::1]:6000,other:6001/db"
        );
        let bad = redacted_url("postgres://alice:s3cret@host:notaport/db");
        assert!(!bad.contains("s3cret"), "{bad}");
    }

    #[tokio::test]
    async fn bad_urls_and_options_are_clear_errors() {
        let message = expect_other(
            PostgresStore::connect("postgres://u:s3cret@h:notaport/db", PgOptions::default()).await,
        );
        assert!(message.contains("invalid PostgreSQL URL"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");

        for schema in [
            "",
            "Upper",
            "has-dash",
            "1digit",
            "pg_catalog",
            &"x".repeat(64),
        ] {
            let options = PgOptions {
                schema: Some(schema.to_string()),
                ..PgOptions::default()
            };
            let message =
                expect_other(PostgresStore::connect("postgres://u@127.0.0.1/db", options).await);
            assert!(
                message.contains("invalid PostgreSQL schema name"),
                "{message}"
            );
        }

        let message = expect_other(
            PostgresStore::connect(
                "postgres://u@127.0.0.1/db?sslmode=require",
                PgOptions::default(),
            )
            .await,
        );
        assert!(message.contains("sslmode=require"), "{message}");
    }

    /// No server on the port: `Unavailable`, quickly, naming the address
    /// but not the password. Needs no PostgreSQL.
    #[tokio::test]
    async fn closed_port_is_unavailable_quickly() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let started = Instant::now();
        let url = format!("postgres://alice:s3cret@127.0.0.1:{port}/tasks");
        let result = PostgresStore::connect(&url, PgOptions::default()).await;
        let elapsed = started.elapsed();
        match result {
            Err(StoreError::Unavailable(message)) => {
                assert!(
                    message.contains(&format!("127.0.0.1:{port}/tasks")),
                    "{message}"
                );
                assert!(!message.contains("s3cret"), "{message}");
            }
            Err(e) => panic!("expected Unavailable, got {e:?}"),
            Ok(_) => panic!("connected to a closed port"),
        }
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");

        // The `open` helper says the same, without the password.
        let message = match open(&StoreSpec::Postgres(url)).await {
            Err(message) => message,
            Ok(_) => panic!("opened a closed port"),
        };
        assert!(message.contains("PostgreSQL"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn describes_itself_without_secrets() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        let store = schema.connect().await;
        let name = store.describe();
        assert!(name.starts_with("postgres://"), "{name}");
        assert!(
            name.ends_with(&format!("(schema {})", schema.name)),
            "{name}"
        );
        let config = tokio_postgres::Config::from_str(&schema.url).unwrap();
        if let Some(password) = config.get_password() {
            let password = String::from_utf8_lossy(password);
            assert!(!name.contains(password.as_ref()), "{name}");
        }
    }

    /// A TCP relay in front of the test server that can fail like a network
    /// or a server outage: while down it cuts every connection and refuses
    /// new ones.
    struct Relay {
        port: u16,
        up: Arc<AtomicBool>,
        cut: Arc<parking_lot::Mutex<CancellationToken>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Relay {
        async fn start(upstream: String) -> Relay {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let up = Arc::new(AtomicBool::new(true));
            let cut = Arc::new(parking_lot::Mutex::new(CancellationToken::new()));
            let (up2, cut2) = (up.clone(), cut.clone());
            let task = tokio::spawn(async move {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        continue;
                    };
                    if !up2.load(Ordering::SeqCst) {
                        continue; // dropped: the connection closes at once
                    }
                    let token = cut2.lock().clone();
                    let upstream = upstream.clone();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = token.cancelled() => {}
                        }
                    });
                }
            });
            Relay {
                port,
                up,
                cut,
                task,
            }
        }

        fn down(&self) {
            self.up.store(false, Ordering::SeqCst);
            let mut cut = self.cut.lock();
            cut.cancel();
            *cut = CancellationToken::new();
        }

        fn up(&self) {
            self.up.store(true, Ordering::SeqCst);
        }
    }

    impl Drop for Relay {
        fn drop(&mut self) {
            self.down();
            self.task.abort();
        }
    }

    /// The server goes away: operations fail fast with `Unavailable` (a 503
    /// for the client); it comes back: the same store works again without
    /// any help, and the retention job that failed meanwhile catches up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn outage_is_unavailable_and_recovers_by_itself() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        let config = tokio_postgres::Config::from_str(&schema.url).unwrap();
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".to_string(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let relay = Relay::start(format!("{host}:{port}")).await;
        // The same server through the relay, in the key=value form.
        let mut url = format!("host=127.0.0.1 port={}", relay.port);
        if let Some(user) = config.get_user() {
            write!(url, " user='{user}'").unwrap();
        }
        if let Some(db) = config.get_dbname() {
            write!(url, " dbname='{db}'").unwrap();
        }
        if let Some(password) = config.get_password() {
            write!(url, " password='{}'", String::from_utf8_lossy(password)).unwrap();
        }
        let options = PgOptions {
            pool_size: 4,
            connect_timeout: Duration::from_secs(2),
            wait_timeout: Duration::from_secs(2),
            ..schema.options()
        };
        let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, options).await.unwrap());
        let t = task("before", TaskState::Working, 1_700_000_000_000);
        store.write_task(create(&t, &[])).await.unwrap();
        let query = TaskQuery {
            agent: "echo".into(),
            page_size: 10,
            ..Default::default()
        };
        assert_eq!(store.list_tasks(&query).await.unwrap().total_size, 1);

        relay.down();
        let started = Instant::now();
        for attempt in 0..3 {
            match store.get_task("before").await {
                Err(StoreError::Unavailable(m)) => assert!(m.contains("PostgreSQL"), "{m}"),
                other => panic!("attempt {attempt} during the outage: {other:?}"),
            }
        }
        let expired = task("expired", TaskState::Completed, 1);
        assert!(matches!(
            store.write_task(create(&expired, &[])).await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            store.list_tasks(&query).await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "failing took {:?}",
            started.elapsed()
        );
        // The retention job runs (and fails) during the outage.
        let policy = Retention {
            terminal_tasks: Some(Duration::from_secs(60)),
            context_state: None,
        };
        let job =
            super::super::retention::spawn_retention(store.clone(), policy, Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!job.is_finished(), "the job must survive a failed run");

        relay.up();
        let stored = store.get_task("before").await.expect("after the outage");
        assert_eq!(stored.unwrap().task, t);
        store.write_task(create(&expired, &[])).await.unwrap();
        // The next run of the job removes the expired task.
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.get_task("expired").await.unwrap().is_some() {
            assert!(
                Instant::now() < deadline,
                "the retention job did not catch up"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!job.is_finished());
        job.abort();
        assert!(store.get_task("before").await.unwrap().is_some());
    }
}
