//! Conformance checks of the push outbox: queueing in task writes, claims
//! and their leases, outcomes, dead letters and counts.
//!
//! Claims see the whole store, so each check first leases whatever other
//! checks left due (see [`sweep`]) for longer than it looks ahead, and
//! then only ever asks about its own tasks and agents.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::helpers::*;
use crate::model::{StreamResponse, Task, TaskState};
use crate::store::{
    DeadPushQuery, PushClaim, PushCounts, PushDelivery, PushFinish, PushKey, PushOutcome, Store,
    StoreError, unix_millis,
};

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const DAY: i64 = 24 * 60 * MINUTE;
/// The lease of every claim in these checks.
const LEASE: Duration = Duration::from_secs(30);

fn now() -> i64 {
    unix_millis(SystemTime::now())
}

/// Leases every notification that is due within a day to an owner nobody
/// uses again, for two days, so that claims within a day of the returned
/// instant (now) only find what the calling check queues itself.
async fn sweep(store: &Arc<dyn Store>) -> i64 {
    let t0 = now();
    let owner = fresh("sweeper");
    let claim = PushClaim {
        owner: &owner,
        now_ms: t0 + DAY,
        lease: Duration::from_millis(2 * DAY as u64),
        limit: 1000,
    };
    while !store.claim_pushes(&claim).await.expect("sweep").is_empty() {}
    t0
}

async fn claim(
    store: &Arc<dyn Store>,
    owner: &str,
    now_ms: i64,
    limit: usize,
) -> Vec<PushDelivery> {
    store
        .claim_pushes(&PushClaim {
            owner,
            now_ms,
            lease: LEASE,
            limit,
        })
        .await
        .unwrap_or_else(|e| panic!("claim_pushes by {owner} at {now_ms}: {e}"))
}

/// `(config id, seq)` of each delivery, in order.
fn keys(claimed: &[PushDelivery]) -> Vec<(&str, u64)> {
    claimed
        .iter()
        .map(|d| (d.key.config_id.as_str(), d.key.seq))
        .collect()
}

fn key(task: &Task, config_id: &str, seq: u64) -> PushKey {
    PushKey {
        task_id: task.id.clone(),
        config_id: config_id.to_string(),
        seq,
    }
}

async fn finish(store: &Arc<dyn Store>, owner: &str, key: PushKey, outcome: PushOutcome) {
    store
        .finish_pushes(owner, &[PushFinish { key, outcome }])
        .await
        .unwrap_or_else(|e| panic!("finish_pushes by {owner}: {e}"));
}

fn retry(at_ms: i64) -> PushOutcome {
    PushOutcome::Retry {
        at_ms,
        error: "HTTP 503".into(),
    }
}

fn dead() -> PushOutcome {
    PushOutcome::Dead {
        error: "HTTP 410".into(),
    }
}

/// A working task of `agent` (created with one event, which no config
/// gets) with push configs `configs`, each to `https://hooks.example/ID`.
async fn task_with_configs(store: &Arc<dyn Store>, agent: &str, configs: &[&str]) -> Task {
    let t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Working,
        Some(at(0)),
    );
    let committed = create(store, agent, &t).await;
    assert_eq!(committed.pushes_queued, 0, "no config yet");
    for id in configs {
        store
            .put_push_config(&push_config(
                &t.id,
                id,
                &format!("https://hooks.example/{id}"),
            ))
            .await
            .expect("put a push config");
    }
    t
}

/// Appends `n` events to a task; returns them and what the write queued.
async fn append(store: &Arc<dyn Store>, t: &Task, n: usize) -> (Vec<StreamResponse>, u64) {
    let stored = must_get(store, &t.id).await;
    let events: Vec<StreamResponse> = (0..n)
        .map(|i| text_event(t, &format!("chunk {}", stored.last_seq as usize + i)))
        .collect();
    let committed = store
        .write_task(write(&stored.agent, t, stored.version, &events, None))
        .await
        .unwrap_or_else(|e| panic!("appending to {}: {e}", t.id));
    assert_eq!(committed.first_seq, stored.last_seq + 1);
    (events, committed.pushes_queued)
}

/// Dead letters of one agent or task.
async fn dead_of(store: &Arc<dyn Store>, agent: Option<&str>, task: Option<&Task>) -> Vec<PushKey> {
    let query = DeadPushQuery {
        agent: agent.map(str::to_string),
        task_id: task.map(|t| t.id.clone()),
        limit: 100,
    };
    store
        .dead_pushes(&query)
        .await
        .expect("dead_pushes")
        .into_iter()
        .map(|d| d.key)
        .collect()
}

/// The counts of one agent, if it is listed.
async fn counts_of(store: &Arc<dyn Store>, agent: &str) -> Option<PushCounts> {
    let all = store.push_counts().await.expect("push_counts");
    let names: Vec<&str> = all.iter().map(|c| c.agent.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted, "push_counts lists each agent once, by name");
    assert!(
        all.iter().all(|c| c.pending + c.dead > 0),
        "agents without notifications are left out: {all:?}"
    );
    all.into_iter().find(|c| c.agent == agent)
}

/// Each event a write appends is queued once per config the task has then
/// (not for configs made later), with the event, the current config, the
/// agent and its age; replacing a config keeps its queue.
pub async fn outbox_queues_each_event_for_each_config(store: &Arc<dyn Store>) {
    let t0 = sweep(store).await;
    let agent = fresh("agent");
    let t = task_with_configs(store, &agent, &["c1", "c2"]).await;
    let before = now();
    let (events, queued) = append(store, &t, 2).await;
    let after = now();
    assert_eq!(queued, 4, "2 events for 2 configs");
    store
        .put_push_config(&push_config(&t.id, "c3", "https://hooks.example/c3"))
        .await
        .unwrap();
    let replaced = push_config(&t.id, "c1", "https://hooks.example/replaced");
    store.put_push_config(&replaced).await.unwrap();

    let owner = fresh("owner");
    let claimed = claim(store, &owner, t0 + MINUTE, 10).await;
    // The create's event (seq 1) came before any config.
    assert_eq!(keys(&claimed), [("c1", 2), ("c2", 2)]);
    let first = &claimed[0];
    assert_eq!(first.key, key(&t, "c1", 2));
    assert_eq!(first.agent, agent);
    assert_eq!(first.config, replaced, "the config as stored now");
    assert_eq!(first.event, events[0]);
    assert_eq!(first.attempts, 0);
    assert!(
        (before..=after).contains(&first.queued_ms),
        "queued at {} (write between {before} and {after})",
        first.queued_ms
    );
    assert_eq!(claimed[1].config.url, "https://hooks.example/c2");

    for d in &claimed {
        finish(store, &owner, d.key.clone(), PushOutcome::Delivered).await;
    }
    let claimed = claim(store, &owner, t0 + MINUTE, 10).await;
    assert_eq!(keys(&claimed), [("c1", 3), ("c2", 3)]);
    assert_eq!(claimed[0].event, events[1]);
    for d in &claimed {
        finish(store, &owner, d.key.clone(), PushOutcome::Delivered).await;
    }
    assert!(claim(store, &owner, t0 + MINUTE, 10).await.is_empty());

    // A write without events queues nothing; the next event goes to all
    // three.
    let stored = must_get(store, &t.id).await;
    let committed = store
        .write_task(write(&agent, &t, stored.version, &[], None))
        .await
        .unwrap();
    assert_eq!(committed.pushes_queued, 0);
    let (_, queued) = append(store, &t, 1).await;
    assert_eq!(queued, 3);
    let claimed = claim(store, &owner, t0 + MINUTE, 10).await;
    assert_eq!(keys(&claimed), [("c1", 4), ("c2", 4), ("c3", 4)]);

    // Another task's events are not this task's configs' business.
    let other = task_with_configs(store, &agent, &[]).await;
    let (_, queued) = append(store, &other, 2).await;
    assert_eq!(queued, 0);
}

/// A config given with a write is stored in it and gets the write's own
/// events, even those of the write that creates the task; one of another
/// task is refused and nothing is written.
pub async fn outbox_push_config_in_the_write(store: &Arc<dyn Store>) {
    let t0 = sweep(store).await;
    let agent = fresh("agent");
    let t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Submitted,
        Some(at(0)),
    );
    let config = push_config(&t.id, "with-create", "https://hooks.example/create");
    let events = [status_event(&t), text_event(&t, "hi")];
    let mut w = write(&agent, &t, 0, &events, None);
    w.push_config = Some(&config);
    let committed = store.write_task(w).await.expect("create with a config");
    assert_eq!((committed.version, committed.pushes_queued), (1, 2));
    assert_eq!(
        store.list_push_configs(&t.id).await.unwrap(),
        vec![config.clone()]
    );

    // Replaced in an update: still one config, and the update's event
    // queued once.
    let replaced = push_config(&t.id, "with-create", "https://hooks.example/again");
    let more = [text_event(&t, "more")];
    let mut w = write(&agent, &t, 1, &more, None);
    w.push_config = Some(&replaced);
    assert_eq!(store.write_task(w).await.unwrap().pushes_queued, 1);
    // A second config in an update: its event goes to both.
    let second = push_config(&t.id, "second", "https://hooks.example/second");
    let mut w = write(&agent, &t, 2, &more, None);
    w.push_config = Some(&second);
    assert_eq!(store.write_task(w).await.unwrap().pushes_queued, 2);
    assert_eq!(
        store.list_push_configs(&t.id).await.unwrap(),
        vec![replaced.clone(), second.clone()]
    );

    let owner = fresh("owner");
    let mut claimed = claim(store, &owner, t0 + MINUTE, 10).await;
    assert_eq!(claimed.len(), 2, "one head per config");
    claimed.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(claimed[0].key, key(&t, "second", 4));
    assert_eq!(claimed[0].config, second);
    assert_eq!(claimed[1].key, key(&t, "with-create", 1));
    assert_eq!(claimed[1].event, events[0]);
    assert_eq!(claimed[1].config, replaced);

    // A config of another task is refused, and the write with it.
    let foreign = push_config(&fresh("task"), "x", "https://hooks.example/x");
    let mut w = write(&agent, &t, 3, &more, None);
    w.push_config = Some(&foreign);
    let result = store.write_task(w).await;
    assert!(matches!(result, Err(StoreError::Other(_))), "{result:?}");
    let stored = must_get(store, &t.id).await;
    assert_eq!((stored.version, stored.last_seq), (3, 4));
}

/// Only the head of each config's queue can be claimed: the next event
/// waits while the head is pending, leased or waiting for a retry, and
/// comes up once the head is delivered or dead. Configs do not wait for
/// each other.
pub async fn outbox_claims_only_the_head_of_each_queue(store: &Arc<dyn Store>) {
    let t0 = sweep(store).await;
    let agent = fresh("agent");
    let t = task_with_configs(store, &agent, &["a", "b"]).await;
    let (_, queued) = append(store, &t, 3).await;
    assert_eq!(queued, 6);
    let owner = fresh("owner");
    let at = t0 + MINUTE;
    assert_eq!(
        keys(&claim(store, &owner, at, 10).await),
        [("a", 2), ("b", 2)]
    );
    assert!(
        claim(store, &owner, at, 10).await.is_empty(),
        "heads leased: nothing behind them"
    );

    finish(store, &owner, key(&t, "a", 2), PushOutcome::Delivered).await;
    assert_eq!(keys(&claim(store, &owner, at, 10).await), [("a", 3)]);
    // b's head waits for a retry; what is behind it waits too.
    finish(store, &owner, key(&t, "b", 2), retry(at + 10 * MINUTE)).await;
    assert!(claim(store, &owner, at + 1, 10).await.is_empty());
    // A dead head makes way for the next.
    finish(store, &owner, key(&t, "a", 3), dead()).await;
    assert_eq!(keys(&claim(store, &owner, at + 1, 10).await), [("a", 4)]);
    finish(store, &owner, key(&t, "a", 4), PushOutcome::Delivered).await;
    assert!(
        claim(store, &owner, at + 10 * MINUTE - 1, 10)
            .await
            .is_empty()
    );
    assert_eq!(
        keys(&claim(store, &owner, at + 10 * MINUTE, 10).await),
        [("b", 2)]
    );
}

/// Claims take the oldest notifications first, at most `limit`, and none
/// that is not due yet.
pub async fn outbox_claims_oldest_first_up_to_the_limit(store: &Arc<dyn Store>) {
    let t0 = sweep(store).await;
    let agent = fresh("agent");
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let t = task_with_configs(store, &agent, &["c"]).await;
        // Distinct queue times, oldest first.
        tokio::time::sleep(Duration::from_millis(3)).await;
        assert_eq!(append(store, &t, 1).await.1, 1);
        tasks.push(t);
    }
    let owner = fresh("owner");
    let at = t0 + MINUTE;
    assert!(claim(store, &owner, at, 0).await.is_empty());
    let first = claim(store, &owner, at, 2).await;
    let ids: Vec<&str> = first.iter().map(|d| d.key.task_id.as_str()).collect();
    assert_eq!(ids, [tasks[0].id.as_str(), tasks[1].id.as_str()]);
    let second = claim(store, &owner, at, 2).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].key, key(&tasks[2], "c", 2));
    for d in first {
        finish(store, &owner, d.key, PushOutcome::Delivered).await;
    }

    // Due time: a retry is not claimed before its time, and is at it.
    finish(store, &owner, second[0].key.clone(), retry(at + 5 * MINUTE)).await;
    assert!(
        claim(store, &owner, at + 5 * MINUTE - 1, 10)
            .await
            .is_empty()
    );
    let again = claim(store, &owner, at + 5 * MINUTE, 10).await;
    assert_eq!(keys(&again), [("c", 2)]);
    assert_eq!(again[0].key.task_id, tasks[2].id);
    assert_eq!(again[0].attempts, 1);
}

/// A leased row is nobody else's until its lease has ended; then another
/// owner takes it over, and the first owner's outcome no longer counts.
pub async fn outbox_leases_are_exclusive_until_they_end(store: &Arc<dyn Store>) {
    let t0 = sweep(store).await;
    let agent = fresh("agent");
    let t = task_with_configs(store, &agent, &["c"]).await;
    append(store, &t, 2).await;
    let (a, b) = (fresh("owner-a"), fresh("owner-b"));
    let at = t0 + MINUTE;
    let lease_ms = LEASE.as_millis() as i64;
    assert_eq!(keys(&claim(store, &a, at, 10).await), [("c", 2)]);
    assert!(claim(store, &b, at + 1, 10).await.is_empty());
    assert!(
        claim(store, &b, at + lease_ms, 10).await.is_empty(),
        "the lease lasts until its end"
    );
    // a's lease ended: b takes the row, with a's attempt not counted.
    let taken = claim(store, &b, at + lease_ms + 1, 10).await;
    assert_eq!(keys(&taken), [("c", 2)]);
    assert_eq!(taken[0].attempts, 0);

    // a's late outcomes are ignored, whatever they are.
    finish(store, &a, key(&t, "c", 2), PushOutcome::Delivered).await;
    finish(store, &a, key(&t, "c", 2), dead()).await;
    assert!(dead_of(store, Some(&agent), None).await.is_empty());
    assert_eq!(
        counts_of(store, &agent).await.map(|c| (c.pending, c.dead)),
        Some((2, 0))
    );
    // b's counts; so does an outcome for a row that is gone.
    finish(store, &b, key(&t, "c", 2), PushOutcome::Delivered).await;
    finish(store, &b, key(&t, "c", 2), PushOutcome::Delivered).await;
    finish(store, &b, key(&t, "nope", 9), PushOutcome::Delivered).await;
    let next = claim(store, &a, at + lease_ms + 1, 10).await;
    assert_eq!(keys(&next), [("c", 3)]);
    // Several outcomes at once, one of them stale.
    store
        .finish_pushes(
            &a,
            &[
                PushFinish {
                    key: key(&t, "c", 3),
                    outcome: PushOutcome::Delivered,
                },
                PushFinish {
                    key: key(&t, "c", 2),
                    outcome: dead(),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(counts_of(store, &agent).await, None);
}

/// A retry counts the attempt, keeps the row with its age and releases the
/// lease; a dead letter leaves the queue with its attempts, the config's
/// URL, the error and when it died.
pub async fn outbox_retry_and_dead_letters(store: &Arc<dyn Store>) {
    let t0 = sweep(store).await;
    let agent = fresh("agent");
    let t = task_with_configs(store, &agent, &["c"]).await;
    append(store, &t, 1).await;
    let owner = fresh("owner");
    let at = t0 + MINUTE;
    let first = claim(store, &owner, at, 10).await;
    assert_eq!(keys(&first), [("c", 2)]);
    let queued_ms = first[0].queued_ms;

    finish(store, &owner, key(&t, "c", 2), retry(at + MINUTE)).await;
    // Released: a second outcome of the same owner is stale.
    finish(store, &owner, key(&t, "c", 2), PushOutcome::Delivered).await;
    let second = claim(store, &owner, at + MINUTE, 10).await;
    assert_eq!(keys(&second), [("c", 2)]);
    assert_eq!((second[0].attempts, second[0].queued_ms), (1, queued_ms));
    assert_eq!(
        counts_of(store, &agent).await.map(|c| (c.pending, c.dead)),
        Some((1, 0))
    );

    // Deferred: released and due later, the attempt not counted.
    let later = at + 2 * MINUTE;
    finish(
        store,
        &owner,
        key(&t, "c", 2),
        PushOutcome::Deferred { at_ms: later },
    )
    .await;
    assert!(claim(store, &owner, later - 1, 10).await.is_empty());
    let third = claim(store, &owner, later, 10).await;
    assert_eq!(keys(&third), [("c", 2)]);
    assert_eq!(third[0].attempts, 1);

    let before = now();
    finish(store, &owner, key(&t, "c", 2), dead()).await;
    let after = now();
    let letters = store
        .dead_pushes(&DeadPushQuery {
            task_id: Some(t.id.clone()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.key, key(&t, "c", 2));
    assert_eq!(letter.agent, agent);
    assert_eq!(letter.url, "https://hooks.example/c");
    assert_eq!(letter.attempts, 2);
    assert_eq!(letter.queued_ms, queued_ms);
    assert!((before..=after).contains(&letter.died_ms), "{letter:?}");
    assert_eq!(letter.error, "HTTP 410");
    assert_eq!(
        counts_of(store, &agent).await.map(|c| (c.pending, c.dead)),
        Some((0, 1))
    );
    assert!(claim(store, &owner, at + DAY - 1, 10).await.is_empty());
    // The owner has no lease on a dead letter.
    finish(store, &owner, key(&t, "c", 2), PushOutcome::Delivered).await;
    assert_eq!(dead_of(store, None, Some(&t)).await.len(), 1);
}

/// Deleting a config drops its pending notifications but keeps its dead
/// letters, with the URL they had; other configs keep theirs.
pub async fn outbox_delete_config_keeps_dead_letters(store: &Arc<dyn Store>) {
    let t0 = sweep(store).await;
    let agent = fresh("agent");
    let t = task_with_configs(store, &agent, &["gone", "kept"]).await;
    append(store, &t, 3).await;
    let owner = fresh("owner");
    let at = t0 + MINUTE;
    assert_eq!(
        keys(&claim(store, &owner, at, 10).await),
        [("gone", 2), ("kept", 2)]
    );
    finish(store, &owner, key(&t, "gone", 2), dead()).await;
    store
        .put_push_config(&push_config(&t.id, "gone", "https://hooks.example/moved"))
        .await
        .unwrap();
    assert!(store.delete_push_config(&t.id, "gone").await.unwrap());

    assert_eq!(
        counts_of(store, &agent).await.map(|c| (c.pending, c.dead)),
        Some((3, 1)),
        "kept's three stay, gone's two pending went"
    );
    assert!(
        claim(store, &owner, at, 10).await.is_empty(),
        "kept's head is still leased, gone has nothing"
    );
    let letters = store
        .dead_pushes(&DeadPushQuery {
            task_id: Some(t.id.clone()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        letters[0].url, "https://hooks.example/gone",
        "its URL when it died"
    );
    // Events after the delete are not queued for it.
    assert_eq!(append(store, &t, 1).await.1, 1);
}

/// Dead letters list oldest death first, filtered by agent and task, up to
/// the limit; requeued, they go back to their queue at their own sequence
/// number (so before later events), due and counted anew; those whose
/// config is gone are dropped.
pub async fn outbox_dead_letters_list_and_requeue(store: &Arc<dyn Store>) {
    let t0 = sweep(store).await;
    let (agent, other_agent) = (fresh("agent"), fresh("agent"));
    let t = task_with_configs(store, &agent, &["c", "d"]).await;
    let u = task_with_configs(store, &other_agent, &["c"]).await;
    append(store, &t, 3).await;
    append(store, &u, 1).await;
    let owner = fresh("owner");
    let at = t0 + MINUTE;
    assert_eq!(claim(store, &owner, at, 10).await.len(), 3);
    // Deaths in this order, at distinct times: t/c/2, u/c/2, t/d/2, t/c/3.
    for (task, config, seq) in [(&t, "c", 2), (&u, "c", 2), (&t, "d", 2)] {
        finish(store, &owner, key(task, config, seq), dead()).await;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert_eq!(
        keys(&claim(store, &owner, at, 10).await),
        [("c", 3), ("d", 3)]
    );
    finish(store, &owner, key(&t, "c", 3), dead()).await;
    finish(store, &owner, key(&t, "d", 3), retry(at)).await;

    let all_t = [key(&t, "c", 2), key(&t, "d", 2), key(&t, "c", 3)];
    assert_eq!(dead_of(store, Some(&agent), None).await, all_t);
    assert_eq!(dead_of(store, None, Some(&t)).await, all_t);
    assert_eq!(dead_of(store, None, Some(&u)).await, [key(&u, "c", 2)]);
    assert!(
        dead_of(store, Some(&other_agent), Some(&t))
            .await
            .is_empty()
    );
    let limited = store
        .dead_pushes(&DeadPushQuery {
            agent: Some(agent.clone()),
            task_id: None,
            limit: 2,
        })
        .await
        .unwrap();
    let limited: Vec<PushKey> = limited.into_iter().map(|d| d.key).collect();
    assert_eq!(limited, all_t[..2]);

    // Config d goes; its dead letter is dropped by the requeue, not counted.
    assert!(store.delete_push_config(&t.id, "d").await.unwrap());
    let requeue_at = at + 2 * MINUTE;
    let requeued = store
        .requeue_dead_pushes(
            &DeadPushQuery {
                task_id: Some(t.id.clone()),
                ..Default::default()
            },
            requeue_at,
        )
        .await
        .unwrap();
    assert_eq!(requeued, 2);
    assert!(dead_of(store, None, Some(&t)).await.is_empty());
    assert_eq!(
        dead_of(store, Some(&other_agent), None).await,
        [key(&u, "c", 2)],
        "other tasks' dead letters stay"
    );
    assert_eq!(
        counts_of(store, &agent).await.map(|c| (c.pending, c.dead)),
        Some((3, 0)),
        "c/2, c/3 requeued; c/4 was pending"
    );

    // Due at the requeue's time, back at their place in the queue.
    assert!(claim(store, &owner, requeue_at - 1, 10).await.is_empty());
    let back = claim(store, &owner, requeue_at, 10).await;
    assert_eq!(keys(&back), [("c", 2)]);
    assert_eq!((back[0].attempts, back[0].queued_ms), (0, requeue_at));
    finish(store, &owner, key(&t, "c", 2), PushOutcome::Delivered).await;
    assert_eq!(
        keys(&claim(store, &owner, requeue_at, 10).await),
        [("c", 3)]
    );

    // By agent, the whole agent's.
    let requeued = store
        .requeue_dead_pushes(
            &DeadPushQuery {
                agent: Some(other_agent.clone()),
                ..Default::default()
            },
            requeue_at,
        )
        .await
        .unwrap();
    assert_eq!(requeued, 1);
    assert!(dead_of(store, Some(&other_agent), None).await.is_empty());
}

/// Pending and dead notifications per agent; an agent whose notifications
/// are all delivered is left out.
pub async fn outbox_counts_per_agent(store: &Arc<dyn Store>) {
    let t0 = sweep(store).await;
    let (busy, done, idle) = (fresh("agent"), fresh("agent"), fresh("agent"));
    let t = task_with_configs(store, &busy, &["c", "d"]).await;
    let u = task_with_configs(store, &done, &["c"]).await;
    task_with_configs(store, &idle, &["c"]).await;
    append(store, &t, 2).await;
    append(store, &u, 1).await;
    assert_eq!(
        counts_of(store, &busy).await,
        Some(PushCounts {
            agent: busy.clone(),
            pending: 4,
            dead: 0
        })
    );
    assert_eq!(counts_of(store, &idle).await, None, "no notifications");

    let owner = fresh("owner");
    for d in claim(store, &owner, t0 + MINUTE, 10).await {
        let outcome = if d.key.task_id == t.id && d.key.config_id == "c" {
            dead()
        } else {
            PushOutcome::Delivered
        };
        finish(store, &owner, d.key, outcome).await;
    }
    assert_eq!(
        counts_of(store, &busy).await.map(|c| (c.pending, c.dead)),
        Some((2, 1))
    );
    assert_eq!(counts_of(store, &done).await, None, "all delivered");
}

/// The next due time is the earliest at which a claim finds something: the
/// later of a head's next attempt and the end of its lease (rows behind a
/// head wait for it).
pub async fn outbox_next_push_due(store: &Arc<dyn Store>) {
    let t0 = sweep(store).await;
    // Anything else in the store is due after t0 + DAY.
    let ours = |due: Option<i64>| due.filter(|d| *d < t0 + DAY);
    let agent = fresh("agent");
    let t = task_with_configs(store, &agent, &["c"]).await;
    assert_eq!(ours(store.next_push_due().await.unwrap()), None);
    append(store, &t, 2).await;
    let due = ours(store.next_push_due().await.unwrap()).expect("due now");
    assert!((t0..=now()).contains(&due), "{due}");

    let owner = fresh("owner");
    let at = t0 + MINUTE;
    let lease_ms = LEASE.as_millis() as i64;
    assert_eq!(keys(&claim(store, &owner, at, 10).await), [("c", 2)]);
    assert_eq!(
        ours(store.next_push_due().await.unwrap()),
        Some(at + lease_ms),
        "seq 3 waits for its head's lease"
    );
    finish(store, &owner, key(&t, "c", 2), retry(at + 5 * MINUTE)).await;
    assert_eq!(
        ours(store.next_push_due().await.unwrap()),
        Some(at + 5 * MINUTE)
    );
    // Claimed again after the lease of a first try ran out: the later of
    // the two.
    let again = claim(store, &owner, at + 5 * MINUTE, 10).await;
    assert_eq!(keys(&again), [("c", 2)]);
    assert_eq!(
        ours(store.next_push_due().await.unwrap()),
        Some(at + 5 * MINUTE + lease_ms)
    );
    finish(store, &owner, key(&t, "c", 2), PushOutcome::Delivered).await;
    let third = claim(store, &owner, at + 5 * MINUTE, 10).await;
    assert_eq!(keys(&third), [("c", 3)]);
    finish(store, &owner, key(&t, "c", 3), dead()).await;
    assert_eq!(
        ours(store.next_push_due().await.unwrap()),
        None,
        "dead letters are not due"
    );
}

/// A purged task takes its outbox rows along, pending and dead, and the
/// report counts them.
pub async fn purge_removes_outbox_rows(store: &Arc<dyn Store>) {
    let t0 = sweep(store).await;
    let agent = fresh("agent");
    let t = task_with_configs(store, &agent, &["c", "d"]).await;
    append(store, &t, 2).await;
    let owner = fresh("owner");
    for d in claim(store, &owner, t0 + MINUTE, 10).await {
        if d.key.task_id == t.id && d.key.config_id == "d" {
            finish(store, &owner, d.key, dead()).await;
        }
    }
    assert_eq!(
        counts_of(store, &agent).await.map(|c| (c.pending, c.dead)),
        Some((3, 1))
    );
    let mut done = t.clone();
    done.status.state = TaskState::Completed;
    let stored = must_get(store, &t.id).await;
    store
        .write_task(write(&agent, &done, stored.version, &[], None))
        .await
        .unwrap();
    let policy = crate::store::Retention {
        terminal_tasks: Some(Duration::from_secs(60)),
        context_state: None,
    };
    let report = store.purge(&policy, SystemTime::now()).await.unwrap();
    assert!(report.pushes >= 4, "{report:?}");
    assert!(store.get_task(&t.id).await.unwrap().is_none());
    assert_eq!(counts_of(store, &agent).await, None);
    assert!(dead_of(store, None, Some(&t)).await.is_empty());
    assert!(
        claim(store, &owner, t0 + DAY - 1, 100)
            .await
            .iter()
            .all(|d| d.key.task_id != t.id)
    );
}
