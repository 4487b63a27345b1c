//! What the PostgreSQL store's tests share: a schema of their own on the
//! test server (or a skip without one), tasks and bulk rows.

use std::io::Write as _;
use std::sync::Arc;

use tokio_postgres::NoTls;

use super::{PgOptions, PostgresStore};
use crate::model::{StreamResponse, Task, TaskState, TaskStatus, Timestamp};
use crate::store::conformance::Fixture;
use crate::store::{StoreError, TaskWrite};

const URL_VAR: &str = "A2A_HOST_TEST_POSTGRES_URL";

/// The test server's URL, or `None` after saying (uncaptured) why the
/// test is skipped.
fn test_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            // Straight to stderr: libtest does not capture this, so the
            // skip shows in the output of a passing run.
            let _ = writeln!(std::io::stderr(), "skipped: {URL_VAR} not set");
            None
        }
    }
}

/// A schema of its own for one test, dropped (with everything in it)
/// when the guard goes, even if the test panicked.
pub(super) struct TestSchema {
    pub(super) url: String,
    pub(super) name: String,
}

impl TestSchema {
    pub(super) fn new() -> Option<TestSchema> {
        Some(TestSchema {
            url: test_url()?,
            name: format!("a2a_test_{}", uuid::Uuid::new_v4().simple()),
        })
    }

    pub(super) fn options(&self) -> PgOptions {
        PgOptions {
            schema: Some(self.name.clone()),
            pool_size: 8,
            ..PgOptions::default()
        }
    }

    pub(super) async fn connect(&self) -> PostgresStore {
        PostgresStore::connect(&self.url, self.options())
            .await
            .unwrap_or_else(|e| panic!("connecting to the test database: {e}"))
    }

    /// A plain client with the schema on its search path.
    pub(super) async fn raw_client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .expect("a raw connection");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("SET search_path TO \"{}\"", self.name))
            .await
            .unwrap();
        client
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Its own thread and runtime: this may run inside the test's
        // runtime, whose tasks must keep running meanwhile (they close
        // the store's connections), so a multi-thread runtime hands this
        // worker's tasks to another; a lock timeout bounds the rest.
        let cleanup = move || {
            std::thread::spawn(move || -> Result<(), String> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime.block_on(async {
                    let (client, conn) = tokio_postgres::connect(&url, NoTls)
                        .await
                        .map_err(|e| e.to_string())?;
                    let driver = tokio::spawn(conn);
                    let result = client
                        .batch_execute(&format!(
                            "SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                        ))
                        .await
                        .map_err(|e| e.to_string());
                    drop(client);
                    let _ = driver.await;
                    result
                })
            })
            .join()
        };
        let outcome = match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(cleanup)
            }
            _ => cleanup(),
        };
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("dropping test schema {}: {e}", self.name),
            Err(_) => eprintln!("dropping test schema {} panicked", self.name),
        }
    }
}

pub(super) async fn fixture() -> Option<Fixture> {
    let schema = TestSchema::new()?;
    let store = schema.connect().await;
    Some(Fixture::with_guard(store, schema))
}

pub(super) fn task(id: &str, state: TaskState, ms: i64) -> Task {
    Task {
        id: id.into(),
        context_id: "ctx".into(),
        status: TaskStatus {
            state,
            message: None,
            timestamp: Timestamp::from_unix_millis(ms),
        },
        ..Default::default()
    }
}

pub(super) fn create<'a>(t: &'a Task, events: &'a [StreamResponse]) -> TaskWrite<'a> {
    TaskWrite {
        agent: "echo",
        task: Arc::new(t.clone()),
        expected_version: 0,
        events: events.iter().cloned().map(Arc::new).collect(),
        claim_message_id: None,
        context_is_new: false,
        push_config: None,
    }
}

pub(super) fn expect_other<T>(result: Result<T, StoreError>) -> String {
    match result {
        Err(StoreError::Other(m)) => m,
        Err(e) => panic!("expected StoreError::Other, got {e:?}"),
        Ok(_) => panic!("expected an error"),
    }
}

/// Inserts `count` tasks of agent `echo` straight in SQL: contexts
/// `ctx0..ctx99`, alternating working/completed, distinct status times.
pub(super) async fn bulk_insert(client: &tokio_postgres::Client, count: i64, state_sql: &str) {
    client
        .execute(
            &format!(
                "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, \
                 last_seq, created_ms, updated_ms, snapshot) \
                 SELECT 'bulk-' || i, 'echo', 'ctx' || (i % 100), {state_sql}, \
                        1000000 + i, 1, 1, 0, 0, \
                        '{{\"id\":\"bulk-' || i || '\",\"contextId\":\"ctx' || (i % 100) || \
                        '\",\"status\":{{\"state\":\"TASK_STATE_COMPLETED\"}}}}' \
                 FROM generate_series(1, $1::bigint) AS i"
            ),
            &[&count],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO task_events (task_id, seq, event) \
             SELECT 'bulk-' || i, 1, '{}' FROM generate_series(1, $1::bigint) AS i",
            &[&count],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO message_ids (agent, context_id, message_id, task_id) \
             SELECT 'echo', 'ctx' || (i % 100), 'm' || i, 'bulk-' || i \
             FROM generate_series(1, $1::bigint) AS i",
            &[&count],
        )
        .await
        .unwrap();
    client.batch_execute("ANALYZE").await.unwrap();
}
