//! A host resolved to socket addresses, every one of them checked.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::ranges::{NonPublic, non_public};

/// `localhost` and its subdomains (RFC 6761): always loopback, never DNS.
pub fn is_localhost(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

/// A host that resolves to a non-public address it may not reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The host as asked for.
    pub host: String,
    /// Why the first refused address is not public.
    pub why: NonPublic,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` resolves to {}, in {}",
            self.host, self.why.ip, self.why
        )
    }
}

impl std::error::Error for Refused {}

/// Why a host gave no addresses to connect to.
#[derive(Debug)]
pub enum ResolveError {
    /// An address is not public and the caller did not allow that.
    Refused(Refused),
    /// The lookup took longer than allowed.
    Timeout,
    /// The lookup failed.
    Lookup(std::io::Error),
    /// The lookup returned no address.
    NoAddresses,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Refused(r) => r.fmt(f),
            ResolveError::Timeout => f.write_str("name lookup timed out"),
            ResolveError::Lookup(e) => write!(f, "name lookup failed: {e}"),
            ResolveError::NoAddresses => f.write_str("the name has no addresses"),
        }
    }
}

impl std::error::Error for ResolveError {}

/// Refuse `ips` if any is not public, unless `allow_non_public` (the caller
/// named the address itself, or `localhost`). One refused address refuses
/// the host: a connection could go to any of them.
pub fn check_addresses(host: &str, ips: &[IpAddr], allow_non_public: bool) -> Result<(), Refused> {
    if allow_non_public {
        return Ok(());
    }
    match ips.iter().find_map(|ip| non_public(*ip)) {
        Some(why) => Err(Refused {
            host: host.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

/// Resolve `host` (normalised: lower case, IPv6 without brackets) and check
/// every address with [`check_addresses`]. Connect to exactly the addresses
/// returned, never to the name again: a second lookup could answer
/// differently (DNS rebinding).
///
/// An IP literal is its own address and `localhost` (and its subdomains)
/// is `127.0.0.1` and `::1`, without DNS. `timeout` bounds the lookup.
pub async fn resolve_checked(
    host: &str,
    port: u16,
    allow_non_public: bool,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, ResolveError> {
    let ips: Vec<IpAddr> = if let Ok(ip) = host.parse::<IpAddr>() {
        vec![ip]
    } else if is_localhost(host) {
        vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]
    } else {
        let lookup = tokio::net::lookup_host((host, port));
        let addrs = tokio::time::timeout(timeout, lookup)
            .await
            .map_err(|_| ResolveError::Timeout)?
            .map_err(ResolveError::Lookup)?;
        let mut ips: Vec<IpAddr> = Vec::new();
        for a in addrs {
            if !ips.contains(&a.ip()) {
                ips.push(a.ip());
            }
        }
        ips
    };
    if ips.is_empty() {
        return Err(ResolveError::NoAddresses);
    }
    check_addresses(host, &ips, allow_non_public).map_err(ResolveError::Refused)?;
    Ok(ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn one_non_public_address_refuses_the_host() {
        assert!(
            check_addresses("x.test", &ips(&["93.184.216.34", "2606:4700::1111"]), false).is_ok()
        );
        let err =
            check_addresses("x.test", &ips(&["93.184.216.34", "10.0.0.7"]), false).unwrap_err();
        assert_eq!(err.why.ip, "10.0.0.7".parse::<IpAddr>().unwrap());
        assert_eq!(
            err.to_string(),
            "`x.test` resolves to 10.0.0.7, in 10.0.0.0/8 Private-Use (RFC 1918)"
        );
        assert!(check_addresses("x.test", &ips(&["10.0.0.7"]), true).is_ok());
        let err = check_addresses("m.test", &ips(&["::ffff:0:a9fe:a9fe"]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`m.test` resolves to ::ffff:0:a9fe:a9fe, in ::ffff:0:0:0/96 IPv4-translated Address \
             (obsolete) (RFC 2765), embedding 169.254.169.254 in 169.254.0.0/16 Link Local \
             (RFC 3927), a cloud metadata service address"
        );
    }

    #[tokio::test]
    async fn literals_and_localhost_resolve_without_dns() {
        let t = Duration::from_secs(1);
        let addrs = resolve_checked("localhost", 5, true, t).await.unwrap();
        assert_eq!(addrs.len(), 2);
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 5));
        assert!(matches!(
            resolve_checked("a.localhost", 5, false, t).await,
            Err(ResolveError::Refused(_))
        ));
        let addrs = resolve_checked("8.8.8.8", 53, false, t).await.unwrap();
        assert_eq!(addrs, vec!["8.8.8.8:53".parse::<SocketAddr>().unwrap()]);
        let addrs = resolve_checked("fd00::1", 80, true, t).await.unwrap();
        assert_eq!(addrs, vec!["[fd00::1]:80".parse::<SocketAddr>().unwrap()]);
        match resolve_checked("fd00:ec2::254", 80, false, t).await {
            Err(ResolveError::Refused(r)) => {
                assert!(r.to_string().contains("Unique-Local"), "{r}");
                assert!(r.why.is_cloud_metadata(), "{r}");
            }
            other => panic!("{other:?}"),
        }
    }
}
