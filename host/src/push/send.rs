//! Sending one notification: an HTTP POST whose connection can only go to
//! an address the policy checked.
//!
//! The clients resolve names with `CheckedResolver`, which is
//! [`PushPolicy::resolve_host`] (over [`crate::net::resolve_checked`]): the
//! addresses it returns are the only ones a connection is opened to, so a DNS answer that changes after the
//! check (rebinding) cannot move it. IP literals never reach a resolver,
//! so the caller checks them ([`PushPolicy::resolve`]) before sending.
//! Redirects are not followed, proxies from the environment are ignored
//! (a proxy would connect on our behalf to an unchecked address), and at
//! most [`MAX_RESPONSE_BODY`] bytes of a response are read.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::HeaderMap;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::policy::{PushPolicy, Target, Unreachable};

/// The most bytes of a receiver's response that are read.
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// A 2xx answer.
    Delivered,
    /// It may work later (a non-2xx answer, a timeout, a reset, a failed
    /// lookup); `retry_after` is the receiver's `Retry-After`, if it sent
    /// one.
    Failed {
        /// What happened, for logs and dead letters (never credentials).
        error: String,
        /// The receiver's requested wait, if any.
        retry_after: Option<Duration>,
    },
    /// The policy refuses the destination: retrying cannot help.
    Refused(String),
}

/// A policy refusal raised inside the resolver, found again in the
/// request's error chain.
#[derive(Debug)]
struct PolicyRefusal(String);

impl std::fmt::Display for PolicyRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyRefusal {}

/// The resolver of the delivery clients: [`PushPolicy::resolve_host`],
/// for the client of `https://` or of plain `http://` URLs.
struct CheckedResolver {
    policy: Arc<PushPolicy>,
    plain_http: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let plain_http = self.plain_http;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let timeout = policy.settings().timeout;
            // The connector sets the port; 0 is a placeholder.
            match policy.resolve_host(&host, 0, plain_http, timeout).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                Err(Unreachable::Refused(why)) => Err(Box::new(PolicyRefusal(why)) as _),
                Err(Unreachable::Lookup(why)) => Err(why.into()),
            }
        })
    }
}

/// The HTTP clients of the deliverer.
pub struct Sender {
    policy: Arc<PushPolicy>,
    https: reqwest::Client,
    http: reqwest::Client,
}

impl Sender {
    /// Clients for `policy`'s settings.
    pub fn new(policy: Arc<PushPolicy>) -> Result<Sender, String> {
        let build = |plain_http: bool| {
            let s = policy.settings();
            reqwest::Client::builder()
                .dns_resolver(Arc::new(CheckedResolver {
                    policy: Arc::clone(&policy),
                    plain_http,
                }))
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(s.timeout)
                .timeout(s.timeout)
                .pool_max_idle_per_host(s.per_destination)
                .pool_idle_timeout(Duration::from_secs(60))
                .user_agent(concat!("a2a-host/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("push: cannot build the HTTP client: {e}"))
        };
        Ok(Sender {
            https: build(false)?,
            http: build(true)?,
            policy,
        })
    }

    /// POSTs `body` with `headers` to `target`.
    pub async fn send(&self, target: &Target, headers: HeaderMap, body: Bytes) -> Sent {
        if target.host.parse::<std::net::IpAddr>().is_ok() {
            // Literals bypass the resolver: check them here.
            match self
                .policy
                .resolve(target, self.policy.settings().timeout)
                .await
            {
                Ok(_) => {}
                Err(Unreachable::Refused(why)) => return Sent::Refused(why),
                Err(Unreachable::Lookup(why)) => {
                    return Sent::Failed {
                        error: why,
                        retry_after: None,
                    };
                }
            }
        }
        let client = if target.url.scheme() == "https" {
            &self.https
        } else {
            &self.http
        };
        let result = client
            .post(target.url.clone())
            .headers(headers)
            .body(body)
            .send()
            .await;
        let mut response = match result {
            Ok(r) => r,
            Err(e) => return failure(e),
        };
        let status = response.status();
        let retry_after = retry_after(response.headers(), SystemTime::now());
        // Read (a bounded part of) the body so that the connection can be
        // reused; a receiver that sends more loses its connection.
        let mut read = 0usize;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    read += chunk.len();
                    if read > MAX_RESPONSE_BODY {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) if status.is_success() => {
                    tracing::debug!(
                        "push: reading a 2xx response body failed: {}",
                        e.without_url()
                    );
                    break;
                }
                Err(e) => return failure(e),
            }
        }
        if status.is_success() {
            return Sent::Delivered;
        }
        let error = if status.is_redirection() {
            format!("the receiver answered {status} (redirects are not followed)")
        } else {
            format!("the receiver answered {status}")
        };
        Sent::Failed { error, retry_after }
    }
}

/// What a failed request means, without its URL (which may hold a secret
/// in its query).
fn failure(e: reqwest::Error) -> Sent {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(refusal) = err.downcast_ref::<PolicyRefusal>() {
            return Sent::Refused(refusal.0.clone());
        }
        source = err.source();
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut error = format!("the request {kind}");
    let mut source = std::error::Error::source(&e);
    while let Some(err) = source {
        error.push_str(": ");
        error.push_str(&err.to_string());
        source = err.source();
    }
    Sent::Failed {
        error,
        retry_after: None,
    }
}

/// The `Retry-After` of a response: seconds, or an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        h.insert(http::header::RETRY_AFTER, later.parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h, now), None);
    }
}
