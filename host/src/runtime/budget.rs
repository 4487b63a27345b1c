//! What an agent may emit on one task: events (status updates and artifact
//! chunks) and bytes of content over all the task's turns, and events per
//! second within a turn.
//!
//! The budget lives in the store of the turn and starts from what the
//! task's earlier turns spent, so a multi-turn task cannot get a fresh
//! allowance by asking for input. When an action would go over a limit, the
//! host refuses it with `action-error.limit-exceeded`, fails the task with a
//! reason that names the agent and the limit, and logs the same. A guest
//! that keeps acting after that is trapped on its next action: its task is
//! over.

use std::time::Instant;

use super::bindings::wit;
use super::policy::Limits;

/// The emit limits of one turn and what has been used.
pub(crate) struct TurnBudget {
    agent: std::sync::Arc<str>,
    max_events: u64,
    events_per_second: u32,
    max_bytes: u64,
    events: u64,
    bytes: u64,
    /// Token bucket for the rate: holds at most one second's worth.
    tokens: f64,
    refilled: Instant,
    /// The reason, once a limit was hit.
    hit: Option<String>,
}

impl TurnBudget {
    /// A budget for one turn of a task whose earlier turns spent `spent`:
    /// events and bytes count per task, the rate per turn.
    pub(crate) fn new(
        agent: std::sync::Arc<str>,
        limits: &Limits,
        spent: crate::agent::TaskUsage,
    ) -> Self {
        TurnBudget {
            agent,
            max_events: limits.max_events,
            events_per_second: limits.events_per_second.max(1),
            max_bytes: limits.artifact_bytes,
            events: spent.events,
            bytes: spent.content_bytes,
            tokens: f64::from(limits.events_per_second.max(1)),
            refilled: Instant::now(),
            hit: None,
        }
    }

    /// The reason a limit was hit in this turn, if one was.
    pub(crate) fn hit(&self) -> Option<&str> {
        self.hit.as_deref()
    }

    /// Charge one event carrying `bytes` of content.
    pub(crate) fn charge_event(&mut self, bytes: u64) -> Result<(), String> {
        if let Some(why) = &self.hit {
            return Err(why.clone());
        }
        if self.events >= self.max_events {
            return self.exceeded(format!(
                "its limit of {} events per task (limits.max_events)",
                self.max_events
            ));
        }
        let now = Instant::now();
        let rate = f64::from(self.events_per_second);
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.refilled = now;
        if self.tokens < 1.0 {
            return self.exceeded(format!(
                "its limit of {} events per second (limits.events_per_second)",
                self.events_per_second
            ));
        }
        self.charge_bytes(bytes)?;
        self.tokens -= 1.0;
        self.events += 1;
        Ok(())
    }

    /// Charge `bytes` of content that is not an event of its own (the
    /// message of `complete`, `request-input`, …).
    pub(crate) fn charge_bytes(&mut self, bytes: u64) -> Result<(), String> {
        if let Some(why) = &self.hit {
            return Err(why.clone());
        }
        let total = self.bytes.saturating_add(bytes);
        if total > self.max_bytes {
            return self.exceeded(format!(
                "its limit of {} of artifact and status content per task (limits.artifact_mb)",
                fmt_bytes(self.max_bytes)
            ));
        }
        self.bytes = total;
        Ok(())
    }

    fn exceeded(&mut self, limit: String) -> Result<(), String> {
        let why = format!("agent `{}` exceeded {limit}", self.agent);
        self.hit = Some(why.clone());
        Err(why)
    }
}

/// `16 MiB`, `1.5 KiB`, `100 bytes`.
pub(crate) fn fmt_bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// Bytes of content in a list of WIT parts (everything the host stores).
pub(crate) fn parts_size(parts: &[wit::Part]) -> u64 {
    parts.iter().map(part_size).sum()
}

fn part_size(p: &wit::Part) -> u64 {
    let content = match &p.content {
        wit::PartContent::Text(t) => t.len(),
        wit::PartContent::Data(json) => json.len(),
        wit::PartContent::Raw(bytes) => bytes.len(),
        wit::PartContent::Url(url) => url.len(),
    };
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    (content + opt(&p.media_type) + opt(&p.filename) + opt(&p.metadata)) as u64
}

/// Bytes of content in a WIT artifact.
pub(crate) fn artifact_size(a: &wit::Artifact) -> u64 {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len) as u64;
    a.artifact_id.len() as u64
        + opt(&a.name)
        + opt(&a.description)
        + opt(&a.metadata)
        + parts_size(&a.parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_events: u64, per_second: u32, bytes: u64) -> Limits {
        Limits {
            max_events,
            events_per_second: per_second,
            artifact_bytes: bytes,
            ..Limits::default()
        }
    }

    #[test]
    fn events_per_task_run_out() {
        let mut b = TurnBudget::new("a".into(), &limits(3, 1000, 1 << 20), Default::default());
        for _ in 0..3 {
            b.charge_event(1).unwrap();
        }
        let why = b.charge_event(1).unwrap_err();
        assert_eq!(
            why,
            "agent `a` exceeded its limit of 3 events per task (limits.max_events)"
        );
        assert_eq!(b.hit(), Some(why.as_str()));
        // Once hit, everything is refused with the same reason.
        assert_eq!(b.charge_bytes(0).unwrap_err(), why);
    }

    #[test]
    fn bursts_beyond_the_rate_are_refused() {
        let mut b = TurnBudget::new(
            "a".into(),
            &limits(1_000_000, 50, 1 << 20),
            Default::default(),
        );
        let mut sent = 0;
        let why = loop {
            match b.charge_event(0) {
                Ok(()) => sent += 1,
                Err(why) => break why,
            }
        };
        assert!((50..=52).contains(&sent), "{sent}");
        assert!(why.contains("50 events per second"), "{why}");
    }

    #[test]
    fn the_rate_refills_over_time() {
        let mut b = TurnBudget::new(
            "a".into(),
            &limits(1_000_000, 1000, 1 << 20),
            Default::default(),
        );
        b.tokens = 0.0;
        b.refilled = Instant::now() - std::time::Duration::from_millis(20);
        b.charge_event(0).unwrap();
    }

    #[test]
    fn earlier_turns_count_against_the_task() {
        let spent = crate::agent::TaskUsage {
            events: 3,
            content_bytes: 0,
        };
        let mut b = TurnBudget::new("a".into(), &limits(3, 1000, 1 << 20), spent);
        let why = b.charge_event(1).unwrap_err();
        assert!(why.contains("3 events per task"), "{why}");
        let spent = crate::agent::TaskUsage {
            events: 0,
            content_bytes: 1 << 20,
        };
        let mut b = TurnBudget::new("a".into(), &limits(100, 1000, 1 << 20), spent);
        assert!(
            b.charge_event(1).is_err(),
            "the task's bytes are already spent"
        );
    }

    #[test]
    fn bytes_run_out() {
        let mut b = TurnBudget::new(
            "a".into(),
            &limits(100, 1000, 2 * 1024 * 1024),
            Default::default(),
        );
        b.charge_event(1024 * 1024).unwrap();
        b.charge_bytes(1024 * 1024).unwrap();
        let why = b.charge_event(1).unwrap_err();
        assert_eq!(
            why,
            "agent `a` exceeded its limit of 2 MiB of artifact and status content per task \
             (limits.artifact_mb)"
        );
    }

    #[test]
    fn sizes_count_every_stored_field() {
        let part = wit::Part {
            content: wit::PartContent::Text("hello".into()),
            media_type: Some("text/plain".into()),
            filename: None,
            metadata: Some("{}".into()),
        };
        assert_eq!(parts_size(std::slice::from_ref(&part)), 5 + 10 + 2);
        let a = wit::Artifact {
            artifact_id: "id".into(),
            name: Some("n".into()),
            description: None,
            parts: vec![part],
            metadata: None,
        };
        assert_eq!(artifact_size(&a), 2 + 1 + 17);
        assert_eq!(fmt_bytes(16 * 1024 * 1024), "16 MiB");
        assert_eq!(fmt_bytes(2048), "2 KiB");
        assert_eq!(fmt_bytes(1000), "1000 bytes");
    }
}
