//! Per-tenant authentication: bearer JWTs validated against each issuer's JWKS, browser login
//! through the tenant's OIDC/Cognito IdP (authorization code + PKCE, encrypted session
//! cookies), HTTP Basic for webhook paths, and group/scope checks. Nothing here touches
//! Pingora: the proxy passes plain header values in and writes the answers out.

mod authenticator;
pub(crate) mod basic;
pub mod cache;
mod discovery;
mod error;
mod http_body;
pub mod jwks;
pub mod jwt;
mod oidc;
mod refresh;
pub(crate) mod session;

pub use authenticator::{
    bearer, hash_password, Authenticator, BrowserRequest, LoginAnswer, Outcome,
};
pub use error::AuthError;
pub use refresh::KeyRefresher;
pub use session::RequestCookies;
pub use session::{is_gateway_cookie, SessionCodec};

use std::sync::Arc;

/// Which token a bearer credential was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Id,
    Access,
}

/// Who made the request, as the upstream is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub sub: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
    pub scopes: Vec<String>,
    /// (header, value) pairs from the tenant's `claim_headers`.
    pub extra_headers: Vec<(String, ClaimValue)>,
    /// Unix seconds; `u64::MAX` for credentials that do not expire (Basic).
    pub expires_at: u64,
    pub kind: Option<TokenKind>,
    /// Claims copied into the tenant assertion (`assertion.copy_claims`), as the token had them.
    pub copied: Vec<(String, serde_json::Value)>,
}

/// A claim copied to an upstream header: one string, or a list (sent as a structured-field
/// list so that no item can pass for two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimValue {
    One(String),
    List(Vec<String>),
}

/// The outcome of authenticating one request.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub identity: Arc<Identity>,
    /// The session's access token, which the upstream gets as `Authorization: Bearer` on
    /// routes with `forward_token` (for bearer and Basic requests it is the request's own).
    pub forward_token: Option<String>,
    /// Cookies to set on the response (a refreshed session).
    pub set_cookies: Vec<String>,
}

/// Checks `require_groups` (any one of them) and `require_scopes` (all of them).
pub fn authorize(
    identity: &Identity,
    require_groups: &[String],
    require_scopes: &[String],
) -> Result<(), AuthError> {
    if !require_groups.is_empty() && !require_groups.iter().any(|g| identity.groups.contains(g)) {
        return Err(AuthError::Forbidden("missing_group"));
    }
    if let Some(missing) = require_scopes.iter().find(|s| !identity.scopes.contains(s)) {
        let _ = missing;
        return Err(AuthError::Forbidden("missing_scope"));
    }
    Ok(())
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
