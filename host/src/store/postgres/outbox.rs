//! The PostgreSQL push outbox (schema step 3): notifications queued inside
//! a task write's transaction, and the claims, outcomes and dead letters.
//!
//! Writes of a task and changes of its configs serialize on the task's row:
//! a write updates it, and [`put_config`] and [`PostgresStore::delete_config`]
//! lock it first. So the configs a write queues for are exactly those
//! committed before it, and `tasks.push_configs` is exact. Claims lock the
//! rows they lease with `FOR UPDATE SKIP LOCKED`: processes claiming at once
//! never wait on each other, and a row one of them leased fails the other's
//! re-check of its lease.

use deadpool_postgres::Transaction;

use super::{PostgresStore, db, json_column, unsigned};
use crate::store::{
    DeadPush, DeadPushQuery, PushCounts, PushDelivery, PushFinish, PushKey, PushOutcome, StoreError,
};

/// Creates or replaces a push config, inside a transaction that holds the
/// task's row lock; returns how many configs the task has now.
pub(super) async fn put_config(
    tx: &Transaction<'_>,
    task_id: &str,
    config_id: &str,
    json: &str,
) -> Result<i32, StoreError> {
    let upsert = tx
        .prepare_cached(
            "INSERT INTO push_configs (task_id, id, config) VALUES ($1, $2, $3) \
             ON CONFLICT (task_id, id) DO UPDATE SET config = EXCLUDED.config",
        )
        .await
        .map_err(db)?;
    tx.execute(&upsert, &[&task_id, &config_id, &json])
        .await
        .map_err(db)?;
    recount(tx, task_id).await
}

/// Brings `tasks.push_configs` up to date; returns it.
async fn recount(tx: &Transaction<'_>, task_id: &str) -> Result<i32, StoreError> {
    let stmt = tx
        .prepare_cached(
            "UPDATE tasks SET push_configs = \
             (SELECT count(*) FROM push_configs WHERE task_id = $1) \
             WHERE id = $1 RETURNING push_configs",
        )
        .await
        .map_err(db)?;
    let row = tx.query_opt(&stmt, &[&task_id]).await.map_err(db)?;
    Ok(row.map_or(0, |r| r.get(0)))
}

/// Locks a task's row against writes of the task; `false` if there is no
/// such task.
pub(super) async fn lock_task(tx: &Transaction<'_>, task_id: &str) -> Result<bool, StoreError> {
    let stmt = tx
        .prepare_cached("SELECT 1 FROM tasks WHERE id = $1 FOR NO KEY UPDATE")
        .await
        .map_err(db)?;
    Ok(tx
        .query_opt(&stmt, &[&task_id])
        .await
        .map_err(db)?
        .is_some())
}

/// Queues the events after `last_seq` (`count` of them) for every config
/// of a task, due at `now`; returns how many rows. Runs after the write's
/// task row, so it sees every config committed before the write.
pub(super) async fn queue_events(
    tx: &Transaction<'_>,
    task_id: &str,
    last_seq: i64,
    count: i64,
    now: i64,
) -> Result<u64, StoreError> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO push_outbox (task_id, config_id, seq, queued_ms, next_ms) \
             SELECT c.task_id, c.id, $2 + s, $4, $4 FROM push_configs c, \
             generate_series(1::bigint, $3::bigint) AS s WHERE c.task_id = $1",
        )
        .await
        .map_err(db)?;
    tx.execute(&stmt, &[&task_id, &last_seq, &count, &now])
        .await
        .map_err(db)
}

/// Whether a row `o` is the head of its config's queue: no pending row of
/// the same config comes before it.
macro_rules! is_head {
    () => {
        "NOT EXISTS (SELECT 1 FROM push_outbox p WHERE p.task_id = o.task_id \
         AND p.config_id = o.config_id AND p.seq < o.seq AND NOT p.dead)"
    };
}

/// Which dead letters a query means: `$1` an agent or NULL, `$2` a task id
/// or NULL.
macro_rules! dead_filter {
    () => {
        "o.dead AND ($1::text IS NULL OR o.task_id IN (SELECT id FROM tasks WHERE agent = $1)) \
         AND ($2::text IS NULL OR o.task_id = $2)"
    };
}

impl PostgresStore {
    /// [`Store::delete_push_config`](crate::store::Store::delete_push_config).
    pub(super) async fn delete_config(
        &self,
        task_id: &str,
        config_id: &str,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        if !lock_task(&tx, task_id).await? {
            return Ok(false);
        }
        let delete = tx
            .prepare_cached("DELETE FROM push_configs WHERE task_id = $1 AND id = $2")
            .await
            .map_err(db)?;
        if tx
            .execute(&delete, &[&task_id, &config_id])
            .await
            .map_err(db)?
            == 0
        {
            return Ok(false);
        }
        let pending = tx
            .prepare_cached(
                "DELETE FROM push_outbox WHERE task_id = $1 AND config_id = $2 AND NOT dead",
            )
            .await
            .map_err(db)?;
        tx.execute(&pending, &[&task_id, &config_id])
            .await
            .map_err(db)?;
        recount(&tx, task_id).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    /// [`Store::claim_pushes`](crate::store::Store::claim_pushes): one
    /// statement that picks, leases and reads the rows.
    pub(super) async fn claim(
        &self,
        owner: &str,
        now: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<PushDelivery>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(concat!(
                "WITH due AS (SELECT o.task_id, o.config_id, o.seq FROM push_outbox o \
                 WHERE NOT o.dead AND o.next_ms <= $1 \
                 AND (o.lease_until_ms IS NULL OR o.lease_until_ms < $1) AND ",
                is_head!(),
                " ORDER BY o.queued_ms, o.task_id, o.config_id, o.seq LIMIT $2 \
                 FOR UPDATE SKIP LOCKED), \
                 claimed AS (UPDATE push_outbox o SET lease_owner = $3, lease_until_ms = $4 \
                 FROM due WHERE o.task_id = due.task_id AND o.config_id = due.config_id \
                 AND o.seq = due.seq \
                 RETURNING o.task_id, o.config_id, o.seq, o.attempts, o.queued_ms) \
                 SELECT c.task_id, c.config_id, c.seq, c.attempts, c.queued_ms, t.agent, \
                 pc.config, e.event FROM claimed c \
                 JOIN tasks t ON t.id = c.task_id \
                 JOIN push_configs pc ON pc.task_id = c.task_id AND pc.id = c.config_id \
                 JOIN task_events e ON e.task_id = c.task_id AND e.seq = c.seq \
                 ORDER BY c.queued_ms, c.task_id, c.config_id, c.seq"
            ))
            .await
            .map_err(db)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(&stmt, &[&now, &limit, &owner, &until])
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                let key = PushKey {
                    task_id: row.get(0),
                    config_id: row.get(1),
                    seq: unsigned(row.get(2), "a sequence number")?,
                };
                let config = json_column(row, 6, || {
                    format!("push config `{}` of task `{}`", key.config_id, key.task_id)
                })?;
                let event = json_column(row, 7, || {
                    format!("event {} of task `{}`", key.seq, key.task_id)
                })?;
                Ok(PushDelivery {
                    attempts: u32::try_from(row.get::<_, i32>(3)).unwrap_or(0),
                    queued_ms: row.get(4),
                    agent: row.get(5),
                    config,
                    event,
                    key,
                })
            })
            .collect()
    }

    /// [`Store::finish_pushes`](crate::store::Store::finish_pushes): one
    /// transaction, one statement per kind of outcome.
    pub(super) async fn finish(
        &self,
        owner: &str,
        done: &[PushFinish],
        now: i64,
    ) -> Result<(), StoreError> {
        #[derive(Default)]
        struct Keys {
            tasks: Vec<String>,
            configs: Vec<String>,
            seqs: Vec<i64>,
            at: Vec<i64>,
            errors: Vec<String>,
        }
        impl Keys {
            fn push(&mut self, key: &PushKey) -> bool {
                let Ok(seq) = i64::try_from(key.seq) else {
                    return false;
                };
                self.tasks.push(key.task_id.clone());
                self.configs.push(key.config_id.clone());
                self.seqs.push(seq);
                true
            }
        }
        let (mut delivered, mut retry, mut deferred, mut dead) = (
            Keys::default(),
            Keys::default(),
            Keys::default(),
            Keys::default(),
        );
        for f in done {
            match &f.outcome {
                PushOutcome::Delivered => {
                    delivered.push(&f.key);
                }
                PushOutcome::Retry { at_ms, error } => {
                    if retry.push(&f.key) {
                        retry.at.push(*at_ms);
                        retry.errors.push(error.clone());
                    }
                }
                PushOutcome::Deferred { at_ms } => {
                    if deferred.push(&f.key) {
                        deferred.at.push(*at_ms);
                    }
                }
                PushOutcome::Dead { error } => {
                    if dead.push(&f.key) {
                        dead.errors.push(error.clone());
                    }
                }
            }
        }
        const MINE: &str = "o.task_id = d.task_id AND o.config_id = d.config_id \
            AND o.seq = d.seq AND NOT o.dead AND o.lease_owner = $4";
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        if !delivered.seqs.is_empty() {
            let stmt = tx
                .prepare_cached(&format!(
                    "DELETE FROM push_outbox o \
                     USING unnest($1::text[], $2::text[], $3::bigint[]) AS d (task_id, config_id, seq) \
                     WHERE {MINE}"
                ))
                .await
                .map_err(db)?;
            let d = &delivered;
            tx.execute(&stmt, &[&d.tasks, &d.configs, &d.seqs, &owner])
                .await
                .map_err(db)?;
        }
        if !retry.seqs.is_empty() {
            let stmt = tx
                .prepare_cached(&format!(
                    "UPDATE push_outbox o SET attempts = o.attempts + 1, next_ms = d.at_ms, \
                     error = d.error, lease_owner = NULL, lease_until_ms = NULL \
                     FROM unnest($1::text[], $2::text[], $3::bigint[], $5::bigint[], $6::text[]) \
                     AS d (task_id, config_id, seq, at_ms, error) WHERE {MINE}"
                ))
                .await
                .map_err(db)?;
            let r = &retry;
            tx.execute(
                &stmt,
                &[&r.tasks, &r.configs, &r.seqs, &owner, &r.at, &r.errors],
            )
            .await
            .map_err(db)?;
        }
        if !deferred.seqs.is_empty() {
            let stmt = tx
                .prepare_cached(&format!(
                    "UPDATE push_outbox o SET next_ms = d.at_ms, lease_owner = NULL, \
                     lease_until_ms = NULL \
                     FROM unnest($1::text[], $2::text[], $3::bigint[], $5::bigint[]) \
                     AS d (task_id, config_id, seq, at_ms) WHERE {MINE}"
                ))
                .await
                .map_err(db)?;
            let d = &deferred;
            tx.execute(&stmt, &[&d.tasks, &d.configs, &d.seqs, &owner, &d.at])
                .await
                .map_err(db)?;
        }
        if !dead.seqs.is_empty() {
            let stmt = tx
                .prepare_cached(&format!(
                    "UPDATE push_outbox o SET dead = true, attempts = o.attempts + 1, \
                     died_ms = $5, error = d.error, lease_owner = NULL, lease_until_ms = NULL, \
                     url = coalesce((SELECT c.config::json ->> 'url' FROM push_configs c \
                                     WHERE c.task_id = o.task_id AND c.id = o.config_id), '') \
                     FROM unnest($1::text[], $2::text[], $3::bigint[], $6::text[]) \
                     AS d (task_id, config_id, seq, error) WHERE {MINE}"
                ))
                .await
                .map_err(db)?;
            let d = &dead;
            tx.execute(
                &stmt,
                &[&d.tasks, &d.configs, &d.seqs, &owner, &now, &d.errors],
            )
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    /// [`Store::next_push_due`](crate::store::Store::next_push_due): over
    /// the heads only, as a row behind its head cannot be claimed before it.
    pub(super) async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(concat!(
                "SELECT min(greatest(o.next_ms, o.lease_until_ms)) FROM push_outbox o \
                 WHERE NOT o.dead AND ",
                is_head!()
            ))
            .await
            .map_err(db)?;
        Ok(client.query_one(&stmt, &[]).await.map_err(db)?.get(0))
    }

    /// [`Store::dead_pushes`](crate::store::Store::dead_pushes).
    pub(super) async fn dead(&self, query: &DeadPushQuery) -> Result<Vec<DeadPush>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(concat!(
                "SELECT o.task_id, o.config_id, o.seq, t.agent, o.url, o.attempts, o.queued_ms, \
                 o.died_ms, o.error FROM push_outbox o JOIN tasks t ON t.id = o.task_id WHERE ",
                dead_filter!(),
                " ORDER BY o.died_ms, o.task_id, o.config_id, o.seq LIMIT $3"
            ))
            .await
            .map_err(db)?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let rows = client
            .query(&stmt, &[&query.agent, &query.task_id, &limit])
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(DeadPush {
                    key: PushKey {
                        task_id: row.get(0),
                        config_id: row.get(1),
                        seq: unsigned(row.get(2), "a sequence number")?,
                    },
                    agent: row.get(3),
                    url: row.get::<_, Option<String>>(4).unwrap_or_default(),
                    attempts: u32::try_from(row.get::<_, i32>(5)).unwrap_or(0),
                    queued_ms: row.get(6),
                    died_ms: row.get::<_, Option<i64>>(7).unwrap_or_default(),
                    error: row.get::<_, Option<String>>(8).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// [`Store::requeue_dead_pushes`](crate::store::Store::requeue_dead_pushes).
    /// The configs of the matching rows are locked first (`FOR KEY SHARE`),
    /// so none is deleted between the statements, which would leave a
    /// requeued row without its config.
    pub(super) async fn requeue(&self, query: &DeadPushQuery, now: i64) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let args: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&query.agent, &query.task_id];
        let lock = tx
            .prepare_cached(concat!(
                "SELECT 1 FROM push_configs c WHERE EXISTS (SELECT 1 FROM push_outbox o \
                 WHERE o.task_id = c.task_id AND o.config_id = c.id AND ",
                dead_filter!(),
                ") FOR KEY SHARE"
            ))
            .await
            .map_err(db)?;
        tx.execute(&lock, &args).await.map_err(db)?;
        let orphans = tx
            .prepare_cached(concat!(
                "DELETE FROM push_outbox o WHERE ",
                dead_filter!(),
                " AND NOT EXISTS (SELECT 1 FROM push_configs c \
                 WHERE c.task_id = o.task_id AND c.id = o.config_id)"
            ))
            .await
            .map_err(db)?;
        tx.execute(&orphans, &args).await.map_err(db)?;
        let requeue = tx
            .prepare_cached(concat!(
                "UPDATE push_outbox o SET dead = false, queued_ms = $3, next_ms = $3, \
                 attempts = 0, lease_owner = NULL, lease_until_ms = NULL, error = NULL, \
                 died_ms = NULL, url = NULL WHERE ",
                dead_filter!()
            ))
            .await
            .map_err(db)?;
        let requeued = tx
            .execute(&requeue, &[&query.agent, &query.task_id, &now])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(requeued)
    }

    /// [`Store::push_counts`](crate::store::Store::push_counts).
    pub(super) async fn counts(&self) -> Result<Vec<PushCounts>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT t.agent, count(*) FILTER (WHERE NOT o.dead), \
                 count(*) FILTER (WHERE o.dead) FROM push_outbox o \
                 JOIN tasks t ON t.id = o.task_id GROUP BY t.agent ORDER BY t.agent",
            )
            .await
            .map_err(db)?;
        let rows = client.query(&stmt, &[]).await.map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(PushCounts {
                    agent: row.get(0),
                    pending: unsigned(row.get(1), "a count")?,
                    dead: unsigned(row.get(2), "a count")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, SystemTime};

    use parking_lot::Mutex;

    use super::super::testing::{TestSchema, create, task};
    use crate::model::{StreamResponse, TaskPushNotificationConfig, TaskState};
    use crate::store::{PushClaim, PushFinish, PushKey, PushOutcome, Store, unix_millis};

    fn config(task_id: &str, id: &str) -> TaskPushNotificationConfig {
        TaskPushNotificationConfig {
            id: Some(id.into()),
            task_id: Some(task_id.into()),
            url: format!("https://hooks.example/{id}"),
            ..Default::default()
        }
    }

    /// Claimers running at once on two stores (as two processes would)
    /// never get the same row, and each config's rows still come one at a
    /// time, in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_claimers_never_share_a_row() {
        let Some(schema) = TestSchema::new() else {
            return;
        };
        let stores: [Arc<dyn Store>; 2] = [
            Arc::new(schema.connect().await),
            Arc::new(schema.connect().await),
        ];
        const TASKS: usize = 20;
        for i in 0..TASKS {
            let t = task(&format!("t{i}"), TaskState::Working, 1);
            let events = vec![StreamResponse::Task(t.clone()); 3];
            let first = config(&t.id, "a");
            let mut w = create(&t, &events);
            w.push_config = Some(&first);
            assert_eq!(stores[0].write_task(w).await.unwrap().pushes_queued, 3);
            stores[1]
                .put_push_config(&config(&t.id, "b"))
                .await
                .unwrap();
            let mut w = create(&t, &events);
            w.expected_version = 1;
            assert_eq!(stores[1].write_task(w).await.unwrap().pushes_queued, 6);
        }
        let total = TASKS * 9;

        let received: Arc<Mutex<Vec<(usize, PushKey)>>> = Arc::default();
        let order = Arc::new(AtomicUsize::new(0));
        let mut claimers = Vec::new();
        for c in 0..6 {
            let store = stores[c % 2].clone();
            let (received, order) = (received.clone(), order.clone());
            claimers.push(tokio::spawn(async move {
                let owner = format!("claimer-{c}");
                for _ in 0..10_000 {
                    if received.lock().len() >= total {
                        return;
                    }
                    let claim = PushClaim {
                        owner: &owner,
                        now_ms: unix_millis(SystemTime::now()),
                        lease: Duration::from_secs(60),
                        limit: 5,
                    };
                    let claimed = store.claim_pushes(&claim).await.unwrap();
                    let mut done = Vec::new();
                    for d in claimed {
                        let n = order.fetch_add(1, Ordering::SeqCst);
                        received.lock().push((n, d.key.clone()));
                        done.push(PushFinish {
                            key: d.key,
                            outcome: PushOutcome::Delivered,
                        });
                    }
                    if done.is_empty() {
                        tokio::task::yield_now().await;
                    }
                    store.finish_pushes(&owner, &done).await.unwrap();
                }
                panic!("claimer {c} never saw the end");
            }));
        }
        for c in claimers {
            c.await.unwrap();
        }
        let received = std::mem::take(&mut *received.lock());
        assert_eq!(received.len(), total, "every row delivered exactly once");
        let unique: HashSet<&PushKey> = received.iter().map(|(_, k)| k).collect();
        assert_eq!(unique.len(), total, "no row claimed twice");
        let mut per_config: BTreeMap<(String, String), Vec<(usize, u64)>> = BTreeMap::new();
        for (n, k) in received.iter() {
            per_config
                .entry((k.task_id.clone(), k.config_id.clone()))
                .or_default()
                .push((*n, k.seq));
        }
        for (config, mut seqs) in per_config {
            seqs.sort_unstable();
            let seqs: Vec<u64> = seqs.into_iter().map(|(_, s)| s).collect();
            let expected: Vec<u64> = if config.1 == "a" {
                (1..=6).collect()
            } else {
                (4..=6).collect()
            };
            assert_eq!(seqs, expected, "{config:?}");
        }
        assert_eq!(stores[0].next_push_due().await.unwrap(), None);
    }
}
