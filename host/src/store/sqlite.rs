//! A durable store in one SQLite file.
//!
//! # Durability
//! The database runs in WAL mode with `synchronous=NORMAL`. A committed
//! write survives a crash of the a2a-host process: it is already in the WAL
//! file. It does not wait for an `fsync`, though, so an operating-system
//! crash or a power loss can lose the last transactions committed before
//! it (the database itself stays consistent; it just ends at an earlier
//! commit). That is the usual trade for a task store: a few milliseconds of
//! work per write instead of a disk flush.
//!
//! # Threads and connections
//! SQLite calls block, so they run on tokio's blocking pool
//! (`spawn_blocking`), with one exception: a batch of task writes commits
//! on the async worker when the write lock is free (see below).
//! - All writes go through **one writer connection** behind an async mutex.
//!   The mutex is taken on the async side, so queued writers wait without
//!   occupying blocking threads; the guard then moves to the blocking task.
//!   Task writes ([`Store::write_task`]) are **group-committed**: they queue,
//!   and one committer takes everything queued into a single `BEGIN
//!   IMMEDIATE` transaction. A write that is refused (a version conflict,
//!   say) is refused by its checks before it changes anything, so the others
//!   still commit; a write that fails half-way (an I/O error) sends the
//!   batch back to one transaction per write. Every caller is
//!   answered after `COMMIT`, so an acknowledged write is exactly as durable
//!   as with a transaction of its own; under load, many tasks share one
//!   commit. The committer is a tokio task that first lets the tasks ready
//!   to run queue their writes, then commits the batch **on its worker
//!   thread**: appending pages to the WAL costs less than the thread
//!   switches of a trip to the blocking pool, and on a busy core a woken
//!   blocking thread waits a whole time slice to run. A batch that would
//!   wait for another connection's lock, or must be split after a
//!   failure, goes to the blocking pool. `BEGIN IMMEDIATE` takes
//!   SQLite's write lock *before* the version is read, so the
//!   check-then-write is atomic even across processes (or several
//!   [`SqliteStore`]s) sharing the file.
//! - Reads use a small **pool of reader connections** (at most
//!   [`MAX_READERS`], opened lazily and kept), which in WAL mode run beside
//!   the writer and see every committed write. An in-memory database has no
//!   separate readers: everything goes through its one connection.
//! - Other handles on the same file wait for the write lock up to
//!   [`BUSY_TIMEOUT`]; after that a write fails with
//!   [`StoreError::Unavailable`].
//!
//! - A **checkpointer thread** with its own connection copies the WAL into
//!   the database file (`PRAGMA wal_checkpoint(PASSIVE)`) once it is long
//!   or a second old, so the copy and its `fsync`s do not stall the commit
//!   that happens to cross SQLite's auto-checkpoint threshold (turned off:
//!   the writer only counts the WAL's frames). Once the WAL is long it
//!   also syncs the database file, which SQLite's own checkpoints beside a
//!   writer never do; the committer then copies what came in meanwhile,
//!   with little left to sync, and starts the WAL over (see
//!   `spawn_checkpointer` and `catch_up`). Writers that outpace the
//!   checkpointer's copy wait for the committer's own checkpoint once the
//!   WAL is four times as long, on the blocking pool, instead of growing
//!   it further. The checkpointer runs at a lower priority, so that its
//!   copying gives way to the requests on a busy core.
//!
//! A caller that stops waiting (its future is dropped) does not undo a
//! write that it queued: the committer, a task of its own, commits or fails
//! it, atomically either way.
//!
//! Statements are prepared once per connection and cached. Snapshots and
//! events are stored as the JSON of the data model, serialized on the
//! calling task before the writer lock is taken.
//!
//! # Schema
//! The schema is created and upgraded by the embedded [`MIGRATIONS`],
//! applied in order at open; `PRAGMA user_version` records how many ran and
//! `PRAGMA application_id` marks the file as an a2a-host store. Opening a
//! file that is not SQLite, another application's database, or one written
//! by a newer a2a-host fails with a [`StoreError`] that says so.
//!
//! A task write is one row in `tasks` (inserted or updated), one row in
//! `task_events` holding all the events it appends (a row's `seq` is its
//! last event's, `n` how many it holds), and the claim of its message id.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use parking_lot::Mutex as SyncMutex;
use rusqlite::types::Value as SqlValue;
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params,
    params_from_iter,
};
use serde::de::DeserializeOwned;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard, Semaphore, oneshot};

use super::memory::push_config_key;
use super::{
    Committed, PURGE_BATCH, PurgeReport, Retention, Store, StoreError, StoredTask, TaskPage,
    TaskQuery, TaskWrite, decode_page_token, encode_page_token, status_millis,
};
use crate::model::{StreamResponse, TaskPushNotificationConfig, TaskState};

/// How long a connection waits for another connection's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The most reader connections one store keeps open.
pub const MAX_READERS: usize = 4;

/// Marks a database as an a2a-host store (`PRAGMA application_id`): "A2AH".
const APPLICATION_ID: i32 = 0x4132_4148;

/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 64;

/// The schema, one step per entry; step `i` takes `user_version` from `i` to
/// `i + 1`. Never edit a released step: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
    CREATE TABLE tasks (
        id          TEXT    NOT NULL PRIMARY KEY,
        agent       TEXT    NOT NULL,
        context_id  TEXT    NOT NULL,
        state       TEXT    NOT NULL,
        status_ms   INTEGER NOT NULL,
        version     INTEGER NOT NULL,
        last_seq    INTEGER NOT NULL,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        snapshot    TEXT    NOT NULL
    );
    CREATE INDEX tasks_by_time ON tasks (agent, status_ms DESC, id DESC);
    CREATE INDEX tasks_by_context ON tasks (agent, context_id, status_ms DESC, id DESC);
    CREATE INDEX tasks_by_state ON tasks (agent, state, status_ms DESC, id DESC);

    CREATE TABLE task_events (
        task_id TEXT    NOT NULL REFERENCES tasks (id),
        seq     INTEGER NOT NULL,
        event   TEXT    NOT NULL,
        PRIMARY KEY (task_id, seq)
    );

    CREATE TABLE message_ids (
        agent      TEXT NOT NULL,
        context_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        task_id    TEXT NOT NULL REFERENCES tasks (id),
        PRIMARY KEY (agent, context_id, message_id)
    ) WITHOUT ROWID;

    CREATE TABLE context_state (
        agent      TEXT NOT NULL,
        context_id TEXT NOT NULL,
        key        TEXT NOT NULL,
        value      BLOB NOT NULL,
        PRIMARY KEY (agent, context_id, key)
    );

    CREATE TABLE push_configs (
        created INTEGER PRIMARY KEY,
        task_id TEXT    NOT NULL REFERENCES tasks (id),
        id      TEXT    NOT NULL,
        config  TEXT    NOT NULL,
        UNIQUE (task_id, id)
    );
    ",
    // 2: retention. When each context was last written (existing contexts
    // count as written now, so they get a full retention period), an index
    // of terminal tasks by status time, and claims by task for deletion.
    "
    CREATE TABLE contexts (
        agent      TEXT    NOT NULL,
        context_id TEXT    NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (agent, context_id)
    ) WITHOUT ROWID;
    INSERT INTO contexts (agent, context_id, updated_ms)
        SELECT DISTINCT agent, context_id, CAST(strftime('%s', 'now') AS INTEGER) * 1000
        FROM context_state;
    CREATE INDEX contexts_by_age ON contexts (updated_ms);
    CREATE INDEX tasks_expiring ON tasks (status_ms) WHERE state IN (
        'TASK_STATE_COMPLETED', 'TASK_STATE_FAILED', 'TASK_STATE_CANCELED', 'TASK_STATE_REJECTED'
    );
    CREATE INDEX message_ids_by_task ON message_ids (task_id);
    ",
    // 3: fewer pages written per task. The time-ordered indexes run
    // ascending (ListTasks reads them backwards), so that new tasks land at
    // their right end, where SQLite appends to a full page instead of
    // splitting it in half (the descending ones were half empty and split
    // twice as often). Claims are purged by their key's prefix (agent,
    // context) instead of an index of their own.
    "
    DROP INDEX tasks_by_time;
    DROP INDEX tasks_by_context;
    DROP INDEX tasks_by_state;
    DROP INDEX message_ids_by_task;
    CREATE INDEX tasks_by_time ON tasks (agent, status_ms, id);
    CREATE INDEX tasks_by_context ON tasks (agent, context_id, status_ms, id);
    CREATE INDEX tasks_by_state ON tasks (agent, state, status_ms, id);
    ",
    // 4: the events of one write in one row. `seq` is the row's last
    // sequence number and `n` how many events it holds: `event` is one event
    // when `n` is 1 (every row written before), else a JSON array of `n`.
    // One row instead of one per event: fewer inserts, key entries and
    // foreign-key look-ups per task write (an echo task writes two events).
    "
    ALTER TABLE task_events ADD COLUMN n INTEGER NOT NULL DEFAULT 1;
    ",
    // 5: the expiry index's predicate as comparisons. SQLite evaluates a
    // partial index's predicate on every insert and update of a row; an
    // `IN` list of more than two values builds a temporary B-tree each
    // time (open, create, four inserts, close), about 5 % of an echo
    // task's write. `OR`ed equalities are four string comparisons. The
    // purge query spells the predicate the same way (`EXPIRED_TASKS_SQL`),
    // which SQLite needs to use the index.
    "
    DROP INDEX tasks_expiring;
    CREATE INDEX tasks_expiring ON tasks (status_ms) WHERE state = 'TASK_STATE_COMPLETED'
        OR state = 'TASK_STATE_FAILED' OR state = 'TASK_STATE_CANCELED'
        OR state = 'TASK_STATE_REJECTED';
    ",
];

/// Terminal tasks due for deletion, oldest first; `?1` is the cutoff and
/// `?2` the batch size. The state test is the `tasks_expiring` index's
/// predicate, term for term (SQLite uses a partial index only for a query
/// whose terms include its predicate).
const EXPIRED_TASKS_SQL: &str = "SELECT id, agent, context_id FROM tasks \
    WHERE (state = 'TASK_STATE_COMPLETED' OR state = 'TASK_STATE_FAILED' \
    OR state = 'TASK_STATE_CANCELED' OR state = 'TASK_STATE_REJECTED') \
    AND status_ms < ?1 ORDER BY status_ms LIMIT ?2";

/// The message-id claims of task `?3`, found by their key's prefix: the
/// task's agent `?1` and context `?2`.
const PURGE_CLAIMS_SQL: &str =
    "DELETE FROM message_ids WHERE agent = ?1 AND context_id = ?2 AND task_id = ?3";

/// Tasks, event logs, context state and push configs in a SQLite file.
/// Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

struct Shared {
    /// What [`Store::describe`] says.
    name: String,
    /// The file, or `None` for an in-memory database.
    path: Option<PathBuf>,
    /// The one connection that writes (and, in memory, also reads).
    writer: Arc<AsyncMutex<Connection>>,
    /// Bounds the reader connections in use at once.
    reader_permits: Arc<Semaphore>,
    /// Reader connections not in use right now.
    idle_readers: SyncMutex<Vec<Connection>>,
    /// Task writes waiting to be committed together.
    queue: SyncMutex<WriteQueue>,
    /// Set by the checkpointer when the WAL has grown past
    /// [`RESTART_FRAMES`]: the committer checkpoints between two batches so
    /// that the next one starts the WAL over.
    wal_long: AtomicBool,
    /// Frames in the WAL after the writer's last commit.
    wal_frames: Arc<AtomicI64>,
    /// Whether the checkpointer thread is checkpointing right now (and so
    /// may hold SQLite's checkpoint lock).
    checkpointing: AtomicBool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    ///
    /// This does blocking file I/O; from async code call it once at startup
    /// or inside `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let mut conn = open_connection(path, &shown)?;
        // WAL is a property of the file: set once, every connection uses it.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| open_error(&shown, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Other(format!(
                "SQLite database `{shown}` cannot use write-ahead logging (journal mode is `{mode}`)"
            )));
        }
        configure_writer(&conn).map_err(|e| open_error(&shown, e))?;
        migrate(&mut conn, &shown)?;
        // In place of SQLite's auto-checkpoint: the writer only counts the
        // WAL's frames; the checkpointer thread and the committer, between
        // two batches, do the copying. Nothing here may fail: a WAL hook's
        // error is reported as the COMMIT's although the commit happened
        // (the batch would be retried and its new tasks refused as
        // existing), and a checkpoint in here would also stall the async
        // worker the batch commits on.
        let wal_frames = Arc::new(AtomicI64::new(0));
        let frames = wal_frames.clone();
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages| {
            frames.store(i64::from(pages), Ordering::Relaxed);
            Ok(())
        }))
        .map_err(|e| open_error(&shown, e))?;
        let store = Self::from_writer(
            format!("sqlite:{shown}"),
            Some(path.to_path_buf()),
            conn,
            wal_frames,
        );
        // The checkpointer syncs the database file through a handle of its
        // own (see `catch_up`); opened for writing, as some systems sync
        // only such handles. It neither creates nor truncates.
        let db_file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| {
                StoreError::Other(format!(
                    "cannot open SQLite database `{shown}` to sync it: {e}"
                ))
            })?;
        spawn_checkpointer(&store.shared, open_connection(path, &shown)?, db_file)
            .map_err(|e| StoreError::Other(format!("cannot start the SQLite checkpointer: {e}")))?;
        Ok(store)
    }

    /// A fresh database that lives in memory and vanishes with the store.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let shown = ":memory:";
        let mut conn = Connection::open_in_memory().map_err(|e| open_error(shown, e))?;
        configure_writer(&conn).map_err(|e| open_error(shown, e))?;
        migrate(&mut conn, shown)?;
        Ok(Self::from_writer(
            "sqlite::memory:".into(),
            None,
            conn,
            Arc::default(),
        ))
    }

    fn from_writer(
        name: String,
        path: Option<PathBuf>,
        writer: Connection,
        wal_frames: Arc<AtomicI64>,
    ) -> Self {
        SqliteStore {
            shared: Arc::new(Shared {
                name,
                path,
                writer: Arc::new(AsyncMutex::new(writer)),
                reader_permits: Arc::new(Semaphore::new(MAX_READERS)),
                idle_readers: SyncMutex::new(Vec::new()),
                queue: SyncMutex::new(WriteQueue::default()),
                wal_long: AtomicBool::new(false),
                wal_frames,
                checkpointing: AtomicBool::new(false),
            }),
        }
    }

    /// Runs `f` on the writer connection, on the blocking pool.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let mut conn: OwnedMutexGuard<Connection> = self.shared.writer.clone().lock_owned().await;
        tokio::task::spawn_blocking(move || f(&mut conn))
            .await
            .map_err(worker_failed)?
    }

    /// Runs `f` on a reader connection (the writer for an in-memory
    /// database), on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if self.shared.path.is_none() {
            return self.write(f).await;
        }
        let permit = self
            .shared
            .reader_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite store is closed".into()))?;
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let idle = shared.idle_readers.lock().pop();
            let mut conn = match idle {
                Some(conn) => conn,
                None => shared.open_reader()?,
            };
            let result = f(&mut conn);
            shared.idle_readers.lock().push(conn);
            result
        })
        .await
        .map_err(worker_failed)?
    }
}

impl Shared {
    fn open_reader(&self) -> Result<Connection, StoreError> {
        let Some(path) = self.path.as_deref() else {
            return Err(StoreError::Other(
                "an in-memory SQLite database has no reader connections".into(),
            ));
        };
        let conn = open_connection(path, &path.display().to_string())?;
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }
}

/// Opens a connection and checks that the file is a SQLite database.
fn open_connection(path: &Path, shown: &str) -> Result<Connection, StoreError> {
    // No SQLITE_OPEN_URI: a path is always a path.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(shown, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| open_error(shown, e))?;
    // SQLite reads the header lazily; make it happen now.
    conn.pragma_query_value(None, "application_id", |r| r.get::<_, i64>(0))
        .map_err(|e| open_error(shown, e))?;
    Ok(conn)
}

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
const FORCED_RESTART_FRAMES: i64 = 4 * RESTART_FRAMES;
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
fn spawn_checkpointer(
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

fn configure_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Temporary tables, indexes and journals in memory, not in files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Truncate a WAL that grew past 64 MiB once it has been checkpointed.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Brings the schema up to date, in one transaction.
fn migrate(conn: &mut Connection, shown: &str) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| open_error(shown, e))?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let app_id: i64 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if app_id != 0 && app_id != i64::from(APPLICATION_ID) {
        return Err(StoreError::Other(format!(
            "`{shown}` is another application's SQLite database (application_id {app_id:#x}), \
             not an a2a-host store"
        )));
    }
    if version == 0 && app_id == 0 {
        let tables: i64 = tx.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        if tables > 0 {
            return Err(StoreError::Other(format!(
                "`{shown}` is a SQLite database with {tables} tables of its own, \
                 not an a2a-host store"
            )));
        }
    }
    if version > known {
        return Err(StoreError::Other(format!(
            "`{shown}` has schema version {version}, newer than this a2a-host supports \
             ({known}); it was written by a newer a2a-host"
        )));
    }
    if version < 0 {
        return Err(StoreError::Other(format!(
            "`{shown}` has an invalid schema version {version}"
        )));
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql).map_err(|e| {
            StoreError::Other(format!(
                "migrating `{shown}` to schema version {}: {e}",
                step + 1
            ))
        })?;
    }
    if version < known {
        tx.pragma_update(None, "user_version", known)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    tx.commit()?;
    Ok(())
}

fn open_error(shown: &str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            StoreError::Other(format!("`{shown}` is not a SQLite database ({e})"))
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!("SQLite database `{shown}` is locked: {e}"))
        }
        _ => StoreError::Other(format!("cannot open SQLite database `{shown}`: {e}")),
    }
}

/// Errors of an open database: lock timeouts and I/O trouble are worth a
/// retry later; everything else is a bug or corruption.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen,
            ) => StoreError::Unavailable(format!("SQLite: {e}")),
            _ => StoreError::Other(format!("SQLite: {e}")),
        }
    }
}

fn worker_failed(e: tokio::task::JoinError) -> StoreError {
    StoreError::Other(format!("SQLite worker failed: {e}"))
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Reads a JSON text column into a model type.
fn json_column<T: DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    index: usize,
    what: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    let parsed = match row.get_ref(index)?.as_str() {
        Ok(text) => serde_json::from_str(text).map_err(|e| format!("is not valid JSON: {e}")),
        Err(e) => Err(format!("is not text: {e}")),
    };
    parsed.map_err(|problem| StoreError::Other(format!("{} {problem}", what())))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Other(format!("serializing: {e}")))
}

/// A [`TaskWrite`] with everything owned and serialized, ready to queue
/// for the committer.
struct EncodedWrite {
    id: String,
    agent: String,
    context_id: String,
    state: &'static str,
    status_ms: i64,
    expected_version: u64,
    snapshot: String,
    /// How many events the write appends.
    event_count: u64,
    /// Their `task_events.event` text: the event itself when there is one,
    /// else a JSON array of them.
    events: Option<String>,
    claim: Option<String>,
    /// [`TaskWrite::context_is_new`]: no claim to look for.
    context_is_new: bool,
}

/// A queued task write and the caller waiting for its outcome.
type Queued = (EncodedWrite, oneshot::Sender<Result<Committed, StoreError>>);

/// Task writes waiting for the writer connection (group commit).
#[derive(Default)]
struct WriteQueue {
    pending: Vec<Queued>,
    /// Whether a committer is running; it takes what is queued before it
    /// stops, so a write that finds this set only waits.
    committing: bool,
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

/// The committer's checkpoint before the batch that starts the WAL over:
/// copies what the checkpointer has not. While the checkpointer thread's
/// own checkpoint holds SQLite's checkpoint lock, a `PASSIVE` checkpoint is
/// refused at once (SQLite's busy handler does not wait for that lock), so
/// this waits for it, up to [`RESTART_WAIT`]: writes that outpace the
/// checkpointer wait here rather than lengthen the WAL. A lock held by
/// anyone else (another process) is not waited for.
fn restart_checkpoint(conn: &Connection, shared: &Shared) {
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

/// Why [`write_one`] did not write.
enum WriteFailure {
    /// A check failed; nothing was changed.
    Refused(StoreError),
    /// A statement failed after others had changed the database: the
    /// transaction must be rolled back.
    Broken(StoreError),
}

impl From<rusqlite::Error> for WriteFailure {
    fn from(e: rusqlite::Error) -> Self {
        WriteFailure::Refused(e.into())
    }
}

/// One task write, inside the caller's transaction: every check first, then
/// the changes.
fn write_one(tx: &Connection, w: &EncodedWrite) -> Result<Committed, WriteFailure> {
    let checked = check_write(tx, w).map_err(WriteFailure::Refused)?;
    let (version, last_seq) = (checked.version, checked.last_seq);
    // A new task's id is checked by the primary key: SQLite checks every
    // constraint of a row before it writes any of it, so when the task row
    // is refused nothing has changed yet.
    write_task_row(tx, w, &checked).map_err(|e| {
        if w.expected_version == 0
            && e.sqlite_error()
                .is_some_and(|e| e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
        {
            WriteFailure::Refused(StoreError::AlreadyExists(w.id.clone()))
        } else {
            WriteFailure::Broken(e.into())
        }
    })?;
    write_events_and_claim(tx, w, &checked).map_err(WriteFailure::Broken)?;
    Ok(Committed {
        version,
        first_seq: last_seq + 1,
    })
}

/// What the checks of a task write found.
struct Checked {
    /// The task's new version.
    version: u64,
    /// The task's last event sequence number before the write.
    last_seq: u64,
    /// The agent that owns the task (`None`: the write creates it).
    owner: Option<String>,
}

impl Checked {
    /// The agent the write's rows belong to: the owner, or for a new task
    /// the writer's.
    fn agent<'a>(&'a self, w: &'a EncodedWrite) -> &'a str {
        self.owner.as_deref().unwrap_or(&w.agent)
    }

    /// The task's last event sequence number after the write.
    fn new_last_seq(&self, w: &EncodedWrite) -> u64 {
        self.last_seq + w.event_count
    }
}

/// The checks of a task write, which change nothing: an existing task's
/// version, and the message id's claim. (Whether a new task's id is taken,
/// its `INSERT` tells: see `write_one`.)
fn check_write(tx: &Connection, w: &EncodedWrite) -> Result<Checked, StoreError> {
    if w.expected_version == 0 {
        // Whether the id is taken, the INSERT's primary key tells
        // (`write_one`): one B-tree search per new task instead of two.
        check_claim(tx, w, &w.agent)?;
        return Ok(Checked {
            version: 1,
            last_seq: 0,
            owner: None,
        });
    }
    let current: Option<(String, u64, u64)> = tx
        .prepare_cached("SELECT agent, version, last_seq FROM tasks WHERE id = ?1")?
        .query_row([&w.id], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        })
        .optional()?;
    let (agent, last_seq) = match current {
        None => return Err(StoreError::NotFound(w.id.clone())),
        Some((_, actual, _)) if actual != w.expected_version => {
            return Err(StoreError::Conflict {
                task_id: w.id.clone(),
                expected: w.expected_version,
                actual,
            });
        }
        Some((agent, _, last_seq)) => (agent, last_seq),
    };
    check_claim(tx, w, &agent)?;
    Ok(Checked {
        version: w.expected_version + 1,
        last_seq,
        owner: Some(agent),
    })
}

/// Whether another task holds the message id the write claims. Not looked
/// up in a context made for this write's task, where nobody else can have
/// claimed anything (the claim's primary key would still refuse a
/// duplicate: the write would break, and be rolled back, instead).
fn check_claim(tx: &Connection, w: &EncodedWrite, agent: &str) -> Result<(), StoreError> {
    let Some(message_id) = w.claim.as_ref().filter(|_| !w.context_is_new) else {
        return Ok(());
    };
    let holder: Option<String> = tx
        .prepare_cached(
            "SELECT task_id FROM message_ids \
             WHERE agent = ?1 AND context_id = ?2 AND message_id = ?3",
        )?
        .query_row(params![agent, w.context_id, message_id], |r| r.get(0))
        .optional()?;
    match holder {
        Some(holder) => Err(StoreError::DuplicateMessage {
            message_id: message_id.clone(),
            task_id: holder,
        }),
        None => Ok(()),
    }
}

/// A new task's row.
const INSERT_TASK_SQL: &str = "INSERT INTO tasks (id, agent, context_id, state, status_ms, \
    version, last_seq, created_ms, updated_ms, snapshot) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)";
/// An existing task's row.
const UPDATE_TASK_SQL: &str = "UPDATE tasks SET context_id = ?2, state = ?3, status_ms = ?4, \
    version = ?5, last_seq = ?6, updated_ms = ?7, snapshot = ?8 WHERE id = ?1";
/// The events of one write (one row).
const INSERT_EVENTS_SQL: &str =
    "INSERT INTO task_events (task_id, seq, n, event) VALUES (?1, ?2, ?3, ?4)";
/// The claim of a message id.
const INSERT_CLAIM_SQL: &str =
    "INSERT INTO message_ids (agent, context_id, message_id, task_id) VALUES (?1, ?2, ?3, ?4)";

/// The task row of a checked write: inserted (a new task) or updated.
fn write_task_row(
    tx: &Connection,
    w: &EncodedWrite,
    checked: &Checked,
) -> Result<(), rusqlite::Error> {
    let agent = checked.agent(w);
    let version = checked.version as i64;
    let new_last_seq = checked.new_last_seq(w) as i64;
    let now = now_millis();
    if w.expected_version == 0 {
        tx.prepare_cached(INSERT_TASK_SQL)?.execute(params![
            w.id,
            agent,
            w.context_id,
            w.state,
            w.status_ms,
            version,
            new_last_seq,
            now,
            w.snapshot
        ])?;
    } else {
        tx.prepare_cached(UPDATE_TASK_SQL)?.execute(params![
            w.id,
            w.context_id,
            w.state,
            w.status_ms,
            version,
            new_last_seq,
            now,
            w.snapshot
        ])?;
    }
    Ok(())
}

/// The rest of a checked write, after its task row: its events (one row,
/// schema step 4) and the claim of its message id.
fn write_events_and_claim(
    tx: &Connection,
    w: &EncodedWrite,
    checked: &Checked,
) -> Result<(), StoreError> {
    let agent = checked.agent(w);
    if let Some(events) = &w.events {
        let last = checked.new_last_seq(w);
        tx.prepare_cached(INSERT_EVENTS_SQL)?.execute(params![
            w.id,
            last as i64,
            w.event_count as i64,
            events
        ])?;
    }
    if let Some(message_id) = &w.claim {
        tx.prepare_cached(INSERT_CLAIM_SQL)?.execute(params![
            agent,
            w.context_id,
            message_id,
            w.id
        ])?;
    }
    Ok(())
}

/// The SQL of one ListTasks query: a count over the filters and the page
/// (one row more than asked, to learn whether another page follows).
struct ListSql {
    count: String,
    page: String,
    /// Parameters of `page`; `count` takes the first `filter_args`.
    args: Vec<SqlValue>,
    filter_args: usize,
    page_size: usize,
}

impl ListSql {
    fn new(query: TaskQuery, cursor: Option<(i64, String)>) -> Self {
        let page_size = query.page_size.clamp(1, 100);
        let mut filter = String::from("agent = ?1");
        let mut args = vec![SqlValue::Text(query.agent)];
        if let Some(context_id) = query.context_id {
            args.push(SqlValue::Text(context_id));
            filter.push_str(&format!(" AND context_id = ?{}", args.len()));
        }
        if let Some(state) = query.state {
            args.push(SqlValue::Text(state.as_proto_str().into()));
            filter.push_str(&format!(" AND state = ?{}", args.len()));
        }
        if let Some(after) = query.status_after {
            args.push(SqlValue::Integer(after.unix_millis()));
            filter.push_str(&format!(" AND status_ms >= ?{}", args.len()));
        }
        let filter_args = args.len();
        let count = format!("SELECT count(*) FROM tasks WHERE {filter}");
        if let Some((ms, id)) = cursor {
            args.push(SqlValue::Integer(ms));
            args.push(SqlValue::Text(id));
            filter.push_str(&format!(
                " AND (status_ms, id) < (?{}, ?{})",
                args.len() - 1,
                args.len()
            ));
        }
        args.push(SqlValue::Integer(page_size as i64 + 1));
        let page = format!(
            "SELECT status_ms, id, snapshot FROM tasks WHERE {filter} \
             ORDER BY status_ms DESC, id DESC LIMIT ?{}",
            args.len()
        );
        ListSql {
            count,
            page,
            args,
            filter_args,
            page_size,
        }
    }
}

fn list_tasks_blocking(conn: &mut Connection, sql: ListSql) -> Result<TaskPage, StoreError> {
    // One read transaction, so the count and the page agree.
    let tx = conn.transaction()?;
    let total_size: i64 = tx
        .prepare_cached(&sql.count)?
        .query_row(params_from_iter(&sql.args[..sql.filter_args]), |r| r.get(0))?;
    let mut stmt = tx.prepare_cached(&sql.page)?;
    let mut rows = stmt.query(params_from_iter(&sql.args))?;
    let mut tasks = Vec::with_capacity(sql.page_size.min(16));
    let mut last_key = None;
    let mut more = false;
    while let Some(row) = rows.next()? {
        if tasks.len() == sql.page_size {
            more = true;
            break;
        }
        let ms: i64 = row.get(0)?;
        let id: String = row.get(1)?;
        tasks.push(json_column(row, 2, || {
            format!("the snapshot of task `{id}`")
        })?);
        last_key = Some((ms, id));
    }
    let next_page_token = match last_key {
        Some((ms, id)) if more => encode_page_token(ms, &id),
        _ => String::new(),
    };
    Ok(TaskPage {
        tasks,
        next_page_token,
        total_size: total_size as u64,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn write_task(&self, write: TaskWrite<'_>) -> Result<Committed, StoreError> {
        let task = &*write.task;
        if task.id.is_empty() {
            return Err(StoreError::Other("a task needs a non-empty id".into()));
        }
        let encoded = EncodedWrite {
            id: task.id.clone(),
            agent: write.agent.to_string(),
            context_id: task.context_id.clone(),
            state: task.status.state.as_proto_str(),
            status_ms: status_millis(task),
            expected_version: write.expected_version,
            snapshot: to_json(task)?,
            event_count: write.events.len() as u64,
            events: match write.events.as_slice() {
                [] => None,
                [event] => Some(to_json(event)?),
                events => Some(to_json(&events)?),
            },
            claim: write.claim_message_id.map(str::to_string),
            context_is_new: write.context_is_new,
        };
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

    async fn get_task(&self, task_id: &str) -> Result<Option<StoredTask>, StoreError> {
        let id = task_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT agent, version, last_seq, snapshot FROM tasks WHERE id = ?1",
            )?;
            let mut rows = stmt.query([&id])?;
            let Some(row) = rows.next()? else {
                return Ok(None);
            };
            Ok(Some(StoredTask {
                agent: row.get(0)?,
                version: row.get::<_, i64>(1)? as u64,
                last_seq: row.get::<_, i64>(2)? as u64,
                task: json_column(row, 3, || format!("the snapshot of task `{id}`"))?,
            }))
        })
        .await
    }

    async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskPage, StoreError> {
        let cursor = match query.page_token.as_deref() {
            None | Some("") => None,
            Some(token) => Some(
                decode_page_token(token)
                    .ok_or_else(|| StoreError::Other(format!("invalid page token `{token}`")))?,
            ),
        };
        let sql = ListSql::new(query.clone(), cursor);
        self.read(move |conn| list_tasks_blocking(conn, sql)).await
    }

    async fn events_after(
        &self,
        task_id: &str,
        after_seq: u64,
    ) -> Result<Vec<(u64, StreamResponse)>, StoreError> {
        let Ok(after) = i64::try_from(after_seq) else {
            return Ok(Vec::new());
        };
        let id = task_id.to_string();
        self.read(move |conn| {
            // A row holds the events up to its `seq` (schema step 4), so
            // the rows past `after` hold every event past it.
            let mut stmt = conn.prepare_cached(
                "SELECT seq, n, event FROM task_events WHERE task_id = ?1 AND seq > ?2 \
                 ORDER BY seq",
            )?;
            let mut rows = stmt.query(params![id, after])?;
            let mut events = Vec::new();
            while let Some(row) = rows.next()? {
                let last = row.get::<_, i64>(0)? as u64;
                let n = row.get::<_, i64>(1)?;
                if n == 1 {
                    let event = json_column(row, 2, || format!("event {last} of task `{id}`"))?;
                    events.push((last, event));
                    continue;
                }
                let what = || format!("events up to {last} of task `{id}`");
                let batch: Vec<StreamResponse> = json_column(row, 2, what)?;
                let len = batch.len() as u64;
                if n != len as i64 || len > last + 1 {
                    return Err(StoreError::Other(format!(
                        "{} hold {len} events, not {n}",
                        what()
                    )));
                }
                let first = last + 1 - len;
                events.extend((first..).zip(batch).filter(|(seq, _)| *seq > after_seq));
            }
            Ok(events)
        })
        .await
    }

    async fn task_for_message(
        &self,
        agent: &str,
        context_id: &str,
        message_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let key = (
            agent.to_string(),
            context_id.to_string(),
            message_id.to_string(),
        );
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT task_id FROM message_ids \
                     WHERE agent = ?1 AND context_id = ?2 AND message_id = ?3",
                )?
                .query_row(params![key.0, key.1, key.2], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn tasks_in_states(
        &self,
        agent: Option<&str>,
        states: &[TaskState],
    ) -> Result<Vec<String>, StoreError> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Vec<SqlValue> = states
            .iter()
            .map(|s| SqlValue::Text(s.as_proto_str().into()))
            .collect();
        let placeholders = (1..=args.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!("SELECT id FROM tasks WHERE state IN ({placeholders})");
        if let Some(agent) = agent {
            args.push(SqlValue::Text(agent.to_string()));
            sql.push_str(&format!(" AND agent = ?{}", args.len()));
        }
        sql.push_str(" ORDER BY id");
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let ids = stmt
                .query_map(params_from_iter(&args), |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(ids)
        })
        .await
    }

    async fn get_state(
        &self,
        agent: &str,
        context_id: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let k = (agent.to_string(), context_id.to_string(), key.to_string());
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT value FROM context_state \
                     WHERE agent = ?1 AND context_id = ?2 AND key = ?3",
                )?
                .query_row(params![k.0, k.1, k.2], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn set_state(
        &self,
        agent: &str,
        context_id: &str,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let k = (agent.to_string(), context_id.to_string(), key.to_string());
        let value = value.map(<[u8]>::to_vec);
        self.write(move |conn| {
            match value {
                Some(value) => {
                    // One transaction, so a purge in another process never
                    // sees the value without the context's new time.
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    tx.prepare_cached(
                        "INSERT INTO contexts (agent, context_id, updated_ms) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (agent, context_id) DO UPDATE SET updated_ms = excluded.updated_ms",
                    )?
                    .execute(params![k.0, k.1, now_millis()])?;
                    tx.prepare_cached(
                        "INSERT INTO context_state (agent, context_id, key, value) \
                         VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (agent, context_id, key) DO UPDATE SET value = excluded.value",
                    )?
                    .execute(params![k.0, k.1, k.2, value])?;
                    tx.commit()?;
                }
                None => {
                    conn.prepare_cached(
                        "DELETE FROM context_state \
                         WHERE agent = ?1 AND context_id = ?2 AND key = ?3",
                    )?
                    .execute(params![k.0, k.1, k.2])?;
                }
            };
            Ok(())
        })
        .await
    }

    async fn put_push_config(&self, config: &TaskPushNotificationConfig) -> Result<(), StoreError> {
        let (task_id, config_id) = push_config_key(config)?;
        let (task_id, config_id) = (task_id.to_string(), config_id.to_string());
        let json = to_json(config)?;
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists = tx
                .prepare_cached("SELECT 1 FROM tasks WHERE id = ?1")?
                .exists([&task_id])?;
            if !exists {
                return Err(StoreError::NotFound(task_id));
            }
            tx.prepare_cached(
                "INSERT INTO push_configs (task_id, id, config) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (task_id, id) DO UPDATE SET config = excluded.config",
            )?
            .execute(params![task_id, config_id, json])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn get_push_config(
        &self,
        task_id: &str,
        config_id: &str,
    ) -> Result<Option<TaskPushNotificationConfig>, StoreError> {
        let (task_id, config_id) = (task_id.to_string(), config_id.to_string());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT config FROM push_configs WHERE task_id = ?1 AND id = ?2")?;
            let mut rows = stmt.query([&task_id, &config_id])?;
            match rows.next()? {
                None => Ok(None),
                Some(row) => Ok(Some(json_column(row, 0, || {
                    format!("push config `{config_id}` of task `{task_id}`")
                })?)),
            }
        })
        .await
    }

    async fn list_push_configs(
        &self,
        task_id: &str,
    ) -> Result<Vec<TaskPushNotificationConfig>, StoreError> {
        let task_id = task_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT config FROM push_configs WHERE task_id = ?1 ORDER BY created",
            )?;
            let mut rows = stmt.query([&task_id])?;
            let mut configs = Vec::new();
            while let Some(row) = rows.next()? {
                configs.push(json_column(row, 0, || {
                    format!("a push config of task `{task_id}`")
                })?);
            }
            Ok(configs)
        })
        .await
    }

    async fn delete_push_config(&self, task_id: &str, config_id: &str) -> Result<bool, StoreError> {
        let (task_id, config_id) = (task_id.to_string(), config_id.to_string());
        self.write(move |conn| {
            let deleted = conn
                .prepare_cached("DELETE FROM push_configs WHERE task_id = ?1 AND id = ?2")?
                .execute([&task_id, &config_id])?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn purge(&self, policy: &Retention, now: SystemTime) -> Result<PurgeReport, StoreError> {
        let cutoffs = policy.cutoffs(now);
        let mut report = PurgeReport::default();
        // One batch per transaction; the writer is free between batches.
        if let Some(before) = cutoffs.terminal_status_before_ms {
            loop {
                let (batch, count) = self
                    .write(move |conn| purge_tasks_batch(conn, before))
                    .await?;
                report += batch;
                if count < PURGE_BATCH {
                    break;
                }
            }
        }
        if let Some(before) = cutoffs.state_written_before_ms {
            loop {
                let (values, count) = self
                    .write(move |conn| purge_contexts_batch(conn, before))
                    .await?;
                report.context_values += values;
                if count < PURGE_BATCH {
                    break;
                }
            }
        }
        Ok(report)
    }

    fn describe(&self) -> String {
        self.shared.name.clone()
    }
}

/// Deletes up to [`PURGE_BATCH`] expired terminal tasks with everything
/// that hangs off them; returns what went and how many tasks.
fn purge_tasks_batch(
    conn: &mut Connection,
    before: i64,
) -> Result<(PurgeReport, usize), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let ids = tx
        .prepare_cached(EXPIRED_TASKS_SQL)?
        .query_map(params![before, PURGE_BATCH as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut report = PurgeReport::default();
    for (id, agent, context_id) in &ids {
        // A row holds `n` events (schema step 4).
        report.events += tx
            .prepare_cached("DELETE FROM task_events WHERE task_id = ?1 RETURNING n")?
            .query_map([id], |r| r.get::<_, i64>(0))?
            .sum::<Result<i64, _>>()? as u64;
        // A task's claims are in its own context (the key's prefix).
        report.message_claims += tx
            .prepare_cached(PURGE_CLAIMS_SQL)?
            .execute([agent, context_id, id])? as u64;
        report.push_configs += tx
            .prepare_cached("DELETE FROM push_configs WHERE task_id = ?1")?
            .execute([id])? as u64;
        report.tasks += tx
            .prepare_cached("DELETE FROM tasks WHERE id = ?1")?
            .execute([id])? as u64;
    }
    tx.commit()?;
    Ok((report, ids.len()))
}

/// Deletes the values of up to [`PURGE_BATCH`] contexts last written before
/// `before`; returns how many values and how many contexts.
fn purge_contexts_batch(conn: &mut Connection, before: i64) -> Result<(u64, usize), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let contexts = tx
        .prepare_cached(
            "SELECT agent, context_id FROM contexts WHERE updated_ms < ?1 \
             ORDER BY updated_ms LIMIT ?2",
        )?
        .query_map(params![before, PURGE_BATCH as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut values = 0;
    for (agent, context_id) in &contexts {
        values += tx
            .prepare_cached("DELETE FROM context_state WHERE agent = ?1 AND context_id = ?2")?
            .execute([agent, context_id])? as u64;
        tx.prepare_cached("DELETE FROM contexts WHERE agent = ?1 AND context_id = ?2")?
            .execute([agent, context_id])?;
    }
    tx.commit()?;
    Ok((values, contexts.len()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Message, Task, TaskStatus, Timestamp};
    use crate::store::conformance::Fixture;

    fn temp_fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = SqliteStore::open(dir.path().join("tasks.db")).expect("open a new store");
        Fixture::with_guard(store, dir)
    }

    crate::store_conformance_tests!(temp_fixture());

    mod in_memory {
        use crate::store::conformance::Fixture;
        use crate::store::sqlite::SqliteStore;

        crate::store_conformance_tests!(Fixture::new(
            SqliteStore::open_in_memory().expect("open in memory")
        ));
    }

    fn task(id: &str, state: TaskState) -> Task {
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

    fn event(t: &Task) -> StreamResponse {
        StreamResponse::Task(t.clone())
    }

    fn write<'a>(
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
        }
    }

    /// Purges the tasks that ended more than a minute ago.
    async fn purge_ended_a_minute_ago(store: &SqliteStore) -> PurgeReport {
        let policy = Retention {
            terminal_tasks: Some(Duration::from_secs(60)),
            context_state: None,
        };
        store.purge(&policy, SystemTime::now()).await.unwrap()
    }

    fn other_error(result: Result<SqliteStore, StoreError>) -> String {
        match result {
            Err(StoreError::Other(message)) => message,
            Err(e) => panic!("expected StoreError::Other, got {e:?}"),
            Ok(store) => panic!("opened {}", store.describe()),
        }
    }

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
                            first_seq: 1
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

    #[tokio::test]
    async fn reopening_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let t = task("t1", TaskState::Working);
        let config = TaskPushNotificationConfig {
            id: Some("p1".into()),
            task_id: Some("t1".into()),
            url: "https://hooks.example/a".into(),
            ..Default::default()
        };
        {
            let store = SqliteStore::open(&path).unwrap();
            store
                .write_task(write(&t, 0, &[event(&t), event(&t)], Some("m1")))
                .await
                .unwrap();
            store
                .set_state("echo", "ctx", "k", Some(b"v"))
                .await
                .unwrap();
            store.put_push_config(&config).await.unwrap();
        }

        let store = SqliteStore::open(&path).unwrap();
        let stored = store.get_task("t1").await.unwrap().unwrap();
        assert_eq!(stored.task, t);
        assert_eq!((stored.version, stored.last_seq), (1, 2));
        assert_eq!(stored.agent, "echo");
        assert_eq!(store.events_after("t1", 0).await.unwrap().len(), 2);
        assert_eq!(
            store.task_for_message("echo", "ctx", "m1").await.unwrap(),
            Some("t1".into())
        );
        assert_eq!(
            store.get_state("echo", "ctx", "k").await.unwrap(),
            Some(b"v".to_vec())
        );
        assert_eq!(store.list_push_configs("t1").await.unwrap(), vec![config]);

        // The log and the versions carry on where they stopped.
        let mut done = t.clone();
        done.status.state = TaskState::Completed;
        let committed = store
            .write_task(write(&done, 1, &[event(&done)], None))
            .await
            .unwrap();
        assert_eq!(
            committed,
            Committed {
                version: 2,
                first_seq: 3
            }
        );
    }

    #[tokio::test]
    async fn schema_pragmas_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.describe(), format!("sqlite:{}", path.display()));
        assert_eq!(
            SqliteStore::open_in_memory().unwrap().describe(),
            "sqlite::memory:"
        );
        drop(store);
        let raw = Connection::open(&path).unwrap();
        let mode: String = raw
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let version: i64 = raw
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let app: i32 = raw
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(app, APPLICATION_ID);
        // Reopening an up-to-date file changes nothing.
        drop(raw);
        SqliteStore::open(&path).unwrap();
    }

    #[test]
    fn garbage_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.db");
        let junk: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
        std::fs::write(&path, &junk).unwrap();
        let message = other_error(SqliteStore::open(&path));
        assert!(
            message.contains("is not a SQLite database") && message.contains("garbage.db"),
            "{message}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), junk, "the file was modified");
    }

    #[test]
    fn newer_schema_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        drop(SqliteStore::open(&path).unwrap());
        let raw = Connection::open(&path).unwrap();
        raw.pragma_update(None, "user_version", 99).unwrap();
        drop(raw);
        let message = other_error(SqliteStore::open(&path));
        assert!(
            message.contains("schema version 99") && message.contains("newer"),
            "{message}"
        );
    }

    #[test]
    fn other_applications_databases_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs.db");
        let raw = Connection::open(&theirs).unwrap();
        raw.execute_batch("CREATE TABLE notes (body TEXT)").unwrap();
        drop(raw);
        let message = other_error(SqliteStore::open(&theirs));
        assert!(message.contains("not an a2a-host store"), "{message}");

        let tagged = dir.path().join("tagged.db");
        let raw = Connection::open(&tagged).unwrap();
        raw.pragma_update(None, "application_id", 1234).unwrap();
        drop(raw);
        let message = other_error(SqliteStore::open(&tagged));
        assert!(message.contains("another application"), "{message}");
    }

    #[test]
    fn unopenable_path_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("tasks.db");
        let message = other_error(SqliteStore::open(&path));
        assert!(
            message.contains("cannot open") && message.contains("no-such-dir"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn corrupt_rows_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let store = SqliteStore::open(&path).unwrap();
        let t = task("t1", TaskState::Working);
        store
            .write_task(write(&t, 0, &[event(&t)], None))
            .await
            .unwrap();
        let raw = Connection::open(&path).unwrap();
        raw.execute_batch(
            "UPDATE tasks SET snapshot = '{not json'; UPDATE task_events SET event = x'00ff';",
        )
        .unwrap();
        drop(raw);
        match store.get_task("t1").await {
            Err(StoreError::Other(m)) => assert!(m.contains("`t1`"), "{m}"),
            other => panic!("expected an error, got {other:?}"),
        }
        assert!(matches!(
            store.events_after("t1", 0).await,
            Err(StoreError::Other(_))
        ));
        let query = TaskQuery {
            agent: "echo".into(),
            page_size: 10,
            ..Default::default()
        };
        assert!(matches!(
            store.list_tasks(&query).await,
            Err(StoreError::Other(_))
        ));
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

    /// A write that says its context is new skips the claim's look-up; the
    /// claim is still stored, and a false hint still cannot duplicate it.
    #[tokio::test]
    async fn a_claim_in_a_new_context_is_stored_without_a_look_up() {
        let store = SqliteStore::open_in_memory().unwrap();
        let t = task("first", TaskState::Submitted);
        let events = [event(&t)];
        let mut w = write(&t, 0, &events, Some("m1"));
        w.context_is_new = true;
        store.write_task(w).await.unwrap();
        assert_eq!(
            store.task_for_message("echo", "ctx", "m1").await.unwrap(),
            Some("first".to_string())
        );
        // A wrong hint: the claim's key refuses the write, and nothing of
        // it is kept.
        let t2 = task("second", TaskState::Submitted);
        let events = [event(&t2)];
        let mut w = write(&t2, 0, &events, Some("m1"));
        w.context_is_new = true;
        store.write_task(w).await.expect_err("a duplicate claim");
        assert_eq!(store.get_task("second").await.unwrap(), None);
        assert_eq!(
            store.task_for_message("echo", "ctx", "m1").await.unwrap(),
            Some("first".to_string())
        );
    }

    /// Two stores on one file, as two processes would have: each sees the
    /// other's commits and conflicts are detected across them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_handles_on_one_file_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());

        let t = task("shared", TaskState::Submitted);
        a.write_task(write(&t, 0, &[event(&t)], Some("m1")))
            .await
            .unwrap();
        assert_eq!(b.get_task("shared").await.unwrap().unwrap().task, t);
        let err = b
            .write_task(write(&t, 0, &[], None))
            .await
            .expect_err("create on the other handle");
        assert_eq!(err, StoreError::AlreadyExists("shared".into()));
        let t2 = task("other", TaskState::Submitted);
        let err = b
            .write_task(write(&t2, 0, &[], Some("m1")))
            .await
            .expect_err("claim on the other handle");
        assert!(matches!(err, StoreError::DuplicateMessage { task_id, .. } if task_id == "shared"));

        let mut working = t.clone();
        working.status.state = TaskState::Working;
        b.write_task(write(&working, 1, &[event(&working)], None))
            .await
            .unwrap();
        let err = a
            .write_task(write(&working, 1, &[event(&working)], None))
            .await
            .expect_err("stale write on the first handle");
        assert_eq!(
            err,
            StoreError::Conflict {
                task_id: "shared".into(),
                expected: 1,
                actual: 2
            }
        );

        // Increment a counter from both handles at once.
        const WORKERS: usize = 6;
        const INCREMENTS: u64 = 15;
        let mut handles = Vec::new();
        for w in 0..WORKERS {
            let store = if w % 2 == 0 { a.clone() } else { b.clone() };
            handles.push(tokio::spawn(async move {
                for _ in 0..INCREMENTS {
                    loop {
                        let current = store.get_task("shared").await.unwrap().unwrap();
                        let mut next = current.task.clone();
                        next.history.push(Message::user_text(format!("from {w}")));
                        let events = [event(&next)];
                        match store
                            .write_task(write(&next, current.version, &events, None))
                            .await
                        {
                            Ok(_) => break,
                            Err(StoreError::Conflict { .. }) => continue,
                            Err(e) => panic!("worker {w}: {e}"),
                        }
                    }
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let total = WORKERS as u64 * INCREMENTS;
        for store in [&a, &b] {
            let stored = store.get_task("shared").await.unwrap().unwrap();
            assert_eq!(stored.version, 2 + total);
            assert_eq!(stored.task.history.len() as u64, 1 + total);
            assert_eq!(stored.last_seq, 2 + total);
            let seqs: Vec<u64> = store
                .events_after("shared", 0)
                .await
                .unwrap()
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            assert_eq!(seqs, (1..=2 + total).collect::<Vec<_>>());
        }
    }

    /// An a2a-host file as an older release left it: the first `version`
    /// migration steps applied, and marked as such.
    fn file_of_schema(path: &Path, version: usize) -> Connection {
        let raw = Connection::open(path).unwrap();
        for step in &MIGRATIONS[..version] {
            raw.execute_batch(step).unwrap();
        }
        raw.pragma_update(None, "user_version", version as i64)
            .unwrap();
        raw.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        raw
    }

    /// A file from before retention (schema 1) gains the new tables on
    /// open; its context state counts as written at the upgrade.
    #[tokio::test]
    async fn schema_1_files_are_upgraded_for_retention() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        {
            let raw = file_of_schema(&path, 1);
            raw.execute(
                "INSERT INTO context_state (agent, context_id, key, value) \
                 VALUES ('echo', 'c1', 'a', x'01'), ('echo', 'c1', 'b', x'02'), \
                        ('echo', 'c2', 'a', x'03')",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let day = Duration::from_secs(24 * 3600);
        let policy = Retention {
            terminal_tasks: None,
            context_state: Some(day),
        };
        let report = store.purge(&policy, SystemTime::now()).await.unwrap();
        assert_eq!(report, PurgeReport::default());
        assert_eq!(
            store.get_state("echo", "c1", "b").await.unwrap(),
            Some(vec![2])
        );
        let report = store
            .purge(&policy, SystemTime::now() + day + Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(report.context_values, 3);
        assert_eq!(store.get_state("echo", "c2", "a").await.unwrap(), None);
    }

    /// A file of schema 2 gets the ascending indexes (and loses the index of
    /// claims by task) on open, and its tasks list and purge as before.
    #[tokio::test]
    async fn schema_2_files_get_ascending_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        {
            let raw = file_of_schema(&path, 2);
            for (i, id) in ["old", "new"].into_iter().enumerate() {
                let t = task(id, TaskState::Completed);
                raw.execute(
                    "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, \
                     last_seq, created_ms, updated_ms, snapshot) \
                     VALUES (?1, 'echo', 'ctx', 'TASK_STATE_COMPLETED', ?2, 1, 0, 0, 0, ?3)",
                    params![id, 1000 + i as i64, serde_json::to_string(&t).unwrap()],
                )
                .unwrap();
                raw.execute(
                    "INSERT INTO message_ids (agent, context_id, message_id, task_id) \
                     VALUES ('echo', 'ctx', ?1, ?2)",
                    params![format!("m-{id}"), id],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            let indexes: Vec<(String, String)> = conn
                .prepare(
                    "SELECT name, sql FROM sqlite_schema WHERE type = 'index' \
                     AND tbl_name IN ('tasks', 'message_ids') AND sql IS NOT NULL ORDER BY name",
                )
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let names: Vec<&str> = indexes.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(
                names,
                [
                    "tasks_by_context",
                    "tasks_by_state",
                    "tasks_by_time",
                    "tasks_expiring"
                ]
            );
            for (name, sql) in &indexes {
                assert!(!sql.contains("DESC"), "{name}: {sql}");
            }
        }
        let page = store
            .list_tasks(&TaskQuery {
                agent: "echo".into(),
                page_size: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let ids: Vec<&str> = page.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["new", "old"]);
        let report = purge_ended_a_minute_ago(&store).await;
        assert_eq!((report.tasks, report.message_claims), (2, 2));
    }

    /// A file of schema 3 (one row per event) keeps its event rows; events
    /// written after the upgrade share a row per write, and the log reads
    /// back whole and gap-free from any point, across both kinds of rows.
    #[tokio::test]
    async fn schema_3_event_rows_read_on_beside_batched_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let mut t = task("t", TaskState::Working);
        let old: Vec<StreamResponse> = ["one", "two"]
            .iter()
            .map(|text| {
                t.history.push(Message::user_text(*text));
                event(&t)
            })
            .collect();
        {
            let raw = file_of_schema(&path, 3);
            raw.execute(
                "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, \
                 last_seq, created_ms, updated_ms, snapshot) \
                 VALUES ('t', 'echo', 'ctx', 'TASK_STATE_WORKING', 0, 1, 2, 0, 0, ?1)",
                [serde_json::to_string(&t).unwrap()],
            )
            .unwrap();
            for (seq, e) in (1..).zip(&old) {
                raw.execute(
                    "INSERT INTO task_events (task_id, seq, event) VALUES ('t', ?1, ?2)",
                    params![seq, serde_json::to_string(e).unwrap()],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        let new: Vec<StreamResponse> = ["three", "four", "five"]
            .iter()
            .map(|text| {
                t.history.push(Message::user_text(*text));
                event(&t)
            })
            .collect();
        let committed = store.write_task(write(&t, 1, &new, None)).await.unwrap();
        assert_eq!((committed.version, committed.first_seq), (2, 3));
        let single = [event(&t)];
        let committed = store.write_task(write(&t, 2, &single, None)).await.unwrap();
        assert_eq!(committed.first_seq, 6);
        let all: Vec<(u64, StreamResponse)> = (1..)
            .zip(old.iter().chain(&new).chain(&single).cloned())
            .collect();
        for after in 0..=6 {
            let tail = store.events_after("t", after).await.unwrap();
            assert_eq!(tail, all[after as usize..].to_vec(), "after {after}");
        }
        let rows: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM task_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 4, "two old rows, one per write after");
        // A purge counts events, not rows.
        store
            .write_task(write(&task("t", TaskState::Completed), 3, &[], None))
            .await
            .unwrap();
        let report = purge_ended_a_minute_ago(&store).await;
        assert_eq!((report.tasks, report.events), (1, 6));
    }

    /// A batched row whose array does not hold the `n` events it claims is
    /// reported, not read short.
    #[tokio::test]
    async fn a_batched_event_row_of_the_wrong_length_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let store = SqliteStore::open(&path).unwrap();
        let t = task("t", TaskState::Working);
        let events = [event(&t), event(&t)];
        store.write_task(write(&t, 0, &events, None)).await.unwrap();
        Connection::open(&path)
            .unwrap()
            .execute("UPDATE task_events SET n = 3", [])
            .unwrap();
        let err = store.events_after("t", 0).await.unwrap_err().to_string();
        assert!(err.contains("hold 2 events, not 3"), "{err}");
    }

    /// A purge bigger than one batch deletes everything due, batch by batch.
    #[tokio::test]
    async fn purge_runs_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        let store = SqliteStore::open(&path).unwrap();
        let count = (PURGE_BATCH * 2 + 7) as i64;
        {
            let raw = Connection::open(&path).unwrap();
            raw.execute_batch("BEGIN").unwrap();
            for i in 0..count {
                let id = format!("bulk-{i}");
                let t = task(&id, TaskState::Completed);
                raw.execute(
                    "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, \
                     last_seq, created_ms, updated_ms, snapshot) \
                     VALUES (?1, 'echo', 'ctx', 'TASK_STATE_COMPLETED', ?2, 1, 1, 0, 0, ?3)",
                    params![id, 1000 + i, serde_json::to_string(&t).unwrap()],
                )
                .unwrap();
                raw.execute(
                    "INSERT INTO task_events (task_id, seq, event) VALUES (?1, 1, '{}')",
                    [&id],
                )
                .unwrap();
                raw.execute(
                    "INSERT INTO message_ids (agent, context_id, message_id, task_id) \
                     VALUES ('echo', 'ctx', ?1, ?1)",
                    [&id],
                )
                .unwrap();
            }
            raw.execute_batch("COMMIT").unwrap();
        }
        let mut keep = task("keep", TaskState::Completed);
        keep.status.timestamp = Timestamp::from_unix_millis(now_millis());
        store.write_task(write(&keep, 0, &[], None)).await.unwrap();
        let report = purge_ended_a_minute_ago(&store).await;
        let n = count as u64;
        assert_eq!(
            report,
            PurgeReport {
                tasks: n,
                events: n,
                message_claims: n,
                push_configs: 0,
                context_values: 0,
            }
        );
        assert!(store.get_task("keep").await.unwrap().is_some());
        assert_eq!(store.get_task("bulk-3").await.unwrap(), None);
    }

    /// Column `column` of every row that `explain` (`EXPLAIN` or `EXPLAIN
    /// QUERY PLAN`) gives for `sql`, its parameters bound to 0, 1, 2, ….
    fn explain(conn: &Connection, explain: &str, sql: &str, column: usize) -> Vec<String> {
        let mut stmt = conn.prepare(&format!("{explain} {sql}")).unwrap();
        let args: Vec<i64> = (0..stmt.parameter_count() as i64).collect();
        stmt.query_map(params_from_iter(&args), |r| r.get(column))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The purge finds expired tasks and idle contexts through indexes.
    #[test]
    fn purge_queries_use_the_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        for (sql, index) in [
            (EXPIRED_TASKS_SQL, "tasks_expiring"),
            (
                "SELECT agent, context_id FROM contexts WHERE updated_ms < ?1 \
                 ORDER BY updated_ms LIMIT ?2",
                "contexts_by_age",
            ),
            (PURGE_CLAIMS_SQL, "PRIMARY KEY (agent=? AND context_id=?)"),
        ] {
            // Column 3 of a query plan row is its detail.
            let plan = explain(&conn, "EXPLAIN QUERY PLAN", sql, 3).join("; ");
            assert!(plan.contains(index), "{sql}: {plan}");
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

    /// The statements of a task write build no temporary B-tree (an `IN`
    /// list in a partial index's predicate did, on every insert and
    /// update of a task).
    #[test]
    fn task_writes_build_no_temporary_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = open_connection(&path, "test").unwrap();
        configure_writer(&conn).unwrap();
        for sql in [
            INSERT_TASK_SQL,
            UPDATE_TASK_SQL,
            INSERT_EVENTS_SQL,
            INSERT_CLAIM_SQL,
        ] {
            // Column 1 of an EXPLAIN row is the opcode.
            let opcodes = explain(&conn, "EXPLAIN", sql, 1);
            assert!(
                opcodes.iter().any(|op| op == "Insert" || op == "IdxInsert"),
                "{sql}"
            );
            assert!(
                !opcodes.iter().any(|op| op == "OpenEphemeral"),
                "{sql}: {opcodes:?}"
            );
        }
    }

    /// A file of schema 4 gets the expiry index without the `IN` list, and
    /// its expired tasks are still found and purged.
    #[tokio::test]
    async fn schema_4_files_get_the_new_expiry_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.db");
        {
            let raw = file_of_schema(&path, 4);
            for (id, state) in [
                ("done", "TASK_STATE_COMPLETED"),
                ("open", "TASK_STATE_WORKING"),
            ] {
                let t = task(id, TaskState::Completed);
                raw.execute(
                    "INSERT INTO tasks (id, agent, context_id, state, status_ms, version, \
                     last_seq, created_ms, updated_ms, snapshot) \
                     VALUES (?1, 'echo', 'ctx', ?2, 1000, 1, 0, 0, 0, ?3)",
                    params![id, state, serde_json::to_string(&t).unwrap()],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            let sql: String = conn
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE name = 'tasks_expiring'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(!sql.contains(" IN "), "{sql}");
        }
        let report = purge_ended_a_minute_ago(&store).await;
        assert_eq!(report.tasks, 1);
        assert!(store.get_task("done").await.unwrap().is_none());
        assert!(store.get_task("open").await.unwrap().is_some());
    }

    /// ListTasks reads rows in index order: no full scan, no sort.
    #[test]
    fn list_queries_use_the_indexes() {
        let store_dir = tempfile::tempdir().unwrap();
        let path = store_dir.path().join("tasks.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        let base = TaskQuery {
            agent: "echo".into(),
            page_size: 10,
            ..Default::default()
        };
        let cases = [
            (base.clone(), None, "tasks_by_time"),
            (base.clone(), Some((5, "x".to_string())), "tasks_by_time"),
            (
                TaskQuery {
                    context_id: Some("c".into()),
                    ..base.clone()
                },
                Some((5, "x".to_string())),
                "tasks_by_context",
            ),
            (
                TaskQuery {
                    state: Some(TaskState::Working),
                    ..base.clone()
                },
                None,
                "tasks_by_state",
            ),
        ];
        for (query, cursor, index) in cases {
            let sql = ListSql::new(query, cursor);
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.page))
                .unwrap();
            let plan: Vec<String> = stmt
                .query_map(params_from_iter(&sql.args), |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("; ");
            assert!(plan.contains(index), "{}: {plan}", sql.page);
            assert!(!plan.contains("TEMP B-TREE"), "{}: {plan}", sql.page);
        }
    }
}
