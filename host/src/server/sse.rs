//! Task event streams as Server-Sent Events.
//!
//! Each [`SequencedEvent`] becomes one SSE event whose `id:` is its sequence
//! number (so a client can resume with `Last-Event-ID`) and whose `data:` is
//! one line of JSON: the bare event on HTTP+JSON, or a full JSON-RPC
//! response carrying the request's `id` on JSON-RPC. The event itself is in
//! the request's protocol version ([`Wire`]): the 1.0 `StreamResponse`, the
//! 0.3 JSON-RPC object (`kind`, `final`), or the 0.3 HTTP+JSON protobuf form.
//! Idle streams get a keep-alive comment every
//! [`ServerConfig::sse_keep_alive`].
//!
//! The stream ends when the manager's stream ends (terminal or interrupted
//! state, or a direct message), when the client goes away (hyper drops the
//! body and with it the manager's stream), or when
//! [`ServerHandle::close_streams`](super::ServerHandle::close_streams) is
//! called.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::HeaderValue;
use serde_json::{Value, json};

use super::ServerConfig;
use crate::compat;
use crate::manager::{EventStream, SequencedEvent};

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
    fn encode(self, ev: &crate::model::StreamResponse) -> serde_json::Result<Value> {
        match self {
            Wire::V1 => serde_json::to_value(ev),
            Wire::V03Json => serde_json::to_value(compat::json::Event::from_v1(ev)),
            Wire::V03Proto => serde_json::to_value(compat::proto::StreamResponse::from_v1(ev)),
        }
    }
}

/// Turns a manager stream into an SSE response.
pub(crate) fn response(stream: EventStream, framing: Framing, config: &ServerConfig) -> Response {
    let closed = config.handle.stream_token();
    let events = stream
        .take_until(closed.cancelled_owned())
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
    let wire = match framing {
        Framing::JsonRpc(_, w) | Framing::Rest(w) => *w,
    };
    let payload = match wire.encode(&ev.event) {
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
    let data = match framing {
        Framing::JsonRpc(id, _) => json!({"jsonrpc": "2.0", "id": id, "result": payload}),
        Framing::Rest(_) => payload,
    };
    let event = Event::default().data(data.to_string());
    match ev.seq {
        Some(seq) => event.id(seq.to_string()),
        None => event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Message, StreamResponse};

    #[test]
    fn events_carry_seq_ids_and_framing() {
        let ev = SequencedEvent {
            seq: Some(7),
            event: StreamResponse::Message(Message::user_text("hi")),
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
