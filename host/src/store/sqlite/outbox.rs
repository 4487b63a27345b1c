//! The SQLite push outbox (schema step 6): notifications queued inside a
//! task write's transaction, and the claims, outcomes and dead letters,
//! each one `BEGIN IMMEDIATE` transaction on the writer connection (which
//! also keeps other processes on the file from claiming the same rows).

use std::ops::RangeInclusive;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};

use super::json_column;
use crate::model::StreamResponse;
use crate::store::{
    DeadPush, DeadPushQuery, PushCounts, PushDelivery, PushFinish, PushKey, PushOutcome, StoreError,
};

/// Creates or replaces a push config of an existing task, inside the
/// caller's transaction; returns how many configs the task has now.
pub(super) fn put_config(
    tx: &Connection,
    task_id: &str,
    config_id: &str,
    json: &str,
) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "INSERT INTO push_configs (task_id, id, config) VALUES (?1, ?2, ?3) \
         ON CONFLICT (task_id, id) DO UPDATE SET config = excluded.config",
    )?
    .execute(params![task_id, config_id, json])?;
    recount(tx, task_id)
}

/// Deletes a push config and its pending notifications, inside the
/// caller's transaction; `false` if there was none.
pub(super) fn delete_config(
    tx: &Connection,
    task_id: &str,
    config_id: &str,
) -> Result<bool, StoreError> {
    let deleted = tx
        .prepare_cached("DELETE FROM push_configs WHERE task_id = ?1 AND id = ?2")?
        .execute([task_id, config_id])?;
    if deleted == 0 {
        return Ok(false);
    }
    tx.prepare_cached(
        "DELETE FROM push_outbox WHERE task_id = ?1 AND config_id = ?2 AND dead = 0",
    )?
    .execute([task_id, config_id])?;
    recount(tx, task_id)?;
    Ok(true)
}

/// Brings `tasks.push_configs` up to date; returns it.
fn recount(tx: &Connection, task_id: &str) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached(
            "UPDATE tasks SET push_configs = \
             (SELECT count(*) FROM push_configs WHERE task_id = ?1) \
             WHERE id = ?1 RETURNING push_configs",
        )?
        .query_row([task_id], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Queues events `seqs` of a task for each of its configs, due at `now`;
/// returns how many rows.
pub(super) fn queue_events(
    tx: &Connection,
    task_id: &str,
    seqs: RangeInclusive<u64>,
    now: i64,
) -> Result<u64, StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO push_outbox (task_id, config_id, seq, queued_ms, next_ms) \
         SELECT task_id, id, ?2, ?3, ?3 FROM push_configs WHERE task_id = ?1",
    )?;
    let mut queued = 0;
    for seq in seqs {
        queued += stmt.execute(params![task_id, seq as i64, now])? as u64;
    }
    Ok(queued)
}

/// Whether a row `o` is the head of its config's queue: no pending row of
/// the same config comes before it.
const IS_HEAD: &str = "NOT EXISTS (SELECT 1 FROM push_outbox p \
    WHERE p.task_id = o.task_id AND p.config_id = o.config_id AND p.seq < o.seq AND p.dead = 0)";

/// [`Store::claim_pushes`](crate::store::Store::claim_pushes), on the
/// writer.
pub(super) fn claim(
    conn: &mut Connection,
    owner: &str,
    now: i64,
    until: i64,
    limit: usize,
) -> Result<Vec<PushDelivery>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let due: Vec<(PushKey, i64, i64)> = tx
        .prepare_cached(&format!(
            "SELECT o.task_id, o.config_id, o.seq, o.attempts, o.queued_ms FROM push_outbox o \
             WHERE o.dead = 0 AND o.next_ms <= ?1 \
             AND (o.lease_until_ms IS NULL OR o.lease_until_ms < ?1) AND {IS_HEAD} \
             ORDER BY o.queued_ms, o.task_id, o.config_id, o.seq LIMIT ?2"
        ))?
        .query_map(
            params![now, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok((
                    PushKey {
                        task_id: r.get(0)?,
                        config_id: r.get(1)?,
                        seq: r.get::<_, i64>(2)? as u64,
                    },
                    r.get(3)?,
                    r.get(4)?,
                ))
            },
        )?
        .collect::<Result<_, _>>()?;
    let mut claimed = Vec::with_capacity(due.len());
    for (key, attempts, queued_ms) in due {
        let row = tx
            .prepare_cached(
                "SELECT t.agent, c.config FROM tasks t JOIN push_configs c \
                 ON c.task_id = t.id AND c.id = ?2 WHERE t.id = ?1",
            )?
            .query_row([&key.task_id, &key.config_id], |r| {
                let config = json_column(r, 1, || {
                    format!("push config `{}` of task `{}`", key.config_id, key.task_id)
                });
                Ok((r.get::<_, String>(0)?, config))
            })
            .optional()?;
        // Deleted with its config or task, in the same transaction as the
        // row: cannot happen, but a claim must not fail on it.
        let Some((agent, config)) = row else { continue };
        let event = event_at(&tx, &key.task_id, key.seq)?;
        tx.prepare_cached(
            "UPDATE push_outbox SET lease_owner = ?4, lease_until_ms = ?5 \
             WHERE task_id = ?1 AND config_id = ?2 AND seq = ?3",
        )?
        .execute(params![
            key.task_id,
            key.config_id,
            key.seq as i64,
            owner,
            until
        ])?;
        claimed.push(PushDelivery {
            key,
            agent,
            config: config?,
            event,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            queued_ms,
        });
    }
    tx.commit()?;
    Ok(claimed)
}

/// Event `seq` of a task's log (its row holds the events up to its own
/// `seq`, `n` of them; schema step 4).
fn event_at(conn: &Connection, task_id: &str, seq: u64) -> Result<StreamResponse, StoreError> {
    let what = || format!("event {seq} of task `{task_id}`");
    let mut stmt = conn.prepare_cached(
        "SELECT seq, n, event FROM task_events WHERE task_id = ?1 AND seq >= ?2 \
         ORDER BY seq LIMIT 1",
    )?;
    let mut rows = stmt.query(params![task_id, seq as i64])?;
    let Some(row) = rows.next()? else {
        return Err(StoreError::Other(format!("{} is missing", what())));
    };
    let last = row.get::<_, i64>(0)? as u64;
    let n = row.get::<_, i64>(1)? as u64;
    if n == 1 {
        if last != seq {
            return Err(StoreError::Other(format!("{} is missing", what())));
        }
        return json_column(row, 2, what);
    }
    let mut batch: Vec<StreamResponse> = json_column(row, 2, what)?;
    let back = (last - seq) as usize;
    if batch.len() as u64 != n || back >= batch.len() {
        return Err(StoreError::Other(format!("{} is missing", what())));
    }
    let index = batch.len() - 1 - back;
    Ok(batch.swap_remove(index))
}

/// [`Store::finish_pushes`](crate::store::Store::finish_pushes), on the
/// writer.
pub(super) fn finish(
    conn: &mut Connection,
    owner: &str,
    done: &[PushFinish],
    now: i64,
) -> Result<(), StoreError> {
    const MINE: &str = "task_id = ?1 AND config_id = ?2 AND seq = ?3 AND dead = 0 \
        AND lease_owner = ?4";
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for f in done {
        let Ok(seq) = i64::try_from(f.key.seq) else {
            continue;
        };
        let key = (f.key.task_id.as_str(), f.key.config_id.as_str(), seq, owner);
        match &f.outcome {
            PushOutcome::Delivered => {
                tx.prepare_cached(&format!("DELETE FROM push_outbox WHERE {MINE}"))?
                    .execute(params![key.0, key.1, key.2, key.3])?;
            }
            PushOutcome::Retry { at_ms, error } => {
                tx.prepare_cached(&format!(
                    "UPDATE push_outbox SET attempts = attempts + 1, next_ms = ?5, error = ?6, \
                     lease_owner = NULL, lease_until_ms = NULL WHERE {MINE}"
                ))?
                .execute(params![key.0, key.1, key.2, key.3, at_ms, error])?;
            }
            PushOutcome::Deferred { at_ms } => {
                tx.prepare_cached(&format!(
                    "UPDATE push_outbox SET next_ms = ?5, lease_owner = NULL, \
                     lease_until_ms = NULL WHERE {MINE}"
                ))?
                .execute(params![key.0, key.1, key.2, key.3, at_ms])?;
            }
            PushOutcome::Dead { error } => {
                tx.prepare_cached(&format!(
                    "UPDATE push_outbox SET dead = 1, attempts = attempts + 1, died_ms = ?5, \
                     error = ?6, lease_owner = NULL, lease_until_ms = NULL, \
                     url = coalesce((SELECT json_extract(c.config, '$.url') FROM push_configs c \
                                     WHERE c.task_id = ?1 AND c.id = ?2), '') \
                     WHERE {MINE}"
                ))?
                .execute(params![key.0, key.1, key.2, key.3, now, error])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// [`Store::next_push_due`](crate::store::Store::next_push_due): over the
/// heads only, as a row behind its head cannot be claimed before it.
pub(super) fn next_due(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT min(max(o.next_ms, coalesce(o.lease_until_ms, o.next_ms))) \
             FROM push_outbox o WHERE o.dead = 0 AND {IS_HEAD}"
        ))?
        .query_row([], |r| r.get(0))?)
}

/// The dead letters of `query` as a condition on `o` and its arguments.
fn dead_filter(query: &DeadPushQuery) -> (String, Vec<SqlValue>) {
    let mut sql = String::from("o.dead = 1");
    let mut args = Vec::new();
    if let Some(agent) = &query.agent {
        sql.push_str(" AND o.task_id IN (SELECT id FROM tasks WHERE agent = ?)");
        args.push(SqlValue::Text(agent.clone()));
    }
    if let Some(task_id) = &query.task_id {
        sql.push_str(" AND o.task_id = ?");
        args.push(SqlValue::Text(task_id.clone()));
    }
    (sql, args)
}

/// [`Store::dead_pushes`](crate::store::Store::dead_pushes).
pub(super) fn dead(conn: &Connection, query: &DeadPushQuery) -> Result<Vec<DeadPush>, StoreError> {
    let (filter, mut args) = dead_filter(query);
    args.push(SqlValue::Integer(
        i64::try_from(query.limit).unwrap_or(i64::MAX),
    ));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT o.task_id, o.config_id, o.seq, t.agent, o.url, o.attempts, o.queued_ms, \
         o.died_ms, o.error FROM push_outbox o JOIN tasks t ON t.id = o.task_id \
         WHERE {filter} ORDER BY o.died_ms, o.task_id, o.config_id, o.seq LIMIT ?"
    ))?;
    let rows = stmt.query_map(params_from_iter(&args), |r| {
        Ok(DeadPush {
            key: PushKey {
                task_id: r.get(0)?,
                config_id: r.get(1)?,
                seq: r.get::<_, i64>(2)? as u64,
            },
            agent: r.get(3)?,
            url: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
            attempts: u32::try_from(r.get::<_, i64>(5)?).unwrap_or(u32::MAX),
            queued_ms: r.get(6)?,
            died_ms: r.get::<_, Option<i64>>(7)?.unwrap_or_default(),
            error: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// [`Store::requeue_dead_pushes`](crate::store::Store::requeue_dead_pushes),
/// on the writer.
pub(super) fn requeue(
    conn: &mut Connection,
    query: &DeadPushQuery,
    now: i64,
) -> Result<u64, StoreError> {
    let (filter, args) = dead_filter(query);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached(&format!(
        "DELETE FROM push_outbox AS o WHERE {filter} AND NOT EXISTS \
         (SELECT 1 FROM push_configs c WHERE c.task_id = o.task_id AND c.id = o.config_id)"
    ))?
    .execute(params_from_iter(&args))?;
    // The filter's anonymous parameters number on after `?1`.
    let mut all = vec![SqlValue::Integer(now)];
    all.extend(args);
    let requeued = tx
        .prepare_cached(&format!(
            "UPDATE push_outbox AS o SET dead = 0, queued_ms = ?1, next_ms = ?1, attempts = 0, \
             lease_owner = NULL, lease_until_ms = NULL, error = NULL, died_ms = NULL, \
             url = NULL WHERE {filter}"
        ))?
        .execute(params_from_iter(&all))?;
    tx.commit()?;
    Ok(requeued as u64)
}

/// [`Store::push_counts`](crate::store::Store::push_counts).
pub(super) fn counts(conn: &Connection) -> Result<Vec<PushCounts>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.agent, sum(o.dead = 0), sum(o.dead = 1) FROM push_outbox o \
         JOIN tasks t ON t.id = o.task_id GROUP BY t.agent ORDER BY t.agent",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PushCounts {
            agent: r.get(0)?,
            pending: r.get::<_, i64>(1)? as u64,
            dead: r.get::<_, i64>(2)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
