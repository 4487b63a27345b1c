//! The SQLite schema: the migrations that create and upgrade it, the
//! check that a file is an a2a-host store, and the writer's pragmas.

use rusqlite::{Connection, TransactionBehavior};

use super::{STATEMENT_CACHE, open_error};
use crate::store::StoreError;

/// Marks a database as an a2a-host store (`PRAGMA application_id`): "A2AH".
const APPLICATION_ID: i32 = 0x4132_4148;

/// The schema, one step per entry; step `i` takes `user_version` from `i` to
/// `i + 1`. Never edit a released step: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
    CREATE TABLE tasks (
        id          TEXT    NOT NULL PRIMARY KEY,
        agent       TEXT    NOT NULL,
        context_id  TEXT    NOT NULL,
        state       TEXT    NOT NULL,
        status_ms   INTEGER NOT NULL,
        version     INTEGER NOT NULL,
        last_seq    INTEGER NOT NULL,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        snapshot    TEXT    NOT NULL
    );
    CREATE INDEX tasks_by_time ON tasks (agent, status_ms DESC, id DESC);
    CREATE INDEX tasks_by_context ON tasks (agent, context_id, status_ms DESC, id DESC);
    CREATE INDEX tasks_by_state ON tasks (agent, state, status_ms DESC, id DESC);

    CREATE TABLE task_events (
        task_id TEXT    NOT NULL REFERENCES tasks (id),
        seq     INTEGER NOT NULL,
        event   TEXT    NOT NULL,
        PRIMARY KEY (task_id, seq)
    );

    CREATE TABLE message_ids (
        agent      TEXT NOT NULL,
        context_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        task_id    TEXT NOT NULL REFERENCES tasks (id),
        PRIMARY KEY (agent, context_id, message_id)
    ) WITHOUT ROWID;

    CREATE TABLE context_state (
        agent      TEXT NOT NULL,
        context_id TEXT NOT NULL,
        key        TEXT NOT NULL,
        value      BLOB NOT NULL,
        PRIMARY KEY (agent, context_id, key)
    );

    CREATE TABLE push_configs (
        created INTEGER PRIMARY KEY,
        task_id TEXT    NOT NULL REFERENCES tasks (id),
        id      TEXT    NOT NULL,
        config  TEXT    NOT NULL,
        UNIQUE (task_id, id)
    );
    ",
    // 2: retention. When each context was last written (existing contexts
    // count as written now, so they get a full retention period), an index
    // of terminal tasks by status time, and claims by task for deletion.
    "
    CREATE TABLE contexts (
        agent      TEXT    NOT NULL,
        context_id TEXT    NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (agent, context_id)
    ) WITHOUT ROWID;
    INSERT INTO contexts (agent, context_id, updated_ms)
        SELECT DISTINCT agent, context_id, CAST(strftime('%s', 'now') AS INTEGER) * 1000
        FROM context_state;
    CREATE INDEX contexts_by_age ON contexts (updated_ms);
    CREATE INDEX tasks_expiring ON tasks (status_ms) WHERE state IN (
        'TASK_STATE_COMPLETED', 'TASK_STATE_FAILED', 'TASK_STATE_CANCELED', 'TASK_STATE_REJECTED'
    );
    CREATE INDEX message_ids_by_task ON message_ids (task_id);
    ",
    // 3: fewer pages written per task. The time-ordered indexes run
    // ascending (ListTasks reads them backwards), so that new tasks land at
    // their right end, where SQLite appends to a full page instead of
    // splitting it in half (the descending ones were half empty and split
    // twice as often). Claims are purged by their key's prefix (agent,
    // context) instead of an index of their own.
    "
    DROP INDEX tasks_by_time;
    DROP INDEX tasks_by_context;
    DROP INDEX tasks_by_state;
    DROP INDEX message_ids_by_task;
    CREATE INDEX tasks_by_time ON tasks (agent, status_ms, id);
    CREATE INDEX tasks_by_context ON tasks (agent, context_id, status_ms, id);
    CREATE INDEX tasks_by_state ON tasks (agent, state, status_ms, id);
    ",
    // 4: the events of one write in one row. `seq` is the row's last
    // sequence number and `n` how many events it holds: `event` is one event
    // when `n` is 1 (every row written before), else a JSON array of `n`.
    // One row instead of one per event: fewer inserts, key entries and
    // foreign-key look-ups per task write (an echo task writes two events).
    "
    ALTER TABLE task_events ADD COLUMN n INTEGER NOT NULL DEFAULT 1;
    ",
    // 5: the expiry index's predicate as comparisons. SQLite evaluates a
    // partial index's predicate on every insert and update of a row; an
    // `IN` list of more than two values builds a temporary B-tree each
    // time (open, create, four inserts, close), about 5 % of an echo
    // task's write. `OR`ed equalities are four string comparisons. The
    // purge query spells the predicate the same way (`EXPIRED_TASKS_SQL`),
    // which SQLite needs to use the index.
    "
    DROP INDEX tasks_expiring;
    CREATE INDEX tasks_expiring ON tasks (status_ms) WHERE state = 'TASK_STATE_COMPLETED'
        OR state = 'TASK_STATE_FAILED' OR state = 'TASK_STATE_CANCELED'
        OR state = 'TASK_STATE_REJECTED';
    ",
    // 6: the push outbox: one row per (event, push config) until it is
    // delivered, keyed as `PushKey`; a dead letter keeps its row with
    // `dead = 1`. `tasks.push_configs` counts a task's configs: a write
    // reads it with the version it checks anyway, so a task without
    // configs queues nothing and looks nothing else up. No foreign keys:
    // every row is deleted with its task or config by the store itself.
    "
    ALTER TABLE tasks ADD COLUMN push_configs INTEGER NOT NULL DEFAULT 0;
    UPDATE tasks
        SET push_configs = (SELECT count(*) FROM push_configs p WHERE p.task_id = tasks.id)
        WHERE id IN (SELECT task_id FROM push_configs);
    CREATE TABLE push_outbox (
        task_id        TEXT    NOT NULL,
        config_id      TEXT    NOT NULL,
        seq            INTEGER NOT NULL,
        dead           INTEGER NOT NULL DEFAULT 0,
        queued_ms      INTEGER NOT NULL,
        next_ms        INTEGER NOT NULL,
        attempts       INTEGER NOT NULL DEFAULT 0,
        lease_owner    TEXT,
        lease_until_ms INTEGER,
        error          TEXT,
        died_ms        INTEGER,
        url            TEXT,
        PRIMARY KEY (task_id, config_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX push_outbox_queue ON push_outbox (queued_ms) WHERE dead = 0;
    CREATE INDEX push_outbox_dead ON push_outbox (died_ms) WHERE dead = 1;
    ",
];

pub(super) fn configure_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Temporary tables, indexes and journals in memory, not in files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Truncate a WAL that grew past 64 MiB once it has been checkpointed.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Brings the schema up to date, in one transaction.
pub(super) fn migrate(conn: &mut Connection, shown: &str) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| open_error(shown, e))?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let app_id: i64 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if app_id != 0 && app_id != i64::from(APPLICATION_ID) {
        return Err(StoreError::Other(format!(
            "`{shown}` is another application's SQLite database (application_id {app_id:#x}), \
             not an a2a-host store"
        )));
    }
    if version == 0 && app_id == 0 {
        let tables: i64 = tx.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        if tables > 0 {
            return Err(StoreError::Other(format!(
                "`{shown}` is a SQLite database with {tables} tables of its own, \
                 not an a2a-host store"
            )));
        }
    }
    if version > known {
        return Err(StoreError::Other(format!(
            "`{shown}` has schema version {version}, newer than this a2a-host supports \
             ({known}); it was written by a newer a2a-host"
        )));
    }
    if version < 0 {
        return Err(StoreError::Other(format!(
            "`{shown}` has an invalid schema version {version}"
        )));
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql).map_err(|e| {
            StoreError::Other(format!(
                "migrating `{shown}` to schema version {}: {e}",
                step + 1
            ))
        })?;
    }
    if version < known {
        tx.pragma_update(None, "user_version", known)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    use rusqlite::params;

    use super::super::SqliteStore;
    use super::super::testing::{event, other_error, purge_ended_a_minute_ago, task, write};
    use super::*;
    use crate::model::{Message, StreamResponse, TaskState};
    use crate::store::{PurgeReport, Retention, Store as _, TaskQuery};

    #[tokio::test]
    async fn schema_pragmas_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.describe(), format!("sqlite:{}", path.display()));
        assert_eq!(
            SqliteStore::open_in_memory().unwrap().describe(),
            "sqlite::memory:"
        );
        drop(store);
        let raw = Connection::open(&path).unwrap();
        let mode: String = raw
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let version: i64 = raw
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let app: i32 = raw
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(app, APPLICATION_ID);
        // Reopening an up-to-date file changes nothing.
        drop(raw);
        SqliteStore::open(&path).unwrap();
    }

    #[test]
    fn newer_schema_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        drop(SqliteStore::open(&path).unwrap());
        let raw = Connection::open(&path).unwrap();
        raw.pragma_update(None, "user_version", 99).unwrap();
        drop(raw);
        let message = other_error(SqliteStore::open(&path));
        assert!(
            message.contains("schema version 99") && message.contains("newer"),
            "{message}"
        );
    }

    #[test]
    fn other_applications_databases_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs.db");
        let raw = Connection::open(&theirs).unwrap();
        raw.execute_batch("CREATE TABLE notes (body TEXT)").unwrap();
        drop(raw);
        let message = other_error(SqliteStore::open(&theirs));
        assert!(message.contains("not an a2a-host store"), "{message}");

        let tagged = dir.path().join("tagged.db");
        let raw = Connection::open(&tagged).unwrap();
        raw.pragma_update(None, "application_id", 1234).unwrap();
        drop(raw);
        let message = other_error(SqliteStore::open(&tagged));
        assert!(message.contains("another application"), "{message}");
    }

    /// An a2a-host file as an older release left it: the first `version`
    /// migration steps applied, and marked as such.
    fn file_of_schema(path: &Path, version: usize) -> Connection {
        let raw = Connection::open(path).unwrap();
        for step in &MIGRATIONS[..version] {
            raw.execute_batch(step).unwrap();
        }
        raw.pragma_update(None, "user_version", version as i64)
            .unwrap();
        raw.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        raw
    }

    /// A file from before retention (schema 1) gains the new tables on
    /// open; its context state counts as written at the upgrade.
    #[tokio::test]
    async fn schema_1_files_are_upgraded_for_retention() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        {
            let raw = file_of_schema(&path, 1);
            raw.execute(
                "INSERT INTO context_state (agent, context_id, key, value) \
                 VALUES ('echo', 'c1', 'a', x'01'), ('echo', 'c1', 'b', x'02'), \
                        ('echo', 'c2', 'a', x'03')",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let day = Duration::from_secs(24 * 3600);
        let policy = Retention {
            terminal_tasks: None,
            context_state: Some(day),
        };
        let report = store.purge(&policy, SystemTime::now()).await.unwrap();
        assert_eq!(report, PurgeReport::default());
        assert_eq!(
            store.get_state("echo", "c1", "b").await.unwrap(),
            Some(vec![2])
        );
        let report = store
            .purge(&policy, SystemTime::now() + day + Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(report.context_values, 3);
        assert_eq!(store.get_state("echo", "c2", "a").await.unwrap(), None);
    }

    /// A file of schema 2 gets the ascending indexes (and loses the index of
    /// claims by task) on open, and its tasks list and purge as before.
    #[tokio::test]
    async fn schema_2_files_get_ascending_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        {
            let raw = file_of_schema(&path, 2);
            for (i, id) in ["old", "new"].into_iter().enumerate() {
                let t = task(id, TaskState::Completed);
                raw.execute(
                    "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, \
                     last_seq, created_ms, updated_ms, snapshot) \
                     VALUES (?1, 'echo', 'ctx', 'TASK_STATE_COMPLETED', ?2, 1, 0, 0, 0, ?3)",
                    params![id, 1000 + i as i64, serde_json::to_string(&t).unwrap()],
                )
                .unwrap();
                raw.execute(
                    "INSERT INTO message_ids (agent, context_id, message_id, task_id) \
                     VALUES ('echo', 'ctx', ?1, ?2)",
                    params![format!("m-{id}"), id],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            let indexes: Vec<(String, String)> = conn
                .prepare(
                    "SELECT name, sql FROM sqlite_schema WHERE type = 'index' \
                     AND tbl_name IN ('tasks', 'message_ids') AND sql IS NOT NULL ORDER BY name",
                )
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let names: Vec<&str> = indexes.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(
                names,
                [
                    "tasks_by_context",
                    "tasks_by_state",
                    "tasks_by_time",
                    "tasks_expiring"
                ]
            );
            for (name, sql) in &indexes {
                assert!(!sql.contains("DESC"), "{name}: {sql}");
            }
        }
        let page = store
            .list_tasks(&TaskQuery {
                agent: "echo".into(),
                page_size: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let ids: Vec<&str> = page.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["new", "old"]);
        let report = purge_ended_a_minute_ago(&store).await;
        assert_eq!((report.tasks, report.message_claims), (2, 2));
    }

    /// A file of schema 3 (one row per event) keeps its event rows; events
    /// written after the upgrade share a row per write, and the log reads
    /// back whole and gap-free from any point, across both kinds of rows.
    #[tokio::test]
    async fn schema_3_event_rows_read_on_beside_batched_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let mut t = task("t", TaskState::Working);
        let old: Vec<StreamResponse> = ["one", "two"]
            .iter()
            .map(|text| {
                t.history.push(Message::user_text(*text));
                event(&t)
            })
            .collect();
        {
            let raw = file_of_schema(&path, 3);
            raw.execute(
                "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, \
                 last_seq, created_ms, updated_ms, snapshot) \
                 VALUES ('t', 'echo', 'ctx', 'TASK_STATE_WORKING', 0, 1, 2, 0, 0, ?1)",
                [serde_json::to_string(&t).unwrap()],
            )
            .unwrap();
            for (seq, e) in (1..).zip(&old) {
                raw.execute(
                    "INSERT INTO task_events (task_id, seq, event) VALUES ('t', ?1, ?2)",
                    params![seq, serde_json::to_string(e).unwrap()],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        let new: Vec<StreamResponse> = ["three", "four", "five"]
            .iter()
            .map(|text| {
                t.history.push(Message::user_text(*text));
                event(&t)
            })
            .collect();
        let committed = store.write_task(write(&t, 1, &new, None)).await.unwrap();
        assert_eq!((committed.version, committed.first_seq), (2, 3));
        let single = [event(&t)];
        let committed = store.write_task(write(&t, 2, &single, None)).await.unwrap();
        assert_eq!(committed.first_seq, 6);
        let all: Vec<(u64, StreamResponse)> = (1..)
            .zip(old.iter().chain(&new).chain(&single).cloned())
            .collect();
        for after in 0..=6 {
            let tail = store.events_after("t", after).await.unwrap();
            assert_eq!(tail, all[after as usize..].to_vec(), "after {after}");
        }
        let rows: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM task_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 4, "two old rows, one per write after");
        // A purge counts events, not rows.
        store
            .write_task(write(&task("t", TaskState::Completed), 3, &[], None))
            .await
            .unwrap();
        let report = purge_ended_a_minute_ago(&store).await;
        assert_eq!((report.tasks, report.events), (1, 6));
    }

    /// A file of schema 4 gets the expiry index without the `IN` list, and
    /// its expired tasks are still found and purged.
    #[tokio::test]
    async fn schema_4_files_get_the_new_expiry_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        {
            let raw = file_of_schema(&path, 4);
            for (id, state) in [
                ("done", "TASK_STATE_COMPLETED"),
                ("open", "TASK_STATE_WORKING"),
            ] {
                let t = task(id, TaskState::Completed);
                raw.execute(
                    "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, \
                     last_seq, created_ms, updated_ms, snapshot) \
                     VALUES (?1, 'echo', 'ctx', ?2, 1000, 1, 0, 0, 0, ?3)",
                    params![id, state, serde_json::to_string(&t).unwrap()],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            let sql: String = conn
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE name = 'tasks_expiring'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(!sql.contains(" IN "), "{sql}");
        }
        let report = purge_ended_a_minute_ago(&store).await;
        assert_eq!(report.tasks, 1);
        assert!(store.get_task("done").await.unwrap().is_none());
        assert!(store.get_task("open").await.unwrap().is_some());
    }

    /// A file of schema 5 gets the outbox, and its tasks' config counts: a
    /// task with a config has its next events queued, one without has not.
    #[tokio::test]
    async fn schema_5_files_get_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let with = task("with", TaskState::Working);
        let without = task("without", TaskState::Working);
        {
            let raw = file_of_schema(&path, 5);
            for t in [&with, &without] {
                raw.execute(
                    "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, \
                     last_seq, created_ms, updated_ms, snapshot) \
                     VALUES (?1, 'echo', 'ctx', 'TASK_STATE_WORKING', 0, 1, 0, 0, 0, ?2)",
                    params![t.id, serde_json::to_string(t).unwrap()],
                )
                .unwrap();
            }
            raw.execute(
                "INSERT INTO push_configs (task_id, id, config) VALUES ('with', 'p1', ?1)",
                [r#"{"id":"p1","taskId":"with","url":"https://hooks.example/p1"}"#],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let events = [event(&with), event(&with)];
        let committed = store
            .write_task(write(&with, 1, &events, None))
            .await
            .unwrap();
        assert_eq!(committed.pushes_queued, 2);
        let events = [event(&without)];
        let committed = store
            .write_task(write(&without, 1, &events, None))
            .await
            .unwrap();
        assert_eq!(committed.pushes_queued, 0);
        let counts = store.push_counts().await.unwrap();
        assert_eq!((counts[0].agent.as_str(), counts[0].pending), ("echo", 2));
    }
}
