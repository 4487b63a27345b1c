//! Reading `text/event-stream` answers event by event.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::http::STEP;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("SSE data is not JSON ({e}): {}", self.data))
    }

    /// The `id:` as a number.
    pub fn seq(&self) -> u64 {
        self.id
            .as_deref()
            .expect("event has an id")
            .parse()
            .expect("numeric id")
    }
}

/// Reads `text/event-stream` incrementally.
pub struct SseStream {
    pub status: u16,
    pub headers: HeaderMap,
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: Vec<u8>,
    ready: VecDeque<SseEvent>,
    /// Comment lines seen (keep-alives).
    pub comments: usize,
    ended: bool,
}

impl SseStream {
    /// Reads the body of `resp` as it arrives.
    pub fn new(resp: reqwest::Response) -> SseStream {
        SseStream {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: Box::pin(resp.bytes_stream()),
            buf: Vec::new(),
            ready: VecDeque::new(),
            comments: 0,
            ended: false,
        }
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The next event; `None` once the server closes the stream. Panics
    /// after [`STEP`] without one.
    pub async fn next(&mut self) -> Option<SseEvent> {
        tokio::time::timeout(STEP, self.next_inner())
            .await
            .expect("no SSE event in time")
    }

    /// The next event, or `None` if the stream ends or `wait` passes.
    pub async fn next_within(&mut self, wait: Duration) -> Option<SseEvent> {
        tokio::time::timeout(wait, self.next_inner())
            .await
            .ok()
            .flatten()
    }

    async fn next_inner(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(ev) = self.ready.pop_front() {
                return Some(ev);
            }
            if self.ended {
                return None;
            }
            match self.body.next().await {
                Some(Ok(chunk)) => {
                    self.buf.extend_from_slice(&chunk);
                    self.parse();
                }
                Some(Err(_)) | None => {
                    self.ended = true;
                }
            }
        }
    }

    /// Every remaining event until the server closes the stream.
    pub async fn collect(mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while let Some(ev) = self.next().await {
            out.push(ev);
        }
        out
    }

    fn parse(&mut self) {
        // Events end at a blank line; accept \n and \r\n.
        loop {
            let text = String::from_utf8_lossy(&self.buf).replace("\r\n", "\n");
            let Some(end) = text.find("\n\n") else { return };
            let block = text[..end].to_string();
            let rest = text.as_bytes()[end + 2..].to_vec();
            self.buf = rest;
            let mut id = None;
            let mut data: Vec<String> = Vec::new();
            let mut any = false;
            for line in block.lines() {
                if line.starts_with(':') {
                    self.comments += 1;
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => {
                        id = Some(value.to_string());
                        any = true;
                    }
                    "data" => {
                        data.push(value.to_string());
                        any = true;
                    }
                    _ => {}
                }
            }
            if any {
                self.ready.push_back(SseEvent {
                    id,
                    data: data.join("\n"),
                });
            }
        }
    }
}
