//! Unit tests of `storage`.

use super::*;

#[tokio::test]
async fn round_trips_with_private_modes() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileStorage::new(dir.path());
    s.save_cert(&StoredCert {
        host: "a.example.com".into(),
        chain_pem: b"C".to_vec(),
        key_pem: b"K".to_vec(),
    })
    .await
    .unwrap();
    s.save_account(b"{}").await.unwrap();
    let stored = s.load_cert("a.example.com").await.unwrap().unwrap();
    assert_eq!(
        (stored.chain_pem, stored.key_pem),
        (b"C".to_vec(), b"K".to_vec())
    );
    assert!(s.load_cert("b.example.com").await.unwrap().is_none());
    // Not a certificate: it has no index entry (and is not parsed at every listing).
    assert!(s.list_meta().await.unwrap().is_empty());
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("acme/a.example.com/privkey.pem"), 0o600);
    assert_eq!(mode("acme/account.json"), 0o600);
    assert_eq!(s.load_account().await.unwrap().as_deref(), Some(&b"{}"[..]));
    assert!(s
        .save_cert(&StoredCert {
            host: "../evil".into(),
            chain_pem: vec![],
            key_pem: vec![]
        })
        .await
        .is_err());
}
