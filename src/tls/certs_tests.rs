//! Unit tests of `certs`.

use super::*;

#[test]
fn wildcards_cover_one_label() {
    assert!(wildcard_matches("*.example.com", "a.example.com"));
    assert!(!wildcard_matches("*.example.com", "example.com"));
    assert!(!wildcard_matches("*.example.com", "a.b.example.com"));
    assert!(!wildcard_matches("example.com", "example.com"));
}

fn acme_cert(host: &str) -> std::sync::Arc<LoadedCert> {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![host.to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::sync::Arc::new(
        LoadedCert::from_pem(
            cert.pem().as_bytes(),
            key.serialize_pem().as_bytes(),
            Source::Acme,
        )
        .unwrap(),
    )
}

#[test]
fn upsert_many_adds_in_one_index_and_replaces_a_hosts_older_certificate() {
    use crate::tls::resolver::{CertIndex, CertResolver};
    let r = CertResolver::new(CertIndex::build(vec![acme_cert("a.test")], None));
    let newer_a = acme_cert("a.test");
    r.upsert_many(vec![
        newer_a.clone(),
        acme_cert("b.test"),
        acme_cert("c.test"),
    ]);
    let index = r.index();
    assert_eq!(index.all().len(), 3, "a.test replaced, b and c added");
    let now = std::time::SystemTime::now();
    assert!(std::sync::Arc::ptr_eq(
        index.lookup("a.test", now).unwrap(),
        &newer_a
    ));
    assert!(index.lookup("c.test", now).is_some());
}
