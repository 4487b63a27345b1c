//! Which addresses are public: the IANA special-purpose address registries
//! as tables, and the classification of an address against them.
//!
//! # Sources
//! - IPv4: the IANA IPv4 Special-Purpose Address Registry
//!   (`iana-ipv4-special-registry`), every row; plus multicast
//!   (`224.0.0.0/4`, RFC 5771), which that registry leaves to the multicast
//!   registry.
//! - IPv6: the IANA IPv6 Special-Purpose Address Registry
//!   (`iana-ipv6-special-registry`), every row; plus, from the IANA IPv6
//!   Address Space registry, global unicast (`2000::/3`), multicast
//!   (`ff00::/8`), the deprecated site-local block (`fec0::/10`) and
//!   "Reserved by IETF" for everything else; plus the IPv4-compatible
//!   (`::/96`, RFC 4291) and IPv4-translated (`::ffff:0:0:0/96`, RFC 2765)
//!   forms, which sit in that reserved space.
//!
//! Both registries as they stood in 2025 (the latest rows: `100:0:0:1::/64`
//! Dummy IPv6 Prefix, RFC 9780, 2025-04; `3fff::/20`, RFC 9637, 2024-07;
//! `5f00::/16`, RFC 9602, 2024-04). A block the registries add later is
//! public here until a row is added for it, except in IPv6 outside
//! `2000::/3`, which is refused as a whole.
//!
//! # The rule
//! An address belongs to the most specific (longest-prefix) row that
//! contains it, and that row's [`Reach`] decides. [`Range::registry`] keeps
//! the registry's "Globally Reachable" column next to the decision; they
//! differ only where a comment on the row says why:
//! - `192.0.0.9/32`, `192.0.0.10/32`, `2001:1::1/128`, `2001:1::2/128`,
//!   `2001:1::3/128` (PCP, TURN and DNS-SD SRP anycast): the registry says
//!   globally reachable, but an anycast address for these services is
//!   answered by the nearest server, in practice the network's own gateway
//!   or a server inside it: not public.
//! - `2001:20::/28` (ORCHIDv2) and `2001:30::/28` (DETs, built on
//!   ORCHIDv2): the registry says globally reachable, but these are
//!   cryptographic identifiers, not locators (RFC 7343, RFC 9374); no web
//!   server is reached at one: not public.
//! - `2001::/32` (Teredo, column N/A): not public, as the enclosing
//!   `2001::/23` (a tunnel to a client behind a NAT, through a relay).
//! - `192.88.99.0/24` and `2001:10::/28` (terminated, column blank): not
//!   public.
//! - `2002::/16` (6to4, column N/A): as public as the IPv4 address in its
//!   bits 16..48, which a 6to4 relay forwards the packet to.
//! - `::ffff:0:0/96` (IPv4-mapped, column "not globally reachable"): as
//!   public as the IPv4 address in its last 32 bits, since a dual-stack
//!   socket connects to that IPv4 address itself.
//! - `64:ff9b::/96` (NAT64, column "globally reachable"): as public as the
//!   embedded IPv4 address, which the translator forwards to.
//! - `::/96` (IPv4-compatible, deprecated) and `::ffff:0:0:0/96`
//!   (IPv4-translated, obsolete): never public, whatever they embed; a
//!   message names the embedded IPv4 address and its range.
//! - AMT and AS112 (`192.31.196.0/24`, `192.52.193.0/24`,
//!   `192.175.48.0/24`, `2001:3::/32`, `2001:4:112::/48`,
//!   `2620:4f:8000::/48`): globally reachable, as the column says.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a registry's "Globally Reachable" column says of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    /// `True`.
    Global,
    /// `False`.
    NotGlobal,
    /// `N/A` (Teredo, 6to4).
    NotApplicable,
    /// Blank: the allocation was terminated.
    Terminated,
    /// Not a row of the special-purpose registries (multicast, the IPv6
    /// address space, IPv4-compatible and IPv4-translated forms).
    Absent,
}

/// What this module decides for addresses of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Public: may be connected to through any allowed name.
    Public,
    /// Not public: refused unless the caller named the address itself.
    NotPublic,
    /// As public as the IPv4 address the form embeds ([`Range::embeds`]).
    AsEmbeddedIpv4,
}

/// Where an IPv6 form carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embeds {
    /// Nowhere.
    Nothing,
    /// In its last 32 bits (mapped, translated, compatible, NAT64).
    Last32Bits,
    /// In bits 16..48 (6to4, `2002:AABB:CCDD::/48`).
    Bits16To48,
}

/// One block of addresses: a row of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The first address of the block.
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
    /// The block's name in the registry it comes from.
    pub name: &'static str,
    /// The document that defines it.
    pub rfc: &'static str,
    /// The registry's "Globally Reachable" column.
    pub registry: Registry,
    /// What is decided here (equal to the column unless a comment says).
    pub reach: Reach,
    /// Where the block carries an IPv4 address, if it does.
    pub embeds: Embeds,
}

impl Range {
    /// A row whose reach follows the registry's column (`N/A`, blank and
    /// absent count as not public); change it with [`Range::decided`].
    const fn row(
        addr: IpAddr,
        len: u8,
        name: &'static str,
        rfc: &'static str,
        registry: Registry,
    ) -> Range {
        let reach = match registry {
            Registry::Global => Reach::Public,
            _ => Reach::NotPublic,
        };
        Range {
            addr,
            len,
            name,
            rfc,
            registry,
            reach,
            embeds: Embeds::Nothing,
        }
    }

    /// The same row with another decision.
    const fn decided(self, reach: Reach) -> Range {
        Range { reach, ..self }
    }

    /// The same row, carrying an IPv4 address.
    const fn embedding(self, embeds: Embeds) -> Range {
        Range { embeds, ..self }
    }

    /// Whether `ip` is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }

    /// The IPv4 address `ip` embeds, if the block carries one.
    fn embedded_ipv4(&self, ip: IpAddr) -> Option<Ipv4Addr> {
        let IpAddr::V6(v6) = ip else { return None };
        let bits = u128::from(v6);
        match self.embeds {
            Embeds::Nothing => None,
            Embeds::Last32Bits => Some(Ipv4Addr::from(bits as u32)),
            Embeds::Bits16To48 => Some(Ipv4Addr::from((bits >> 80) as u32)),
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {} ({})", self.addr, self.len, self.name, self.rfc)
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h))
}

use Registry::{Absent, Global, NotApplicable, NotGlobal, Terminated};

/// The IPv4 rows: every row of the IANA IPv4 special-purpose registry, and
/// multicast. Addresses in no row are public.
#[rustfmt::skip]
pub const IPV4_RANGES: &[Range] = &[
    Range::row(v4(0, 0, 0, 0), 8, "\"This network\"", "RFC 791", NotGlobal),
    Range::row(v4(0, 0, 0, 0), 32, "\"This host on this network\"", "RFC 1122", NotGlobal),
    Range::row(v4(10, 0, 0, 0), 8, "Private-Use", "RFC 1918", NotGlobal),
    Range::row(v4(100, 64, 0, 0), 10, "Shared Address Space", "RFC 6598", NotGlobal),
    Range::row(v4(127, 0, 0, 0), 8, "Loopback", "RFC 1122", NotGlobal),
    Range::row(v4(169, 254, 0, 0), 16, "Link Local", "RFC 3927", NotGlobal),
    Range::row(v4(172, 16, 0, 0), 12, "Private-Use", "RFC 1918", NotGlobal),
    Range::row(v4(192, 0, 0, 0), 24, "IETF Protocol Assignments", "RFC 6890", NotGlobal),
    Range::row(v4(192, 0, 0, 0), 29, "IPv4 Service Continuity Prefix", "RFC 7335", NotGlobal),
    Range::row(v4(192, 0, 0, 8), 32, "IPv4 dummy address", "RFC 7600", NotGlobal),
    // Globally reachable in the registry; answered by the nearest PCP
    // server, the network's own NAT gateway: not public (see module docs).
    Range::row(v4(192, 0, 0, 9), 32, "Port Control Protocol Anycast", "RFC 7723", Global).decided(Reach::NotPublic),
    // Likewise: the network's own TURN server.
    Range::row(v4(192, 0, 0, 10), 32, "Traversal Using Relays around NAT Anycast", "RFC 8155", Global).decided(Reach::NotPublic),
    Range::row(v4(192, 0, 0, 170), 32, "NAT64/DNS64 Discovery", "RFC 8880", NotGlobal),
    Range::row(v4(192, 0, 0, 171), 32, "NAT64/DNS64 Discovery", "RFC 8880", NotGlobal),
    Range::row(v4(192, 0, 2, 0), 24, "Documentation (TEST-NET-1)", "RFC 5737", NotGlobal),
    Range::row(v4(192, 31, 196, 0), 24, "AS112-v4", "RFC 7535", Global),
    Range::row(v4(192, 52, 193, 0), 24, "AMT", "RFC 7450", Global),
    // Terminated 2015-03 (columns blank): not public.
    Range::row(v4(192, 88, 99, 0), 24, "Deprecated (6to4 Relay Anycast)", "RFC 7526", Terminated),
    Range::row(v4(192, 88, 99, 2), 32, "6a44-relay anycast address", "RFC 6751", NotGlobal),
    Range::row(v4(192, 168, 0, 0), 16, "Private-Use", "RFC 1918", NotGlobal),
    Range::row(v4(192, 175, 48, 0), 24, "Direct Delegation AS112 Service", "RFC 7534", Global),
    Range::row(v4(198, 18, 0, 0), 15, "Benchmarking", "RFC 2544", NotGlobal),
    Range::row(v4(198, 51, 100, 0), 24, "Documentation (TEST-NET-2)", "RFC 5737", NotGlobal),
    Range::row(v4(203, 0, 113, 0), 24, "Documentation (TEST-NET-3)", "RFC 5737", NotGlobal),
    // Not in the special-purpose registry (the multicast registry has it).
    Range::row(v4(224, 0, 0, 0), 4, "Multicast", "RFC 5771", Absent),
    Range::row(v4(240, 0, 0, 0), 4, "Reserved", "RFC 1112", NotGlobal),
    Range::row(v4(255, 255, 255, 255), 32, "Limited Broadcast", "RFC 919", NotGlobal),
];

/// The IPv6 rows: every row of the IANA IPv6 special-purpose registry, the
/// IPv6 address space around them, and the forms embedding IPv4. Every
/// address is in some row (`::/0`).
#[rustfmt::skip]
pub const IPV6_RANGES: &[Range] = &[
    // IPv6 address space registry: only 2000::/3 is global unicast; the
    // rest is reserved by the IETF, or one of the rows below.
    Range::row(v6(0, 0, 0, 0, 0, 0, 0, 0), 0, "Reserved by IETF", "RFC 4291", Absent),
    Range::row(v6(0x2000, 0, 0, 0, 0, 0, 0, 0), 3, "Global Unicast", "RFC 4291", Absent).decided(Reach::Public),
    Range::row(v6(0, 0, 0, 0, 0, 0, 0, 1), 128, "Loopback Address", "RFC 4291", NotGlobal),
    Range::row(v6(0, 0, 0, 0, 0, 0, 0, 0), 128, "Unspecified Address", "RFC 4291", NotGlobal),
    // Deprecated (RFC 4291 section 2.5.5.1): never public.
    Range::row(v6(0, 0, 0, 0, 0, 0, 0, 0), 96, "IPv4-compatible Address (deprecated)", "RFC 4291", Absent).embedding(Embeds::Last32Bits),
    // A dual-stack socket connects to the IPv4 address itself.
    Range::row(v6(0, 0, 0, 0, 0, 0xffff, 0, 0), 96, "IPv4-mapped Address", "RFC 4291", NotGlobal).decided(Reach::AsEmbeddedIpv4).embedding(Embeds::Last32Bits),
    // Obsolete SIIT form (RFC 2765, dropped by RFC 6145): never public.
    Range::row(v6(0, 0, 0, 0, 0xffff, 0, 0, 0), 96, "IPv4-translated Address (obsolete)", "RFC 2765", Absent).embedding(Embeds::Last32Bits),
    // The NAT64 translator forwards to the embedded IPv4 address.
    Range::row(v6(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96, "IPv4-IPv6 Translat.", "RFC 6052", Global).decided(Reach::AsEmbeddedIpv4).embedding(Embeds::Last32Bits),
    Range::row(v6(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, "IPv4-IPv6 Translat.", "RFC 8215", NotGlobal),
    Range::row(v6(0x100, 0, 0, 0, 0, 0, 0, 0), 64, "Discard-Only Address Block", "RFC 6666", NotGlobal),
    Range::row(v6(0x100, 0, 0, 1, 0, 0, 0, 0), 64, "Dummy IPv6 Prefix", "RFC 9780", NotGlobal),
    Range::row(v6(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "IETF Protocol Assignments", "RFC 2928", NotGlobal),
    // N/A in the registry: a tunnel through a relay to a client behind a
    // NAT; not public, as the enclosing 2001::/23.
    Range::row(v6(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, "TEREDO", "RFC 4380", NotApplicable),
    // Globally reachable in the registry; answered by the nearest server,
    // inside the network: not public (see module docs).
    Range::row(v6(0x2001, 1, 0, 0, 0, 0, 0, 1), 128, "Port Control Protocol Anycast", "RFC 7723", Global).decided(Reach::NotPublic),
    Range::row(v6(0x2001, 1, 0, 0, 0, 0, 0, 2), 128, "Traversal Using Relays around NAT Anycast", "RFC 8155", Global).decided(Reach::NotPublic),
    Range::row(v6(0x2001, 1, 0, 0, 0, 0, 0, 3), 128, "DNS-SD Service Registration Protocol Anycast", "RFC 9665", Global).decided(Reach::NotPublic),
    Range::row(v6(0x2001, 2, 0, 0, 0, 0, 0, 0), 48, "Benchmarking", "RFC 5180", NotGlobal),
    Range::row(v6(0x2001, 3, 0, 0, 0, 0, 0, 0), 32, "AMT", "RFC 7450", Global),
    Range::row(v6(0x2001, 4, 0x112, 0, 0, 0, 0, 0), 48, "AS112-v6", "RFC 7535", Global),
    // Terminated 2014-03 (columns blank): not public.
    Range::row(v6(0x2001, 0x10, 0, 0, 0, 0, 0, 0), 28, "Deprecated (previously ORCHID)", "RFC 4843", Terminated),
    // Globally reachable in the registry, but identifiers, not locators:
    // not public (see module docs).
    Range::row(v6(0x2001, 0x20, 0, 0, 0, 0, 0, 0), 28, "ORCHIDv2", "RFC 7343", Global).decided(Reach::NotPublic),
    Range::row(v6(0x2001, 0x30, 0, 0, 0, 0, 0, 0), 28, "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", Global).decided(Reach::NotPublic),
    Range::row(v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "Documentation", "RFC 3849", NotGlobal),
    // N/A in the registry: a 6to4 relay forwards to the embedded address.
    Range::row(v6(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, "6to4", "RFC 3056", NotApplicable).decided(Reach::AsEmbeddedIpv4).embedding(Embeds::Bits16To48),
    Range::row(v6(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0), 48, "Direct Delegation AS112 Service", "RFC 7534", Global),
    Range::row(v6(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "Documentation", "RFC 9637", NotGlobal),
    Range::row(v6(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16, "Segment Routing (SRv6) SIDs", "RFC 9602", NotGlobal),
    Range::row(v6(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, "Unique-Local", "RFC 4193", NotGlobal),
    Range::row(v6(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "Link-Local Unicast", "RFC 4291", NotGlobal),
    // IPv6 address space registry: deprecated, then multicast.
    Range::row(v6(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "Site-Local (deprecated)", "RFC 3879", Absent),
    Range::row(v6(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "Multicast", "RFC 4291", Absent),
];

/// Addresses where cloud providers serve instance metadata (and often
/// credentials); named in messages. All are in non-public rows.
const CLOUD_METADATA: [IpAddr; 4] = [
    // AWS, Azure, Google Cloud, Oracle Cloud, DigitalOcean, …
    v4(169, 254, 169, 254),
    // AWS ECS task metadata and credentials.
    v4(169, 254, 170, 2),
    // Alibaba Cloud.
    v4(100, 100, 100, 200),
    // AWS, over IPv6.
    v6(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
];

/// The most specific row containing `ip`.
fn lookup(ip: IpAddr) -> Option<&'static Range> {
    let table: &'static [Range] = match ip {
        IpAddr::V4(_) => IPV4_RANGES,
        IpAddr::V6(_) => IPV6_RANGES,
    };
    table
        .iter()
        .filter(|r| r.contains(ip))
        .max_by_key(|r| r.len)
}

/// The IPv4 address an IPv6 form embeds, and the non-public row it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Embedded {
    /// The embedded address.
    pub ipv4: Ipv4Addr,
    /// Its row if it is not public, `None` if it is public.
    pub range: Option<&'static Range>,
}

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonPublic {
    /// The address.
    pub ip: IpAddr,
    /// The most specific row that contains it.
    pub range: &'static Range,
    /// The IPv4 address it embeds, for the IPv6 forms that carry one.
    pub embedded: Option<Embedded>,
}

impl NonPublic {
    /// The registry name of the range that makes the address non-public:
    /// the embedded IPv4 address's if that is what decided.
    pub fn name(&self) -> &'static str {
        match self.embedded {
            Some(Embedded {
                range: Some(range), ..
            }) if self.range.reach == Reach::AsEmbeddedIpv4 => range.name,
            _ => self.range.name,
        }
    }

    /// Whether the address (or the IPv4 address it embeds) is a well-known
    /// cloud metadata service address.
    pub fn is_cloud_metadata(&self) -> bool {
        let embedded = self.embedded.map(|e| IpAddr::V4(e.ipv4));
        CLOUD_METADATA
            .iter()
            .any(|m| *m == self.ip || Some(*m) == embedded)
    }
}

impl fmt::Display for NonPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.range)?;
        if let Some(e) = self.embedded {
            write!(f, ", embedding {}", e.ipv4)?;
            if let Some(range) = e.range {
                write!(f, " in {range}")?;
            }
        }
        if self.is_cloud_metadata() {
            f.write_str(", a cloud metadata service address")?;
        }
        Ok(())
    }
}

/// Why `ip` is not public, or `None` if it is a public address (see the
/// module docs for the rule).
pub fn non_public(ip: IpAddr) -> Option<NonPublic> {
    let range = lookup(ip)?;
    let embedded = range.embedded_ipv4(ip).map(|ipv4| Embedded {
        ipv4,
        range: lookup(IpAddr::V4(ipv4)).filter(|r| r.reach == Reach::NotPublic),
    });
    let public = match range.reach {
        Reach::Public => true,
        Reach::NotPublic => false,
        Reach::AsEmbeddedIpv4 => embedded.is_some_and(|e| e.range.is_none()),
    };
    (!public).then_some(NonPublic {
        ip,
        range,
        embedded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows whose decision differs from the registry's column on purpose
    /// (each has a comment on its row and in the module docs).
    const DECIDED: &[&str] = &[
        "192.0.0.9/32",
        "192.0.0.10/32",
        "2000::/3",
        "::ffff:0.0.0.0/96",
        "64:ff9b::/96",
        "2001:1::1/128",
        "2001:1::2/128",
        "2001:1::3/128",
        "2001:20::/28",
        "2001:30::/28",
        "2002::/16",
    ];

    fn block(r: &Range) -> String {
        format!("{}/{}", r.addr, r.len)
    }

    /// The first and last address of a row.
    fn bounds(r: &Range) -> (u128, u128, u128) {
        let bits = if r.addr.is_ipv4() { 32 } else { 128 };
        let first = match r.addr {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        let size_minus_one = u128::MAX
            .checked_shr(128 - bits + u32::from(r.len))
            .unwrap_or(0);
        let max = u128::MAX >> (128 - bits);
        (first, first + size_minus_one, max)
    }

    fn addr(like: IpAddr, n: u128) -> IpAddr {
        match like {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
        }
    }

    #[test]
    fn tables_are_well_formed() {
        for (table, v4) in [(IPV4_RANGES, true), (IPV6_RANGES, false)] {
            for (i, r) in table.iter().enumerate() {
                assert_eq!(r.addr.is_ipv4(), v4, "{r}");
                assert!(r.len <= if v4 { 32 } else { 128 }, "{r}");
                let (first, last, _) = bounds(r);
                assert!(first <= last, "{r}");
                assert!(
                    r.contains(addr(r.addr, first)) && r.contains(addr(r.addr, last)),
                    "{r}"
                );
                // No host bits: the address is the first of its block.
                assert_eq!(
                    block(r),
                    block(&Range {
                        addr: addr(r.addr, first),
                        ..*r
                    })
                );
                assert!(
                    table[..i]
                        .iter()
                        .all(|o| (o.addr, o.len) != (r.addr, r.len)),
                    "{r} twice"
                );
                let follows = match r.registry {
                    Registry::Global => Reach::Public,
                    _ => Reach::NotPublic,
                };
                assert_eq!(
                    r.reach != follows,
                    DECIDED.contains(&block(r).as_str()),
                    "{r}: decision {:?} against the registry's {:?}",
                    r.reach,
                    r.registry
                );
                if r.reach == Reach::AsEmbeddedIpv4 {
                    assert_ne!(r.embeds, Embeds::Nothing, "{r}");
                }
            }
        }
    }

    /// Each row's first and last address fall in it (or in a more specific
    /// row inside it), and the addresses just outside do not.
    #[test]
    fn every_row_ends_where_it_should() {
        for r in IPV4_RANGES.iter().chain(IPV6_RANGES) {
            let (first, last, max) = bounds(r);
            for inside in [first, last] {
                let found = lookup(addr(r.addr, inside)).unwrap();
                assert!(
                    found == r || (found.len > r.len && r.contains(found.addr)),
                    "{} is in {found}, not in {r}",
                    addr(r.addr, inside)
                );
            }
            let outside = [first.checked_sub(1), (last < max).then(|| last + 1)];
            for n in outside.into_iter().flatten() {
                let ip = addr(r.addr, n);
                assert_ne!(lookup(ip), Some(r), "{ip} is not in {r}");
            }
        }
    }

    /// The verdict on addresses in, at the edge of and just outside each
    /// range: `None` is public, else the name of the deciding range.
    #[test]
    fn addresses_get_their_verdict() {
        let cases: &[(&str, Option<&str>)] = &[
            // IPv4.
            ("0.0.0.0", Some("\"This host on this network\"")),
            ("0.0.0.1", Some("\"This network\"")),
            ("0.255.255.255", Some("\"This network\"")),
            ("1.0.0.0", None),
            ("1.1.1.1", None),
            ("8.8.8.8", None),
            ("9.255.255.255", None),
            ("10.0.0.0", Some("Private-Use")),
            ("10.255.255.255", Some("Private-Use")),
            ("11.0.0.0", None),
            ("100.63.255.255", None),
            ("100.64.0.0", Some("Shared Address Space")),
            ("100.127.255.255", Some("Shared Address Space")),
            ("100.128.0.0", None),
            ("126.255.255.255", None),
            ("127.0.0.1", Some("Loopback")),
            ("127.255.255.255", Some("Loopback")),
            ("128.0.0.0", None),
            ("169.253.255.255", None),
            ("169.254.169.254", Some("Link Local")),
            ("169.255.0.0", None),
            ("172.15.255.255", None),
            ("172.16.0.0", Some("Private-Use")),
            ("172.31.255.255", Some("Private-Use")),
            ("172.32.0.0", None),
            ("191.255.255.255", None),
            ("192.0.0.0", Some("IPv4 Service Continuity Prefix")),
            ("192.0.0.7", Some("IPv4 Service Continuity Prefix")),
            ("192.0.0.8", Some("IPv4 dummy address")),
            ("192.0.0.9", Some("Port Control Protocol Anycast")),
            (
                "192.0.0.10",
                Some("Traversal Using Relays around NAT Anycast"),
            ),
            ("192.0.0.11", Some("IETF Protocol Assignments")),
            ("192.0.0.170", Some("NAT64/DNS64 Discovery")),
            ("192.0.0.171", Some("NAT64/DNS64 Discovery")),
            ("192.0.0.255", Some("IETF Protocol Assignments")),
            ("192.0.1.0", None),
            ("192.0.2.0", Some("Documentation (TEST-NET-1)")),
            ("192.0.2.255", Some("Documentation (TEST-NET-1)")),
            ("192.0.3.0", None),
            ("192.31.196.1", None),
            ("192.52.193.1", None),
            ("192.88.98.255", None),
            ("192.88.99.1", Some("Deprecated (6to4 Relay Anycast)")),
            ("192.88.99.2", Some("6a44-relay anycast address")),
            ("192.88.100.0", None),
            ("192.167.255.255", None),
            ("192.168.0.0", Some("Private-Use")),
            ("192.168.255.255", Some("Private-Use")),
            ("192.169.0.0", None),
            ("192.175.48.1", None),
            ("198.17.255.255", None),
            ("198.18.0.0", Some("Benchmarking")),
            ("198.19.255.255", Some("Benchmarking")),
            ("198.20.0.0", None),
            ("198.51.100.1", Some("Documentation (TEST-NET-2)")),
            ("203.0.113.1", Some("Documentation (TEST-NET-3)")),
            ("203.0.114.0", None),
            ("223.255.255.255", None),
            ("224.0.0.1", Some("Multicast")),
            ("239.255.255.255", Some("Multicast")),
            ("240.0.0.0", Some("Reserved")),
            ("255.255.255.254", Some("Reserved")),
            ("255.255.255.255", Some("Limited Broadcast")),
            // IPv6 outside 2000::/3, and its embedded-IPv4 forms.
            ("::", Some("Unspecified Address")),
            ("::1", Some("Loopback Address")),
            ("::2", Some("IPv4-compatible Address (deprecated)")),
            ("::127.0.0.1", Some("IPv4-compatible Address (deprecated)")),
            ("::8.8.8.8", Some("IPv4-compatible Address (deprecated)")),
            ("::1:0:0", Some("Reserved by IETF")),
            ("::fffe:ffff:ffff", Some("Reserved by IETF")),
            ("::ffff:0.0.0.0", Some("\"This host on this network\"")),
            ("::ffff:127.0.0.1", Some("Loopback")),
            ("::ffff:169.254.169.254", Some("Link Local")),
            ("::ffff:8.8.8.8", None),
            ("::ffff:255.255.255.255", Some("Limited Broadcast")),
            ("::1:0:0:0", Some("Reserved by IETF")),
            ("::fffe:ffff:ffff:ffff", Some("Reserved by IETF")),
            (
                "::ffff:0:7f00:1",
                Some("IPv4-translated Address (obsolete)"),
            ),
            (
                "::ffff:0:a9fe:a9fe",
                Some("IPv4-translated Address (obsolete)"),
            ),
            (
                "::ffff:0:808:808",
                Some("IPv4-translated Address (obsolete)"),
            ),
            (
                "::ffff:0:ffff:ffff",
                Some("IPv4-translated Address (obsolete)"),
            ),
            ("::ffff:1:0:0", Some("Reserved by IETF")),
            ("64:ff9b::808:808", None),
            ("64:ff9b::a00:1", Some("Private-Use")),
            ("64:ff9b::a9fe:a9fe", Some("Link Local")),
            ("64:ff9b::1:0:0", Some("Reserved by IETF")),
            (
                "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Reserved by IETF"),
            ),
            ("64:ff9b:1::808:808", Some("IPv4-IPv6 Translat.")),
            (
                "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
                Some("IPv4-IPv6 Translat."),
            ),
            ("64:ff9b:2::", Some("Reserved by IETF")),
            ("100::1", Some("Discard-Only Address Block")),
            (
                "100::ffff:ffff:ffff:ffff",
                Some("Discard-Only Address Block"),
            ),
            ("100:0:0:1::1", Some("Dummy IPv6 Prefix")),
            ("100:0:0:1:ffff:ffff:ffff:ffff", Some("Dummy IPv6 Prefix")),
            ("100:0:0:2::", Some("Reserved by IETF")),
            (
                "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Reserved by IETF"),
            ),
            ("4000::", Some("Reserved by IETF")),
            (
                "5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Reserved by IETF"),
            ),
            ("5f00::", Some("Segment Routing (SRv6) SIDs")),
            (
                "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Segment Routing (SRv6) SIDs"),
            ),
            ("5f01::", Some("Reserved by IETF")),
            (
                "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Reserved by IETF"),
            ),
            ("fc00::", Some("Unique-Local")),
            ("fd00:ec2::254", Some("Unique-Local")),
            (
                "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Unique-Local"),
            ),
            ("fe00::", Some("Reserved by IETF")),
            (
                "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Reserved by IETF"),
            ),
            ("fe80::1", Some("Link-Local Unicast")),
            (
                "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Link-Local Unicast"),
            ),
            ("fec0::1", Some("Site-Local (deprecated)")),
            (
                "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Site-Local (deprecated)"),
            ),
            ("ff00::", Some("Multicast")),
            ("ff02::1", Some("Multicast")),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("Multicast")),
            // IPv6 in 2000::/3.
            ("2000::", None),
            ("2606:4700::1111", None),
            ("2001::", Some("TEREDO")),
            ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", Some("TEREDO")),
            ("2001:1::", Some("IETF Protocol Assignments")),
            ("2001:1::1", Some("Port Control Protocol Anycast")),
            (
                "2001:1::2",
                Some("Traversal Using Relays around NAT Anycast"),
            ),
            (
                "2001:1::3",
                Some("DNS-SD Service Registration Protocol Anycast"),
            ),
            ("2001:1::4", Some("IETF Protocol Assignments")),
            (
                "2001:1:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("IETF Protocol Assignments"),
            ),
            ("2001:2::", Some("Benchmarking")),
            ("2001:2::1", Some("Benchmarking")),
            ("2001:2:0:ffff:ffff:ffff:ffff:ffff", Some("Benchmarking")),
            ("2001:2:1::", Some("IETF Protocol Assignments")),
            ("2001:3::1", None),
            ("2001:3:ffff:ffff:ffff:ffff:ffff:ffff", None),
            ("2001:4::1", Some("IETF Protocol Assignments")),
            ("2001:4:112::1", None),
            ("2001:4:113::", Some("IETF Protocol Assignments")),
            (
                "2001:f:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("IETF Protocol Assignments"),
            ),
            ("2001:10::1", Some("Deprecated (previously ORCHID)")),
            (
                "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Deprecated (previously ORCHID)"),
            ),
            ("2001:20::", Some("ORCHIDv2")),
            ("2001:20::1", Some("ORCHIDv2")),
            ("2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", Some("ORCHIDv2")),
            (
                "2001:30::1",
                Some("Drone Remote ID Protocol Entity Tags (DETs) Prefix"),
            ),
            (
                "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Drone Remote ID Protocol Entity Tags (DETs) Prefix"),
            ),
            ("2001:40::", Some("IETF Protocol Assignments")),
            (
                "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("IETF Protocol Assignments"),
            ),
            ("2001:200::", None),
            ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", None),
            ("2001:db8::1", Some("Documentation")),
            (
                "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Documentation"),
            ),
            ("2001:db9::", None),
            ("2002::", Some("\"This host on this network\"")),
            ("2002:808:808::1", None),
            ("2002:7f00:1::1", Some("Loopback")),
            ("2002:a9fe:a9fe::1", Some("Link Local")),
            (
                "2002:c0a8:101:ffff:ffff:ffff:ffff:ffff",
                Some("Private-Use"),
            ),
            ("2003::", None),
            ("2620:4f:8000::1", None),
            ("2620:4f:7fff:ffff:ffff:ffff:ffff:ffff", None),
            ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
            ("3fff::", Some("Documentation")),
            ("3fff::1", Some("Documentation")),
            (
                "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
                Some("Documentation"),
            ),
            ("3fff:1000::", None),
        ];
        for (ip, expected) in cases {
            let got = non_public(ip.parse().unwrap());
            assert_eq!(got.map(|n| n.name()), *expected, "{ip}: {got:?}");
        }
    }

    /// Addresses the previous check (`runtime::http::non_public_range`)
    /// let through as public.
    #[test]
    fn gaps_of_the_previous_check_are_closed() {
        for ip in [
            // IPv4-translated forms of loopback, metadata, private, public.
            "::ffff:0:7f00:1",
            "::ffff:0:a9fe:a9fe",
            "::ffff:0:a00:1",
            "::ffff:0:808:808",
            "2001:2::1",
            "2001:20::1",
            "2001:30::1",
            "2001:10::1",
            "2001:1::1",
            "3fff::1",
            "5f00::1",
            "100:0:0:1::1",
            "4000::1",
        ] {
            assert!(non_public(ip.parse().unwrap()).is_some(), "{ip}");
        }
    }

    #[test]
    fn messages_name_the_range_and_what_is_embedded() {
        let why = |ip: &str| non_public(ip.parse().unwrap()).unwrap().to_string();
        assert_eq!(why("10.1.2.3"), "10.0.0.0/8 Private-Use (RFC 1918)");
        assert_eq!(
            why("169.254.169.254"),
            "169.254.0.0/16 Link Local (RFC 3927), a cloud metadata service address"
        );
        assert_eq!(
            why("::ffff:127.0.0.1"),
            "::ffff:0.0.0.0/96 IPv4-mapped Address (RFC 4291), embedding 127.0.0.1 in \
             127.0.0.0/8 Loopback (RFC 1122)"
        );
        assert_eq!(
            why("::ffff:0:808:808"),
            "::ffff:0:0:0/96 IPv4-translated Address (obsolete) (RFC 2765), embedding 8.8.8.8"
        );
        assert!(why("::ffff:169.254.169.254").ends_with("a cloud metadata service address"));
        assert!(why("100.100.100.200").contains("Shared Address Space"));
        assert!(why("100.100.100.200").ends_with("a cloud metadata service address"));
        assert!(why("fd00:ec2::254").ends_with("a cloud metadata service address"));
        assert!(!why("169.254.0.1").contains("metadata"));
    }
}
