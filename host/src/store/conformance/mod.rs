//! The conformance suite every [`Store`] implementation must pass.
//!
//! Each check is a `pub async fn` taking the store under test; it panics
//! (like `assert!`) when the store misbehaves. Run them as separate tests
//! with [`store_conformance_tests!`](crate::store_conformance_tests), or all
//! in a row with [`run_all`]:
//!
//! ```ignore
//! #[cfg(test)]
//! mod tests {
//!     use crate::store::conformance::Fixture;
//!     crate::store_conformance_tests!(Fixture::new(MyStore::new()));
//! }
//! ```
//!
//! The fixture expression is evaluated once per test inside an `async fn`,
//! so it may `.await` (e.g. to connect to a database server). A store that
//! needs an outside service can use `store_conformance_tests!(optional EXPR)`
//! where `EXPR` is an `Option<Fixture>`: on `None` each test returns at once
//! (the fixture should print why it skipped). Checks never
//! assume an empty store: every agent, context and task id they use is
//! fresh, so the whole suite can run against one shared database. The
//! `purge_*` checks delete expired data of the *whole* store, and the
//! `outbox_*` checks claim notifications of the whole store, so neither may
//! run at the same time as other checks on a shared store (in [`run_all`]
//! everything runs in a row).
//!
//! Beyond what the [`Store`] docs say, the suite pins down these rules, which
//! every implementation must follow:
//! - a task id must not be empty; writing one fails;
//! - a message id claimed once in `(agent, context)` can never be claimed
//!   again there, not even by the same task: a resent follow-up is a
//!   duplicate too, reported with the holder's task id;
//! - on an update the claim is made for the agent that owns the task
//!   (`TaskWrite::agent` is ignored) and the context of the new snapshot;
//! - [`Store::events_after`] of an unknown task is an empty list;
//! - ListTasks orders by status time (milliseconds, a task without one counts
//!   as 0) descending, then by task id descending, comparing ids byte-wise
//!   (SQL stores need a binary collation); `page_size` is clamped to
//!   `1..=100`; an empty page token means the first page; a token that
//!   [`decode_page_token`](super::decode_page_token) rejects fails with
//!   [`StoreError::Other`](super::StoreError::Other) whose message
//!   mentions "page token";
//! - [`Store::tasks_in_states`] returns ids sorted ascending;
//! - a context value may be empty (`Some(vec![])`), which is not a deletion;
//! - a push config may only be stored for an existing task (otherwise
//!   [`StoreError::NotFound`](super::StoreError::NotFound)); both its ids
//!   must be non-empty (otherwise
//!   [`StoreError::Other`](super::StoreError::Other)); replacing a config
//!   keeps its place in the list;
//! - [`Store::purge`] compares status times and context write times with
//!   the cutoff strictly (older than the cutoff expires); a context's write
//!   time is the store's clock (`SystemTime::now()`) when a value was set;
//!   a purged task's id and message ids can be used again;
//! - a [`TaskWrite::push_config`](super::TaskWrite::push_config) of another
//!   task fails the write with [`StoreError::Other`](super::StoreError::Other);
//! - claims of notifications queued at the same time come in key order
//!   (task, config, sequence number); a lease ending at `t` is free for a
//!   claim at `t + 1`, not at `t`; [`Store::next_push_due`] looks at the
//!   heads of the queues only (a row behind its head is claimable no
//!   sooner than its head is settled);
//! - a dead letter's attempts count the attempt that killed it.

use std::any::Any;
use std::sync::Arc;

use super::Store;

mod context_state;
mod helpers;
mod list;
mod load;
mod outbox;
mod purge;
mod push_configs;
mod tasks;

pub use self::context_state::*;
pub use self::list::*;
pub use self::load::*;
pub use self::outbox::*;
pub use self::purge::*;
pub use self::push_configs::*;
pub use self::tasks::*;

/// A store under test plus whatever must outlive it (a temporary directory,
/// a database handle, …).
pub struct Fixture {
    // Declared before `_guard` so the store is dropped first.
    store: Arc<dyn Store>,
    _guard: Box<dyn Any + Send>,
}

impl Fixture {
    /// A fixture that is just the store.
    pub fn new(store: impl Store) -> Self {
        Self::with_guard(store, ())
    }

    /// A fixture that keeps `guard` alive until after the store is dropped.
    pub fn with_guard(store: impl Store, guard: impl Any + Send) -> Self {
        Fixture {
            store: Arc::new(store),
            _guard: Box::new(guard),
        }
    }

    /// The store under test.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// Expands to one `#[tokio::test]` per conformance check, each running on a
/// fresh fixture built by the given expression (of type [`Fixture`]).
///
/// With `optional EXPR`, the expression is an `Option<Fixture>` and `None`
/// makes every test return without checking anything (for stores that need
/// a server the environment may not have).
#[macro_export]
macro_rules! store_conformance_tests {
    // The single list of checks; `run_all` and the tests both expand it.
    (@each $mode:ident $args:tt) => {
        $crate::store_conformance_tests!(@ $mode $args
            create_then_get
            create_twice_is_already_exists
            update_with_current_version
            update_of_missing_task_is_not_found
            empty_task_id_is_rejected
            stale_version_conflicts_and_writes_nothing
            events_are_gap_free_across_writes
            duplicate_message_claim_is_rejected
            message_claims_are_scoped_to_agent_and_context
            list_orders_and_filters
            list_paginates_through_all_pages
            list_page_size_is_clamped
            list_rejects_invalid_page_token
            tasks_in_states_filters_by_agent_and_state
            context_state_round_trips_and_is_isolated
            push_configs_round_trip
            concurrent_conflicting_updates_lose_nothing
            large_payloads_round_trip
            outbox_queues_each_event_for_each_config
            outbox_push_config_in_the_write
            outbox_claims_only_the_head_of_each_queue
            outbox_claims_oldest_first_up_to_the_limit
            outbox_leases_are_exclusive_until_they_end
            outbox_retry_and_dead_letters
            outbox_delete_config_keeps_dead_letters
            outbox_dead_letters_list_and_requeue
            outbox_counts_per_agent
            outbox_next_push_due
            purge_expires_terminal_tasks_only
            purge_expires_idle_context_state
            purge_removes_outbox_rows
        );
    };
    (@tests ($make:expr) $($name:ident)*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture: $crate::store::conformance::Fixture = $make;
                $crate::store::conformance::$name(fixture.store()).await;
            }
        )*
    };
    (@optional_tests ($make:expr) $($name:ident)*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture: ::std::option::Option<$crate::store::conformance::Fixture> = $make;
                let ::std::option::Option::Some(fixture) = fixture else {
                    return;
                };
                $crate::store::conformance::$name(fixture.store()).await;
            }
        )*
    };
    (@run_all ($store:expr) $($name:ident)*) => {
        $( $crate::store::conformance::$name($store).await; )*
    };
    (optional $make:expr) => {
        $crate::store_conformance_tests!(@each optional_tests ($make));
    };
    ($make:expr) => {
        $crate::store_conformance_tests!(@each tests ($make));
    };
}

/// Runs every check, one after the other, against one store.
pub async fn run_all(store: &Arc<dyn Store>) {
    crate::store_conformance_tests!(@each run_all (store));
}
