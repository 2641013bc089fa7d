//! The Pingora `ProxyHttp` implementation. Each phase is short and calls plain functions:
//! admit the request (`request_filter`: head checks and canonical path, tenant, route, TLS
//! checks, authentication), pick a backend (`upstream_peer`), rewrite headers
//! (`upstream_request_filter`), map failures to JSON answers (`fail_to_proxy`), and record
//! metrics and the access log (`logging`).

mod answer;
mod auth;
mod ctx;
pub mod gate;
mod head;
mod headers;
mod limit;
mod reject;
mod tls;

pub use answer::Answer;
pub use ctx::RequestCtx;
pub use reject::Reject;

use crate::access_log::{self, AccessLog, Entry};
use crate::metrics::METRICS;
use crate::runtime::{Runtime, RuntimeHandle};
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{ErrorSource, ErrorType};

/// The gateway's proxy logic; one instance serves every listener and tenant.
#[derive(Clone)]
pub struct GatewayProxy {
    runtime: RuntimeHandle,
    auth: std::sync::Arc<crate::auth::Authenticator>,
    /// HTTP-01 answers (plain listener with ACME only).
    challenges: Option<std::sync::Arc<crate::tls::challenges::Http01Challenges>>,
    access_log: AccessLog,
    /// `https` for TLS listeners, `http` otherwise (X-Forwarded-Proto).
    proto: &'static str,
    /// Signs the tenant assertion upstreams receive (`assertion:` configured).
    assertions: Option<std::sync::Arc<crate::assertion::Assertions>>,
    /// Rate and concurrency state of every tenant; shared by listeners, kept across reloads.
    limits: std::sync::Arc<crate::limits::Limits>,
}

impl GatewayProxy {
    pub fn new(
        runtime: RuntimeHandle,
        auth: std::sync::Arc<crate::auth::Authenticator>,
        access_log: AccessLog,
        proto: &'static str,
    ) -> Self {
        Self {
            runtime,
            auth,
            challenges: None,
            access_log,
            proto,
            assertions: None,
            limits: Default::default(),
        }
    }

    /// Shares rate and concurrency state with the other listeners' proxies.
    pub fn with_limits(mut self, limits: std::sync::Arc<crate::limits::Limits>) -> Self {
        self.limits = limits;
        self
    }

    /// Sends upstreams the signed tenant assertion and serves its JWKS on tenant hosts.
    pub fn with_assertions(
        mut self,
        assertions: Option<std::sync::Arc<crate::assertion::Assertions>>,
    ) -> Self {
        self.assertions = assertions;
        self
    }

    /// Answers ACME HTTP-01 challenges from `challenges` (the plain listener).
    pub fn with_challenges(
        mut self,
        challenges: std::sync::Arc<crate::tls::challenges::Http01Challenges>,
    ) -> Self {
        self.challenges = Some(challenges);
        self
    }

    /// The tenant assertion for an authenticated request, or for a route that asks for one:
    /// `Ok(None)` when the request needs none, `Err` when it needs one that cannot be signed.
    fn assertion(
        &self,
        a: &crate::assertion::Assertions,
        session: &Session,
        ctx: &RequestCtx,
    ) -> std::result::Result<Option<http::HeaderValue>, Reject> {
        let (Some(tenant), Some(route)) = (ctx.tenant.as_deref(), ctx.route.as_ref()) else {
            return Ok(None);
        };
        let identity = ctx.identity.as_deref();
        if identity.is_none() && !route.assertion {
            return Ok(None);
        }
        let host = crate::host::normalize(raw_host(session.req_header()))
            .map_err(|_| Reject::MalformedHost)?;
        let idp_iss = match ctx.amr {
            "basic" => Some(a.issuer()),
            _ => tenant
                .auth
                .as_deref()
                .and_then(|t| t.idp.as_ref())
                .map(|i| i.issuer.as_str()),
        };
        a.assertion(&crate::assertion::Facts {
            tenant,
            audience: route.assertion_audience.as_deref().unwrap_or(&host),
            identity,
            amr: ctx.amr,
            idp_iss,
        })
        .map(Some)
        .ok_or(Reject::AssertionUnavailable)
    }

    /// The steps every request goes through, in order; the first that answers ends it:
    /// the request head and its canonical path, ACME challenges, the tenant, the route, TLS
    /// checks, tenant limits, authentication (then per-user limits), then the route and body
    /// checks that need the rest.
    async fn admit(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        rt: &Runtime,
    ) -> Result<Option<Answer>> {
        ctx.target = match head::check(session.req_header(), &rt.routing.request) {
            Ok(t) => t,
            Err(r) => return Ok(Some(r.into())),
        };
        if let Some(a) = tls::acme_challenge(self, session, ctx).await {
            return Ok(Some(a));
        }
        let req = session.req_header();
        let path = ctx.target.path(req);
        let resolved = match rt.snapshot.resolve(raw_host(req), path) {
            Ok(r) => r,
            Err(e) => {
                if let crate::tenant::ResolveError::Disabled(t) = &e {
                    ctx.tenant = Some(t.clone());
                }
                return Ok(Some(Reject::from(&e).into()));
            }
        };
        let read_only = matches!(req.method, http::Method::GET | http::Method::HEAD);
        if read_only && path == crate::assertion::JWKS_PATH {
            if let Some(a) = &self.assertions {
                let jwks = a.jwks();
                let max_age = a.jwks_max_age();
                return Ok(Some(Answer::document(
                    "jwks",
                    "application/jwk-set+json",
                    jwks,
                    max_age,
                )));
            }
        }
        let matched = resolved.route(path);
        let endpoint = auth::login_endpoint(rt, &resolved.tenant, resolved.match_path(path));
        let upstream_path = matched.upstream_path.as_deref().unwrap_or(path);
        if matched.upstream_path.is_some() || ctx.target.needs_rewrite() {
            ctx.upstream_uri = head::origin_form(upstream_path, ctx.target.query(req));
        }
        let tenant = resolved.tenant;
        ctx.tenant = Some(tenant.clone());
        ctx.route = matched.route;
        if self.proto == "http" && resolved.redirect_https {
            if let Some(r) = &rt.routing.https_redirect {
                return Ok(Some(tls::redirect_to_https(session, ctx, r.port)));
            }
        }
        if self.proto == "https" && tls::misdirected(session, &rt.snapshot, &tenant) {
            return Ok(Some(Reject::MisdirectedRequest.into()));
        }
        let route = ctx.route.clone();
        // Limits count before authentication (a flood of bad tokens spends the tenant's
        // budget), except per-user ones, which need the user.
        let policy = crate::limits::policy(&rt.routing.limits, &tenant, route.as_ref());
        let (per_user, before_auth) = match policy {
            Some(p) if p.key() == crate::config::LimitKey::User => (Some(p), None),
            p => (None, p),
        };
        if let Some(p) = &before_auth {
            if let Some(a) = limit::apply(&self.limits, session, ctx, rt, p, &tenant) {
                return Ok(Some(a));
            }
        }
        if let Some(p) = &per_user {
            if let Some(a) = limit::before_auth(&self.limits, p, &tenant) {
                return Ok(Some(a));
            }
        }
        if let Some(a) = auth::run(self, session, ctx, rt, &tenant, route.as_ref(), endpoint).await
        {
            // Under per-user limits a refused credential has no user: it spends the tenant's
            // budget, so a flood of bad tokens is limited too.
            if let Some(p) = &per_user {
                if let Some(limited) = limit::apply(&self.limits, session, ctx, rt, p, &tenant) {
                    return Ok(Some(limited));
                }
            }
            return Ok(Some(a));
        }
        if let Some(p) = &per_user {
            if let Some(a) = limit::apply(&self.limits, session, ctx, rt, p, &tenant) {
                return Ok(Some(a));
            }
        }
        if route.is_none() {
            return Ok(Some(Reject::NoRoute.into()));
        }
        let declared = session
            .req_header()
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > rt.routing.max_request_body_bytes) {
            return Ok(Some(Reject::BodyTooLarge.into()));
        }
        if let Some(a) = &self.assertions {
            // Never forward a request that needs an assertion without one.
            match self.assertion(a, session, ctx) {
                Ok(v) => ctx.assertion = v,
                Err(r) => return Ok(Some(r.into())),
            }
        }
        Ok(None)
    }
}

fn client_went_away(e: &Error) -> bool {
    e.esource() == &ErrorSource::Downstream
        && matches!(
            e.etype(),
            ErrorType::ConnectionClosed
                | ErrorType::ReadError
                | ErrorType::WriteError
                | ErrorType::H2Error
        )
}

/// The request's host: `Host` (HTTP/1) or the URI authority (HTTP/2).
fn raw_host(req: &RequestHeader) -> &[u8] {
    match req.headers.get(http::header::HOST) {
        Some(h) => h.as_bytes(),
        None => req
            .uri
            .authority()
            .map_or(&b""[..], |a| a.as_str().as_bytes()),
    }
}

#[async_trait]
impl ProxyHttp for GatewayProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new()
    }

    /// Admits the request or answers it (see [`GatewayProxy::admit`]); the configuration
    /// version loaded here is the one the request finishes on.
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let runtime = self.runtime.load_full();
        ctx.runtime = Some(runtime.clone());
        ctx.request_id = headers::request_id(session.req_header());
        match self.admit(session, ctx, &runtime).await? {
            Some(answer) => {
                answer.write(session, ctx).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Enforces the body limit on streamed (chunked) bodies too.
    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let (Some(b), Some(rt)) = (body, &ctx.runtime) {
            ctx.body_bytes += b.len() as u64;
            if ctx.body_bytes > rt.routing.max_request_body_bytes {
                ctx.reject = Some(Reject::BodyTooLarge.code());
                return Error::e_explain(ErrorType::HTTPStatus(413), "request body over limit");
            }
        }
        Ok(())
    }

    /// Picks a healthy backend of the route's pool that this request has not failed on yet.
    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let (Some(rt), Some(route), Some(tenant)) = (&ctx.runtime, &ctx.route, &ctx.tenant) else {
            return Error::e_explain(ErrorType::InternalError, "no route selected");
        };
        let Some(pool) = rt.pools.get(route.pool) else {
            return Error::e_explain(ErrorType::InternalError, "route names a missing pool");
        };
        match pool.select(tenant.id.0.as_bytes(), &ctx.tried) {
            Some(addr) => {
                ctx.tried.push(addr);
                Ok(pool.peer(addr))
            }
            None => {
                METRICS
                    .upstream_errors
                    .with_label_values(&[pool.name(), "no_healthy_backend"])
                    .inc();
                Err(Error::create(
                    ErrorType::Custom(reject::NO_HEALTHY_BACKEND),
                    ErrorSource::Upstream,
                    Some(format!("pool {}", pool.name()).into()),
                    None,
                ))
            }
        }
    }

    /// A failed connect is retried on another backend while the pool's retry budget lasts.
    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        let pool = match (&ctx.runtime, &ctx.route) {
            (Some(rt), Some(route)) => rt.pools.get(route.pool).cloned(),
            _ => None,
        };
        if let (Some(pool), Some(tenant)) = (pool, &ctx.tenant) {
            METRICS
                .upstream_errors
                .with_label_values(&[pool.name(), "connect"])
                .inc();
            // Retry only while another backend is left; otherwise the client sees this error.
            let other = pool.select(tenant.id.0.as_bytes(), &ctx.tried).is_some();
            if other && ctx.retries < pool.max_retries() {
                ctx.retries += 1;
                e.set_retry(true);
            }
        }
        e
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        headers::strip_spoofed(upstream);
        let authenticated = ctx
            .route
            .as_ref()
            .is_some_and(|r| r.auth != crate::config::AuthMode::None);
        if authenticated {
            // The upstream gets the credential that was validated, or none at all.
            upstream.remove_header(&http::header::AUTHORIZATION);
            if let Some(v) = ctx.forward_authorization.take() {
                upstream.insert_header(http::header::AUTHORIZATION, v)?;
            }
        }
        if let Some(tenant) = &ctx.tenant {
            // The client's Host value itself (a shared buffer, not a copy); HTTP/2 has none.
            let req = session.req_header();
            let host = match req.headers.get(http::header::HOST) {
                Some(h) => Some(h.clone()),
                None => http::HeaderValue::from_bytes(raw_host(req)).ok(),
            };
            headers::add_gateway_headers(
                upstream,
                headers::Forwarded {
                    tenant,
                    request_id: &ctx.request_id,
                    client_ip: session
                        .client_addr()
                        .and_then(|a| a.as_inet())
                        .map(|a| a.ip()),
                    proto: self.proto,
                    host,
                },
            )?;
        }
        if let Some(identity) = &ctx.identity {
            headers::add_identity_headers(upstream, identity)?;
        }
        if let Some(a) = &self.assertions {
            upstream.remove_header(a.header_name());
            if let Some(v) = ctx.assertion.take() {
                upstream.insert_header(a.header_name().clone(), v)?;
            }
        }
        headers::strip_gateway_cookies(upstream)?;
        if let Some(uri) = ctx.upstream_uri.take() {
            upstream.set_uri(uri);
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // Draining (shutdown or upgrade): tell HTTP/1 clients this connection ends with this
        // response, so none sends its next request into a connection being closed.
        if (session.is_process_shutting_down() || gate::draining()) && !session.is_http2() {
            resp.insert_header(http::header::CONNECTION, "close")?;
            session.set_keepalive(None);
        }
        for c in ctx.set_cookies.drain(..) {
            resp.append_header(http::header::SET_COOKIE, c)?;
        }
        if let Some(h) = ctx.rate_headers.take() {
            resp.insert_header(limit::RATELIMIT_POLICY, h.policy)?;
            resp.insert_header(limit::RATELIMIT, h.state)?;
        }
        resp.insert_header("x-request-id", ctx.request_id.clone())
    }

    /// Upstream and downstream failures become a JSON answer with the right status.
    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let Some(r) = Reject::from_error(e) else {
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        };
        if e.esource() == &ErrorSource::Upstream {
            if let (Some(rt), Some(route)) = (&ctx.runtime, &ctx.route) {
                if let Some(pool) = rt.pools.get(route.pool) {
                    let kind = if r == Reject::BackendTimeout {
                        "timeout"
                    } else {
                        "error"
                    };
                    METRICS
                        .upstream_errors
                        .with_label_values(&[pool.name(), kind])
                        .inc();
                }
            }
        }
        ctx.reject = Some(r.code());
        if session.response_written().is_none() {
            if let Err(err) = Answer::from(r).write(session, ctx).await {
                tracing::debug!(error = %err, "could not write error response");
            }
        }
        FailToProxy {
            error_code: r.status(),
            can_reuse_downstream: false,
        }
    }

    /// What a client causes (hanging up mid-request, a malformed body, a protocol error) is not
    /// a gateway error: no ERROR line for it, only a debug one (the access log records it).
    fn suppress_error_log(&self, _session: &Session, _ctx: &RequestCtx, e: &Error) -> bool {
        let client_caused = e.esource() == &ErrorSource::Downstream;
        if client_caused {
            tracing::debug!(error = %e, "client error");
        }
        client_caused
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        // The request is done: release its in-flight slot.
        ctx.in_flight.take();
        if e.is_some_and(client_went_away) && ctx.reject.is_none() {
            ctx.reject = Some("client_closed");
        }
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let elapsed = ctx.start.elapsed();
        match &ctx.tenant {
            Some(t) => t.request_metrics.record(
                &t.metric_label,
                ctx.route.as_ref().map(|r| (r.index, &*r.name)),
                t.routes.len(),
                status,
                elapsed.as_secs_f64(),
            ),
            None => {
                crate::metrics_handles::count("none", "none", status);
                METRICS
                    .request_duration
                    .with_label_values(&["none"])
                    .observe(elapsed.as_secs_f64());
            }
        }
        if !self.access_log.enabled() {
            return;
        }
        let req = session.req_header();
        let ts = access_log::now_rfc3339();
        let entry = Entry {
            ts: &ts,
            request_id: ctx.request_id.to_str().unwrap_or("-"),
            tenant_id: ctx.tenant.as_ref().and_then(|t| t.headers.id.to_str().ok()),
            tenant: ctx.tenant.as_ref().map(|t| t.subdomain.as_str()),
            route: ctx.route.as_ref().map(|r| &*r.name),
            method: req.method.as_str(),
            host: std::str::from_utf8(raw_host(req)).unwrap_or("-"),
            path: ctx.target.path(req),
            proto: if session.is_http2() { "h2" } else { "http/1.1" },
            status,
            latency_ms: elapsed.as_secs_f64() * 1000.0,
            upstream: ctx.tried.last().copied(),
            attempts: ctx.tried.len(),
            client_ip: session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip()),
            error: ctx.reject,
        };
        self.access_log.write(&entry);
    }
}
