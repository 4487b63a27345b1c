//! Retention: deleting expired terminal tasks and idle contexts in
//! batches, one transaction each, beside other purging processes.

use super::{PostgresStore, db};
use crate::store::{PURGE_BATCH, PurgeReport, StoreError};

/// Terminal tasks due for deletion, oldest first; `$1` is the cutoff, `$2`
/// the batch size. The state list matches the `tasks_expiring` index.
const EXPIRED_TASKS_SQL: &str = "SELECT id FROM tasks WHERE state IN (
        'TASK_STATE_COMPLETED', 'TASK_STATE_FAILED', 'TASK_STATE_CANCELED', 'TASK_STATE_REJECTED'
    ) AND status_ms < $1 ORDER BY status_ms LIMIT $2 FOR UPDATE SKIP LOCKED";

impl PostgresStore {
    /// Deletes up to [`PURGE_BATCH`] expired terminal tasks (skipping rows
    /// another transaction holds) with everything that hangs off them.
    pub(super) async fn purge_tasks_batch(
        &self,
        before: i64,
    ) -> Result<(PurgeReport, usize), StoreError> {
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
                (
                    "DELETE FROM push_outbox WHERE task_id = ANY($1)",
                    &mut report.pushes,
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
    pub(super) async fn purge_contexts_batch(
        &self,
        before: i64,
    ) -> Result<(u64, usize), StoreError> {
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
    use std::time::{Duration, SystemTime};

    use super::super::testing::{TestSchema, bulk_insert, create, task};
    use super::*;
    use crate::model::TaskState;
    use crate::store::{Retention, Store as _, unix_millis};

    /// A purge bigger than one batch deletes everything due, in batches.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    pub(super) async fn purge_runs_in_batches() {
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
                pushes: 0,
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
}
