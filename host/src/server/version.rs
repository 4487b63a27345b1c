//! Service parameters every A2A request carries: the protocol version it
//! speaks (`A2A-Version`) and the extensions it asks for (`A2A-Extensions`).
//!
//! Both travel as HTTP headers; the version may also come as the
//! `?A2A-Version=` query parameter. The header wins when both are present.
//!
//! The bindings parse these into a [`RequestMeta`] before they look at the
//! operation, and branch on [`Version`] at their edge: a 1.0 request goes
//! straight to the task manager, a 0.3 one through [`super::v03`] (see
//! `jsonrpc::dispatch` and `rest::Ctx::new`). Any other version is
//! VersionNotSupportedError (-32009), whose message and ErrorInfo metadata
//! (`supportedVersions`) list the versions served: [`SUPPORTED`].

use http::HeaderMap;

use crate::error::A2aError;

/// The header that names the protocol version.
pub const VERSION_HEADER: &str = "A2A-Version";
/// The header that lists the extensions a client wants.
pub const EXTENSIONS_HEADER: &str = "A2A-Extensions";

/// The versions this host serves, newest first.
pub const SUPPORTED: [Version; 2] = [Version::V1_0, Version::V0_3];

/// A protocol version this host understands on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// A2A 0.3: what a request without `A2A-Version` speaks.
    V0_3,
    /// A2A 1.0 (any patch release).
    V1_0,
}

impl Version {
    /// Parses an `A2A-Version` value. A missing or empty value means 0.3.
    /// Patch numbers are ignored (`1.0.3` is 1.0). Anything else is
    /// VersionNotSupportedError naming the value.
    pub fn parse(value: Option<&str>) -> Result<Version, A2aError> {
        let v = value.map(str::trim).unwrap_or("");
        if v.is_empty() {
            return Ok(Version::V0_3);
        }
        let mut parts = v.split('.');
        let major = parts.next();
        let minor = parts.next();
        let patch = parts.next();
        let extra = parts.next();
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let patch_ok = patch.is_none_or(numeric);
        match (major, minor, patch_ok, extra) {
            (Some(ma), Some(mi), true, None) if numeric(ma) && numeric(mi) => {
                match (ma.parse::<u32>(), mi.parse::<u32>()) {
                    (Ok(1), Ok(0)) => Ok(Version::V1_0),
                    (Ok(0), Ok(3)) => Ok(Version::V0_3),
                    _ => Err(A2aError::VersionNotSupported(v.to_string())),
                }
            }
            _ => Err(A2aError::VersionNotSupported(v.to_string())),
        }
    }

    /// The `Major.Minor` form, e.g. `1.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V0_3 => "0.3",
            Version::V1_0 => "1.0",
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The service parameters of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestMeta {
    /// The protocol version the client speaks.
    pub version: Version,
    /// The version value as sent (header, else query parameter), if any
    /// non-empty one was.
    pub requested_version: Option<String>,
    /// Extension URIs from `A2A-Extensions`, trimmed, empty entries dropped,
    /// in the order given. Several headers are concatenated.
    pub extensions: Vec<String>,
}

impl RequestMeta {
    /// Reads the service parameters from the headers and the raw query
    /// string. Fails only on an unsupported version.
    pub fn from_parts(headers: &HeaderMap, query: Option<&str>) -> Result<RequestMeta, A2aError> {
        let header = match headers.get(VERSION_HEADER) {
            Some(v) => Some(
                v.to_str()
                    .map_err(|_| A2aError::VersionNotSupported("<non-ASCII value>".into()))?
                    .to_string(),
            ),
            None => None,
        };
        let value = header.or_else(|| version_from_query(query));
        let version = Version::parse(value.as_deref())?;
        let requested_version = value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        let extensions = headers
            .get_all(EXTENSIONS_HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Ok(RequestMeta {
            version,
            requested_version,
            extensions,
        })
    }
}

/// The value of `A2A-Version` in a query string (name matched without
/// regard to case, as for the header).
fn version_from_query(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .filter(|(k, _)| k.eq_ignore_ascii_case(VERSION_HEADER))
        .map(|(_, v)| v.into_owned())
        .last()
}

/// [`RequestMeta::from_parts`], with an unsupported version turned into the
/// error the bindings send: it names the versions served, in the message and
/// as ErrorInfo metadata `supportedVersions` (`"1.0,0.3"`).
pub(crate) fn request_meta(
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<RequestMeta, super::ApiError> {
    RequestMeta::from_parts(headers, query).map_err(|e| {
        let supported: Vec<&str> = SUPPORTED.iter().map(|v| v.as_str()).collect();
        let sent = match &e {
            A2aError::VersionNotSupported(v) => v.clone(),
            other => other.to_string(),
        };
        super::ApiError::new(e)
            .with_message(format!(
                "A2A version `{sent}` is not supported; this host speaks {} \
                 (send `{VERSION_HEADER}: 1.0`, or no header for 0.3)",
                supported.join(" and ")
            ))
            .with_info("supportedVersions", supported.join(","))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn versions_parse_with_patch_ignored() {
        assert_eq!(Version::parse(Some("1.0")), Ok(Version::V1_0));
        assert_eq!(Version::parse(Some(" 1.0.3 ")), Ok(Version::V1_0));
        assert_eq!(Version::parse(Some("0.3")), Ok(Version::V0_3));
        assert_eq!(Version::parse(Some("0.3.0")), Ok(Version::V0_3));
        assert_eq!(Version::parse(None), Ok(Version::V0_3));
        assert_eq!(Version::parse(Some("")), Ok(Version::V0_3));
        for bad in [
            "99.0", "1", "1.1", "1.0.x", "1.0.0.0", "v1.0", "1..0", "abc", "2.0",
        ] {
            assert_eq!(
                Version::parse(Some(bad)),
                Err(A2aError::VersionNotSupported(bad.to_string())),
                "{bad}"
            );
        }
    }

    #[test]
    fn header_wins_over_query_and_extensions_are_split() {
        let mut h = HeaderMap::new();
        h.insert("a2a-version", HeaderValue::from_static("1.0"));
        h.append(
            "a2a-extensions",
            HeaderValue::from_static(" https://a/x , ,https://b/y"),
        );
        h.append("A2A-Extensions", HeaderValue::from_static("urn:z"));
        let m = RequestMeta::from_parts(&h, Some("A2A-Version=0.3")).unwrap();
        assert_eq!(m.version, Version::V1_0);
        assert_eq!(m.requested_version.as_deref(), Some("1.0"));
        assert_eq!(m.extensions, ["https://a/x", "https://b/y", "urn:z"]);

        let m = RequestMeta::from_parts(&HeaderMap::new(), Some("x=1&a2a-version=1.0.1")).unwrap();
        assert_eq!(m.version, Version::V1_0);
        assert!(m.extensions.is_empty());

        assert!(RequestMeta::from_parts(&HeaderMap::new(), Some("A2A-Version=9.9")).is_err());
    }

    #[test]
    fn unsupported_versions_list_the_supported_ones() {
        let mut h = HeaderMap::new();
        h.insert("a2a-version", HeaderValue::from_static("2.0"));
        let e = request_meta(&h, None).unwrap_err();
        assert_eq!(e.error.code(), -32009);
        assert!(e.message().contains("1.0 and 0.3"), "{}", e.message());
        let body = e.jsonrpc_error();
        assert_eq!(body["data"][0]["metadata"]["supportedVersions"], "1.0,0.3");
        let rest = e.rest_body();
        assert_eq!(
            rest["error"]["details"][0]["metadata"]["supportedVersions"],
            "1.0,0.3"
        );
    }
}
