//! Agent cards: built from the registry's [`AgentInfo`], served with cache
//! validators.
//!
//! ## Base URL
//!
//! Card URLs are absolute. Their base is, in order:
//! 1. [`ServerConfig::public_url`], used as is;
//! 2. otherwise, per request: scheme from `X-Forwarded-Proto` (or
//!    `Forwarded: proto=`), host from `X-Forwarded-Host` (or
//!    `Forwarded: host=`), then the `Host` header, then `localhost` — the
//!    forwarded headers only when [`ServerConfig::trust_forwarded_headers`];
//!    then the path prefix: `X-Forwarded-Prefix` (trusted only likewise)
//!    followed by the prefix the router is nested under in an embedding app
//!    (found by comparing axum's `OriginalUri` with the routed URI).
//!
//! ## A2A 0.3
//!
//! `supportedInterfaces` lists both bindings for 1.0 and for 0.3 (the 0.3
//! HTTP+JSON URL is the agent URL; 0.3 REST clients append `/v1/…`). The
//! card document also carries the 0.3 members a 0.3 client needs (`url`,
//! `preferredTransport`, `additionalInterfaces`, `protocolVersion: "0.3.0"`,
//! `supportsAuthenticatedExtendedCard`, `capabilities.stateTransitionHistory`;
//! see [`v03::dual_card`]) — unless the request says
//! `A2A-Version: 1.0` (a 1.0 client must send it with every request, so one
//! without it is a 0.3 client) or [`ServerConfig::card_v03_members`] is off.
//! Then it is the plain 1.0 card, which validates against the 1.0 schema
//! even where that schema refuses unknown members. An unreadable version on
//! a card request is ignored: cards need no version.
//!
//! ## Caching
//!
//! Responses carry `Cache-Control: public, max-age=N`, a strong `ETag` (a
//! SHA-256 of the card JSON as served) and `Last-Modified` (when the agent
//! version was loaded). `If-None-Match` is honoured first; only without it
//! is `If-Modified-Since` consulted. A match answers 304 with the same
//! validators and no body. `Vary` names `A2A-Version`, since the two card
//! forms differ.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::http_util::{JSON, rest_error};
use super::version::{RequestMeta, Version};
use super::{ApiError, App, PathArgs, ServerConfig, v03};
use crate::agent::AgentInfo;
use crate::error::A2aError;
use crate::model::{AgentCapabilities, AgentCard, AgentInterface};

/// The protocol version of the first (preferred) interfaces.
pub const PROTOCOL_VERSION: &str = "1.0";
/// The protocol version of the A2A 0.3 interfaces.
pub const PROTOCOL_VERSION_V03: &str = "0.3";
/// Binding name of the JSON-RPC interface.
pub const BINDING_JSONRPC: &str = "JSONRPC";
/// Binding name of the HTTP+JSON interface.
pub const BINDING_HTTP_JSON: &str = "HTTP+JSON";

/// The A2A card of an agent reachable at `agent_url` (for both bindings,
/// in 1.0 and in 0.3, 1.0 first).
///
/// Empty input or output modes become `["text/plain"]`. Push
/// notifications are off here; the card route turns them on when the host
/// accepts push configs. The extended card is not offered.
pub fn agent_card(info: &AgentInfo, agent_url: &str) -> AgentCard {
    let modes = |m: &[String]| {
        if m.is_empty() {
            vec!["text/plain".to_string()]
        } else {
            m.to_vec()
        }
    };
    let interface = |binding: &str, version: &str| AgentInterface {
        url: agent_url.to_string(),
        protocol_binding: binding.to_string(),
        tenant: None,
        protocol_version: version.to_string(),
    };
    AgentCard {
        name: info.name.clone(),
        description: info.description.clone(),
        supported_interfaces: vec![
            interface(BINDING_JSONRPC, PROTOCOL_VERSION),
            interface(BINDING_HTTP_JSON, PROTOCOL_VERSION),
            interface(BINDING_JSONRPC, PROTOCOL_VERSION_V03),
            interface(BINDING_HTTP_JSON, PROTOCOL_VERSION_V03),
        ],
        version: info.version.clone(),
        capabilities: AgentCapabilities {
            streaming: Some(info.streaming),
            push_notifications: Some(false),
            extensions: Vec::new(),
            extended_agent_card: Some(false),
        },
        default_input_modes: modes(&info.input_modes),
        default_output_modes: modes(&info.output_modes),
        skills: info.skills.clone(),
        ..Default::default()
    }
}

/// The canonical URL of agent `name` under `base`.
pub(crate) fn agent_url(base: &str, name: &str) -> String {
    format!("{base}/agents/{}", encode_segment(name))
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The externally visible URL of the router's root, without a trailing `/`.
pub(crate) fn base_url(config: &ServerConfig, parts: &Parts) -> String {
    if let Some(url) = &config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let headers = &parts.headers;
    let trust = config.trust_forwarded_headers;
    let forwarded = if trust {
        forwarded_pairs(headers)
    } else {
        Vec::new()
    };
    let from_forwarded = |key: &str| {
        forwarded
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    };

    let scheme = trust
        .then(|| first_value(headers, "x-forwarded-proto"))
        .flatten()
        .or_else(|| from_forwarded("proto"))
        .map(|s| s.to_ascii_lowercase())
        .filter(|s| s == "http" || s == "https")
        .or_else(|| parts.uri.scheme_str().map(str::to_string))
        .unwrap_or_else(|| "http".to_string());

    let host = trust
        .then(|| first_value(headers, "x-forwarded-host"))
        .flatten()
        .or_else(|| from_forwarded("host"))
        .filter(|h| valid_host(h))
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
                .filter(|h| valid_host(h))
        })
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_string());

    let mut prefix = String::new();
    if trust && let Some(p) = first_value(headers, "x-forwarded-prefix") {
        let p = p.trim_matches('/');
        if !p.is_empty() && valid_path(p) {
            prefix.push('/');
            prefix.push_str(p);
        }
    }
    prefix.push_str(&mount_prefix(parts));
    format!("{scheme}://{host}{prefix}")
}

/// The path prefix this router is nested under, if any: the part of the
/// original request path before the path the router saw.
fn mount_prefix(parts: &Parts) -> String {
    let Some(OriginalUri(original)) = parts.extensions.get::<OriginalUri>() else {
        return String::new();
    };
    let routed = parts.uri.path();
    original
        .path()
        .strip_suffix(routed)
        .map(|p| p.trim_end_matches('/').to_string())
        .unwrap_or_default()
}

fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let v = headers.get(name)?.to_str().ok()?;
    let first = v.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_string())
}

/// The `key=value` pairs of the first element of RFC 7239 `Forwarded`.
fn forwarded_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    let Some(v) = headers.get(header::FORWARDED).and_then(|v| v.to_str().ok()) else {
        return Vec::new();
    };
    let first = v.split(',').next().unwrap_or("");
    first
        .split(';')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
}

fn valid_path(p: &str) -> bool {
    p.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~' | b'%'))
}

/// `GET …/.well-known/agent-card.json`.
pub(crate) async fn handle(State(app): State<App>, path: PathArgs, parts: Parts) -> Response {
    let target = match app.resolve(&path) {
        Ok(t) => t,
        Err(e) => return rest_error(&parts.headers, &e),
    };
    let base = base_url(&app.config, &parts);
    let url = agent_url(&base, &target.name);
    let mut card = agent_card(&target.agent.info, &url);
    card.capabilities.push_notifications = Some(app.manager.push_enabled());
    let asks_v1 = RequestMeta::from_parts(&parts.headers, parts.uri.query())
        .is_ok_and(|m| m.version == Version::V1_0);
    let encoded = if app.config.card_v03_members && !asks_v1 {
        serde_json::to_vec(&v03::dual_card(&card, &url, &url))
    } else {
        serde_json::to_vec(&card)
    };
    let body = match encoded {
        Ok(b) => b,
        Err(e) => {
            let err = ApiError::new(A2aError::Internal(format!(
                "could not encode the card: {e}"
            )));
            return rest_error(&parts.headers, &err);
        }
    };
    let etag = format!("\"{}\"", hex(&Sha256::digest(&body)[..16]));
    let loaded: SystemTime = target.agent.loaded_at.0.into();
    let loaded_secs = target.agent.loaded_at.0.unix_timestamp();

    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    if let Ok(v) =
        HeaderValue::from_str(&format!("public, max-age={}", app.config.card_max_age_secs))
    {
        headers.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(loaded)) {
        headers.insert(header::LAST_MODIFIED, v);
    }
    if app.config.public_url.is_none() {
        headers.insert(
            header::VARY,
            HeaderValue::from_static(
                "A2A-Version, Host, X-Forwarded-Host, X-Forwarded-Proto, X-Forwarded-Prefix, \
                 Forwarded",
            ),
        );
    } else {
        headers.insert(header::VARY, HeaderValue::from_static("A2A-Version"));
    }

    if not_modified(&parts.headers, &etag, loaded_secs) {
        headers.remove(header::CONTENT_TYPE);
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (StatusCode::OK, headers, body).into_response()
}

/// Whether the request's validators match (RFC 9110 §13.1–13.2).
fn not_modified(request: &HeaderMap, etag: &str, loaded_secs: i64) -> bool {
    let inm: Vec<&str> = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !inm.is_empty() {
        let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
        return inm
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim() == "*" || strip(t) == etag);
    }
    let Some(since) = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        return false;
    };
    let since_secs = match since.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(_) => return false,
    };
    loaded_secs <= since_secs
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(uri: &str, headers: &[(&'static str, &'static str)]) -> Parts {
        let mut b = Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn base_url_prefers_public_url_then_forwarded_then_host() {
        let mut cfg = ServerConfig {
            public_url: Some("https://x.example/a2a/".into()),
            ..Default::default()
        };
        let p = parts("/agents/a", &[("host", "h:1")]);
        assert_eq!(base_url(&cfg, &p), "https://x.example/a2a");

        cfg.public_url = None;
        assert_eq!(base_url(&cfg, &p), "http://h:1");

        let p = parts(
            "/agents/a",
            &[
                ("host", "h:1"),
                ("x-forwarded-proto", "https, http"),
                ("x-forwarded-host", "pub.example"),
                ("x-forwarded-prefix", "/gw/"),
            ],
        );
        assert_eq!(base_url(&cfg, &p), "https://pub.example/gw");

        let p = parts(
            "/",
            &[
                ("host", "h:1"),
                ("forwarded", "for=1.2.3.4;proto=https;host=\"f.example\""),
            ],
        );
        assert_eq!(base_url(&cfg, &p), "https://f.example");

        cfg.trust_forwarded_headers = false;
        let p = parts(
            "/",
            &[("host", "h:1"), ("x-forwarded-host", "evil.example")],
        );
        assert_eq!(base_url(&cfg, &p), "http://h:1");

        let p = parts("/", &[("host", "bad host/x")]);
        assert_eq!(base_url(&cfg, &p), "http://localhost");
    }

    #[test]
    fn nested_prefix_comes_from_the_original_uri() {
        let cfg = ServerConfig::default();
        let mut p = parts("/agents/a/.well-known/agent-card.json", &[("host", "h")]);
        p.extensions.insert(OriginalUri(
            "/outer/a2a/agents/a/.well-known/agent-card.json"
                .parse()
                .unwrap(),
        ));
        assert_eq!(base_url(&cfg, &p), "http://h/outer/a2a");
    }

    #[test]
    fn cards_default_modes_and_list_both_bindings() {
        let info = AgentInfo::new("echo", "Echoes");
        let card = agent_card(&info, "http://h/agents/echo");
        assert_eq!(card.default_input_modes, ["text/plain"]);
        assert_eq!(card.default_output_modes, ["text/plain"]);
        let bindings: Vec<_> = card
            .supported_interfaces
            .iter()
            .map(|i| {
                (
                    i.protocol_binding.as_str(),
                    i.protocol_version.as_str(),
                    i.url.as_str(),
                )
            })
            .collect();
        assert_eq!(
            bindings,
            [
                ("JSONRPC", "1.0", "http://h/agents/echo"),
                ("HTTP+JSON", "1.0", "http://h/agents/echo"),
                ("JSONRPC", "0.3", "http://h/agents/echo"),
                ("HTTP+JSON", "0.3", "http://h/agents/echo"),
            ]
        );
        assert_eq!(card.capabilities.streaming, Some(true));
        assert_eq!(card.capabilities.push_notifications, Some(false));
        assert_eq!(agent_url("http://h", "a b/c"), "http://h/agents/a%20b%2Fc");
    }

    #[test]
    fn validators_match_etag_first_then_date() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"abc\""),
        );
        assert!(not_modified(&h, "\"abc\"", 100));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"zzz\""));
        let later = httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(1000));
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_str(&later).unwrap(),
        );
        assert!(
            !not_modified(&h, "\"abc\"", 100),
            "ETag mismatch wins over the date"
        );
        h.remove(header::IF_NONE_MATCH);
        assert!(not_modified(&h, "\"abc\"", 100));
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert!(!not_modified(&h, "\"abc\"", 1_000_000_000));
    }
}
