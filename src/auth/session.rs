//! Encrypted cookies: the session (tokens, chunked across cookies when too large for one)
//! and the short-lived login-flow cookie that binds `state`, `nonce` and the PKCE verifier to
//! the browser. AES-GCM through the `cookie` crate's private jar; the cookie name is the
//! associated data, so a value cannot be moved to another cookie. Cookies are host-only (no
//! Domain), HttpOnly, SameSite=Lax, and Secure on HTTPS.

use crate::config::Secret;
use cookie::{Cookie, CookieJar, Key, SameSite};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

pub const SESSION_COOKIE: &str = "tg_session";
pub const FLOW_COOKIE_PREFIX: &str = "tg_flow_";
/// Browsers keep ~4096 bytes per cookie including name and attributes.
const CHUNK: usize = 3800;
const MAX_CHUNKS: usize = 10;

/// What a logged-in browser carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionData {
    /// Tenant id the session belongs to.
    pub tid: String,
    pub id_token: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    /// Unix seconds when the id token expires.
    pub exp: u64,
    /// Unix seconds after which the session ends regardless of refreshes.
    pub max_until: u64,
}

/// One login in progress (one per `state`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlowData {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub return_to: String,
    pub iat: u64,
}

/// True for cookies the gateway owns (never forwarded upstream).
pub fn is_gateway_cookie(name: &str) -> bool {
    name.starts_with(SESSION_COOKIE) || name.starts_with(FLOW_COOKIE_PREFIX)
}

/// Encrypts and decrypts the gateway's cookies.
pub struct SessionCodec {
    key: Key,
}

impl SessionCodec {
    /// `secret` is validated to be at least 32 bytes.
    pub fn new(secret: &Secret) -> Option<Self> {
        let bytes = secret.expose().as_bytes();
        (bytes.len() >= 32).then(|| Self {
            key: Key::derive_from(bytes),
        })
    }

    fn seal<T: Serialize>(&self, name: &str, value: &T) -> Option<String> {
        let json = serde_json::to_string(value).ok()?;
        let mut jar = CookieJar::new();
        jar.private_mut(&self.key)
            .add(Cookie::new(name.to_string(), json));
        jar.get(name).map(|c| c.value().to_string())
    }

    fn open<T: DeserializeOwned>(&self, name: &str, sealed: &str) -> Option<T> {
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new(name.to_string(), sealed.to_string()));
        let plain = jar.private(&self.key).get(name)?;
        serde_json::from_str(plain.value()).ok()
    }

    /// `Set-Cookie` values for a session; chunks the previous session had beyond the new
    /// count (`old_chunks`) are expired.
    pub fn session_cookies(
        &self,
        s: &SessionData,
        secure: bool,
        max_age: u64,
        old_chunks: usize,
    ) -> Vec<String> {
        let Some(sealed) = self.seal(SESSION_COOKIE, s) else {
            return vec![];
        };
        if sealed.len() > CHUNK * MAX_CHUNKS {
            // More chunks than `read_session` reads back: written, it could never be read.
            tracing::warn!(
                bytes = sealed.len(),
                "session too large for {MAX_CHUNKS} cookies; not written"
            );
            return vec![];
        }
        let mut out = Vec::new();
        if sealed.len() <= CHUNK {
            out.push(build(SESSION_COOKIE, &sealed, "/", secure, max_age));
            for i in 0..old_chunks {
                out.push(build(&format!("{SESSION_COOKIE}.{i}"), "", "/", secure, 0));
            }
        } else {
            let chunks: Vec<&str> = sealed
                .as_bytes()
                .chunks(CHUNK)
                .map(|c| std::str::from_utf8(c).unwrap_or_default())
                .collect();
            for (i, c) in chunks.iter().enumerate() {
                out.push(build(
                    &format!("{SESSION_COOKIE}.{i}"),
                    c,
                    "/",
                    secure,
                    max_age,
                ));
            }
            for i in chunks.len()..old_chunks {
                out.push(build(&format!("{SESSION_COOKIE}.{i}"), "", "/", secure, 0));
            }
            out.push(build(SESSION_COOKIE, "", "/", secure, 0));
        }
        out
    }

    /// `Set-Cookie` values that delete the session (all chunks seen on the request).
    pub fn clear_session(&self, secure: bool, old_chunks: usize) -> Vec<String> {
        let mut out = vec![build(SESSION_COOKIE, "", "/", secure, 0)];
        for i in 0..old_chunks {
            out.push(build(&format!("{SESSION_COOKIE}.{i}"), "", "/", secure, 0));
        }
        out
    }

    /// Reads the session from the request's cookies; `None` if absent or tampered with.
    pub fn read_session(&self, cookies: &RequestCookies) -> Option<SessionData> {
        let sealed = cookies.session_value()?;
        self.open(SESSION_COOKIE, &sealed)
    }

    pub fn flow_cookie(&self, f: &FlowData, callback_path: &str, secure: bool) -> Option<String> {
        let name = flow_name(&f.state);
        let sealed = self.seal(&name, f)?;
        Some(build(&name, &sealed, callback_path, secure, 600))
    }

    pub fn read_flow(&self, cookies: &RequestCookies, state: &str) -> Option<FlowData> {
        let name = flow_name(state);
        let sealed = cookies.get(&name)?;
        self.open(&name, sealed)
    }

    pub fn clear_flow(&self, state: &str, callback_path: &str, secure: bool) -> String {
        build(&flow_name(state), "", callback_path, secure, 0)
    }
}

fn flow_name(state: &str) -> String {
    let short: String = state
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(12)
        .collect();
    format!("{FLOW_COOKIE_PREFIX}{short}")
}

fn build(name: &str, value: &str, path: &str, secure: bool, max_age: u64) -> String {
    Cookie::build((name.to_string(), value.to_string()))
        .path(path.to_string())
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(
            max_age.min(i64::MAX as u64) as i64,
        ))
        .build()
        .to_string()
}

/// The cookies of one request, parsed once.
#[derive(Debug, Default)]
pub struct RequestCookies {
    pairs: Vec<(String, String)>,
}

impl RequestCookies {
    /// Parses every `Cookie` header value.
    pub fn parse<'a>(headers: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut pairs = Vec::new();
        for h in headers {
            let Ok(s) = std::str::from_utf8(h) else {
                continue;
            };
            for c in Cookie::split_parse(s).flatten() {
                pairs.push((c.name().to_string(), c.value().to_string()));
            }
        }
        Self { pairs }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Number of `tg_session.N` chunks present.
    pub fn session_chunks(&self) -> usize {
        (0..MAX_CHUNKS)
            .take_while(|i| self.get(&format!("{SESSION_COOKIE}.{i}")).is_some())
            .count()
    }

    fn session_value(&self) -> Option<String> {
        if let Some(v) = self.get(SESSION_COOKIE).filter(|v| !v.is_empty()) {
            return Some(v.to_string());
        }
        let n = self.session_chunks();
        (n > 0).then(|| {
            (0..n)
                .filter_map(|i| self.get(&format!("{SESSION_COOKIE}.{i}")))
                .collect()
        })
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
