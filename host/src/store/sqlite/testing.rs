//! What the SQLite store's tests share: tasks, writes and queries.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, params_from_iter};

use super::SqliteStore;
use crate::model::{Message, StreamResponse, Task, TaskState, TaskStatus, Timestamp};
use crate::store::{PurgeReport, Retention, Store as _, StoreError, TaskWrite};

pub(super) fn task(id: &str, state: TaskState) -> Task {
    Task {
        id: id.into(),
        context_id: "ctx".into(),
        status: TaskStatus {
            state,
            message: None,
            timestamp: Timestamp::from_unix_millis(1_700_000_000_000),
        },
        history: vec![Message::user_text("hi")],
        ..Default::default()
    }
}

pub(super) fn event(t: &Task) -> StreamResponse {
    StreamResponse::Task(t.clone())
}

pub(super) fn write<'a>(
    t: &'a Task,
    version: u64,
    events: &'a [StreamResponse],
    claim: Option<&'a str>,
) -> TaskWrite<'a> {
    TaskWrite {
        agent: "echo",
        task: Arc::new(t.clone()),
        expected_version: version,
        events: events.iter().cloned().map(Arc::new).collect(),
        claim_message_id: claim,
        context_is_new: false,
        push_config: None,
    }
}

/// Purges the tasks that ended more than a minute ago.
pub(super) async fn purge_ended_a_minute_ago(store: &SqliteStore) -> PurgeReport {
    let policy = Retention {
        terminal_tasks: Some(Duration::from_secs(60)),
        context_state: None,
    };
    store.purge(&policy, SystemTime::now()).await.unwrap()
}

pub(super) fn other_error(result: Result<SqliteStore, StoreError>) -> String {
    match result {
        Err(StoreError::Other(message)) => message,
        Err(e) => panic!("expected StoreError::Other, got {e:?}"),
        Ok(store) => panic!("opened {}", store.describe()),
    }
}

/// Column `column` of every row that `explain` (`EXPLAIN` or `EXPLAIN
/// QUERY PLAN`) gives for `sql`, its parameters bound to 0, 1, 2, ….
pub(super) fn explain(conn: &Connection, explain: &str, sql: &str, column: usize) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("{explain} {sql}")).unwrap();
    let args: Vec<i64> = (0..stmt.parameter_count() as i64).collect();
    stmt.query_map(params_from_iter(&args), |r| r.get(column))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}
