//! HTTP-01 challenge responses: token → key authorization, set by the ACME task while an
//! order is pending and read by the HTTP listener for `/.well-known/acme-challenge/<token>`.
//! Only those requests and the ACME task touch the lock.

use std::collections::HashMap;
use std::sync::RwLock;

pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

#[derive(Default)]
pub struct Http01Challenges {
    tokens: RwLock<HashMap<String, String>>,
}

impl Http01Challenges {
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
