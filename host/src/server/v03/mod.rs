//! A2A 0.3 on the wire, converted to and from the 1.0 [model] at the
//! binding edge. Nothing behind the bindings sees a 0.3 shape.
//!
//! A2A 0.3 has two JSON forms, and a 0.3 client expects the one of the
//! binding it speaks:
//!
//! - [`json`]: the **JSON-RPC** form of the 0.3 JSON schema. Parts, messages,
//!   tasks and stream events carry a `kind` discriminator (`text`, `file`,
//!   `data`, `message`, `task`, `status-update`, `artifact-update`); states
//!   and roles are lowercase (`input-required`, `user`); results are the bare
//!   objects (a `message/send` result is the Task or the Message itself);
//!   status updates carry `final`.
//! - [`proto`]: the **HTTP+JSON** form, which 0.3 defines as the protobuf
//!   JSON of its `a2a.proto` (package `a2a.v1`) behind the `/v1/…` routes:
//!   messages carry their parts in `content`, parts are
//!   `{text}`/`{file:{fileWithUri|fileWithBytes, mimeType, name}}`/
//!   `{data:{data:{…}}}`, enums are `TASK_STATE_CANCELLED`-style names, a
//!   send answers `{task}` or `{message}` and a stream event is
//!   `{task}|{message}|{statusUpdate}|{artifactUpdate}`. This is what the
//!   official a2a-sdk 0.3 REST client sends and parses (strictly: it rejects
//!   fields the 0.3 proto does not have, so nothing 1.0-only is emitted).
//!
//! ## Mixed-up versions are errors, never misreadings
//!
//! A request in the other version's shape is refused with invalid params
//! naming the field, before it is read: [`json::check_send_params`] and
//! friends for 0.3 requests, [`reject_v03_shapes`] for 1.0 requests. Fields
//! neither version knows are still ignored.
//!
//! ## What does not survive a conversion
//!
//! - A 1.0 data part whose value is not a JSON object becomes the 0.3 object
//!   `{"value": …}` (0.3 data parts hold objects only).
//! - 1.0 `AuthenticationInfo` has one `scheme`; 0.3 has `schemes[]`: a 0.3
//!   list becomes its first entry, and a 1.0 scheme a one-entry list.
//! - The 0.3 protobuf `Message` has no `referenceTaskIds`; the HTTP+JSON form
//!   drops them on output.
//! - Task state `TASK_STATE_UNSPECIFIED` is 0.3 `unknown` and back.
//!
//! ## `fileWithBytes` in the HTTP+JSON form
//!
//! The a2a-sdk 0.3 client and server put the UTF-8 bytes of the 0.3 base64
//! text (`file.bytes`) into the protobuf `bytes` field, so on the wire the
//! content is base64 *twice*. The host writes it that way, and reads a value
//! whose decoded bytes are themselves base64 text as such; any other value
//! is taken as plain (once-encoded) protobuf bytes.
//!
//! ## Where each piece lives
//!
//! - [`json`] (`jsonrpc_shapes.rs`, `jsonrpc_checks.rs`, `jsonrpc_convert.rs`)
//!   and [`proto`] (`rest_shapes.rs`, `rest_checks.rs`, `rest_convert.rs`):
//!   each form's wire types, the checks that refuse the other version's
//!   shapes in its requests, and the conversions to and from the 1.0 model.
//! - `screen.rs`: [`reject_v03_shapes`] and [`may_hold_v03_shapes`], 0.3
//!   shapes in 1.0 requests.
//! - `card.rs`: [`dual_card`], the 0.3 members of an agent card.
//! - `dispatch.rs`: the 0.3 JSON-RPC methods ([`METHODS`]) on the task
//!   manager. The 0.3 HTTP+JSON routes are in [`super::rest`].

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::A2aError;
use crate::model;

mod card;
mod dispatch;
mod jsonrpc_checks;
mod jsonrpc_convert;
mod jsonrpc_shapes;
mod rest_checks;
mod rest_convert;
mod rest_shapes;
mod screen;

pub use card::{V03_PROTOCOL_VERSION, card_v03_members, dual_card};
pub use dispatch::METHODS;
pub(in crate::server) use dispatch::{dispatch_rpc, extended_card_not_configured};
pub use screen::{may_hold_v03_shapes, reject_v03_shapes};

/// A2A 0.3 in its JSON-RPC form: `kind`-tagged objects, lowercase enums.
pub mod json {
    pub use super::jsonrpc_checks::{
        check_message, check_push_config, check_push_config_ref, check_send_params,
    };
    pub use super::jsonrpc_convert::parse_send_params;
    pub use super::jsonrpc_shapes::*;
}

/// A2A 0.3 in its HTTP+JSON form: the protobuf JSON of the 0.3 `a2a.proto`.
pub mod proto {
    pub use super::rest_checks::{check_message, check_send_request};
    pub use super::rest_convert::parse_send_request;
    pub use super::rest_shapes::*;
}

/// Deserializes `v`, naming the offending field (a dotted path under
/// `prefix`) in the error.
pub fn parse<T: DeserializeOwned>(v: Value, prefix: &str) -> Result<T, A2aError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let mut field = join(prefix, if path == "." { "" } else { &path });
        if let Some(missing) = inner
            .strip_prefix("missing field `")
            .and_then(|s| s.split('`').next())
        {
            field = join(&field, missing);
        }
        if field.is_empty() {
            A2aError::invalid(format!("invalid params: {inner}"))
        } else {
            A2aError::invalid_field(&field, format!("invalid params: `{field}`: {inner}"))
        }
    })
}

/// `a.b`, or whichever is not empty.
fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ if b.starts_with('[') => format!("{a}{b}"),
        _ => format!("{a}.{b}"),
    }
}

fn field_err(field: &str, message: impl Into<String>) -> A2aError {
    let message = message.into();
    A2aError::invalid_field(field, format!("invalid params: `{field}`: {message}"))
}

/// What a 0.3 request that uses a 1.0 shape is told.
const V1_FORM: &str = "the A2A 1.0 form; send `A2A-Version: 1.0` to use 1.0 shapes";

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let trimmed = s.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
        .ok()
}

fn encode_base64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// A 1.0 data value as a 0.3 data object.
fn data_object(v: &Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m.clone(),
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other.clone());
            m
        }
    }
}

/// 0.3 push authentication (`schemes[]`) as 1.0 (one `scheme`).
fn auth_into_v1(schemes: Vec<String>, credentials: Option<String>) -> model::AuthenticationInfo {
    model::AuthenticationInfo {
        scheme: schemes
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default(),
        credentials,
    }
}

/// What the unit tests of this module's files share.
#[cfg(test)]
mod test_support {
    use crate::error::A2aError;

    pub fn field_of(e: &A2aError) -> String {
        match e {
            A2aError::InvalidParams { field: Some(f), .. } => f.clone(),
            other => panic!("not invalid params with a field: {other:?}"),
        }
    }
}
