//! JWKS per issuer: fetched once on first use, refreshed in the background, refetched when a
//! token names an unknown `kid` (at most once per `jwks_min_refetch_interval`, one fetch shared
//! by all waiting requests), and the last good keys kept when the IdP is down. A JWKS larger
//! than `auth.idp_max_response_bytes` is a failed fetch.

use super::http_body::IdpHttp;
use super::AuthError;
use crate::metrics::METRICS;
use arc_swap::ArcSwapOption;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One usable verification key.
pub struct KeyEntry {
    pub key: DecodingKey,
    /// The key's declared algorithm, if the JWK has one.
    pub alg: Option<Algorithm>,
    /// Algorithms this key type can verify (RSA: RS*/PS*; EC: by curve).
    pub allowed: &'static [Algorithm],
}

/// The keys of one JWKS document.
pub struct KeySet {
    keys: HashMap<String, Arc<KeyEntry>>,
    pub fetched_at: Instant,
}

impl KeySet {
    /// Parses a JWKS, keeping the asymmetric signing keys that have a `kid`.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let set: JwkSet = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let allowed: &'static [Algorithm] = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => &super::jwt::ALLOWED[..6],
                AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                    jsonwebtoken::jwk::EllipticCurve::P256 => &super::jwt::ALLOWED[6..7],
                    jsonwebtoken::jwk::EllipticCurve::P384 => &super::jwt::ALLOWED[7..8],
                    _ => continue,
                },
                // Symmetric (oct) and other key types never verify tokens here.
                _ => continue,
            };
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            keys.insert(kid, Arc::new(KeyEntry { key, alg, allowed }));
        }
        Ok(KeySet {
            keys,
            fetched_at: Instant::now(),
        })
    }

    pub fn get(&self, kid: &str) -> Option<&Arc<KeyEntry>> {
        self.keys.get(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The keys behind one JWKS URL.
struct KeySource {
    url: String,
    keys: ArcSwapOption<KeySet>,
    /// Serialises fetches: concurrent requests for an unknown kid share one.
    fetch_lock: tokio::sync::Mutex<()>,
    /// Bumped after every fetch attempt, so a waiter can tell one happened while it waited.
    attempts: AtomicU64,
    last_attempt: Mutex<Option<Instant>>,
}

/// All JWKS sources the gateway has seen.
pub struct JwksCache {
    http: IdpHttp,
    sources: moka::sync::Cache<String, Arc<KeySource>>,
}

impl JwksCache {
    pub fn new(http: IdpHttp) -> Self {
        Self {
            http,
            sources: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(24 * 3600))
                .build(),
        }
    }

    fn source(&self, url: &str) -> Arc<KeySource> {
        self.sources.get_with_by_ref(url, || {
            Arc::new(KeySource {
                url: url.to_string(),
                keys: ArcSwapOption::empty(),
                fetch_lock: tokio::sync::Mutex::new(()),
                attempts: AtomicU64::new(0),
                last_attempt: Mutex::new(None),
            })
        })
    }

    /// The key `kid` of the JWKS at `url`, fetching or refetching as the policy allows.
    pub async fn key(
        &self,
        url: &str,
        kid: &str,
        min_refetch: Duration,
    ) -> Result<Arc<KeyEntry>, AuthError> {
        let src = self.source(url);
        // Read before the keys: a fetch that completes after this read (and stored keys
        // this request did not see) changes it, so the fetch below is skipped.
        let seen = src.attempts.load(Ordering::Acquire);
        if let Some(set) = src.keys.load_full() {
            if let Some(k) = set.get(kid) {
                return Ok(k.clone());
            }
            let recently = src
                .last_attempt
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|t| t.elapsed() < min_refetch);
            if recently {
                return Err(AuthError::InvalidToken("unknown_kid"));
            }
        }
        self.fetch(&src, seen).await;
        match src.keys.load_full() {
            None => Err(AuthError::IdpUnavailable(format!("no keys from {url}"))),
            Some(set) => set
                .get(kid)
                .cloned()
                .ok_or(AuthError::InvalidToken("unknown_kid")),
        }
    }

    /// Fetches the JWKS, unless a fetch completed since the caller read `seen` (the
    /// source's attempt count).
    async fn fetch(&self, src: &KeySource, seen: u64) {
        let _one = src.fetch_lock.lock().await;
        if seen != src.attempts.load(Ordering::Acquire) {
            return;
        }
        *src.last_attempt.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        let result = async {
            let resp = self
                .http
                .client
                .get(&src.url)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("HTTP {}", resp.status()));
            }
            let body = self.http.body(resp).await.map_err(|e| e.to_string())?;
            KeySet::parse(&body)
        }
        .await;
        match result {
            Ok(set) => {
                tracing::info!(jwks = %src.url, keys = set.len(), "JWKS fetched");
                METRICS
                    .jwks_fetches
                    .with_label_values(&[&src.url, "ok"])
                    .inc();
                src.keys.store(Some(Arc::new(set)));
            }
            Err(e) => {
                tracing::warn!(jwks = %src.url, error = %e, "JWKS fetch failed; keeping the last good keys");
                METRICS
                    .jwks_fetches
                    .with_label_values(&[&src.url, "error"])
                    .inc();
            }
        }
        src.attempts.fetch_add(1, Ordering::AcqRel);
    }

    /// Refreshes every known source whose keys are older than `interval` (background task),
    /// and reports key age.
    pub async fn refresh_stale(&self, interval: Duration) {
        let sources: Vec<Arc<KeySource>> = self.sources.iter().map(|(_, v)| v).collect();
        for src in sources {
            let seen = src.attempts.load(Ordering::Acquire);
            let age = src.keys.load().as_ref().map(|s| s.fetched_at.elapsed());
            if age.is_none_or(|a| a >= interval) {
                // Skipped when a request's fetch completes meanwhile (e.g. the first one).
                self.fetch(&src, seen).await;
            }
            if let Some(set) = src.keys.load().as_ref() {
                METRICS
                    .jwks_key_age
                    .with_label_values(&[&src.url])
                    .set(set.fetched_at.elapsed().as_secs() as i64);
            }
        }
    }
}

#[cfg(test)]
#[path = "jwks_tests.rs"]
mod tests;
