//! How a host and port are written: `host[:port]`, IPv6 in brackets.

use std::fmt;
use std::net::Ipv6Addr;

/// The host part of an authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A bracketed IPv6 literal (`[::1]`).
    Ipv6(Ipv6Addr),
    /// Anything else, as written: a name, an IPv4 address, or a pattern the
    /// caller interprets (`*`, `*.example.com`). Never contains `:`.
    Text(&'a str),
}

/// `host[:port]`, split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authority<'a> {
    /// The host.
    pub host: Host<'a>,
    /// What follows the `:`, if there is one; not checked (it may be `*`
    /// where the caller allows that).
    pub port: Option<&'a str>,
}

/// Why `host[:port]` could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorityError {
    /// Nothing to split.
    Empty,
    /// `[` without `]`.
    UnclosedBracket,
    /// The text in brackets is not an IPv6 address.
    NotIpv6(String),
    /// Something other than `:port` after `]`.
    AfterBracket,
    /// An IPv6 address without brackets (more than one `:`): its port cannot
    /// be told from its last group.
    UnbracketedIpv6(String),
}

impl fmt::Display for AuthorityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthorityError::Empty => f.write_str("no host"),
            AuthorityError::UnclosedBracket => f.write_str("unclosed `[` in IPv6 host"),
            AuthorityError::NotIpv6(s) => write!(f, "`{s}` is not an IPv6 address"),
            AuthorityError::AfterBracket => f.write_str("expected `:port` after `]`"),
            AuthorityError::UnbracketedIpv6(s) => write!(
                f,
                "`{s}` is an IPv6 address without brackets, so its port is ambiguous; write \
                 IPv6 addresses in brackets: http://[::1]:8080"
            ),
        }
    }
}

impl std::error::Error for AuthorityError {}

/// Split `host[:port]`. An IPv6 address must be in brackets
/// (`[::1]:8080`, `[fd00::1]`); one without (`::1:8080`, `fe80::1`) is
/// refused rather than guessed at.
pub fn split_authority(authority: &str) -> Result<Authority<'_>, AuthorityError> {
    if authority.is_empty() {
        return Err(AuthorityError::Empty);
    }
    if let Some(after) = authority.strip_prefix('[') {
        let (inside, tail) = after
            .split_once(']')
            .ok_or(AuthorityError::UnclosedBracket)?;
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| AuthorityError::NotIpv6(inside.to_string()))?;
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':').ok_or(AuthorityError::AfterBracket)?),
        };
        return Ok(Authority {
            host: Host::Ipv6(ip),
            port,
        });
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if port.is_some_and(|p| p.contains(':')) {
        return Err(AuthorityError::UnbracketedIpv6(authority.to_string()));
    }
    if host.is_empty() {
        return Err(AuthorityError::Empty);
    }
    Ok(Authority {
        host: Host::Text(host),
        port,
    })
}

/// Lower-case, drop a trailing dot and brackets, canonicalise IPv6
/// (`[0:0::1]` becomes `::1`). `None` for an empty host.
pub fn normalize_host(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = unbracketed.parse::<Ipv6Addr>() {
        return Some(ip.to_string());
    }
    Some(host.to_ascii_lowercase())
}

/// Whether `host` is a DNS name: dot-separated labels of 1 to 63 letters,
/// digits, `-` or `_`, 253 characters at most.
pub fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports_split() {
        let split = |s| split_authority(s).unwrap();
        assert_eq!(
            split("api.example.com"),
            Authority {
                host: Host::Text("api.example.com"),
                port: None
            }
        );
        assert_eq!(split("10.0.0.5:8080").port, Some("8080"));
        assert_eq!(split("10.0.0.5:8080").host, Host::Text("10.0.0.5"));
        assert_eq!(split("*:*").port, Some("*"));
        let v6 = split("[::1]:8080");
        assert_eq!(v6.host, Host::Ipv6(Ipv6Addr::LOCALHOST));
        assert_eq!(v6.port, Some("8080"));
        assert_eq!(split("[fd00::1]").port, None);
        assert_eq!(split("[::ffff:0:7f00:1]").port, None);
    }

    /// An IPv6 address needs brackets; without them the port would be a
    /// guess (`::1:8080` is also the address `::1:8080`).
    #[test]
    fn unbracketed_ipv6_is_refused_with_the_fix() {
        for s in [
            "::1:8080",
            "::1",
            "::",
            "fe80::1",
            "fe80::1:80",
            "1:2:3:4:5:6:7:8",
            "a::b:*",
        ] {
            let err = split_authority(s).unwrap_err();
            assert_eq!(err, AuthorityError::UnbracketedIpv6(s.to_string()), "{s}");
            let text = err.to_string();
            assert!(
                text.contains("write IPv6 addresses in brackets: http://[::1]:8080"),
                "{text}"
            );
            assert!(text.contains(s), "{text}");
        }
    }

    #[test]
    fn malformed_authorities_are_explained() {
        assert_eq!(split_authority(""), Err(AuthorityError::Empty));
        assert_eq!(split_authority(":80"), Err(AuthorityError::Empty));
        assert_eq!(
            split_authority("[::1"),
            Err(AuthorityError::UnclosedBracket)
        );
        assert_eq!(
            split_authority("[x]:80"),
            Err(AuthorityError::NotIpv6("x".into()))
        );
        assert_eq!(
            split_authority("[10.0.0.1]"),
            Err(AuthorityError::NotIpv6("10.0.0.1".into()))
        );
        assert_eq!(
            split_authority("[::1]80"),
            Err(AuthorityError::AfterBracket)
        );
        assert_eq!(split_authority("[::1]:80:1").unwrap().port, Some("80:1"));
    }

    #[test]
    fn hosts_normalise() {
        assert_eq!(
            normalize_host("API.Example.COM.").as_deref(),
            Some("api.example.com")
        );
        assert_eq!(normalize_host("[0:0::1]").as_deref(), Some("::1"));
        assert_eq!(
            normalize_host("::FFFF:127.0.0.1").as_deref(),
            Some("::ffff:127.0.0.1")
        );
        assert_eq!(normalize_host("."), None);
        assert!(is_dns_name("a-b.c_d.example"));
        assert!(!is_dns_name("a..b") && !is_dns_name("a b") && !is_dns_name(""));
        assert!(!is_dns_name(&"a".repeat(64)));
    }
}
