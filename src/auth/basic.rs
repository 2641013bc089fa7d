//! HTTP Basic for webhook paths: the tenant's users with Argon2 password hashes. A verified
//! credential is cached briefly (by a hash of tenant, auth settings, user and password) so a
//! busy webhook does not pay for Argon2 on every call, and so is a wrong one, so a repeated
//! wrong password costs no Argon2 either. Verification runs off the async workers, at most
//! `auth.basic.max_concurrent` at once with a short bounded queue: past it the answer is 503
//! `overloaded`, so a flood of bad credentials costs bounded CPU and memory.

use super::{AuthError, Identity};
use crate::config::{BasicLimits, BasicUser};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Wrong credentials remembered at most (the oldest go first).
const FAILURE_CACHE_CAPACITY: u64 = 100_000;
/// Verified credentials remembered at most, and for how long.
const SUCCESS_CACHE_CAPACITY: u64 = 10_000;
const SUCCESS_CACHE_TTL: Duration = Duration::from_secs(300);

/// How one check was answered (the `result` label of `gateway_basic_auth_checks_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckResult {
    /// Argon2 ran and the password matched.
    Verified,
    /// A recently verified credential.
    Cached,
    /// Argon2 ran and the credential was wrong.
    Failed,
    /// A recently failed credential.
    CachedFailure,
    /// No verification slot in time: 503 `overloaded`.
    Overloaded,
}

impl CheckResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckResult::Verified => "verified",
            CheckResult::Cached => "cached",
            CheckResult::Failed => "failed",
            CheckResult::CachedFailure => "cached_failure",
            CheckResult::Overloaded => "overloaded",
        }
    }
}

/// At most `max_concurrent` holders, at most `max_queue` waiters, each waiting at most
/// `timeout`. Taking a free slot costs one atomic operation on the semaphore.
pub struct Limiter {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_queue: usize,
    timeout: Duration,
}

/// Leaves the queue when dropped (also when the waiting request is cancelled).
struct Waiter<'a>(&'a AtomicUsize);

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limiter {
    pub fn new(max_concurrent: usize, max_queue: usize, timeout: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            waiting: AtomicUsize::new(0),
            max_queue,
            timeout,
        }
    }

    /// A slot, or `Overloaded` when the queue is full or the wait times out.
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, AuthError> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(AuthError::Overloaded);
        }
        let _queued = Waiter(&self.waiting);
        match tokio::time::timeout(self.timeout, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(AuthError::Overloaded),
        }
    }
}

/// Basic credential checks with their caches and the Argon2 limiter.
pub struct Checker {
    ok: moka::sync::Cache<[u8; 32], Arc<Identity>>,
    failed: moka::sync::Cache<[u8; 32], ()>,
    limiter: Limiter,
}

impl Checker {
    pub fn new(limits: &BasicLimits) -> Self {
        Self {
            ok: moka::sync::Cache::builder()
                .max_capacity(SUCCESS_CACHE_CAPACITY)
                .time_to_live(SUCCESS_CACHE_TTL)
                .build(),
            failed: moka::sync::Cache::builder()
                .max_capacity(FAILURE_CACHE_CAPACITY)
                .time_to_live(limits.failure_cache_ttl)
                .build(),
            limiter: Limiter::new(
                limits.max_concurrent,
                limits.max_queue,
                limits.queue_timeout,
            ),
        }
    }

    fn cached(&self, key: &[u8; 32]) -> Option<(Result<Arc<Identity>, AuthError>, CheckResult)> {
        if let Some(identity) = self.ok.get(key) {
            return Some((Ok(identity), CheckResult::Cached));
        }
        self.failed.contains_key(key).then_some((
            Err(AuthError::InvalidCredentials),
            CheckResult::CachedFailure,
        ))
    }

    /// Checks `user:password` against `users`. `key` identifies the tenant, its auth settings
    /// and the credential (a hash: the caches hold no passwords); a cached answer takes no
    /// verification slot.
    pub async fn check(
        &self,
        key: [u8; 32],
        users: &[BasicUser],
        user: String,
        password: String,
    ) -> (Result<Arc<Identity>, AuthError>, CheckResult) {
        if let Some(hit) = self.cached(&key) {
            return hit;
        }
        let permit = match self.limiter.acquire().await {
            Ok(p) => p,
            Err(e) => return (Err(e), CheckResult::Overloaded),
        };
        // The same credential may have been settled while this request waited.
        if let Some(hit) = self.cached(&key) {
            return hit;
        }
        let users = users.to_vec();
        let checked = tokio::task::spawn_blocking(move || {
            // Held until Argon2 is done, even if the request is gone meanwhile.
            let _permit = permit;
            verify(&users, &user, &password)
        })
        .await;
        match checked {
            Ok(Ok(identity)) => {
                let identity = Arc::new(identity);
                self.ok.insert(key, identity.clone());
                (Ok(identity), CheckResult::Verified)
            }
            Ok(Err(e)) => {
                self.failed.insert(key, ());
                (Err(e), CheckResult::Failed)
            }
            Err(_) => (Err(AuthError::InvalidCredentials), CheckResult::Failed),
        }
    }
}

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
    (!u.is_empty()).then(|| (u.to_string(), p.to_string()))
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
        copied: vec![],
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
