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
//!
//! A task's push configs live in its entry, so a write finds out whether
//! it has any to queue notifications for without another look-up; the
//! outbox is in `outbox`.

use std::collections::{HashMap, HashSet};
use std::hash::RandomState;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use hashbrown::Equivalent;
use hashbrown::hash_map::EntryRef;
use parking_lot::RwLock;

use self::outbox::{Dead, Outbox, Pending};
use super::paging::{self, PageBuilder};
use super::{
    Committed, DeadPush, DeadPushQuery, PurgeReport, PushClaim, PushCounts, PushDelivery,
    PushFinish, PushKey, PushOutcome, Retention, Store, StoreError, StoredTask, TaskPage,
    TaskQuery, TaskWrite, status_millis, unix_millis,
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
    /// Queued notifications and dead letters.
    outbox: Outbox,
}

struct Entry {
    agent: String,
    /// Shared with the task manager's live copy and the write that made it.
    task: Arc<Task>,
    version: u64,
    /// The event log; the event at index `i` has sequence number `i + 1`.
    /// Shared with the streams that carried the events.
    events: Vec<Arc<StreamResponse>>,
    /// The task's push configs, oldest first.
    push: Vec<TaskPushNotificationConfig>,
}

mod outbox;

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

    /// The configs of an existing task.
    fn configs(&self, task_id: &str) -> &[TaskPushNotificationConfig] {
        self.tasks.get(task_id).map_or(&[], |e| &e.push)
    }
}

/// Creates or replaces `config` in `configs`; a replacement keeps its place
/// in creation order.
fn upsert_config(
    configs: &mut Vec<TaskPushNotificationConfig>,
    config: TaskPushNotificationConfig,
) {
    match configs.iter_mut().find(|c| c.id == config.id) {
        Some(existing) => *existing = config,
        None => configs.push(config),
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn write_task(&self, write: TaskWrite<'_>) -> Result<Committed, StoreError> {
        let push_config = write
            .checked_push_config()?
            .map(|(config, _)| config.clone());
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
        let event_count = events.len() as u64;
        let entry = match inner.tasks.entry_ref(id) {
            EntryRef::Occupied(e) => {
                let entry = e.into_mut();
                entry.task = snapshot;
                entry.version = version;
                entry.events.append(&mut events);
                entry
            }
            // The entry borrows the id (in `snapshot`) until it inserts.
            EntryRef::Vacant(e) => e.insert(Box::new(Entry {
                agent,
                task: Arc::clone(&snapshot),
                version,
                events,
                push: Vec::new(),
            })),
        };
        if let Some(config) = push_config {
            upsert_config(&mut entry.push, config);
        }
        // Tasks without configs (most) do nothing more, not even read the
        // clock.
        let mut pushes_queued = 0;
        let now_ms = if entry.push.is_empty() {
            0
        } else {
            unix_millis(SystemTime::now())
        };
        for config in &entry.push {
            for seq in last_seq + 1..=last_seq + event_count {
                let key = PushKey {
                    task_id: entry.task.id.clone(),
                    config_id: config.id.clone().unwrap_or_default(),
                    seq,
                };
                inner.outbox.pending.insert(key, Pending::new(now_ms));
                pushes_queued += 1;
            }
        }
        Ok(Committed {
            version,
            first_seq: last_seq + 1,
            pushes_queued,
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
        let (task_id, _) = super::outbox::push_config_key(config)?;
        let config = config.clone();
        let mut inner = self.inner.write();
        let Some(entry) = inner.tasks.get_mut(task_id) else {
            return Err(StoreError::NotFound(task_id.to_string()));
        };
        upsert_config(&mut entry.push, config);
        Ok(())
    }

    async fn get_push_config(
        &self,
        task_id: &str,
        config_id: &str,
    ) -> Result<Option<TaskPushNotificationConfig>, StoreError> {
        let inner = self.inner.read();
        Ok(inner
            .configs(task_id)
            .iter()
            .find(|c| c.id.as_deref() == Some(config_id))
            .cloned())
    }

    async fn list_push_configs(
        &self,
        task_id: &str,
    ) -> Result<Vec<TaskPushNotificationConfig>, StoreError> {
        let inner = self.inner.read();
        Ok(inner.configs(task_id).to_vec())
    }

    async fn delete_push_config(&self, task_id: &str, config_id: &str) -> Result<bool, StoreError> {
        let mut inner = self.inner.write();
        let Some(entry) = inner.tasks.get_mut(task_id) else {
            return Ok(false);
        };
        let Some(pos) = entry
            .push
            .iter()
            .position(|c| c.id.as_deref() == Some(config_id))
        else {
            return Ok(false);
        };
        entry.push.remove(pos);
        inner.outbox.drop_pending(task_id, config_id);
        Ok(true)
    }

    async fn claim_pushes(&self, claim: &PushClaim<'_>) -> Result<Vec<PushDelivery>, StoreError> {
        let now = claim.now_ms;
        let until = claim.lease_end();
        let mut inner = self.inner.write();
        let inner = &mut *inner;
        let mut due: Vec<(i64, PushKey)> = inner
            .outbox
            .heads()
            .filter(|(_, p)| p.claimable(now))
            .map(|(k, p)| (p.queued_ms, k.clone()))
            .collect();
        due.sort_unstable();
        let mut claimed = Vec::new();
        for (_, key) in due.into_iter().take(claim.limit) {
            let Some(delivery) = delivery(&inner.tasks, &key) else {
                continue;
            };
            let Some(row) = inner.outbox.pending.get_mut(&key) else {
                continue;
            };
            row.lease = Some((claim.owner.to_string(), until));
            claimed.push(PushDelivery {
                attempts: row.attempts,
                queued_ms: row.queued_ms,
                ..delivery
            });
        }
        Ok(claimed)
    }

    async fn finish_pushes(&self, owner: &str, done: &[PushFinish]) -> Result<(), StoreError> {
        let now = unix_millis(SystemTime::now());
        let mut inner = self.inner.write();
        let inner = &mut *inner;
        for finish in done {
            let key = &finish.key;
            let leased = inner
                .outbox
                .pending
                .get(key)
                .and_then(|p| p.lease.as_ref())
                .is_some_and(|(o, _)| o == owner);
            if !leased {
                continue;
            }
            match &finish.outcome {
                PushOutcome::Delivered => {
                    inner.outbox.pending.remove(key);
                }
                PushOutcome::Retry { at_ms, error } => {
                    if let Some(row) = inner.outbox.pending.get_mut(key) {
                        row.attempts = row.attempts.saturating_add(1);
                        row.next_ms = *at_ms;
                        row.lease = None;
                        row.error = Some(error.clone());
                    }
                }
                PushOutcome::Deferred { at_ms } => {
                    if let Some(row) = inner.outbox.pending.get_mut(key) {
                        row.next_ms = *at_ms;
                        row.lease = None;
                    }
                }
                PushOutcome::Dead { error } => {
                    let Some(row) = inner.outbox.pending.remove(key) else {
                        continue;
                    };
                    let url = inner
                        .configs(&key.task_id)
                        .iter()
                        .find(|c| c.id.as_deref() == Some(key.config_id.as_str()))
                        .map(|c| c.url.clone())
                        .unwrap_or_default();
                    inner.outbox.dead.insert(
                        key.clone(),
                        Dead {
                            queued_ms: row.queued_ms,
                            died_ms: now,
                            attempts: row.attempts.saturating_add(1),
                            url,
                            error: error.clone(),
                        },
                    );
                }
            }
        }
        Ok(())
    }

    async fn next_push_due(&self) -> Result<Option<i64>, StoreError> {
        let inner = self.inner.read();
        Ok(inner.outbox.heads().map(|(_, p)| p.due_ms()).min())
    }

    async fn dead_pushes(&self, query: &DeadPushQuery) -> Result<Vec<DeadPush>, StoreError> {
        let inner = self.inner.read();
        let found = inner
            .outbox
            .dead_matching(query, |id| inner.tasks.get(id).map(|e| e.agent.as_str()));
        Ok(found
            .into_iter()
            .take(query.limit)
            .map(|(key, d, agent)| DeadPush {
                key: key.clone(),
                agent: agent.to_string(),
                url: d.url.clone(),
                attempts: d.attempts,
                queued_ms: d.queued_ms,
                died_ms: d.died_ms,
                error: d.error.clone(),
            })
            .collect())
    }

    async fn requeue_dead_pushes(
        &self,
        query: &DeadPushQuery,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut inner = self.inner.write();
        let inner = &mut *inner;
        let keys: Vec<PushKey> = inner
            .outbox
            .dead_matching(query, |id| inner.tasks.get(id).map(|e| e.agent.as_str()))
            .into_iter()
            .map(|(k, _, _)| k.clone())
            .collect();
        let mut requeued = 0;
        for key in keys {
            inner.outbox.dead.remove(&key);
            let config_exists = inner
                .configs(&key.task_id)
                .iter()
                .any(|c| c.id.as_deref() == Some(key.config_id.as_str()));
            if config_exists {
                inner.outbox.pending.insert(key, Pending::new(now_ms));
                requeued += 1;
            }
        }
        Ok(requeued)
    }

    async fn push_counts(&self) -> Result<Vec<PushCounts>, StoreError> {
        let inner = self.inner.read();
        let mut counts: std::collections::BTreeMap<&str, PushCounts> = Default::default();
        let mut count = |task_id: &str, dead: bool| {
            let Some(entry) = inner.tasks.get(task_id) else {
                return;
            };
            let c = counts
                .entry(entry.agent.as_str())
                .or_insert_with(|| PushCounts {
                    agent: entry.agent.clone(),
                    ..Default::default()
                });
            if dead {
                c.dead += 1;
            } else {
                c.pending += 1;
            }
        };
        for key in inner.outbox.pending.keys() {
            count(&key.task_id, false);
        }
        for key in inner.outbox.dead.keys() {
            count(&key.task_id, true);
        }
        Ok(counts.into_values().collect())
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
                        report.push_configs += entry.push.len() as u64;
                    }
                    report.pushes += inner.outbox.drop_task(id);
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

/// What a claim of `key` hands out, but its attempts and age; `None` if its
/// task, config or event is gone.
fn delivery(tasks: &hashbrown::HashMap<String, Box<Entry>>, key: &PushKey) -> Option<PushDelivery> {
    let entry = tasks.get(&key.task_id)?;
    let config = entry
        .push
        .iter()
        .find(|c| c.id.as_deref() == Some(key.config_id.as_str()))?;
    let event = entry
        .events
        .get(usize::try_from(key.seq).ok()?.checked_sub(1)?)?;
    Some(PushDelivery {
        key: key.clone(),
        agent: entry.agent.clone(),
        config: config.clone(),
        event: StreamResponse::clone(event),
        attempts: 0,
        queued_ms: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;
    use crate::store::Store as _;
    use crate::store::conformance::Fixture;

    crate::store_conformance_tests!(Fixture::new(MemoryStore::new()));

    /// The checks never assume an empty store: all of them in a row on one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_whole_suite_passes_on_one_store() {
        let store: std::sync::Arc<dyn crate::store::Store> =
            std::sync::Arc::new(MemoryStore::new());
        crate::store::conformance::run_all(&store).await;
    }

    #[test]
    fn describes_itself() {
        assert_eq!(MemoryStore::new().describe(), "memory");
    }
}
