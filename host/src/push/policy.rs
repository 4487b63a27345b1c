//! Which webhooks are accepted: the checks of a push config when it is
//! created, and of its destination again when a notification is sent.
//!
//! The rules, in order:
//! 1. The URL is absolute `https://host[:port]/…` (or `http://` when the
//!    operator allows it), at most `max_url_len` bytes, without user
//!    info (credentials belong in `authentication`) or a fragment. IPv6
//!    hosts are bracketed (`https://[2001:db8::1]:8443/`); an unbracketed
//!    one (`http://::1:8080`) is refused, since its port would be a guess.
//! 2. A host on the block list is refused; with an allow list, a host not
//!    on it is refused.
//! 3. Every address the host resolves to must be public by the IANA
//!    special-purpose registries ([`crate::net`]): loopback, private,
//!    link-local (cloud metadata), CGNAT, unique-local, documentation,
//!    reserved, multicast and the IPv6 forms that embed such IPv4
//!    addresses are refused, unless the operator allows non-public
//!    destinations (all of them, or one host by naming its IP literal or
//!    `localhost` on the allow list).
//!
//! At creation a name that does not resolve is accepted (it may exist by
//! the time a notification is due); at dispatch every address is checked
//! again and the connection goes to the checked addresses only.
//!
//! Header values (`token`, the authentication scheme and credentials) must
//! be visible ASCII without CR or LF, so they cannot inject headers.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::PushSettings;
use crate::error::A2aError;
use crate::model::TaskPushNotificationConfig;
use crate::net::{self, ResolveError, is_dns_name, is_localhost, normalize_host};

/// How long the check at creation waits for DNS.
const CREATE_LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest `token` or credentials accepted, in bytes.
const MAX_SECRET_LEN: usize = 4096;

/// A host on the operator's allow or block list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// This host exactly (normalised: lower case, IPv6 unbracketed).
    Exact(String),
    /// Any subdomain of this domain (stored with its leading dot), not the
    /// domain itself.
    Subdomains(String),
}

impl HostPattern {
    /// Parses `host`, `*.domain`, an IPv4 literal or a bracketed or bare
    /// IPv6 literal (a list entry has no port, so a bare one is not
    /// ambiguous).
    pub fn parse(entry: &str) -> Result<HostPattern, String> {
        let e = entry.trim();
        if let Some(domain) = e.strip_prefix("*.") {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            if !is_dns_name(&domain) {
                return Err(format!(
                    "push host list: `{entry}` is not a valid wildcard host"
                ));
            }
            return Ok(HostPattern::Subdomains(format!(".{domain}")));
        }
        let host = normalize_host(e).ok_or_else(|| "push host list: empty entry".to_string())?;
        if host.parse::<IpAddr>().is_ok() || is_dns_name(&host) {
            Ok(HostPattern::Exact(host))
        } else {
            Err(format!(
                "push host list: `{entry}` is not a host name, `*.domain` or an IP address"
            ))
        }
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => h == host,
            HostPattern::Subdomains(suffix) => host.ends_with(suffix.as_str()),
        }
    }

    /// Whether this entry names `host` itself as an IP literal or
    /// `localhost`, which opens its non-public address.
    fn names_address(&self, host: &str) -> bool {
        matches!(self, HostPattern::Exact(h) if h == host)
            && (host.parse::<IpAddr>().is_ok() || is_localhost(host))
    }
}

/// A webhook's destination once its URL passed the static checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The parsed URL.
    pub url: Url,
    /// The host, normalised (lower case, IPv6 unbracketed).
    pub host: String,
    /// The port (the scheme's default when the URL gives none).
    pub port: u16,
}

impl Target {
    /// `host:port` (IPv6 bracketed): the unit of per-destination limits.
    pub fn destination(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Why a webhook is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The config field at fault (`url`, `token`, …).
    pub field: &'static str,
    /// What is wrong and what to do, for a person.
    pub message: String,
}

impl Refusal {
    fn url(message: impl Into<String>) -> Refusal {
        Refusal {
            field: "url",
            message: message.into(),
        }
    }

    /// The protocol error (`-32602` / HTTP 400) for this refusal, with the
    /// field named under `prefix` (e.g. `configuration.taskPushNotificationConfig`).
    pub fn into_error(self, prefix: &str) -> A2aError {
        let field = if prefix.is_empty() {
            self.field.to_string()
        } else {
            format!("{prefix}.{}", self.field)
        };
        A2aError::invalid_field(&field, self.message)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The settings in force, parsed once, shared by the manager (checks at
/// creation) and the deliverer (checks at dispatch).
#[derive(Debug)]
pub struct PushPolicy {
    settings: PushSettings,
    allow: Vec<HostPattern>,
    block: Vec<HostPattern>,
    /// Woken when a write queued notifications, so that the deliverer
    /// sends them at once instead of at its next poll.
    pub wake: tokio::sync::Notify,
}

impl PushPolicy {
    /// Parses the host lists of `settings` (see [`PushSettings::validate`]).
    pub fn new(settings: PushSettings) -> Result<Arc<PushPolicy>, String> {
        settings.validate()?;
        let parse = |list: &[String]| -> Result<Vec<HostPattern>, String> {
            list.iter().map(|h| HostPattern::parse(h)).collect()
        };
        Ok(Arc::new(PushPolicy {
            allow: parse(&settings.allow_hosts)?,
            block: parse(&settings.block_hosts)?,
            settings,
            wake: tokio::sync::Notify::new(),
        }))
    }

    /// The settings.
    pub fn settings(&self) -> &PushSettings {
        &self.settings
    }

    /// Whether `host` (normalised) may resolve to non-public addresses:
    /// all may with `allow_private`, else only a host the allow list names
    /// as an IP literal or `localhost`.
    pub fn opens_non_public(&self, host: &str) -> bool {
        self.settings.allow_private || self.allow.iter().any(|p| p.names_address(host))
    }

    /// The static checks of a webhook URL (everything but DNS).
    pub fn target(&self, raw: &str) -> Result<Target, Refusal> {
        let s = &self.settings;
        if raw.is_empty() {
            return Err(Refusal::url("the webhook URL is empty"));
        }
        if raw.len() > s.max_url_len {
            return Err(Refusal::url(format!(
                "the webhook URL is {} bytes long; at most {} are accepted",
                raw.len(),
                s.max_url_len
            )));
        }
        if let Some((scheme, rest)) = raw.split_once("://") {
            // The url crate would call `http://::1:8080` invalid without
            // saying why; say it.
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let authority = authority.rsplit('@').next().unwrap_or(authority);
            if let Err(e @ net::AuthorityError::UnbracketedIpv6(_)) =
                net::split_authority(authority)
            {
                return Err(Refusal::url(format!("`{scheme}://{authority}`: {e}")));
            }
        }
        let url = Url::parse(raw).map_err(|e| {
            Refusal::url(format!(
                "`{}` is not an absolute URL ({e}); give the full webhook address, e.g. \
                 https://hooks.example.com/a2a",
                shown(raw)
            ))
        })?;
        let scheme = url.scheme();
        if scheme != "https" && scheme != "http" {
            return Err(Refusal::url(format!(
                "scheme `{scheme}` is not supported; webhooks are https:// URLs"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::url(
                "the webhook URL carries user info; put credentials in `authentication` instead",
            ));
        }
        if url.fragment().is_some() {
            return Err(Refusal::url(
                "the webhook URL has a #fragment, which is never sent",
            ));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Domain(d)) => normalize_host(d).unwrap_or_default(),
            None => return Err(Refusal::url("the webhook URL has no host")),
        };
        let port = url.port_or_known_default().unwrap_or(443);
        if self.block.iter().any(|p| p.matches(&host)) {
            return Err(Refusal::url(format!(
                "webhooks to `{host}` are blocked by the operator"
            )));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| p.matches(&host)) {
            return Err(Refusal::url(format!(
                "`{host}` is not on the operator's list of webhook hosts"
            )));
        }
        if scheme == "http" && !s.allow_http && !self.opens_non_public(&host) {
            return Err(Refusal::url(
                "plain http:// webhooks are refused; use https:// (the operator can allow http)",
            ));
        }
        Ok(Target { url, host, port })
    }

    /// Resolves `target` and checks every address: what a connection may
    /// use, and only that.
    pub async fn resolve(
        &self,
        target: &Target,
        timeout: Duration,
    ) -> Result<Vec<SocketAddr>, Unreachable> {
        let plain_http = target.url.scheme() == "http";
        self.resolve_host(&target.host, target.port, plain_http, timeout)
            .await
    }

    /// Resolves `host` (normalised) and checks every address against this
    /// policy: non-public ones unless [`opens_non_public`](Self::opens_non_public),
    /// and, for `plain_http` without `allow_http`, public ones too (they
    /// need https).
    pub async fn resolve_host(
        &self,
        host: &str,
        port: u16,
        plain_http: bool,
        timeout: Duration,
    ) -> Result<Vec<SocketAddr>, Unreachable> {
        let addrs = net::resolve_checked(host, port, self.opens_non_public(host), timeout)
            .await
            .map_err(|e| match e {
                ResolveError::Refused(r) => Unreachable::Refused(format!(
                    "{r}; webhooks must reach public addresses (the operator can allow private \
                     ones with --push-allow-private)"
                )),
                e => Unreachable::Lookup(e.to_string()),
            })?;
        // Plain http:// is for allow_http, or for a non-public address the
        // operator opened; a public address needs https.
        if plain_http
            && !self.settings.allow_http
            && let Some(public) = addrs.iter().find(|a| net::non_public(a.ip()).is_none())
        {
            return Err(Unreachable::Refused(format!(
                "`{host}` resolves to the public address {}, which needs https://",
                public.ip()
            )));
        }
        Ok(addrs)
    }

    /// Every check of a config at creation: the URL, its addresses if the
    /// name resolves now, and the header values.
    pub async fn check_config(&self, config: &TaskPushNotificationConfig) -> Result<(), Refusal> {
        check_header_value("token", config.token.as_deref())?;
        if let Some(auth) = &config.authentication {
            if auth.scheme.trim().is_empty() {
                return Err(Refusal {
                    field: "authentication.scheme",
                    message: "the authentication scheme is empty; e.g. `Bearer`".into(),
                });
            }
            if !auth
                .scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+".contains(&b))
            {
                return Err(Refusal {
                    field: "authentication.scheme",
                    message: "the authentication scheme must be one word (letters, digits, \
                              `-._~+`), e.g. `Bearer`"
                        .into(),
                });
            }
            check_header_value("authentication.credentials", auth.credentials.as_deref())?;
        }
        if let Some(id) = config.id.as_deref() {
            check_id(id)?;
        }
        let target = self.target(&config.url)?;
        match self.resolve(&target, CREATE_LOOKUP_TIMEOUT).await {
            Ok(_) => Ok(()),
            Err(Unreachable::Refused(why)) => Err(Refusal::url(format!("webhook refused: {why}"))),
            // Not resolvable now: checked again at every delivery.
            Err(Unreachable::Lookup(_)) => Ok(()),
        }
    }
}

/// Why a webhook's host gave no address to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    /// The policy refuses an address (non-public, or public over http).
    Refused(String),
    /// The name could not be resolved now (may work later).
    Lookup(String),
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreachable::Refused(s) | Unreachable::Lookup(s) => f.write_str(s),
        }
    }
}

/// A header value must be printable ASCII without CR/LF, and not too long.
fn check_header_value(field: &'static str, value: Option<&str>) -> Result<(), Refusal> {
    let Some(v) = value else { return Ok(()) };
    if v.len() > MAX_SECRET_LEN {
        return Err(Refusal {
            field,
            message: format!("`{field}` is longer than {MAX_SECRET_LEN} bytes"),
        });
    }
    if v.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(Refusal {
            field,
            message: format!("`{field}` contains CR or LF, which cannot go in an HTTP header"),
        });
    }
    if !v
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
    {
        return Err(Refusal {
            field,
            message: format!("`{field}` must be printable ASCII to go in an HTTP header"),
        });
    }
    Ok(())
}

/// A config id is part of the notification id and of REST paths.
fn check_id(id: &str) -> Result<(), Refusal> {
    if id.len() > 256 || !id.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
        return Err(Refusal {
            field: "id",
            message: "a push config id is 1 to 256 printable ASCII characters without `/`".into(),
        });
    }
    Ok(())
}

/// A URL as shown in errors: cut short, without its query (which may hold
/// a secret).
pub fn shown(raw: &str) -> String {
    let cut = raw.split(['?', '#']).next().unwrap_or(raw);
    if cut.len() > 120 {
        let mut end = 120;
        while !cut.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &cut[..end])
    } else {
        cut.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AuthenticationInfo;

    fn policy(f: impl FnOnce(&mut PushSettings)) -> Arc<PushPolicy> {
        let mut s = PushSettings::default();
        f(&mut s);
        PushPolicy::new(s).unwrap()
    }

    fn config(url: &str) -> TaskPushNotificationConfig {
        TaskPushNotificationConfig {
            url: url.into(),
            ..Default::default()
        }
    }

    async fn refusal(p: &PushPolicy, c: TaskPushNotificationConfig) -> Refusal {
        p.check_config(&c).await.unwrap_err()
    }

    #[tokio::test]
    async fn urls_must_be_absolute_https_and_short() {
        let p = policy(|_| {});
        for (url, needle) in [
            ("/relative", "not an absolute URL"),
            ("hooks.example.com/x", "not an absolute URL"),
            ("ftp://hooks.example.com/x", "scheme `ftp`"),
            ("http://93.184.216.34/x", "plain http://"),
            ("https://user:pw@93.184.216.34/x", "user info"),
            ("https://93.184.216.34/x#frag", "fragment"),
            ("http://::1:8080/x", "without brackets"),
            ("", "empty"),
        ] {
            let r = refusal(&p, config(url)).await;
            assert_eq!(r.field, "url");
            assert!(r.message.contains(needle), "{url}: {}", r.message);
        }
        let long = format!("https://93.184.216.34/{}", "a".repeat(3000));
        assert!(
            refusal(&p, config(&long))
                .await
                .message
                .contains("at most 2048")
        );
        p.check_config(&config("https://93.184.216.34/hook?x=1"))
            .await
            .unwrap();
        p.check_config(&config("https://[2606:4700::1111]:8443/hook"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn non_public_addresses_are_refused_unless_allowed() {
        let p = policy(|_| {});
        for url in [
            "https://127.0.0.1/x",
            "https://localhost:9000/x",
            "https://10.1.2.3/x",
            "https://169.254.169.254/latest",
            "https://100.64.0.1/x",
            "https://[::1]/x",
            "https://[::ffff:0:a9fe:a9fe]/x",
            "https://[fd00:ec2::254]/x",
            "https://[2001:2::1]/x",
            "https://[3fff::1]/x",
            "https://[5f00::1]/x",
        ] {
            let r = refusal(&p, config(url)).await;
            assert!(
                r.message.contains("webhook refused"),
                "{url}: {}",
                r.message
            );
        }
        let dev = policy(|s| s.allow_private = true);
        dev.check_config(&config("http://127.0.0.1:9000/x"))
            .await
            .unwrap();
        dev.check_config(&config("https://[::1]/x")).await.unwrap();
        // allow_private allows http to private addresses only.
        let r = refusal(&dev, config("http://93.184.216.34/x")).await;
        assert!(r.message.contains("which needs https://"), "{}", r.message);
        // One named address opens only itself.
        let one = policy(|s| s.allow_hosts = vec!["127.0.0.1".into(), "*.example.com".into()]);
        one.check_config(&config("http://127.0.0.1:1/x"))
            .await
            .unwrap();
        let r = refusal(&one, config("https://[::1]/x")).await;
        assert!(
            r.message.contains("not on the operator's list"),
            "{}",
            r.message
        );
    }

    #[tokio::test]
    async fn allow_and_block_lists() {
        let p = policy(|s| {
            s.allow_hosts = vec!["*.example.com".into()];
            s.block_hosts = vec!["bad.example.com".into()];
        });
        let r = refusal(&p, config("https://bad.example.com/x")).await;
        assert!(r.message.contains("blocked"), "{}", r.message);
        let r = refusal(&p, config("https://example.org/x")).await;
        assert!(
            r.message.contains("not on the operator's list"),
            "{}",
            r.message
        );
        assert!(
            PushPolicy::new(PushSettings {
                allow_hosts: vec!["a b".into()],
                ..Default::default()
            })
            .is_err()
        );
    }

    #[tokio::test]
    async fn header_values_cannot_inject() {
        let p = policy(|_| {});
        let mut c = config("https://93.184.216.34/x");
        c.token = Some("a\r\nX-Evil: 1".into());
        assert_eq!(refusal(&p, c.clone()).await.field, "token");
        c.token = None;
        c.authentication = Some(AuthenticationInfo {
            scheme: "Bearer".into(),
            credentials: Some("x\ny".into()),
        });
        assert_eq!(
            refusal(&p, c.clone()).await.field,
            "authentication.credentials"
        );
        c.authentication = Some(AuthenticationInfo {
            scheme: "Bear er".into(),
            credentials: None,
        });
        assert_eq!(refusal(&p, c.clone()).await.field, "authentication.scheme");
        c.authentication = None;
        c.id = Some("a/b".into());
        assert_eq!(refusal(&p, c).await.field, "id");
    }

    #[test]
    fn shown_drops_queries() {
        assert_eq!(shown("https://h/x?secret=1"), "https://h/x");
    }
}
