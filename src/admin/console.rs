//! The operator console at `/ui/` on the admin listener: static HTML/CSS/JS embedded in the
//! binary, using the admin API itself. Sign-in exchanges the admin token for a session
//! cookie (HttpOnly, SameSite=Strict, one hour) and a CSRF token that the page keeps in
//! memory and sends with every write; the token is never stored in the browser.

use super::json_response;
use base64::Engine;
use http::{Method, Response, StatusCode};
use pingora::http::RequestHeader;
use rand::RngCore;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The console's session cookie.
pub const COOKIE: &str = "tg_console";
/// The header a cookie-authenticated write must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a console session lasts.
const SESSION_TTL: Duration = Duration::from_secs(3600);
/// Sessions held at once (each is a sign-in with the admin token).
const MAX_SESSIONS: u64 = 1000;

/// Nothing but this origin's own files; no inline script or style, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const INDEX: &str = include_str!("console/index.html");
const APP_JS: &str = include_str!("console/app.js");
const APP_CSS: &str = include_str!("console/app.css");

/// A signed-in console session.
struct Session {
    csrf: String,
}

/// Console sessions (server-side: the cookie is a random id).
pub struct Console {
    sessions: moka::sync::Cache<String, Arc<Session>>,
}

/// How a request to a protected admin endpoint authenticated.
pub enum Caller {
    /// `Authorization: Bearer <admin token>`.
    Bearer,
    /// The console's cookie (and, for writes, its CSRF token).
    Console,
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn cookie_value<'a>(req: &'a RequestHeader, name: &str) -> Option<&'a str> {
    req.headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

fn static_file(content_type: &str, body: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .header("content-security-policy", CSP)
        .header("x-content-type-options", "nosniff")
        .header("x-frame-options", "DENY")
        .header("referrer-policy", "no-referrer")
        .header("cache-control", "no-store")
        .body(body.as_bytes().to_vec())
        .unwrap_or_default()
}

impl Default for Console {
    fn default() -> Self {
        Self {
            sessions: moka::sync::Cache::builder()
                .max_capacity(MAX_SESSIONS)
                .time_to_live(SESSION_TTL)
                .build(),
        }
    }
}

impl Console {
    fn session(&self, req: &RequestHeader) -> Option<Arc<Session>> {
        let id = cookie_value(req, COOKIE)?;
        (id.len() == 43).then(|| self.sessions.get(id)).flatten()
    }

    /// Whether `req` carries a console session: `Some(Ok)` when it may proceed (a read, or
    /// a write with the session's CSRF token), `Some(Err)` for a write without it, `None`
    /// without a session.
    pub fn authorize(&self, req: &RequestHeader) -> Option<Result<Caller, Response<Vec<u8>>>> {
        let session = self.session(req)?;
        if is_read(&req.method) {
            return Some(Ok(Caller::Console));
        }
        let presented = req
            .headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        Some(if bool::from(presented.ct_eq(session.csrf.as_bytes())) {
            Ok(Caller::Console)
        } else {
            Err(super::error(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "a console write needs the session's X-CSRF-Token header",
            ))
        })
    }

    /// Serves `/ui/...`; `None` for other paths. `token` is the admin token sign-in checks.
    pub fn handle(
        &self,
        token: Option<&str>,
        req: &RequestHeader,
        body: &[u8],
    ) -> Option<Response<Vec<u8>>> {
        let path = req.uri.path();
        if path == "/ui" {
            return Some(
                Response::builder()
                    .status(StatusCode::MOVED_PERMANENTLY)
                    .header("location", "/ui/")
                    .body(Vec::new())
                    .unwrap_or_default(),
            );
        }
        let rest = path.strip_prefix("/ui/")?;
        Some(match (&req.method, rest) {
            (&Method::GET, "" | "index.html") => static_file("text/html; charset=utf-8", INDEX),
            (&Method::GET, "app.js") => static_file("text/javascript; charset=utf-8", APP_JS),
            (&Method::GET, "app.css") => static_file("text/css; charset=utf-8", APP_CSS),
            (&Method::GET, "session") => match self.session(req) {
                Some(s) => json_response(StatusCode::OK, json!({ "csrf": s.csrf })),
                None => super::error(StatusCode::UNAUTHORIZED, "unauthorized", "not signed in"),
            },
            (&Method::POST, "session") => self.sign_in(token, req, body),
            (&Method::DELETE, "session") => match self.authorize(req) {
                Some(Ok(_)) => {
                    if let Some(id) = cookie_value(req, COOKIE) {
                        self.sessions.invalidate(id);
                    }
                    let mut resp = json_response(StatusCode::OK, json!({ "signed_out": true }));
                    if let Ok(v) = http::HeaderValue::from_str(&format!(
                        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
                    )) {
                        resp.headers_mut().insert(http::header::SET_COOKIE, v);
                    }
                    resp
                }
                Some(Err(resp)) => resp,
                None => super::error(StatusCode::UNAUTHORIZED, "unauthorized", "not signed in"),
            },
            _ => super::error(StatusCode::NOT_FOUND, "not_found", "no such console page"),
        })
    }

    fn sign_in(&self, token: Option<&str>, req: &RequestHeader, body: &[u8]) -> Response<Vec<u8>> {
        let Some(expected) = token else {
            return super::error(
                StatusCode::FORBIDDEN,
                "admin_disabled",
                "no admin token is configured (admin.token_env or admin.token_file)",
            );
        };
        let presented = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("token")?.as_str().map(str::to_string))
            .unwrap_or_default();
        if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
            tracing::warn!("console sign-in refused: wrong admin token");
            return super::error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "that is not the admin token",
            );
        }
        let id = random_token();
        let csrf = random_token();
        self.sessions
            .insert(id.clone(), Arc::new(Session { csrf: csrf.clone() }));
        // The admin listener has no TLS of its own; behind a TLS-terminating proxy the
        // browser sees https and the cookie is marked Secure.
        let secure = req
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        let cookie = format!(
            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            SESSION_TTL.as_secs(),
            if secure { "; Secure" } else { "" }
        );
        tracing::info!("console sign-in");
        let mut resp = json_response(StatusCode::OK, json!({ "csrf": csrf }));
        if let Ok(v) = http::HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(http::header::SET_COOKIE, v);
        }
        resp
    }
}
