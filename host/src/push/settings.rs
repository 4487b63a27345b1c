//! The operator's push-notification settings and their defaults.

use std::path::PathBuf;
use std::time::Duration;

/// How push notifications are accepted and delivered. `Default` is what
/// `a2a-host serve` uses without push flags.
#[derive(Debug, Clone, PartialEq)]
pub struct PushSettings {
    /// Whether push configs are accepted at all (cards then say
    /// `pushNotifications: true`). Without the `push` Cargo feature push
    /// is always off.
    pub enabled: bool,
    /// Allow webhooks on loopback, private, link-local and the other
    /// non-public ranges, and plain `http` to them. For development and
    /// conformance runs against a local receiver.
    pub allow_private: bool,
    /// Allow plain `http` webhooks to any address (by default only `https`
    /// is accepted, except to non-public addresses with `allow_private`).
    pub allow_http: bool,
    /// If not empty, only webhooks on these hosts are accepted: a DNS name
    /// (`hooks.example.com`), a subdomain wildcard (`*.example.com`), an IP
    /// literal or `localhost`. An IP literal or `localhost` here also opens
    /// its non-public address, for that host only.
    pub allow_hosts: Vec<String>,
    /// Webhooks on these hosts are refused, whatever else allows them
    /// (same forms as `allow_hosts`).
    pub block_hosts: Vec<String>,
    /// The most push configs one task may have.
    pub max_configs_per_task: usize,
    /// The longest webhook URL accepted, in bytes.
    pub max_url_len: usize,
    /// Time allowed to connect, send and receive the response headers of
    /// one delivery.
    pub timeout: Duration,
    /// Attempts of one notification before it is dead-lettered.
    pub max_attempts: u32,
    /// Age (since it was queued) after which a notification that still
    /// fails is dead-lettered.
    pub max_age: Duration,
    /// The wait after the first failure; it doubles with each further
    /// failure (with jitter) up to `backoff_max`.
    pub backoff_base: Duration,
    /// The longest wait between attempts, also the bound on a receiver's
    /// `Retry-After`.
    pub backoff_max: Duration,
    /// Deliveries in flight at once, host-wide.
    pub concurrency: usize,
    /// Deliveries in flight at once to one destination (`host:port`), so
    /// that a slow receiver holds only its own share.
    pub per_destination: usize,
    /// How often the outbox is looked at when nothing woke the deliverer
    /// (another process's notifications, retries that came due).
    pub poll_interval: Duration,
    /// PKCS#8 PEM keys (Ed25519 or P-256). The first signs every
    /// notification; all are published at `/.well-known/jwks.json`.
    pub signing_keys: Vec<PathBuf>,
}

impl Default for PushSettings {
    fn default() -> Self {
        PushSettings {
            enabled: cfg!(feature = "push"),
            allow_private: false,
            allow_http: false,
            allow_hosts: Vec::new(),
            block_hosts: Vec::new(),
            max_configs_per_task: 10,
            max_url_len: 2048,
            timeout: Duration::from_secs(10),
            max_attempts: 10,
            max_age: Duration::from_secs(24 * 3600),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            concurrency: 64,
            per_destination: 4,
            poll_interval: Duration::from_secs(1),
            signing_keys: Vec::new(),
        }
    }
}

impl PushSettings {
    /// How long a claimed notification stays leased to its process: a
    /// delivery lasts at most `timeout`, so a process that is still alive
    /// never loses a lease it is using, and one that died hands its work
    /// over soon after.
    pub fn lease(&self) -> Duration {
        self.timeout * 3 + Duration::from_secs(5)
    }

    /// Checks the settings for values that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_configs_per_task == 0 {
            return Err("push: the maximum number of configs per task must be at least 1".into());
        }
        if self.max_attempts == 0 {
            return Err("push: the maximum number of attempts must be at least 1".into());
        }
        if self.timeout.is_zero() {
            return Err("push: the delivery timeout must be more than 0".into());
        }
        if self.concurrency == 0 || self.per_destination == 0 {
            return Err("push: delivery concurrency must be at least 1".into());
        }
        if self.max_url_len < 16 {
            return Err("push: the maximum URL length must be at least 16".into());
        }
        for host in self.allow_hosts.iter().chain(&self.block_hosts) {
            super::policy::HostPattern::parse(host)?;
        }
        Ok(())
    }
}
