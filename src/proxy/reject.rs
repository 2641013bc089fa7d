//! The one place where a failed request becomes an HTTP response: every error the gateway
//! answers itself has a status, a stable machine code and a JSON body.

use crate::tenant::ResolveError;
use bytes::Bytes;
use http::HeaderValue;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;
use pingora::{ErrorSource, ErrorType};

/// Everything the gateway answers on its own instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    MissingHost,
    MalformedHost,
    UnknownHost,
    UnknownTenantKey,
    TenantDisabled,
    NoRoute,
    BodyTooLarge,
    NoHealthyBackend,
    BackendUnavailable,
    BackendTimeout,
    BadRequest,
    Internal,
    MisdirectedRequest,
    UnknownChallenge,
}

/// The custom pingora error type `upstream_peer` returns when a pool has no healthy backend.
pub const NO_HEALTHY_BACKEND: &str = "no_healthy_backend";

impl Reject {
    pub fn status(self) -> u16 {
        match self {
            Reject::MissingHost | Reject::MalformedHost | Reject::BadRequest => 400,
            Reject::TenantDisabled => 403,
            Reject::UnknownHost
            | Reject::UnknownTenantKey
            | Reject::NoRoute
            | Reject::UnknownChallenge => 404,
            Reject::MisdirectedRequest => 421,
            Reject::BodyTooLarge => 413,
            Reject::Internal => 500,
            Reject::BackendUnavailable => 502,
            Reject::NoHealthyBackend => 503,
            Reject::BackendTimeout => 504,
        }
    }

    /// Stable code for the JSON body, metrics and access log.
    pub fn code(self) -> &'static str {
        match self {
            Reject::MissingHost => "missing_host",
            Reject::MalformedHost => "malformed_host",
            Reject::UnknownHost => "unknown_host",
            Reject::UnknownTenantKey => "unknown_tenant",
            Reject::TenantDisabled => "tenant_disabled",
            Reject::NoRoute => "no_route",
            Reject::BodyTooLarge => "body_too_large",
            Reject::NoHealthyBackend => "no_healthy_backend",
            Reject::BackendUnavailable => "backend_unavailable",
            Reject::BackendTimeout => "backend_timeout",
            Reject::BadRequest => "bad_request",
            Reject::Internal => "internal_error",
            Reject::MisdirectedRequest => "misdirected_request",
            Reject::UnknownChallenge => "unknown_challenge",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Reject::MissingHost => "the request has no Host header",
            Reject::MalformedHost => "the Host header is not a valid host name",
            Reject::UnknownHost => "no tenant is served at this host",
            Reject::UnknownTenantKey => "the path names no tenant served here",
            Reject::TenantDisabled => "this tenant is disabled",
            Reject::NoRoute => "no route matches this path",
            Reject::BodyTooLarge => "the request body exceeds the configured limit",
            Reject::NoHealthyBackend => "no healthy backend is available for this route",
            Reject::BackendUnavailable => "the backend could not be reached",
            Reject::BackendTimeout => "the backend did not answer in time",
            Reject::BadRequest => "the request could not be read",
            Reject::Internal => "internal error",
            Reject::MisdirectedRequest => {
                "this connection was made for another host; open a new connection"
            }
            Reject::UnknownChallenge => "no such ACME challenge is pending",
        }
    }

    /// Maps a pingora error (upstream or downstream) to what the client is told. `None` when
    /// the client connection is already gone and nothing can be written.
    pub fn from_error(e: &Error) -> Option<Reject> {
        use ErrorType::*;
        match e.etype() {
            HTTPStatus(413) => return Some(Reject::BodyTooLarge),
            HTTPStatus(400) => return Some(Reject::BadRequest),
            Custom(NO_HEALTHY_BACKEND) => return Some(Reject::NoHealthyBackend),
            _ => {}
        }
        match e.esource() {
            ErrorSource::Upstream => Some(match e.etype() {
                ConnectTimedout | ReadTimedout | WriteTimedout => Reject::BackendTimeout,
                _ => Reject::BackendUnavailable,
            }),
            ErrorSource::Downstream => match e.etype() {
                WriteError | ReadError | ConnectionClosed => None,
                _ => Some(Reject::BadRequest),
            },
            ErrorSource::Internal | ErrorSource::Unset => Some(Reject::Internal),
        }
    }
}

impl From<&ResolveError> for Reject {
    fn from(e: &ResolveError) -> Self {
        match e {
            ResolveError::MissingHost => Reject::MissingHost,
            ResolveError::MalformedHost => Reject::MalformedHost,
            ResolveError::UnknownHost => Reject::UnknownHost,
            ResolveError::UnknownTenantKey => Reject::UnknownTenantKey,
            ResolveError::Disabled(_) => Reject::TenantDisabled,
        }
    }
}

/// The JSON body for a rejection.
pub fn body(reject: Reject, request_id: &HeaderValue) -> Bytes {
    let v = serde_json::json!({
        "error": reject.code(),
        "message": reject.message(),
        "request_id": request_id.to_str().unwrap_or(""),
    });
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

/// Writes the rejection as the response; the caller then ends the request.
pub async fn respond(
    session: &mut Session,
    reject: Reject,
    request_id: &HeaderValue,
) -> Result<()> {
    let body = body(reject, request_id);
    let mut resp = ResponseHeader::build(reject.status(), Some(4))?;
    resp.insert_header(http::header::CONTENT_TYPE, "application/json")?;
    resp.insert_header(http::header::CONTENT_LENGTH, body.len().to_string())?;
    resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
    resp.insert_header("x-request-id", request_id.clone())?;
    let head_only = session.req_header().method == http::Method::HEAD;
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if !head_only {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "reject_tests.rs"]
mod tests;
