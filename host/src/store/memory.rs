//! A store that keeps everything in process memory.
//!
//! [`MemoryStore`] is the default for development and tests: nothing
//! survives a restart. It keeps one [`parking_lot::RwLock`] over all of its
//! maps. Every operation takes the lock, does a bounded amount of in-memory
//! work, and releases it before returning; no `.await` happens while the lock
//! is held, so a synchronous lock is both correct and cheaper than an async
//! one. A write keeps the snapshot and events it is given (they are behind
//! `Arc`s shared with the task manager and the task's streams) instead of
//! copying them, so writers hold the lock only for the checks and a few map
//! insertions.
//!
//! Semantics match [`super::sqlite::SqliteStore`] exactly; both run the
//! `conformance` suite.

use std::collections::{HashMap, HashSet};
use std::hash::RandomState;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use hashbrown::Equivalent;
use parking_lot::RwLock;

use super::paging::{self, PageBuilder};
use super::{
    Committed, PurgeReport, Retention, Store, StoreError, StoredTask, TaskPage, TaskQuery,
    TaskWrite, status_millis, unix_millis,
};
use crate::model::{StreamResponse, Task, TaskPushNotificationConfig, TaskState};

/// Tasks, event logs, context state and push configs in process memory.
#[derive(Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Boxed: growing the map moves every entry, and an entry is a few
    /// hundred bytes. At ~500k tasks one growth paused the store for
    /// 486 ms with entries inline, 204 ms boxed (the rest is re-hashing
    /// the keys, here and in `claims`). Hashed with foldhash, not SipHash:
    /// the keys are ids this host made (time-ordered uuids), so nobody can
    /// choose them to collide, and re-hashing them all whenever the map
    /// grows is the store's largest single cost.
    tasks: hashbrown::HashMap<String, Box<Entry>>,
    /// (agent, context id, message id) → task id. One flat map: a map per
    /// context cost an allocation and a re-hash of its own for every new
    /// context. SipHash, as the client chooses context and message ids.
    claims: hashbrown::HashMap<ClaimKey, String, RandomState>,
    /// agent → context id → the context's values.
    state: HashMap<String, HashMap<String, ContextState>>,
    /// task id → configs, oldest first.
    push: HashMap<String, Vec<TaskPushNotificationConfig>>,
}

struct Entry {
    agent: String,
    /// Shared with the task manager's live copy and the write that made it.
    task: Arc<Task>,
    version: u64,
    /// The event log; the event at index `i` has sequence number `i + 1`.
    /// Shared with the streams that carried the events.
    events: Vec<Arc<StreamResponse>>,
}

/// The key of a message claim.
#[derive(Hash, PartialEq, Eq)]
struct ClaimKey {
    agent: String,
    context_id: String,
    message_id: String,
}

/// A [`ClaimKey`] to look up, borrowed. It hashes exactly as the owned key
/// (a `String` hashes as its `str`).
#[derive(Hash)]
struct ClaimRef<'a> {
    agent: &'a str,
    context_id: &'a str,
    message_id: &'a str,
}

impl Equivalent<ClaimKey> for ClaimRef<'_> {
    fn equivalent(&self, key: &ClaimKey) -> bool {
        self.agent == key.agent
            && self.context_id == key.context_id
            && self.message_id == key.message_id
    }
}

/// The values of one context and when one was last stored.
struct ContextState {
    written_ms: i64,
    values: HashMap<String, Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Inner {
    fn claimed_by(&self, agent: &str, context_id: &str, message_id: &str) -> Option<&String> {
        self.claims.get(&ClaimRef {
            agent,
            context_id,
            message_id,
        })
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn write_task(&self, write: TaskWrite<'_>) -> Result<Committed, StoreError> {
        // Kept as given: the snapshot and events are shared, not copied.
        let snapshot = write.task;
        let mut events = write.events;
        let id = snapshot.id.as_str();
        if id.is_empty() {
            return Err(StoreError::Other("a task needs a non-empty id".into()));
        }

        let mut inner = self.inner.write();
        let inner = &mut *inner;

        // Version check first: it decides which agent owns the claim.
        let (agent, last_seq) = match (inner.tasks.get(id), write.expected_version) {
            (Some(_), 0) => return Err(StoreError::AlreadyExists(id.to_string())),
            (None, 0) => (write.agent, 0),
            (None, _) => return Err(StoreError::NotFound(id.to_string())),
            (Some(e), expected) if e.version != expected => {
                return Err(StoreError::Conflict {
                    task_id: id.to_string(),
                    expected,
                    actual: e.version,
                });
            }
            (Some(e), _) => (e.agent.as_str(), e.events.len() as u64),
        };

        // Any earlier claim makes this write a resend, even one by this
        // very task (a repeated follow-up message).
        if let Some(message_id) = write.claim_message_id
            && let Some(holder) = inner.claimed_by(agent, &snapshot.context_id, message_id)
        {
            return Err(StoreError::DuplicateMessage {
                message_id: message_id.to_string(),
                task_id: holder.clone(),
            });
        }

        // Every check passed: from here on nothing can fail.
        let agent = agent.to_string();
        if let Some(message_id) = write.claim_message_id {
            let key = ClaimKey {
                agent: agent.clone(),
                context_id: snapshot.context_id.clone(),
                message_id: message_id.to_string(),
            };
            inner.claims.insert(key, id.to_string());
        }
        let version = write.expected_version + 1;
        match inner.tasks.get_mut(id) {
            Some(entry) => {
                entry.task = snapshot;
                entry.version = version;
                entry.events.append(&mut events);
            }
            None => {
                inner.tasks.insert(
                    id.to_string(),
                    Box::new(Entry {
                        agent,
                        task: snapshot,
                        version,
                        events,
                    }),
                );
            }
        }
        Ok(Committed {
            version,
            first_seq: last_seq + 1,
        })
    }

    async fn get_task(&self, task_id: &str) -> Result<Option<StoredTask>, StoreError> {
        let inner = self.inner.read();
        Ok(inner.tasks.get(task_id).map(|e| StoredTask {
            task: Task::clone(&e.task),
            version: e.version,
            agent: e.agent.clone(),
            last_seq: e.events.len() as u64,
        }))
    }

    async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskPage, StoreError> {
        let cursor = paging::cursor(query)?;
        let page_size = paging::page_size(query);
        let after_ms = query.status_after.map(|t| t.unix_millis());

        let inner = self.inner.read();
        let mut matching: Vec<(i64, &Task)> = inner
            .tasks
            .values()
            .filter(|e| e.agent == query.agent)
            .filter(|e| {
                query
                    .context_id
                    .as_deref()
                    .is_none_or(|c| e.task.context_id == c)
            })
            .filter(|e| query.state.is_none_or(|s| e.task.status.state == s))
            .map(|e| (status_millis(&e.task), &*e.task))
            .filter(|(ms, _)| after_ms.is_none_or(|after| *ms >= after))
            .collect();
        let total_size = matching.len() as u64;
        // Newest first, ties by id descending: the order of the SQL stores.
        matching.sort_unstable_by(|(a_ms, a), (b_ms, b)| {
            b_ms.cmp(a_ms)
                .then_with(|| b.id.as_str().cmp(a.id.as_str()))
        });
        let start = match &cursor {
            None => 0,
            // The first row strictly after the cursor in this order.
            Some((c_ms, c_id)) => matching.partition_point(|(ms, t)| {
                *ms > *c_ms || (*ms == *c_ms && t.id.as_str() >= c_id.as_str())
            }),
        };
        let mut page = PageBuilder::new(page_size);
        for (ms, t) in &matching[start..] {
            if !page.has_room() {
                break;
            }
            page.push(*ms, t.id.clone(), Task::clone(t));
        }
        Ok(page.finish(total_size))
    }

    async fn events_after(
        &self,
        task_id: &str,
        after_seq: u64,
    ) -> Result<Vec<(u64, StreamResponse)>, StoreError> {
        let inner = self.inner.read();
        let Some(entry) = inner.tasks.get(task_id) else {
            return Ok(Vec::new());
        };
        let start = usize::try_from(after_seq)
            .unwrap_or(usize::MAX)
            .min(entry.events.len());
        Ok(entry.events[start..]
            .iter()
            .zip(start as u64 + 1..)
            .map(|(e, seq)| (seq, StreamResponse::clone(e)))
            .collect())
    }

    async fn task_for_message(
        &self,
        agent: &str,
        context_id: &str,
        message_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .inner
            .read()
            .claimed_by(agent, context_id, message_id)
            .cloned())
    }

    async fn tasks_in_states(
        &self,
        agent: Option<&str>,
        states: &[TaskState],
    ) -> Result<Vec<String>, StoreError> {
        let inner = self.inner.read();
        let mut ids: Vec<String> = inner
            .tasks
            .iter()
            .filter(|(_, e)| agent.is_none_or(|a| e.agent == a))
            .filter(|(_, e)| states.contains(&e.task.status.state))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    async fn get_state(
        &self,
        agent: &str,
        context_id: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let inner = self.inner.read();
        Ok(inner
            .state
            .get(agent)
            .and_then(|m| m.get(context_id))
            .and_then(|c| c.values.get(key))
            .cloned())
    }

    async fn set_state(
        &self,
        agent: &str,
        context_id: &str,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let value = value.map(<[u8]>::to_vec);
        let now = unix_millis(SystemTime::now());
        let mut inner = self.inner.write();
        match value {
            Some(v) => {
                let context = inner
                    .state
                    .entry(agent.to_string())
                    .or_default()
                    .entry(context_id.to_string())
                    .or_insert_with(|| ContextState {
                        written_ms: now,
                        values: HashMap::new(),
                    });
                context.written_ms = now;
                context.values.insert(key.to_string(), v);
            }
            None => {
                let Some(contexts) = inner.state.get_mut(agent) else {
                    return Ok(());
                };
                if let Some(context) = contexts.get_mut(context_id) {
                    context.values.remove(key);
                    if context.values.is_empty() {
                        contexts.remove(context_id);
                    }
                }
                if contexts.is_empty() {
                    inner.state.remove(agent);
                }
            }
        }
        Ok(())
    }

    async fn put_push_config(&self, config: &TaskPushNotificationConfig) -> Result<(), StoreError> {
        let (task_id, config_id) = push_config_key(config)?;
        let config = config.clone();
        let mut inner = self.inner.write();
        if !inner.tasks.contains_key(task_id) {
            return Err(StoreError::NotFound(task_id.to_string()));
        }
        let configs = inner.push.entry(task_id.to_string()).or_default();
        match configs
            .iter_mut()
            .find(|c| c.id.as_deref() == Some(config_id))
        {
            // A replacement keeps the config's place in creation order.
            Some(existing) => *existing = config,
            None => configs.push(config),
        }
        Ok(())
    }

    async fn get_push_config(
        &self,
        task_id: &str,
        config_id: &str,
    ) -> Result<Option<TaskPushNotificationConfig>, StoreError> {
        let inner = self.inner.read();
        Ok(inner.push.get(task_id).and_then(|configs| {
            configs
                .iter()
                .find(|c| c.id.as_deref() == Some(config_id))
                .cloned()
        }))
    }

    async fn list_push_configs(
        &self,
        task_id: &str,
    ) -> Result<Vec<TaskPushNotificationConfig>, StoreError> {
        let inner = self.inner.read();
        Ok(inner.push.get(task_id).cloned().unwrap_or_default())
    }

    async fn delete_push_config(&self, task_id: &str, config_id: &str) -> Result<bool, StoreError> {
        let mut inner = self.inner.write();
        let Some(configs) = inner.push.get_mut(task_id) else {
            return Ok(false);
        };
        let Some(pos) = configs
            .iter()
            .position(|c| c.id.as_deref() == Some(config_id))
        else {
            return Ok(false);
        };
        configs.remove(pos);
        if configs.is_empty() {
            inner.push.remove(task_id);
        }
        Ok(true)
    }

    async fn purge(&self, policy: &Retention, now: SystemTime) -> Result<PurgeReport, StoreError> {
        let cutoffs = policy.cutoffs(now);
        let mut report = PurgeReport::default();
        let mut inner = self.inner.write();
        let inner = &mut *inner;
        if let Some(before) = cutoffs.terminal_status_before_ms {
            let expired: HashSet<String> = inner
                .tasks
                .iter()
                .filter(|(_, e)| {
                    e.task.status.state.is_terminal() && status_millis(&e.task) < before
                })
                .map(|(id, _)| id.clone())
                .collect();
            if !expired.is_empty() {
                for id in &expired {
                    if let Some(entry) = inner.tasks.remove(id) {
                        report.tasks += 1;
                        report.events += entry.events.len() as u64;
                    }
                    if let Some(configs) = inner.push.remove(id) {
                        report.push_configs += configs.len() as u64;
                    }
                }
                let before = inner.claims.len();
                inner.claims.retain(|_, task_id| !expired.contains(task_id));
                report.message_claims += (before - inner.claims.len()) as u64;
            }
        }
        if let Some(before) = cutoffs.state_written_before_ms {
            inner.state.retain(|_, contexts| {
                contexts.retain(|_, context| {
                    let expired = context.written_ms < before;
                    if expired {
                        report.context_values += context.values.len() as u64;
                    }
                    !expired
                });
                !contexts.is_empty()
            });
        }
        Ok(report)
    }

    fn describe(&self) -> String {
        "memory".to_string()
    }
}

/// The `(task id, config id)` of a push config, both required and non-empty.
pub(crate) fn push_config_key(
    config: &TaskPushNotificationConfig,
) -> Result<(&str, &str), StoreError> {
    let task_id = config
        .task_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| StoreError::Other("a push config needs a task id".into()))?;
    let config_id = config
        .id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| StoreError::Other("a push config needs an id".into()))?;
    Ok((task_id, config_id))
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;
    use crate::store::Store as _;
    use crate::store::conformance::Fixture;

    crate::store_conformance_tests!(Fixture::new(MemoryStore::new()));

    #[test]
    fn describes_itself() {
        assert_eq!(MemoryStore::new().describe(), "memory");
    }
}
