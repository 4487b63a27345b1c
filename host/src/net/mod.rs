//! Outbound addresses: which ones are public, how a host resolves to
//! checked socket addresses, and how `host[:port]` is written.
//!
//! Shared by everything that connects somewhere a third party chose (an
//! agent's outbound HTTP, push-notification delivery), so that one rule
//! decides what counts as a non-public destination. Needs only std and
//! tokio, whatever Cargo features the crate is built with.
//!
//! - [`non_public`] classifies an address against the IANA special-purpose
//!   registries ([`IPV4_RANGES`], [`IPV6_RANGES`]).
//! - [`resolve_checked`] resolves a host and checks every address; the
//!   caller connects to exactly the addresses it returns (no second lookup,
//!   so DNS rebinding cannot redirect the connection).
//! - [`split_authority`] splits `host[:port]`, with IPv6 literals in
//!   brackets (`[::1]:8080`); an unbracketed IPv6 address is refused, since
//!   its port cannot be told from its last group.

mod authority;
mod ranges;
mod resolve;

pub use authority::{
    Authority, AuthorityError, Host, is_dns_name, normalize_host, split_authority,
};
pub use ranges::{
    Embedded, Embeds, IPV4_RANGES, IPV6_RANGES, NonPublic, Range, Reach, Registry, non_public,
};
pub use resolve::{Refused, ResolveError, check_addresses, is_localhost, resolve_checked};
