//! Certificate selection at every handshake: the most specific valid certificate for the SNI
//! (an exact name before a wildcard, the latest expiry among equals), else the default
//! certificate or a failed handshake. The index is swapped atomically when a certificate is
//! issued, so new certificates are served without a restart. Certificates stored on disk are
//! known at start by their metadata only ([`StoredCerts`]): the TLS gate loads one into a
//! bounded cache when a handshake names it, before rustls asks this resolver.

use super::certs::{LoadedCert, Source};
use super::storage::{read_cert, CertMeta};
use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

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

/// Certificates stored as files, loaded on demand: the index of their metadata, a cache
/// bounded by bytes (least recently used dropped first), and a short memory of hosts whose
/// files would not load, so a broken entry is not read at every handshake.
pub struct StoredCerts {
    root: std::path::PathBuf,
    known: ArcSwap<HashMap<String, CertMeta>>,
    cache: moka::sync::Cache<String, Arc<LoadedCert>>,
    unloadable: moka::sync::Cache<String, ()>,
}

impl StoredCerts {
    pub fn new(root: std::path::PathBuf, known: Vec<(String, CertMeta)>, max_bytes: u64) -> Self {
        Self {
            root,
            known: ArcSwap::from_pointee(known.into_iter().collect()),
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
        }
    }

    fn load(&self, host: &str) -> Result<Arc<LoadedCert>, String> {
        let stored = read_cert(&self.root, host).ok_or("the stored files are gone")?;
        LoadedCert::from_pem(&stored.chain_pem, &stored.key_pem, Source::Acme).map(Arc::new)
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

    /// Makes the stored certificate for `sni` servable before its handshake: loads it on the
    /// blocking pool unless it is loaded, unknown (never a read for a name not in the index)
    /// or recently unloadable. Concurrent handshakes for one host share one load.
    pub async fn prepare(&self, sni: &str) {
        let Some(s) = &self.stored else {
            return;
        };
        if !s.known.load().contains_key(sni)
            || s.cache.contains_key(sni)
            || s.unloadable.contains_key(sni)
        {
            return;
        }
        let (s, host) = (s.clone(), sni.to_string());
        let loaded = tokio::task::spawn_blocking(move || {
            let r = s.cache.try_get_with(host.clone(), || s.load(&host));
            if let Err(e) = &r {
                tracing::warn!(host = %host, error = %e, "a stored certificate would not load");
                s.unloadable.insert(host, ());
            }
        })
        .await;
        if let Err(e) = loaded {
            tracing::warn!(error = %e, "loading a stored certificate failed");
        }
    }

    pub fn index(&self) -> arc_swap::Guard<Arc<CertIndex>> {
        self.index.load()
    }

    /// Adds or replaces a certificate (a new index, swapped in).
    pub fn upsert(&self, cert: Arc<LoadedCert>) {
        self.upsert_many(vec![cert]);
    }

    /// Adds or replaces certificates with one new index: loading n stored certificates costs
    /// one rebuild, not n.
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
        // A newly issued certificate replaces what was stored for its names.
        if let Some(s) = &self.stored {
            let names: Vec<&String> = new.iter().flat_map(|c| c.names.iter()).collect();
            if names
                .iter()
                .any(|n| s.known.load().contains_key(n.as_str()))
            {
                s.known.rcu(|k| {
                    let mut k = HashMap::clone(k);
                    for n in &names {
                        k.remove(n.as_str());
                    }
                    k
                });
            }
            for n in &names {
                s.cache.invalidate(n.as_str());
            }
        }
        certs.extend(new);
        self.index
            .store(Arc::new(CertIndex::build(certs, current.default.clone())));
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let index = self.index.load();
        let now = SystemTime::now();
        if let (Some(s), Some(sni)) = (&self.stored, hello.server_name()) {
            let sni = sni.to_ascii_lowercase();
            let cached = s.cache.get(&sni).or_else(|| {
                // Loaded by the gate but already evicted (a full cache under many new hosts):
                // read it here rather than fail the handshake. Rare, and bounded like a load.
                if !s.known.load().contains_key(&sni) || s.unloadable.contains_key(&sni) {
                    return None;
                }
                tracing::debug!(host = %sni, "stored certificate evicted before its handshake: loading it again");
                s.cache.try_get_with(sni.clone(), || s.load(&sni)).ok()
            });
            if let Some(c) = cached.filter(|c| c.is_valid_at(now)) {
                return Some(c.key.clone());
            }
        }
        let found = hello
            .server_name()
            .and_then(|sni| index.lookup(&sni.to_ascii_lowercase(), now))
            .or(index.default.as_ref());
        found.map(|c| c.key.clone())
    }
}
