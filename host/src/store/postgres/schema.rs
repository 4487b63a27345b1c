//! The PostgreSQL schema: the migrations that create and upgrade it, run
//! under an advisory lock, and the check of a schema's name.

use deadpool_postgres::Object;

use super::pg_error;
use crate::store::StoreError;

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
    // 3: the push outbox: one row per (event, push config) until it is
    // delivered, keyed as `PushKey`; a dead letter keeps its row with
    // `dead`. `tasks.push_configs` counts a task's configs: a write gets it
    // back from the `UPDATE` of its task row, so a task without configs
    // queues nothing and looks nothing else up. No foreign keys: every row
    // is deleted with its task or config by the store itself.
    r#"
    ALTER TABLE tasks ADD COLUMN push_configs INTEGER NOT NULL DEFAULT 0;
    UPDATE tasks t SET push_configs = c.n
        FROM (SELECT task_id, count(*)::int AS n FROM push_configs GROUP BY task_id) c
        WHERE t.id = c.task_id;
    CREATE TABLE push_outbox (
        task_id        TEXT COLLATE "C" NOT NULL,
        config_id      TEXT COLLATE "C" NOT NULL,
        seq            BIGINT  NOT NULL,
        dead           BOOLEAN NOT NULL DEFAULT false,
        queued_ms      BIGINT  NOT NULL,
        next_ms        BIGINT  NOT NULL,
        attempts       INTEGER NOT NULL DEFAULT 0,
        lease_owner    TEXT,
        lease_until_ms BIGINT,
        error          TEXT,
        died_ms        BIGINT,
        url            TEXT,
        PRIMARY KEY (task_id, config_id, seq)
    );
    CREATE INDEX push_outbox_queue ON push_outbox (queued_ms) WHERE NOT dead;
    CREATE INDEX push_outbox_dead ON push_outbox (died_ms) WHERE dead;
    "#,
];

/// First key of the migration advisory lock: "A2AH". The second is a hash
/// of the schema name, so stores in different schemas migrate in parallel.
const MIGRATION_LOCK: i32 = 0x4132_4148;

/// Brings the schema up to date, in one transaction under the migration
/// lock.
pub(super) async fn migrate(client: &mut Object, schema: Option<&str>) -> Result<(), StoreError> {
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

pub(super) fn check_schema_name(schema: &str) -> Result<(), StoreError> {
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

#[cfg(test)]
mod tests {
    use tokio_postgres::NoTls;

    use super::super::PostgresStore;
    use super::super::testing::{TestSchema, bulk_insert, create, expect_other, task};
    use super::*;
    use crate::config::StoreSpec;
    use crate::model::{StreamResponse, TaskState};
    use crate::store::{Store as _, TaskQuery, open};

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

    /// A client on `schema` as an older release left it: the first
    /// `version` migrations applied and recorded.
    async fn database_at(schema: &TestSchema, version: usize) -> tokio_postgres::Client {
        let raw = schema.raw_client().await;
        raw.batch_execute(&format!("CREATE SCHEMA \"{}\"", schema.name))
            .await
            .unwrap();
        for step in &MIGRATIONS[..version] {
            raw.batch_execute(step).await.unwrap();
        }
        raw.batch_execute(&format!(
            "CREATE TABLE schema_version (
                 singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
                 version   INTEGER NOT NULL
             );
             INSERT INTO schema_version (version) VALUES ({version})"
        ))
        .await
        .unwrap();
        raw
    }

    /// A database written at schema version 1 (descending time indexes)
    /// gets the ascending ones and keeps its tasks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn schema_1_databases_get_ascending_indexes() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        let raw = database_at(&schema, 1).await;
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

    /// A database of schema version 2 gets the outbox and its tasks' config
    /// counts: a task with a config has its next events queued, one without
    /// has not.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn schema_2_databases_get_the_outbox() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        let raw = database_at(&schema, 2).await;
        bulk_insert(&raw, 2, "'TASK_STATE_WORKING'").await;
        raw.batch_execute(
            "INSERT INTO push_configs (task_id, id, config) VALUES \
             ('bulk-1', 'p1', '{\"id\":\"p1\",\"taskId\":\"bulk-1\",\"url\":\"https://hooks.example/p1\"}')",
        )
        .await
        .unwrap();

        let store = schema.connect().await;
        for (id, queued) in [("bulk-1", 2), ("bulk-2", 0)] {
            let t = task(id, TaskState::Working, 5);
            let events = [
                StreamResponse::Task(t.clone()),
                StreamResponse::Task(t.clone()),
            ];
            let mut w = create(&t, &events);
            w.expected_version = 1;
            let committed = store.write_task(w).await.unwrap();
            assert_eq!(
                (committed.first_seq, committed.pushes_queued),
                (2, queued),
                "{id}"
            );
        }
        let counts = store.push_counts().await.unwrap();
        assert_eq!((counts[0].agent.as_str(), counts[0].pending), ("echo", 2));
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
}
