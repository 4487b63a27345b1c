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
//! When the task has push configs (`tasks.push_configs` counts them and is
//! read with the version), the same transaction queues a `push_outbox` row
//! per event and config; see `outbox`.
//!
//! [`Store::write_task`]: super::Store::write_task

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex as SyncMutex;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use serde::de::DeserializeOwned;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard, Semaphore};

use self::checkpoint::spawn_checkpointer;
use self::commit::WriteQueue;
use self::schema::{configure_writer, migrate};
use super::StoreError;

mod checkpoint;
mod commit;
mod list;
mod outbox;
mod purge;
mod schema;
mod store_impl;
#[cfg(test)]
mod testing;
mod write;

pub use self::schema::MIGRATIONS;

/// How long a connection waits for another connection's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The most reader connections one store keeps open.
pub const MAX_READERS: usize = 4;

/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 64;

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

#[cfg(test)]
mod tests {
    use super::testing::other_error;
    use super::*;

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
    fn unopenable_path_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("tasks.db");
        let message = other_error(SqliteStore::open(&path));
        assert!(
            message.contains("cannot open") && message.contains("no-such-dir"),
            "{message}"
        );
    }
}
