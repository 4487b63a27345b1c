//! The background job that expires old data.
//!
//! [`spawn_retention`] calls [`Store::purge`] once right away and then every
//! `every`, with the current time. Each run that deleted something logs what
//! went at `info`; a failed run (the database is down, say) logs a warning
//! and the job simply tries again at the next tick. The job never stops by
//! itself (unless the policy keeps everything, when it returns at once), and
//! a panic inside a store is caught and logged like an error.
//!
//! Every process of a deployment may run the job: the SQL stores purge in
//! small batches that skip (PostgreSQL) or wait briefly for (SQLite) rows
//! other writers hold, and deleting what another process already deleted is
//! a no-op.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::FutureExt as _;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::{Retention, Store};

/// The shortest interval between runs; shorter requests are raised to it.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the retention job for `store` on the current tokio runtime: a
/// purge with `policy` now and then every `every` (at least
/// [`MIN_INTERVAL`]). Abort the handle to stop it.
pub fn spawn_retention(
    store: Arc<dyn Store>,
    policy: Retention,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if policy.keeps_everything() {
            tracing::info!(store = %store.describe(), "retention: keeping everything; job not started");
            return;
        }
        let every = if every < MIN_INTERVAL {
            tracing::warn!(
                requested_ms = every.as_millis() as u64,
                "retention: interval raised to the minimum of {}s",
                MIN_INTERVAL.as_secs()
            );
            MIN_INTERVAL
        } else {
            every
        };
        tracing::info!(
            store = %store.describe(),
            terminal_tasks_secs = policy.terminal_tasks.map(|d| d.as_secs()),
            context_state_secs = policy.context_state.map(|d| d.as_secs()),
            every_secs = every.as_secs(),
            "retention: job started"
        );
        let mut ticker = tokio::time::interval(every);
        // After a slow run, wait a full interval rather than bursting.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            run_once(store.as_ref(), &policy).await;
        }
    })
}

/// One purge, logged; never fails or panics.
async fn run_once(store: &dyn Store, policy: &Retention) {
    let started = Instant::now();
    let result = AssertUnwindSafe(store.purge(policy, SystemTime::now()))
        .catch_unwind()
        .await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(Ok(report)) if report.is_empty() => {
            tracing::debug!(elapsed_ms, "retention: nothing expired");
        }
        Ok(Ok(report)) => tracing::info!(
            tasks = report.tasks,
            events = report.events,
            message_claims = report.message_claims,
            push_configs = report.push_configs,
            context_values = report.context_values,
            elapsed_ms,
            "retention: purged expired data"
        ),
        Ok(Err(e)) => tracing::warn!(
            store = %store.describe(),
            error = %e,
            elapsed_ms,
            "retention: purge failed; retrying at the next run"
        ),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            tracing::error!(
                store = %store.describe(),
                panic = %message,
                "retention: purge panicked; retrying at the next run"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Task, TaskState, TaskStatus, Timestamp};
    use crate::store::TaskWrite;
    use crate::store::memory::MemoryStore;

    fn old_task(id: &str, state: TaskState) -> Task {
        Task {
            id: id.into(),
            context_id: "ctx".into(),
            status: TaskStatus {
                state,
                message: None,
                timestamp: Timestamp::from_unix_millis(1_700_000_000_000),
            },
            ..Default::default()
        }
    }

    async fn create(store: &Arc<dyn Store>, t: &Task) {
        store
            .write_task(TaskWrite {
                agent: "echo",
                task: Arc::new(t.clone()),
                expected_version: 0,
                events: Vec::new(),
                claim_message_id: None,
                context_is_new: false,
                push_config: None,
            })
            .await
            .unwrap();
    }

    async fn wait_gone(store: &Arc<dyn Store>, id: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while store.get_task(id).await.unwrap().is_some() {
            assert!(
                Instant::now() < deadline,
                "{id} was not purged in {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn purges_at_start_and_then_periodically() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        create(&store, &old_task("first", TaskState::Completed)).await;
        create(&store, &old_task("running", TaskState::Working)).await;
        store
            .set_state("echo", "ctx", "k", Some(b"v"))
            .await
            .unwrap();
        let policy = Retention {
            terminal_tasks: Some(Duration::from_secs(3600)),
            context_state: Some(Duration::from_secs(3600)),
        };
        let job = spawn_retention(store.clone(), policy, Duration::from_secs(1));
        // The first run happens right away.
        wait_gone(&store, "first", Duration::from_millis(500)).await;
        // Later expiries are caught by a later run.
        create(&store, &old_task("second", TaskState::Failed)).await;
        wait_gone(&store, "second", Duration::from_secs(3)).await;
        assert!(!job.is_finished());
        job.abort();
        assert!(store.get_task("running").await.unwrap().is_some());
        // The state was written just now: an hour is far off.
        assert_eq!(
            store.get_state("echo", "ctx", "k").await.unwrap(),
            Some(b"v".to_vec())
        );
    }

    #[tokio::test]
    async fn a_policy_that_keeps_everything_ends_the_job() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        create(&store, &old_task("done", TaskState::Completed)).await;
        let job = spawn_retention(store.clone(), Retention::default(), Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(2), job)
            .await
            .expect("the job ends at once")
            .expect("without panicking");
        assert!(store.get_task("done").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_zero_interval_is_raised_not_a_panic() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        create(&store, &old_task("done", TaskState::Canceled)).await;
        let policy = Retention {
            terminal_tasks: Some(Duration::ZERO),
            context_state: None,
        };
        let job = spawn_retention(store.clone(), policy, Duration::ZERO);
        wait_gone(&store, "done", Duration::from_millis(500)).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!job.is_finished(), "the job stopped");
        job.abort();
    }
}
