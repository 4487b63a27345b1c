//! Outbound HTTP for agents (wasi-http), gated by the policy allowlist and
//! by a check of every address a request would connect to.
//!
//! # The allowlist
//! An agent may only reach origins its operator listed in `NAME.toml`
//! (`[network] allow`). Each entry is `scheme://host[:port]`:
//! - `scheme` is `http` or `https`;
//! - `host` is a DNS name, an IPv4 address, a bracketed IPv6 address
//!   (`http://[::1]:8080`; without brackets, `http://::1:8080`, it is
//!   refused: the port would be a guess), `*` (any host), or
//!   `*.example.com` (any subdomain of `example.com`, not `example.com`
//!   itself);
//! - `port` is a number or `*` (any port); without it the scheme's default
//!   port (80 or 443) is the only one allowed.
//!
//! A request to an origin no entry matches is refused with
//! `ErrorCode::HttpRequestDenied` before anything is resolved or connected.
//!
//! # Addresses (SSRF)
//! The host resolves the name itself and checks **every** address it gets
//! before connecting ([`crate::net`]). Addresses that are not public — every
//! block the IANA special-purpose registries mark not globally reachable
//! (loopback, private, link-local where cloud metadata services live,
//! shared/CGNAT, unique local, documentation, benchmarking, ORCHIDv2, SRv6
//! SIDs, reserved, …), multicast, IPv6 outside `2000::/3`, and IPv6 forms
//! that embed a non-public IPv4 address (mapped, NAT64, 6to4) or any IPv4
//! address (IPv4-compatible, IPv4-translated) — are refused with
//! `ErrorCode::DestinationIpProhibited` unless the matching entry names
//! them explicitly: an entry whose host is that IP address literally
//! (`http://10.0.0.5:8080`, `http://[fd00::1]:80`), or `localhost` (which
//! is resolved to `127.0.0.1` and `::1` without DNS). A wildcard entry, or
//! a DNS name that happens to resolve to a private address, never opens a
//! private range. If any address of a name is refused, the request is.
//! [`crate::net::non_public`] has the tables and the decisions.
//!
//! The connection is then made to the checked addresses themselves (a
//! `SocketAddr`, no second lookup), so a DNS answer that changes between the
//! check and the connect (rebinding) cannot redirect it. TLS still verifies
//! the certificate against the name in the URL.
//!
//! # Redirects
//! wasi-http does not follow redirects: a `3xx` response goes back to the
//! agent as it is. An agent that follows it sends a new request, which goes
//! through the allowlist and the address check again.
//!
//! # Timeouts
//! Connect, first-byte and between-bytes timeouts are capped by the host
//! ([`HttpTimeouts`]) whatever the guest asks for.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use crate::net::{self, Host, ResolveError, is_dns_name, is_localhost, normalize_host};

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

    /// Where a request to `uri` may go: `None` if no entry allows it.
    /// [`Destination::explicit`] tells whether an entry names the host as an
    /// IP literal or `localhost`, which lets it reach a non-public address.
    pub fn destination(&self, uri: &http::Uri) -> Option<Destination> {
        let scheme = Scheme::parse(&uri.scheme_str()?.to_ascii_lowercase())?;
        let host = normalize_host(uri.host()?)?;
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        let mut matched = false;
        let mut explicit = false;
        for rule in self.rules.iter().filter(|r| r.matches(scheme, &host, port)) {
            matched = true;
            explicit |= matches!(&rule.host, HostRule::Exact(h) if h == &host)
                && (host.parse::<IpAddr>().is_ok() || is_localhost(&host));
        }
        matched.then_some(Destination {
            tls: scheme == Scheme::Https,
            host,
            port,
            explicit,
        })
    }
}

/// An allowed request target, before name resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Whether the scheme is `https`.
    pub tls: bool,
    /// The host, lower-cased, IPv6 without brackets.
    pub host: String,
    /// The port; the scheme's default when the URL gives none.
    pub port: u16,
    /// Whether a matching entry names this host as an IP literal or as
    /// `localhost`, so that non-public addresses are allowed for it.
    pub explicit: bool,
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

    // Split host and port; IPv6 literals must be bracketed.
    let authority = net::split_authority(authority).map_err(|e| e.to_string())?;
    let host = match authority.host {
        Host::Ipv6(ip) => HostRule::Exact(ip.to_string()),
        Host::Text(host) => {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            if host == "*" {
                HostRule::Any
            } else if let Some(suffix) = host.strip_prefix("*.") {
                if !is_dns_name(suffix) || suffix.contains('*') {
                    return Err(format!("`{host}` is not a valid wildcard host"));
                }
                HostRule::Subdomains(format!(".{suffix}"))
            } else if host.contains('*') {
                return Err(
                    "a wildcard is only allowed as the whole host or as `*.` before a domain"
                        .into(),
                );
            } else if host.parse::<IpAddr>().is_ok() || is_dns_name(&host) {
                HostRule::Exact(host)
            } else {
                return Err(format!("`{host}` is not a valid host name"));
            }
        }
    };

    let port = match authority.port {
        None => PortRule::Exact(scheme.default_port()),
        Some("*") => PortRule::Any,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 => PortRule::Exact(n),
            _ => return Err(format!("`{p}` is not a port number or `*`")),
        },
    };
    Ok(Rule { scheme, host, port })
}

// ---------------------------------------------------------------------------
// Sending

/// Host-side timeouts of outbound requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpTimeouts {
    /// Longest wait for name resolution plus the TCP/TLS connection.
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

fn cap(guest: Option<Duration>, host: Duration) -> Duration {
    guest.map_or(host, |g| g.min(host))
}

/// The wasi-http hooks of one store: the allowlist check, the address
/// check, then a connection pinned to the checked address.
pub(crate) struct OutboundHttp {
    pub agent: Arc<str>,
    pub allow: Arc<Allowlist>,
    pub timeouts: HttpTimeouts,
}

type HttpResult<T> = wasmtime_wasi_http::Result<T>;
type IoFuture = Box<dyn Future<Output = HttpResult<()>> + Send>;
type SendFuture = Box<dyn Future<Output = HttpResult<(http::Response<WasiBody>, IoFuture)>> + Send>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> SendFuture {
        drop(fut);
        let agent = self.agent.clone();
        let uri = request.uri().clone();
        let Some(dest) = self.allow.destination(&uri) else {
            tracing::warn!(
                agent = %agent,
                url = %uri,
                allowed = %self.allow,
                "outbound HTTP request denied: the origin is not in the agent's network.allow"
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        };
        let opts = options.unwrap_or_default();
        let timeouts = HttpTimeouts {
            connect: cap(opts.connect_timeout, self.timeouts.connect),
            first_byte: cap(opts.first_byte_timeout, self.timeouts.first_byte),
            between_bytes: cap(opts.between_bytes_timeout, self.timeouts.between_bytes),
        };
        Box::new(async move {
            let resolved =
                net::resolve_checked(&dest.host, dest.port, dest.explicit, timeouts.connect).await;
            let addrs = match resolved {
                Ok(a) => a,
                Err(ResolveError::Refused(why)) => {
                    tracing::warn!(
                        agent = %agent,
                        url = %uri,
                        "outbound HTTP request denied: {why}; only an allowlist entry that names \
                         the IP address (or `localhost`) itself may reach it"
                    );
                    return Err(wasmtime_wasi_http::Error::DestinationIpProhibited);
                }
                Err(e) => {
                    tracing::debug!(agent = %agent, url = %uri, "outbound HTTP lookup failed: {e}");
                    return Err(lookup_error(e));
                }
            };
            tracing::debug!(
                agent = %agent,
                method = %request.method(),
                url = %uri,
                addresses = ?addrs,
                "outbound HTTP request"
            );
            send_pinned(request, &dest, &addrs, timeouts).await
        })
    }
}

/// The wasi-http error for a failed lookup.
fn lookup_error(e: ResolveError) -> wasmtime_wasi_http::Error {
    match e {
        ResolveError::Refused(_) => wasmtime_wasi_http::Error::DestinationIpProhibited,
        ResolveError::Timeout => wasmtime_wasi_http::Error::DnsTimeout,
        ResolveError::Lookup(e) => wasmtime_wasi_http::Error::DnsError {
            rcode: Some(e.to_string()),
            info_code: None,
        },
        ResolveError::NoAddresses => wasmtime_wasi_http::Error::DestinationNotFound,
    }
}

/// TLS settings for outbound requests: the webpki roots, ring.
fn tls_config() -> HttpResult<Arc<rustls::ClientConfig>> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(format!("TLS setup: {e}"))))
}

/// Connect to the first of `addrs` that answers, within `timeout`.
async fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> HttpResult<TcpStream> {
    let attempt = async {
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                wasmtime_wasi_http::Error::ConnectionRefused
            }
            Some(e) => wasmtime_wasi_http::Error::Connect(e),
            None => wasmtime_wasi_http::Error::DestinationNotFound,
        })
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(wasmtime_wasi_http::Error::ConnectionTimeout))
}

/// Anything hyper can speak HTTP/1 over.
trait Transport: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// Send `request` over a connection to one of the checked `addrs`.
async fn send_pinned(
    mut request: http::Request<WasiBody>,
    dest: &Destination,
    addrs: &[SocketAddr],
    timeouts: HttpTimeouts,
) -> HttpResult<(http::Response<WasiBody>, IoFuture)> {
    let started = tokio::time::Instant::now();
    let tcp = connect_any(addrs, timeouts.connect).await?;
    let io: Box<dyn Transport> = if dest.tls {
        let name = match dest.host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(dest.host.clone())?,
        };
        let connector = tokio_rustls::TlsConnector::from(tls_config()?);
        let remaining = timeouts.connect.saturating_sub(started.elapsed());
        let tls = tokio::time::timeout(remaining, connector.connect(name, tcp))
            .await
            .map_err(|_| wasmtime_wasi_http::Error::ConnectionTimeout)?
            .map_err(wasmtime_wasi_http::Error::Tls)?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(wasmtime_wasi_http::io::TokioIo::new(io)).await?;

    // Over a direct connection the request line carries only the path.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| wasmtime_wasi_http::Error::HttpRequestUriInvalid)?;

    // Drive the connection while waiting for the response head.
    let mut conn = Box::pin(conn);
    let mut conn_result: Option<Result<(), hyper::Error>> = None;
    let head = async {
        let send = sender.send_request(request);
        tokio::pin!(send);
        loop {
            tokio::select! {
                response = &mut send => break response,
                done = &mut conn, if conn_result.is_none() => conn_result = Some(done),
            }
        }
    };
    let response = tokio::time::timeout(timeouts.first_byte, head)
        .await
        .map_err(|_| wasmtime_wasi_http::Error::ConnectionReadTimeout)??;

    let idle = timeouts.between_bytes.max(Duration::from_millis(1));
    let response = response.map(|incoming| {
        http_body_util::BodyExt::boxed_unsync(IdleTimeoutBody {
            inner: incoming,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        })
    });
    let io: IoFuture = Box::new(async move {
        let result = match conn_result {
            Some(r) => r,
            None => conn.await,
        };
        result.map_err(|e| {
            if e.is_timeout() {
                wasmtime_wasi_http::Error::HttpResponseTimeout
            } else {
                e.into()
            }
        })
    });
    Ok((response, io))
}

/// A response body that fails when no data arrives for `idle`.
struct IdleTimeoutBody {
    inner: hyper::body::Incoming,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for IdleTimeoutBody {
    type Data = bytes::Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let deadline = tokio::time::Instant::now() + self.idle;
                self.timer.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(if e.is_timeout() {
                wasmtime_wasi_http::Error::HttpResponseTimeout
            } else {
                e.into()
            }))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
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
    fn non_public_ranges_are_named() {
        for (ip, needle) in [
            ("127.0.0.1", "Loopback"),
            ("127.255.0.9", "Loopback"),
            ("10.1.2.3", "Private-Use"),
            ("172.16.0.1", "Private-Use"),
            ("172.31.255.255", "Private-Use"),
            ("192.168.1.1", "Private-Use"),
            ("169.254.169.254", "Link Local"),
            ("100.64.0.1", "Shared Address Space"),
            ("100.100.100.200", "Shared Address Space"),
            ("0.0.0.0", "This host"),
            ("224.0.0.1", "Multicast"),
            ("255.255.255.255", "Broadcast"),
            ("198.18.0.1", "Benchmarking"),
            ("::1", "Loopback"),
            ("::", "Unspecified"),
            ("::ffff:127.0.0.1", "Loopback"),
            ("::ffff:169.254.169.254", "Link Local"),
            ("64:ff9b::a00:1", "Private-Use"),
            ("2002:a9fe:a9fe::1", "Link Local"),
            ("fe80::1", "Link-Local"),
            ("fd00:ec2::254", "Unique-Local"),
            ("fc00::1", "Unique-Local"),
            ("ff02::1", "Multicast"),
            ("2001:db8::1", "Documentation"),
            ("::127.0.0.1", "IPv4-compatible"),
        ] {
            let range = net::non_public(ip.parse().unwrap()).map(|n| n.to_string());
            assert!(
                range.as_ref().is_some_and(|r| r.contains(needle)),
                "{ip}: {range:?}"
            );
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "169.255.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(net::non_public(ip.parse().unwrap()), None, "{ip}");
        }
    }

    fn dest(l: &Allowlist, uri: &str) -> Option<Destination> {
        l.destination(&uri.parse().unwrap())
    }

    #[test]
    fn only_literal_ips_and_localhost_are_explicit() {
        let l = list(&[
            "http://*:*",
            "http://127.0.0.1:8080",
            "http://localhost:9000",
            "https://api.example.com",
            "http://[fd00::1]:80",
        ]);
        let d = dest(&l, "http://127.0.0.1:8080/x").unwrap();
        assert!(d.explicit && !d.tls && d.port == 8080);
        assert!(!dest(&l, "http://127.0.0.1:8081/").unwrap().explicit);
        assert!(dest(&l, "http://localhost:9000/").unwrap().explicit);
        assert!(!dest(&l, "http://localhost:9001/").unwrap().explicit);
        assert!(dest(&l, "http://[fd00::1]/").unwrap().explicit);
        let d = dest(&l, "https://API.example.com./v1").unwrap();
        assert!(d.tls && d.port == 443 && !d.explicit);
        assert_eq!(d.host, "api.example.com");
        assert!(dest(&l, "https://other.example.com/").is_none());
        assert!(dest(&l, "ftp://x/").is_none());
    }

    #[test]
    fn non_public_addresses_need_an_explicit_entry() {
        let wildcard = list(&["http://*:*"]);
        let d = dest(&wildcard, "http://internal.test:80/").unwrap();
        let private: IpAddr = "10.0.0.7".parse().unwrap();
        let public: IpAddr = "93.184.216.34".parse().unwrap();
        let check =
            |d: &Destination, ips: &[IpAddr]| net::check_addresses(&d.host, ips, d.explicit);
        assert!(check(&d, &[public]).is_ok());
        let m = check(&d, &[public, private]).unwrap_err().to_string();
        assert!(m.contains("10.0.0.7") && m.contains("Private-Use"), "{m}");
        let explicit = list(&["http://10.0.0.7:80"]);
        let d = dest(&explicit, "http://10.0.0.7/").unwrap();
        assert!(check(&d, &[private]).is_ok());
    }

    #[tokio::test]
    async fn localhost_and_literals_resolve_without_dns() {
        let l = list(&["http://*:*", "http://localhost:*"]);
        let d = dest(&l, "http://localhost:5/").unwrap();
        let addrs = net::resolve_checked(&d.host, d.port, d.explicit, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 5));
        let d = dest(&l, "http://sub.localhost:5/").unwrap();
        assert!(matches!(
            net::resolve_checked(&d.host, d.port, d.explicit, Duration::from_secs(1)).await,
            Err(ResolveError::Refused(_))
        ));
        let d = dest(&l, "http://169.254.169.254/latest/meta-data/").unwrap();
        match net::resolve_checked(&d.host, d.port, d.explicit, Duration::from_secs(1)).await {
            Err(ResolveError::Refused(m)) => {
                assert!(m.to_string().contains("cloud metadata"), "{m}")
            }
            other => panic!("{other:?}"),
        }
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

    /// `http://::1:8080` is `::1` port 8080 or `::1:8080` port 80: refused,
    /// with the fix, rather than guessed.
    #[test]
    fn ipv6_entries_need_brackets() {
        for entry in [
            "http://::1:8080",
            "http://::1",
            "http://fe80::1:80",
            "https://2001:db8::1",
            "http://::ffff:127.0.0.1:*",
        ] {
            let err = Allowlist::parse(&[entry]).unwrap_err();
            assert!(
                err.contains("write IPv6 addresses in brackets: http://[::1]:8080"),
                "{err}"
            );
            assert!(err.contains(entry), "{err}");
        }
        let l = list(&["http://[::1]:8080", "https://[2001:db8::1]"]);
        assert!(l.allows("http", "::1", 8080));
        assert!(l.allows("https", "[2001:db8::1]", 443));
        assert!(dest(&l, "http://[::1]:8080/").unwrap().explicit);
        // Request URLs: the URI parser already refuses them unbracketed.
        assert!("http://::1:8080/".parse::<http::Uri>().is_err());
    }
}
