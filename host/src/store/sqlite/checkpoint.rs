//! The checkpointer: a thread of its own that copies the WAL into the
//! database file beside the writer, and the committer's own checkpoint
//! that lets the WAL start over.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rusqlite::Connection;

use super::Shared;

/// How often the checkpointer looks at the WAL.
const CHECKPOINT_POLL: Duration = Duration::from_millis(50);
/// How long committed pages may stay in the WAL only, at most.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// WAL frames (4 KiB pages) after which the WAL is copied into the
/// database file and started over (see [`spawn_checkpointer`]).
const RESTART_FRAMES: i64 = 8_192;
/// WAL frames at which the committer starts the WAL over without waiting
/// for the checkpointer: writes that arrive faster than the checkpointer
/// copies wait for the committer's checkpoint instead of growing the WAL.
/// (At half this, a single client's commits of ~12 frames each sometimes
/// outran a slow `fsync` of the checkpointer's, and waited for it.)
pub(super) const FORCED_RESTART_FRAMES: i64 = 4 * RESTART_FRAMES;
/// How long the committer's checkpoint waits for the checkpointer's to
/// finish (SQLite does not wait for another checkpoint by itself).
const RESTART_WAIT: Duration = Duration::from_secs(1);

/// Starts the thread that checkpoints the WAL, on a connection of its own,
/// once it holds [`RESTART_FRAMES`] frames or every [`CHECKPOINT_EVERY`].
/// Its checkpoints are `PASSIVE`: they run beside the writer and never
/// block it. A checkpoint copies pages and syncs the WAL and the database
/// file; done by SQLite's default auto-checkpoint, that work and its
/// `fsync`s land on whichever commit crosses the threshold, a stall of
/// several milliseconds for every request in flight. The thread ends with
/// the store.
///
/// A checkpoint that runs beside the writer never catches up with it: by
/// the time it has copied every frame, new ones have been committed, so
/// under steady load the WAL is never found fully copied, never starts
/// over, and grows for as long as the load lasts. So once the WAL is long,
/// the checkpointer copies it ([`catch_up`]: again and again, each pass
/// copying what was committed during the one before, until little is
/// left, and syncs the database file) and asks the committer to run one
/// checkpoint itself between two batches: that one copies only the rest
/// (two `fsync`s of little data),
/// and the next batch starts the WAL over. Checkpointing only then, not
/// every few hundred milliseconds, also keeps the `fsync`s (and the
/// commits that wait for pages under write-back) few.
pub(super) fn spawn_checkpointer(
    shared: &Arc<Shared>,
    conn: Connection,
    db_file: std::fs::File,
) -> std::io::Result<()> {
    let store = Arc::downgrade(shared);
    std::thread::Builder::new()
        .name("a2a-sqlite-checkpoint".into())
        .spawn(move || {
            lower_priority();
            let mut last = std::time::Instant::now();
            loop {
                std::thread::sleep(CHECKPOINT_POLL);
                let Some(shared) = store.upgrade() else {
                    return;
                };
                let frames = shared.wal_frames.load(Ordering::Relaxed);
                let long = frames >= RESTART_FRAMES;
                if !long && (frames == 0 || last.elapsed() < CHECKPOINT_EVERY) {
                    continue;
                }
                last = std::time::Instant::now();
                shared.checkpointing.store(true, Ordering::SeqCst);
                let done = if long {
                    catch_up(&conn, &shared.wal_frames, &db_file)
                } else {
                    passive_checkpoint(&conn)
                };
                shared.checkpointing.store(false, Ordering::SeqCst);
                match done {
                    Ok(()) if long => shared.wal_long.store(true, Ordering::Relaxed),
                    Ok(()) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "SQLite checkpoint failed; retrying later");
                    }
                }
            }
        })
        .map(drop)
}

/// The checkpointer's nice value (Linux; 0 is everyone else's). Its
/// copying comes in bursts of tens of milliseconds of CPU; at equal
/// priority the scheduler halves the async worker's share of a busy core
/// for that long, and every request in flight then takes twice as long.
/// At 5 the worker keeps three quarters of the core during a burst, and
/// the checkpointer still has more than the ~8 % it needs at full load
/// (no forced restarts in the bench's c=64 runs). See bench/README.md.
#[cfg(target_os = "linux")]
const CHECKPOINTER_NICE: i32 = 5;

/// Gives the calling thread (the checkpointer) [`CHECKPOINTER_NICE`].
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // On Linux a nice value belongs to a thread, named by its id.
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), CHECKPOINTER_NICE) {
            tracing::debug!(error = %e, "cannot lower the SQLite checkpointer's priority");
        }
    }
}

/// A `PASSIVE` checkpoint: copies what it can without waiting for the
/// writer.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    passive_checkpoint_counted(conn).map(drop)
}

/// What a `PASSIVE` checkpoint reports.
struct CheckpointRun {
    /// Another checkpoint held SQLite's checkpoint lock: nothing was done.
    busy: bool,
    /// WAL frames copied so far, from the start of the WAL (-1 when busy).
    copied: i64,
}

/// A `PASSIVE` checkpoint, and what it reports.
fn passive_checkpoint_counted(conn: &Connection) -> rusqlite::Result<CheckpointRun> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok(CheckpointRun {
            busy: r.get::<_, i64>(0)? != 0,
            copied: r.get(2)?,
        })
    })
}

/// Uncopied WAL frames small enough for the committer's own checkpoint,
/// which every write waits for, to copy.
const CATCH_UP_FRAMES: i64 = 256;
/// The most checkpoint passes one catch-up runs.
const CATCH_UP_PASSES: usize = 8;

/// Readies a long WAL for the committer's final checkpoint, during which
/// every write waits, so that it has little left to do: copies the WAL
/// into the database file ([`copy_passes`]), syncs the database file, and
/// copies what was committed meanwhile.
///
/// The sync is the point. SQLite syncs the database file only in a
/// checkpoint that copies the WAL to its very end, and under steady writes
/// only the committer's final one does: left to it, that sync writes back
/// every page the checkpointer copied since the WAL last started over
/// (megabytes; 10–30 ms on the bench's disk, the SQLite server's c=64 p99)
/// while the writes wait. Synced here, beside the writer, it leaves the
/// final one the last few pages. A failed sync is logged and changes
/// nothing else: the final checkpoint's own sync still reports the error
/// (Linux reports a write-back error to every open handle of the file),
/// and fails before the WAL starts over.
fn catch_up(
    conn: &Connection,
    frames: &AtomicI64,
    db_file: &std::fs::File,
) -> rusqlite::Result<()> {
    copy_passes(conn, frames)?;
    if let Err(e) = db_file.sync_data() {
        tracing::warn!(error = %e, "cannot sync the SQLite database file");
    }
    copy_passes(conn, frames)
}

/// Copies a long WAL into the database file pass after pass, each copying
/// what was committed during the one before, until what is left is
/// [`CATCH_UP_FRAMES`] or less (or stops shrinking).
/// `frames` is the WAL's length as the writer last saw it.
fn copy_passes(conn: &Connection, frames: &AtomicI64) -> rusqlite::Result<()> {
    let mut left = i64::MAX;
    for _ in 0..CATCH_UP_PASSES {
        let copied = passive_checkpoint_counted(conn)?.copied;
        let now = (frames.load(Ordering::Relaxed) - copied).max(0);
        if now <= CATCH_UP_FRAMES || now >= left {
            break;
        }
        left = now;
    }
    Ok(())
}

/// The committer's checkpoint before the batch that starts the WAL over:
/// copies what the checkpointer has not. While the checkpointer thread's
/// own checkpoint holds SQLite's checkpoint lock, a `PASSIVE` checkpoint is
/// refused at once (SQLite's busy handler does not wait for that lock), so
/// this waits for it, up to [`RESTART_WAIT`]: writes that outpace the
/// checkpointer wait here rather than lengthen the WAL. A lock held by
/// anyone else (another process) is not waited for.
pub(super) fn restart_checkpoint(conn: &Connection, shared: &Shared) {
    let deadline = std::time::Instant::now() + RESTART_WAIT;
    loop {
        match passive_checkpoint_counted(conn) {
            Ok(run) if !run.busy => return,
            Ok(_)
                if shared.checkpointing.load(Ordering::SeqCst)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(_) => {
                tracing::debug!("SQLite checkpoint lock still held; the WAL starts over later");
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "SQLite checkpoint failed; retrying later");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::super::SqliteStore;
    use super::super::testing::{event, task, write};
    use super::*;
    use crate::model::{Message, TaskState};
    use crate::store::Store as _;

    /// Committed pages reach the database file without a writer crossing
    /// the auto-checkpoint threshold: the checkpointer thread copies them.
    #[tokio::test]
    async fn the_checkpointer_moves_the_wal_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let store = SqliteStore::open(&path).unwrap();
        tokio::time::sleep(CHECKPOINT_EVERY * 2).await;
        let empty = std::fs::metadata(&path).unwrap().len();
        for i in 0..100 {
            let t = task(&format!("t{i}"), TaskState::Working);
            let events = [event(&t), event(&t)];
            store.write_task(write(&t, 0, &events, None)).await.unwrap();
        }
        let started = std::time::Instant::now();
        while std::fs::metadata(&path).unwrap().len() <= empty {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the database file stayed at {empty} bytes"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Under writes that never pause, the WAL is still copied and started
    /// over whenever it holds about [`RESTART_FRAMES`] frames, instead of
    /// growing for as long as the load lasts; writes that outpace the
    /// checkpointer (a release build here) wait for the committer's
    /// checkpoint at [`FORCED_RESTART_FRAMES`].
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("tasks.db")).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..8 {
            let (store, stop) = (store.clone(), stop.clone());
            writers.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let mut t = task(&format!("w{w}-{i}"), TaskState::Working);
                    t.history = vec![Message::user_text("x".repeat(8_000))];
                    store.write_task(write(&t, 0, &[], None)).await.unwrap();
                    i += 1;
                }
            }));
        }
        let (mut restarts, mut most, mut previous) = (0, 0, 0);
        let started = std::time::Instant::now();
        while restarts < 2 {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the WAL never started over ({most} frames)"
            );
            let frames = store.shared.wal_frames.load(Ordering::Relaxed);
            if frames < previous {
                restarts += 1;
            }
            (most, previous) = (most.max(frames), frames);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }
        // Past FORCED_RESTART_FRAMES, only the batch that crossed it (a
        // few dozen frames here) commits before the committer's own
        // checkpoint starts the WAL over.
        assert!(
            most < FORCED_RESTART_FRAMES + 1_024,
            "the WAL reached {most} frames"
        );
    }

    /// Writes that take the WAL past [`FORCED_RESTART_FRAMES`] while
    /// another connection holds SQLite's checkpoint lock (the
    /// checkpointer's own checkpoint, on a slow disk) still succeed, once
    /// each: the committer's checkpoint is refused (a lock that another
    /// connection holds is not waited for) and the batch commits. (The backstop checkpoint this replaced ran in the
    /// WAL hook, whose error SQLite reported as the COMMIT's although the
    /// commit had happened: the batch was retried and its new tasks
    /// refused as already existing.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_past_the_wal_limit_succeed_while_a_checkpoint_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let store = SqliteStore::open(&path).unwrap();
        // Hold the checkpoint lock: a FULL checkpoint takes it, then waits
        // in its busy handler for the write lock, which `writer` holds
        // until the handler has been entered.
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder_path = path.clone();
        let holder = std::thread::spawn(move || {
            let mut conn = rusqlite::Connection::open(holder_path).unwrap();
            conn.busy_handler(Some(move |_| {
                let _ = entered_tx.send(());
                let _ = release_rx.recv();
                false
            }))
            .unwrap();
            conn.query_row("PRAGMA wal_checkpoint(FULL)", [], |_| Ok(()))
                .unwrap();
        });
        entered_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the checkpoint waits for the write lock");
        writer.execute_batch("ROLLBACK").unwrap();

        // ~16 WAL frames per write: about 2,000 writes cross the limit.
        let mut t = task("t", TaskState::Working);
        t.history = vec![Message::user_text("x".repeat(60_000))];
        let (mut written, mut after) = (0, 0);
        while after < 3 {
            t.id = format!("t{written}");
            let result = store.write_task(write(&t, 0, &[], None)).await;
            assert!(
                result.is_ok(),
                "write {written} failed at {} WAL frames: {result:?}",
                store.shared.wal_frames.load(Ordering::Relaxed)
            );
            written += 1;
            if store.shared.wal_frames.load(Ordering::Relaxed) >= FORCED_RESTART_FRAMES {
                after += 1;
            }
        }
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        for i in [0, written - 1] {
            let stored = store.get_task(&format!("t{i}")).await.unwrap().unwrap();
            assert_eq!(stored.version, 1);
        }
    }

    /// The checkpointer thread runs at [`CHECKPOINTER_NICE`], so its copying
    /// gives way to the async worker on a busy core.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_checkpointer_runs_at_a_lower_priority() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("tasks.db")).unwrap();
        // The thread lowers its own priority as it starts: wait for it.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let nice = loop {
            let found = std::fs::read_dir("/proc/self/task").unwrap().find_map(|t| {
                let t = t.ok()?.path();
                let comm = std::fs::read_to_string(t.join("comm")).ok()?;
                if comm.trim_end() != "a2a-sqlite-chec" {
                    return None;
                }
                let stat = std::fs::read_to_string(t.join("stat")).ok()?;
                // Fields after the parenthesised name; nice is field 19.
                let rest = &stat[stat.rfind(')')? + 2..];
                rest.split(' ').nth(16)?.parse::<i32>().ok()
            });
            match found {
                Some(n) if n == CHECKPOINTER_NICE => break n,
                _ if std::time::Instant::now() > deadline => break found.unwrap_or(i32::MIN),
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        assert_eq!(nice, CHECKPOINTER_NICE);
        drop(store);
    }
}
