//! Outbound HTTP for agents that call APIs, over `wasi:http/outgoing-handler`.
//!
//! The host decides which hosts an agent may reach (operator policy in
//! `NAME.toml`); a request to anywhere else fails with
//! [`HttpError::Denied`]. Requests are blocking: the instance parks in
//! `wasi:io/poll` while the host does the I/O.
//!
//! ```no_run
//! use a2a_guest::prelude::*;
//!
//! fn turn(ctx: &Context) -> Result<(), AgentError> {
//!     let body = json!({ "query": ctx.text() });
//!     let response = http::post_json("https://api.example.com/search", &[], &body)?
//!         .error_for_status()?;
//!     let hits: Value = response.json()?;
//!     ctx.complete(Part::data(hits))?;
//!     Ok(())
//! }
//! ```
//!
//! Only agents that call these functions import `wasi:http`; the others'
//! components do not mention it.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method,
    OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

use crate::AgentError;

/// Default for [`Request::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default for [`Request::max_response_bytes`]: 16 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// `wasi:io/streams` writes at most this many bytes per blocking call.
const WRITE_CHUNK: usize = 4096;

/// How much to ask for per read of the response body.
const READ_CHUNK: u64 = 64 * 1024;

/// `GET url`.
///
/// ```no_run
/// let page = a2a_guest::http::get("https://example.com/")?.text();
/// # Ok::<(), a2a_guest::http::HttpError>(())
/// ```
pub fn get(url: &str) -> Result<Response, HttpError> {
    Request::get(url).send()
}

/// `POST url` with a JSON body and extra headers. Sets `content-type:
/// application/json` and `accept: application/json` unless `headers` does.
/// Any status comes back as `Ok`; see [`Response::error_for_status`].
///
/// ```no_run
/// use a2a_guest::{http, serde_json::json};
/// let response = http::post_json(
///     "http://127.0.0.1:8080/v1/echo",
///     &[("authorization", "Bearer secret")],
///     &json!({ "hello": "world" }),
/// )?;
/// assert_eq!(response.status, 200);
/// # Ok::<(), http::HttpError>(())
/// ```
pub fn post_json(url: &str, headers: &[(&str, &str)], body: &Value) -> Result<Response, HttpError> {
    let mut request = Request::post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.json(body).send()
}

/// An HTTP request, built step by step and sent with [`send`](Self::send).
///
/// ```no_run
/// use std::time::Duration;
/// use a2a_guest::http::Request;
///
/// let response = Request::new("PUT", "https://api.example.com/items/7")
///     .header("content-type", "text/plain")
///     .bearer_auth("token")
///     .body("seven")
///     .timeout(Duration::from_secs(5))
///     .send()?;
/// # Ok::<(), a2a_guest::http::HttpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
    max_response_bytes: usize,
}

impl Request {
    /// A request with any method (`GET`, `POST`, `PATCH`, …).
    ///
    /// ```
    /// let request = a2a_guest::http::Request::new("DELETE", "https://example.com/x");
    /// ```
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Request {
        Request {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// A `GET` request.
    ///
    /// ```
    /// let request = a2a_guest::http::Request::get("https://example.com/");
    /// ```
    pub fn get(url: impl Into<String>) -> Request {
        Request::new("GET", url)
    }

    /// A `POST` request.
    ///
    /// ```
    /// let request = a2a_guest::http::Request::post("https://example.com/").body("x=1");
    /// ```
    pub fn post(url: impl Into<String>) -> Request {
        Request::new("POST", url)
    }

    /// Add a header. Names are case-insensitive; the host refuses
    /// hop-by-hop headers such as `host` or `connection`.
    ///
    /// ```
    /// let request = a2a_guest::http::Request::get("https://example.com/").header("accept", "text/html");
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Add `authorization: Bearer <token>`.
    ///
    /// ```
    /// let request = a2a_guest::http::Request::get("https://example.com/").bearer_auth("s3cret");
    /// ```
    pub fn bearer_auth(self, token: &str) -> Request {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// Set the body bytes.
    ///
    /// ```
    /// let request = a2a_guest::http::Request::post("https://example.com/").body(vec![1, 2, 3]);
    /// ```
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Set a JSON body, plus `content-type` and `accept` headers for JSON
    /// unless they are already set.
    ///
    /// ```
    /// use a2a_guest::{http::Request, serde_json::json};
    /// let request = Request::post("https://example.com/").json(&json!({"a": 1}));
    /// ```
    pub fn json(mut self, body: &Value) -> Request {
        for name in ["content-type", "accept"] {
            if !self.has_header(name) {
                self = self.header(name, "application/json");
            }
        }
        self.body(body.to_string())
    }

    /// Time limit for connecting, for the first response byte, and between
    /// response bytes (default 30 s). The host may cap it further.
    ///
    /// ```
    /// use std::time::Duration;
    /// let request = a2a_guest::http::Request::get("https://example.com/").timeout(Duration::from_secs(2));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = timeout;
        self
    }

    /// Refuse responses with bodies larger than this (default 16 MiB), so a
    /// runaway server cannot exhaust the instance's memory.
    ///
    /// ```
    /// let request = a2a_guest::http::Request::get("https://example.com/").max_response_bytes(1 << 20);
    /// ```
    pub fn max_response_bytes(mut self, limit: usize) -> Request {
        self.max_response_bytes = limit;
        self
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Send the request and read the whole response.
    ///
    /// ```no_run
    /// let response = a2a_guest::http::Request::get("https://example.com/").send()?;
    /// println!("{} bytes", response.body.len());
    /// # Ok::<(), a2a_guest::http::HttpError>(())
    /// ```
    pub fn send(self) -> Result<Response, HttpError> {
        let target = Target::parse(&self.url)?;
        let method = wasi_method(&self.method)?;

        let mut entries: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone().into_bytes()))
            .collect();
        if !self.has_header("content-length") && (!self.body.is_empty() || method_has_body(&method))
        {
            entries.push((
                "content-length".into(),
                self.body.len().to_string().into_bytes(),
            ));
        }
        let fields = Fields::from_list(&entries)
            .map_err(|e| HttpError::InvalidRequest(format!("header refused: {e:?}")))?;

        let request = OutgoingRequest::new(fields);
        let refused = |what: &str| HttpError::InvalidRequest(format!("{what} refused by the host"));
        request
            .set_method(&method)
            .map_err(|()| refused("method"))?;
        request
            .set_scheme(Some(&target.scheme.to_wasi()))
            .map_err(|()| refused("scheme"))?;
        request
            .set_authority(Some(&target.authority))
            .map_err(|()| refused("authority"))?;
        request
            .set_path_with_query(Some(&target.path_and_query))
            .map_err(|()| refused("path"))?;
        let outgoing_body = request.body().map_err(|()| refused("body"))?;

        let options = RequestOptions::new();
        let nanos = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        // A host that does not support a timeout keeps its own; not an error.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));

        // Hand the request over before writing the body: the host streams
        // the body while sending, so a large body cannot fill its buffer
        // with nobody reading.
        let future = outgoing_handler::handle(request, Some(options))
            .map_err(|code| HttpError::from_code(&target, code))?;
        if let Err(write_error) = write_body(outgoing_body, &self.body) {
            // The request itself probably failed (refused connection, …);
            // that error says more than the broken stream.
            return Err(match wait_for(&future) {
                Err(err) => err.with_target(&target),
                Ok(_) => write_error,
            });
        }
        let response = wait_for(&future).map_err(|e| e.with_target(&target))?;
        read_response(response, self.max_response_bytes)
    }
}

fn method_has_body(method: &Method) -> bool {
    matches!(method, Method::Post | Method::Put | Method::Patch)
}

fn wasi_method(method: &str) -> Result<Method, HttpError> {
    let upper = method.to_ascii_uppercase();
    Ok(match upper.as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        _ if is_token(method) => Method::Other(method.to_string()),
        _ => return Err(HttpError::InvalidRequest(format!("bad method {method:?}"))),
    })
}

/// RFC 9110 `token`: the characters allowed in a method name.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), HttpError> {
    let stream = body
        .write()
        .map_err(|()| HttpError::Body("request body stream unavailable".into()))?;
    for chunk in bytes.chunks(WRITE_CHUNK) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|e| HttpError::Body(format!("writing request body: {}", stream_error(e))))?;
    }
    // The stream is a child of the body and must go before `finish`.
    drop(stream);
    OutgoingBody::finish(body, None).map_err(|code| {
        HttpError::Body(format!("finishing request body: {}", describe_code(&code)))
    })
}

/// Block until the response head arrives.
fn wait_for(future: &FutureIncomingResponse) -> Result<IncomingResponse, HttpError> {
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(code))) => Err(HttpError::from_code_only(code)),
        Some(Err(())) => Err(HttpError::Transport("response was already taken".into())),
        None => Err(HttpError::Transport(
            "response not ready after waiting".into(),
        )),
    }
}

fn read_response(response: IncomingResponse, limit: usize) -> Result<Response, HttpError> {
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let body = response
        .consume()
        .map_err(|()| HttpError::Body("response body unavailable".into()))?;
    let stream = body
        .stream()
        .map_err(|()| HttpError::Body("response body stream unavailable".into()))?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => {
                if bytes.len() + chunk.len() > limit {
                    return Err(HttpError::TooLarge(limit));
                }
                bytes.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => break,
            Err(e) => {
                return Err(HttpError::Body(format!(
                    "reading response body: {}",
                    stream_error(e)
                )));
            }
        }
    }
    drop(stream);
    // Trailers are not exposed; dropping the future discards them.
    drop(IncomingBody::finish(body));
    Ok(Response {
        status,
        headers,
        body: bytes,
    })
}

/// `ConnectionRefused` rather than `ErrorCode::ConnectionRefused`.
fn describe_code(code: &ErrorCode) -> String {
    let debug = format!("{code:?}");
    match debug.strip_prefix("ErrorCode::") {
        Some(rest) => rest.to_string(),
        None => debug,
    }
}

fn stream_error(err: StreamError) -> String {
    match err {
        StreamError::Closed => "stream closed".to_string(),
        StreamError::LastOperationFailed(e) => e.to_debug_string(),
    }
}

/// A complete HTTP response.
///
/// ```no_run
/// let response = a2a_guest::http::get("https://example.com/")?;
/// if response.is_success() {
///     println!("{}", response.text());
/// }
/// # Ok::<(), a2a_guest::http::HttpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// Header names (lower case) and values (invalid UTF-8 replaced), in
    /// the order received.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    ///
    /// ```
    /// use a2a_guest::http::Response;
    /// let ok = Response { status: 204, headers: vec![], body: vec![] };
    /// assert!(ok.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of a header, by case-insensitive name.
    ///
    /// ```
    /// use a2a_guest::http::Response;
    /// let r = Response { status: 200, headers: vec![("content-type".into(), "text/plain".into())], body: vec![] };
    /// assert_eq!(r.header("Content-Type"), Some("text/plain"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    ///
    /// ```
    /// use a2a_guest::http::Response;
    /// let r = Response { status: 200, headers: vec![], body: b"hi".to_vec() };
    /// assert_eq!(r.text(), "hi");
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Decode the body as JSON.
    ///
    /// ```
    /// use a2a_guest::{http::Response, serde_json::Value};
    /// let r = Response { status: 200, headers: vec![], body: br#"{"n":1}"#.to_vec() };
    /// assert_eq!(r.json::<Value>()?["n"], 1);
    /// # Ok::<(), a2a_guest::http::HttpError>(())
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::Decode(e.to_string()))
    }

    /// `Ok(self)` for a 2xx status, else [`HttpError::Status`] with the
    /// start of the body, which usually says what was wrong.
    ///
    /// ```
    /// use a2a_guest::http::{HttpError, Response};
    /// let r = Response { status: 401, headers: vec![], body: b"bad key".to_vec() };
    /// assert_eq!(
    ///     r.error_for_status(),
    ///     Err(HttpError::Status { status: 401, body: "bad key".into() })
    /// );
    /// ```
    pub fn error_for_status(self) -> Result<Response, HttpError> {
        if self.is_success() {
            return Ok(self);
        }
        const SNIPPET: usize = 512;
        let mut body = self.text();
        if body.len() > SNIPPET {
            let mut end = SNIPPET;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            body.truncate(end);
            body.push('…');
        }
        Err(HttpError::Status {
            status: self.status,
            body,
        })
    }
}

/// Why an HTTP request did not produce the response the agent wanted.
///
/// ```
/// use a2a_guest::{AgentError, http::HttpError};
/// let err = HttpError::InvalidUrl("ftp://x: unsupported scheme".into());
/// let agent_error: AgentError = err.into(); // `?` does this in `handle`
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL is not an absolute `http` or `https` URL.
    InvalidUrl(String),
    /// A method or header was malformed or refused.
    InvalidRequest(String),
    /// The host's policy does not let this agent reach that destination.
    Denied(String),
    /// The connection or exchange failed (DNS, refused, timeout, TLS, …).
    Transport(String),
    /// Writing the request body or reading the response body failed.
    Body(String),
    /// The response body was larger than the limit (in bytes).
    TooLarge(usize),
    /// The body was not the JSON expected.
    Decode(String),
    /// The server answered with a non-2xx status
    /// (from [`Response::error_for_status`]).
    Status {
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
}

impl HttpError {
    fn from_code(target: &Target, code: ErrorCode) -> HttpError {
        HttpError::from_code_only(code).with_target(target)
    }

    fn from_code_only(code: ErrorCode) -> HttpError {
        match code {
            ErrorCode::HttpRequestDenied => HttpError::Denied(String::new()),
            ErrorCode::HttpRequestUriInvalid => HttpError::InvalidUrl("refused by the host".into()),
            other => HttpError::Transport(describe_code(&other)),
        }
    }

    /// Name the destination in transport and policy errors.
    fn with_target(self, target: &Target) -> HttpError {
        let dest = format!("{}://{}", target.scheme.as_str(), target.authority);
        match self {
            HttpError::Denied(_) => {
                HttpError::Denied(format!("the host does not allow requests to {dest}"))
            }
            HttpError::Transport(m) => HttpError::Transport(format!("{dest}: {m}")),
            other => other,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::InvalidUrl(m) => write!(f, "invalid URL: {m}"),
            HttpError::InvalidRequest(m) => write!(f, "invalid HTTP request: {m}"),
            HttpError::Denied(m) if m.is_empty() => f.write_str("HTTP request denied by the host"),
            HttpError::Denied(m) => write!(f, "HTTP request denied: {m}"),
            HttpError::Transport(m) => write!(f, "HTTP request failed: {m}"),
            HttpError::Body(m) => write!(f, "HTTP body error: {m}"),
            HttpError::TooLarge(limit) => {
                write!(f, "HTTP response body larger than {limit} bytes")
            }
            HttpError::Decode(m) => write!(f, "HTTP response is not the expected JSON: {m}"),
            HttpError::Status { status, body } if body.is_empty() => {
                write!(f, "HTTP status {status}")
            }
            HttpError::Status { status, body } => write!(f, "HTTP status {status}: {body}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// An HTTP failure fails the task with the error's description.
///
/// ```
/// use a2a_guest::{AgentError, http::HttpError};
/// let err: AgentError = HttpError::TooLarge(10).into();
/// assert_eq!(err.reason(), "HTTP response body larger than 10 bytes");
/// ```
impl From<HttpError> for AgentError {
    fn from(err: HttpError) -> Self {
        AgentError::Failed(err.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchemeKind {
    Http,
    Https,
}

impl SchemeKind {
    fn as_str(self) -> &'static str {
        match self {
            SchemeKind::Http => "http",
            SchemeKind::Https => "https",
        }
    }

    fn to_wasi(self) -> Scheme {
        match self {
            SchemeKind::Http => Scheme::Http,
            SchemeKind::Https => Scheme::Https,
        }
    }
}

/// The parts of an absolute URL that `wasi:http` wants separately.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    scheme: SchemeKind,
    /// `host[:port]`.
    authority: String,
    /// Path and query, starting with `/`; the fragment is dropped.
    path_and_query: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, HttpError> {
        let bad = |why: &str| HttpError::InvalidUrl(format!("{url:?}: {why}"));
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains whitespace or control characters"));
        }
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("not an absolute URL"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => SchemeKind::Http,
            "https" => SchemeKind::Https,
            _ => return Err(bad("only http and https are supported")),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains('@') {
            return Err(bad("credentials in URLs are not supported; use a header"));
        }
        let tail = tail.split('#').next().unwrap_or_default();
        let path_and_query = match tail.chars().next() {
            None => "/".to_string(),
            Some('?') => format!("/{tail}"),
            Some(_) => tail.to_string(),
        };
        Ok(Target {
            scheme,
            authority: authority.to_string(),
            path_and_query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> (SchemeKind, String, String) {
        let t = Target::parse(url).unwrap();
        (t.scheme, t.authority, t.path_and_query)
    }

    #[test]
    fn parses_absolute_urls() {
        assert_eq!(
            target("http://127.0.0.1:8080/v1/chat/completions"),
            (
                SchemeKind::Http,
                "127.0.0.1:8080".into(),
                "/v1/chat/completions".into()
            )
        );
        assert_eq!(
            target("HTTPS://example.com"),
            (SchemeKind::Https, "example.com".into(), "/".into())
        );
        assert_eq!(
            target("https://example.com?q=1#frag"),
            (SchemeKind::Https, "example.com".into(), "/?q=1".into())
        );
        assert_eq!(
            target("https://[::1]:443/a?b=c#d"),
            (SchemeKind::Https, "[::1]:443".into(), "/a?b=c".into())
        );
    }

    #[test]
    fn rejects_bad_urls() {
        for url in [
            "",
            "example.com/path",
            "ftp://example.com/",
            "http:///path",
            "http://user:pw@example.com/",
            "http://exa mple.com/",
            "http://example.com/\n",
        ] {
            assert!(
                matches!(Target::parse(url), Err(HttpError::InvalidUrl(_))),
                "{url:?} should be rejected"
            );
        }
    }

    #[test]
    fn methods_map_to_wasi() {
        assert!(matches!(wasi_method("get"), Ok(Method::Get)));
        assert!(matches!(wasi_method("PATCH"), Ok(Method::Patch)));
        assert!(matches!(wasi_method("PURGE"), Ok(Method::Other(m)) if m == "PURGE"));
        assert!(matches!(
            wasi_method("BAD METHOD"),
            Err(HttpError::InvalidRequest(_))
        ));
        assert!(matches!(wasi_method(""), Err(HttpError::InvalidRequest(_))));
    }

    #[test]
    fn json_sets_headers_once() {
        let request = Request::post("http://x/")
            .header("Content-Type", "application/vnd.api+json")
            .json(&serde_json::json!({"a": 1}));
        let content_types: Vec<_> = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .collect();
        assert_eq!(content_types.len(), 1);
        assert!(request.has_header("accept"));
        assert_eq!(request.body, br#"{"a":1}"#);
    }

    #[test]
    fn error_for_status_truncates_long_bodies() {
        let response = Response {
            status: 500,
            headers: vec![],
            body: "é".repeat(1000).into_bytes(),
        };
        let Err(HttpError::Status { status, body }) = response.error_for_status() else {
            panic!("expected a status error");
        };
        assert_eq!(status, 500);
        assert!(body.ends_with('…'));
        assert!(body.len() <= 512 + '…'.len_utf8());
    }

    #[test]
    fn errors_read_well() {
        let t = Target::parse("https://api.example.com/x").unwrap();
        let denied = HttpError::from_code(&t, ErrorCode::HttpRequestDenied);
        assert_eq!(
            denied.to_string(),
            "HTTP request denied: the host does not allow requests to https://api.example.com"
        );
        let refused = HttpError::from_code(&t, ErrorCode::ConnectionRefused);
        assert_eq!(
            refused.to_string(),
            "HTTP request failed: https://api.example.com: ConnectionRefused"
        );
    }
}
