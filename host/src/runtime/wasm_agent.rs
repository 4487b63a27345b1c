//! [`WasmAgent`]: one loaded version of a component, run as an
//! [`Agent`](crate::agent::Agent) with a fresh instance per turn.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Semaphore, SemaphorePermit};
use wasmtime::{Store, Trap};

use super::bindings::{AgentPre, HostState, StateParams, truncate, wit};
use super::component::{Compiled, LoadError, RuntimeInner};
use super::http::{Allowlist, OutboundHttp};
use super::policy::AgentPolicy;
use crate::agent::{Agent, AgentError, AgentInfo, TaskContext, TaskUsage};
use crate::log_throttle::log_throttled;
use crate::model::AgentSkill;

/// Total bytes of text a card may carry (all strings together) by default;
/// `limits.card_kb` in `NAME.toml` changes it per agent.
pub const MAX_CARD_BYTES: usize = 64 * 1024;
/// Skills a card may list.
pub const MAX_CARD_SKILLS: usize = 256;
/// Longest error message an agent may return; longer ones are cut.
const MAX_ERROR_MESSAGE: usize = 16 * 1024;

/// A component loaded as an agent. Cheap to clone; tasks running on it keep
/// it (and its compiled code) alive after a hot reload replaced it.
#[derive(Clone)]
pub struct WasmAgent {
    inner: Arc<AgentInner>,
}

struct AgentInner {
    runtime: Arc<RuntimeInner>,
    name: Arc<str>,
    pre: AgentPre<HostState>,
    policy: AgentPolicy,
    allow: Arc<Allowlist>,
    config: Arc<BTreeMap<String, String>>,
    info: AgentInfo,
    digest: String,
    cache_hit: bool,
    source: Option<PathBuf>,
    slots: Semaphore,
    /// Turns waiting for a slot (theirs or the host's), at most
    /// `limits.max_queued`.
    waiting: AtomicU32,
}

impl std::fmt::Debug for WasmAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmAgent")
            .field("name", &self.inner.name)
            .field("digest", &self.inner.digest)
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

/// How a turn ended, before it is turned into an [`AgentError`].
enum Ended {
    Returned(Result<(), wit::AgentError>),
    Instantiate(wasmtime::Error),
    Trapped(wasmtime::Error),
    TimedOut,
    Stopped,
}

impl WasmAgent {
    /// Read the card (one instance, `card()` under a deadline) and wrap.
    pub(crate) async fn new(
        runtime: Arc<RuntimeInner>,
        name: &str,
        pre: AgentPre<HostState>,
        policy: AgentPolicy,
        compiled: &Compiled,
        source: Option<PathBuf>,
    ) -> Result<WasmAgent, LoadError> {
        let mut inner = AgentInner {
            slots: Semaphore::new(policy.limits.max_concurrent as usize),
            allow: Arc::new(policy.network.clone()),
            config: Arc::new(policy.config.clone()),
            runtime,
            name: Arc::from(name),
            pre,
            policy,
            info: AgentInfo::default(),
            digest: compiled.digest.clone(),
            cache_hit: compiled.cache_hit,
            source,
            waiting: AtomicU32::new(0),
        };
        let card = inner.read_card().await?;
        let mut info = card_to_info(card, name, inner.policy.limits.card_bytes)?;
        inner.policy.card.apply(&mut info);
        inner.info = info;
        Ok(WasmAgent {
            inner: Arc::new(inner),
        })
    }

    /// The name the agent is served under.
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    /// The operator policy it runs under.
    pub fn policy(&self) -> &AgentPolicy {
        &self.inner.policy
    }
    /// Hex SHA-256 of the `.wasm` bytes.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }
    /// Whether the compiled code came from the on-disk cache.
    pub fn cache_hit(&self) -> bool {
        self.inner.cache_hit
    }
    /// The file it was loaded from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.inner.source.as_deref()
    }
}

impl AgentInner {
    fn new_store(&self, task: &str, spent: TaskUsage) -> wasmtime::Result<Store<HostState>> {
        let rt = &self.runtime;
        let limits = &self.policy.limits;
        let state = HostState::new(StateParams {
            agent: self.name.clone(),
            task: Arc::from(task),
            config: self.config.clone(),
            memory_bytes: limits.memory_bytes(),
            http: OutboundHttp {
                agent: self.name.clone(),
                allow: self.allow.clone(),
                timeouts: rt.config.http_timeouts,
            },
            max_output_bytes: rt.config.max_output_bytes,
            limits: limits.clone(),
            spent,
        });
        let mut store = Store::new(&rt.engine, state);
        store.limiter(|s| &mut s.limiter);
        if rt.config.fuel_metering {
            store.set_fuel(limits.fuel.unwrap_or(u64::MAX))?;
        }
        // Yield to the async runtime at every epoch tick, so that deadlines
        // and cancellation can drop a guest that never returns. The yield is
        // `tokio::task::yield_now`, which also lets the worker poll I/O:
        // a plain yield is re-polled at once and a spinning guest would
        // starve the sockets (and so the cancel request) for many ticks.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|_| {
            Ok(wasmtime::UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });
        Ok(store)
    }

    async fn read_card(&self) -> Result<wit::Card, LoadError> {
        let mut store = self
            .new_store("(card)", TaskUsage::default())
            .map_err(|e| LoadError::Card(format!("{e:#}")))?;
        let deadline = self.runtime.config.card_timeout;
        let call = async {
            let agent = self
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(|e| format!("cannot instantiate the component: {e:#}"))?;
            agent
                .call_card(&mut store)
                .await
                .map_err(|e| format!("{e:#}"))
        };
        let result = tokio::time::timeout(deadline, call).await;
        match result {
            Ok(Ok(card)) => Ok(card),
            Ok(Err(e)) => {
                let why = if store.data().limiter.exceeded {
                    format!(
                        "card() of agent `{}` exceeded its {} MiB memory limit",
                        self.name, self.policy.limits.memory_mb
                    )
                } else {
                    with_stderr(format!("card() failed: {e}"), &store.data().stderr_tail())
                };
                Err(LoadError::Card(why))
            }
            Err(_) => Err(LoadError::Card(format!(
                "card() did not return within {}",
                fmt_duration(deadline)
            ))),
        }
    }

    async fn run(&self, ctx: &TaskContext) -> Result<(), AgentError> {
        let limits = &self.policy.limits;
        let grace = self.runtime.config.cancel_grace;
        let mut store = self
            .new_store(ctx.task_id(), ctx.spent())
            .map_err(|e| AgentError::Failed(format!("could not start the agent: {e:#}")))?;
        let ended = {
            let store = &mut store;
            let turn = async {
                let agent = match self.pre.instantiate_async(&mut *store).await {
                    Ok(a) => a,
                    Err(e) => return Ended::Instantiate(e),
                };
                let handle = match store.data_mut().push_context(ctx.clone()) {
                    Ok(h) => h,
                    Err(e) => return Ended::Instantiate(e),
                };
                match agent.call_handle(&mut *store, handle).await {
                    Ok(r) => Ended::Returned(r),
                    Err(e) => Ended::Trapped(e),
                }
            };
            let stop = async {
                ctx.cancelled().await;
                tokio::time::sleep(grace).await;
            };
            tokio::select! {
                ended = turn => ended,
                _ = tokio::time::sleep(limits.timeout) => Ended::TimedOut,
                _ = stop => Ended::Stopped,
            }
        };
        // The turn future is gone here: the instance is never entered again.
        let state = store.data();
        match ended {
            Ended::Returned(Ok(())) => Ok(()),
            Ended::Returned(Err(wit::AgentError::Failed(mut m))) => {
                truncate(&mut m, MAX_ERROR_MESSAGE);
                Err(AgentError::Failed(m))
            }
            Ended::Returned(Err(wit::AgentError::Rejected(mut m))) => {
                truncate(&mut m, MAX_ERROR_MESSAGE);
                Err(AgentError::Rejected(m))
            }
            Ended::Instantiate(e) if !state.limiter.exceeded => {
                log_throttled!(
                    error,
                    agent = state.agent(),
                    task = state.task(),
                    "cannot instantiate: {e:#}"
                );
                Err(AgentError::Failed(format!(
                    "could not start the agent: {e:#}"
                )))
            }
            Ended::Instantiate(e) | Ended::Trapped(e) => {
                let reason = self.describe_trap(&e, state);
                log_throttled!(warn, agent = state.agent(), task = state.task(), "{reason}");
                Err(AgentError::Failed(reason))
            }
            Ended::TimedOut => {
                let reason = format!(
                    "agent `{}` exceeded its {} time limit (limits.timeout_secs)",
                    self.name,
                    fmt_duration(limits.timeout)
                );
                log_throttled!(warn, agent = state.agent(), task = state.task(), "{reason}");
                Err(AgentError::Failed(reason))
            }
            Ended::Stopped => {
                let reason = format!(
                    "agent `{}` was stopped: the task was canceled and the agent did not \
                     return within {}",
                    self.name,
                    fmt_duration(grace)
                );
                tracing::info!(agent = state.agent(), task = state.task(), "{reason}");
                Err(AgentError::Failed(reason))
            }
        }
    }

    fn describe_trap(&self, e: &wasmtime::Error, state: &HostState) -> String {
        let limits = &self.policy.limits;
        let name = &self.name;
        if let Some(why) = state.budget.hit() {
            return why.to_string();
        }
        if state.limiter.exceeded {
            return format!(
                "agent `{name}` exceeded its {} MiB memory limit (limits.memory_mb)",
                limits.memory_mb
            );
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => format!(
                "agent `{name}` used up its fuel budget of {} (limits.fuel)",
                limits.fuel.unwrap_or(u64::MAX)
            ),
            Some(Trap::Interrupt) => format!(
                "agent `{name}` exceeded its {} time limit (limits.timeout_secs)",
                fmt_duration(limits.timeout)
            ),
            Some(Trap::StackOverflow) => {
                format!("agent `{name}` trapped: it overflowed its call stack")
            }
            Some(trap) => with_stderr(
                format!("agent `{name}` trapped: {trap}"),
                &state.stderr_tail(),
            ),
            None => with_stderr(
                format!("agent `{name}` failed: {e:#}"),
                &state.stderr_tail(),
            ),
        }
    }

    /// Take a slot of this agent and one of the host, waiting in the
    /// bounded queue if need be.
    async fn acquire_slots(
        &self,
        ctx: &TaskContext,
    ) -> Result<(SemaphorePermit<'_>, SemaphorePermit<'_>), AgentError> {
        let limits = &self.policy.limits;
        let name = &self.name;
        // Fast path: both free, no queueing.
        if let Ok(mine) = self.slots.try_acquire() {
            if let Ok(host) = self.runtime.turns.try_acquire() {
                return Ok((mine, host));
            }
            drop(mine);
        }
        let queued = QueueSeat::take(&self.waiting, limits.max_queued).ok_or_else(|| {
            let reason = format!(
                "agent `{name}` is busy: {} tasks are waiting for a slot already \
                 (limits.max_queued)",
                limits.max_queued
            );
            log_throttled!(warn, agent = %name, task = ctx.task_id(), "{reason}");
            AgentError::Failed(reason)
        })?;
        let deadline = tokio::time::Instant::now() + limits.queue_timeout;
        let canceled =
            || AgentError::Failed("the task was canceled before the agent started".into());
        let mine = tokio::select! {
            biased;
            _ = ctx.cancelled() => return Err(canceled()),
            permit = tokio::time::timeout_at(deadline, self.slots.acquire()) => match permit {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => return Err(AgentError::Failed("the agent is shutting down".into())),
                Err(_) => {
                    let reason = format!(
                        "agent `{name}` is busy: all {} of its task slots stayed in use for {} \
                         (limits.max_concurrent)",
                        limits.max_concurrent,
                        fmt_duration(limits.queue_timeout)
                    );
                    log_throttled!(warn, agent = %name, task = ctx.task_id(), "{reason}");
                    return Err(AgentError::Failed(reason));
                }
            },
        };
        let host = tokio::select! {
            biased;
            _ = ctx.cancelled() => return Err(canceled()),
            permit = tokio::time::timeout_at(deadline, self.runtime.turns.acquire()) => match permit {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => return Err(AgentError::Failed("the host is shutting down".into())),
                Err(_) => {
                    let reason = format!(
                        "the host is busy: all {} task slots of all agents stayed in use for {}; \
                         agent `{name}` could not start",
                        self.runtime.total_turns,
                        fmt_duration(limits.queue_timeout)
                    );
                    log_throttled!(warn, agent = %name, task = ctx.task_id(), "{reason}");
                    return Err(AgentError::Failed(reason));
                }
            },
        };
        drop(queued);
        Ok((mine, host))
    }
}

/// A place in an agent's queue; gives it back when dropped.
struct QueueSeat<'a>(&'a AtomicU32);

impl<'a> QueueSeat<'a> {
    /// Take a seat if fewer than `max` are taken.
    fn take(waiting: &'a AtomicU32, max: u32) -> Option<QueueSeat<'a>> {
        waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| QueueSeat(waiting))
    }
}

impl Drop for QueueSeat<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Append the guest's last stderr lines (usually a panic message).
fn with_stderr(mut reason: String, tail: &str) -> String {
    if !tail.is_empty() {
        reason.push_str(" (stderr: ");
        reason.push_str(tail);
        reason.push(')');
    }
    reason
}

/// `300 s`, `1.5 s`, `250 ms`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn card_to_info(card: wit::Card, name: &str, max_bytes: usize) -> Result<AgentInfo, LoadError> {
    if card.skills.len() > MAX_CARD_SKILLS {
        return Err(LoadError::Card(format!(
            "it lists {} skills; the limit is {MAX_CARD_SKILLS}",
            card.skills.len()
        )));
    }
    let strings = |v: &[String]| v.iter().map(String::len).sum::<usize>();
    let size = card.name.len()
        + card.description.len()
        + card.version.len()
        + strings(&card.input_modes)
        + strings(&card.output_modes)
        + card
            .skills
            .iter()
            .map(|s| {
                s.id.len()
                    + s.name.len()
                    + s.description.len()
                    + strings(&s.tags)
                    + strings(&s.examples)
                    + strings(&s.input_modes)
                    + strings(&s.output_modes)
            })
            .sum::<usize>();
    if size > max_bytes {
        return Err(LoadError::Card(format!(
            "it holds {size} bytes of text; the limit is {max_bytes} (limits.card_kb)"
        )));
    }
    Ok(AgentInfo {
        name: if card.name.trim().is_empty() {
            name.to_string()
        } else {
            card.name
        },
        description: card.description,
        version: if card.version.trim().is_empty() {
            "0.1.0".into()
        } else {
            card.version
        },
        skills: card
            .skills
            .into_iter()
            .map(|s| AgentSkill {
                id: s.id,
                name: s.name,
                description: s.description,
                tags: s.tags,
                examples: s.examples,
                input_modes: s.input_modes,
                output_modes: s.output_modes,
                security_requirements: Vec::new(),
            })
            .collect(),
        input_modes: card.input_modes,
        output_modes: card.output_modes,
        streaming: card.streaming,
    })
}

#[async_trait]
impl Agent for WasmAgent {
    fn info(&self) -> AgentInfo {
        self.inner.info.clone()
    }

    async fn handle(&self, ctx: TaskContext) -> Result<(), AgentError> {
        let _slots = self.inner.acquire_slots(&ctx).await?;
        self.inner.run(&ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> wit::Card {
        wit::Card {
            name: String::new(),
            description: "d".into(),
            version: String::new(),
            skills: vec![],
            input_modes: vec![],
            output_modes: vec![],
            streaming: true,
        }
    }

    #[test]
    fn empty_name_and_version_get_defaults() {
        let info = card_to_info(card(), "echo", MAX_CARD_BYTES).unwrap();
        assert_eq!(info.name, "echo");
        assert_eq!(info.version, "0.1.0");
        assert!(info.streaming);
    }

    #[test]
    fn oversized_cards_are_refused() {
        let mut c = card();
        c.description = "x".repeat(MAX_CARD_BYTES + 1);
        assert!(
            matches!(card_to_info(c, "a", MAX_CARD_BYTES), Err(LoadError::Card(m)) if m.contains("bytes"))
        );
        let mut c = card();
        c.skills = (0..=MAX_CARD_SKILLS)
            .map(|i| wit::Skill {
                id: i.to_string(),
                name: String::new(),
                description: String::new(),
                tags: vec![],
                examples: vec![],
                input_modes: vec![],
                output_modes: vec![],
            })
            .collect();
        assert!(
            matches!(card_to_info(c, "a", MAX_CARD_BYTES), Err(LoadError::Card(m)) if m.contains("skills"))
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_duration(Duration::from_secs(300)), "300 s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250 ms");
    }
}
