//! One task write inside the committer's transaction: its checks, then
//! its rows.

use rusqlite::{Connection, OptionalExtension, params};

use super::outbox::{put_config, queue_events};
use super::{now_millis, to_json};
use crate::store::{Committed, StoreError, TaskWrite, status_millis};

/// A [`TaskWrite`] with everything owned and serialized, ready to queue
/// for the committer.
pub(super) struct EncodedWrite {
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
    /// [`TaskWrite::push_config`]: its id and JSON.
    push_config: Option<(String, String)>,
}

impl EncodedWrite {
    /// Serializes `write` for the queue; refuses a task without an id.
    pub(super) fn new(write: &TaskWrite<'_>) -> Result<Self, StoreError> {
        let task = &*write.task;
        if task.id.is_empty() {
            return Err(StoreError::Other("a task needs a non-empty id".into()));
        }
        let push_config = match write.checked_push_config()? {
            Some((config, config_id)) => Some((config_id.to_string(), to_json(config)?)),
            None => None,
        };
        Ok(EncodedWrite {
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
            push_config,
        })
    }
}

/// Why [`write_one`] did not write.
pub(super) enum WriteFailure {
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
pub(super) fn write_one(tx: &Connection, w: &EncodedWrite) -> Result<Committed, WriteFailure> {
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
    let pushes_queued = write_pushes(tx, w, &checked).map_err(WriteFailure::Broken)?;
    Ok(Committed {
        version,
        first_seq: last_seq + 1,
        pushes_queued,
    })
}

/// The write's push config, and its events' notifications for every
/// config of the task. A task without configs (the count read by the
/// checks) costs nothing here.
fn write_pushes(tx: &Connection, w: &EncodedWrite, checked: &Checked) -> Result<u64, StoreError> {
    let mut configs = checked.push_configs;
    if let Some((config_id, json)) = &w.push_config {
        configs = put_config(tx, &w.id, config_id, json)?;
    }
    if configs == 0 || w.event_count == 0 {
        return Ok(0);
    }
    let first = checked.last_seq + 1;
    queue_events(tx, &w.id, first..=checked.new_last_seq(w), now_millis())
}

/// What the checks of a task write found.
struct Checked {
    /// The task's new version.
    version: u64,
    /// The task's last event sequence number before the write.
    last_seq: u64,
    /// The agent that owns the task (`None`: the write creates it).
    owner: Option<String>,
    /// How many push configs the task has before the write.
    push_configs: i64,
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
            push_configs: 0,
        });
    }
    let current: Option<(String, u64, u64, i64)> = tx
        .prepare_cached("SELECT agent, version, last_seq, push_configs FROM tasks WHERE id = ?1")?
        .query_row([&w.id], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get(3)?,
            ))
        })
        .optional()?;
    let (agent, last_seq, push_configs) = match current {
        None => return Err(StoreError::NotFound(w.id.clone())),
        Some((_, actual, _, _)) if actual != w.expected_version => {
            return Err(StoreError::Conflict {
                task_id: w.id.clone(),
                expected: w.expected_version,
                actual,
            });
        }
        Some((agent, _, last_seq, push_configs)) => (agent, last_seq, push_configs),
    };
    check_claim(tx, w, &agent)?;
    Ok(Checked {
        version: w.expected_version + 1,
        last_seq,
        owner: Some(agent),
        push_configs,
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

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::super::testing::{event, explain, task, write};
    use super::super::{open_connection, schema::configure_writer};
    use super::*;
    use crate::model::TaskState;
    use crate::store::Store as _;

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
}
