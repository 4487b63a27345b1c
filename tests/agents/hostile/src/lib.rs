//! An agent that misbehaves on request, so the host's runtime tests can
//! check every way a turn can end. The first word of the message picks the
//! behaviour; the rest is its argument.

use std::hint::black_box;

use a2a_guest::prelude::*;
use a2a_guest::{PartContent, http};

struct Hostile;

impl Agent for Hostile {
    fn card() -> Card {
        Card::new("hostile", "Misbehaves on request").version("1.0.0")
    }

    fn handle(ctx: &Context) -> Result<(), AgentError> {
        let text = ctx.text();
        let (command, arg) = text.split_once(' ').unwrap_or((text.as_str(), ""));
        match command {
            // Spin forever without ever calling the host.
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            // Allocate (and touch) memory until something gives.
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![0xA5; 1 << 20]);
                    black_box(&hoard);
                }
            }
            "panic" => panic!("hostile agent panicked on purpose"),
            "fail" => Err(AgentError::Failed(format!("failing on purpose: {arg}"))),
            "reject" => Err(AgentError::Rejected(format!("rejecting on purpose: {arg}"))),
            // Return without ending the turn.
            "nothing" => Ok(()),
            // Sleep (waking on cancel), then complete.
            "sleep" => {
                let ms: u64 = arg.trim().parse().unwrap_or(100);
                ctx.status_text("sleeping")?;
                ctx.sleep(Duration::from_millis(ms))?;
                ctx.complete_text(format!("hostile slept {ms} ms"))?;
                Ok(())
            }
            // Sleep without looking at cancellation.
            "deaf" => {
                let ms: u64 = arg.trim().parse().unwrap_or(60_000);
                a2a_guest::sleep(Duration::from_millis(ms));
                ctx.complete_text("deaf agent woke up")?;
                Ok(())
            }
            "fetch" => match http::get(arg.trim()) {
                Ok(resp) => {
                    ctx.complete_text(format!("status {}: {}", resp.status, resp.text()))?;
                    Ok(())
                }
                Err(e) => {
                    ctx.complete_text(format!("fetch failed: {e}"))?;
                    Ok(())
                }
            },
            "config" => {
                let value = ctx.config(arg.trim()).unwrap_or_else(|| "(none)".into());
                ctx.complete_text(value)?;
                Ok(())
            }
            // What the sandbox lets the agent see of the machine.
            "env" => {
                let vars = std::env::vars().count();
                let args = std::env::args().count();
                let root = match std::fs::read_dir("/") {
                    Ok(_) => "readable".to_string(),
                    Err(e) => format!("denied ({e})"),
                };
                let tmp = match std::fs::write("/tmp/hostile", b"x") {
                    Ok(()) => "writable".to_string(),
                    Err(e) => format!("denied ({e})"),
                };
                ctx.complete_text(format!("vars={vars} args={args} root={root} tmp={tmp}"))?;
                Ok(())
            }
            // Hand the host a data part that is not JSON.
            "badjson" => {
                let bad = Part {
                    content: PartContent::Data("{not json".into()),
                    media_type: None,
                    filename: None,
                    metadata: None,
                };
                let outcome = match ctx.send_status(vec![bad]) {
                    Ok(()) => "accepted".to_string(),
                    Err(e) => e.reason(),
                };
                ctx.complete_text(outcome)?;
                Ok(())
            }
            "print" => {
                println!("hostile says hello on stdout");
                eprintln!("hostile says hello on stderr");
                ctx.log(LogLevel::Info, "hostile says hello through log");
                ctx.complete_text("printed")?;
                Ok(())
            }
            _ => {
                ctx.complete_text(format!("hostile: {text}"))?;
                Ok(())
            }
        }
    }
}

a2a_guest::export_agent!(Hostile);
