//! The group commit: task writes queue, and one committer takes
//! everything queued into a single transaction.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};
use tokio::sync::{OwnedMutexGuard, oneshot};

use super::checkpoint::{FORCED_RESTART_FRAMES, restart_checkpoint};
use super::write::{EncodedWrite, WriteFailure, write_one};
use super::{BUSY_TIMEOUT, Shared, SqliteStore};
use crate::store::{Committed, StoreError, TaskWrite};

/// A queued task write and the caller waiting for its outcome.
type Queued = (EncodedWrite, oneshot::Sender<Result<Committed, StoreError>>);

/// Task writes waiting for the writer connection (group commit).
#[derive(Default)]
pub(super) struct WriteQueue {
    pending: Vec<Queued>,
    /// Whether a committer is running; it takes what is queued before it
    /// stops, so a write that finds this set only waits.
    committing: bool,
}

impl SqliteStore {
    /// [`Store::write_task`](crate::store::Store::write_task): the write,
    /// serialized on the calling task, joins the queue, and the first
    /// writer to find no committer running starts one.
    pub(super) async fn group_commit(&self, write: TaskWrite<'_>) -> Result<Committed, StoreError> {
        let encoded = EncodedWrite::new(&write)?;
        let (reply, outcome) = oneshot::channel();
        let lead = {
            let mut q = self.shared.queue.lock();
            q.pending.push((encoded, reply));
            !std::mem::replace(&mut q.committing, true)
        };
        if lead {
            tokio::spawn(commit_queued(self.shared.clone()));
        }
        outcome
            .await
            .map_err(|_| StoreError::Other("the SQLite writer stopped before committing".into()))?
    }
}

/// Commits queued task writes until the queue is empty, each batch in one
/// transaction. Runs as its own task, so a caller that stops waiting does
/// not strand the writes queued behind it.
///
/// A batch commits **on this task's worker thread**, not on the blocking
/// pool: appending a few pages to the WAL takes tens of microseconds,
/// less than the two thread switches a trip to the blocking pool costs at
/// low load, and under load a blocking thread woken on a busy core waits
/// for the worker's time slice (milliseconds) before it can run, so every
/// write queued behind it waits too. What can block for long goes to the
/// blocking pool instead: a batch whose `BEGIN IMMEDIATE` finds another
/// connection holding the write lock (waiting for it is up to
/// [`BUSY_TIMEOUT`]), a batch that has to be split after a failure, and
/// the checkpoint that lets the WAL start over (two `fsync`s) with the
/// batch after it (whose commit starts the WAL over and syncs its header).
async fn commit_queued(shared: Arc<Shared>) {
    let mut running = CommitterRunning::new(&shared);
    let mut conn: OwnedMutexGuard<Connection> = shared.writer.clone().lock_owned().await;
    loop {
        gather(&shared).await;
        let frames = shared.wal_frames.load(Ordering::Relaxed);
        let forced = frames >= FORCED_RESTART_FRAMES;
        let restart = shared.wal_long.swap(false, Ordering::Relaxed) || forced;
        let batch = {
            let mut q = shared.queue.lock();
            if q.pending.is_empty() {
                q.committing = false;
                if restart {
                    // For the next committer.
                    shared.wal_long.store(true, Ordering::Relaxed);
                }
                running.0 = None;
                return;
            }
            std::mem::take(&mut q.pending)
        };
        let batch = if restart {
            // The checkpoint that lets the WAL start over, and the commit
            // that starts it over (SQLite syncs the new WAL header): both
            // wait for the disk, so both go to the blocking pool.
            Some(batch)
        } else {
            commit_batch(&mut conn, batch, Lock::IfFree)
        };
        if let Some(batch) = batch {
            let for_restart = shared.clone();
            if forced {
                tracing::debug!(frames, "the WAL outgrew the checkpointer; starting it over");
            }
            let done = on_blocking_pool(conn, move |c| {
                if restart {
                    restart_checkpoint(c, &for_restart);
                }
                commit_batch(c, batch, Lock::Wait);
            });
            match done.await {
                Ok((back, ())) => conn = back,
                Err(_) => return,
            }
        }
    }
}

/// The most rounds [`gather`] lets the other tasks run before a batch
/// commits.
const GATHER_ROUNDS: usize = 8;

/// Lets the tasks that are ready to run queue their writes before a batch
/// commits, so that they join it: one round of the scheduler (which also
/// polls the network) at a time, for as long as each round adds writes,
/// at most [`GATHER_ROUNDS`]. Alone (one client), that is one round, as
/// before; under load a batch takes in the turns that the requests read
/// meanwhile start, and a commit (which rewrites the last page of every
/// table and index it touches) is shared by many more tasks.
async fn gather(shared: &Shared) {
    let mut queued = shared.queue.lock().pending.len();
    for _ in 0..GATHER_ROUNDS {
        tokio::task::yield_now().await;
        let now = shared.queue.lock().pending.len();
        if now == queued {
            return;
        }
        queued = now;
    }
}

/// Marks the committer as running; if it ends any other way than by
/// finding the queue empty (a panic, a failed blocking task), the writes
/// queued meanwhile fail and the next write starts a committer again.
struct CommitterRunning<'a>(Option<&'a Shared>);

impl<'a> CommitterRunning<'a> {
    fn new(shared: &'a Shared) -> Self {
        CommitterRunning(Some(shared))
    }
}

impl Drop for CommitterRunning<'_> {
    fn drop(&mut self) {
        let Some(shared) = self.0 else { return };
        let mut q = shared.queue.lock();
        q.committing = false;
        for (_, reply) in q.pending.drain(..) {
            let _ = reply.send(Err(StoreError::Other(
                "the SQLite writer failed before committing".into(),
            )));
        }
    }
}

/// Runs `f` with the writer connection on the blocking pool and hands the
/// connection back. A panic in `f` releases the connection and is the
/// error.
async fn on_blocking_pool<T, F>(
    mut conn: OwnedMutexGuard<Connection>,
    f: F,
) -> Result<(OwnedMutexGuard<Connection>, T), tokio::task::JoinError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> T + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let out = f(&mut conn);
        (conn, out)
    })
    .await
}

/// Whether [`commit_batch`] may wait.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// Wait for the write lock (up to [`BUSY_TIMEOUT`]), and split a
    /// failed batch into one transaction per write.
    Wait,
    /// Commit only if the write lock is free now and the batch commits
    /// whole; otherwise change nothing and give the batch back.
    IfFree,
}

/// One `BEGIN IMMEDIATE` … `COMMIT` for a batch of task writes. A write
/// that is refused (a version conflict, say) is refused before it changes
/// anything, and the others commit. A write that fails half-way (an I/O
/// error) rolls the whole transaction back, and the batch is retried one
/// write per transaction, so only the failing write fails. Every caller is
/// answered after `COMMIT`, so an acknowledged write is as durable as with
/// one transaction each.
///
/// With [`Lock::IfFree`], a batch that would have to wait for the lock or
/// be split is returned untouched, nobody answered.
///
/// No savepoints: each one copies every page it touches into SQLite's
/// statement journal, which cost more than the writes themselves.
fn commit_batch(conn: &mut Connection, batch: Vec<Queued>, lock: Lock) -> Option<Vec<Queued>> {
    if lock == Lock::IfFree {
        let _ = conn.busy_timeout(Duration::ZERO);
    }
    let begun = run_cached(conn, "BEGIN IMMEDIATE");
    if lock == Lock::IfFree {
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        if begun.as_ref().is_err_and(is_busy) {
            return Some(batch);
        }
    }
    let single = batch.len() == 1;
    let outcome = begun.map_err(StoreError::from).and_then(|()| {
        let mut results = Vec::with_capacity(batch.len());
        for (w, _) in &batch {
            match write_one(conn, w) {
                Ok(committed) => results.push(Ok(committed)),
                Err(WriteFailure::Refused(e)) => results.push(Err(e)),
                Err(WriteFailure::Broken(e)) => return Err(e),
            }
        }
        run_cached(conn, "COMMIT")?;
        Ok(results)
    });
    match outcome {
        Ok(results) => {
            for ((_, reply), result) in batch.into_iter().zip(results) {
                let _ = reply.send(result);
            }
            None
        }
        Err(e) => {
            if !conn.is_autocommit() {
                // Nothing of the batch is kept. (A failed ROLLBACK leaves
                // the connection to SQLite's own recovery: the next BEGIN
                // fails and says why.)
                let _ = run_cached(conn, "ROLLBACK");
            }
            match lock {
                Lock::IfFree => Some(batch),
                Lock::Wait if single => {
                    for (_, reply) in batch {
                        let _ = reply.send(Err(e.clone()));
                    }
                    None
                }
                Lock::Wait => {
                    for queued in batch {
                        commit_batch(conn, vec![queued], Lock::Wait);
                    }
                    None
                }
            }
        }
    }
}

/// Runs one statement from the connection's statement cache: `BEGIN` and
/// `COMMIT` run for every batch, and `execute_batch` would compile them
/// each time.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::super::SqliteStore;
    use super::super::testing::{event, task, write};
    use super::*;
    use crate::model::TaskState;
    use crate::store::Store as _;

    /// Writes that arrive together share one transaction; one that fails
    /// (here: creating a task that exists) rolls back alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_commit_isolates_failed_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("tasks.db")).unwrap());
        let mut writers = Vec::new();
        for i in 0..200 {
            let store = store.clone();
            // Every tenth write creates a task another write also creates.
            let id = if i % 10 == 9 {
                format!("t{}", i - 1)
            } else {
                format!("t{i}")
            };
            writers.push(tokio::spawn(async move {
                let t = task(&id, TaskState::Working);
                let events = [event(&t), event(&t)];
                store.write_task(write(&t, 0, &events, None)).await
            }));
        }
        let (mut created, mut refused) = (0, 0);
        for w in writers {
            match w.await.unwrap() {
                Ok(c) => {
                    assert_eq!(
                        c,
                        Committed {
                            version: 1,
                            first_seq: 1,
                            pushes_queued: 0
                        }
                    );
                    created += 1;
                }
                Err(StoreError::AlreadyExists(_)) => refused += 1,
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!((created, refused), (180, 20));
        for i in (0..200).filter(|i| i % 10 != 9) {
            let id = format!("t{i}");
            let stored = store.get_task(&id).await.unwrap().expect("committed");
            assert_eq!((stored.version, stored.last_seq), (1, 2), "{id}");
            assert_eq!(store.events_after(&id, 0).await.unwrap().len(), 2, "{id}");
        }
    }

    /// A write that fails after it changed the database (here: a trigger
    /// aborts its second event) fails alone, with nothing of it kept; the
    /// writes committed beside it are whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_broken_half_way_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TRIGGER boom BEFORE INSERT ON task_events \
                 WHEN NEW.task_id LIKE 'bad%' AND NEW.seq = 2 \
                 BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;",
            )
            .unwrap();
        let mut writers = Vec::new();
        for i in 0..100 {
            let store = store.clone();
            let id = if i % 25 == 7 {
                format!("bad{i}")
            } else {
                format!("t{i}")
            };
            writers.push(tokio::spawn(async move {
                let t = task(&id, TaskState::Working);
                let events = [event(&t), event(&t)];
                let claim = format!("m{i}");
                let result = store.write_task(write(&t, 0, &events, Some(&claim))).await;
                (id, claim, result)
            }));
        }
        for w in writers {
            let (id, claim, result) = w.await.unwrap();
            let stored = store.get_task(&id).await.unwrap();
            let claimed = store.task_for_message("echo", "ctx", &claim).await.unwrap();
            if id.starts_with("bad") {
                let e = result.expect_err(&id);
                assert!(e.to_string().contains("the disk is full"), "{id}: {e}");
                assert!(stored.is_none(), "{id}");
                assert!(store.events_after(&id, 0).await.unwrap().is_empty(), "{id}");
                assert_eq!(claimed, None, "{id}");
            } else {
                result.unwrap();
                assert_eq!(stored.expect(&id).last_seq, 2, "{id}");
                assert_eq!(store.events_after(&id, 0).await.unwrap().len(), 2, "{id}");
                assert_eq!(claimed.as_deref(), Some(id.as_str()), "{id}");
            }
        }
    }

    /// Batches commit on the async worker only while the write lock is
    /// free. When another connection (another process, say) holds it, the
    /// write waits for it on the blocking pool, and the runtime's one
    /// thread goes on running other tasks meanwhile.
    #[tokio::test(flavor = "current_thread")]
    async fn a_write_waits_for_a_held_lock_without_blocking_the_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let store = SqliteStore::open(&path).unwrap();
        let first = task("first", TaskState::Submitted);
        store.write_task(write(&first, 0, &[], None)).await.unwrap();

        // Another connection takes the write lock and keeps it until told.
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn({
            let path = path.clone();
            move || {
                let other = Connection::open(&path).unwrap();
                other.execute_batch("BEGIN IMMEDIATE").unwrap();
                locked_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                other.execute_batch("COMMIT").unwrap();
            }
        });
        locked_rx.recv().unwrap();

        let second = task("second", TaskState::Submitted);
        let pending = store.write_task(write(&second, 0, &[], None));
        tokio::pin!(pending);
        // The write cannot finish while the lock is held, and the runtime
        // is not stuck: a timer on the same thread fires meanwhile.
        let mut ticks = 0;
        while ticks < 5 {
            tokio::select! {
                out = &mut pending => panic!("the write finished under a held lock: {out:?}"),
                () = tokio::time::sleep(Duration::from_millis(20)) => ticks += 1,
            }
        }
        release_tx.send(()).unwrap();
        let committed = pending
            .await
            .expect("the write commits once the lock is free");
        assert_eq!(committed.version, 1);
        holder.join().unwrap();
        assert_eq!(
            store.get_task("second").await.unwrap().unwrap().task,
            second
        );
        // The next write takes the fast path again.
        let mut working = second.clone();
        working.status.state = TaskState::Working;
        store
            .write_task(write(&working, 1, &[], None))
            .await
            .unwrap();
    }
}
