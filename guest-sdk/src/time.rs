//! Waiting without burning CPU.

use std::time::Duration;

use wasip2::clocks::monotonic_clock;

/// Block for `duration` on the WASI monotonic clock.
///
/// The instance parks in `wasi:io/poll` until the clock fires, so the host
/// runs other tasks meanwhile and a sleeping agent costs no CPU. Durations
/// beyond `u64::MAX` nanoseconds (about 584 years) are clamped.
///
/// To stay responsive to cancellation, sleep in short steps and check
/// [`Context::is_cancelled`](crate::Context::is_cancelled) between them, or
/// use [`Context::sleep`](crate::Context::sleep), which does that for you.
///
/// ```no_run
/// use std::time::Duration;
/// a2a_guest::sleep(Duration::from_millis(250));
/// ```
pub fn sleep(duration: Duration) {
    if duration.is_zero() {
        return;
    }
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    monotonic_clock::subscribe_duration(nanos).block();
}
