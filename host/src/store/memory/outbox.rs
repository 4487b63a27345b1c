//! The memory store's push outbox: pending notifications and dead letters
//! in ordered maps, so a config's queue is a key range and its head the
//! range's first entry.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::store::{DeadPushQuery, PushKey};

/// Queued notifications and dead letters, kept apart: a config's head is
/// the first pending entry of its range, whatever died before it.
#[derive(Default)]
pub(super) struct Outbox {
    pub(super) pending: BTreeMap<PushKey, Pending>,
    pub(super) dead: BTreeMap<PushKey, Dead>,
}

/// A notification waiting for delivery (or being delivered).
pub(super) struct Pending {
    pub(super) queued_ms: i64,
    pub(super) next_ms: i64,
    pub(super) attempts: u32,
    /// Owner and end of the current lease.
    pub(super) lease: Option<(String, i64)>,
    /// The last failed attempt's error, kept for a later dead letter.
    pub(super) error: Option<String>,
}

impl Pending {
    pub(super) fn new(now_ms: i64) -> Self {
        Pending {
            queued_ms: now_ms,
            next_ms: now_ms,
            attempts: 0,
            lease: None,
            error: None,
        }
    }

    /// When it can be claimed: the later of its next attempt and the end
    /// of its lease.
    pub(super) fn due_ms(&self) -> i64 {
        match &self.lease {
            Some((_, until)) => self.next_ms.max(*until),
            None => self.next_ms,
        }
    }

    /// Whether a claim at `now_ms` may take it (if it is its config's head).
    pub(super) fn claimable(&self, now_ms: i64) -> bool {
        self.next_ms <= now_ms && self.lease.as_ref().is_none_or(|(_, until)| *until < now_ms)
    }
}

/// A dead letter.
pub(super) struct Dead {
    pub(super) queued_ms: i64,
    pub(super) died_ms: i64,
    pub(super) attempts: u32,
    pub(super) url: String,
    pub(super) error: String,
}

/// The first key of a task's rows (`config` empty) or of one config's.
fn range_start(task_id: &str, config_id: &str) -> PushKey {
    PushKey {
        task_id: task_id.to_string(),
        config_id: config_id.to_string(),
        seq: 0,
    }
}

/// Removes the run of keys from `start` on for which `within` holds;
/// returns how many.
fn drop_run<V>(
    map: &mut BTreeMap<PushKey, V>,
    start: PushKey,
    within: impl Fn(&PushKey) -> bool,
) -> u64 {
    let keys: Vec<PushKey> = map
        .range((Bound::Included(start), Bound::Unbounded))
        .map(|(k, _)| k)
        .take_while(|k| within(k))
        .cloned()
        .collect();
    for key in &keys {
        map.remove(key);
    }
    keys.len() as u64
}

impl Outbox {
    /// The pending rows that head their config's queue.
    pub(super) fn heads(&self) -> impl Iterator<Item = (&PushKey, &Pending)> {
        let mut last: Option<(&str, &str)> = None;
        self.pending.iter().filter(move |(k, _)| {
            let group = (k.task_id.as_str(), k.config_id.as_str());
            let first = last != Some(group);
            last = Some(group);
            first
        })
    }

    /// Drops one config's pending rows.
    pub(super) fn drop_pending(&mut self, task_id: &str, config_id: &str) {
        drop_run(&mut self.pending, range_start(task_id, config_id), |k| {
            k.task_id == task_id && k.config_id == config_id
        });
    }

    /// Drops every row of a task, pending or dead; returns how many.
    pub(super) fn drop_task(&mut self, task_id: &str) -> u64 {
        let of_task = |k: &PushKey| k.task_id == task_id;
        drop_run(&mut self.pending, range_start(task_id, ""), of_task)
            + drop_run(&mut self.dead, range_start(task_id, ""), of_task)
    }

    /// The dead letters matching `query` (its agent checked by `agent_of`),
    /// oldest death first, ties by key.
    pub(super) fn dead_matching<'a>(
        &'a self,
        query: &DeadPushQuery,
        agent_of: impl Fn(&str) -> Option<&'a str>,
    ) -> Vec<(&'a PushKey, &'a Dead, &'a str)> {
        let mut found: Vec<_> = self
            .dead
            .iter()
            .filter(|(k, _)| query.task_id.as_deref().is_none_or(|t| k.task_id == t))
            .filter_map(|(k, d)| agent_of(&k.task_id).map(|agent| (k, d, agent)))
            .filter(|(_, _, agent)| query.agent.as_deref().is_none_or(|a| *agent == a))
            .collect();
        found.sort_by(|(ka, a, _), (kb, b, _)| a.died_ms.cmp(&b.died_ms).then_with(|| ka.cmp(kb)));
        found
    }
}
