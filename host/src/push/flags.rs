//! The push settings of `a2a-host serve`: flags, `A2A_HOST_PUSH_*`
//! variables and the `[push]` table of `a2a-host.toml`, resolved over
//! [`PushSettings::default`].
//!
//! | setting | flag | toml key in `[push]` | default |
//! |---|---|---|---|
//! | accept push configs | `--push true\|false` | `enabled` | `true` |
//! | non-public webhook addresses (and http to them) | `--push-allow-private` | `allow_private` | off |
//! | plain http webhooks anywhere | `--push-allow-http` | `allow_http` | off |
//! | only these webhook hosts | `--push-allow-host HOST` (repeat) | `allow_hosts` | any public host |
//! | never these webhook hosts | `--push-block-host HOST` (repeat) | `block_hosts` | none |
//! | configs per task | `--push-max-configs N` | `max_configs_per_task` | 10 |
//! | delivery timeout | `--push-timeout-secs S` | `timeout_secs` | 10 |
//! | attempts before dead-lettering | `--push-max-attempts N` | `max_attempts` | 10 |
//! | age before dead-lettering | `--push-max-age-hours H` | `max_age_hours` | 24 |
//! | deliveries in flight | `--push-concurrency N` | `concurrency` | 64 |
//! | deliveries in flight per destination | `--push-per-destination N` | `per_destination` | 4 |
//! | signing keys | `--push-signing-key PATH` (repeat) | `signing_keys` | none (unsigned) |
//!
//! Each flag's variable is its name in capitals with `A2A_HOST_` in front
//! (`A2A_HOST_PUSH_ALLOW_PRIVATE=true`); lists are comma-separated there.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::PushSettings;

/// The push flags of `serve`.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct PushArgs {
    /// Accept push-notification configs and deliver them (default true).
    #[cfg_attr(
        feature = "cli",
        arg(long = "push", env = "A2A_HOST_PUSH", value_name = "true|false")
    )]
    pub enabled: Option<bool>,
    /// Allow webhooks on loopback, private and other non-public addresses,
    /// and plain http to them (development, conformance runs).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_PUSH_ALLOW_PRIVATE", num_args = 0..=1, default_missing_value = "true", value_name = "true|false")
    )]
    pub push_allow_private: Option<bool>,
    /// Allow plain http webhooks to any address.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_PUSH_ALLOW_HTTP", num_args = 0..=1, default_missing_value = "true", value_name = "true|false")
    )]
    pub push_allow_http: Option<bool>,
    /// Accept webhooks only on these hosts (`name`, `*.domain`, an IP).
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "A2A_HOST_PUSH_ALLOW_HOST",
            value_name = "HOST",
            value_delimiter = ','
        )
    )]
    pub push_allow_host: Vec<String>,
    /// Refuse webhooks on these hosts.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "A2A_HOST_PUSH_BLOCK_HOST",
            value_name = "HOST",
            value_delimiter = ','
        )
    )]
    pub push_block_host: Vec<String>,
    /// The most push configs one task may have.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_PUSH_MAX_CONFIGS", value_name = "N")
    )]
    pub push_max_configs: Option<usize>,
    /// Seconds to connect to a webhook and get its answer.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_PUSH_TIMEOUT_SECS", value_name = "SECS")
    )]
    pub push_timeout_secs: Option<u64>,
    /// Attempts of a notification before it is dead-lettered.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_PUSH_MAX_ATTEMPTS", value_name = "N")
    )]
    pub push_max_attempts: Option<u32>,
    /// Hours after which a failing notification is dead-lettered.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_PUSH_MAX_AGE_HOURS", value_name = "HOURS")
    )]
    pub push_max_age_hours: Option<u64>,
    /// Deliveries in flight at once.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_PUSH_CONCURRENCY", value_name = "N")
    )]
    pub push_concurrency: Option<usize>,
    /// Deliveries in flight at once to one host:port.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "A2A_HOST_PUSH_PER_DESTINATION", value_name = "N")
    )]
    pub push_per_destination: Option<usize>,
    /// A PKCS#8 PEM key (Ed25519 or P-256) to sign notifications with; the
    /// first given signs, all are published at /.well-known/jwks.json.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "A2A_HOST_PUSH_SIGNING_KEY",
            value_name = "PATH",
            value_delimiter = ','
        )
    )]
    pub push_signing_key: Vec<PathBuf>,
}

/// The `[push]` table of `a2a-host.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushFile {
    enabled: Option<bool>,
    allow_private: Option<bool>,
    allow_http: Option<bool>,
    allow_hosts: Option<Vec<String>>,
    block_hosts: Option<Vec<String>>,
    max_configs_per_task: Option<usize>,
    timeout_secs: Option<u64>,
    max_attempts: Option<u32>,
    max_age_hours: Option<u64>,
    concurrency: Option<usize>,
    per_destination: Option<usize>,
    signing_keys: Option<Vec<PathBuf>>,
}

impl PushArgs {
    /// Flags over the file over the defaults, checked.
    pub fn resolve(self, file: PushFile) -> Result<PushSettings, String> {
        let d = PushSettings::default();
        let list = |flag: Vec<String>, toml: Option<Vec<String>>| {
            if flag.is_empty() {
                toml.unwrap_or_default()
            } else {
                flag
            }
        };
        let enabled = self.enabled.or(file.enabled).unwrap_or(d.enabled);
        if enabled && !cfg!(feature = "push") {
            return Err(
                "push notifications need the `push` feature; rebuild with it or pass --push false"
                    .into(),
            );
        }
        let settings = PushSettings {
            enabled,
            allow_private: self
                .push_allow_private
                .or(file.allow_private)
                .unwrap_or(d.allow_private),
            allow_http: self
                .push_allow_http
                .or(file.allow_http)
                .unwrap_or(d.allow_http),
            allow_hosts: list(self.push_allow_host, file.allow_hosts),
            block_hosts: list(self.push_block_host, file.block_hosts),
            max_configs_per_task: self
                .push_max_configs
                .or(file.max_configs_per_task)
                .unwrap_or(d.max_configs_per_task),
            timeout: self
                .push_timeout_secs
                .or(file.timeout_secs)
                .map_or(d.timeout, Duration::from_secs),
            max_attempts: self
                .push_max_attempts
                .or(file.max_attempts)
                .unwrap_or(d.max_attempts),
            max_age: self
                .push_max_age_hours
                .or(file.max_age_hours)
                .map_or(d.max_age, |h| Duration::from_secs(h * 3600)),
            concurrency: self
                .push_concurrency
                .or(file.concurrency)
                .unwrap_or(d.concurrency),
            per_destination: self
                .push_per_destination
                .or(file.per_destination)
                .unwrap_or(d.per_destination),
            signing_keys: if self.push_signing_key.is_empty() {
                file.signing_keys.unwrap_or_default()
            } else {
                self.push_signing_key
            },
            ..d
        };
        settings.validate()?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_in() {
        let file: PushFile =
            toml::from_str("allow_private = true\nmax_attempts = 3\nallow_hosts = [\"a.example\"]")
                .unwrap();
        let args = PushArgs {
            push_max_attempts: Some(5),
            ..Default::default()
        };
        let s = args.resolve(file).unwrap();
        assert!(s.allow_private);
        assert_eq!(s.max_attempts, 5);
        assert_eq!(s.allow_hosts, vec!["a.example".to_string()]);
        assert_eq!(s.timeout, Duration::from_secs(10));
        assert!(toml::from_str::<PushFile>("alow_private = true").is_err());
        let bad = PushArgs {
            push_max_configs: Some(0),
            ..Default::default()
        };
        assert!(bad.resolve(PushFile::default()).is_err());
    }
}
