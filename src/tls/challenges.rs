//! HTTP-01 challenge responses: token → key authorization, set by the ACME task while an
//! order is pending and read by the HTTP listener for `/.well-known/acme-challenge/<token>`.
//! Only those requests and the ACME task touch the lock. In a fleet, answers published by
//! other nodes are read from the shared storage.

use super::storage::CertStorage;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

pub struct Http01Challenges {
    tokens: RwLock<HashMap<String, String>>,
    /// A fleet's shared storage: answers published by the node that placed the order.
    shared: Option<Arc<dyn CertStorage>>,
    /// Bounds the store reads that challenge requests (any client can send them) cause.
    lookups: tokio::sync::Semaphore,
}

impl Default for Http01Challenges {
    fn default() -> Self {
        Self {
            tokens: RwLock::default(),
            shared: None,
            lookups: tokio::sync::Semaphore::new(MAX_CONCURRENT_LOOKUPS),
        }
    }
}

/// Concurrent shared-storage lookups. Requests past it are answered as unknown tokens (404);
/// an order whose validation met one fails and is retried with the usual backoff.
const MAX_CONCURRENT_LOOKUPS: usize = 4;

impl Http01Challenges {
    /// Also answers challenges that other nodes published in `storage`.
    pub fn shared(storage: Arc<dyn CertStorage>) -> Self {
        Self {
            shared: storage.is_shared().then_some(storage),
            ..Self::default()
        }
    }

    /// The answer for a challenge path: this node's pending orders first, then the fleet's.
    pub async fn answer_any(&self, path: &str) -> Option<String> {
        if let Some(a) = self.answer(path) {
            return Some(a);
        }
        let token = path.strip_prefix(CHALLENGE_PREFIX)?;
        let well_formed = !token.is_empty()
            && token.len() <= 128
            && token
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
        if !well_formed {
            return None;
        }
        let shared = self.shared.as_ref()?;
        let _permit = self.lookups.try_acquire().ok()?;
        match shared.get_challenge(token).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read shared challenge answers");
                None
            }
        }
    }

    pub fn insert(&self, token: &str, key_authorization: &str) {
        self.tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_string(), key_authorization.to_string());
    }

    pub fn remove(&self, token: &str) {
        self.tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token);
    }

    /// The response body for a challenge path, if the token is pending.
    pub fn answer(&self, path: &str) -> Option<String> {
        let token = path.strip_prefix(CHALLENGE_PREFIX)?;
        self.tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }
}
