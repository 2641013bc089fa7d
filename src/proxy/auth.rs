//! The authentication phase of a request: login endpoints (callback, logout) for tenants with
//! an IdP, then the route's auth mode and its group/scope requirements. Writes the answer
//! itself (redirect, 401/403/503 JSON, or an HTML error page for browsers) when the request
//! does not pass.

use super::{GatewayProxy, RequestCtx};
use crate::auth::{self, AuthError, BrowserRequest, LoginAnswer, Outcome, RequestCookies};
use crate::config::AuthMode;
use crate::metrics::METRICS;
use crate::store::Runtime;
use crate::tenant::{Route, Tenant};
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
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

/// Runs login endpoints and route authentication. `Ok(true)`: the response was written.
pub(super) async fn run(
    gw: &GatewayProxy,
    session: &mut Session,
    ctx: &mut RequestCtx,
    rt: &Runtime,
    tenant: &Tenant,
    route: Option<&Route>,
    path: &str,
) -> Result<bool> {
    let settings = &rt.routing.auth;
    let has_idp = tenant.auth.as_deref().is_some_and(|a| a.idp.is_some());
    let login_path = has_idp && (path == settings.callback_path || path == settings.logout_path);
    let mode = route.map_or(AuthMode::None, |r| r.auth);
    if !login_path && mode == AuthMode::None {
        return Ok(false);
    }
    let req = session.req_header();
    // API fast path: a bearer token needs none of the browser-login facts below.
    if !login_path && matches!(mode, AuthMode::Jwt | AuthMode::Oidc) {
        let authorization = req
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        if let Some(token) = auth::bearer(authorization) {
            let token = token.to_string();
            let outcome = gw.auth.bearer(&token, tenant, settings).await;
            return finish(session, ctx, tenant, route, mode, outcome).await;
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
    let path_and_query = req
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let query = req.uri.query().unwrap_or("").to_string();
    let authorization = req
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.as_bytes().to_vec());
    let browser = BrowserRequest {
        origin: &origin,
        path_and_query: &path_and_query,
        is_browser: is_browser(session),
        secure: gw.proto == "https",
        authorization: authorization.as_deref(),
        cookies: &cookies,
    };
    let codec = rt.session_codec.as_deref();

    if login_path {
        let Some(codec) = codec else {
            return deny(
                session,
                ctx,
                tenant,
                AuthError::LoginFailed("browser login is not configured".into()),
                false,
            )
            .await;
        };
        let answer = if path == settings.callback_path {
            gw.auth
                .callback(tenant, settings, codec, &query, &browser)
                .await
        } else {
            gw.auth.logout(tenant, codec, &browser).await
        };
        return login(session, ctx, answer, browser.is_browser).await;
    }

    let outcome = gw
        .auth
        .authenticate(mode, tenant, settings, codec, &browser)
        .await;
    finish(session, ctx, tenant, route, mode, outcome).await
}

/// Applies an authentication outcome: route requirements, metrics, and the answer when the
/// request does not pass.
async fn finish(
    session: &mut Session,
    ctx: &mut RequestCtx,
    tenant: &Tenant,
    route: Option<&Route>,
    mode: AuthMode,
    outcome: Outcome,
) -> Result<bool> {
    let Some(route) = route else { return Ok(false) };
    let count = |result: &str| {
        METRICS
            .auth
            .with_label_values(&[&tenant.metric_label, mode.as_str(), result])
            .inc()
    };
    match outcome {
        Outcome::Pass(a) => {
            if let Err(e) =
                auth::authorize(&a.identity, &route.require_groups, &route.require_scopes)
            {
                count(e.code());
                return deny(session, ctx, tenant, e, false).await;
            }
            count("ok");
            ctx.identity = Some(a.identity);
            ctx.forward_token = a.forward_token;
            ctx.set_cookies = a.set_cookies;
            Ok(false)
        }
        Outcome::Deny(e) => {
            count(e.code());
            deny(session, ctx, tenant, e, mode == AuthMode::Basic).await
        }
        Outcome::Login(answer) => {
            count("login_redirect");
            login(session, ctx, answer, true).await
        }
    }
}

async fn deny(
    session: &mut Session,
    ctx: &mut RequestCtx,
    tenant: &Tenant,
    e: AuthError,
    basic: bool,
) -> Result<bool> {
    ctx.reject = Some(e.code());
    if let AuthError::IdpUnavailable(detail) = &e {
        tracing::warn!(tenant = %tenant.subdomain, detail = %detail, "identity provider unavailable");
    }
    let body = serde_json::to_vec(&serde_json::json!({
        "error": e.error(),
        "reason": e.code(),
        "message": e.message(),
        "request_id": ctx.request_id.to_str().unwrap_or(""),
    }))
    .unwrap_or_default();
    let mut resp = ResponseHeader::build(e.status(), Some(6))?;
    resp.insert_header(http::header::CONTENT_TYPE, "application/json")?;
    resp.insert_header(http::header::CONTENT_LENGTH, body.len().to_string())?;
    resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
    resp.insert_header("x-request-id", ctx.request_id.clone())?;
    if let Some(c) = e.challenge(&tenant.subdomain, basic) {
        resp.insert_header(http::header::WWW_AUTHENTICATE, c)?;
    }
    write(session, resp, Bytes::from(body)).await
}

async fn login(
    session: &mut Session,
    ctx: &mut RequestCtx,
    answer: LoginAnswer,
    browser: bool,
) -> Result<bool> {
    match answer {
        LoginAnswer::Redirect {
            location,
            set_cookies,
        } => {
            ctx.reject = Some("login_redirect");
            let mut resp = ResponseHeader::build(302, Some(4 + set_cookies.len()))?;
            resp.insert_header(http::header::LOCATION, location)?;
            resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
            resp.insert_header(http::header::CONTENT_LENGTH, "0")?;
            resp.insert_header("x-request-id", ctx.request_id.clone())?;
            for c in set_cookies {
                resp.append_header(http::header::SET_COOKIE, c)?;
            }
            write(session, resp, Bytes::new()).await
        }
        LoginAnswer::Failed { error, set_cookies } => {
            ctx.reject = Some(error.code());
            let (ctype, body) = if browser {
                ("text/html; charset=utf-8", error_page(&error))
            } else {
                let v = serde_json::json!({
                    "error": error.error(),
                    "reason": error.code(),
                    "message": error.message(),
                    "request_id": ctx.request_id.to_str().unwrap_or(""),
                });
                ("application/json", v.to_string())
            };
            let mut resp = ResponseHeader::build(error.status(), Some(4 + set_cookies.len()))?;
            resp.insert_header(http::header::CONTENT_TYPE, ctype)?;
            resp.insert_header(http::header::CONTENT_LENGTH, body.len().to_string())?;
            resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
            resp.insert_header("x-request-id", ctx.request_id.clone())?;
            for c in set_cookies {
                resp.append_header(http::header::SET_COOKIE, c)?;
            }
            write(session, resp, Bytes::from(body)).await
        }
    }
}

async fn write(session: &mut Session, resp: ResponseHeader, body: Bytes) -> Result<bool> {
    let head_only = session.req_header().method == http::Method::HEAD || body.is_empty();
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if !head_only {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(true)
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
