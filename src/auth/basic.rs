//! HTTP Basic for webhook paths: the tenant's users with Argon2 password hashes. A verified
//! credential is cached briefly (by a hash of tenant, user and password) so a busy webhook
//! does not pay for Argon2 on every call; verification runs off the async workers.

use super::{AuthError, Identity};
use crate::config::BasicUser;
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// `(user, password)` from an `Authorization: Basic ...` value.
pub fn parse(authorization: &[u8]) -> Option<(String, String)> {
    let s = std::str::from_utf8(authorization).ok()?;
    let (scheme, rest) = s.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Checks the password against the user's hash (slow by design: call off the async workers).
pub fn verify(users: &[BasicUser], user: &str, password: &str) -> Result<Identity, AuthError> {
    let found = users.iter().find(|u| u.username == user);
    // Verify against some hash even for unknown users, so timing does not reveal names.
    let hash = found.map_or(DUMMY_HASH, |u| u.password_hash.as_str());
    let parsed = PasswordHash::new(hash).map_err(|_| AuthError::InvalidCredentials)?;
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    if !ok || found.is_none() {
        return Err(AuthError::InvalidCredentials);
    }
    Ok(Identity {
        sub: user.to_string(),
        email: None,
        groups: vec![],
        scopes: vec![],
        extra_headers: vec![],
        expires_at: u64::MAX,
        kind: None,
    })
}

/// Argon2id hash of a random string, for constant-ish timing on unknown users.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2oZk3xQKpU4TnX0YAC1Gq2a8C2fJzq7hJ0yJm3Q0u5s";

/// A PHC string for `password` (the `hash-password` command).
pub fn hash(password: &str) -> Result<String, String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
#[path = "basic_tests.rs"]
mod tests;
