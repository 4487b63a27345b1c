//! `countdown`: counts down from N seconds, one `working` status update
//! ("N…") per second, then completes. Stops as soon as the task is
//! canceled.
//!
//! N is the first whole number in the message (default 3, at most 600);
//! "count down from 10" and "10" both work. A larger number is rejected.
//! Waiting parks the instance in `wasi:io/poll` (no busy loop), checking for
//! cancellation every 100 ms.
//!
//! Config (`countdown.toml`, `[config]`): `tick_ms`, the length of one
//! "second" in milliseconds (default 1000; 10..=10000), for quick tests.
use a2a_guest::prelude::*;

struct Countdown;

const DEFAULT_SECONDS: u64 = 3;
const MAX_SECONDS: u64 = 600;

/// The first run of ASCII digits in `text`, if any.
fn first_number(text: &str) -> Option<Result<u64, String>> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some(digits.parse().map_err(|_| format!("{digits} is too large")))
}

impl Agent for Countdown {
    fn card() -> Card {
        Card::new(
            "countdown",
            "Counts down the seconds you give it; cancel it any time",
        )
        .skill(
            Skill::new(
                "countdown",
                "Count down",
                "Sends one status update per second from N down to 1, then completes",
            )
            .tag("demo")
            .tag("cancel")
            .example("5")
            .example("count down from 10"),
        )
    }

    fn handle(ctx: &Context) -> Result<(), AgentError> {
        let seconds = match first_number(&ctx.text()) {
            None => DEFAULT_SECONDS,
            Some(Ok(n)) if n <= MAX_SECONDS => n,
            Some(Ok(n)) => {
                return Err(AgentError::Rejected(format!(
                    "{n} seconds is too long: the most I count is {MAX_SECONDS}"
                )));
            }
            Some(Err(why)) => return Err(AgentError::Rejected(why)),
        };
        let tick = Duration::from_millis(
            ctx.config("tick_ms")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(1000u64)
                .clamp(10, 10_000),
        );

        for left in (1..=seconds).rev() {
            if ctx.is_cancelled() {
                return Ok(());
            }
            ctx.status_text(format!("{left}…"))?;
            if ctx.sleep(tick).is_err() {
                return Ok(()); // canceled while waiting
            }
        }
        ctx.complete_text(format!("Counted down from {seconds}. Liftoff!"))?;
        Ok(())
    }
}

a2a_guest::export_agent!(Countdown);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_number() {
        assert_eq!(first_number("count down from 10 please"), Some(Ok(10)));
        assert_eq!(first_number("7"), Some(Ok(7)));
        assert_eq!(first_number("go"), None);
        assert!(matches!(
            first_number("99999999999999999999999"),
            Some(Err(_))
        ));
    }
}
