//! [`Store`] for [`SqliteStore`]: reads on the reader pool, task writes
//! through the group commit, other writes on the writer connection.

use std::time::SystemTime;

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, TransactionBehavior, params, params_from_iter};

use super::list::{ListSql, list_tasks_blocking};
use super::outbox;
use super::purge::{purge_contexts_batch, purge_tasks_batch};
use super::{SqliteStore, json_column, now_millis, to_json};
use crate::model::{StreamResponse, TaskPushNotificationConfig, TaskState};
use crate::store::outbox::push_config_key;
use crate::store::paging;
use crate::store::{
    Committed, DeadPush, DeadPushQuery, PURGE_BATCH, PurgeReport, PushClaim, PushCounts,
    PushDelivery, PushFinish, Retention, Store, StoreError, StoredTask, TaskPage, TaskQuery,
    TaskWrite,
};

#[async_trait]
impl Store for SqliteStore {
    async fn write_task(&self, write: TaskWrite<'_>) -> Result<Committed, StoreError> {
        self.group_commit(write).await
    }

    async fn get_task(&self, task_id: &str) -> Result<Option<StoredTask>, StoreError> {
        let id = task_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT agent, version, last_seq, snapshot FROM tasks WHERE id = ?1",
            )?;
            let mut rows = stmt.query([&id])?;
            let Some(row) = rows.next()? else {
                return Ok(None);
            };
            Ok(Some(StoredTask {
                agent: row.get(0)?,
                version: row.get::<_, i64>(1)? as u64,
                last_seq: row.get::<_, i64>(2)? as u64,
                task: json_column(row, 3, || format!("the snapshot of task `{id}`"))?,
            }))
        })
        .await
    }

    async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskPage, StoreError> {
        let sql = ListSql::new(query, paging::cursor(query)?);
        self.read(move |conn| list_tasks_blocking(conn, sql)).await
    }

    async fn events_after(
        &self,
        task_id: &str,
        after_seq: u64,
    ) -> Result<Vec<(u64, StreamResponse)>, StoreError> {
        let Ok(after) = i64::try_from(after_seq) else {
            return Ok(Vec::new());
        };
        let id = task_id.to_string();
        self.read(move |conn| {
            // A row holds the events up to its `seq` (schema step 4), so
            // the rows past `after` hold every event past it.
            let mut stmt = conn.prepare_cached(
                "SELECT seq, n, event FROM task_events WHERE task_id = ?1 AND seq > ?2 \
                 ORDER BY seq",
            )?;
            let mut rows = stmt.query(params![id, after])?;
            let mut events = Vec::new();
            while let Some(row) = rows.next()? {
                let last = row.get::<_, i64>(0)? as u64;
                let n = row.get::<_, i64>(1)?;
                if n == 1 {
                    let event = json_column(row, 2, || format!("event {last} of task `{id}`"))?;
                    events.push((last, event));
                    continue;
                }
                let what = || format!("events up to {last} of task `{id}`");
                let batch: Vec<StreamResponse> = json_column(row, 2, what)?;
                let len = batch.len() as u64;
                if n != len as i64 || len > last + 1 {
                    return Err(StoreError::Other(format!(
                        "{} hold {len} events, not {n}",
                        what()
                    )));
                }
                let first = last + 1 - len;
                events.extend((first..).zip(batch).filter(|(seq, _)| *seq > after_seq));
            }
            Ok(events)
        })
        .await
    }

    async fn task_for_message(
        &self,
        agent: &str,
        context_id: &str,
        message_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let key = (
            agent.to_string(),
            context_id.to_string(),
            message_id.to_string(),
        );
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT task_id FROM message_ids \
                     WHERE agent = ?1 AND context_id = ?2 AND message_id = ?3",
                )?
                .query_row(params![key.0, key.1, key.2], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn tasks_in_states(
        &self,
        agent: Option<&str>,
        states: &[TaskState],
    ) -> Result<Vec<String>, StoreError> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Vec<SqlValue> = states
            .iter()
            .map(|s| SqlValue::Text(s.as_proto_str().into()))
            .collect();
        let placeholders = (1..=args.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!("SELECT id FROM tasks WHERE state IN ({placeholders})");
        if let Some(agent) = agent {
            args.push(SqlValue::Text(agent.to_string()));
            sql.push_str(&format!(" AND agent = ?{}", args.len()));
        }
        sql.push_str(" ORDER BY id");
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let ids = stmt
                .query_map(params_from_iter(&args), |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(ids)
        })
        .await
    }

    async fn get_state(
        &self,
        agent: &str,
        context_id: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let k = (agent.to_string(), context_id.to_string(), key.to_string());
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT value FROM context_state \
                     WHERE agent = ?1 AND context_id = ?2 AND key = ?3",
                )?
                .query_row(params![k.0, k.1, k.2], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn set_state(
        &self,
        agent: &str,
        context_id: &str,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let k = (agent.to_string(), context_id.to_string(), key.to_string());
        let value = value.map(<[u8]>::to_vec);
        self.write(move |conn| {
            match value {
                Some(value) => {
                    // One transaction, so a purge in another process never
                    // sees the value without the context's new time.
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    tx.prepare_cached(
                        "INSERT INTO contexts (agent, context_id, updated_ms) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (agent, context_id) DO UPDATE SET updated_ms = excluded.updated_ms",
                    )?
                    .execute(params![k.0, k.1, now_millis()])?;
                    tx.prepare_cached(
                        "INSERT INTO context_state (agent, context_id, key, value) \
                         VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (agent, context_id, key) DO UPDATE SET value = excluded.value",
                    )?
                    .execute(params![k.0, k.1, k.2, value])?;
                    tx.commit()?;
                }
                None => {
                    conn.prepare_cached(
                        "DELETE FROM context_state \
                         WHERE agent = ?1 AND context_id = ?2 AND key = ?3",
                    )?
                    .execute(params![k.0, k.1, k.2])?;
                }
            };
            Ok(())
        })
        .await
    }

    async fn put_push_config(&self, config: &TaskPushNotificationConfig) -> Result<(), StoreError> {
        let (task_id, config_id) = push_config_key(config)?;
        let (task_id, config_id) = (task_id.to_string(), config_id.to_string());
        let json = to_json(config)?;
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists = tx
                .prepare_cached("SELECT 1 FROM tasks WHERE id = ?1")?
                .exists([&task_id])?;
            if !exists {
                return Err(StoreError::NotFound(task_id));
            }
            outbox::put_config(&tx, &task_id, &config_id, &json)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn get_push_config(
        &self,
        task_id: &str,
        config_id: &str,
    ) -> Result<Option<TaskPushNotificationConfig>, StoreError> {
        let (task_id, config_id) = (task_id.to_string(), config_id.to_string());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT config FROM push_configs WHERE task_id = ?1 AND id = ?2")?;
            let mut rows = stmt.query([&task_id, &config_id])?;
            match rows.next()? {
                None => Ok(None),
                Some(row) => Ok(Some(json_column(row, 0, || {
                    format!("push config `{config_id}` of task `{task_id}`")
                })?)),
            }
        })
        .await
    }

    async fn list_push_configs(
        &self,
        task_id: &str,
    ) -> Result<Vec<TaskPushNotificationConfig>, StoreError> {
        let task_id = task_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT config FROM push_configs WHERE task_id = ?1 ORDER BY created",
            )?;
            let mut rows = stmt.query([&task_id])?;
            let mut configs = Vec::new();
            while let Some(row) = rows.next()? {
                configs.push(json_column(row, 0, || {
                    format!("a push config of task `{task_id}`")
                })?);
            }
            Ok(configs)
        })
        .await
    }

    async fn delete_push_config(&self, task_id: &str, config_id: &str) -> Result<bool, StoreError> {
        let (task_id, config_id) = (task_id.to_string(), config_id.to_string());
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let deleted = outbox::delete_config(&tx, &task_id, &config_id)?;
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn claim_pushes(&self, claim: &PushClaim<'_>) -> Result<Vec<PushDelivery>, StoreError> {
        let owner = claim.owner.to_string();
        let (now, until, limit) = (claim.now_ms, claim.lease_end(), claim.limit);
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.write(move |conn| outbox::claim(conn, &owner, now, until, limit))
            .await
    }

    async fn finish_pushes(&self, owner: &str, done: &[PushFinish]) -> Result<(), StoreError> {
        if done.is_empty() {
            return Ok(());
        }
        let owner = owner.to_string();
        let done = done.to_vec();
        self.write(move |conn| outbox::finish(conn, &owner, &done, now_millis()))
            .await
    }

    async fn next_push_due(&self) -> Result<Option<i64>, StoreError> {
        self.read(|conn| outbox::next_due(conn)).await
    }

    async fn dead_pushes(&self, query: &DeadPushQuery) -> Result<Vec<DeadPush>, StoreError> {
        let query = query.clone();
        self.read(move |conn| outbox::dead(conn, &query)).await
    }

    async fn requeue_dead_pushes(
        &self,
        query: &DeadPushQuery,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let query = query.clone();
        self.write(move |conn| outbox::requeue(conn, &query, now_ms))
            .await
    }

    async fn push_counts(&self) -> Result<Vec<PushCounts>, StoreError> {
        self.read(|conn| outbox::counts(conn)).await
    }

    async fn purge(&self, policy: &Retention, now: SystemTime) -> Result<PurgeReport, StoreError> {
        let cutoffs = policy.cutoffs(now);
        let mut report = PurgeReport::default();
        // One batch per transaction; the writer is free between batches.
        if let Some(before) = cutoffs.terminal_status_before_ms {
            loop {
                let (batch, count) = self
                    .write(move |conn| purge_tasks_batch(conn, before))
                    .await?;
                report += batch;
                if count < PURGE_BATCH {
                    break;
                }
            }
        }
        if let Some(before) = cutoffs.state_written_before_ms {
            loop {
                let (values, count) = self
                    .write(move |conn| purge_contexts_batch(conn, before))
                    .await?;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rusqlite::Connection;

    use super::super::testing::{event, task, write};
    use super::*;
    use crate::model::Message;
    use crate::store::conformance::Fixture;

    fn temp_fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = SqliteStore::open(dir.path().join("tasks.db")).expect("open a new store");
        Fixture::with_guard(store, dir)
    }

    crate::store_conformance_tests!(temp_fixture());

    mod in_memory {
        use crate::store::conformance::Fixture;
        use crate::store::sqlite::SqliteStore;

        crate::store_conformance_tests!(Fixture::new(
            SqliteStore::open_in_memory().expect("open in memory")
        ));
    }

    #[tokio::test]
    async fn reopening_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let t = task("t1", TaskState::Working);
        let config = TaskPushNotificationConfig {
            id: Some("p1".into()),
            task_id: Some("t1".into()),
            url: "https://hooks.example/a".into(),
            ..Default::default()
        };
        {
            let store = SqliteStore::open(&path).unwrap();
            store
                .write_task(write(&t, 0, &[event(&t), event(&t)], Some("m1")))
                .await
                .unwrap();
            store
                .set_state("echo", "ctx", "k", Some(b"v"))
                .await
                .unwrap();
            store.put_push_config(&config).await.unwrap();
        }

        let store = SqliteStore::open(&path).unwrap();
        let stored = store.get_task("t1").await.unwrap().unwrap();
        assert_eq!(stored.task, t);
        assert_eq!((stored.version, stored.last_seq), (1, 2));
        assert_eq!(stored.agent, "echo");
        assert_eq!(store.events_after("t1", 0).await.unwrap().len(), 2);
        assert_eq!(
            store.task_for_message("echo", "ctx", "m1").await.unwrap(),
            Some("t1".into())
        );
        assert_eq!(
            store.get_state("echo", "ctx", "k").await.unwrap(),
            Some(b"v".to_vec())
        );
        assert_eq!(store.list_push_configs("t1").await.unwrap(), vec![config]);

        // The log and the versions carry on where they stopped, and the
        // config still gets the task's events.
        let mut done = t.clone();
        done.status.state = TaskState::Completed;
        let committed = store
            .write_task(write(&done, 1, &[event(&done)], None))
            .await
            .unwrap();
        assert_eq!(
            committed,
            Committed {
                version: 2,
                first_seq: 3,
                pushes_queued: 1
            }
        );
    }

    #[tokio::test]
    async fn corrupt_rows_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let store = SqliteStore::open(&path).unwrap();
        let t = task("t1", TaskState::Working);
        store
            .write_task(write(&t, 0, &[event(&t)], None))
            .await
            .unwrap();
        let raw = Connection::open(&path).unwrap();
        raw.execute_batch(
            "UPDATE tasks SET snapshot = '{not json'; UPDATE task_events SET event = x'00ff';",
        )
        .unwrap();
        drop(raw);
        match store.get_task("t1").await {
            Err(StoreError::Other(m)) => assert!(m.contains("`t1`"), "{m}"),
            other => panic!("expected an error, got {other:?}"),
        }
        assert!(matches!(
            store.events_after("t1", 0).await,
            Err(StoreError::Other(_))
        ));
        let query = TaskQuery {
            agent: "echo".into(),
            page_size: 10,
            ..Default::default()
        };
        assert!(matches!(
            store.list_tasks(&query).await,
            Err(StoreError::Other(_))
        ));
    }

    /// Two stores on one file, as two processes would have: each sees the
    /// other's commits and conflicts are detected across them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_handles_on_one_file_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());

        let t = task("shared", TaskState::Submitted);
        a.write_task(write(&t, 0, &[event(&t)], Some("m1")))
            .await
            .unwrap();
        assert_eq!(b.get_task("shared").await.unwrap().unwrap().task, t);
        let err = b
            .write_task(write(&t, 0, &[], None))
            .await
            .expect_err("create on the other handle");
        assert_eq!(err, StoreError::AlreadyExists("shared".into()));
        let t2 = task("other", TaskState::Submitted);
        let err = b
            .write_task(write(&t2, 0, &[], Some("m1")))
            .await
            .expect_err("claim on the other handle");
        assert!(matches!(err, StoreError::DuplicateMessage { task_id, .. } if task_id == "shared"));

        let mut working = t.clone();
        working.status.state = TaskState::Working;
        b.write_task(write(&working, 1, &[event(&working)], None))
            .await
            .unwrap();
        let err = a
            .write_task(write(&working, 1, &[event(&working)], None))
            .await
            .expect_err("stale write on the first handle");
        assert_eq!(
            err,
            StoreError::Conflict {
                task_id: "shared".into(),
                expected: 1,
                actual: 2
            }
        );

        // Increment a counter from both handles at once.
        const WORKERS: usize = 6;
        const INCREMENTS: u64 = 15;
        let mut handles = Vec::new();
        for w in 0..WORKERS {
            let store = if w % 2 == 0 { a.clone() } else { b.clone() };
            handles.push(tokio::spawn(async move {
                for _ in 0..INCREMENTS {
                    loop {
                        let current = store.get_task("shared").await.unwrap().unwrap();
                        let mut next = current.task.clone();
                        next.history.push(Message::user_text(format!("from {w}")));
                        let events = [event(&next)];
                        match store
                            .write_task(write(&next, current.version, &events, None))
                            .await
                        {
                            Ok(_) => break,
                            Err(StoreError::Conflict { .. }) => continue,
                            Err(e) => panic!("worker {w}: {e}"),
                        }
                    }
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let total = WORKERS as u64 * INCREMENTS;
        for store in [&a, &b] {
            let stored = store.get_task("shared").await.unwrap().unwrap();
            assert_eq!(stored.version, 2 + total);
            assert_eq!(stored.task.history.len() as u64, 1 + total);
            assert_eq!(stored.last_seq, 2 + total);
            let seqs: Vec<u64> = store
                .events_after("shared", 0)
                .await
                .unwrap()
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            assert_eq!(seqs, (1..=2 + total).collect::<Vec<_>>());
        }
    }

    /// A batched row whose array does not hold the `n` events it claims is
    /// reported, not read short.
    #[tokio::test]
    async fn a_batched_event_row_of_the_wrong_length_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let store = SqliteStore::open(&path).unwrap();
        let t = task("t", TaskState::Working);
        let events = [event(&t), event(&t)];
        store.write_task(write(&t, 0, &events, None)).await.unwrap();
        Connection::open(&path)
            .unwrap()
            .execute("UPDATE task_events SET n = 3", [])
            .unwrap();
        let err = store.events_after("t", 0).await.unwrap_err().to_string();
        assert!(err.contains("hold 2 events, not 3"), "{err}");
    }
}
