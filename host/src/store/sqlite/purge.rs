//! Retention: deleting expired terminal tasks and idle contexts in
//! batches, one transaction each.

use rusqlite::{Connection, TransactionBehavior, params};

use crate::store::{PURGE_BATCH, PurgeReport, StoreError};

/// Terminal tasks due for deletion, oldest first; `?1` is the cutoff and
/// `?2` the batch size. The state test is the `tasks_expiring` index's
/// predicate, term for term (SQLite uses a partial index only for a query
/// whose terms include its predicate).
const EXPIRED_TASKS_SQL: &str = "SELECT id, agent, context_id FROM tasks \
    WHERE (state = 'TASK_STATE_COMPLETED' OR state = 'TASK_STATE_FAILED' \
    OR state = 'TASK_STATE_CANCELED' OR state = 'TASK_STATE_REJECTED') \
    AND status_ms < ?1 ORDER BY status_ms LIMIT ?2";

/// The message-id claims of task `?3`, found by their key's prefix: the
/// task's agent `?1` and context `?2`.
const PURGE_CLAIMS_SQL: &str =
    "DELETE FROM message_ids WHERE agent = ?1 AND context_id = ?2 AND task_id = ?3";

/// Deletes up to [`PURGE_BATCH`] expired terminal tasks with everything
/// that hangs off them; returns what went and how many tasks.
pub(super) fn purge_tasks_batch(
    conn: &mut Connection,
    before: i64,
) -> Result<(PurgeReport, usize), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let ids = tx
        .prepare_cached(EXPIRED_TASKS_SQL)?
        .query_map(params![before, PURGE_BATCH as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut report = PurgeReport::default();
    for (id, agent, context_id) in &ids {
        // A row holds `n` events (schema step 4).
        report.events += tx
            .prepare_cached("DELETE FROM task_events WHERE task_id = ?1 RETURNING n")?
            .query_map([id], |r| r.get::<_, i64>(0))?
            .sum::<Result<i64, _>>()? as u64;
        // A task's claims are in its own context (the key's prefix).
        report.message_claims += tx
            .prepare_cached(PURGE_CLAIMS_SQL)?
            .execute([agent, context_id, id])? as u64;
        report.push_configs += tx
            .prepare_cached("DELETE FROM push_configs WHERE task_id = ?1")?
            .execute([id])? as u64;
        report.pushes += tx
            .prepare_cached("DELETE FROM push_outbox WHERE task_id = ?1")?
            .execute([id])? as u64;
        report.tasks += tx
            .prepare_cached("DELETE FROM tasks WHERE id = ?1")?
            .execute([id])? as u64;
    }
    tx.commit()?;
    Ok((report, ids.len()))
}

/// Deletes the values of up to [`PURGE_BATCH`] contexts last written before
/// `before`; returns how many values and how many contexts.
pub(super) fn purge_contexts_batch(
    conn: &mut Connection,
    before: i64,
) -> Result<(u64, usize), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let contexts = tx
        .prepare_cached(
            "SELECT agent, context_id FROM contexts WHERE updated_ms < ?1 \
             ORDER BY updated_ms LIMIT ?2",
        )?
        .query_map(params![before, PURGE_BATCH as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut values = 0;
    for (agent, context_id) in &contexts {
        values += tx
            .prepare_cached("DELETE FROM context_state WHERE agent = ?1 AND context_id = ?2")?
            .execute([agent, context_id])? as u64;
        tx.prepare_cached("DELETE FROM contexts WHERE agent = ?1 AND context_id = ?2")?
            .execute([agent, context_id])?;
    }
    tx.commit()?;
    Ok((values, contexts.len()))
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::testing::{explain, purge_ended_a_minute_ago, task, write};
    use super::super::{SqliteStore, now_millis};
    use super::*;
    use crate::model::{TaskState, Timestamp};
    use crate::store::Store as _;

    /// A purge bigger than one batch deletes everything due, batch by batch.
    #[tokio::test]
    async fn purge_runs_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let store = SqliteStore::open(&path).unwrap();
        let count = (PURGE_BATCH * 2 + 7) as i64;
        {
            let raw = Connection::open(&path).unwrap();
            raw.execute_batch("BEGIN").unwrap();
            for i in 0..count {
                let id = format!("bulk-{i}");
                let t = task(&id, TaskState::Completed);
                raw.execute(
                    "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, \
                     last_seq, created_ms, updated_ms, snapshot) \
                     VALUES (?1, 'echo', 'ctx', 'TASK_STATE_COMPLETED', ?2, 1, 1, 0, 0, ?3)",
                    params![id, 1000 + i, serde_json::to_string(&t).unwrap()],
                )
                .unwrap();
                raw.execute(
                    "INSERT INTO task_events (task_id, seq, event) VALUES (?1, 1, '{}')",
                    [&id],
                )
                .unwrap();
                raw.execute(
                    "INSERT INTO message_ids (agent, context_id, message_id, task_id) \
                     VALUES ('echo', 'ctx', ?1, ?1)",
                    [&id],
                )
                .unwrap();
            }
            raw.execute_batch("COMMIT").unwrap();
        }
        let mut keep = task("keep", TaskState::Completed);
        keep.status.timestamp = Timestamp::from_unix_millis(now_millis());
        store.write_task(write(&keep, 0, &[], None)).await.unwrap();
        let report = purge_ended_a_minute_ago(&store).await;
        let n = count as u64;
        assert_eq!(
            report,
            PurgeReport {
                tasks: n,
                events: n,
                message_claims: n,
                push_configs: 0,
                pushes: 0,
                context_values: 0,
            }
        );
        assert!(store.get_task("keep").await.unwrap().is_some());
        assert_eq!(store.get_task("bulk-3").await.unwrap(), None);
    }

    /// The purge finds expired tasks and idle contexts through indexes.
    #[test]
    fn purge_queries_use_the_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        for (sql, index) in [
            (EXPIRED_TASKS_SQL, "tasks_expiring"),
            (
                "SELECT agent, context_id FROM contexts WHERE updated_ms < ?1 \
                 ORDER BY updated_ms LIMIT ?2",
                "contexts_by_age",
            ),
            (PURGE_CLAIMS_SQL, "PRIMARY KEY (agent=? AND context_id=?)"),
        ] {
            // Column 3 of a query plan row is its detail.
            let plan = explain(&conn, "EXPLAIN QUERY PLAN", sql, 3).join("; ");
            assert!(plan.contains(index), "{sql}: {plan}");
        }
    }
}
