//! Outbound HTTP for agents (wasi-http), gated by the policy allowlist.
//!
//! An agent may only reach origins its operator listed in `NAME.toml`
//! (`[network] allow`). Each entry is `scheme://host[:port]`:
//! - `scheme` is `http` or `https`;
//! - `host` is a DNS name, an IPv4 address, a bracketed IPv6 address, `*`
//!   (any host), or `*.example.com` (any subdomain of `example.com`, not
//!   `example.com` itself);
//! - `port` is a number or `*` (any port); without it the scheme's default
//!   port (80 or 443) is the only one allowed.
//!
//! Everything else is refused with `ErrorCode::HttpRequestDenied` before a
//! connection is made. Connect and first-byte timeouts are capped by the
//! host whatever the guest asks for.
//!
//! Not done yet: the allowlist matches the name in the URL, not the address
//! it resolves to. Checks of the resolved IP against private and link-local
//! ranges (SSRF) and pinning the connection to the checked address come in a
//! later change; until then, do not allow hosts whose DNS an attacker
//! controls.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// A URL scheme an allowlist entry may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn parse(s: &str) -> Option<Scheme> {
        match s {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    /// Exactly this (normalised) host.
    Exact(String),
    /// Any host ending in this suffix, which starts with a dot.
    Subdomains(String),
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortRule {
    Exact(u16),
    Any,
}

/// One allowed origin pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    scheme: Scheme,
    host: HostRule,
    port: PortRule,
}

impl Rule {
    fn matches(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        if self.scheme != scheme {
            return false;
        }
        let port_ok = match self.port {
            PortRule::Exact(p) => p == port,
            PortRule::Any => true,
        };
        let host_ok = match &self.host {
            HostRule::Exact(h) => h == host,
            HostRule::Subdomains(suffix) => {
                host.len() > suffix.len() && host.ends_with(suffix.as_str())
            }
            HostRule::Any => true,
        };
        port_ok && host_ok
    }
}

/// The origins an agent may call. Empty (the default) allows nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allowlist {
    rules: Vec<Rule>,
    entries: Vec<String>,
}

impl fmt::Display for Allowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            f.write_str("(nothing)")
        } else {
            f.write_str(&self.entries.join(", "))
        }
    }
}

impl Allowlist {
    /// Parse allowlist entries; the error names the entry and what is wrong.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Allowlist, String> {
        let mut list = Allowlist::default();
        for entry in entries {
            let entry = entry.as_ref();
            let rule = parse_rule(entry).map_err(|e| format!("`{entry}`: {e}"))?;
            list.rules.push(rule);
            list.entries.push(entry.to_string());
        }
        Ok(list)
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The entries as the operator wrote them.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// Whether `scheme://host:port` is allowed. `host` may be a name, an
    /// IPv4 address or an IPv6 address with or without brackets.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let Some(scheme) = Scheme::parse(&scheme.to_ascii_lowercase()) else {
            return false;
        };
        let Some(host) = normalize_host(host) else {
            return false;
        };
        self.rules.iter().any(|r| r.matches(scheme, &host, port))
    }

    /// Whether the request URI is allowed (the port defaults by scheme).
    pub fn allows_uri(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return false;
        };
        let Some(s) = Scheme::parse(&scheme.to_ascii_lowercase()) else {
            return false;
        };
        let port = uri.port_u16().unwrap_or(s.default_port());
        self.allows(scheme, host, port)
    }
}

/// Lower-case, drop a trailing dot and brackets, canonicalise IPv6.
fn normalize_host(host: &str) -> Option<String> {
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

fn valid_dns_name(host: &str) -> bool {
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

fn parse_rule(entry: &str) -> Result<Rule, String> {
    let (scheme, rest) = entry
        .split_once("://")
        .ok_or("expected `scheme://host[:port]`")?;
    let scheme = Scheme::parse(&scheme.to_ascii_lowercase())
        .ok_or_else(|| format!("scheme `{scheme}` is not supported; use http or https"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err("no host".into());
    }
    if let Some(c) = authority
        .chars()
        .find(|c| matches!(c, '/' | '?' | '#' | '@'))
    {
        return Err(format!(
            "only an origin is allowed (no `{c}`: paths, queries and credentials are not part of it)"
        ));
    }

    // Split host and port; IPv6 literals are bracketed.
    let (host, port) = if let Some(after) = authority.strip_prefix('[') {
        let (inside, tail) = after.split_once(']').ok_or("unclosed `[` in IPv6 host")?;
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| format!("`{inside}` is not an IPv6 address"))?;
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':').ok_or("expected `:port` after `]`")?),
        };
        (HostRule::Exact(ip.to_string()), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let rule = if host == "*" {
            HostRule::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if !valid_dns_name(suffix) || suffix.contains('*') {
                return Err(format!("`{host}` is not a valid wildcard host"));
            }
            HostRule::Subdomains(format!(".{suffix}"))
        } else if host.contains('*') {
            return Err(
                "a wildcard is only allowed as the whole host or as `*.` before a domain".into(),
            );
        } else if host.parse::<IpAddr>().is_ok() || valid_dns_name(&host) {
            HostRule::Exact(host)
        } else {
            return Err(format!("`{host}` is not a valid host name"));
        };
        (rule, port)
    };

    let port = match port {
        None => PortRule::Exact(scheme.default_port()),
        Some("*") => PortRule::Any,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 => PortRule::Exact(n),
            _ => return Err(format!("`{p}` is not a port number or `*`")),
        },
    };
    Ok(Rule { scheme, host, port })
}

/// Host-side timeouts of outbound requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpTimeouts {
    /// Longest wait for a TCP/TLS connection.
    pub connect: Duration,
    /// Longest wait for the response headers.
    pub first_byte: Duration,
    /// Longest pause between chunks of the response body.
    pub between_bytes: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        HttpTimeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(60),
            between_bytes: Duration::from_secs(60),
        }
    }
}

fn cap(guest: Option<Duration>, host: Duration) -> Option<Duration> {
    Some(guest.map_or(host, |g| g.min(host)))
}

/// The wasi-http hooks of one store: the allowlist check, then the default
/// client with capped timeouts.
pub(crate) struct OutboundHttp {
    pub agent: Arc<str>,
    pub allow: Arc<Allowlist>,
    pub timeouts: HttpTimeouts,
}

type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let uri = request.uri().clone();
        if !self.allow.allows_uri(&uri) {
            tracing::warn!(
                agent = %self.agent,
                url = %uri,
                allowed = %self.allow,
                "outbound HTTP request denied by policy"
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        tracing::debug!(agent = %self.agent, method = %request.method(), url = %uri, "outbound HTTP request");
        let opts = options.unwrap_or_default();
        let opts = RequestOptions {
            connect_timeout: cap(opts.connect_timeout, self.timeouts.connect),
            first_byte_timeout: cap(opts.first_byte_timeout, self.timeouts.first_byte),
            between_bytes_timeout: cap(opts.between_bytes_timeout, self.timeouts.between_bytes),
        };
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(opts)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Allowlist {
        Allowlist::parse(entries).unwrap()
    }

    #[test]
    fn empty_allows_nothing() {
        let l = Allowlist::default();
        assert!(!l.allows("https", "example.com", 443));
    }

    #[test]
    fn exact_origin_with_default_port() {
        let l = list(&["https://API.example.com/"]);
        assert!(l.allows("https", "api.example.com", 443));
        assert!(l.allows("HTTPS", "Api.Example.Com.", 443));
        assert!(!l.allows("https", "api.example.com", 8443));
        assert!(!l.allows("http", "api.example.com", 443));
        assert!(!l.allows("https", "evil.api.example.com", 443));
        assert!(!l.allows("https", "api.example.com.evil.net", 443));
    }

    #[test]
    fn ports_and_wildcards() {
        let l = list(&[
            "http://127.0.0.1:*",
            "https://*.example.com",
            "http://[::1]:8080",
        ]);
        assert!(l.allows("http", "127.0.0.1", 1));
        assert!(l.allows("http", "127.0.0.1", 65535));
        assert!(!l.allows("https", "127.0.0.1", 443));
        assert!(l.allows("https", "a.example.com", 443));
        assert!(l.allows("https", "a.b.example.com", 443));
        assert!(!l.allows("https", "example.com", 443));
        assert!(!l.allows("https", "badexample.com", 443));
        assert!(l.allows("http", "[::1]", 8080));
        assert!(l.allows("http", "0:0:0:0:0:0:0:1", 8080));
        assert!(!l.allows("http", "::1", 8081));
        let any = list(&["https://*:*"]);
        assert!(any.allows("https", "anything.test", 1234));
        assert!(!any.allows("http", "anything.test", 1234));
    }

    #[test]
    fn uris_are_checked_with_their_default_ports() {
        let l = list(&["https://api.example.com", "http://localhost:8080"]);
        assert!(l.allows_uri(&"https://api.example.com/v1/chat?x=1".parse().unwrap()));
        assert!(!l.allows_uri(&"https://api.example.com:444/".parse().unwrap()));
        assert!(l.allows_uri(&"http://localhost:8080/".parse().unwrap()));
        assert!(!l.allows_uri(&"http://localhost/".parse().unwrap()));
        assert!(!l.allows_uri(&"/relative".parse().unwrap()));
    }

    #[test]
    fn bad_entries_are_explained() {
        for (entry, needle) in [
            ("api.example.com", "scheme://"),
            ("ftp://x", "ftp"),
            ("https://x/path", "origin"),
            ("https://user@x", "origin"),
            ("https://x:99999", "port"),
            ("https://x:0", "port"),
            ("https://a*.x", "wildcard"),
            ("https://*.*.com", "wildcard"),
            ("https://[::1", "IPv6"),
            ("https://bad host", "host"),
            ("https://", "no host"),
        ] {
            let err = Allowlist::parse(&[entry]).unwrap_err();
            assert!(err.contains(needle), "{entry}: {err}");
            assert!(err.contains(entry), "{entry}: {err}");
        }
    }
}
