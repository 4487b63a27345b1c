//! Outbound HTTP for agents (wasi-http), gated by the policy allowlist and
//! by a check of every address a request would connect to.
//!
//! # The allowlist
//! An agent may only reach origins its operator listed in `NAME.toml`
//! (`[network] allow`). Each entry is `scheme://host[:port]`:
//! - `scheme` is `http` or `https`;
//! - `host` is a DNS name, an IPv4 address, a bracketed IPv6 address, `*`
//!   (any host), or `*.example.com` (any subdomain of `example.com`, not
//!   `example.com` itself);
//! - `port` is a number or `*` (any port); without it the scheme's default
//!   port (80 or 443) is the only one allowed.
//!
//! A request to an origin no entry matches is refused with
//! `ErrorCode::HttpRequestDenied` before anything is resolved or connected.
//!
//! # Addresses (SSRF)
//! The host resolves the name itself and checks **every** address it gets
//! before connecting. Addresses that are not publicly routable — loopback,
//! private (RFC 1918), link-local (`169.254.0.0/16`, where cloud metadata
//! services live, and `fe80::/10`), shared/CGNAT (`100.64.0.0/10`), unique
//! local (`fc00::/7`), unspecified, multicast, broadcast, documentation,
//! benchmarking and reserved ranges, and IPv6 forms that embed such an IPv4
//! address (mapped, NAT64, 6to4) — are refused with
//! `ErrorCode::DestinationIpProhibited` unless the matching entry names
//! them explicitly: an entry whose host is that IP address literally
//! (`http://10.0.0.5:8080`, `http://[fd00::1]:80`), or `localhost` (which
//! is resolved to `127.0.0.1` and `::1` without DNS). A wildcard entry, or
//! a DNS name that happens to resolve to a private address, never opens a
//! private range. If any address of a name is refused, the request is.
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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
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

/// `localhost` and its subdomains (RFC 6761): always loopback, never DNS.
fn is_localhost(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
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

// ---------------------------------------------------------------------------
// Addresses

/// Why `ip` is not a public unicast address, or `None` if it is one.
pub fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified (\"this network\") address",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "a private (RFC 1918) address",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
        (127, _, _) => "a loopback address",
        (169, 254, _) => "a link-local address (where cloud metadata services live)",
        (192, 0, 0) => "an IETF protocol address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (192, 88, 99) => "a 6to4 relay address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast address",
        _ => return None,
    })
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        // ::ffff:a.b.c.d connects to a.b.c.d.
        return v4_range(v4);
    }
    Some(match s[0] {
        // ::a.b.c.d (deprecated IPv4-compatible) and other ::/96 forms.
        0 if s[1..6] == [0; 5] => "a reserved IPv6 address",
        // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
        0x64 if s[1] == 0xff9b && s[2..6] == [0; 4] => return v4_range(embedded_v4(s[6], s[7])),
        0x64 if s[1] == 0xff9b && s[2] == 1 => "a local-use NAT64 address",
        0x100 if s[1..4] == [0; 3] => "a discard-only address",
        0x2001 if s[1] == 0 => "a Teredo tunnel address",
        0x2001 if s[1] == 0xdb8 => "a documentation address",
        // 6to4 (2002::/16) reaches the IPv4 address in bits 16..48.
        0x2002 => return v4_range(embedded_v4(s[1], s[2])),
        x if x & 0xfe00 == 0xfc00 => "a unique local address (where cloud metadata services live)",
        x if x & 0xffc0 == 0xfe80 => "a link-local address",
        x if x & 0xffc0 == 0xfec0 => "a site-local address",
        x if x & 0xff00 == 0xff00 => "a multicast address",
        _ => return None,
    })
}

/// Resolve `dest` and check every address. Returns the addresses to connect
/// to, or why the request is refused.
async fn resolve_checked(
    dest: &Destination,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, Refusal> {
    let ips: Vec<IpAddr> = if let Ok(ip) = dest.host.parse::<IpAddr>() {
        vec![ip]
    } else if is_localhost(&dest.host) {
        vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]
    } else {
        let lookup = tokio::net::lookup_host((dest.host.as_str(), dest.port));
        match tokio::time::timeout(timeout, lookup).await {
            Err(_) => return Err(Refusal::Transport(wasmtime_wasi_http::Error::DnsTimeout)),
            Ok(Err(e)) => {
                return Err(Refusal::Transport(wasmtime_wasi_http::Error::DnsError {
                    rcode: Some(e.to_string()),
                    info_code: None,
                }));
            }
            Ok(Ok(addrs)) => {
                let mut ips: Vec<IpAddr> = Vec::new();
                for a in addrs {
                    if !ips.contains(&a.ip()) {
                        ips.push(a.ip());
                    }
                }
                ips
            }
        }
    };
    if ips.is_empty() {
        return Err(Refusal::Transport(
            wasmtime_wasi_http::Error::DestinationNotFound,
        ));
    }
    check_addresses(dest, &ips)?;
    Ok(ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, dest.port))
        .collect())
}

/// Refuse the request if any address is non-public and the allowlist does
/// not name it explicitly.
fn check_addresses(dest: &Destination, ips: &[IpAddr]) -> Result<(), Refusal> {
    if dest.explicit {
        return Ok(());
    }
    for ip in ips {
        if let Some(range) = non_public_range(*ip) {
            return Err(Refusal::Address(format!(
                "`{}` resolves to {ip}, {range}; only an allowlist entry that names the IP \
                 address (or `localhost`) itself may reach it",
                dest.host
            )));
        }
    }
    Ok(())
}

/// Why a request did not go out.
#[derive(Debug)]
enum Refusal {
    /// The address check refused it (`DestinationIpProhibited`).
    Address(String),
    /// Resolution failed.
    Transport(wasmtime_wasi_http::Error),
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
            let addrs = match resolve_checked(&dest, timeouts.connect).await {
                Ok(a) => a,
                Err(Refusal::Address(why)) => {
                    tracing::warn!(agent = %agent, url = %uri, "outbound HTTP request denied: {why}");
                    return Err(wasmtime_wasi_http::Error::DestinationIpProhibited);
                }
                Err(Refusal::Transport(e)) => {
                    tracing::debug!(agent = %agent, url = %uri, "outbound HTTP lookup failed: {e}");
                    return Err(e);
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
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.100.100.200", "carrier-grade NAT"),
            ("0.0.0.0", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("198.18.0.1", "benchmarking"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a00:1", "private"),
            ("2002:a9fe:a9fe::1", "link-local"),
            ("fe80::1", "link-local"),
            ("fd00:ec2::254", "unique local"),
            ("fc00::1", "unique local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("::127.0.0.1", "reserved"),
        ] {
            let range = non_public_range(ip.parse().unwrap());
            assert!(range.is_some_and(|r| r.contains(needle)), "{ip}: {range:?}");
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
            assert_eq!(non_public_range(ip.parse().unwrap()), None, "{ip}");
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
        assert!(check_addresses(&d, &[public]).is_ok());
        match check_addresses(&d, &[public, private]) {
            Err(Refusal::Address(m)) => {
                assert!(m.contains("10.0.0.7") && m.contains("private"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        let explicit = list(&["http://10.0.0.7:80"]);
        let d = dest(&explicit, "http://10.0.0.7/").unwrap();
        assert!(check_addresses(&d, &[private]).is_ok());
    }

    #[tokio::test]
    async fn localhost_and_literals_resolve_without_dns() {
        let l = list(&["http://*:*", "http://localhost:*"]);
        let d = dest(&l, "http://localhost:5/").unwrap();
        let addrs = resolve_checked(&d, Duration::from_secs(1)).await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 5));
        let d = dest(&l, "http://sub.localhost:5/").unwrap();
        assert!(matches!(
            resolve_checked(&d, Duration::from_secs(1)).await,
            Err(Refusal::Address(_))
        ));
        let d = dest(&l, "http://169.254.169.254/latest/meta-data/").unwrap();
        match resolve_checked(&d, Duration::from_secs(1)).await {
            Err(Refusal::Address(m)) => assert!(m.contains("link-local"), "{m}"),
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
}
