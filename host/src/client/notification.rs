//! Receiving push notifications: checking a notification's signature
//! against the sending host's JWK Set.
//!
//! A host with signing keys puts a compact JWT in the
//! [`NOTIFICATION_SIGNATURE_HEADER`] of every notification. Its claims
//! ([`NotificationClaims`]) bind the task, the notification id and the
//! SHA-256 of the exact body; its header names the key (`kid`) in the JWK
//! Set the host serves at [`JWKS_PATH`]. A receiver fetches that set once
//! ([`fetch_jwks`]), and fetches it again when a notification names a key
//! it does not know (the host rotated its keys).
//!
//! ```no_run
//! # async fn demo(headers: http::HeaderMap, body: bytes::Bytes) -> Result<(), Box<dyn std::error::Error>> {
//! use a2a_host::client::notification::{fetch_jwks, verify_notification};
//!
//! let jwks = fetch_jwks("https://agents.example.com").await?;
//! let verified = verify_notification(&headers, &body, &jwks, std::time::SystemTime::now())?;
//! println!("task {}: {:?}", verified.task_id, verified.event);
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ClientError;
use crate::model::StreamResponse;
use crate::model::notification::{
    JWKS_PATH, NOTIFICATION_ID_HEADER, NOTIFICATION_SIGNATURE_HEADER, NotificationClaims,
};

/// How far the receiver's clock may be from the sender's: a signature is
/// accepted this long after it expired, and this long before it was
/// issued.
pub const CLOCK_LEEWAY: Duration = Duration::from_secs(60);

/// A signature algorithm the receiver verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 (RFC 8037), keys of type `OKP` on curve `Ed25519`.
    EdDSA,
    /// ECDSA P-256 with SHA-256 (RFC 7518), keys of type `EC` on `P-256`.
    ES256,
}

impl Algorithm {
    /// The JWS name: `EdDSA` or `ES256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One public key of a [`Jwks`].
#[derive(Clone, Debug, PartialEq, Eq)]
struct PublicKey {
    kid: String,
    algorithm: Algorithm,
    /// Ed25519: the 32-byte key; P-256: the uncompressed point
    /// (`0x04 || x || y`), as ring takes them.
    bytes: Vec<u8>,
}

/// A JWK Set, holding the keys this receiver can verify with: Ed25519 and
/// P-256 signing keys that have a `kid`. Other keys (RSA, encryption keys)
/// are left out, as RFC 7517 asks of keys a reader does not understand.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<PublicKey>,
}

impl Jwks {
    /// Parses a JWK Set (`{"keys": [...]}`). Fails on anything that is not
    /// a JWK Set, on a malformed Ed25519 or P-256 key, and when no key is
    /// usable.
    pub fn from_json(json: &[u8]) -> Result<Jwks, String> {
        let set: Value =
            serde_json::from_slice(json).map_err(|e| format!("the JWK Set is not JSON: {e}"))?;
        let Some(keys) = set.get("keys").and_then(Value::as_array) else {
            return Err("not a JWK Set (no `keys` array)".into());
        };
        let mut out = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(k) = parse_jwk(key).map_err(|e| format!("key {i} of the JWK Set: {e}"))? {
                out.push(k);
            }
        }
        if out.is_empty() {
            return Err("the JWK Set has no Ed25519 or P-256 signing key with a `kid`".into());
        }
        Ok(Jwks { keys: out })
    }

    /// The ids of the usable keys, in the set's order.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// Whether the set holds a key with this id.
    pub fn contains(&self, kid: &str) -> bool {
        self.key(kid).is_some()
    }

    fn key(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// One key of a set: `Ok(None)` for keys this receiver does not use.
fn parse_jwk(key: &Value) -> Result<Option<PublicKey>, String> {
    let field = |name: &str| key.get(name).and_then(Value::as_str);
    if field("use").is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    let algorithm = match (field("kty"), field("crv")) {
        (Some("OKP"), Some("Ed25519")) => Algorithm::EdDSA,
        (Some("EC"), Some("P-256")) => Algorithm::ES256,
        _ => return Ok(None),
    };
    if field("alg").is_some_and(|a| a != algorithm.name()) {
        // A key restricted to another algorithm is not one this receiver
        // may use for its own.
        return Ok(None);
    }
    let Some(kid) = field("kid").filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    let coordinate = |name: &str| -> Result<Vec<u8>, String> {
        let text = field(name).ok_or_else(|| format!("`{kid}` has no `{name}`"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|e| format!("`{kid}`: `{name}` is not base64url: {e}"))?;
        if bytes.len() != 32 {
            return Err(format!(
                "`{kid}`: `{name}` is {} bytes, not 32",
                bytes.len()
            ));
        }
        Ok(bytes)
    };
    let bytes = match algorithm {
        Algorithm::EdDSA => coordinate("x")?,
        Algorithm::ES256 => {
            let mut point = vec![0x04];
            point.extend(coordinate("x")?);
            point.extend(coordinate("y")?);
            point
        }
    };
    Ok(Some(PublicKey {
        kid: kid.to_string(),
        algorithm,
        bytes,
    }))
}

/// Where the JWK Set of the host at `url` is: a URL ending in `.json` as
/// is; any other URL of the host (its root, an agent URL) gives
/// [`JWKS_PATH`] at the host's root.
pub fn jwks_url(url: &str) -> Result<reqwest::Url, ClientError> {
    let mut parsed = reqwest::Url::parse(url.trim()).map_err(|e| {
        ClientError::InvalidArgument(format!(
            "`{url}` is not a URL ({e}); give the host's root, like http://localhost:8080"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ClientError::InvalidArgument(format!(
            "`{url}` is not an http(s) URL"
        )));
    }
    parsed.set_fragment(None);
    if !parsed.path().ends_with(".json") {
        parsed.set_path(JWKS_PATH);
        parsed.set_query(None);
    }
    Ok(parsed)
}

/// Fetches and parses the JWK Set of the host at `url` (see [`jwks_url`]).
pub async fn fetch_jwks(url: &str) -> Result<Jwks, ClientError> {
    let url = jwks_url(url)?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("a2a-host/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::InvalidArgument(format!("cannot build an HTTP client: {e}")))?;
    let unreachable = |e: reqwest::Error| ClientError::Unreachable {
        url: url.to_string(),
        message: super::error::chain(&e),
    };
    let resp = http.get(url.clone()).send().await.map_err(unreachable)?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(unreachable)?;
    if !(200..300).contains(&status) {
        return Err(ClientError::Http {
            url: url.to_string(),
            status,
            message: "no JWK Set there".into(),
        });
    }
    Jwks::from_json(&body).map_err(|message| ClientError::InvalidResponse {
        url: url.to_string(),
        message,
    })
}

/// A notification whose signature checked out.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedNotification {
    /// The task the event belongs to (from the signed claims).
    pub task_id: String,
    /// The notification's id (from the signed claims): the same on every
    /// retry, for dropping duplicates.
    pub event_id: String,
    /// The key that signed it.
    pub key_id: String,
    /// The event, parsed from the body.
    pub event: StreamResponse,
}

/// Why a notification was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// There is no signature header.
    #[error("the notification is not signed (no {NOTIFICATION_SIGNATURE_HEADER} header)")]
    Unsigned,
    /// The signature header is not a JWT this receiver can read.
    #[error("the signature is malformed: {0}")]
    Malformed(String),
    /// The signature names a key that is not in the JWK Set (fetch the set
    /// again: the host may have rotated its keys).
    #[error("the signature names key `{0}`, which is not in the JWK Set")]
    UnknownKey(String),
    /// The signature's algorithm is not the one of the key it names.
    #[error("the signature says {header}, but key `{kid}` is an {key} key")]
    AlgorithmMismatch {
        /// The key id.
        kid: String,
        /// The `alg` of the JWT header.
        header: String,
        /// The algorithm of the key.
        key: Algorithm,
    },
    /// The signature does not verify with the key it names.
    #[error("the signature does not verify with key `{0}`")]
    BadSignature(String),
    /// The signature expired (more than [`CLOCK_LEEWAY`] ago).
    #[error("the signature expired at {exp} (Unix seconds; now {now})")]
    Expired {
        /// The `exp` claim.
        exp: i64,
        /// The receiver's time.
        now: i64,
    },
    /// The signature was issued in the future (by more than
    /// [`CLOCK_LEEWAY`]): a clock is wrong.
    #[error("the signature was issued at {iat}, in the future (Unix seconds; now {now})")]
    IssuedInFuture {
        /// The `iat` claim.
        iat: i64,
        /// The receiver's time.
        now: i64,
    },
    /// The body is not the one that was signed.
    #[error("the body does not match its signature (SHA-256 differs)")]
    BodyMismatch,
    /// The notification id header is not the one that was signed.
    #[error("the {NOTIFICATION_ID_HEADER} header `{header}` is not the signed event id `{signed}`")]
    IdMismatch {
        /// The header's value.
        header: String,
        /// The `event_id` claim.
        signed: String,
    },
    /// The event in the body is of another task than the one signed.
    #[error("the event is of task `{body}`, but the signature is for task `{signed}`")]
    TaskMismatch {
        /// The task id in the body.
        body: String,
        /// The `task_id` claim.
        signed: String,
    },
    /// The (signed) body is not an A2A event.
    #[error("the body is not an A2A StreamResponse: {0}")]
    InvalidBody(String),
}

/// Checks a notification as received: its signature header, against the
/// key it names in `jwks` and that key's algorithm; the expiry and issue
/// time against `now` (with [`CLOCK_LEEWAY`]); the body's SHA-256; the
/// [`NOTIFICATION_ID_HEADER`], if present, against the signed event id;
/// and that the body is an event of the signed task.
pub fn verify_notification(
    headers: &http::HeaderMap,
    body: &[u8],
    jwks: &Jwks,
    now: SystemTime,
) -> Result<VerifiedNotification, VerifyError> {
    let malformed = |m: &str| VerifyError::Malformed(m.to_string());
    let jwt = headers
        .get(NOTIFICATION_SIGNATURE_HEADER)
        .ok_or(VerifyError::Unsigned)?
        .to_str()
        .map_err(|_| malformed("the header is not ASCII"))?
        .trim();
    let mut parts = jwt.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "not a compact JWS (three parts separated by `.`)",
        ));
    };
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| VerifyError::Malformed(format!("the {what} is not base64url: {e}")))
    };
    let header: Value = serde_json::from_slice(&decode(header_b64, "header")?)
        .map_err(|e| VerifyError::Malformed(format!("the header is not JSON: {e}")))?;
    if header.get("crit").is_some() {
        // RFC 7515: a reader must refuse critical extensions it does not
        // implement, and this one implements none.
        return Err(malformed("the header has critical extensions (`crit`)"));
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("the header names no key (`kid`)"))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("the header names no algorithm (`alg`)"))?;
    let key = jwks
        .key(kid)
        .ok_or_else(|| VerifyError::UnknownKey(kid.to_string()))?;
    // The key decides the algorithm; the header only has to agree, so a
    // forged header cannot pick a weaker check.
    if alg != key.algorithm.name() {
        return Err(VerifyError::AlgorithmMismatch {
            kid: kid.to_string(),
            header: alg.to_string(),
            key: key.algorithm,
        });
    }
    let signature = decode(signature_b64, "signature")?;
    let signed = &jwt[..header_b64.len() + 1 + claims_b64.len()];
    let verified = match key.algorithm {
        Algorithm::EdDSA => {
            UnparsedPublicKey::new(&ED25519, &key.bytes).verify(signed.as_bytes(), &signature)
        }
        Algorithm::ES256 => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.bytes)
            .verify(signed.as_bytes(), &signature),
    };
    verified.map_err(|_| VerifyError::BadSignature(kid.to_string()))?;

    let claims: NotificationClaims = serde_json::from_slice(&decode(claims_b64, "claims")?)
        .map_err(|e| {
            VerifyError::Malformed(format!("the claims are not notification claims: {e}"))
        })?;
    let now = unix_seconds(now);
    let leeway = CLOCK_LEEWAY.as_secs() as i64;
    if now > claims.exp.saturating_add(leeway) {
        return Err(VerifyError::Expired {
            exp: claims.exp,
            now,
        });
    }
    if claims.iat > now.saturating_add(leeway) {
        return Err(VerifyError::IssuedInFuture {
            iat: claims.iat,
            now,
        });
    }
    if URL_SAFE_NO_PAD.encode(Sha256::digest(body)) != claims.body_sha256 {
        return Err(VerifyError::BodyMismatch);
    }
    if let Some(id) = headers.get(NOTIFICATION_ID_HEADER) {
        let id = String::from_utf8_lossy(id.as_bytes());
        if id.trim() != claims.event_id {
            return Err(VerifyError::IdMismatch {
                header: id.into_owned(),
                signed: claims.event_id,
            });
        }
    }
    let event: StreamResponse =
        serde_json::from_slice(body).map_err(|e| VerifyError::InvalidBody(e.to_string()))?;
    if let Some(task) = event_task_id(&event).filter(|t| *t != claims.task_id) {
        return Err(VerifyError::TaskMismatch {
            body: task.to_string(),
            signed: claims.task_id,
        });
    }
    Ok(VerifiedNotification {
        task_id: claims.task_id,
        event_id: claims.event_id,
        key_id: kid.to_string(),
        event,
    })
}

/// The task an event names, if it names one.
pub(crate) fn event_task_id(event: &StreamResponse) -> Option<&str> {
    match event {
        StreamResponse::Task(t) => Some(t.id.as_str()),
        StreamResponse::StatusUpdate(s) => Some(s.task_id.as_str()),
        StreamResponse::ArtifactUpdate(a) => Some(a.task_id.as_str()),
        StreamResponse::Message(m) => m.task_id.as_deref(),
    }
    .filter(|t| !t.is_empty())
}

/// Unix seconds of `t` (negative before 1970).
fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwk_sets_keep_the_keys_they_can_use() {
        let x = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let set = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "enc", "use": "enc"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "wrong-alg", "alg": "ES256"},
            {"kty": "OKP", "crv": "Ed25519", "x": x},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "ed", "alg": "EdDSA", "use": "sig"},
            {"kty": "EC", "crv": "P-256", "x": x, "y": x, "kid": "ec"},
        ]});
        let jwks = Jwks::from_json(set.to_string().as_bytes()).unwrap();
        assert_eq!(jwks.key_ids().collect::<Vec<_>>(), ["ed", "ec"]);
        assert_eq!(jwks.key("ec").unwrap().bytes.len(), 65);
        assert!(jwks.contains("ed") && !jwks.contains("rsa"));

        let short = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "k"}]});
        let e = Jwks::from_json(short.to_string().as_bytes()).unwrap_err();
        assert!(e.contains("key 0") && e.contains("not 32"), "{e}");
        let none = serde_json::json!({"keys": [{"kty": "RSA", "kid": "rsa"}]});
        assert!(
            Jwks::from_json(none.to_string().as_bytes())
                .unwrap_err()
                .contains("no Ed25519")
        );
        assert!(Jwks::from_json(b"[]").unwrap_err().contains("no `keys`"));
        assert!(Jwks::from_json(b"<html>").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn the_jwks_url_is_at_the_host_root_unless_given() {
        let url = |u: &str| jwks_url(u).unwrap().to_string();
        assert_eq!(url("http://h:8080"), "http://h:8080/.well-known/jwks.json");
        assert_eq!(
            url("http://h/agents/echo?x=1"),
            "http://h/.well-known/jwks.json"
        );
        assert_eq!(url("https://h/keys/set.json"), "https://h/keys/set.json");
        assert!(jwks_url("ftp://h").is_err());
        assert!(jwks_url("not a url").is_err());
    }

    #[test]
    fn unsigned_and_malformed_notifications_are_refused() {
        let jwks = Jwks {
            keys: vec![PublicKey {
                kid: "k".into(),
                algorithm: Algorithm::EdDSA,
                bytes: vec![0; 32],
            }],
        };
        let now = SystemTime::now();
        let mut headers = http::HeaderMap::new();
        assert_eq!(
            verify_notification(&headers, b"{}", &jwks, now),
            Err(VerifyError::Unsigned)
        );
        let mut check = |value: &str| {
            headers.insert(NOTIFICATION_SIGNATURE_HEADER, value.parse().unwrap());
            verify_notification(&headers, b"{}", &jwks, now).unwrap_err()
        };
        assert!(matches!(check("a.b"), VerifyError::Malformed(_)));
        assert!(matches!(check("a.b.c.d"), VerifyError::Malformed(_)));
        let header = |h: &str| URL_SAFE_NO_PAD.encode(h);
        assert!(matches!(
            check(&format!("{}.e30.AA", header(r#"{"alg":"EdDSA"}"#))),
            VerifyError::Malformed(m) if m.contains("kid")
        ));
        assert_eq!(
            check(&format!(
                "{}.e30.AA",
                header(r#"{"alg":"EdDSA","kid":"other"}"#)
            )),
            VerifyError::UnknownKey("other".into())
        );
        assert!(matches!(
            check(&format!("{}.e30.AA", header(r#"{"alg":"none","kid":"k"}"#))),
            VerifyError::AlgorithmMismatch { .. }
        ));
        assert_eq!(
            check(&format!(
                "{}.e30.AA",
                header(r#"{"alg":"EdDSA","kid":"k"}"#)
            )),
            VerifyError::BadSignature("k".into())
        );
        assert!(matches!(
            check(&format!("{}.e30.AA", header(r#"{"alg":"EdDSA","kid":"k","crit":["x"]}"#))),
            VerifyError::Malformed(m) if m.contains("crit")
        ));
    }

    #[cfg(feature = "push")]
    mod signed {
        use super::*;
        use crate::model::{
            Part, TaskArtifactUpdateEvent, TaskState, TaskStatus, TaskStatusUpdateEvent,
        };
        use crate::push::signing::{KeyKind, PushSigner};
        use std::path::Path;

        pub(crate) fn signer(dir: &Path, name: &str, kind: KeyKind) -> PushSigner {
            let path = dir.join(name);
            PushSigner::generate(kind, &path).unwrap();
            PushSigner::load(&[path]).unwrap()
        }

        fn jwks_of(signer: &PushSigner) -> Jwks {
            Jwks::from_json(signer.jwks().to_string().as_bytes()).unwrap()
        }

        fn status_body(task: &str, state: TaskState) -> Vec<u8> {
            serde_json::to_vec(&StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
                task_id: task.into(),
                context_id: "c".into(),
                status: TaskStatus::new(state, None),
                metadata: None,
            }))
            .unwrap()
        }

        fn headers(jwt: &str, id: Option<&str>) -> http::HeaderMap {
            let mut h = http::HeaderMap::new();
            h.insert(NOTIFICATION_SIGNATURE_HEADER, jwt.parse().unwrap());
            if let Some(id) = id {
                h.insert(NOTIFICATION_ID_HEADER, id.parse().unwrap());
            }
            h
        }

        #[test]
        fn signed_notifications_verify_and_tampering_is_caught() {
            let dir = tempfile::tempdir().unwrap();
            let now = SystemTime::now();
            for kind in [KeyKind::Ed25519, KeyKind::P256] {
                let signer = signer(dir.path(), &format!("{kind}.pem"), kind);
                let jwks = jwks_of(&signer);
                let body = status_body("t1", TaskState::Working);
                let jwt = signer.sign(&body, "t1", "t1/c/1", now);

                let ok =
                    verify_notification(&headers(&jwt, Some("t1/c/1")), &body, &jwks, now).unwrap();
                assert_eq!(ok.task_id, "t1");
                assert_eq!(ok.event_id, "t1/c/1");
                assert_eq!(ok.key_id, signer.key_id());
                assert_eq!(ok.event.state(), Some(TaskState::Working));
                // Without the id header, the claims still say which it is.
                assert!(verify_notification(&headers(&jwt, None), &body, &jwks, now).is_ok());

                let tampered = status_body("t1", TaskState::Completed);
                assert_eq!(
                    verify_notification(&headers(&jwt, None), &tampered, &jwks, now),
                    Err(VerifyError::BodyMismatch)
                );
                assert!(matches!(
                    verify_notification(&headers(&jwt, Some("t1/c/2")), &body, &jwks, now),
                    Err(VerifyError::IdMismatch { .. })
                ));

                // A changed claim breaks the signature.
                let parts: Vec<&str> = jwt.split('.').collect();
                let mut claims: Value =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
                claims["exp"] = Value::from(claims["exp"].as_i64().unwrap() + 3600);
                let forged = format!(
                    "{}.{}.{}",
                    parts[0],
                    URL_SAFE_NO_PAD.encode(claims.to_string()),
                    parts[2]
                );
                assert_eq!(
                    verify_notification(&headers(&forged, None), &body, &jwks, now),
                    Err(VerifyError::BadSignature(signer.key_id().into()))
                );
            }
        }

        #[test]
        fn another_key_or_a_wrong_algorithm_is_refused() {
            let dir = tempfile::tempdir().unwrap();
            let now = SystemTime::now();
            let ours = signer(dir.path(), "ours.pem", KeyKind::Ed25519);
            let theirs = signer(dir.path(), "theirs.pem", KeyKind::Ed25519);
            let body = status_body("t", TaskState::Working);
            let jwt = theirs.sign(&body, "t", "t/c/1", now);
            assert_eq!(
                verify_notification(&headers(&jwt, None), &body, &jwks_of(&ours), now),
                Err(VerifyError::UnknownKey(theirs.key_id().into()))
            );

            // Their signature presented under our key id.
            let parts: Vec<&str> = jwt.split('.').collect();
            let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": ours.key_id()});
            let swapped = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                parts[1],
                parts[2]
            );
            assert_eq!(
                verify_notification(&headers(&swapped, None), &body, &jwks_of(&ours), now),
                Err(VerifyError::BadSignature(ours.key_id().into()))
            );

            let ec = signer(dir.path(), "ec.pem", KeyKind::P256);
            let header = serde_json::json!({"alg": "EdDSA", "kid": ec.key_id()});
            let jwt = ec.sign(&body, "t", "t/c/1", now);
            let relabelled = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                jwt.split_once('.').unwrap().1
            );
            assert!(matches!(
                verify_notification(&headers(&relabelled, None), &body, &jwks_of(&ec), now),
                Err(VerifyError::AlgorithmMismatch {
                    key: Algorithm::ES256,
                    ..
                })
            ));
        }

        #[test]
        fn expiry_and_issue_time_allow_a_minute_of_clock_skew() {
            let dir = tempfile::tempdir().unwrap();
            let signer = signer(dir.path(), "k.pem", KeyKind::Ed25519);
            let jwks = jwks_of(&signer);
            let body = status_body("t", TaskState::Working);
            let signed_at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            let jwt = signer.sign(&body, "t", "t/c/1", signed_at);
            let at = |secs: u64| {
                verify_notification(
                    &headers(&jwt, None),
                    &body,
                    &jwks,
                    signed_at + Duration::from_secs(secs),
                )
            };
            assert!(at(300 + 60).is_ok());
            assert_eq!(
                at(300 + 61),
                Err(VerifyError::Expired {
                    exp: 1_700_000_300,
                    now: 1_700_000_361
                })
            );
            let early = |secs: u64| {
                verify_notification(
                    &headers(&jwt, None),
                    &body,
                    &jwks,
                    signed_at - Duration::from_secs(secs),
                )
            };
            assert!(early(60).is_ok());
            assert!(matches!(early(61), Err(VerifyError::IssuedInFuture { .. })));
        }

        #[test]
        fn the_body_must_be_an_event_of_the_signed_task() {
            let dir = tempfile::tempdir().unwrap();
            let signer = signer(dir.path(), "k.pem", KeyKind::P256);
            let jwks = jwks_of(&signer);
            let now = SystemTime::now();
            let other = status_body("other", TaskState::Working);
            let jwt = signer.sign(&other, "t", "t/c/1", now);
            assert!(matches!(
                verify_notification(&headers(&jwt, None), &other, &jwks, now),
                Err(VerifyError::TaskMismatch { .. })
            ));
            let junk = b"{\"nope\":1}";
            let jwt = signer.sign(junk, "t", "t/c/1", now);
            assert!(matches!(
                verify_notification(&headers(&jwt, None), junk, &jwks, now),
                Err(VerifyError::InvalidBody(_))
            ));
            let artifact =
                serde_json::to_vec(&StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
                    task_id: "t".into(),
                    context_id: "c".into(),
                    artifact: crate::model::Artifact {
                        artifact_id: "a".into(),
                        parts: vec![Part::text("hi")],
                        ..Default::default()
                    },
                    append: false,
                    last_chunk: true,
                    metadata: None,
                }))
                .unwrap();
            let jwt = signer.sign(&artifact, "t", "t/c/2", now);
            let ok = verify_notification(&headers(&jwt, None), &artifact, &jwks, now).unwrap();
            assert!(matches!(ok.event, StreamResponse::ArtifactUpdate(_)));
        }
    }
}
