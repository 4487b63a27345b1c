//! Signatures of push notifications: a compact JWT over each body, in the
//! [`NOTIFICATION_SIGNATURE_HEADER`](crate::model::notification::NOTIFICATION_SIGNATURE_HEADER),
//! and the JWK Set that verifies them (served at
//! [`JWKS_PATH`](crate::model::notification::JWKS_PATH)).
//!
//! Keys are PKCS#8 PEM files, Ed25519 (`EdDSA`) or P-256 (`ES256`). The
//! first key signs; every key is published, so a key can be rotated
//! without failing receivers that cache the JWK Set: publish the new key
//! second, wait for caches to refresh, then move it first.
//!
//! A key's id (`kid`) is its RFC 7638 JWK thumbprint, so it is the same on
//! every host and every restart that uses the same key file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::model::notification::NotificationClaims;

/// How long a signature stays valid after it is made (`exp - iat`).
pub const SIGNATURE_LIFETIME: Duration = Duration::from_secs(300);

/// The kinds of signing key the host supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// Ed25519, signing as `EdDSA` (RFC 8037).
    Ed25519,
    /// ECDSA on P-256 with SHA-256, signing as `ES256` (RFC 7518).
    P256,
}

impl KeyKind {
    /// The JWS algorithm the key signs with: `EdDSA` or `ES256`.
    pub fn algorithm(self) -> &'static str {
        match self {
            KeyKind::Ed25519 => "EdDSA",
            KeyKind::P256 => "ES256",
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::Ed25519 => "Ed25519",
            KeyKind::P256 => "P-256",
        })
    }
}

/// The host's push signing keys: the first signs, all are published.
pub struct PushSigner {
    keys: Vec<Key>,
    rng: SystemRandom,
}

struct Key {
    pair: Pair,
    kid: String,
    /// The public JWK, `kid`, `alg` and `use` included.
    jwk: Value,
}

enum Pair {
    Ed25519(Ed25519KeyPair),
    P256(EcdsaKeyPair),
}

impl Pair {
    fn kind(&self) -> KeyKind {
        match self {
            Pair::Ed25519(_) => KeyKind::Ed25519,
            Pair::P256(_) => KeyKind::P256,
        }
    }
}

impl fmt::Debug for PushSigner {
    // The key pairs stay out of logs; their ids are public.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushSigner")
            .field("signing", &self.key_id())
            .field("algorithm", &self.algorithm())
            .field(
                "published",
                &self.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl PushSigner {
    /// Loads the keys in `paths`, each a PKCS#8 PEM private key (Ed25519 or
    /// P-256). The first signs. Errors name the file and what is wrong
    /// with it.
    pub fn load(paths: &[PathBuf]) -> Result<PushSigner, String> {
        if paths.is_empty() {
            return Err("no push signing key given".into());
        }
        let rng = SystemRandom::new();
        let mut keys: Vec<Key> = Vec::with_capacity(paths.len());
        for path in paths {
            let key = load_key(path, &rng).map_err(|e| format!("{}: {e}", path.display()))?;
            if keys.iter().any(|k| k.kid == key.kid) {
                return Err(format!(
                    "{}: the same key is given twice (key id {})",
                    path.display(),
                    key.kid
                ));
            }
            keys.push(key);
        }
        Ok(PushSigner { keys, rng })
    }

    /// The id (`kid`) of the signing key: its RFC 7638 JWK thumbprint,
    /// base64url SHA-256.
    pub fn key_id(&self) -> &str {
        &self.keys[0].kid
    }

    /// The JWS algorithm of the signing key: `EdDSA` or `ES256`.
    pub fn algorithm(&self) -> &'static str {
        self.keys[0].pair.kind().algorithm()
    }

    /// The signature of a notification: a compact JWT whose header names
    /// the algorithm and key, and whose claims ([`NotificationClaims`]) bind
    /// the task, the notification id and the SHA-256 of `body`. It expires
    /// [`SIGNATURE_LIFETIME`] after `now`.
    pub fn sign(&self, body: &[u8], task_id: &str, event_id: &str, now: SystemTime) -> String {
        let key = &self.keys[0];
        let iat = unix_seconds(now);
        let claims = NotificationClaims {
            iat,
            exp: iat + SIGNATURE_LIFETIME.as_secs() as i64,
            task_id: task_id.to_string(),
            event_id: event_id.to_string(),
            body_sha256: URL_SAFE_NO_PAD.encode(Sha256::digest(body)),
        };
        let header = json!({"alg": key.pair.kind().algorithm(), "typ": "JWT", "kid": key.kid});
        let mut jwt = URL_SAFE_NO_PAD.encode(header.to_string());
        jwt.push('.');
        // A struct of strings and integers always serializes.
        let claims = serde_json::to_vec(&claims).unwrap_or_default();
        URL_SAFE_NO_PAD.encode_string(claims, &mut jwt);
        let signature = match &key.pair {
            Pair::Ed25519(pair) => pair.sign(jwt.as_bytes()).as_ref().to_vec(),
            // ECDSA needs fresh randomness; without a working system RNG no
            // key could have been loaded in the first place.
            Pair::P256(pair) => pair
                .sign(&self.rng, jwt.as_bytes())
                .expect("the system random number generator failed")
                .as_ref()
                .to_vec(),
        };
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jwt);
        jwt
    }

    /// The JWK Set of every key's public half: `{"keys": [...]}`, each with
    /// `kid`, `alg` and `use: "sig"`; the signing key first.
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// Writes a new private key of `kind` to `path` as PKCS#8 PEM, readable
    /// by the owner only. Refuses to overwrite an existing file. Returns
    /// the new key's id.
    pub fn generate(kind: KeyKind, path: &Path) -> Result<String, String> {
        let rng = SystemRandom::new();
        let fail = |e: ring::error::Unspecified| format!("cannot generate a {kind} key: {e}");
        let der = match kind {
            KeyKind::Ed25519 => {
                // PKCS#8 v1 (the seed alone), as OpenSSL writes it: OpenSSL
                // 3.0 cannot read the v2 documents ring generates.
                let mut seed = [0u8; 32];
                ring::rand::SecureRandom::fill(&rng, &mut seed).map_err(fail)?;
                let mut der = ED25519_PKCS8_V1_PREFIX.to_vec();
                der.extend_from_slice(&seed);
                der
            }
            KeyKind::P256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(fail)?
                .as_ref()
                .to_vec(),
        };
        let kid = parse_pkcs8(&der, &rng)?.kid;
        write_private(path, pem_encode(&der).as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(kid)
    }
}

/// Unix seconds of `t` (negative before 1970).
fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

const OPENSSL_HINT: &str = "create one with `a2a-host push-keygen --out FILE`, \
     `openssl genpkey -algorithm ed25519 -out FILE` or \
     `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out FILE`";

fn load_key(path: &Path, rng: &SystemRandom) -> Result<Key, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read the key file: {e}"))?;
    let text = String::from_utf8(text)
        .map_err(|_| format!("not a PEM file (it is binary); {OPENSSL_HINT}"))?;
    let der = pem_decode(&text)?;
    parse_pkcs8(&der, rng)
}

/// The DER inside the one `PRIVATE KEY` block of a PEM file.
fn pem_decode(text: &str) -> Result<Vec<u8>, String> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let Some(start) = text.find(BEGIN) else {
        return Err(if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            "the key is encrypted; give it unencrypted (`openssl pkcs8 -in FILE -out PLAIN`)".into()
        } else if text.contains("-----BEGIN EC PRIVATE KEY-----") {
            "an EC key in SEC1 form; convert it to PKCS#8 with \
             `openssl pkcs8 -topk8 -nocrypt -in FILE -out NEW`"
                .into()
        } else if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
            format!("an RSA key; only Ed25519 and P-256 keys sign notifications: {OPENSSL_HINT}")
        } else if text.contains("-----BEGIN") {
            format!("no `{BEGIN}` block; {OPENSSL_HINT}")
        } else {
            format!("not a PEM file; {OPENSSL_HINT}")
        });
    };
    let body = &text[start + BEGIN.len()..];
    let Some(end) = body.find(END) else {
        return Err(format!("the PEM block has no `{END}` line"));
    };
    let b64: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(b64)
        .map_err(|e| format!("the PEM block is not valid base64: {e}"))
}

fn pem_encode(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

/// A PKCS#8 v1 Ed25519 private key up to its 32-byte seed (RFC 8410).
const ED25519_PKCS8_V1_PREFIX: &[u8] = &[
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

// DER encodings of the algorithm OIDs that tell unsupported keys apart.
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
const OID_ED448: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x71];

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A key from PKCS#8 DER, with its public JWK.
fn parse_pkcs8(der: &[u8], rng: &SystemRandom) -> Result<Key, String> {
    // The algorithm identifier sits in the first few dozen bytes; looking
    // there only keeps key material from matching an OID by chance.
    let head = &der[..der.len().min(32)];
    let pair = if contains(head, OID_ED25519) {
        // `maybe_unchecked` also takes PKCS#8 v1, which has no public key
        // (what `openssl genpkey -algorithm ed25519` writes).
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(Pair::Ed25519)
            .map_err(|e| format!("not a valid PKCS#8 Ed25519 key: {e}"))?
    } else if contains(head, OID_EC_PUBLIC_KEY) {
        if !contains(head, OID_P256) {
            return Err(format!(
                "an EC key on a curve other than P-256; {OPENSSL_HINT}"
            ));
        }
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, rng)
            .map(Pair::P256)
            .map_err(|e| format!("not a valid PKCS#8 P-256 key: {e}"))?
    } else if contains(head, OID_RSA) {
        return Err(format!(
            "an RSA key; only Ed25519 and P-256 keys sign notifications: {OPENSSL_HINT}"
        ));
    } else if contains(head, OID_ED448) {
        return Err(format!(
            "an Ed448 key; only Ed25519 and P-256 keys sign notifications: {OPENSSL_HINT}"
        ));
    } else {
        return Err(format!(
            "an unsupported or malformed PKCS#8 key; only Ed25519 and P-256 keys sign \
             notifications: {OPENSSL_HINT}"
        ));
    };
    let (kid, mut jwk) = public_jwk(&pair);
    jwk["kid"] = Value::String(kid.clone());
    jwk["alg"] = Value::String(pair.kind().algorithm().into());
    jwk["use"] = Value::String("sig".into());
    Ok(Key { pair, kid, jwk })
}

/// The key's RFC 7638 thumbprint and its public JWK (the required members
/// only).
fn public_jwk(pair: &Pair) -> (String, Value) {
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    // The canonical form: required members only, in lexicographic order,
    // no whitespace. The values are base64url and fixed names, so nothing
    // needs escaping.
    let (canonical, jwk) = match pair {
        Pair::Ed25519(p) => {
            let x = b64(p.public_key().as_ref());
            (
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
                json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
            )
        }
        Pair::P256(p) => {
            // An uncompressed point: 0x04, then x and y, 32 bytes each.
            let point = p.public_key().as_ref();
            let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
            (
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            )
        }
    };
    (b64(&Sha256::digest(canonical.as_bytes())), jwk)
}

/// Creates `path` (not overwriting anything) with owner-only permissions.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey};

    /// The Ed25519 key of RFC 8037, appendix A.1, as PKCS#8 v1 (no public
    /// key, as OpenSSL writes it).
    const RFC8037_SEED: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";

    fn rfc8037_pem() -> String {
        let mut der = ED25519_PKCS8_V1_PREFIX.to_vec();
        der.extend(URL_SAFE_NO_PAD.decode(RFC8037_SEED).unwrap());
        pem_encode(&der)
    }

    fn write(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn generated(dir: &Path, name: &str, kind: KeyKind) -> PathBuf {
        let path = dir.join(name);
        PushSigner::generate(kind, &path).unwrap();
        path
    }

    fn decode_part(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    /// Verifies `jwt` with the published key its header names, the way a
    /// receiver would; returns the claims.
    fn verify_with_jwks(jwt: &str, jwks: &Value) -> NotificationClaims {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode_part(parts[0]);
        let key = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .expect("the kid is published");
        assert_eq!(key["alg"], header["alg"]);
        assert_eq!(header["typ"], "JWT");
        let coord = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        match key["kty"].as_str().unwrap() {
            "OKP" => {
                assert_eq!(key["crv"], "Ed25519");
                UnparsedPublicKey::new(&ED25519, coord("x"))
                    .verify(signed.as_bytes(), &signature)
                    .expect("the EdDSA signature verifies");
            }
            "EC" => {
                assert_eq!(key["crv"], "P-256");
                let mut point = vec![4u8];
                point.extend(coord("x"));
                point.extend(coord("y"));
                assert_eq!(signature.len(), 64, "ES256 signatures are r || s");
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(signed.as_bytes(), &signature)
                    .expect("the ES256 signature verifies");
            }
            other => panic!("unexpected kty {other}"),
        }
        serde_json::from_value(decode_part(parts[1])).unwrap()
    }

    #[test]
    fn both_key_kinds_sign_jwts_that_verify_against_the_published_keys() {
        let dir = tempfile::tempdir().unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for (kind, alg) in [(KeyKind::Ed25519, "EdDSA"), (KeyKind::P256, "ES256")] {
            let path = generated(dir.path(), &format!("{kind}.pem"), kind);
            let signer = PushSigner::load(&[path]).unwrap();
            assert_eq!(signer.algorithm(), alg);
            let body = br#"{"statusUpdate":{}}"#;
            let jwt = signer.sign(body, "task-1", "task-1/cfg/7", now);
            let claims = verify_with_jwks(&jwt, &signer.jwks());
            assert_eq!(
                claims,
                NotificationClaims {
                    iat: 1_700_000_000,
                    exp: 1_700_000_300,
                    task_id: "task-1".into(),
                    event_id: "task-1/cfg/7".into(),
                    body_sha256: URL_SAFE_NO_PAD.encode(Sha256::digest(body)),
                }
            );
            assert_eq!(
                decode_part(jwt.split('.').next().unwrap())["kid"],
                signer.key_id()
            );
        }
    }

    #[test]
    fn the_key_id_is_the_rfc_7638_thumbprint() {
        // RFC 8037, appendix A.3: the thumbprint of the A.1 key; A.4: its
        // signature of a fixed payload (Ed25519 is deterministic).
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "rfc.pem", rfc8037_pem().as_bytes());
        let signer = PushSigner::load(&[path]).unwrap();
        assert_eq!(
            signer.key_id(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        let key = &signer.jwks()["keys"][0];
        assert_eq!(key["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(key["kid"], signer.key_id());
        assert_eq!(key["alg"], "EdDSA");
        assert_eq!(key["use"], "sig");
        let Pair::Ed25519(pair) = &signer.keys[0].pair else {
            panic!("an Ed25519 key")
        };
        let sig = pair.sign(b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc");
        assert_eq!(
            URL_SAFE_NO_PAD.encode(sig.as_ref()),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );

        // P-256: the thumbprint hashes exactly crv, kty, x, y in that order,
        // and stays the same when the file is loaded again.
        let path = generated(dir.path(), "ec.pem", KeyKind::P256);
        let first = PushSigner::load(std::slice::from_ref(&path)).unwrap();
        let again = PushSigner::load(&[path]).unwrap();
        assert_eq!(first.key_id(), again.key_id());
        let key = &first.jwks()["keys"][0];
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            key["x"].as_str().unwrap(),
            key["y"].as_str().unwrap()
        );
        assert_eq!(
            first.key_id(),
            URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
        );
        assert_eq!(first.key_id().len(), 43);
    }

    #[test]
    fn the_first_key_signs_and_every_key_is_published() {
        let dir = tempfile::tempdir().unwrap();
        let new = generated(dir.path(), "new.pem", KeyKind::P256);
        let old = generated(dir.path(), "old.pem", KeyKind::Ed25519);
        let signer = PushSigner::load(&[new.clone(), old.clone()]).unwrap();
        let only_old = PushSigner::load(std::slice::from_ref(&old)).unwrap();
        let jwks = signer.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kid"], signer.key_id());
        assert_eq!(keys[1]["kid"], only_old.key_id());
        assert_eq!(keys[1]["kty"], "OKP");
        assert_eq!(signer.algorithm(), "ES256");
        let jwt = signer.sign(b"{}", "t", "t/c/1", SystemTime::now());
        assert_eq!(
            decode_part(jwt.split('.').next().unwrap())["kid"],
            signer.key_id()
        );
        verify_with_jwks(&jwt, &jwks);
        assert!(
            PushSigner::load(&[old.clone(), old])
                .unwrap_err()
                .contains("twice")
        );
        assert!(!format!("{signer:?}").contains("PRIVATE"));
    }

    #[test]
    fn keys_written_by_openssl_load() {
        // PKCS#8 as `openssl genpkey` writes it: Ed25519 v1 (no public key),
        // P-256 with the curve in the algorithm and the public key inside.
        let ed = "-----BEGIN PRIVATE KEY-----\n\
                  MC4CAQAwBQYDK2VwBCIEIJVx0y8CiTeJpDbpBaNWekYu7W4IiK94xU5PjisME9s7\n\
                  -----END PRIVATE KEY-----\n";
        let ec = "-----BEGIN PRIVATE KEY-----\n\
                  MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDJTyZhz5g5rnmN0N\n\
                  vARgEKbfOLvnNi3tH8ATT4p8JGihRANCAAQT3MiPunCAD/IAIQYHC0Eq/PTMfCGK\n\
                  N/j0059NwugTTmC9bM1LTKaMCLKLuRZ1hmG58QtATNU6gtiFGyMLSr2k\n\
                  -----END PRIVATE KEY-----\n";
        let dir = tempfile::tempdir().unwrap();
        let ed = write(dir.path(), "ed.pem", ed.as_bytes());
        let ec = write(dir.path(), "ec.pem", ec.as_bytes());
        // The public halves as `openssl pkey -pubout` derives them.
        let ed = PushSigner::load(&[ed]).unwrap();
        assert_eq!(ed.algorithm(), "EdDSA");
        assert_eq!(
            ed.jwks()["keys"][0]["x"],
            "uN5hZNPV9Zl05vcRwocL9Rxe1o_ofOH5EluwwjlQGj0"
        );
        let ec = PushSigner::load(&[ec]).unwrap();
        assert_eq!(ec.algorithm(), "ES256");
        assert_eq!(
            ec.jwks()["keys"][0]["x"],
            "E9zIj7pwgA_yACEGBwtBKvz0zHwhijf49NOfTcLoE04"
        );
        assert_eq!(
            ec.jwks()["keys"][0]["y"],
            "YL1szUtMpowIsou5FnWGYbnxC0BM1TqC2IUbIwtKvaQ"
        );
    }

    #[test]
    fn bad_key_files_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let err = |name: &str, contents: &[u8]| {
            let path = write(dir.path(), name, contents);
            let e = PushSigner::load(&[path]).unwrap_err();
            assert!(
                e.starts_with(&dir.path().join(name).display().to_string()),
                "{e}"
            );
            e
        };
        assert!(err("text.pem", b"hello").contains("not a PEM file"));
        assert!(err("bin.pem", &[0xff, 0xfe, 0]).contains("binary"));
        let sec1 = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        assert!(err("sec1.pem", sec1.as_bytes()).contains("openssl pkcs8 -topk8"));
        let enc =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(err("enc.pem", enc.as_bytes()).contains("encrypted"));
        let bad64 = "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n";
        assert!(err("b64.pem", bad64.as_bytes()).contains("base64"));
        // A PKCS#8 RSA key's opening bytes, enough to name the algorithm.
        let mut rsa = vec![0x30, 0x82, 0x04, 0xbe, 0x02, 0x01, 0x00, 0x30, 0x0d];
        rsa.extend(OID_RSA);
        rsa.extend([0x05, 0x00, 0x04, 0x82, 0x04, 0xa8, 0x30]);
        let e = err("rsa.pem", pem_encode(&rsa).as_bytes());
        assert!(
            e.contains("an RSA key") && e.contains("openssl genpkey"),
            "{e}"
        );
        // P-384: ecPublicKey with another curve.
        let mut p384 = vec![0x30, 0x81, 0xb6, 0x02, 0x01, 0x00, 0x30, 0x10];
        p384.extend(OID_EC_PUBLIC_KEY);
        p384.extend([0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x04, 0x81]);
        assert!(err("p384.pem", pem_encode(&p384).as_bytes()).contains("other than P-256"));
        let mut broken = rfc8037_pem().into_bytes();
        broken.truncate(40);
        broken.extend(b"\n-----END PRIVATE KEY-----\n");
        assert!(!err("broken.pem", &broken).is_empty());
        let missing = dir.path().join("missing.pem");
        let e = PushSigner::load(&[missing]).unwrap_err();
        assert!(e.contains("missing.pem: cannot read the key file"), "{e}");
        assert!(PushSigner::load(&[]).is_err());
    }

    #[test]
    fn generate_writes_an_owner_only_pem_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        let kid = PushSigner::generate(KeyKind::Ed25519, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        // OpenSSL 3.0 reads v1 only.
        assert!(
            pem_decode(&text)
                .unwrap()
                .starts_with(ED25519_PKCS8_V1_PREFIX)
        );
        assert_eq!(
            PushSigner::load(std::slice::from_ref(&path))
                .unwrap()
                .key_id(),
            kid
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let e = PushSigner::generate(KeyKind::P256, &path).unwrap_err();
        assert!(e.contains("cannot write"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
}
