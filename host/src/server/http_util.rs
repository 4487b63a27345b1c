//! Small HTTP helpers shared by the bindings: media types, bounded body
//! reads, `Last-Event-ID`, and error responses.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::ApiError;
use crate::error::A2aError;

/// `application/json`, what every JSON response says by default.
pub(crate) const JSON: &str = "application/json";
/// The A2A media type, sent when the client's `Accept` prefers it.
pub(crate) const A2A_JSON: &str = "application/a2a+json";

/// The header a reconnecting SSE client sends.
pub(crate) const LAST_EVENT_ID: &str = "last-event-id";

/// Whether the request's `Content-Type` is one the bindings read:
/// `application/json` or `application/a2a+json`, with any parameters
/// (`; charset=utf-8`), in any letter case.
pub(crate) fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case(JSON) || essence.eq_ignore_ascii_case(A2A_JSON)
}

/// The error for a body whose `Content-Type` is not JSON.
pub(crate) fn content_type_error(headers: &HeaderMap) -> ApiError {
    let got = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let msg = match got {
        Some(ct) => {
            format!("request Content-Type `{ct}` is not supported; send `{JSON}` or `{A2A_JSON}`")
        }
        None => format!("request has no Content-Type; send `{JSON}` or `{A2A_JSON}`"),
    };
    ApiError::new(A2aError::ContentTypeNotSupported(msg))
}

/// The media type of a JSON response: `application/a2a+json` when the
/// client's `Accept` lists it at least as high as `application/json`,
/// else `application/json`.
pub(crate) fn response_media_type(headers: &HeaderMap) -> &'static str {
    let mut a2a: Option<f32> = None;
    let mut json: Option<f32> = None;
    for value in headers.get_all(header::ACCEPT).iter() {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut fields = range.split(';');
            let essence = fields.next().unwrap_or("").trim();
            let q = fields
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("q")
                        .then(|| v.trim().parse::<f32>().ok())
                        .flatten()
                })
                .next()
                .unwrap_or(1.0);
            if essence.eq_ignore_ascii_case(A2A_JSON) {
                a2a = Some(q);
            } else if essence.eq_ignore_ascii_case(JSON) {
                json = Some(q);
            }
        }
    }
    match (a2a, json) {
        (Some(a), j) if a > 0.0 && a >= j.unwrap_or(0.0) => A2A_JSON,
        _ => JSON,
    }
}

/// Reads the whole body, failing with 413 past `limit` bytes. A declared
/// `Content-Length` over the limit is refused before reading.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || ApiError::new(A2aError::PayloadTooLarge(limit));
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(A2aError::InvalidRequest(format!(
                "could not read the request body: {e}"
            )))
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Parses `Last-Event-ID`: absent or empty is `None`; anything but an
/// unsigned integer is invalid params.
pub(crate) fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(LAST_EVENT_ID) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("\u{fffd}").trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u64>().map(Some).map_err(|_| {
        ApiError::new(A2aError::invalid_field(
            "Last-Event-ID",
            format!("`Last-Event-ID` must be an event sequence number, got `{text}`"),
        ))
    })
}

/// A JSON response with the given status and media type.
pub(crate) fn json_response(
    status: StatusCode,
    media_type: &'static str,
    body: &impl serde::Serialize,
) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => json_bytes_response(status, media_type, bytes),
        Err(e) => {
            tracing::error!(error = %e, "could not encode a response body");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A response whose body is JSON text already encoded.
pub(crate) fn json_bytes_response(
    status: StatusCode,
    media_type: &'static str,
    body: Vec<u8>,
) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(media_type))],
        body,
    )
        .into_response()
}

/// An HTTP+JSON error response (google.rpc.Status body).
pub(crate) fn rest_error(request_headers: &HeaderMap, err: &ApiError) -> Response {
    json_response(
        err.http_status(),
        response_media_type(request_headers),
        &err.rest_body(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn json_content_types_are_recognised_with_parameters() {
        for ct in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/a2a+json;charset=UTF-8",
        ] {
            assert!(
                is_json_content_type(&headers(&[("content-type", ct)])),
                "{ct}"
            );
        }
        for ct in [
            "text/plain",
            "application/jsonx",
            "application/x-www-form-urlencoded",
        ] {
            assert!(
                !is_json_content_type(&headers(&[("content-type", ct)])),
                "{ct}"
            );
        }
        assert!(!is_json_content_type(&HeaderMap::new()));
    }

    #[test]
    fn accept_negotiation_prefers_json_unless_a2a_is_asked_for() {
        assert_eq!(response_media_type(&HeaderMap::new()), JSON);
        assert_eq!(response_media_type(&headers(&[("accept", "*/*")])), JSON);
        assert_eq!(
            response_media_type(&headers(&[("accept", "application/a2a+json")])),
            A2A_JSON
        );
        assert_eq!(
            response_media_type(&headers(&[(
                "accept",
                "application/json, application/a2a+json;q=0.5"
            )])),
            JSON
        );
        assert_eq!(
            response_media_type(&headers(&[("accept", "application/a2a+json;q=0")])),
            JSON
        );
    }

    #[test]
    fn last_event_id_parses_or_names_the_header() {
        assert_eq!(last_event_id(&HeaderMap::new()).unwrap(), None);
        assert_eq!(
            last_event_id(&headers(&[("last-event-id", " 42 ")])).unwrap(),
            Some(42)
        );
        assert_eq!(
            last_event_id(&headers(&[("last-event-id", "")])).unwrap(),
            None
        );
        let err = last_event_id(&headers(&[("last-event-id", "abc")])).unwrap_err();
        assert_eq!(err.error.code(), -32602);
    }
}
