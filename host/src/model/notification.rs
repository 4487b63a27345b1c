//! How a push notification is sent over HTTP, beyond its body (a
//! [`StreamResponse`](super::StreamResponse) holding one event): the
//! headers a2a-host adds and the claims of its signature. Shared by the
//! sender (`crate::push`) and the receiver-side helpers of the client.

use serde::{Deserialize, Serialize};

/// The notification's stable id (`TASK/CONFIG/SEQ`): the same on every
/// retry, so a receiver can drop duplicates.
pub const NOTIFICATION_ID_HEADER: &str = "X-A2A-Notification-Id";

/// The config's `token`, echoed for the receiver to check (the header the
/// official SDKs' receivers read).
pub const NOTIFICATION_TOKEN_HEADER: &str = "X-A2A-Notification-Token";

/// A compact JWS (JWT) over the body, when the host has a signing key.
pub const NOTIFICATION_SIGNATURE_HEADER: &str = "X-A2A-Notification-Signature";

/// Where the host publishes the public keys that verify its signatures
/// (a JWK Set), relative to its root.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The claims of a notification's signature. The JWT header names the key
/// (`kid`, in the host's JWK Set) and its algorithm (`EdDSA` or `ES256`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationClaims {
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds: receivers refuse older signatures, so a
    /// captured notification cannot be replayed for long.
    pub exp: i64,
    /// The task whose event this is.
    pub task_id: String,
    /// The notification's id, as in [`NOTIFICATION_ID_HEADER`].
    pub event_id: String,
    /// SHA-256 of the exact body bytes, base64url without padding.
    pub body_sha256: String,
}
