//! One task write: a single transaction whose row counts decide between
//! success, a conflict and a duplicate message.

use std::time::SystemTime;

use super::outbox::{put_config, queue_events};
use super::{PostgresStore, db, to_json, unsigned};
use crate::store::{Committed, StoreError, TaskWrite, status_millis, unix_millis};

impl PostgresStore {
    /// [`Store::write_task`](crate::store::Store::write_task).
    pub(super) async fn commit_write(&self, write: TaskWrite<'_>) -> Result<Committed, StoreError> {
        let task = &*write.task;
        if task.id.is_empty() {
            return Err(StoreError::Other("a task needs a non-empty id".into()));
        }
        let id = task.id.as_str();
        let push_config = match write.checked_push_config()? {
            Some((config, config_id)) => Some((config_id, to_json(config)?)),
            None => None,
        };
        let snapshot = to_json(task)?;
        let events: Vec<String> = write.events.iter().map(to_json).collect::<Result<_, _>>()?;
        let event_count = events.len() as i64;
        let state = task.status.state.as_proto_str();
        let status_ms = status_millis(task);
        let now = unix_millis(SystemTime::now());

        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        // The task's row first: from here on this transaction holds its
        // lock, so no config of the task changes until it commits.
        let (agent, last_seq, mut push_configs): (String, i64, i32) = if write.expected_version == 0
        {
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
            (write.agent.to_string(), 0, 0)
        } else {
            // A version beyond i64 cannot be stored: it matches no row.
            let expected = i64::try_from(write.expected_version).unwrap_or(-1);
            let update = tx
                .prepare_cached(
                    "UPDATE tasks SET context_id = $3, state = $4, status_ms = $5, \
                     version = version + 1, last_seq = last_seq + $6, updated_ms = $7, \
                     snapshot = $8 WHERE id = $1 AND version = $2 \
                     RETURNING agent, last_seq, push_configs",
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
                Some(row) => (row.get(0), row.get::<_, i64>(1) - event_count, row.get(2)),
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
        if let Some((config_id, json)) = &push_config {
            push_configs = put_config(&tx, id, config_id, json).await?;
        }
        // A task without configs (the count its row gave back) stops here.
        let pushes_queued = if push_configs > 0 && event_count > 0 {
            queue_events(&tx, id, last_seq, event_count, now).await?
        } else {
            0
        };
        tx.commit().await.map_err(db)?;
        Ok(Committed {
            version: write.expected_version + 1,
            first_seq: unsigned(last_seq, "a sequence number")? + 1,
            pushes_queued,
        })
    }
}
