//! Why the gateway refuses or fails a request (bad request heads, unknown tenants, upstream
//! failures): each reason has a status, a stable code and a message, and becomes an
//! [`Answer`] in one place.

use super::answer::Answer;
use crate::path::PathError;
use crate::tenant::ResolveError;
use pingora::prelude::*;
use pingora::{ErrorSource, ErrorType};

/// Everything the gateway answers on its own instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    MissingHost,
    MalformedHost,
    UnknownHost,
    DomainPending,
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
    /// The path has no unambiguous canonical form.
    InvalidPath(PathError),
    /// A request head the gateway refuses to interpret (the reason says why).
    InvalidRequest(&'static str),
    UriTooLong,
    /// Headers over a limit (the reason says which).
    HeadersTooLarge(&'static str),
    /// The request needs a tenant assertion and none could be signed.
    AssertionUnavailable,
    /// The tenant (or user, or client) is over its rate limit.
    RateLimited,
    /// The tenant (or user, or client) has too many requests in flight.
    ConcurrencyLimited,
}

/// The custom pingora error type `upstream_peer` returns when a pool has no healthy backend.
pub const NO_HEALTHY_BACKEND: &str = "no_healthy_backend";

impl Reject {
    pub fn status(self) -> u16 {
        match self {
            Reject::MissingHost
            | Reject::MalformedHost
            | Reject::BadRequest
            | Reject::InvalidPath(_)
            | Reject::InvalidRequest(_) => 400,
            Reject::UriTooLong => 414,
            Reject::HeadersTooLarge(_) => 431,
            Reject::TenantDisabled => 403,
            Reject::UnknownHost
            | Reject::DomainPending
            | Reject::UnknownTenantKey
            | Reject::NoRoute
            | Reject::UnknownChallenge => 404,
            Reject::MisdirectedRequest => 421,
            Reject::BodyTooLarge => 413,
            Reject::Internal => 500,
            Reject::BackendUnavailable => 502,
            Reject::RateLimited => 429,
            Reject::NoHealthyBackend
            | Reject::AssertionUnavailable
            | Reject::ConcurrencyLimited => 503,
            Reject::BackendTimeout => 504,
        }
    }

    /// Stable code for the JSON body, metrics and access log.
    pub fn code(self) -> &'static str {
        match self {
            Reject::MissingHost => "missing_host",
            Reject::MalformedHost => "malformed_host",
            Reject::UnknownHost => "unknown_host",
            Reject::DomainPending => "domain_pending_verification",
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
            Reject::InvalidPath(_) => "invalid_path",
            Reject::InvalidRequest(_) => "invalid_request",
            Reject::UriTooLong => "uri_too_long",
            Reject::HeadersTooLarge(_) => "headers_too_large",
            Reject::AssertionUnavailable => "assertion_unavailable",
            Reject::RateLimited => "rate_limited",
            Reject::ConcurrencyLimited => "concurrency_limited",
        }
    }

    /// The finer cause, where a code has several.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Reject::InvalidPath(e) => Some(e.reason()),
            Reject::InvalidRequest(r) | Reject::HeadersTooLarge(r) => Some(r),
            _ => None,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Reject::MissingHost => "the request has no Host header",
            Reject::MalformedHost => "the Host header is not a valid host name",
            Reject::UnknownHost => "no tenant is served at this host",
            Reject::DomainPending => {
                "this domain is waiting for its tenant to prove control of it (DNS TXT record \
                 _tenant-gateway-challenge.<domain>); it is served once verified"
            }
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
            Reject::InvalidPath(e) => e.message(),
            Reject::InvalidRequest(r) => match r {
                "duplicate_authorization" => "the request has more than one Authorization header",
                "underscore_header" => "header names with underscores are not accepted",
                "unsupported_scheme" => "the request target names a scheme other than http(s)",
                _ => "the request is malformed",
            },
            Reject::UriTooLong => "the request line is longer than the configured limit",
            Reject::HeadersTooLarge(_) => "the request headers exceed the configured limits",
            Reject::AssertionUnavailable => "the gateway cannot sign a tenant assertion right now",
            Reject::RateLimited => "too many requests; retry after the time in Retry-After",
            Reject::ConcurrencyLimited => "too many requests in flight; retry shortly",
        }
    }

    /// Client errors in the request head: the connection is closed after the answer.
    fn closes_connection(self) -> bool {
        matches!(
            self,
            Reject::InvalidRequest(_)
                | Reject::InvalidPath(_)
                | Reject::UriTooLong
                | Reject::HeadersTooLarge(_)
                | Reject::BadRequest
        )
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
            ResolveError::DomainPending => Reject::DomainPending,
            ResolveError::UnknownTenantKey => Reject::UnknownTenantKey,
            ResolveError::Disabled(_) => Reject::TenantDisabled,
        }
    }
}

impl From<Reject> for Answer {
    fn from(r: Reject) -> Answer {
        let mut a = Answer::error(r.status(), r.code(), r.message());
        if let Some(reason) = r.reason() {
            a = a.with_reason(reason);
        }
        if r.closes_connection() {
            a = a.closing();
        }
        a
    }
}

#[cfg(test)]
#[path = "reject_tests.rs"]
mod tests;
