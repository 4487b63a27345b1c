//! An agent that misbehaves on request, so the host's runtime tests
//! (tests/all/runtime.rs) and hostile tests (tests/all/hostile.rs) can check every
//! way a turn can end and every door the sandbox keeps shut. The first word
//! of the message picks the behaviour; the rest is its argument.
//!
//! Behaviours that probe the sandbox report what they got: they fail the
//! task with `denied: …` when everything was refused, and complete it with
//! `LEAKED: …` when something got through, so a test can tell the two apart
//! from the task alone.

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
            // Recurse until the call stack runs out.
            "recurse" => {
                let depth = recurse(black_box(1));
                ctx.complete_text(format!("recursed {depth} deep and came back"))?;
                Ok(())
            }
            // Stream a few updates, then panic in the middle of the task.
            "stream-panic" => {
                let n: u32 = arg.trim().parse().unwrap_or(3);
                for i in 0..n {
                    ctx.status_text(format!("step {i}"))?;
                    ctx.emit_artifact_chunk(
                        Artifact::text("partial", format!("chunk {i} ")),
                        i > 0,
                        false,
                    )?;
                    a2a_guest::sleep(Duration::from_millis(20));
                }
                panic!("hostile agent panicked mid-stream after {n} chunks");
            }
            // Everything the machine might hand out: files, environment,
            // arguments, sockets, name lookups.
            "ambient" => ambient(ctx, arg.trim()),
            // Fetch every URL; fail with what each one got.
            "fetch-all" => {
                let mut denied = Vec::new();
                let mut reached = Vec::new();
                for url in arg.split_whitespace() {
                    match http::get(url) {
                        Ok(resp) => reached.push(format!("{url} -> status {}", resp.status)),
                        Err(e) => denied.push(format!("{url} -> {e}")),
                    }
                }
                if reached.is_empty() {
                    Err(AgentError::Failed(format!("denied: {}", denied.join("; "))))
                } else {
                    ctx.complete_text(format!(
                        "LEAKED: {} (denied: {})",
                        reached.join("; "),
                        denied.join("; ")
                    ))?;
                    Ok(())
                }
            }
            // Append 1 MiB chunks to one artifact, MB of them, ignoring
            // every refusal.
            "artifact-flood" => {
                let mb: u32 = arg.trim().parse().unwrap_or(200);
                let chunk = "x".repeat(1 << 20);
                let mut refused = 0;
                for i in 0..mb {
                    let piece = Artifact::text("big", chunk.clone());
                    if ctx.emit_artifact_chunk(piece, i > 0, i + 1 == mb).is_err() {
                        refused += 1;
                    }
                }
                ctx.complete_text(format!("emitted {mb} MiB, {refused} chunks refused"))?;
                Ok(())
            }
            // Send N status updates as fast as possible, ignoring refusals.
            "status-flood" => {
                let n: u64 = arg.trim().parse().unwrap_or(1_000_000);
                let mut refused = 0u64;
                for i in 0..n {
                    if ctx.status_text(format!("update {i}")).is_err() {
                        refused += 1;
                    }
                }
                ctx.complete_text(format!("sent {n} updates, {refused} refused"))?;
                Ok(())
            }
            // Complete, then try everything again.
            "double-complete" => {
                ctx.complete_text("first and only result")?;
                let mut errors = Vec::new();
                let mut note = |what: &str, r: Result<(), ActionError>| match r {
                    Ok(()) => errors.push(format!("{what}: ACCEPTED")),
                    Err(e) => errors.push(format!("{what}: {}", e.reason())),
                };
                note("complete", ctx.complete_text("second result"));
                note("status", ctx.status_text("after the end"));
                note(
                    "artifact",
                    ctx.emit_artifact(Artifact::text("late", "after the end")),
                );
                note("fail", ctx.fail("changed my mind"));
                note("reject", ctx.reject("changed my mind"));
                note("input", ctx.request_input(Part::text("more?")));
                note("reply", ctx.reply_text("direct"));
                // The turn is over; this error only reaches the host log.
                Err(AgentError::Failed(errors.join("; ")))
            }
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

/// Not a tail call: each frame stays on the stack until the bottom.
fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return depth;
    }
    black_box(recurse(black_box(depth + 1))).wrapping_add(1)
}

/// Probe files, environment, arguments and sockets. `port` is a loopback
/// port the test listens on.
fn ambient(ctx: &Context, port: &str) -> Result<(), AgentError> {
    use wasip2::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
    use wasip2::sockets::{instance_network, ip_name_lookup, tcp_create_socket, udp_create_socket};

    let port: u16 = port.parse().unwrap_or(9);
    let mut denied = Vec::new();
    let mut leaked = Vec::new();

    // Files: no directory is preopened, so every path fails.
    let preopens = wasip2::filesystem::preopens::get_directories();
    if preopens.is_empty() {
        denied.push("preopened directories: none".to_string());
    } else {
        let names: Vec<String> = preopens.iter().map(|(_, name)| name.clone()).collect();
        leaked.push(format!("preopened directories: {}", names.join(",")));
    }
    for path in ["/etc/passwd", "/proc/self/environ", "."] {
        match std::fs::read(path) {
            Ok(bytes) => leaked.push(format!("read {path}: {} bytes", bytes.len())),
            Err(e) => denied.push(format!("read {path}: {e}")),
        }
    }
    match std::fs::write("/tmp/hostile-was-here", b"x") {
        Ok(()) => leaked.push("wrote /tmp/hostile-was-here".to_string()),
        Err(e) => denied.push(format!("write /tmp: {e}")),
    }

    // Environment, arguments, working directory.
    let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    if vars.is_empty() {
        denied.push("environment: empty".to_string());
    } else {
        leaked.push(format!("environment: {}", vars.join(",")));
    }
    let args: Vec<String> = std::env::args().collect();
    if args.is_empty() {
        denied.push("arguments: none".to_string());
    } else {
        leaked.push(format!("arguments: {}", args.join(" ")));
    }
    match wasip2::cli::environment::initial_cwd() {
        None => denied.push("working directory: none".to_string()),
        Some(cwd) => leaked.push(format!("working directory: {cwd}")),
    }

    // Sockets and name lookups.
    let network = instance_network::instance_network();
    match tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4) {
        Err(e) => denied.push(format!("tcp socket: {}", e.name())),
        Ok(socket) => {
            let target = IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port,
                address: (127, 0, 0, 1),
            });
            match socket.start_connect(&network, target) {
                Err(e) => denied.push(format!("tcp connect 127.0.0.1:{port}: {}", e.name())),
                Ok(()) => {
                    socket.subscribe().block();
                    match socket.finish_connect() {
                        Ok(_) => leaked.push(format!("tcp connect 127.0.0.1:{port}: connected")),
                        Err(e) => {
                            denied.push(format!("tcp connect 127.0.0.1:{port}: {}", e.name()))
                        }
                    }
                }
            }
        }
    }
    match udp_create_socket::create_udp_socket(IpAddressFamily::Ipv4) {
        Err(e) => denied.push(format!("udp socket: {}", e.name())),
        Ok(socket) => {
            let local = IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: 0,
                address: (0, 0, 0, 0),
            });
            match socket.start_bind(&network, local) {
                Err(e) => denied.push(format!("udp bind: {}", e.name())),
                Ok(()) => leaked.push("udp bind: bound".to_string()),
            }
        }
    }
    match ip_name_lookup::resolve_addresses(&network, "localhost") {
        Err(e) => denied.push(format!("name lookup: {}", e.name())),
        Ok(stream) => {
            stream.subscribe().block();
            match stream.resolve_next_address() {
                Ok(Some(addr)) => leaked.push(format!("name lookup: {addr:?}")),
                Ok(None) => denied.push("name lookup: no answer".to_string()),
                Err(e) => denied.push(format!("name lookup: {}", e.name())),
            }
        }
    }

    if leaked.is_empty() {
        Err(AgentError::Failed(format!("denied: {}", denied.join("; "))))
    } else {
        ctx.complete_text(format!(
            "LEAKED: {} (denied: {})",
            leaked.join("; "),
            denied.join("; ")
        ))?;
        Ok(())
    }
}

a2a_guest::export_agent!(Hostile);
