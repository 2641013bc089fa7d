//! The limits step of `admit`: whose budget a request spends (tenant, user or client IP),
//! and the 429 `rate_limited` / 503 `concurrency_limited` answers with `Retry-After` and the
//! `RateLimit-Policy` / `RateLimit` headers.

use super::{Answer, Reject, RequestCtx};
use crate::config::LimitKey;
use crate::limits::{client_ip, Limits, Policy, Reason, Who};
use crate::runtime::Runtime;
use crate::tenant::Tenant;
use http::header::{HeaderName, HeaderValue};
use pingora::proxy::Session;

pub(super) const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub(super) const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Spends the request's budget under `policy`, or answers it. An admitted request keeps its
/// in-flight slot in `ctx` until it is logged.
pub(super) fn apply(
    limits: &Limits,
    session: &Session,
    ctx: &mut RequestCtx,
    rt: &Runtime,
    policy: &Policy,
    tenant: &Tenant,
) -> Option<Answer> {
    let settings = &rt.routing.limits;
    let who = match policy.key() {
        LimitKey::Tenant => Who::Tenant,
        LimitKey::User => ctx
            .identity
            .as_ref()
            .map_or(Who::Tenant, |i| Who::User(i.sub.as_str().into())),
        LimitKey::ClientIp => {
            let socket = session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip());
            let xff = session.req_header().headers.get_all("x-forwarded-for");
            client_ip(socket, xff.iter(), settings).map_or(Who::Tenant, Who::Ip)
        }
    };
    match limits.check(settings, policy, tenant, who) {
        Ok(admitted) => {
            ctx.in_flight = admitted.in_flight;
            if settings.headers_on_success {
                ctx.rate_headers = admitted.headers;
            }
            None
        }
        Err(limited) => Some(refuse(limited)),
    }
}

/// Under per-user limits: refuses the request before authentication when the budget that
/// requests without a user spend is gone (see `Limits::refused_before_auth`).
pub(super) fn before_auth(limits: &Limits, policy: &Policy, tenant: &Tenant) -> Option<Answer> {
    limits.refused_before_auth(policy, tenant).map(refuse)
}

/// The 429 or 503 answer, with `Retry-After` and the rate headers.
fn refuse(limited: crate::limits::Limited) -> Answer {
    let reject = match limited.reason {
        Reason::Rate => Reject::RateLimited,
        Reason::InFlight => Reject::ConcurrencyLimited,
    };
    let mut answer = Answer::from(reject).with_header(
        http::header::RETRY_AFTER,
        HeaderValue::from(limited.retry_after),
    );
    if let Some(h) = limited.headers {
        answer = answer
            .with_header(RATELIMIT_POLICY, h.policy)
            .with_header(RATELIMIT, h.state);
    }
    answer
}
