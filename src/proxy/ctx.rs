//! Per-request state carried between the proxy phases.

use super::head::Target;
use crate::auth::Identity;
use crate::runtime::Runtime;
use crate::tenant::{Route, Tenant};
use http::HeaderValue;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

pub struct RequestCtx {
    pub start: Instant,
    /// The configuration version this request started on; it finishes on it too.
    pub runtime: Option<Arc<Runtime>>,
    pub tenant: Option<Arc<Tenant>>,
    pub route: Option<Route>,
    /// The canonical path and query (what is matched, logged and forwarded).
    pub target: Target,
    /// New path-and-query for the upstream when it differs from what the client sent.
    pub upstream_uri: Option<http::Uri>,
    pub request_id: HeaderValue,
    /// Backends tried so far (a retry goes to another one).
    pub tried: Vec<SocketAddr>,
    pub retries: u8,
    pub reject: Option<&'static str>,
    pub body_bytes: u64,
    /// Who made the request (authenticated routes).
    pub identity: Option<Arc<Identity>>,
    /// How: `jwt` (a bearer token), `oidc` (a browser session) or `basic`.
    pub amr: &'static str,
    /// The signed tenant assertion for the upstream, when `assertion:` is configured.
    pub assertion: Option<HeaderValue>,
    /// The validated credential the upstream gets as `Authorization` (routes with
    /// `forward_token`); on authenticated routes nothing else is forwarded.
    pub forward_authorization: Option<HeaderValue>,
    /// Cookies to set on the response (a refreshed session).
    pub set_cookies: Vec<String>,
    /// The request's slot under a concurrency limit, released when the request is logged.
    pub in_flight: Option<crate::limits::InFlight>,
    /// `RateLimit-Policy` / `RateLimit` for the response (`limits.headers_on_success`).
    pub rate_headers: Option<crate::limits::RateHeaders>,
}

impl RequestCtx {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            runtime: None,
            tenant: None,
            route: None,
            target: Target::default(),
            upstream_uri: None,
            request_id: HeaderValue::from_static("-"),
            tried: Vec::new(),
            retries: 0,
            reject: None,
            body_bytes: 0,
            identity: None,
            amr: "none",
            assertion: None,
            forward_authorization: None,
            set_cookies: Vec::new(),
            in_flight: None,
            rate_headers: None,
        }
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}
