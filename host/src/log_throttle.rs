//! Rate limits for log lines that an outage repeats once per request.
//!
//! When the task store is down (a full disk, a lost database), every task
//! fails the same way, and a line per task would flood the log exactly when
//! an operator reads it — and fill the disk further. A [`LogThrottle`] lets
//! a few lines of one kind through per window and counts the rest; the next
//! line let through carries that count (`suppressed`), so nothing is hidden
//! without a trace.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lines of one kind let through per window.
const BURST: u32 = 10;
/// How long a window lasts.
const WINDOW: Duration = Duration::from_secs(10);

/// At most [`BURST`] lines per [`WINDOW`] for one call site (a `static`).
pub(crate) struct LogThrottle {
    state: Mutex<Window>,
}

struct Window {
    /// When the current window began (`None` before the first line).
    start: Option<Instant>,
    /// Lines let through in the current window.
    logged: u32,
    /// Lines held back since the last line let through.
    suppressed: u64,
}

impl LogThrottle {
    pub(crate) const fn new() -> Self {
        LogThrottle {
            state: Mutex::new(Window {
                start: None,
                logged: 0,
                suppressed: 0,
            }),
        }
    }

    /// Whether to log this line now. `Some(n)`: log it, and say that `n`
    /// lines like it were held back before it; `None`: skip it (counted).
    pub(crate) fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Option<u64> {
        let mut w = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if w.start
            .is_none_or(|start| now.duration_since(start) >= WINDOW)
        {
            w.start = Some(now);
            w.logged = 0;
        }
        if w.logged < BURST {
            w.logged += 1;
            Some(std::mem::take(&mut w.suppressed))
        } else {
            w.suppressed += 1;
            None
        }
    }
}

/// `tracing::LEVEL!(fields…, "message")`, throttled per call site: at most
/// a burst of lines per window, each carrying `suppressed`, the count of
/// lines held back before it.
///
/// ```ignore
/// log_throttled!(warn, task = %id, error = %e, "could not publish events");
/// ```
macro_rules! log_throttled {
    ($level:ident, $($args:tt)+) => {{
        static THROTTLE: $crate::log_throttle::LogThrottle = $crate::log_throttle::LogThrottle::new();
        if let Some(suppressed) = THROTTLE.admit() {
            tracing::$level!(suppressed, $($args)+);
        }
    }};
}
pub(crate) use log_throttled;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_lines_are_counted_until_the_next_window() {
        let throttle = LogThrottle::new();
        let t0 = Instant::now();
        for _ in 0..BURST {
            assert_eq!(throttle.admit_at(t0), Some(0));
        }
        for i in 0..25 {
            assert_eq!(throttle.admit_at(t0 + Duration::from_millis(i)), None);
        }
        // Still inside the window.
        assert_eq!(
            throttle.admit_at(t0 + WINDOW - Duration::from_millis(1)),
            None
        );
        // The first line of the next window reports what was held back.
        assert_eq!(throttle.admit_at(t0 + WINDOW), Some(26));
        assert_eq!(throttle.admit_at(t0 + WINDOW), Some(0));
    }

    #[test]
    fn a_quiet_site_logs_every_line() {
        let throttle = LogThrottle::new();
        let t0 = Instant::now();
        for i in 0..100 {
            assert_eq!(throttle.admit_at(t0 + WINDOW * i), Some(0));
        }
    }
}
