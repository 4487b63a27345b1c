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
//! holding `\u0000` are fine, and the server never parses them; no query
//! looks inside them. Every text key column uses the `"C"` collation, so ids
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

use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType,
};
use serde::de::DeserializeOwned;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::memory::push_config_key;
use super::{
    Committed, PURGE_BATCH, PurgeReport, Retention, Store, StoreError, StoredTask, TaskPage,
    TaskQuery, TaskWrite, decode_page_token, encode_page_token, status_millis, unix_millis,
};
use crate::model::{StreamResponse, TaskPushNotificationConfig, TaskState};

/// The schema, one step per entry; step `i` takes `schema_version` from `i`
/// to `i + 1`. Never edit a released step: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE tasks (
        id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        agent       TEXT COLLATE "C" NOT NULL,
        context_id  TEXT COLLATE "C" NOT NULL,
        state       TEXT COLLATE "C" NOT NULL,
        status_ms   BIGINT NOT NULL,
        version     BIGINT NOT NULL,
        last_seq    BIGINT NOT NULL,
        created_ms  BIGINT NOT NULL,
        updated_ms  BIGINT NOT NULL,
        snapshot    TEXT   NOT NULL
    );
    CREATE INDEX tasks_by_time ON tasks (agent, status_ms DESC, id DESC);
    CREATE INDEX tasks_by_context ON tasks (agent, context_id, status_ms DESC, id DESC);
    CREATE INDEX tasks_by_state ON tasks (agent, state, status_ms DESC, id DESC);
    CREATE INDEX tasks_expiring ON tasks (status_ms) WHERE state IN (
        'TASK_STATE_COMPLETED', 'TASK_STATE_FAILED', 'TASK_STATE_CANCELED', 'TASK_STATE_REJECTED'
    );
    -- Agents differ wildly in their mix of states (one has thousands
    -- working, another none): without joint statistics the planner guesses
    -- "agent AND state" badly and may pick tasks_by_time plus a filter.
    CREATE STATISTICS tasks_agent_state (mcv, dependencies) ON agent, state FROM tasks;

    CREATE TABLE task_events (
        task_id TEXT COLLATE "C" NOT NULL REFERENCES tasks (id),
        seq     BIGINT NOT NULL,
        event   TEXT   NOT NULL,
        PRIMARY KEY (task_id, seq)
    );

    CREATE TABLE message_ids (
        agent      TEXT COLLATE "C" NOT NULL,
        context_id TEXT COLLATE "C" NOT NULL,
        message_id TEXT COLLATE "C" NOT NULL,
        task_id    TEXT COLLATE "C" NOT NULL REFERENCES tasks (id),
        PRIMARY KEY (agent, context_id, message_id)
    );
    CREATE INDEX message_ids_by_task ON message_ids (task_id);

    CREATE TABLE contexts (
        agent      TEXT COLLATE "C" NOT NULL,
        context_id TEXT COLLATE "C" NOT NULL,
        updated_ms BIGINT NOT NULL,
        PRIMARY KEY (agent, context_id)
    );
    CREATE INDEX contexts_by_age ON contexts (updated_ms);

    CREATE TABLE context_state (
        agent      TEXT COLLATE "C" NOT NULL,
        context_id TEXT COLLATE "C" NOT NULL,
        key        TEXT COLLATE "C" NOT NULL,
        value      BYTEA NOT NULL,
        PRIMARY KEY (agent, context_id, key)
    );

    CREATE TABLE push_configs (
        task_id TEXT COLLATE "C" NOT NULL REFERENCES tasks (id),
        id      TEXT COLLATE "C" NOT NULL,
        created BIGINT GENERATED ALWAYS AS IDENTITY,
        config  TEXT NOT NULL,
        PRIMARY KEY (task_id, id)
    );
    "#,
    // 2: the time-ordered task indexes ascending. New tasks carry the
    // newest timestamps; in a descending index they went to the left end
    // of each agent's range, where nbtree splits a full page in half and
    // the left half is never filled again. Ascending, they go to the right
    // end, where nbtree leaves the old page full (measured: 100,000 tasks
    // inserted one by one, tasks_by_time 1,680 → 942 pages, tasks_by_state
    // 2,253 → 1,280). ListTasks reads them backwards, still without a sort.
    r#"
    DROP INDEX tasks_by_time;
    DROP INDEX tasks_by_context;
    DROP INDEX tasks_by_state;
    CREATE INDEX tasks_by_time ON tasks (agent, status_ms, id);
    CREATE INDEX tasks_by_context ON tasks (agent, context_id, status_ms, id);
    CREATE INDEX tasks_by_state ON tasks (agent, state, status_ms, id);
    "#,
];

/// First key of the migration advisory lock: "A2AH". The second is a hash
/// of the schema name, so stores in different schemas migrate in parallel.
const MIGRATION_LOCK: i32 = 0x4132_4148;

/// Terminal tasks due for deletion, oldest first; `$1` is the cutoff, `$2`
/// the batch size. The state list matches the `tasks_expiring` index.
const EXPIRED_TASKS_SQL: &str = "SELECT id FROM tasks WHERE state IN (
        'TASK_STATE_COMPLETED', 'TASK_STATE_FAILED', 'TASK_STATE_CANCELED', 'TASK_STATE_REJECTED'
    ) AND status_ms < $1 ORDER BY status_ms LIMIT $2 FOR UPDATE SKIP LOCKED";

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

/// Brings the schema up to date, in one transaction under the migration
/// lock.
async fn migrate(client: &mut Object, schema: Option<&str>) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(|e| pg_error(&e))?;
    match migrate_in(&tx, schema).await {
        Ok(()) => tx.commit().await.map_err(|e| pg_error(&e)),
        Err(e) => {
            // Release the lock now rather than when the connection goes.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn migrate_in(
    tx: &deadpool_postgres::Transaction<'_>,
    schema: Option<&str>,
) -> Result<(), StoreError> {
    let lock_name: String = match schema {
        Some(s) => s.to_string(),
        None => tx
            .query_one("SELECT coalesce(current_schema(), '')", &[])
            .await
            .map_err(|e| pg_error(&e))?
            .get(0),
    };
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&MIGRATION_LOCK, &lock_name],
    )
    .await
    .map_err(|e| pg_error(&e))?;
    if let Some(schema) = schema {
        // Validated by `check_schema_name`; quoted all the same.
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; SET LOCAL search_path TO \"{schema}\""
        ))
        .await
        .map_err(|e| pg_error(&e))?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
             version   INTEGER NOT NULL
         )",
    )
    .await
    .map_err(|e| pg_error(&e))?;
    let current: i32 = tx
        .query_opt("SELECT version FROM schema_version", &[])
        .await
        .map_err(|e| pg_error(&e))?
        .map(|r| r.get(0))
        .unwrap_or(0);
    let known = MIGRATIONS.len() as i32;
    if current > known {
        return Err(StoreError::Other(format!(
            "the database has schema version {current}, newer than this a2a-host supports \
             ({known}); it was written by a newer a2a-host"
        )));
    }
    if current < 0 {
        return Err(StoreError::Other(format!(
            "the database has an invalid schema version {current}"
        )));
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.batch_execute(sql)
            .await
            .map_err(|e| match pg_error(&e) {
                StoreError::Other(m) => {
                    StoreError::Other(format!("schema version {}: {m}", step + 1))
                }
                other => other,
            })?;
    }
    if current < known {
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1) \
             ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version",
            &[&known],
        )
        .await
        .map_err(|e| pg_error(&e))?;
    }
    Ok(())
}

fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let valid = !schema.is_empty()
        && schema.len() <= 63
        && !schema.starts_with("pg_")
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(StoreError::Other(format!(
            "invalid PostgreSQL schema name `{schema}`: use lowercase ASCII letters, digits and \
             `_` (at most 63, not starting with a digit or `pg_`)"
        )))
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

type Param = Box<dyn ToSql + Sync + Send>;

fn param_refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// The one statement of a ListTasks page: the count over the filters, and
/// up to `page_size + 1` rows after the cursor (the extra row says whether
/// another page follows).
struct ListSql {
    sql: String,
    params: Vec<Param>,
    page_size: usize,
}

impl ListSql {
    fn new(query: &TaskQuery, cursor: Option<(i64, String)>) -> Self {
        let page_size = query.page_size.clamp(1, 100);
        let mut params: Vec<Param> = vec![Box::new(query.agent.clone())];
        let mut filter = String::from("agent = $1");
        if let Some(context_id) = &query.context_id {
            params.push(Box::new(context_id.clone()));
            write!(filter, " AND context_id = ${}", params.len()).expect("String");
        }
        if let Some(state) = query.state {
            params.push(Box::new(state.as_proto_str()));
            write!(filter, " AND state = ${}", params.len()).expect("String");
        }
        if let Some(after) = query.status_after {
            params.push(Box::new(after.unix_millis()));
            write!(filter, " AND status_ms >= ${}", params.len()).expect("String");
        }
        let count_filter = filter.clone();
        if let Some((ms, id)) = cursor {
            params.push(Box::new(ms));
            params.push(Box::new(id));
            write!(
                filter,
                " AND (status_ms, id) < (${}, ${})",
                params.len() - 1,
                params.len()
            )
            .expect("String");
        }
        params.push(Box::new(page_size as i64 + 1));
        let sql = format!(
            "SELECT c.total, p.status_ms, p.id, p.snapshot \
             FROM (SELECT count(*) AS total FROM tasks WHERE {count_filter}) AS c \
             LEFT JOIN LATERAL (\
                 SELECT status_ms, id, snapshot FROM tasks WHERE {filter} \
                 ORDER BY status_ms DESC, id DESC LIMIT ${}\
             ) AS p ON true \
             ORDER BY p.status_ms DESC, p.id DESC",
            params.len()
        );
        ListSql {
            sql,
            params,
            page_size,
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn write_task(&self, write: TaskWrite<'_>) -> Result<Committed, StoreError> {
        let task = &*write.task;
        if task.id.is_empty() {
            return Err(StoreError::Other("a task needs a non-empty id".into()));
        }
        let id = task.id.as_str();
        let snapshot = to_json(task)?;
        let events: Vec<String> = write.events.iter().map(to_json).collect::<Result<_, _>>()?;
        let event_count = events.len() as i64;
        let state = task.status.state.as_proto_str();
        let status_ms = status_millis(task);
        let now = unix_millis(SystemTime::now());

        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let (agent, last_seq): (String, i64) = if write.expected_version == 0 {
            let insert = tx
                .prepare_cached(
                    "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, \
                     last_seq, created_ms, updated_ms, snapshot) \
                     VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7, $8) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .await
                .map_err(db)?;
            let inserted = tx
                .execute(
                    &insert,
                    &[
                        &id,
                        &write.agent,
                        &task.context_id,
                        &state,
                        &status_ms,
                        &event_count,
                        &now,
                        &snapshot,
                    ],
                )
                .await
                .map_err(db)?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists(id.to_string()));
            }
            (write.agent.to_string(), 0)
        } else {
            // A version beyond i64 cannot be stored: it matches no row.
            let expected = i64::try_from(write.expected_version).unwrap_or(-1);
            let update = tx
                .prepare_cached(
                    "UPDATE tasks SET context_id = $3, state = $4, status_ms = $5, \
                     version = version + 1, last_seq = last_seq + $6, updated_ms = $7, \
                     snapshot = $8 WHERE id = $1 AND version = $2 RETURNING agent, last_seq",
                )
                .await
                .map_err(db)?;
            let row = tx
                .query_opt(
                    &update,
                    &[
                        &id,
                        &expected,
                        &task.context_id,
                        &state,
                        &status_ms,
                        &event_count,
                        &now,
                        &snapshot,
                    ],
                )
                .await
                .map_err(db)?;
            match row {
                Some(row) => (row.get(0), row.get::<_, i64>(1) - event_count),
                None => {
                    let current = tx
                        .prepare_cached("SELECT version FROM tasks WHERE id = $1")
                        .await
                        .map_err(db)?;
                    let actual = tx.query_opt(&current, &[&id]).await.map_err(db)?;
                    return Err(match actual {
                        None => StoreError::NotFound(id.to_string()),
                        Some(row) => StoreError::Conflict {
                            task_id: id.to_string(),
                            expected: write.expected_version,
                            actual: unsigned(row.get(0), "a task version")?,
                        },
                    });
                }
            }
        };

        if let Some(message_id) = write.claim_message_id {
            let claim = tx
                .prepare_cached(
                    "INSERT INTO message_ids (agent, context_id, message_id, task_id) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .await
                .map_err(db)?;
            let holder = tx
                .prepare_cached(
                    "SELECT task_id FROM message_ids \
                     WHERE agent = $1 AND context_id = $2 AND message_id = $3",
                )
                .await
                .map_err(db)?;
            // The holder may vanish (purged) between the two statements;
            // then the claim is free again and the insert is retried.
            let mut attempts = 0;
            loop {
                let claimed = tx
                    .execute(&claim, &[&agent, &task.context_id, &message_id, &id])
                    .await
                    .map_err(db)?;
                if claimed == 1 {
                    break;
                }
                let row = tx
                    .query_opt(&holder, &[&agent, &task.context_id, &message_id])
                    .await
                    .map_err(db)?;
                if let Some(row) = row {
                    return Err(StoreError::DuplicateMessage {
                        message_id: message_id.to_string(),
                        task_id: row.get(0),
                    });
                }
                attempts += 1;
                if attempts == 3 {
                    return Err(StoreError::Unavailable(format!(
                        "the claim of message `{message_id}` kept changing; try again"
                    )));
                }
            }
        }

        if !events.is_empty() {
            let append = tx
                .prepare_cached(
                    "INSERT INTO task_events (task_id, seq, event) \
                     SELECT $1, $2 + u.ord, u.event \
                     FROM unnest($3::text[]) WITH ORDINALITY AS u (event, ord)",
                )
                .await
                .map_err(db)?;
            tx.execute(&append, &[&id, &last_seq, &events])
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(Committed {
            version: write.expected_version + 1,
            first_seq: unsigned(last_seq, "a sequence number")? + 1,
        })
    }

    async fn get_task(&self, task_id: &str) -> Result<Option<StoredTask>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT agent, version, last_seq, snapshot FROM tasks WHERE id = $1")
            .await
            .map_err(db)?;
        let Some(row) = client.query_opt(&stmt, &[&task_id]).await.map_err(db)? else {
            return Ok(None);
        };
        Ok(Some(StoredTask {
            agent: row.get(0),
            version: unsigned(row.get(1), "a task version")?,
            last_seq: unsigned(row.get(2), "a sequence number")?,
            task: json_column(&row, 3, || format!("the snapshot of task `{task_id}`"))?,
        }))
    }

    async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskPage, StoreError> {
        let cursor = match query.page_token.as_deref() {
            None | Some("") => None,
            Some(token) => Some(
                decode_page_token(token)
                    .ok_or_else(|| StoreError::Other(format!("invalid page token `{token}`")))?,
            ),
        };
        let list = ListSql::new(query, cursor);
        let client = self.client().await?;
        let stmt = client.prepare_cached(&list.sql).await.map_err(db)?;
        let rows = client
            .query(&stmt, &param_refs(&list.params))
            .await
            .map_err(db)?;
        let mut total_size = 0;
        let mut tasks = Vec::with_capacity(list.page_size.min(rows.len()));
        let mut last_key = None;
        let mut more = false;
        for row in &rows {
            total_size = unsigned(row.get(0), "a count")?;
            let Some(id) = row.get::<_, Option<String>>(2) else {
                continue;
            };
            if tasks.len() == list.page_size {
                more = true;
                break;
            }
            let ms: i64 = row.get(1);
            tasks.push(json_column(row, 3, || {
                format!("the snapshot of task `{id}`")
            })?);
            last_key = Some((ms, id));
        }
        let next_page_token = match last_key {
            Some((ms, id)) if more => encode_page_token(ms, &id),
            _ => String::new(),
        };
        Ok(TaskPage {
            tasks,
            next_page_token,
            total_size,
        })
    }

    async fn events_after(
        &self,
        task_id: &str,
        after_seq: u64,
    ) -> Result<Vec<(u64, StreamResponse)>, StoreError> {
        let Ok(after) = i64::try_from(after_seq) else {
            return Ok(Vec::new());
        };
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT seq, event FROM task_events WHERE task_id = $1 AND seq > $2 ORDER BY seq",
            )
            .await
            .map_err(db)?;
        let rows = client.query(&stmt, &[&task_id, &after]).await.map_err(db)?;
        rows.iter()
            .map(|row| {
                let seq = unsigned(row.get(0), "a sequence number")?;
                let event = json_column(row, 1, || format!("event {seq} of task `{task_id}`"))?;
                Ok((seq, event))
            })
            .collect()
    }

    async fn task_for_message(
        &self,
        agent: &str,
        context_id: &str,
        message_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT task_id FROM message_ids \
                 WHERE agent = $1 AND context_id = $2 AND message_id = $3",
            )
            .await
            .map_err(db)?;
        let row = client
            .query_opt(&stmt, &[&agent, &context_id, &message_id])
            .await
            .map_err(db)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn tasks_in_states(
        &self,
        agent: Option<&str>,
        states: &[TaskState],
    ) -> Result<Vec<String>, StoreError> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        let states: Vec<&str> = states.iter().map(|s| s.as_proto_str()).collect();
        let client = self.client().await?;
        let rows = match agent {
            Some(agent) => {
                let stmt = client
                    .prepare_cached(
                        "SELECT id FROM tasks WHERE state = ANY($1) AND agent = $2 ORDER BY id",
                    )
                    .await
                    .map_err(db)?;
                client.query(&stmt, &[&states, &agent]).await
            }
            None => {
                let stmt = client
                    .prepare_cached("SELECT id FROM tasks WHERE state = ANY($1) ORDER BY id")
                    .await
                    .map_err(db)?;
                client.query(&stmt, &[&states]).await
            }
        }
        .map_err(db)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn get_state(
        &self,
        agent: &str,
        context_id: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT value FROM context_state \
                 WHERE agent = $1 AND context_id = $2 AND key = $3",
            )
            .await
            .map_err(db)?;
        let row = client
            .query_opt(&stmt, &[&agent, &context_id, &key])
            .await
            .map_err(db)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn set_state(
        &self,
        agent: &str,
        context_id: &str,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let Some(value) = value else {
            let stmt = client
                .prepare_cached(
                    "DELETE FROM context_state WHERE agent = $1 AND context_id = $2 AND key = $3",
                )
                .await
                .map_err(db)?;
            client
                .execute(&stmt, &[&agent, &context_id, &key])
                .await
                .map_err(db)?;
            return Ok(());
        };
        let now = unix_millis(SystemTime::now());
        // The context row first: its lock keeps a concurrent purge (which
        // locks the rows it deletes, skipping locked ones) off this context.
        let tx = client.transaction().await.map_err(db)?;
        let touch = tx
            .prepare_cached(
                "INSERT INTO contexts (agent, context_id, updated_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (agent, context_id) DO UPDATE SET updated_ms = EXCLUDED.updated_ms",
            )
            .await
            .map_err(db)?;
        tx.execute(&touch, &[&agent, &context_id, &now])
            .await
            .map_err(db)?;
        let upsert = tx
            .prepare_cached(
                "INSERT INTO context_state (agent, context_id, key, value) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (agent, context_id, key) DO UPDATE SET value = EXCLUDED.value",
            )
            .await
            .map_err(db)?;
        tx.execute(&upsert, &[&agent, &context_id, &key, &value])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn put_push_config(&self, config: &TaskPushNotificationConfig) -> Result<(), StoreError> {
        let (task_id, config_id) = push_config_key(config)?;
        let json = to_json(config)?;
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO push_configs (task_id, id, config) VALUES ($1, $2, $3) \
                 ON CONFLICT (task_id, id) DO UPDATE SET config = EXCLUDED.config",
            )
            .await
            .map_err(db)?;
        match client.execute(&stmt, &[&task_id, &config_id, &json]).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                Err(StoreError::NotFound(task_id.to_string()))
            }
            Err(e) => Err(db(e)),
        }
    }

    async fn get_push_config(
        &self,
        task_id: &str,
        config_id: &str,
    ) -> Result<Option<TaskPushNotificationConfig>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT config FROM push_configs WHERE task_id = $1 AND id = $2")
            .await
            .map_err(db)?;
        match client
            .query_opt(&stmt, &[&task_id, &config_id])
            .await
            .map_err(db)?
        {
            None => Ok(None),
            Some(row) => Ok(Some(json_column(&row, 0, || {
                format!("push config `{config_id}` of task `{task_id}`")
            })?)),
        }
    }

    async fn list_push_configs(
        &self,
        task_id: &str,
    ) -> Result<Vec<TaskPushNotificationConfig>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT config FROM push_configs WHERE task_id = $1 ORDER BY created")
            .await
            .map_err(db)?;
        let rows = client.query(&stmt, &[&task_id]).await.map_err(db)?;
        rows.iter()
            .map(|row| json_column(row, 0, || format!("a push config of task `{task_id}`")))
            .collect()
    }

    async fn delete_push_config(&self, task_id: &str, config_id: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM push_configs WHERE task_id = $1 AND id = $2")
            .await
            .map_err(db)?;
        let deleted = client
            .execute(&stmt, &[&task_id, &config_id])
            .await
            .map_err(db)?;
        Ok(deleted > 0)
    }

    async fn purge(&self, policy: &Retention, now: SystemTime) -> Result<PurgeReport, StoreError> {
        let cutoffs = policy.cutoffs(now);
        let mut report = PurgeReport::default();
        if let Some(before) = cutoffs.terminal_status_before_ms {
            loop {
                let (batch, count) = self.purge_tasks_batch(before).await?;
                report += batch;
                if count < PURGE_BATCH {
                    break;
                }
            }
        }
        if let Some(before) = cutoffs.state_written_before_ms {
            loop {
                let (values, count) = self.purge_contexts_batch(before).await?;
                report.context_values += values;
                if count < PURGE_BATCH {
                    break;
                }
            }
        }
        Ok(report)
    }

    fn describe(&self) -> String {
        self.shared.name.clone()
    }
}

impl PostgresStore {
    /// Deletes up to [`PURGE_BATCH`] expired terminal tasks (skipping rows
    /// another transaction holds) with everything that hangs off them.
    async fn purge_tasks_batch(&self, before: i64) -> Result<(PurgeReport, usize), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let select = tx.prepare_cached(EXPIRED_TASKS_SQL).await.map_err(db)?;
        let ids: Vec<String> = tx
            .query(&select, &[&before, &(PURGE_BATCH as i64)])
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut report = PurgeReport::default();
        if !ids.is_empty() {
            for (sql, count) in [
                (
                    "DELETE FROM task_events WHERE task_id = ANY($1)",
                    &mut report.events,
                ),
                (
                    "DELETE FROM message_ids WHERE task_id = ANY($1)",
                    &mut report.message_claims,
                ),
                (
                    "DELETE FROM push_configs WHERE task_id = ANY($1)",
                    &mut report.push_configs,
                ),
                ("DELETE FROM tasks WHERE id = ANY($1)", &mut report.tasks),
            ] {
                let stmt = tx.prepare_cached(sql).await.map_err(db)?;
                *count = tx.execute(&stmt, &[&ids]).await.map_err(db)?;
            }
        }
        tx.commit().await.map_err(db)?;
        Ok((report, ids.len()))
    }

    /// Deletes the values of up to [`PURGE_BATCH`] contexts last written
    /// before `before`; returns how many values and how many contexts.
    async fn purge_contexts_batch(&self, before: i64) -> Result<(u64, usize), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let select = tx
            .prepare_cached(
                "SELECT agent, context_id FROM contexts WHERE updated_ms < $1 \
                 ORDER BY updated_ms LIMIT $2 FOR UPDATE SKIP LOCKED",
            )
            .await
            .map_err(db)?;
        let rows = tx
            .query(&select, &[&before, &(PURGE_BATCH as i64)])
            .await
            .map_err(db)?;
        let agents: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        let contexts: Vec<String> = rows.iter().map(|r| r.get(1)).collect();
        let mut values = 0;
        if !rows.is_empty() {
            let delete_values = tx
                .prepare_cached(
                    "DELETE FROM context_state s \
                     USING unnest($1::text[], $2::text[]) AS d (agent, context_id) \
                     WHERE s.agent = d.agent AND s.context_id = d.context_id",
                )
                .await
                .map_err(db)?;
            values = tx
                .execute(&delete_values, &[&agents, &contexts])
                .await
                .map_err(db)?;
            let delete_contexts = tx
                .prepare_cached(
                    "DELETE FROM contexts c \
                     USING unnest($1::text[], $2::text[]) AS d (agent, context_id) \
                     WHERE c.agent = d.agent AND c.context_id = d.context_id",
                )
                .await
                .map_err(db)?;
            tx.execute(&delete_contexts, &[&agents, &contexts])
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok((values, rows.len()))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    use tokio::net::{TcpListener, TcpStream};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::config::StoreSpec;
    use crate::model::{Task, TaskStatus, Timestamp};
    use crate::store::conformance::Fixture;
    use crate::store::open;

    const URL_VAR: &str = "A2A_HOST_TEST_POSTGRES_URL";

    /// The test server's URL, or `None` after saying (uncaptured) why the
    /// test is skipped.
    fn test_url() -> Option<String> {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Some(url),
            _ => {
                // Straight to stderr: libtest does not capture this, so the
                // skip shows in the output of a passing run.
                let _ = writeln!(std::io::stderr(), "skipped: {URL_VAR} not set");
                None
            }
        }
    }

    /// A schema of its own for one test, dropped (with everything in it)
    /// when the guard goes, even if the test panicked.
    struct TestSchema {
        url: String,
        name: String,
    }

    impl TestSchema {
        fn new() -> Option<TestSchema> {
            Some(TestSchema {
                url: test_url()?,
                name: format!("a2a_test_{}", uuid::Uuid::new_v4().simple()),
            })
        }

        fn options(&self) -> PgOptions {
            PgOptions {
                schema: Some(self.name.clone()),
                pool_size: 8,
                ..PgOptions::default()
            }
        }

        async fn connect(&self) -> PostgresStore {
            PostgresStore::connect(&self.url, self.options())
                .await
                .unwrap_or_else(|e| panic!("connecting to the test database: {e}"))
        }

        /// A plain client with the schema on its search path.
        async fn raw_client(&self) -> tokio_postgres::Client {
            let (client, conn) = tokio_postgres::connect(&self.url, NoTls)
                .await
                .expect("a raw connection");
            tokio::spawn(conn);
            client
                .batch_execute(&format!("SET search_path TO \"{}\"", self.name))
                .await
                .unwrap();
            client
        }
    }

    impl Drop for TestSchema {
        fn drop(&mut self) {
            let (url, name) = (self.url.clone(), self.name.clone());
            // Its own thread and runtime: this may run inside the test's
            // runtime, whose tasks must keep running meanwhile (they close
            // the store's connections), so a multi-thread runtime hands this
            // worker's tasks to another; a lock timeout bounds the rest.
            let cleanup = move || {
                std::thread::spawn(move || -> Result<(), String> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    runtime.block_on(async {
                        let (client, conn) = tokio_postgres::connect(&url, NoTls)
                            .await
                            .map_err(|e| e.to_string())?;
                        let driver = tokio::spawn(conn);
                        let result = client
                            .batch_execute(&format!(
                                "SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                            ))
                            .await
                            .map_err(|e| e.to_string());
                        drop(client);
                        let _ = driver.await;
                        result
                    })
                })
                .join()
            };
            let outcome = match tokio::runtime::Handle::try_current() {
                Ok(handle)
                    if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
                {
                    tokio::task::block_in_place(cleanup)
                }
                _ => cleanup(),
            };
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("dropping test schema {}: {e}", self.name),
                Err(_) => eprintln!("dropping test schema {} panicked", self.name),
            }
        }
    }

    async fn fixture() -> Option<Fixture> {
        let schema = TestSchema::new()?;
        let store = schema.connect().await;
        Some(Fixture::with_guard(store, schema))
    }

    crate::store_conformance_tests!(optional fixture().await);

    fn task(id: &str, state: TaskState, ms: i64) -> Task {
        Task {
            id: id.into(),
            context_id: "ctx".into(),
            status: TaskStatus {
                state,
                message: None,
                timestamp: Timestamp::from_unix_millis(ms),
            },
            ..Default::default()
        }
    }

    fn create<'a>(t: &'a Task, events: &'a [StreamResponse]) -> TaskWrite<'a> {
        TaskWrite {
            agent: "echo",
            task: Arc::new(t.clone()),
            expected_version: 0,
            events: events.iter().cloned().map(Arc::new).collect(),
            claim_message_id: None,
            context_is_new: false,
        }
    }

    fn expect_other<T>(result: Result<T, StoreError>) -> String {
        match result {
            Err(StoreError::Other(m)) => m,
            Err(e) => panic!("expected StoreError::Other, got {e:?}"),
            Ok(_) => panic!("expected an error"),
        }
    }

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

    /// Many processes starting at once on an empty schema: all succeed, the
    /// schema is migrated exactly once, and they share the data.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_starts_migrate_once() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        let starts: Vec<_> = (0..8)
            .map(|_| {
                let (url, options) = (schema.url.clone(), schema.options());
                tokio::spawn(async move { PostgresStore::connect(&url, options).await })
            })
            .collect();
        let mut stores = Vec::new();
        for start in starts {
            stores.push(start.await.unwrap().expect("a concurrent start"));
        }
        let raw = schema.raw_client().await;
        let rows = raw
            .query("SELECT version FROM schema_version", &[])
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<_, i32>(0), MIGRATIONS.len() as i32);

        let t = task("shared", TaskState::Working, 1_700_000_000_000);
        stores[0].write_task(create(&t, &[])).await.unwrap();
        for store in &stores {
            assert_eq!(store.get_task("shared").await.unwrap().unwrap().task, t);
        }
        // Reconnecting to a current schema changes nothing.
        drop(stores);
        schema.connect().await;
    }

    /// A database written at schema version 1 (descending time indexes)
    /// gets the ascending ones and keeps its tasks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn schema_1_databases_get_ascending_indexes() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        let raw = schema.raw_client().await;
        raw.batch_execute(&format!("CREATE SCHEMA \"{}\"", schema.name))
            .await
            .unwrap();
        raw.batch_execute(MIGRATIONS[0]).await.unwrap();
        raw.batch_execute(
            "CREATE TABLE schema_version (
                 singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
                 version   INTEGER NOT NULL
             );
             INSERT INTO schema_version (version) VALUES (1)",
        )
        .await
        .unwrap();
        let descending = index_definitions(&raw).await;
        assert!(descending.contains("status_ms DESC"), "{descending}");
        bulk_insert(&raw, 30, "'TASK_STATE_COMPLETED'").await;

        let store = schema.connect().await;
        let version: i32 = raw
            .query_one("SELECT version FROM schema_version", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(version, MIGRATIONS.len() as i32);
        let ascending = index_definitions(&raw).await;
        for index in ["tasks_by_time", "tasks_by_context", "tasks_by_state"] {
            assert!(ascending.contains(index), "{ascending}");
        }
        assert!(!ascending.contains("DESC"), "{ascending}");
        let page = store
            .list_tasks(&TaskQuery {
                agent: "echo".into(),
                page_size: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.total_size, 30);
        assert_eq!(page.tasks[0].id, "bulk-30");
    }

    /// The definitions of the tasks table's indexes, one per line.
    async fn index_definitions(raw: &tokio_postgres::Client) -> String {
        let rows = raw
            .query(
                "SELECT indexdef FROM pg_indexes \
                 WHERE schemaname = current_schema() AND tablename = 'tasks' ORDER BY indexname",
                &[],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn newer_schema_is_rejected() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        drop(schema.connect().await);
        let raw = schema.raw_client().await;
        raw.batch_execute("UPDATE schema_version SET version = 99")
            .await
            .unwrap();
        let message = expect_other(PostgresStore::connect(&schema.url, schema.options()).await);
        assert!(
            message.contains("schema version 99") && message.contains("newer"),
            "{message}"
        );
    }

    /// `--store postgres://…?options=-c search_path=…` goes through `open`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_takes_the_schema_from_the_url() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        // The URL names an existing schema; `open` creates the tables there.
        let raw = tokio_postgres::connect(&schema.url, NoTls).await.unwrap();
        tokio::spawn(raw.1);
        raw.0
            .batch_execute(&format!("CREATE SCHEMA \"{}\"", schema.name))
            .await
            .unwrap();
        let separator = if schema.url.contains('?') { '&' } else { '?' };
        let url = format!(
            "{}{separator}options=-c%20search_path%3D{}",
            schema.url, schema.name
        );
        let store = open(&StoreSpec::Postgres(url)).await.expect("open");
        let t = task("via-open", TaskState::Completed, 5);
        store.write_task(create(&t, &[])).await.unwrap();
        let rows = schema
            .raw_client()
            .await
            .query("SELECT id FROM tasks", &[])
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<_, &str>(0), "via-open");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corrupt_rows_are_errors_not_panics() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        let store = schema.connect().await;
        let t = task("t1", TaskState::Working, 1);
        store
            .write_task(create(&t, &[StreamResponse::Task(t.clone())]))
            .await
            .unwrap();
        schema
            .raw_client()
            .await
            .batch_execute(
                "UPDATE tasks SET snapshot = '{not json'; UPDATE task_events SET event = '[]'",
            )
            .await
            .unwrap();
        let message = expect_other(store.get_task("t1").await);
        assert!(message.contains("`t1`"), "{message}");
        expect_other(store.events_after("t1", 0).await);
        let query = TaskQuery {
            agent: "echo".into(),
            page_size: 10,
            ..Default::default()
        };
        expect_other(store.list_tasks(&query).await);
    }

    /// Inserts `count` tasks of agent `echo` straight in SQL: contexts
    /// `ctx0..ctx99`, alternating working/completed, distinct status times.
    async fn bulk_insert(client: &tokio_postgres::Client, count: i64, state_sql: &str) {
        client
            .execute(
                &format!(
                    "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, \
                     last_seq, created_ms, updated_ms, snapshot) \
                     SELECT 'bulk-' || i, 'echo', 'ctx' || (i % 100), {state_sql}, \
                            1000000 + i, 1, 1, 0, 0, \
                            '{{\"id\":\"bulk-' || i || '\",\"contextId\":\"ctx' || (i % 100) || \
                            '\",\"status\":{{\"state\":\"TASK_STATE_COMPLETED\"}}}}' \
                     FROM generate_series(1, $1::bigint) AS i"
                ),
                &[&count],
            )
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO task_events (task_id, seq, event) \
                 SELECT 'bulk-' || i, 1, '{}' FROM generate_series(1, $1::bigint) AS i",
                &[&count],
            )
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO message_ids (agent, context_id, message_id, task_id) \
                 SELECT 'echo', 'ctx' || (i % 100), 'm' || i, 'bulk-' || i \
                 FROM generate_series(1, $1::bigint) AS i",
                &[&count],
            )
            .await
            .unwrap();
        client.batch_execute("ANALYZE").await.unwrap();
    }

    /// Every ListTasks shape reads the matching index in order: no table
    /// scan, no sort of the table.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn list_queries_use_the_indexes() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        drop(schema.connect().await);
        let raw = schema.raw_client().await;
        // Other agents own most of the table, as in a shared deployment.
        raw.batch_execute(
            "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, last_seq, \
             created_ms, updated_ms, snapshot) \
             SELECT 'other-' || i, 'agent' || (i % 10), 'ctx', 'TASK_STATE_WORKING', i, 1, 0, \
                    0, 0, '{}' \
             FROM generate_series(1, 60000) AS i",
        )
        .await
        .unwrap();
        bulk_insert(
            &raw,
            20_000,
            "CASE WHEN i % 10 = 0 THEN 'TASK_STATE_WORKING' ELSE 'TASK_STATE_COMPLETED' END",
        )
        .await;
        raw.batch_execute("VACUUM (ANALYZE) tasks").await.unwrap();
        let base = TaskQuery {
            agent: "echo".into(),
            page_size: 50,
            ..Default::default()
        };
        let cursor = Some((1_010_000, "bulk-9000".to_string()));
        let cases = [
            (base.clone(), None, "tasks_by_time"),
            (base.clone(), cursor.clone(), "tasks_by_time"),
            (
                TaskQuery {
                    context_id: Some("ctx7".into()),
                    ..base.clone()
                },
                cursor.clone(),
                "tasks_by_context",
            ),
            (
                TaskQuery {
                    state: Some(TaskState::Working),
                    ..base.clone()
                },
                cursor.clone(),
                "tasks_by_state",
            ),
        ];
        for (query, cursor, index) in cases {
            let list = ListSql::new(&query, cursor);
            let rows = raw
                .query(&format!("EXPLAIN {}", list.sql), &param_refs(&list.params))
                .await
                .unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            let plan = plan.join("\n");
            // The page: the first rows of the index, in its order.
            assert!(
                plan.contains(&format!("Index Scan Backward using {index}")),
                "{}\n{plan}",
                list.sql
            );
            // The count: from an index too. (The only sort is the final one
            // of the page's at most 101 rows.)
            assert!(!plan.contains("Seq Scan"), "{}\n{plan}", list.sql);
        }
        // The totals come from the same statement.
        let store = schema.connect().await;
        let page = store
            .list_tasks(&TaskQuery {
                context_id: Some("ctx7".into()),
                ..base.clone()
            })
            .await
            .unwrap();
        assert_eq!((page.tasks.len(), page.total_size), (50, 200));
        assert_eq!(page.tasks[0].id, "bulk-19907");
    }

    /// A purge bigger than one batch deletes everything due, in batches.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn purge_runs_in_batches() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        let store = schema.connect().await;
        let raw = schema.raw_client().await;
        let count = (PURGE_BATCH * 2 + 7) as i64;
        bulk_insert(&raw, count, "'TASK_STATE_COMPLETED'").await;
        let keep = task("keep", TaskState::Completed, unix_millis(SystemTime::now()));
        store.write_task(create(&keep, &[])).await.unwrap();
        let policy = Retention {
            terminal_tasks: Some(Duration::from_secs(60)),
            context_state: None,
        };
        let report = store.purge(&policy, SystemTime::now()).await.unwrap();
        assert_eq!(
            report,
            PurgeReport {
                tasks: count as u64,
                events: count as u64,
                message_claims: count as u64,
                push_configs: 0,
                context_values: 0,
            }
        );
        let left: i64 = raw
            .query_one("SELECT count(*) FROM tasks", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, 1);
        assert!(store.get_task("keep").await.unwrap().is_some());
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
