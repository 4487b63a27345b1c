//! Conformance checks of task writes: creates, updates, versions, the
//! event log and message-id claims.

use std::sync::Arc;

use serde_json::json;

use super::helpers::*;
use crate::model::{Artifact, Message, Part, StreamResponse, TaskState, TaskStatus};
use crate::store::{Committed, Store, StoreError};

/// A created task reads back exactly, at version 1, with its agent and log.
pub async fn create_then_get(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let mut t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Submitted,
        Some(at(0)),
    );
    t.artifacts.push(Artifact {
        artifact_id: "a1".into(),
        name: Some("result".into()),
        parts: vec![Part::data(json!({"k": [1, 2, 3]}))],
        ..Default::default()
    });
    t.metadata = Some(
        json!({"origin": "conformance"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let events = [StreamResponse::Task(t.clone())];
    let message_id = fresh("msg");

    let committed = store
        .write_task(write(&agent, &t, 0, &events, Some(&message_id)))
        .await
        .expect("create");
    assert_eq!(
        committed,
        Committed {
            version: 1,
            first_seq: 1,
            pushes_queued: 0
        }
    );

    let stored = must_get(store, &t.id).await;
    assert_eq!(stored.task, t);
    assert_eq!(stored.version, 1);
    assert_eq!(stored.agent, agent);
    assert_eq!(stored.last_seq, 1);
    assert_eq!(all_events(store, &t.id).await, vec![(1, events[0].clone())]);
    assert_eq!(
        store
            .task_for_message(&agent, &t.context_id, &message_id)
            .await
            .unwrap(),
        Some(t.id.clone())
    );
    assert_eq!(store.get_task(&fresh("missing")).await.unwrap(), None);
}

/// Creating an existing task fails and leaves the original untouched.
pub async fn create_twice_is_already_exists(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Submitted,
        Some(at(0)),
    );
    create(store, &agent, &t).await;

    let other_agent = fresh("agent");
    let mut again = t.clone();
    again.status.state = TaskState::Working;
    let events = [status_event(&again), status_event(&again)];
    let message_id = fresh("msg");
    let err = store
        .write_task(write(&other_agent, &again, 0, &events, Some(&message_id)))
        .await
        .expect_err("second create must fail");
    assert_eq!(err, StoreError::AlreadyExists(t.id.clone()));

    let stored = must_get(store, &t.id).await;
    assert_eq!(stored.task, t);
    assert_eq!(stored.agent, agent);
    assert_eq!((stored.version, stored.last_seq), (1, 1));
    assert_eq!(all_events(store, &t.id).await.len(), 1);
    for a in [&agent, &other_agent] {
        assert_eq!(
            store
                .task_for_message(a, &t.context_id, &message_id)
                .await
                .unwrap(),
            None,
            "a failed create must not claim its message id"
        );
    }
}

/// Updates based on the current version succeed and bump it by one.
pub async fn update_with_current_version(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Submitted,
        Some(at(0)),
    );
    create(store, &agent, &t).await;

    let mut v2 = t.clone();
    v2.status = TaskStatus {
        state: TaskState::Working,
        message: Some(Message::agent(vec![Part::text("on it")])),
        timestamp: Some(at(10)),
    };
    let events = [status_event(&v2)];
    // The agent of an update is ignored: the task keeps its owner.
    let committed = store
        .write_task(write("someone-else", &v2, 1, &events, None))
        .await
        .expect("update from version 1");
    assert_eq!(
        committed,
        Committed {
            version: 2,
            first_seq: 2,
            pushes_queued: 0
        }
    );
    let stored = must_get(store, &t.id).await;
    assert_eq!(stored.task, v2);
    assert_eq!((stored.version, stored.last_seq), (2, 2));
    assert_eq!(stored.agent, agent);

    let mut v3 = v2.clone();
    v3.status.state = TaskState::Completed;
    v3.artifacts.push(Artifact {
        artifact_id: "a".into(),
        parts: vec![Part::text("done")],
        ..Default::default()
    });
    let committed = store
        .write_task(write(&agent, &v3, 2, &[], None))
        .await
        .expect("update from version 2");
    assert_eq!(
        committed,
        Committed {
            version: 3,
            first_seq: 3,
            pushes_queued: 0
        }
    );
    let stored = must_get(store, &t.id).await;
    assert_eq!(stored.task, v3);
    assert_eq!((stored.version, stored.last_seq), (3, 2));
}

/// Updating a task that does not exist is `NotFound`, and creates nothing.
pub async fn update_of_missing_task_is_not_found(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Working,
        Some(at(0)),
    );
    let events = [status_event(&t)];
    let message_id = fresh("msg");
    for version in [1, 2, u64::MAX] {
        let err = store
            .write_task(write(&agent, &t, version, &events, Some(&message_id)))
            .await
            .expect_err("update of a missing task");
        assert_eq!(err, StoreError::NotFound(t.id.clone()));
    }
    assert_eq!(store.get_task(&t.id).await.unwrap(), None);
    assert!(all_events(store, &t.id).await.is_empty());
    assert_eq!(
        store
            .task_for_message(&agent, &t.context_id, &message_id)
            .await
            .unwrap(),
        None
    );
}

/// A task without an id cannot be written.
pub async fn empty_task_id_is_rejected(store: &Arc<dyn Store>) {
    let t = task("", &fresh("ctx"), TaskState::Submitted, Some(at(0)));
    let result = store
        .write_task(write(&fresh("agent"), &t, 0, &[], None))
        .await;
    assert!(
        result.is_err(),
        "a task with an empty id was stored: {result:?}"
    );
    assert_eq!(store.get_task("").await.unwrap(), None);
}

/// A write based on an old (or future) version conflicts and writes nothing:
/// no snapshot, no events, no message claim.
pub async fn stale_version_conflicts_and_writes_nothing(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Submitted,
        Some(at(0)),
    );
    create(store, &agent, &t).await;
    let mut v2 = t.clone();
    v2.status.state = TaskState::Working;
    let first_claim = fresh("msg");
    store
        .write_task(write(
            &agent,
            &v2,
            1,
            &[status_event(&v2)],
            Some(&first_claim),
        ))
        .await
        .expect("update to version 2");
    let before = must_get(store, &t.id).await;
    let events_before = all_events(store, &t.id).await;

    let mut stale = t.clone();
    stale.status.state = TaskState::Canceled;
    stale.history.push(Message::user_text("lost"));
    let events = [status_event(&stale), text_event(&stale, "lost")];
    for expected in [1, 3, 7] {
        let claim = fresh("msg");
        let err = store
            .write_task(write(&agent, &stale, expected, &events, Some(&claim)))
            .await
            .expect_err("a stale write must conflict");
        assert_eq!(
            err,
            StoreError::Conflict {
                task_id: t.id.clone(),
                expected,
                actual: 2
            }
        );
        assert_eq!(
            store
                .task_for_message(&agent, &t.context_id, &claim)
                .await
                .unwrap(),
            None,
            "a conflicting write must not claim its message id"
        );
    }
    assert_eq!(must_get(store, &t.id).await, before);
    assert_eq!(all_events(store, &t.id).await, events_before);
    assert_eq!(
        store
            .task_for_message(&agent, &t.context_id, &first_claim)
            .await
            .unwrap(),
        Some(t.id.clone())
    );
}

/// Sequence numbers start at 1, have no gaps across writes, and
/// `events_after` returns exactly the later events, in order.
pub async fn events_are_gap_free_across_writes(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let mut t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Submitted,
        Some(at(0)),
    );
    let mut written = Vec::new();
    let mut version = 0;
    let mut next_seq = 1;
    for (round, count) in [2usize, 0, 3, 1, 0, 4].into_iter().enumerate() {
        t.status.timestamp = Some(at(round as i64));
        let events: Vec<StreamResponse> = (0..count)
            .map(|i| text_event(&t, &format!("round {round} event {i}")))
            .collect();
        let committed = store
            .write_task(write(&agent, &t, version, &events, None))
            .await
            .unwrap_or_else(|e| panic!("write round {round}: {e}"));
        assert_eq!(committed.version, version + 1);
        assert_eq!(committed.first_seq, next_seq, "first_seq of round {round}");
        version = committed.version;
        next_seq += count as u64;
        written.extend(events);
    }
    let total = written.len() as u64;
    assert_eq!(must_get(store, &t.id).await.last_seq, total);

    let log = all_events(store, &t.id).await;
    let expected: Vec<(u64, StreamResponse)> = (1..).zip(written.iter().cloned()).collect();
    assert_eq!(log, expected);
    for after in [1, 2, 5, total - 1] {
        let tail = store.events_after(&t.id, after).await.unwrap();
        assert_eq!(tail, expected[after as usize..].to_vec(), "after {after}");
    }
    for after in [total, total + 1, u64::MAX] {
        assert!(store.events_after(&t.id, after).await.unwrap().is_empty());
    }
    assert!(
        store
            .events_after(&fresh("missing"), 0)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A message id already claimed in a context cannot be claimed again there;
/// the failed write changes nothing.
pub async fn duplicate_message_claim_is_rejected(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let ctx = fresh("ctx");
    let m1 = fresh("msg");
    let a = task(&fresh("a"), &ctx, TaskState::Submitted, Some(at(0)));
    store
        .write_task(write(&agent, &a, 0, &[status_event(&a)], Some(&m1)))
        .await
        .expect("create a claiming m1");
    let dup = |task_id: &str| StoreError::DuplicateMessage {
        message_id: m1.clone(),
        task_id: task_id.to_string(),
    };

    // A new task resending m1 is not created.
    let b = task(&fresh("b"), &ctx, TaskState::Submitted, Some(at(0)));
    let err = store
        .write_task(write(&agent, &b, 0, &[status_event(&b)], Some(&m1)))
        .await
        .expect_err("create b claiming m1");
    assert_eq!(err, dup(&a.id));
    assert_eq!(store.get_task(&b.id).await.unwrap(), None);
    assert!(all_events(store, &b.id).await.is_empty());

    // An update of another task claiming m1 writes nothing.
    let c = task(&fresh("c"), &ctx, TaskState::Submitted, Some(at(0)));
    create(store, &agent, &c).await;
    let c_before = must_get(store, &c.id).await;
    let mut c2 = c.clone();
    c2.status.state = TaskState::Working;
    let err = store
        .write_task(write(&agent, &c2, 1, &[status_event(&c2)], Some(&m1)))
        .await
        .expect_err("update c claiming m1");
    assert_eq!(err, dup(&a.id));
    assert_eq!(must_get(store, &c.id).await, c_before);

    // Resending m1 to the task that holds it is a duplicate as well.
    let a_before = must_get(store, &a.id).await;
    let mut a2 = a.clone();
    a2.status.state = TaskState::Working;
    let err = store
        .write_task(write(&agent, &a2, 1, &[status_event(&a2)], Some(&m1)))
        .await
        .expect_err("update a claiming m1 again");
    assert_eq!(err, dup(&a.id));
    assert_eq!(must_get(store, &a.id).await, a_before);

    // A fresh id, or none, is fine.
    let m2 = fresh("msg");
    store
        .write_task(write(&agent, &a2, 1, &[status_event(&a2)], Some(&m2)))
        .await
        .expect("update a claiming m2");
    store
        .write_task(write(&agent, &a2, 2, &[], None))
        .await
        .expect("update a without a claim");
    for (m, holder) in [(&m1, &a.id), (&m2, &a.id)] {
        assert_eq!(
            store.task_for_message(&agent, &ctx, m).await.unwrap(),
            Some(holder.clone())
        );
    }
    assert_eq!(
        store
            .task_for_message(&agent, &ctx, &fresh("msg"))
            .await
            .unwrap(),
        None
    );
}

/// The same message id in another context, or for another agent, is a
/// different message. Claims use the owner agent and the snapshot's context.
pub async fn message_claims_are_scoped_to_agent_and_context(store: &Arc<dyn Store>) {
    let (x, y) = (fresh("agent-x"), fresh("agent-y"));
    let (c1, c2) = (fresh("ctx1"), fresh("ctx2"));
    let m = fresh("msg");
    let mut owners = Vec::new();
    for (agent, ctx) in [(&x, &c1), (&x, &c2), (&y, &c1)] {
        let t = task(&fresh("task"), ctx, TaskState::Submitted, Some(at(0)));
        store
            .write_task(write(agent, &t, 0, &[], Some(&m)))
            .await
            .unwrap_or_else(|e| panic!("claim in ({agent}, {ctx}): {e}"));
        owners.push((agent, ctx, t));
    }
    for (agent, ctx, t) in &owners {
        assert_eq!(
            store.task_for_message(agent, ctx, &m).await.unwrap(),
            Some(t.id.clone())
        );
    }
    assert_eq!(store.task_for_message(&y, &c2, &m).await.unwrap(), None);

    // An update claims for the owner, whatever `agent` the write names.
    let (_, _, t) = &owners[0];
    let m9 = fresh("msg");
    store
        .write_task(write(&y, t, 1, &[], Some(&m9)))
        .await
        .expect("update with a claim");
    assert_eq!(
        store.task_for_message(&x, &c1, &m9).await.unwrap(),
        Some(t.id.clone())
    );
    assert_eq!(store.task_for_message(&y, &c1, &m9).await.unwrap(), None);
    assert_eq!(must_get(store, &t.id).await.agent, *x);
}
