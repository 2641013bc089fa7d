//! Certificate selection at every handshake: the most specific valid certificate for the SNI
//! (an exact name before a wildcard, the latest expiry among equals), else the default
//! certificate or a failed handshake. Operators' static certificates are held in an index;
//! ACME certificates (stored as files, or in a fleet's table) are known by their metadata only
//! ([`StoredCerts`]): the TLS gate loads one into a bounded cache when a handshake names it,
//! before rustls asks this resolver, and one issued or adopted later joins them at once.

use super::certs::{LoadedCert, Source};
use super::storage::{CertMeta, CertStorage};
use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::OnceCell;

/// All certificates by name.
#[derive(Default)]
pub struct CertIndex {
    exact: HashMap<String, Vec<Arc<LoadedCert>>>,
    wildcard: HashMap<String, Vec<Arc<LoadedCert>>>,
    all: Vec<Arc<LoadedCert>>,
    default: Option<Arc<LoadedCert>>,
}

impl CertIndex {
    pub fn build(certs: Vec<Arc<LoadedCert>>, default: Option<Arc<LoadedCert>>) -> Self {
        let mut idx = CertIndex {
            default,
            ..Default::default()
        };
        for c in &certs {
            for n in &c.names {
                match n.strip_prefix("*.") {
                    Some(base) => idx
                        .wildcard
                        .entry(base.to_string())
                        .or_default()
                        .push(c.clone()),
                    None => idx.exact.entry(n.clone()).or_default().push(c.clone()),
                }
            }
        }
        idx.all = certs;
        idx
    }

    fn best(list: Option<&Vec<Arc<LoadedCert>>>, now: SystemTime) -> Option<&Arc<LoadedCert>> {
        list?
            .iter()
            .filter(|c| c.is_valid_at(now))
            .max_by_key(|c| c.not_after)
    }

    /// The certificate for `host` (lower case), exact before wildcard.
    pub fn lookup(&self, host: &str, now: SystemTime) -> Option<&Arc<LoadedCert>> {
        Self::best(self.exact.get(host), now).or_else(|| {
            let parent = host.split_once('.')?.1;
            Self::best(self.wildcard.get(parent), now)
        })
    }

    pub fn all(&self) -> &[Arc<LoadedCert>] {
        &self.all
    }

    pub fn default_cert(&self) -> Option<&Arc<LoadedCert>> {
        self.default.as_ref()
    }
}

/// How many stored certificates may be loading at once (store reads a burst of cold
/// handshakes can cause; the rest wait for a slot).
const CONCURRENT_LOADS: usize = 32;

tokio::task_local! {
    /// The stored certificate the TLS gate loaded for this connection's handshake, so that an
    /// eviction between the load and rustls' question cannot fail the handshake.
    static PREPARED: Option<Arc<LoadedCert>>;
}

/// Stored certificates (files, or a fleet's table), loaded on demand: the index of their
/// metadata, a cache bounded by bytes (least recently used dropped first), one load per host
/// however many handshakes wait for it, and a short memory of hosts whose certificate would
/// not load, so a broken entry is not read at every handshake.
pub struct StoredCerts {
    source: Arc<dyn CertStorage>,
    known: ArcSwap<HashMap<String, CertMeta>>,
    cache: moka::sync::Cache<String, Arc<LoadedCert>>,
    unloadable: moka::sync::Cache<String, ()>,
    loading: Mutex<HashMap<String, Arc<OnceCell<Arc<LoadedCert>>>>>,
    slots: tokio::sync::Semaphore,
    /// False until the index is read (a fleet node reads it once its store client runs).
    indexed: std::sync::atomic::AtomicBool,
}

impl StoredCerts {
    /// `known`: the index, or `None` when it is read later ([`CertResolver::set_stored_index`]).
    pub fn new(
        source: Arc<dyn CertStorage>,
        known: Option<Vec<(String, CertMeta)>>,
        max_bytes: u64,
    ) -> Self {
        Self {
            source,
            indexed: std::sync::atomic::AtomicBool::new(known.is_some()),
            known: ArcSwap::from_pointee(known.unwrap_or_default().into_iter().collect()),
            cache: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                // Least recently used out first; a new certificate is always admitted.
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .weigher(|_, c: &Arc<LoadedCert>| {
                    let der: usize = c.key.cert.iter().map(|d| d.len()).sum();
                    // The parsed key and bookkeeping: a few hundred bytes to a few KiB.
                    u32::try_from(der + 2048).unwrap_or(u32::MAX)
                })
                .build(),
            unloadable: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(60))
                .build(),
            loading: Mutex::new(HashMap::new()),
            slots: tokio::sync::Semaphore::new(CONCURRENT_LOADS),
        }
    }

    /// Reads and parses the certificate of `host` from the store.
    async fn read(&self, host: &str) -> Result<Arc<LoadedCert>, String> {
        let _slot = self.slots.acquire().await.map_err(|e| e.to_string())?;
        let stored = self
            .source
            .load_cert(host)
            .await
            .map_err(|e| format!("reading it: {e}"))?
            .ok_or("it is no longer stored")?;
        let c = LoadedCert::from_pem(&stored.chain_pem, &stored.key_pem, Source::Acme)?;
        if !c.names.iter().any(|n| n == host) {
            return Err("the stored certificate does not name its host".into());
        }
        Ok(Arc::new(c))
    }

    /// The certificate of `host` from the cache, or loaded once for every caller waiting.
    async fn load(&self, host: &str) -> Result<Arc<LoadedCert>, String> {
        if let Some(c) = self.cache.get(host) {
            return Ok(c);
        }
        let cell = self
            .loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(host.to_string())
            .or_default()
            .clone();
        let loaded = cell
            .get_or_try_init(|| async {
                let c = self.read(host).await?;
                self.cache.insert(host.to_string(), c.clone());
                Ok::<_, String>(c)
            })
            .await
            .cloned();
        let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
        if loading.get(host).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            loading.remove(host);
        }
        loaded
    }
}

/// The rustls resolver over the current index.
pub struct CertResolver {
    index: ArcSwap<CertIndex>,
    stored: Option<Arc<StoredCerts>>,
}

impl std::fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CertResolver({} certificates)",
            self.index.load().all.len()
        )
    }
}

impl CertResolver {
    pub fn new(index: CertIndex) -> Self {
        Self {
            index: ArcSwap::from_pointee(index),
            stored: None,
        }
    }

    /// With certificates stored as files, loaded at their first handshake.
    pub fn with_stored(mut self, stored: StoredCerts) -> Self {
        self.stored = Some(Arc::new(stored));
        self
    }

    /// The metadata of the stored (not necessarily loaded) certificate for `host`.
    pub fn stored_meta(&self, host: &str) -> Option<CertMeta> {
        self.stored.as_ref()?.known.load().get(host).cloned()
    }

    /// Every stored certificate's metadata and whether it is loaded now.
    pub fn stored_all(&self) -> Vec<(String, CertMeta, bool)> {
        let Some(s) = &self.stored else {
            return Vec::new();
        };
        s.known
            .load()
            .iter()
            .map(|(h, m)| (h.clone(), m.clone(), s.cache.contains_key(h)))
            .collect()
    }

    /// Loads the stored certificate for `sni` before its handshake, unless it is unknown
    /// (never a store read for a name not in the index) or recently unloadable. Concurrent
    /// handshakes for one host share one load.
    pub async fn prepare(&self, sni: &str) -> Option<Arc<LoadedCert>> {
        let s = self.stored.as_ref()?;
        if !s.known.load().contains_key(sni) || s.unloadable.contains_key(sni) {
            return None;
        }
        match s.load(sni).await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(host = %sni, error = %e, "a stored certificate would not load");
                s.unloadable.insert(sni.to_string(), ());
                None
            }
        }
    }

    /// Runs `handshake` with the certificate [`Self::prepare`] gave, so that the resolver
    /// answers with it even if the cache dropped it meanwhile.
    pub async fn with_prepared<F: std::future::Future>(
        cert: Option<Arc<LoadedCert>>,
        handshake: F,
    ) -> F::Output {
        PREPARED.scope(cert, handshake).await
    }

    /// The stored certificates' index, read from the store (a fleet node at start).
    pub fn set_stored_index(&self, known: Vec<(String, CertMeta)>) {
        if let Some(s) = &self.stored {
            s.known.store(Arc::new(known.into_iter().collect()));
            s.indexed.store(true, std::sync::atomic::Ordering::Release);
        }
    }

    /// Whether the stored certificates' index has been read (a node is not ready before).
    pub fn is_indexed(&self) -> bool {
        self.stored
            .as_ref()
            .is_none_or(|s| s.indexed.load(std::sync::atomic::Ordering::Acquire))
    }

    /// A certificate just issued here or stored by another node: served at once, and, when
    /// certificates are stored, kept as a stored one (indexed, cached, evictable) rather than
    /// held in memory for good.
    pub fn adopt(&self, cert: Arc<LoadedCert>) {
        let Some(s) = &self.stored else {
            return self.upsert_many(vec![cert]);
        };
        let meta = super::storage::CertMeta::of(&cert);
        s.known.rcu(|k| {
            let mut k = HashMap::clone(k);
            for n in &cert.names {
                k.insert(n.clone(), meta.clone());
            }
            k
        });
        for n in &cert.names {
            s.unloadable.invalidate(n);
            s.cache.insert(n.clone(), cert.clone());
        }
    }

    pub fn index(&self) -> arc_swap::Guard<Arc<CertIndex>> {
        self.index.load()
    }

    /// Adds or replaces certificates in the index (a resolver without stored certificates),
    /// with one new index however many.
    pub fn upsert_many(&self, new: Vec<Arc<LoadedCert>>) {
        if new.is_empty() {
            return;
        }
        let current = self.index.load();
        let replaced: std::collections::HashSet<(super::certs::Source, &[String])> =
            new.iter().map(|n| (n.source, n.names.as_slice())).collect();
        let mut certs: Vec<Arc<LoadedCert>> = current
            .all
            .iter()
            .filter(|c| !replaced.contains(&(c.source, c.names.as_slice())))
            .cloned()
            .collect();
        certs.extend(new);
        self.index
            .store(Arc::new(CertIndex::build(certs, current.default.clone())));
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let index = self.index.load();
        let now = SystemTime::now();
        let sni = hello.server_name().map(str::to_ascii_lowercase);
        if let (Some(s), Some(sni)) = (&self.stored, &sni) {
            let prepared = PREPARED
                .try_with(|c| c.clone())
                .ok()
                .flatten()
                .filter(|c| c.names.iter().any(|n| n == sni));
            if let Some(c) = prepared
                .or_else(|| s.cache.get(sni))
                .filter(|c| c.is_valid_at(now))
            {
                return Some(c.key.clone());
            }
        }
        let found = sni
            .and_then(|sni| index.lookup(&sni, now))
            .or(index.default.as_ref());
        found.map(|c| c.key.clone())
    }
}

#[cfg(test)]
#[path = "resolver_tests.rs"]
mod tests;
