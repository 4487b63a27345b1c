//! A Server-Sent Events reader (the WHATWG `text/event-stream` format).
//!
//! Lines end in LF, CRLF or CR (also when a CRLF is split across chunks);
//! `data:` lines are joined with `\n`; `id:` sets the event's id (an id
//! containing NUL is ignored, as the format says); `:` lines are comments
//! (keep-alives); a blank line dispatches the event. An event cut off by the
//! end of the body is dropped, so a broken connection never yields half an
//! event.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};

/// The largest event the reader accepts; a bigger one is a protocol error
/// rather than unbounded memory.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `id:` this event carried itself (not one inherited from an
    /// earlier event).
    pub id: Option<String>,
    /// The `event:` type, if any.
    pub event: Option<String>,
    /// The `data:` lines, joined by `\n`.
    pub data: String,
}

/// Incremental parser: feed it bytes, collect events.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    after_cr: bool,
    started: bool,
    bom_len: usize,
    data: String,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
    size: usize,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `chunk`, appending complete events to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut VecDeque<SseEvent>) -> Result<(), String> {
        for &b in chunk {
            if !self.started {
                // A leading UTF-8 BOM (possibly split across chunks) is not
                // part of the first line.
                if BOM.get(self.bom_len) == Some(&b) {
                    self.bom_len += 1;
                    self.started = self.bom_len == BOM.len();
                    continue;
                }
                self.started = true;
                for &c in &BOM[..self.bom_len] {
                    self.byte(c, out)?;
                }
            }
            self.byte(b, out)?;
        }
        Ok(())
    }

    fn byte(&mut self, b: u8, out: &mut VecDeque<SseEvent>) -> Result<(), String> {
        match b {
            b'\n' if self.after_cr => self.after_cr = false,
            b'\n' | b'\r' => {
                self.after_cr = b == b'\r';
                self.end_line(out)?;
            }
            _ => {
                self.after_cr = false;
                self.line.push(b);
                self.size += 1;
                if self.size > MAX_EVENT_BYTES {
                    return Err(format!("an event is larger than {MAX_EVENT_BYTES} bytes"));
                }
            }
        }
        Ok(())
    }

    fn end_line(&mut self, out: &mut VecDeque<SseEvent>) -> Result<(), String> {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        let line =
            String::from_utf8(line).map_err(|_| "an event line is not valid UTF-8".to_string())?;
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            // `retry:` and unknown fields: the client has its own backoff.
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut VecDeque<SseEvent>) {
        let data = std::mem::take(&mut self.data);
        let event = self.event.take();
        let id = self.id.take();
        let has_data = std::mem::replace(&mut self.has_data, false);
        self.size = 0;
        if has_data {
            out.push_back(SseEvent { id, event, data });
        }
    }
}

/// The body of an HTTP response, as a byte stream.
pub(crate) type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// Reads events off a response body.
pub(crate) struct SseReader {
    body: ByteStream,
    parser: SseParser,
    ready: VecDeque<SseEvent>,
    ended: bool,
}

impl SseReader {
    pub(crate) fn new(body: ByteStream) -> Self {
        SseReader {
            body,
            parser: SseParser::new(),
            ready: VecDeque::new(),
            ended: false,
        }
    }

    /// The next event; `None` at the end of the body; `Err` when the
    /// connection broke, the stream is malformed, or no bytes at all (not
    /// even a keep-alive comment) arrived for `idle`.
    pub(crate) async fn next(&mut self, idle: Duration) -> Option<Result<SseEvent, String>> {
        loop {
            if let Some(ev) = self.ready.pop_front() {
                return Some(Ok(ev));
            }
            if self.ended {
                return None;
            }
            let Ok(read) = tokio::time::timeout(idle, self.body.next()).await else {
                self.ended = true;
                return Some(Err(format!("nothing arrived for {} s", idle.as_secs_f64())));
            };
            match read {
                Some(Ok(chunk)) => {
                    if let Err(e) = self.parser.feed(&chunk, &mut self.ready) {
                        self.ended = true;
                        return Some(Err(e));
                    }
                }
                Some(Err(e)) => {
                    self.ended = true;
                    return Some(Err(e));
                }
                None => self.ended = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = VecDeque::new();
        for c in chunks {
            p.feed(c, &mut out).unwrap();
        }
        out.into_iter().collect()
    }

    fn ev(id: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            id: id.map(str::to_string),
            event: None,
            data: data.to_string(),
        }
    }

    #[test]
    fn events_split_on_blank_lines_with_any_line_ending() {
        let got = parse_chunks(&[b"id: 1\ndata: {\"a\":1}\n\nid:2\r\ndata:x\r\ndata: y\r\n\r\n: keep-alive\n\ndata: z\r\r"]);
        assert_eq!(
            got,
            vec![
                ev(Some("1"), "{\"a\":1}"),
                ev(Some("2"), "x\ny"),
                ev(None, "z")
            ]
        );
    }

    #[test]
    fn chunk_boundaries_anywhere_give_the_same_events() {
        let text: &[u8] =
            b"\xEF\xBB\xBFevent: m\r\nid: 7\r\ndata: hello\r\n\r\nid: 8\r\ndata: world\r\n\r\n";
        let whole = parse_chunks(&[text]);
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].event.as_deref(), Some("m"));
        for cut in 0..text.len() {
            let (a, b) = text.split_at(cut);
            assert_eq!(parse_chunks(&[a, b]), whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(parse_chunks(&bytes), whole);
    }

    #[test]
    fn an_unfinished_event_is_not_dispatched_and_ids_do_not_leak() {
        let got = parse_chunks(&[b"id: 1\ndata: a\n\ndata: b\n\nid: 3\ndata: par"]);
        assert_eq!(got, vec![ev(Some("1"), "a"), ev(None, "b")]);
        // An id with NUL is ignored; an event without data is not dispatched.
        let got = parse_chunks(&[b"id: a\0b\ndata: c\n\nid: 4\n\n"]);
        assert_eq!(got, vec![ev(None, "c")]);
    }

    #[test]
    fn oversized_events_are_refused() {
        let mut p = SseParser::new();
        let mut out = VecDeque::new();
        let big = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert!(p.feed(&big, &mut out).is_err());
    }
}
