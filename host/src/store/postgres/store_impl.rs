//! [`Store`] for [`PostgresStore`]: each operation on a pooled
//! connection, statements prepared once per connection.

use std::time::SystemTime;

use async_trait::async_trait;

use super::outbox::{lock_task, put_config};
use super::{PostgresStore, db, json_column, to_json, unsigned};
use crate::model::{StreamResponse, TaskPushNotificationConfig, TaskState};
use crate::store::outbox::push_config_key;
use crate::store::{
    Committed, DeadPush, DeadPushQuery, PURGE_BATCH, PurgeReport, PushClaim, PushCounts,
    PushDelivery, PushFinish, Retention, Store, StoreError, StoredTask, TaskPage, TaskQuery,
    TaskWrite, unix_millis,
};

#[async_trait]
impl Store for PostgresStore {
    async fn write_task(&self, write: TaskWrite<'_>) -> Result<Committed, StoreError> {
        self.commit_write(write).await
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
        self.list_page(query).await
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
        let mut client = self.client().await?;
        // The task's row lock orders this config against the task's writes:
        // a write queues for it exactly if it commits after this.
        let tx = client.transaction().await.map_err(db)?;
        if !lock_task(&tx, task_id).await? {
            return Err(StoreError::NotFound(task_id.to_string()));
        }
        put_config(&tx, task_id, config_id, &json).await?;
        tx.commit().await.map_err(db)
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
        self.delete_config(task_id, config_id).await
    }

    async fn claim_pushes(&self, claim: &PushClaim<'_>) -> Result<Vec<PushDelivery>, StoreError> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        self.claim(claim.owner, claim.now_ms, claim.lease_end(), claim.limit)
            .await
    }

    async fn finish_pushes(&self, owner: &str, done: &[PushFinish]) -> Result<(), StoreError> {
        if done.is_empty() {
            return Ok(());
        }
        self.finish(owner, done, unix_millis(SystemTime::now()))
            .await
    }

    async fn next_push_due(&self) -> Result<Option<i64>, StoreError> {
        self.next_due().await
    }

    async fn dead_pushes(&self, query: &DeadPushQuery) -> Result<Vec<DeadPush>, StoreError> {
        self.dead(query).await
    }

    async fn requeue_dead_pushes(
        &self,
        query: &DeadPushQuery,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        self.requeue(query, now_ms).await
    }

    async fn push_counts(&self) -> Result<Vec<PushCounts>, StoreError> {
        self.counts().await
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

#[cfg(test)]
mod tests {
    use super::super::testing::{TestSchema, create, expect_other, fixture, task};
    use super::*;

    crate::store_conformance_tests!(optional fixture().await);

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
}
