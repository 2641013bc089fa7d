//! The validated-token cache: a token seen before (for the same tenant and IdP settings) is
//! answered from memory until it expires, with no signature check. Keys are SHA-256 hashes,
//! so the cache holds no tokens.

use super::{now_secs, Identity};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

struct UntilExpiry;

impl moka::Expiry<[u8; 32], Arc<Identity>> for UntilExpiry {
    fn expire_after_create(
        &self,
        _k: &[u8; 32],
        v: &Arc<Identity>,
        _now: std::time::Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(
            v.expires_at.saturating_sub(now_secs()).min(86_400),
        ))
    }
}

/// Identities of validated tokens, each kept until its token expires.
pub struct TokenCache {
    inner: moka::sync::Cache<[u8; 32], Arc<Identity>>,
}

impl TokenCache {
    pub fn new(capacity: u64) -> Self {
        Self {
            inner: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build(),
        }
    }

    /// The cache key: every part length-prefixed, so no two part lists collide.
    pub fn key(parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        h.finalize().into()
    }

    /// A cached identity still valid `leeway_secs` past its expiry.
    pub fn get(&self, key: &[u8; 32], leeway_secs: u64) -> Option<Arc<Identity>> {
        self.inner
            .get(key)
            .filter(|i| i.expires_at.saturating_add(leeway_secs) > now_secs())
    }

    pub fn insert(&self, key: [u8; 32], identity: Arc<Identity>) {
        self.inner.insert(key, identity);
    }
}
