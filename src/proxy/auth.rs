//! The authentication phase of a request: login endpoints (callback, logout) for tenants with
//! an IdP, then the route's auth mode and its group/scope requirements. Returns the answer
//! (redirect, 401/403/503 JSON, or an HTML error page for browsers) when the request does not
//! pass, and records which credential the upstream may receive when it does.

use super::{Answer, GatewayProxy, RequestCtx};
use crate::auth::{self, AuthError, BrowserRequest, LoginAnswer, Outcome, RequestCookies};
use crate::config::AuthMode;
use crate::metrics::METRICS;
use crate::runtime::Runtime;
use crate::tenant::{Route, Tenant};
use http::HeaderValue;
use pingora::proxy::Session;

fn is_browser(session: &Session) -> bool {
    let req = session.req_header();
    (req.method == http::Method::GET || req.method == http::Method::HEAD)
        && req
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
}

/// A login endpoint the gateway answers itself for tenants with an IdP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LoginEndpoint {
    Callback,
    Logout,
}

/// Which login endpoint `path` (canonical, within the tenant) is, if any.
pub(super) fn login_endpoint(rt: &Runtime, tenant: &Tenant, path: &str) -> Option<LoginEndpoint> {
    let settings = &rt.routing.auth;
    tenant.auth.as_deref()?.idp.as_ref()?;
    if path == settings.callback_path {
        Some(LoginEndpoint::Callback)
    } else if path == settings.logout_path {
        Some(LoginEndpoint::Logout)
    } else {
        None
    }
}

/// Runs a login endpoint (see [`login_endpoint`]) or the route's authentication; `Some` is
/// the answer when the request does not pass.
pub(super) async fn run(
    gw: &GatewayProxy,
    session: &Session,
    ctx: &mut RequestCtx,
    rt: &Runtime,
    tenant: &Tenant,
    route: Option<&Route>,
    endpoint: Option<LoginEndpoint>,
) -> Option<Answer> {
    let login_path = endpoint.is_some();
    let settings = &rt.routing.auth;
    let mode = route.map_or(AuthMode::None, |r| r.auth);
    if !login_path && mode == AuthMode::None {
        return None;
    }
    let req = session.req_header();
    let authorization = req.headers.get(http::header::AUTHORIZATION).cloned();
    // API fast path: a bearer token needs none of the browser-login facts below.
    if !login_path && matches!(mode, AuthMode::Jwt | AuthMode::Oidc) {
        if let Some(token) = auth::bearer(authorization.as_ref().map(|v| v.as_bytes())) {
            let outcome = gw.auth.bearer(token, tenant, settings).await;
            return finish(ctx, tenant, route, mode, outcome, authorization);
        }
    }
    let cookies = RequestCookies::parse(
        req.headers
            .get_all(http::header::COOKIE)
            .iter()
            .map(|v| v.as_bytes()),
    );
    let origin = format!(
        "{}://{}",
        gw.proto,
        std::str::from_utf8(super::raw_host(req)).unwrap_or("")
    );
    let query = ctx.target.query(req).unwrap_or("").to_string();
    let path_and_query = match ctx.target.query(req) {
        Some(q) => format!("{}?{q}", ctx.target.path(req)),
        None => ctx.target.path(req).to_string(),
    };
    let browser = BrowserRequest {
        origin: &origin,
        path_and_query: &path_and_query,
        is_browser: is_browser(session),
        secure: gw.proto == "https",
        authorization: authorization.as_ref().map(|v| v.as_bytes()),
        cookies: &cookies,
    };
    let codec = rt.session_codec.as_deref();

    if login_path {
        let Some(codec) = codec else {
            return Some(deny(
                tenant,
                AuthError::LoginFailed("browser login is not configured".into()),
                false,
            ));
        };
        let answer = if endpoint == Some(LoginEndpoint::Callback) {
            gw.auth
                .callback(tenant, settings, codec, &query, &browser)
                .await
        } else {
            gw.auth.logout(tenant, codec, &browser).await
        };
        return Some(login(answer, browser.is_browser));
    }

    let outcome = gw
        .auth
        .authenticate(mode, tenant, settings, codec, &browser)
        .await;
    finish(ctx, tenant, route, mode, outcome, authorization)
}

/// Applies an authentication outcome: route requirements, metrics, the credential the
/// upstream may get, and the answer when the request does not pass.
fn finish(
    ctx: &mut RequestCtx,
    tenant: &Tenant,
    route: Option<&Route>,
    mode: AuthMode,
    outcome: Outcome,
    authorization: Option<HeaderValue>,
) -> Option<Answer> {
    let route = route?;
    let count = |result: &str| {
        METRICS
            .auth
            .with_label_values(&[&tenant.metric_label, mode.as_str(), result])
            .inc()
    };
    match outcome {
        Outcome::Pass(a) => {
            let has_bearer = auth::bearer(authorization.as_ref().map(|v| v.as_bytes())).is_some();
            if let Err(e) =
                auth::authorize(&a.identity, &route.require_groups, &route.require_scopes)
            {
                count(e.code());
                return Some(deny(tenant, e, false));
            }
            count("ok");
            let idp_default = tenant
                .auth
                .as_deref()
                .and_then(|t| t.idp.as_ref())
                .is_some_and(|i| i.forward_token);
            if route.forward_token.unwrap_or(idp_default) {
                // A session's access token, or the header that was just validated.
                ctx.forward_authorization = match &a.forward_token {
                    Some(t) => HeaderValue::from_str(&format!("Bearer {t}")).ok(),
                    None => authorization,
                };
            }
            ctx.amr = match mode {
                AuthMode::Basic => "basic",
                _ if has_bearer => "jwt",
                _ => "oidc",
            };
            ctx.identity = Some(a.identity);
            ctx.set_cookies = a.set_cookies;
            None
        }
        Outcome::Deny(e) => {
            // A bearer token of another tenant's IdP (its issuer, so a key or issuer this
            // tenant does not trust) is a valid identity of the wrong tenant: 403, not 401.
            // Its `iss` is read unverified, only to choose between the two answers.
            let other_tenants_token = || {
                let token = auth::bearer(authorization.as_ref().map(|v| v.as_bytes()))?;
                let iss = auth::jwt::unverified_issuer(token)?;
                let own = tenant.auth.as_deref().and_then(|a| a.idp.as_ref());
                if own.is_some_and(|i| i.issuer == iss) {
                    return None;
                }
                let owner = ctx.runtime.as_ref()?.snapshot.issuer_owner(&iss)?;
                (owner != tenant.id).then_some(owner)
            };
            // A token of the same issuer (a shared user pool) issued to another tenant's app
            // client: the same answer.
            let other_tenants_client = || {
                let token = auth::bearer(authorization.as_ref().map(|v| v.as_bytes()))?;
                let (iss, client) = auth::jwt::unverified_client(token)?;
                let owner = ctx.runtime.as_ref()?.snapshot.client_owner(&iss, &client)?;
                (owner != tenant.id).then_some(owner)
            };
            let e = match e {
                AuthError::InvalidToken("wrong_issuer" | "unknown_kid" | "bad_signature")
                    if other_tenants_token().is_some() =>
                {
                    AuthError::TenantMismatch
                }
                AuthError::InvalidToken("wrong_audience") if other_tenants_client().is_some() => {
                    AuthError::TenantMismatch
                }
                e => e,
            };
            count(e.code());
            Some(deny(tenant, e, mode == AuthMode::Basic))
        }
        Outcome::Login(answer) => {
            count("login_redirect");
            Some(login(answer, true))
        }
    }
}

fn deny(tenant: &Tenant, e: AuthError, basic: bool) -> Answer {
    if let AuthError::IdpUnavailable(detail) = &e {
        tracing::warn!(tenant = %tenant.subdomain, detail = %detail, "identity provider unavailable");
    }
    error_answer(&e, false).with_challenge(&e, &tenant.subdomain, basic)
}

/// The JSON (or, for browsers, HTML) answer of an authentication error.
fn error_answer(e: &AuthError, browser: bool) -> Answer {
    let mut a = Answer::error(e.status(), e.error(), e.message()).with_reason(e.code());
    if let Some(secs) = e.retry_after() {
        a = a.with_header(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if browser {
        a = a.with_html(error_page(e));
    }
    a
}

trait WithChallenge {
    fn with_challenge(self, e: &AuthError, realm: &str, basic: bool) -> Self;
}

impl WithChallenge for Answer {
    fn with_challenge(self, e: &AuthError, realm: &str, basic: bool) -> Self {
        match e
            .challenge(realm, basic)
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            Some(v) => self.with_header(http::header::WWW_AUTHENTICATE, v),
            None => self,
        }
    }
}

fn login(answer: LoginAnswer, browser: bool) -> Answer {
    match answer {
        LoginAnswer::Redirect {
            location,
            set_cookies,
        } => Answer::redirect(302, "login_redirect", &location).with_cookies(set_cookies),
        LoginAnswer::Failed { error, set_cookies } => {
            error_answer(&error, browser).with_cookies(set_cookies)
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A plain page with the reason and a way to start again; it never redirects by itself.
fn error_page(e: &AuthError) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign-in problem</title></head>\
         <body><h1>Sign-in problem</h1><p>{}</p><p><a href=\"/\">Start again</a></p></body></html>",
        escape(&e.message())
    )
}
