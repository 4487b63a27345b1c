//! Push notifications: webhooks that receive a task's events when the
//! client is not connected (A2A §3.1.7–3.1.10, §4.3).
//!
//! - **Configs** are created through the four push-config methods or
//!   inline on SendMessage; [`PushPolicy::check_config`] vets them (URL,
//!   addresses, header values) and the manager stores them with the task.
//! - **Queueing** is the store's: every event a task appends is queued
//!   for each of its configs in the same transaction
//!   ([`crate::store::outbox`]), so a crash cannot lose a notification
//!   between "event committed" and "POST sent".
//! - **Delivery** is the [`Deliverer`](dispatch::Deliverer)'s: it leases
//!   due notifications from the outbox, posts each as a `StreamResponse`
//!   with its headers (`Authorization`, `X-A2A-Notification-Token`,
//!   `X-A2A-Notification-Id`, and a signature with a signing key) to an
//!   address the policy checked ([`send`]), and retries with backoff
//!   until the notification is delivered or dead-lettered.
//! - **Signing** ([`signing`], optional): a JWT over the body's hash, with
//!   the public keys at `/.well-known/jwks.json`.

#[cfg(feature = "cli")]
mod admin;
#[cfg(feature = "push")]
pub mod dispatch;
mod flags;
mod policy;
#[cfg(feature = "push")]
pub mod send;
#[cfg(feature = "push")]
mod service;
mod settings;
#[cfg(feature = "push")]
pub mod signing;

#[cfg(feature = "cli")]
pub use admin::{PushCommand, run_push};
pub use flags::{PushArgs, PushFile};
pub use policy::{HostPattern, PushPolicy, Refusal, Target, Unreachable, shown};
#[cfg(feature = "push")]
pub use service::PushService;
pub use settings::PushSettings;
