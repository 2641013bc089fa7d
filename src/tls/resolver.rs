//! Certificate selection at every handshake: the most specific valid certificate for the SNI
//! (an exact name before a wildcard, the latest expiry among equals), else the default
//! certificate or a failed handshake. The index is swapped atomically when a certificate is
//! issued, so new certificates are served without a restart.

use super::certs::LoadedCert;
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

/// The rustls resolver over the current index.
pub struct CertResolver {
    index: ArcSwap<CertIndex>,
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
        certs.extend(new);
        self.index
            .store(Arc::new(CertIndex::build(certs, current.default.clone())));
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let index = self.index.load();
        let now = SystemTime::now();
        let found = hello
            .server_name()
            .and_then(|sni| index.lookup(&sni.to_ascii_lowercase(), now))
            .or(index.default.as_ref());
        found.map(|c| c.key.clone())
    }
}
