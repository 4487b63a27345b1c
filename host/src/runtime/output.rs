//! Guest stdout, stderr and `log` lines, forwarded to `tracing` under a byte
//! budget per store.
//!
//! Lines are tagged with the agent and task. Once a store has written its
//! budget, further output is dropped (with one warning saying so). The last
//! few lines of stderr are kept so that a trap — a Rust panic is a trap
//! after its message went to stderr — can be reported with its message.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use super::bindings::wit::LogLevel;

/// Longest line forwarded; longer lines are split.
const MAX_LINE: usize = 8 * 1024;
/// stderr lines kept for trap messages.
const TAIL_LINES: usize = 8;
/// Bytes of stderr kept for trap messages.
const TAIL_BYTES: usize = 2 * 1024;
/// Bytes one write may carry (the permit `check-write` grants).
const WRITE_PERMIT: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

struct State {
    remaining: usize,
    dropped: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    tail: VecDeque<String>,
}

/// The output of one store.
pub(crate) struct OutputBudget {
    agent: Arc<str>,
    task: Arc<str>,
    state: Mutex<State>,
}

impl OutputBudget {
    pub(crate) fn new(agent: Arc<str>, task: Arc<str>, max_bytes: usize) -> Self {
        OutputBudget {
            agent,
            task,
            state: Mutex::new(State {
                remaining: max_bytes,
                dropped: false,
                stdout: Vec::new(),
                stderr: Vec::new(),
                tail: VecDeque::new(),
            }),
        }
    }

    /// Take `len` bytes from the budget; false (and one warning) once spent.
    fn charge(&self, state: &mut State, len: usize) -> bool {
        if state.remaining >= len {
            state.remaining -= len;
            return true;
        }
        state.remaining = 0;
        if !state.dropped {
            state.dropped = true;
            tracing::warn!(
                agent = %self.agent,
                task = %self.task,
                "agent output budget used up; dropping further output of this turn"
            );
        }
        false
    }

    /// Forward a `task-context.log` line.
    pub(crate) fn log(&self, level: LogLevel, message: &str) {
        let mut state = self.state.lock();
        if !self.charge(&mut state, message.len()) {
            return;
        }
        drop(state);
        let (agent, task) = (&*self.agent, &*self.task);
        match level {
            LogLevel::Trace => tracing::trace!(target: "a2a_host::agent", agent, task, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "a2a_host::agent", agent, task, "{message}"),
            LogLevel::Info => tracing::info!(target: "a2a_host::agent", agent, task, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "a2a_host::agent", agent, task, "{message}"),
            LogLevel::Error => tracing::error!(target: "a2a_host::agent", agent, task, "{message}"),
        }
    }

    fn emit(&self, state: &mut State, stream: Stream, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        if stream == Stream::Stderr {
            let mut kept = text.to_string();
            super::bindings::truncate(&mut kept, TAIL_BYTES);
            state.tail.push_back(kept);
            while state.tail.len() > TAIL_LINES
                || state.tail.iter().map(String::len).sum::<usize>() > TAIL_BYTES
            {
                state.tail.pop_front();
            }
        }
        if !self.charge(state, line.len()) {
            return;
        }
        let (agent, task) = (&*self.agent, &*self.task);
        match stream {
            Stream::Stdout => {
                tracing::info!(target: "a2a_host::agent", agent, task, stream = "stdout", "{text}")
            }
            Stream::Stderr => {
                tracing::warn!(target: "a2a_host::agent", agent, task, stream = "stderr", "{text}")
            }
        }
    }

    fn write(&self, stream: Stream, mut bytes: &[u8]) {
        let mut state = self.state.lock();
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let take = newline.map_or(bytes.len(), |i| i + 1);
            let (chunk, rest) = bytes.split_at(take);
            bytes = rest;
            let buf = match stream {
                Stream::Stdout => &mut state.stdout,
                Stream::Stderr => &mut state.stderr,
            };
            buf.extend_from_slice(chunk);
            if newline.is_some() || buf.len() >= MAX_LINE {
                let mut line = std::mem::take(buf);
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                self.emit(&mut state, stream, &line);
            }
        }
    }

    /// The last stderr lines, joined by ` | `, including a partial line.
    pub(crate) fn stderr_tail(&self) -> String {
        let state = self.state.lock();
        let mut lines: Vec<String> = state.tail.iter().cloned().collect();
        if !state.stderr.is_empty() {
            lines.push(String::from_utf8_lossy(&state.stderr).into_owned());
        }
        lines
            .into_iter()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

impl Drop for OutputBudget {
    fn drop(&mut self) {
        let mut state = std::mem::replace(
            self.state.get_mut(),
            State {
                remaining: 0,
                dropped: true,
                stdout: Vec::new(),
                stderr: Vec::new(),
                tail: VecDeque::new(),
            },
        );
        for stream in [Stream::Stdout, Stream::Stderr] {
            let line = match stream {
                Stream::Stdout => std::mem::take(&mut state.stdout),
                Stream::Stderr => std::mem::take(&mut state.stderr),
            };
            if !line.is_empty() {
                self.emit(&mut state, stream, &line);
            }
        }
    }
}

/// stdout or stderr of a guest: never blocks, never fails.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    budget: Arc<OutputBudget>,
    stream: Stream,
}

impl GuestOutput {
    pub(crate) fn stdout(budget: Arc<OutputBudget>) -> Self {
        GuestOutput {
            budget,
            stream: Stream::Stdout,
        }
    }
    pub(crate) fn stderr(budget: Arc<OutputBudget>) -> Self {
        GuestOutput {
            budget,
            stream: Stream::Stderr,
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.budget.write(self.stream, &bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.budget.write(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_tail_keeps_the_last_lines() {
        let b = OutputBudget::new("a".into(), "t".into(), 100);
        b.write(
            Stream::Stderr,
            b"thread '<unnamed>' panicked at src/lib.rs:3:5:\nbo",
        );
        b.write(
            Stream::Stderr,
            b"om\nnote: run with `RUST_BACKTRACE=1` to see\n",
        );
        assert_eq!(
            b.stderr_tail(),
            "thread '<unnamed>' panicked at src/lib.rs:3:5: | boom"
        );
    }

    #[test]
    fn budget_runs_out() {
        let b = OutputBudget::new("a".into(), "t".into(), 10);
        b.write(Stream::Stdout, b"12345\n");
        b.write(Stream::Stdout, b"123456789\n");
        let s = b.state.lock();
        assert_eq!(s.remaining, 0);
        assert!(s.dropped);
    }
}
