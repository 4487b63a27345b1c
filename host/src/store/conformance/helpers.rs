//! What the conformance checks share: fresh names, tasks, events, writes
//! and page walks.

use std::sync::Arc;

use crate::model::{
    Artifact, AuthenticationInfo, Message, Part, StreamResponse, Task, TaskArtifactUpdateEvent,
    TaskPushNotificationConfig, TaskState, TaskStatus, TaskStatusUpdateEvent, Timestamp,
};
use crate::store::{Committed, Store, StoredTask, TaskQuery, TaskWrite};

/// A fresh name, so checks never collide with other data in the store.
pub(super) fn fresh(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A fixed base time (2023-11-14), plus `offset` milliseconds.
pub(super) fn at(offset: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000 + offset).expect("a valid timestamp")
}

pub(super) fn task(
    id: &str,
    context_id: &str,
    state: TaskState,
    status_time: Option<Timestamp>,
) -> Task {
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

pub(super) fn status_event(task: &Task) -> StreamResponse {
    StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
        task_id: task.id.clone(),
        context_id: task.context_id.clone(),
        status: task.status.clone(),
        metadata: None,
    })
}

pub(super) fn text_event(task: &Task, text: &str) -> StreamResponse {
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

pub(super) fn write<'a>(
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
        push_config: None,
    }
}

pub(super) async fn create(store: &Arc<dyn Store>, agent: &str, task: &Task) -> Committed {
    let events = [status_event(task)];
    store
        .write_task(write(agent, task, 0, &events, None))
        .await
        .unwrap_or_else(|e| panic!("creating task {}: {e}", task.id))
}

pub(super) async fn must_get(store: &Arc<dyn Store>, task_id: &str) -> StoredTask {
    store
        .get_task(task_id)
        .await
        .unwrap_or_else(|e| panic!("get_task({task_id}): {e}"))
        .unwrap_or_else(|| panic!("task {task_id} should exist"))
}

pub(super) async fn all_events(
    store: &Arc<dyn Store>,
    task_id: &str,
) -> Vec<(u64, StreamResponse)> {
    store
        .events_after(task_id, 0)
        .await
        .unwrap_or_else(|e| panic!("events_after({task_id}, 0): {e}"))
}

pub(super) fn query(agent: &str, page_size: usize) -> TaskQuery {
    TaskQuery {
        agent: agent.to_string(),
        page_size,
        ..Default::default()
    }
}

/// Ids of one page, plus its token and total.
pub(super) async fn page_ids(store: &Arc<dyn Store>, q: &TaskQuery) -> (Vec<String>, String, u64) {
    let page = store
        .list_tasks(q)
        .await
        .unwrap_or_else(|e| panic!("list_tasks({q:?}): {e}"));
    let ids = page.tasks.into_iter().map(|t| t.id).collect();
    (ids, page.next_page_token, page.total_size)
}

/// Walks every page of `q`, checking the invariants of each, and returns
/// all ids in order.
pub(super) async fn walk_pages(
    store: &Arc<dyn Store>,
    q: &TaskQuery,
    expected_total: u64,
) -> Vec<String> {
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

pub(super) fn ids(list: &[&Task]) -> Vec<String> {
    list.iter().map(|t| t.id.clone()).collect()
}

pub(super) fn push_config(task_id: &str, id: &str, url: &str) -> TaskPushNotificationConfig {
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
