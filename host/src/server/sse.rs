//! Task event streams as Server-Sent Events.
//!
//! Each [`SequencedEvent`] becomes one SSE event whose `id:` is its sequence
//! number (so a client can resume with `Last-Event-ID`) and whose `data:` is
//! one line of JSON: the bare event on HTTP+JSON, or a full JSON-RPC
//! response carrying the request's `id` on JSON-RPC. The event itself is in
//! the request's protocol version ([`Wire`]): the 1.0 `StreamResponse`, the
//! 0.3 JSON-RPC object (`kind`, `final`), or the 0.3 HTTP+JSON protobuf form.
//! Idle streams get a keep-alive comment every
//! [`ServerConfig::sse_keep_alive`]. A new stream's headers wait up to
//! [`FIRST_EVENT_WAIT`] for its first event, so that both leave in one
//! write (no wait for a stream that already has one, such as a
//! resubscription).
//!
//! The stream ends when the manager's stream ends (terminal or interrupted
//! state, or a direct message), when the client goes away (hyper drops the
//! body and with it the manager's stream), or when
//! [`ServerHandle::close_streams`](super::ServerHandle::close_streams) is
//! called.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::HeaderValue;
use serde::Serialize;
use serde_json::{Value, json};

use super::{ServerConfig, v03};
use crate::manager::{EventStream, SequencedEvent};
use crate::model::StreamResponse;

/// How each event's `data:` is framed.
pub(crate) enum Framing {
    /// A JSON-RPC response with this request id.
    JsonRpc(Value, Wire),
    /// The bare event (HTTP+JSON).
    Rest(Wire),
}

/// The protocol form of each event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    /// The 1.0 `StreamResponse` (`{"statusUpdate": {…}}`, …).
    V1,
    /// A2A 0.3 JSON-RPC: the bare `kind`-tagged event.
    V03Json,
    /// A2A 0.3 HTTP+JSON: the 0.3 protobuf `StreamResponse`.
    V03Proto,
}

impl Wire {
    /// The `data:` of one event in this form, framed as a JSON-RPC response
    /// with `id` if there is one; serialized once, straight to text.
    fn data(self, ev: &StreamResponse, id: Option<&Value>) -> serde_json::Result<String> {
        match self {
            Wire::V1 => framed(id, ev),
            Wire::V03Json => framed(id, &v03::json::Event::from_v1(ev)),
            Wire::V03Proto => framed(id, &v03::proto::StreamResponse::from_v1(ev)),
        }
    }
}

/// A successful JSON-RPC response around one stream event.
#[derive(Serialize)]
struct RpcResult<'a, T> {
    jsonrpc: &'static str,
    id: &'a Value,
    result: &'a T,
}

fn framed<T: Serialize>(id: Option<&Value>, payload: &T) -> serde_json::Result<String> {
    match id {
        Some(id) => serde_json::to_string(&RpcResult {
            jsonrpc: "2.0",
            id,
            result: payload,
        }),
        None => serde_json::to_string(payload),
    }
}

/// How long a new stream's response waits for its first event before it
/// sends its headers alone. An agent that acts at once (most first events
/// come within a millisecond) gets its headers and first event out in one
/// write, and the client one wake-up instead of two; a slow one still gets
/// `200 OK` promptly.
const FIRST_EVENT_WAIT: Duration = Duration::from_millis(20);

/// Turns a manager stream into an SSE response.
pub(crate) async fn response(
    stream: EventStream,
    framing: Framing,
    config: &ServerConfig,
) -> Response {
    let closed = config.handle.stream_token();
    let mut events = stream.take_until(closed.cancelled_owned()).boxed().fuse();
    let first = tokio::time::timeout(FIRST_EVENT_WAIT, events.next())
        .await
        .ok()
        .flatten();
    let events = futures::stream::iter(first)
        .chain(events)
        .map(move |ev| Ok::<_, Infallible>(to_event(&ev, &framing)));
    let mut resp = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(config.sse_keep_alive))
        .into_response();
    // Ask buffering proxies (nginx) to pass events through as they come.
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

fn to_event(ev: &SequencedEvent, framing: &Framing) -> Event {
    let data = match framing {
        Framing::JsonRpc(id, wire) => wire.data(&ev.event, Some(id)),
        Framing::Rest(wire) => wire.data(&ev.event, None),
    };
    let data = match data {
        Ok(v) => v,
        Err(e) => {
            // Not reachable with the model's types; say so on the wire
            // rather than dropping the event silently.
            tracing::error!(error = %e, "could not encode a stream event");
            let err = crate::error::A2aError::Internal(format!("could not encode an event: {e}"));
            return match framing {
                Framing::JsonRpc(id, _) => Event::default().data(
                    json!({"jsonrpc": "2.0", "id": id, "error": err.to_jsonrpc_error()})
                        .to_string(),
                ),
                Framing::Rest(_) => Event::default().data(err.to_rest_body().to_string()),
            };
        }
    };
    let event = Event::default().data(data);
    match ev.seq {
        Some(seq) => event.id(seq.to_string()),
        None => event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Message;

    #[test]
    fn events_carry_seq_ids_and_framing() {
        let ev = SequencedEvent {
            seq: Some(7),
            event: std::sync::Arc::new(StreamResponse::Message(Message::user_text("hi"))),
        };
        let rest = format!("{:?}", to_event(&ev, &Framing::Rest(Wire::V1)));
        assert!(rest.contains('7'), "{rest}");
        let rpc = to_event(&ev, &Framing::JsonRpc(json!("req-1"), Wire::V1));
        let text = format!("{rpc:?}");
        assert!(text.contains("req-1") && text.contains("jsonrpc"), "{text}");
        // 0.3 JSON-RPC: the bare message with its `kind`.
        let v03 = format!(
            "{:?}",
            to_event(&ev, &Framing::JsonRpc(json!(1), Wire::V03Json))
        );
        assert!(v03.contains(r#"\"kind\":\"message\""#), "{v03}");
        // 0.3 HTTP+JSON: the protobuf form, parts in `content`.
        let proto = format!("{:?}", to_event(&ev, &Framing::Rest(Wire::V03Proto)));
        assert!(proto.contains(r#"\"content\""#), "{proto}");
    }
}
