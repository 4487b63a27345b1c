//! The conformance suite every [`Store`] implementation must pass.
//!
//! Each check is a `pub async fn` taking the store under test; it panics
//! (like `assert!`) when the store misbehaves. Run them as separate tests
//! with [`store_conformance_tests!`](crate::store_conformance_tests), or all
//! in a row with [`run_all`]:
//!
//! ```ignore
//! #[cfg(test)]
//! mod tests {
//!     use crate::store::conformance::Fixture;
//!     crate::store_conformance_tests!(Fixture::new(MyStore::new()));
//! }
//! ```
//!
//! The fixture expression is evaluated once per test inside an `async fn`,
//! so it may `.await` (e.g. to connect to a database server). A store that
//! needs an outside service can use `store_conformance_tests!(optional EXPR)`
//! where `EXPR` is an `Option<Fixture>`: on `None` each test returns at once
//! (the fixture should print why it skipped). Checks never
//! assume an empty store: every agent, context and task id they use is
//! fresh, so the whole suite can run against one shared database. The
//! `purge_*` checks delete expired data of the *whole* store, so they must
//! not run at the same time as other checks on a shared store (in
//! [`run_all`] everything runs in a row).
//!
//! Beyond what the [`Store`] docs say, the suite pins down these rules, which
//! every implementation must follow:
//! - a task id must not be empty; writing one fails;
//! - a message id claimed once in `(agent, context)` can never be claimed
//!   again there, not even by the same task: a resent follow-up is a
//!   duplicate too, reported with the holder's task id;
//! - on an update the claim is made for the agent that owns the task
//!   (`TaskWrite::agent` is ignored) and the context of the new snapshot;
//! - [`Store::events_after`] of an unknown task is an empty list;
//! - ListTasks orders by status time (milliseconds, a task without one counts
//!   as 0) descending, then by task id descending, comparing ids byte-wise
//!   (SQL stores need a binary collation); `page_size` is clamped to
//!   `1..=100`; an empty page token means the first page; a token that
//!   [`decode_page_token`](super::decode_page_token) rejects fails with
//!   [`StoreError::Other`] whose message mentions "page token";
//! - [`Store::tasks_in_states`] returns ids sorted ascending;
//! - a context value may be empty (`Some(vec![])`), which is not a deletion;
//! - a push config may only be stored for an existing task (otherwise
//!   [`StoreError::NotFound`]); both its ids must be non-empty (otherwise
//!   [`StoreError::Other`]); replacing a config keeps its place in the list;
//! - [`Store::purge`] compares status times and context write times with
//!   the cutoff strictly (older than the cutoff expires); a context's write
//!   time is the store's clock (`SystemTime::now()`) when a value was set;
//!   a purged task's id and message ids can be used again.

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::{
    Committed, PurgeReport, Retention, Store, StoreError, StoredTask, TaskQuery, TaskWrite,
    encode_page_token, unix_millis,
};
use crate::model::{
    Artifact, AuthenticationInfo, Bytes, Message, Part, PartContent, StreamResponse, Task,
    TaskArtifactUpdateEvent, TaskPushNotificationConfig, TaskState, TaskStatus,
    TaskStatusUpdateEvent, Timestamp,
};

/// A store under test plus whatever must outlive it (a temporary directory,
/// a database handle, …).
pub struct Fixture {
    // Declared before `_guard` so the store is dropped first.
    store: Arc<dyn Store>,
    _guard: Box<dyn Any + Send>,
}

impl Fixture {
    /// A fixture that is just the store.
    pub fn new(store: impl Store) -> Self {
        Self::with_guard(store, ())
    }

    /// A fixture that keeps `guard` alive until after the store is dropped.
    pub fn with_guard(store: impl Store, guard: impl Any + Send) -> Self {
        Fixture {
            store: Arc::new(store),
            _guard: Box::new(guard),
        }
    }

    /// The store under test.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// Expands to one `#[tokio::test]` per conformance check, each running on a
/// fresh fixture built by the given expression (of type [`Fixture`]).
///
/// With `optional EXPR`, the expression is an `Option<Fixture>` and `None`
/// makes every test return without checking anything (for stores that need
/// a server the environment may not have).
#[macro_export]
macro_rules! store_conformance_tests {
    // The single list of checks; `run_all` and the tests both expand it.
    (@each $mode:ident $args:tt) => {
        $crate::store_conformance_tests!(@ $mode $args
            create_then_get
            create_twice_is_already_exists
            update_with_current_version
            update_of_missing_task_is_not_found
            empty_task_id_is_rejected
            stale_version_conflicts_and_writes_nothing
            events_are_gap_free_across_writes
            duplicate_message_claim_is_rejected
            message_claims_are_scoped_to_agent_and_context
            list_orders_and_filters
            list_paginates_through_all_pages
            list_page_size_is_clamped
            list_rejects_invalid_page_token
            tasks_in_states_filters_by_agent_and_state
            context_state_round_trips_and_is_isolated
            push_configs_round_trip
            concurrent_conflicting_updates_lose_nothing
            large_payloads_round_trip
            purge_expires_terminal_tasks_only
            purge_expires_idle_context_state
        );
    };
    (@tests ($make:expr) $($name:ident)*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture: $crate::store::conformance::Fixture = $make;
                $crate::store::conformance::$name(fixture.store()).await;
            }
        )*
    };
    (@optional_tests ($make:expr) $($name:ident)*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture: ::std::option::Option<$crate::store::conformance::Fixture> = $make;
                let ::std::option::Option::Some(fixture) = fixture else {
                    return;
                };
                $crate::store::conformance::$name(fixture.store()).await;
            }
        )*
    };
    (@run_all ($store:expr) $($name:ident)*) => {
        $( $crate::store::conformance::$name($store).await; )*
    };
    (optional $make:expr) => {
        $crate::store_conformance_tests!(@each optional_tests ($make));
    };
    ($make:expr) => {
        $crate::store_conformance_tests!(@each tests ($make));
    };
}

/// Runs every check, one after the other, against one store.
pub async fn run_all(store: &Arc<dyn Store>) {
    crate::store_conformance_tests!(@each run_all (store));
}

// ---------------------------------------------------------------------------
// Helpers

/// A fresh name, so checks never collide with other data in the store.
fn fresh(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A fixed base time (2023-11-14), plus `offset` milliseconds.
fn at(offset: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000 + offset).expect("a valid timestamp")
}

fn task(id: &str, context_id: &str, state: TaskState, status_time: Option<Timestamp>) -> Task {
    Task {
        id: id.to_string(),
        context_id: context_id.to_string(),
        status: TaskStatus {
            state,
            message: None,
            timestamp: status_time,
        },
        history: vec![Message {
            context_id: Some(context_id.to_string()),
            task_id: Some(id.to_string()),
            ..Message::user_text("hello")
        }],
        ..Default::default()
    }
}

fn status_event(task: &Task) -> StreamResponse {
    StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
        task_id: task.id.clone(),
        context_id: task.context_id.clone(),
        status: task.status.clone(),
        metadata: None,
    })
}

fn text_event(task: &Task, text: &str) -> StreamResponse {
    StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
        task_id: task.id.clone(),
        context_id: task.context_id.clone(),
        artifact: Artifact {
            artifact_id: "out".into(),
            parts: vec![Part::text(text)],
            ..Default::default()
        },
        append: true,
        last_chunk: false,
        metadata: None,
    })
}

fn write<'a>(
    agent: &'a str,
    task: &'a Task,
    expected_version: u64,
    events: &'a [StreamResponse],
    claim: Option<&'a str>,
) -> TaskWrite<'a> {
    TaskWrite {
        agent,
        task: Arc::new(task.clone()),
        expected_version,
        events: events.iter().cloned().map(Arc::new).collect(),
        claim_message_id: claim,
        context_is_new: false,
    }
}

async fn create(store: &Arc<dyn Store>, agent: &str, task: &Task) -> Committed {
    let events = [status_event(task)];
    store
        .write_task(write(agent, task, 0, &events, None))
        .await
        .unwrap_or_else(|e| panic!("creating task {}: {e}", task.id))
}

async fn must_get(store: &Arc<dyn Store>, task_id: &str) -> StoredTask {
    store
        .get_task(task_id)
        .await
        .unwrap_or_else(|e| panic!("get_task({task_id}): {e}"))
        .unwrap_or_else(|| panic!("task {task_id} should exist"))
}

async fn all_events(store: &Arc<dyn Store>, task_id: &str) -> Vec<(u64, StreamResponse)> {
    store
        .events_after(task_id, 0)
        .await
        .unwrap_or_else(|e| panic!("events_after({task_id}, 0): {e}"))
}

fn query(agent: &str, page_size: usize) -> TaskQuery {
    TaskQuery {
        agent: agent.to_string(),
        page_size,
        ..Default::default()
    }
}

/// Ids of one page, plus its token and total.
async fn page_ids(store: &Arc<dyn Store>, q: &TaskQuery) -> (Vec<String>, String, u64) {
    let page = store
        .list_tasks(q)
        .await
        .unwrap_or_else(|e| panic!("list_tasks({q:?}): {e}"));
    let ids = page.tasks.into_iter().map(|t| t.id).collect();
    (ids, page.next_page_token, page.total_size)
}

/// Walks every page of `q`, checking the invariants of each, and returns
/// all ids in order.
async fn walk_pages(store: &Arc<dyn Store>, q: &TaskQuery, expected_total: u64) -> Vec<String> {
    let mut q = q.clone();
    q.page_token = None;
    let mut all = Vec::new();
    for _ in 0..=expected_total {
        let (ids, token, total) = page_ids(store, &q).await;
        assert_eq!(total, expected_total, "total_size of every page of {q:?}");
        assert!(ids.len() <= q.page_size, "page longer than page_size");
        all.extend(ids.iter().cloned());
        if token.is_empty() {
            assert!(
                all.len() as u64 == expected_total,
                "last page came after {} of {expected_total} tasks",
                all.len()
            );
            return all;
        }
        assert_eq!(ids.len(), q.page_size, "a non-last page must be full");
        q.page_token = Some(token);
    }
    panic!("pagination of {q:?} did not end");
}

fn ids(list: &[&Task]) -> Vec<String> {
    list.iter().map(|t| t.id.clone()).collect()
}

fn push_config(task_id: &str, id: &str, url: &str) -> TaskPushNotificationConfig {
    TaskPushNotificationConfig {
        tenant: None,
        id: Some(id.to_string()),
        task_id: Some(task_id.to_string()),
        url: url.to_string(),
        token: Some(format!("token-{id}")),
        authentication: Some(AuthenticationInfo {
            scheme: "Bearer".into(),
            credentials: Some("secret".into()),
        }),
    }
}

// ---------------------------------------------------------------------------
// Checks

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
            first_seq: 1
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
            first_seq: 2
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
            first_seq: 3
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

/// ListTasks: newest status first, ties by id descending, tasks without a
/// timestamp last; filters by context, state and (inclusive) status time;
/// only the agent's own tasks; the latest snapshot counts.
pub async fn list_orders_and_filters(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let (c1, c2) = (fresh("ctx1"), fresh("ctx2"));
    let p = fresh("t");
    let t1 = task(&format!("{p}-1"), &c1, TaskState::Working, Some(at(100)));
    let t2 = task(&format!("{p}-2"), &c1, TaskState::Completed, Some(at(300)));
    let t3 = task(&format!("{p}-3"), &c2, TaskState::Working, Some(at(300)));
    let t4 = task(&format!("{p}-4"), &c2, TaskState::Submitted, Some(at(200)));
    let t5 = task(&format!("{p}-5"), &c1, TaskState::Working, None);
    for t in [&t1, &t2, &t3, &t4, &t5] {
        create(store, &agent, t).await;
    }
    // Another agent's task in the same context never shows up.
    let other = task(&fresh("other"), &c1, TaskState::Working, Some(at(400)));
    create(store, &fresh("agent"), &other).await;

    let check = |q: TaskQuery, want: Vec<String>| async move {
        let page = store.list_tasks(&q).await.unwrap();
        let got: Vec<String> = page.tasks.iter().map(|t| t.id.clone()).collect();
        assert_eq!(got, want, "ids of {q:?}");
        assert_eq!(page.total_size, want.len() as u64, "total_size of {q:?}");
        assert_eq!(page.next_page_token, "", "token of a single page");
        page
    };

    let page = check(query(&agent, 100), ids(&[&t3, &t2, &t4, &t1, &t5])).await;
    assert_eq!(page.tasks[0], t3, "list returns full snapshots");

    let by_ctx = |c: &str| TaskQuery {
        context_id: Some(c.to_string()),
        ..query(&agent, 100)
    };
    check(by_ctx(&c1), ids(&[&t2, &t1, &t5])).await;
    check(by_ctx(&c2), ids(&[&t3, &t4])).await;
    check(by_ctx(&fresh("ctx")), vec![]).await;

    let by_state = |s: TaskState| TaskQuery {
        state: Some(s),
        ..query(&agent, 100)
    };
    check(by_state(TaskState::Working), ids(&[&t3, &t1, &t5])).await;
    check(by_state(TaskState::Submitted), ids(&[&t4])).await;
    check(by_state(TaskState::Failed), vec![]).await;
    check(
        TaskQuery {
            context_id: Some(c1.clone()),
            ..by_state(TaskState::Working)
        },
        ids(&[&t1, &t5]),
    )
    .await;

    let after = |ms: i64| TaskQuery {
        status_after: Some(at(ms)),
        ..query(&agent, 100)
    };
    check(after(200), ids(&[&t3, &t2, &t4])).await;
    check(after(300), ids(&[&t3, &t2])).await;
    check(after(301), vec![]).await;
    check(
        TaskQuery {
            state: Some(TaskState::Working),
            ..after(100)
        },
        ids(&[&t3, &t1]),
    )
    .await;

    check(query(&fresh("agent"), 100), vec![]).await;

    // Moving t1's status time makes it the newest.
    let mut t1b = t1.clone();
    t1b.status = TaskStatus {
        state: TaskState::Completed,
        message: None,
        timestamp: Some(at(500)),
    };
    store
        .write_task(write(&agent, &t1b, 1, &[status_event(&t1b)], None))
        .await
        .expect("update t1");
    let page = check(query(&agent, 100), ids(&[&t1b, &t3, &t2, &t4, &t5])).await;
    assert_eq!(page.tasks[0], t1b);
    check(by_state(TaskState::Working), ids(&[&t3, &t5])).await;
    check(by_state(TaskState::Completed), ids(&[&t1b, &t2])).await;
}

/// Paging through every page, at many page sizes and with filters, yields
/// each matching task exactly once, in order.
pub async fn list_paginates_through_all_pages(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let ctx = fresh("ctx");
    let p = fresh("t");
    // Seven tasks; pairs share a status time so the cursor must use ids.
    let mut tasks = Vec::new();
    for i in 0..7i64 {
        let state = if i % 2 == 0 {
            TaskState::Working
        } else {
            TaskState::Completed
        };
        let t = task(&format!("{p}-{i}"), &ctx, state, Some(at(i / 2 * 10)));
        create(store, &agent, &t).await;
        tasks.push(t);
    }
    let mut order: Vec<&Task> = tasks.iter().collect();
    order.sort_by(|a, b| (b.status.timestamp, &b.id).cmp(&(a.status.timestamp, &a.id)));
    let all = ids(&order);

    for size in [1, 2, 3, 6, 7, 8, 100] {
        let got = walk_pages(store, &query(&agent, size), 7).await;
        assert_eq!(got, all, "page size {size}");
    }

    let working: Vec<String> = order
        .iter()
        .filter(|t| t.status.state == TaskState::Working)
        .map(|t| t.id.clone())
        .collect();
    let q = TaskQuery {
        state: Some(TaskState::Working),
        context_id: Some(ctx.clone()),
        ..query(&agent, 2)
    };
    assert_eq!(walk_pages(store, &q, 4).await, working);

    // An empty token is the first page.
    let q = TaskQuery {
        page_token: Some(String::new()),
        ..query(&agent, 3)
    };
    let (first, token, _) = page_ids(store, &q).await;
    assert_eq!(first, all[..3].to_vec());
    assert!(!token.is_empty());

    // A valid cursor need not name an existing task.
    let last = order[6];
    let q = TaskQuery {
        page_token: Some(encode_page_token(
            last.status.timestamp.unwrap().unix_millis(),
            "",
        )),
        ..query(&agent, 100)
    };
    let (ids_after, token, total) = page_ids(store, &q).await;
    assert!(ids_after.is_empty(), "nothing sorts after the smallest id");
    assert_eq!((token.as_str(), total), ("", 7));
    let q = TaskQuery {
        page_token: Some(encode_page_token(i64::MAX, "")),
        ..query(&agent, 100)
    };
    assert_eq!(page_ids(store, &q).await.0, all);
}

/// A page size of 0 acts as 1 and one above 100 as 100.
pub async fn list_page_size_is_clamped(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let ctx = fresh("ctx");
    for i in 0..101 {
        let t = task(&fresh("t"), &ctx, TaskState::Completed, Some(at(i)));
        let committed = store
            .write_task(write(&agent, &t, 0, &[], None))
            .await
            .expect("create");
        assert_eq!(committed.version, 1);
    }
    let (ids, token, total) = page_ids(store, &query(&agent, 0)).await;
    assert_eq!((ids.len(), total), (1, 101));
    assert!(!token.is_empty());
    let (ids, token, total) = page_ids(store, &query(&agent, 1000)).await;
    assert_eq!((ids.len(), total), (100, 101));
    assert!(!token.is_empty());
    let (ids, token, _) = page_ids(store, &query(&agent, 100)).await;
    assert_eq!(ids.len(), 100);
    let rest = TaskQuery {
        page_token: Some(token),
        ..query(&agent, 100)
    };
    let (ids, token, _) = page_ids(store, &rest).await;
    assert_eq!((ids.len(), token.as_str()), (1, ""));
}

/// A token the store did not issue is an error naming the token.
pub async fn list_rejects_invalid_page_token(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Working,
        Some(at(0)),
    );
    create(store, &agent, &t).await;
    use base64::Engine as _;
    let no_colon = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("12345");
    let bad_number = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("x:task");
    for token in [
        "not a token!",
        "%%%",
        no_colon.as_str(),
        bad_number.as_str(),
    ] {
        let q = TaskQuery {
            page_token: Some(token.to_string()),
            ..query(&agent, 10)
        };
        match store.list_tasks(&q).await {
            Err(StoreError::Other(message)) => assert!(
                message.contains("page token"),
                "the error for token {token:?} should mention the page token: {message}"
            ),
            other => panic!("token {token:?} should be rejected, got {other:?}"),
        }
    }
}

/// `tasks_in_states` finds exactly the tasks currently in the given states.
pub async fn tasks_in_states_filters_by_agent_and_state(store: &Arc<dyn Store>) {
    let (a, b) = (fresh("agent-a"), fresh("agent-b"));
    let ctx = fresh("ctx");
    let mk = |state| task(&fresh("task"), &ctx, state, Some(at(0)));
    let a1 = mk(TaskState::Working);
    let a2 = mk(TaskState::Submitted);
    let a3 = mk(TaskState::Completed);
    let a4 = mk(TaskState::InputRequired);
    let b1 = mk(TaskState::Working);
    let b2 = mk(TaskState::Completed);
    for t in [&a1, &a2, &a3, &a4] {
        create(store, &a, t).await;
    }
    for t in [&b1, &b2] {
        create(store, &b, t).await;
    }
    let active = [TaskState::Submitted, TaskState::Working];
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    let got = store.tasks_in_states(Some(&a), &active).await.unwrap();
    assert_eq!(got, sorted(ids(&[&a1, &a2])));
    let got = store
        .tasks_in_states(Some(&b), &[TaskState::Working])
        .await
        .unwrap();
    assert_eq!(got, ids(&[&b1]));
    assert!(
        store
            .tasks_in_states(Some(&a), &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .tasks_in_states(Some(&fresh("agent")), &active)
            .await
            .unwrap()
            .is_empty()
    );

    let everyone: BTreeSet<String> = store
        .tasks_in_states(None, &active)
        .await
        .unwrap()
        .into_iter()
        .collect();
    for t in [&a1, &a2, &b1] {
        assert!(everyone.contains(&t.id), "{} is active", t.id);
    }
    for t in [&a3, &a4, &b2] {
        assert!(!everyone.contains(&t.id), "{} is not active", t.id);
    }

    let mut done = a1.clone();
    done.status.state = TaskState::Completed;
    store
        .write_task(write(&a, &done, 1, &[status_event(&done)], None))
        .await
        .expect("complete a1");
    let got = store
        .tasks_in_states(Some(&a), &[TaskState::Working])
        .await
        .unwrap();
    assert!(got.is_empty(), "a1 left the working state: {got:?}");
    let got = store
        .tasks_in_states(Some(&a), &[TaskState::Completed, TaskState::InputRequired])
        .await
        .unwrap();
    assert_eq!(got, sorted(ids(&[&a1, &a3, &a4])));
}

/// Context values round-trip, can be overwritten and deleted, and are
/// isolated per agent, context and key.
pub async fn context_state_round_trips_and_is_isolated(store: &Arc<dyn Store>) {
    let (x, y) = (fresh("agent-x"), fresh("agent-y"));
    let (c1, c2) = (fresh("ctx1"), fresh("ctx2"));
    let get = |agent: &str, ctx: &str, key: &str| {
        let (agent, ctx, key) = (agent.to_string(), ctx.to_string(), key.to_string());
        async move { store.get_state(&agent, &ctx, &key).await.unwrap() }
    };

    assert_eq!(get(&x, &c1, "k").await, None);
    store.set_state(&x, &c1, "k", Some(b"v1")).await.unwrap();
    assert_eq!(get(&x, &c1, "k").await, Some(b"v1".to_vec()));
    assert_eq!(get(&x, &c2, "k").await, None);
    assert_eq!(get(&y, &c1, "k").await, None);
    assert_eq!(get(&x, &c1, "k2").await, None);

    store.set_state(&y, &c1, "k", Some(b"other")).await.unwrap();
    store
        .set_state(&x, &c2, "k", Some(b"second"))
        .await
        .unwrap();
    store.set_state(&x, &c1, "k", Some(b"v2")).await.unwrap();
    assert_eq!(get(&x, &c1, "k").await, Some(b"v2".to_vec()));
    assert_eq!(get(&y, &c1, "k").await, Some(b"other".to_vec()));
    assert_eq!(get(&x, &c2, "k").await, Some(b"second".to_vec()));

    let binary = [0u8, 255, 0, 1, 0xfe, b'\n', 0];
    store
        .set_state(&x, &c1, "bin", Some(&binary))
        .await
        .unwrap();
    assert_eq!(get(&x, &c1, "bin").await, Some(binary.to_vec()));
    store.set_state(&x, &c1, "empty", Some(&[])).await.unwrap();
    assert_eq!(get(&x, &c1, "empty").await, Some(Vec::new()));

    store.set_state(&x, &c1, "k", None).await.unwrap();
    assert_eq!(get(&x, &c1, "k").await, None);
    store.set_state(&x, &c1, "k", None).await.unwrap();
    store
        .set_state(&fresh("agent"), &c1, "never-set", None)
        .await
        .unwrap();
    assert_eq!(get(&y, &c1, "k").await, Some(b"other".to_vec()));
    assert_eq!(get(&x, &c2, "k").await, Some(b"second".to_vec()));
    assert_eq!(get(&x, &c1, "bin").await, Some(binary.to_vec()));
}

/// Push configs: put, get, list (oldest first), replace in place, delete.
pub async fn push_configs_round_trip(store: &Arc<dyn Store>) {
    let agent = fresh("agent");
    let t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Working,
        Some(at(0)),
    );
    let t2 = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Working,
        Some(at(0)),
    );
    create(store, &agent, &t).await;
    create(store, &agent, &t2).await;

    let c1 = push_config(&t.id, "c1", "https://hooks.example/1");
    let c2 = push_config(&t.id, "c2", "https://hooks.example/2");
    let c3 = TaskPushNotificationConfig {
        token: None,
        authentication: None,
        ..push_config(&t.id, "c3", "https://hooks.example/3")
    };
    for c in [&c1, &c2, &c3] {
        store.put_push_config(c).await.expect("put");
    }
    assert_eq!(
        store.get_push_config(&t.id, "c2").await.unwrap(),
        Some(c2.clone())
    );
    assert_eq!(
        store.list_push_configs(&t.id).await.unwrap(),
        vec![c1.clone(), c2.clone(), c3.clone()]
    );

    let c1b = push_config(&t.id, "c1", "https://hooks.example/replaced");
    store.put_push_config(&c1b).await.expect("replace");
    assert_eq!(
        store.get_push_config(&t.id, "c1").await.unwrap(),
        Some(c1b.clone())
    );
    assert_eq!(
        store.list_push_configs(&t.id).await.unwrap(),
        vec![c1b.clone(), c2.clone(), c3.clone()],
        "a replaced config keeps its place"
    );

    assert!(store.delete_push_config(&t.id, "c2").await.unwrap());
    assert!(!store.delete_push_config(&t.id, "c2").await.unwrap());
    assert_eq!(store.get_push_config(&t.id, "c2").await.unwrap(), None);
    store.put_push_config(&c2).await.expect("put c2 again");
    assert_eq!(
        store.list_push_configs(&t.id).await.unwrap(),
        vec![c1b.clone(), c3.clone(), c2.clone()]
    );

    // Configs belong to one task.
    assert!(store.list_push_configs(&t2.id).await.unwrap().is_empty());
    assert_eq!(store.get_push_config(&t2.id, "c1").await.unwrap(), None);
    assert!(!store.delete_push_config(&t2.id, "c1").await.unwrap());
    let missing = fresh("missing");
    assert!(!store.delete_push_config(&missing, "c1").await.unwrap());
    assert!(store.list_push_configs(&missing).await.unwrap().is_empty());

    let err = store
        .put_push_config(&push_config(&missing, "c1", "https://hooks.example/x"))
        .await
        .expect_err("a config of a missing task");
    assert_eq!(err, StoreError::NotFound(missing.clone()));
    for bad in [
        TaskPushNotificationConfig {
            id: None,
            ..c1.clone()
        },
        TaskPushNotificationConfig {
            id: Some(String::new()),
            ..c1.clone()
        },
        TaskPushNotificationConfig {
            task_id: None,
            ..c1.clone()
        },
    ] {
        let result = store.put_push_config(&bad).await;
        assert!(
            matches!(result, Err(StoreError::Other(_))),
            "{bad:?} must be rejected, got {result:?}"
        );
    }
    assert_eq!(store.list_push_configs(&t.id).await.unwrap().len(), 3);
}

/// Many tokio tasks racing: exactly one write per version wins, and a
/// read-modify-write loop that retries on conflict loses no update.
pub async fn concurrent_conflicting_updates_lose_nothing(store: &Arc<dyn Store>) {
    const RACERS: usize = 16;
    const WORKERS: u64 = 8;
    const INCREMENTS: u64 = 10;

    let agent = fresh("agent");
    let t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Working,
        Some(at(0)),
    );
    create(store, &agent, &t).await;

    // Round 1: everyone writes on top of version 1 at once.
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut racers = Vec::new();
    for i in 0..RACERS {
        let (store, barrier, agent) = (store.clone(), barrier.clone(), agent.clone());
        let mut mine = t.clone();
        mine.metadata = Some(json!({"writer": i}).as_object().unwrap().clone());
        racers.push(tokio::spawn(async move {
            let events = [text_event(&mine, &format!("writer {i}"))];
            barrier.wait().await;
            let result = store
                .write_task(write(&agent, &mine, 1, &events, None))
                .await;
            (i, result)
        }));
    }
    let mut winners = Vec::new();
    for racer in racers {
        let (i, result) = racer.await.expect("racer panicked");
        match result {
            Ok(committed) => {
                assert_eq!(
                    committed,
                    Committed {
                        version: 2,
                        first_seq: 2
                    }
                );
                winners.push(i);
            }
            Err(e) => assert_eq!(
                e,
                StoreError::Conflict {
                    task_id: t.id.clone(),
                    expected: 1,
                    actual: 2
                }
            ),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one racer must win: {winners:?}");
    let winner = winners[0];
    let stored = must_get(store, &t.id).await;
    assert_eq!((stored.version, stored.last_seq), (2, 2));
    assert_eq!(stored.task.metadata.unwrap()["writer"], json!(winner));
    let log = all_events(store, &t.id).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].1, text_event(&t, &format!("writer {winner}")));

    // Round 2: increment a counter with optimistic retries.
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (store, agent, id) = (store.clone(), agent.clone(), t.id.clone());
        workers.push(tokio::spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..INCREMENTS {
                loop {
                    let current = store.get_task(&id).await.unwrap().unwrap();
                    let mut next = current.task.clone();
                    let count = next
                        .metadata
                        .as_ref()
                        .and_then(|m| m.get("count"))
                        .and_then(|v| v.as_u64())
                        .unwrap_or(0)
                        + 1;
                    next.metadata = Some(json!({"count": count}).as_object().unwrap().clone());
                    let events = [text_event(&next, &format!("count {count} by {w}"))];
                    // Let the other workers read the same version.
                    tokio::task::yield_now().await;
                    match store
                        .write_task(write(&agent, &next, current.version, &events, None))
                        .await
                    {
                        Ok(c) => {
                            assert_eq!(c.version, current.version + 1);
                            assert_eq!(c.first_seq, current.last_seq + 1);
                            break;
                        }
                        Err(StoreError::Conflict { .. }) => conflicts += 1,
                        Err(e) => panic!("worker {w}: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    for worker in workers {
        worker.await.expect("worker panicked");
    }
    let total = WORKERS * INCREMENTS;
    let stored = must_get(store, &t.id).await;
    assert_eq!(stored.task.metadata.unwrap()["count"], json!(total));
    assert_eq!(stored.version, 2 + total);
    assert_eq!(stored.last_seq, 2 + total);
    let log = all_events(store, &t.id).await;
    let seqs: Vec<u64> = log.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=2 + total).collect::<Vec<_>>());
    for (count, (_, event)) in (1..=total).zip(&log[2..]) {
        let StreamResponse::ArtifactUpdate(e) = event else {
            panic!("unexpected event {event:?}");
        };
        let text = e.artifact.parts[0].as_text().unwrap();
        assert!(
            text.starts_with(&format!("count {count} by ")),
            "event {count} is {text:?}"
        );
    }
}

/// A 1 MiB artifact survives the snapshot, the event log and context state.
pub async fn large_payloads_round_trip(store: &Arc<dyn Store>) {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let blob: Vec<u8> = (0..1 << 20)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let agent = fresh("agent");
    let mut t = task(
        &fresh("task"),
        &fresh("ctx"),
        TaskState::Working,
        Some(at(0)),
    );
    create(store, &agent, &t).await;

    let artifact = Artifact {
        artifact_id: "big".into(),
        parts: vec![
            Part::from_content(PartContent::Raw(Bytes(blob.clone()))),
            Part::text("x".repeat(1 << 20)),
        ],
        ..Default::default()
    };
    t.artifacts.push(artifact.clone());
    t.status.state = TaskState::Completed;
    let events = [
        StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
            task_id: t.id.clone(),
            context_id: t.context_id.clone(),
            artifact,
            append: false,
            last_chunk: true,
            metadata: None,
        }),
        status_event(&t),
    ];
    store
        .write_task(write(&agent, &t, 1, &events, None))
        .await
        .expect("write a large artifact");
    let stored = must_get(store, &t.id).await;
    assert!(stored.task == t, "the large snapshot changed in the store");
    let log = store.events_after(&t.id, 1).await.unwrap();
    assert!(
        log == vec![(2, events[0].clone()), (3, events[1].clone())],
        "the large events changed in the store"
    );

    store
        .set_state(&agent, &t.context_id, "blob", Some(&blob))
        .await
        .unwrap();
    let back = store
        .get_state(&agent, &t.context_id, "blob")
        .await
        .unwrap();
    assert!(
        back.as_deref() == Some(&blob[..]),
        "the large value changed"
    );
}

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
            first_seq: 1
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
