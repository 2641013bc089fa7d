//! Unit tests of `resolver`: loading stored certificates on demand.

use super::*;
use crate::tls::storage::StoredCert;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A store that counts reads and can be slow or broken.
struct Counting {
    certs: HashMap<String, StoredCert>,
    reads: AtomicUsize,
    delay: std::time::Duration,
}

#[async_trait::async_trait]
impl CertStorage for Counting {
    async fn list_meta(&self) -> std::io::Result<Vec<(String, CertMeta)>> {
        Ok(Vec::new())
    }
    async fn load_cert(&self, host: &str) -> std::io::Result<Option<StoredCert>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        Ok(self.certs.get(host).map(|c| StoredCert {
            host: c.host.clone(),
            chain_pem: c.chain_pem.clone(),
            key_pem: c.key_pem.clone(),
        }))
    }
    async fn save_cert(&self, _: &StoredCert) -> std::io::Result<()> {
        Ok(())
    }
    async fn load_account(&self) -> std::io::Result<Option<Vec<u8>>> {
        Ok(None)
    }
    async fn save_account(&self, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
}

fn stored(host: &str, names: &[&str]) -> (StoredCert, CertMeta) {
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let s = StoredCert {
        host: host.into(),
        chain_pem: cert.pem().into_bytes(),
        key_pem: key.serialize_pem().into_bytes(),
    };
    let c = LoadedCert::from_pem(&s.chain_pem, &s.key_pem, Source::Acme).unwrap();
    (s, CertMeta::of(&c))
}

/// A resolver over `store`, which indexes every certificate in it (plus `extra` names).
fn resolver(store: Arc<Counting>, extra: &[(&str, CertMeta)], max_bytes: u64) -> CertResolver {
    let mut known: Vec<(String, CertMeta)> = store
        .certs
        .iter()
        .map(|(h, c)| {
            let l = LoadedCert::from_pem(&c.chain_pem, &c.key_pem, Source::Acme).unwrap();
            (h.clone(), CertMeta::of(&l))
        })
        .collect();
    known.extend(extra.iter().map(|(h, m)| (h.to_string(), m.clone())));
    CertResolver::new(CertIndex::default()).with_stored(StoredCerts::new(
        store,
        Some(known),
        max_bytes,
    ))
}

fn counting(certs: Vec<StoredCert>, delay_ms: u64) -> Arc<Counting> {
    Arc::new(Counting {
        certs: certs.into_iter().map(|c| (c.host.clone(), c)).collect(),
        reads: AtomicUsize::new(0),
        delay: std::time::Duration::from_millis(delay_ms),
    })
}

#[tokio::test]
async fn concurrent_handshakes_for_one_host_share_one_read() {
    let (a, _) = stored("a.example.com", &["a.example.com"]);
    let store = counting(vec![a], 50);
    let r = Arc::new(resolver(store.clone(), &[], 1 << 20));
    let waiting: Vec<_> = (0..20)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move { r.prepare("a.example.com").await })
        })
        .collect();
    for w in waiting {
        let c = w.await.unwrap().expect("loaded");
        assert_eq!(c.names, ["a.example.com"]);
    }
    assert_eq!(store.reads.load(Ordering::SeqCst), 1);
    // Cached now: no further read.
    assert!(r.prepare("a.example.com").await.is_some());
    assert_eq!(store.reads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unknown_names_never_read_the_store_and_broken_entries_are_remembered() {
    let (_, gone_meta) = stored("gone.example.com", &["gone.example.com"]);
    // Stored under one host, but the certificate names another: refused, never served.
    let (mut wrong, wrong_meta) = stored("x", &["other.example.com"]);
    wrong.host = "wrong.example.com".into();
    let store = counting(vec![wrong], 0);
    let r = resolver(
        store.clone(),
        &[
            ("gone.example.com", gone_meta),
            ("wrong.example.com", wrong_meta),
        ],
        1 << 20,
    );
    for _ in 0..5 {
        assert!(r.prepare("unknown.example.com").await.is_none());
    }
    assert_eq!(store.reads.load(Ordering::SeqCst), 0);
    for _ in 0..5 {
        assert!(r.prepare("gone.example.com").await.is_none());
        assert!(r.prepare("wrong.example.com").await.is_none());
    }
    assert_eq!(
        store.reads.load(Ordering::SeqCst),
        2,
        "one read each, then remembered as unloadable"
    );
}

#[tokio::test]
async fn the_cache_is_bounded_and_evicted_hosts_load_again() {
    let certs: Vec<StoredCert> = (0..30)
        .map(|i| {
            stored(
                &format!("h{i}.example.com"),
                &[&format!("h{i}.example.com")],
            )
            .0
        })
        .collect();
    let store = counting(certs, 0);
    // Room for a few certificates only (each weighs its DER plus 2 KiB).
    let r = resolver(store.clone(), &[], 16 * 1024);
    for i in 0..30 {
        assert!(r.prepare(&format!("h{i}.example.com")).await.is_some());
    }
    let s = r.stored.as_ref().unwrap();
    s.cache.run_pending_tasks();
    let loaded = r.stored_all().iter().filter(|(_, _, l)| *l).count();
    assert!(loaded < 10, "{loaded} certificates still cached");
    assert_eq!(r.stored_all().len(), 30, "the index keeps every host");
    // The first host was evicted: loaded again, one more read.
    let before = store.reads.load(Ordering::SeqCst);
    assert!(r.prepare("h0.example.com").await.is_some());
    assert_eq!(store.reads.load(Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn adopted_certificates_are_served_and_indexed() {
    let store = counting(Vec::new(), 0);
    let r = resolver(store.clone(), &[], 1 << 20);
    let (s, _) = stored("new.example.com", &["new.example.com"]);
    let c = Arc::new(LoadedCert::from_pem(&s.chain_pem, &s.key_pem, Source::Acme).unwrap());
    r.adopt(c.clone());
    assert!(r.stored_meta("new.example.com").is_some());
    let got = r.prepare("new.example.com").await.unwrap();
    assert!(Arc::ptr_eq(&got, &c));
    assert_eq!(store.reads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_node_is_not_indexed_until_the_store_index_is_read() {
    let store = counting(Vec::new(), 0);
    let r =
        CertResolver::new(CertIndex::default()).with_stored(StoredCerts::new(store, None, 1 << 20));
    assert!(!r.is_indexed());
    let (_, meta) = stored("a.example.com", &["a.example.com"]);
    r.set_stored_index(vec![("a.example.com".into(), meta)]);
    assert!(r.is_indexed());
    assert!(r.stored_meta("a.example.com").is_some());
    assert!(CertResolver::new(CertIndex::default()).is_indexed());
}
