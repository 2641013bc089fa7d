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
    let certs = s.load_certs().await.unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].host, "a.example.com");
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
