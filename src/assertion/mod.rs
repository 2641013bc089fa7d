//! The signed tenant assertion: one gateway-signed JWT (ES256) that tells an upstream who made
//! the request and for which tenant, in the same shape whatever the tenant's IdP (a Cognito
//! pool, a federated OIDC issuer, Basic webhook credentials). Assertions are cached per
//! identity, tenant and audience and reused until shortly before they expire, so a busy user
//! costs one signature per assertion lifetime. The keys rotate on a schedule ([`keys`]) and
//! are kept in a [`store::KeyStore`]; [`Keeper`] is the background task that rotates them.

pub mod keys;
pub mod store;

use crate::auth::Identity;
use crate::config::AssertionConfig;
use crate::tenant::Tenant;
use arc_swap::ArcSwap;
use bytes::Bytes;
use http::HeaderValue;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keys::{KeyError, KeySet};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use store::KeyStore;

/// Where the JWKS is served on tenant hosts (and on the admin listener).
pub const JWKS_PATH: &str = "/.well-known/tenant-gateway/jwks.json";

/// What an assertion is made from.
pub struct Facts<'a> {
    pub tenant: &'a Tenant,
    /// `aud`: the route's audience, or the host the request was made to.
    pub audience: &'a str,
    /// `None` on unauthenticated routes that opted in: tenant context only.
    pub identity: Option<&'a Identity>,
    /// `jwt`, `oidc` or `basic`.
    pub amr: &'static str,
    /// The IdP that authenticated the user (the gateway itself for Basic).
    pub idp_iss: Option<&'a str>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    tenant_id: String,
    tenant_name: &'a str,
    tier: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    idp_iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<[&'a str; 1]>,
    iat: u64,
    exp: u64,
    jti: String,
    #[serde(flatten)]
    copied: serde_json::Map<String, serde_json::Value>,
}

/// The key set as the request path uses it: an encoding key per published key.
struct Signing {
    set: KeySet,
    keys: Vec<(String, u64, EncodingKey)>,
    jwks: Bytes,
}

impl Signing {
    fn new(set: KeySet, now: u64) -> Result<Self, KeyError> {
        let keys = set
            .keys
            .iter()
            .map(|k| {
                let key = EncodingKey::from_ec_der(&k.pkcs8()?);
                Ok((k.kid.clone(), k.signs_from, key))
            })
            .collect::<Result<Vec<_>, KeyError>>()?;
        let jwks = Bytes::from(serde_json::to_vec(&set.jwks(now)?).unwrap_or_default());
        Ok(Self { set, keys, jwks })
    }

    /// The key that signs at `now`.
    fn signer(&self, now: u64) -> Option<&(String, u64, EncodingKey)> {
        self.keys
            .iter()
            .filter(|(_, from, _)| *from <= now)
            .max_by_key(|(_, from, _)| *from)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error("assertion keys: {0}")]
    Keys(#[from] KeyError),
    #[error("assertion key store: {0}")]
    Store(#[from] std::io::Error),
    #[error("assertion key store holds an unreadable key set: {0}")]
    Corrupt(serde_json::Error),
    #[error("no assertion signing key within {STARTUP_WAIT:?} (another node holds the key lease)")]
    NoKeys,
}

/// How long a starting node waits for another node making the first keys.
const STARTUP_WAIT: Duration = Duration::from_secs(45);

/// Signs assertions and serves the JWKS; shared by the proxy, the admin listener and the
/// [`Keeper`].
pub struct Assertions {
    config: AssertionConfig,
    header: http::HeaderName,
    signing: ArcSwap<Signing>,
    /// Signed assertions and their `exp`.
    cache: moka::sync::Cache<[u8; 32], (HeaderValue, u64)>,
    store: Arc<dyn KeyStore>,
}

impl Assertions {
    /// Loads the key set (making and storing one on the first start) and brings it up to date.
    pub async fn start(
        config: AssertionConfig,
        store: Arc<dyn KeyStore>,
    ) -> Result<Arc<Self>, AssertionError> {
        let mut now = crate::auth::now_secs();
        let mut set = Self::update(&config, store.as_ref(), now).await?;
        // Another node of a fleet may be making the first keys right now (it holds the lease):
        // wait for them rather than start without a key to sign with.
        let give_up = std::time::Instant::now() + STARTUP_WAIT;
        while set.signing(now).is_none() {
            if std::time::Instant::now() > give_up {
                return Err(AssertionError::NoKeys);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            now = crate::auth::now_secs();
            set = Self::update(&config, store.as_ref(), now).await?;
        }
        let header = http::HeaderName::from_bytes(config.header.as_bytes())
            .unwrap_or(http::HeaderName::from_static("x-tenant-assertion"));
        Ok(Arc::new(Self {
            header,
            signing: ArcSwap::from_pointee(Signing::new(set, now)?),
            // Reused for three quarters of its life: an upstream always gets at least a quarter.
            cache: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(config.ttl * 3 / 4)
                .build(),
            config,
            store,
        }))
    }

    /// Reads the stored set and, holding the store's lock, rotates it if it is due.
    async fn update(
        config: &AssertionConfig,
        store: &dyn KeyStore,
        now: u64,
    ) -> Result<KeySet, AssertionError> {
        let read = |bytes: Option<Vec<u8>>| -> Result<KeySet, AssertionError> {
            match bytes {
                Some(b) => serde_json::from_slice(&b).map_err(AssertionError::Corrupt),
                None => Ok(KeySet::default()),
            }
        };
        let set = read(store.load().await?)?;
        let interval = config.rotation_interval.as_secs();
        if !set.is_due(now, interval) {
            return Ok(set);
        }
        if !store.lock().await? {
            // Another node rotates; sign with what is stored (it is still valid).
            return Ok(set);
        }
        let result = async {
            let mut set = read(store.load().await?)?;
            if set.rotate(now, interval)? {
                let bytes = serde_json::to_vec(&set).map_err(AssertionError::Corrupt)?;
                store.save(&bytes).await?;
                tracing::info!(keys = set.keys.len(), "assertion keys rotated");
            }
            Ok(set)
        }
        .await;
        if let Err(e) = store.unlock().await {
            tracing::warn!(error = %e, "cannot release the assertion key lease");
        }
        result
    }

    /// Rereads and rotates the key set; the request path sees the result at once.
    pub async fn refresh(&self) -> Result<(), AssertionError> {
        let now = crate::auth::now_secs();
        let set = Self::update(&self.config, self.store.as_ref(), now).await?;
        if set != self.signing.load().set {
            self.signing.store(Arc::new(Signing::new(set, now)?));
        }
        Ok(())
    }

    /// When the key set next needs a look.
    pub fn next_refresh(&self) -> Duration {
        let now = crate::auth::now_secs();
        let set = &self.signing.load().set;
        let at = set.next_change(now, self.config.rotation_interval.as_secs());
        let wait = Duration::from_secs(at.saturating_sub(now));
        if self.store.is_shared() {
            wait.min(Duration::from_secs(10))
        } else {
            wait
        }
        .max(Duration::from_millis(200))
    }

    /// The gateway's issuer URL (`iss`, and `idp_iss` for Basic credentials).
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    pub fn header_name(&self) -> &http::HeaderName {
        &self.header
    }

    /// How long a JWKS may be cached: a quarter of the time a new key is published before it
    /// signs, at most 5 minutes, so a cached JWKS always has the key that signs next.
    pub fn jwks_max_age(&self) -> u32 {
        (self.config.rotation_interval.as_secs() / 4).clamp(1, 300) as u32
    }

    /// The JWKS document of the published keys.
    pub fn jwks(&self) -> Bytes {
        self.signing.load().jwks.clone()
    }

    /// The assertion header value for a request (cached), or `None` when it cannot be signed.
    pub fn assertion(&self, f: &Facts<'_>) -> Option<HeaderValue> {
        let now = crate::auth::now_secs();
        let signing = self.signing.load();
        let (kid, _, key) = signing.signer(now)?;
        let cache_key = cache_key(kid, f);
        let id = f.identity;
        // Never outlive the credential it vouches for.
        let lapses = id.map_or(u64::MAX, |i| i.expires_at);
        if let Some((v, exp)) = self.cache.get(&cache_key) {
            if exp <= lapses {
                return Some(v);
            }
        }
        let full = now + self.config.ttl.as_secs();
        let exp = full.min(lapses);
        let claims = Claims {
            iss: &self.config.issuer,
            aud: f.audience,
            sub: id.map(|i| i.sub.as_str()),
            email: id.and_then(|i| i.email.as_deref()),
            groups: id.map(|i| i.groups.as_slice()),
            scope: id
                .filter(|i| !i.scopes.is_empty())
                .map(|i| i.scopes.join(" ")),
            tenant_id: f.tenant.id.to_string(),
            tenant_name: &f.tenant.name,
            tier: &f.tenant.tier,
            idp_iss: id.and(f.idp_iss),
            amr: id.map(|_| [f.amr]),
            iat: now,
            exp,
            jti: uuid::Uuid::new_v4().to_string(),
            copied: id
                .map(|i| i.copied.iter().cloned().collect())
                .unwrap_or_default(),
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.clone());
        header.typ = Some("JWT".into());
        let token = match jsonwebtoken::encode(&header, &claims, key) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "cannot sign a tenant assertion");
                return None;
            }
        };
        let value = HeaderValue::from_str(&token).ok()?;
        // One cut short by its credential is not reused: it may lapse before the cache's.
        if exp == full {
            self.cache.insert(cache_key, (value.clone(), exp));
        }
        Some(value)
    }
}

/// Identity, tenant (with its name and tier, so a rename shows at once), audience, method and
/// signing key: what makes two assertions the same.
fn cache_key(kid: &str, f: &Facts<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    field(kid.as_bytes());
    field(f.tenant.id.0.as_bytes());
    field(f.tenant.name.as_bytes());
    field(f.tenant.tier.as_bytes());
    field(f.audience.as_bytes());
    field(f.amr.as_bytes());
    field(f.idp_iss.unwrap_or("").as_bytes());
    if let Some(i) = f.identity {
        field(i.sub.as_bytes());
        field(i.email.as_deref().unwrap_or("").as_bytes());
        for g in &i.groups {
            field(g.as_bytes());
        }
        field(b"|");
        for s in &i.scopes {
            field(s.as_bytes());
        }
        field(b"|");
        for (k, v) in &i.copied {
            field(k.as_bytes());
            field(v.to_string().as_bytes());
        }
    }
    h.finalize().into()
}

/// The background task that rotates the keys on time and, in a fleet, picks up other nodes'
/// rotations.
pub struct Keeper(pub Arc<Assertions>);

#[async_trait::async_trait]
impl pingora::services::background::BackgroundService for Keeper {
    async fn start(&self, mut shutdown: pingora::server::ShutdownWatch) {
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(self.0.next_refresh()) => {}
            }
            if let Err(e) = self.0.refresh().await {
                tracing::warn!(error = %e, "cannot refresh the assertion keys; signing with the current ones");
            }
        }
    }
}

#[cfg(test)]
#[path = "assertion_tests.rs"]
mod tests;
