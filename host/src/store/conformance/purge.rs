//! Conformance checks of retention: which tasks and contexts a purge
//! deletes, with everything that hangs off them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::helpers::*;
use crate::model::{TaskState, Timestamp};
use crate::store::{Committed, PurgeReport, Retention, Store, unix_millis};

/// [`Store::purge`] with a task retention deletes exactly the tasks that have
/// been terminal for longer than it, with their events, claims and push
/// configs; tasks in other states stay however old; a purged id starts over.
pub async fn purge_expires_terminal_tasks_only(store: &Arc<dyn Store>) {
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    let agent = fresh("agent");
    let ctx = fresh("ctx");
    let now = SystemTime::now();
    let now_ms = unix_millis(now);
    let ago = |ms: i64| Timestamp::from_unix_millis(now_ms - ms);
    let mk = |name: &str, state, time| task(&fresh(name), &ctx, state, time);

    // Terminal for over an hour; a terminal task without a status time
    // counts as the epoch.
    let expired = [
        mk("completed", TaskState::Completed, ago(2 * HOUR)),
        mk("failed", TaskState::Failed, ago(3 * HOUR)),
        mk("canceled", TaskState::Canceled, ago(HOUR + 1000)),
        mk("rejected", TaskState::Rejected, Some(at(0))),
        mk("untimed", TaskState::Completed, None),
    ];
    // Terminal but recent (or dated in the future), or not terminal at all.
    let kept = [
        mk("recent", TaskState::Completed, ago(10 * MINUTE)),
        mk("future", TaskState::Failed, ago(-HOUR)),
        mk("working", TaskState::Working, Some(at(0))),
        mk("submitted", TaskState::Submitted, ago(100 * HOUR)),
        mk("input", TaskState::InputRequired, Some(at(0))),
        mk("auth", TaskState::AuthRequired, None),
        mk("unspecified", TaskState::Unspecified, Some(at(0))),
    ];
    let mut claims = Vec::new();
    for t in expired.iter().chain(&kept) {
        let message_id = fresh("msg");
        store
            .write_task(write(&agent, t, 0, &[status_event(t)], Some(&message_id)))
            .await
            .unwrap_or_else(|e| panic!("creating {}: {e}", t.id));
        store
            .put_push_config(&push_config(&t.id, "p1", "https://hooks.example/p"))
            .await
            .expect("put a push config");
        claims.push(message_id);
    }
    // A longer log and a second claim on one expired task.
    let second_claim = fresh("msg");
    let more = [text_event(&expired[0], "a"), text_event(&expired[0], "b")];
    store
        .write_task(write(&agent, &expired[0], 1, &more, Some(&second_claim)))
        .await
        .expect("update an expired task");
    let mut kept_before = Vec::new();
    for t in &kept {
        kept_before.push((must_get(store, &t.id).await, all_events(store, &t.id).await));
    }

    // A policy that keeps everything deletes nothing.
    let report = store
        .purge(&Retention::default(), now)
        .await
        .expect("purge with no policy");
    assert_eq!(report, PurgeReport::default());
    assert!(store.get_task(&expired[0].id).await.unwrap().is_some());

    let policy = Retention {
        terminal_tasks: Some(Duration::from_secs(3600)),
        context_state: None,
    };
    let report = store.purge(&policy, now).await.expect("purge");
    let n = expired.len() as u64;
    assert!(report.tasks >= n, "{report:?}");
    assert!(report.events >= n + 2, "{report:?}");
    // One claim per task, and a second one on the first.
    assert!(report.message_claims > n, "{report:?}");
    assert!(report.push_configs >= n, "{report:?}");
    // The two events written after its config are queued for it.
    assert!(report.pushes >= 2, "{report:?}");
    assert_eq!(report.context_values, 0, "{report:?}");

    for (t, message_id) in expired.iter().zip(&claims) {
        assert_eq!(
            store.get_task(&t.id).await.unwrap(),
            None,
            "{} stayed",
            t.id
        );
        assert!(
            all_events(store, &t.id).await.is_empty(),
            "events of {}",
            t.id
        );
        assert_eq!(
            store
                .task_for_message(&agent, &ctx, message_id)
                .await
                .unwrap(),
            None,
            "the claim of {}",
            t.id
        );
        assert!(store.list_push_configs(&t.id).await.unwrap().is_empty());
        assert_eq!(store.get_push_config(&t.id, "p1").await.unwrap(), None);
    }
    assert_eq!(
        store
            .task_for_message(&agent, &ctx, &second_claim)
            .await
            .unwrap(),
        None
    );
    for ((t, message_id), (stored, events)) in
        kept.iter().zip(&claims[expired.len()..]).zip(&kept_before)
    {
        assert_eq!(&must_get(store, &t.id).await, stored, "{} changed", t.id);
        assert_eq!(&all_events(store, &t.id).await, events);
        assert_eq!(
            store
                .task_for_message(&agent, &ctx, message_id)
                .await
                .unwrap(),
            Some(t.id.clone())
        );
        assert_eq!(store.list_push_configs(&t.id).await.unwrap().len(), 1);
    }
    let listed = walk_pages(store, &query(&agent, 3), kept.len() as u64).await;
    let listed: BTreeSet<String> = listed.into_iter().collect();
    assert_eq!(listed, kept.iter().map(|t| t.id.clone()).collect());

    // A purged id and its message ids start from scratch.
    let mut again = expired[0].clone();
    again.status.timestamp = Timestamp::from_unix_millis(now_ms);
    let committed = store
        .write_task(write(
            &agent,
            &again,
            0,
            &[status_event(&again)],
            Some(&claims[0]),
        ))
        .await
        .expect("re-create a purged id");
    assert_eq!(
        committed,
        Committed {
            version: 1,
            first_seq: 1,
            pushes_queued: 0
        }
    );
    assert_eq!(all_events(store, &again.id).await.len(), 1);
    assert!(store.list_push_configs(&again.id).await.unwrap().is_empty());

    // Nothing of ours is due any more.
    store.purge(&policy, now).await.expect("purge again");
    for t in kept.iter().chain([&again]) {
        assert!(store.get_task(&t.id).await.unwrap().is_some(), "{}", t.id);
    }
}

/// [`Store::purge`] with a state retention deletes all values of contexts
/// that were not written since the cutoff, per agent; one recent write keeps
/// a whole context.
pub async fn purge_expires_idle_context_state(store: &Arc<dyn Store>) {
    let (x, y) = (fresh("agent-x"), fresh("agent-y"));
    let (idle, mixed, busy) = (fresh("idle"), fresh("mixed"), fresh("busy"));
    let set = |agent: &str, ctx: &str, key: &str| {
        let (agent, ctx, key) = (agent.to_string(), ctx.to_string(), key.to_string());
        async move {
            store
                .set_state(&agent, &ctx, &key, Some(key.as_bytes()))
                .await
                .unwrap_or_else(|e| panic!("set_state({agent}, {ctx}, {key}): {e}"))
        }
    };
    let get = |agent: &str, ctx: &str, key: &str| {
        let (agent, ctx, key) = (agent.to_string(), ctx.to_string(), key.to_string());
        async move { store.get_state(&agent, &ctx, &key).await.unwrap() }
    };

    set(&x, &idle, "a").await;
    set(&x, &idle, "b").await;
    set(&x, &mixed, "old").await;
    // A task of the idle context is not state and is never touched here.
    let t = task(&fresh("task"), &idle, TaskState::Completed, Some(at(0)));
    create(store, &x, &t).await;
    tokio::time::sleep(Duration::from_millis(25)).await;
    let mid = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(25)).await;
    set(&x, &mixed, "new").await;
    set(&x, &busy, "k").await;
    set(&y, &idle, "a").await;

    const DAY: Duration = Duration::from_secs(24 * 3600);
    let policy = Retention {
        terminal_tasks: None,
        context_state: Some(DAY),
    };
    // Cutoff = `mid`.
    let report = store.purge(&policy, mid + DAY).await.expect("purge");
    assert!(report.context_values >= 2, "{report:?}");
    assert_eq!(
        (
            report.tasks,
            report.events,
            report.message_claims,
            report.push_configs
        ),
        (0, 0, 0, 0),
        "{report:?}"
    );
    assert_eq!(get(&x, &idle, "a").await, None);
    assert_eq!(get(&x, &idle, "b").await, None);
    assert_eq!(get(&x, &mixed, "old").await, Some(b"old".to_vec()));
    assert_eq!(get(&x, &mixed, "new").await, Some(b"new".to_vec()));
    assert_eq!(get(&x, &busy, "k").await, Some(b"k".to_vec()));
    assert_eq!(get(&y, &idle, "a").await, Some(b"a".to_vec()));
    assert_eq!(must_get(store, &t.id).await.task, t);

    // A purged context starts afresh and counts as written now.
    set(&x, &idle, "a").await;
    store.purge(&policy, mid + DAY).await.expect("purge again");
    assert_eq!(get(&x, &idle, "a").await, Some(b"a".to_vec()));

    // A day later everything of ours has expired.
    let report = store
        .purge(&policy, SystemTime::now() + DAY + Duration::from_secs(1))
        .await
        .expect("purge later");
    assert!(report.context_values >= 5, "{report:?}");
    for (agent, ctx, key) in [
        (&x, &idle, "a"),
        (&x, &mixed, "old"),
        (&x, &mixed, "new"),
        (&x, &busy, "k"),
        (&y, &idle, "a"),
    ] {
        assert_eq!(get(agent, ctx, key).await, None, "{agent}/{ctx}/{key}");
    }
    assert!(store.get_task(&t.id).await.unwrap().is_some());
}
