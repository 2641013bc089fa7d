use super::*;

#[cfg(unix)]
#[test]
fn files_are_private_and_referenced_relative_to_the_tenants_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = SecretStore::Files {
        tenants_file: dir.path().join("tenants.yaml"),
    };
    let id = "6F1C2A8E-0000-4000-8000-000000000001";
    let r = store.put(id, "s3cret").unwrap();
    let rel = r.file.clone().unwrap();
    assert_eq!(
        rel,
        PathBuf::from("tenants.secrets/6f1c2a8e-0000-4000-8000-000000000001.client_secret")
    );
    let path = dir.path().join(&rel);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "s3cret");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    store.remove(id).unwrap();
    assert!(!path.exists());
    store.remove(id).unwrap();
}

#[test]
fn sealed_secrets_open_only_for_their_tenant() {
    let sealer = Arc::new(Sealer::new("k".repeat(32).as_str()));
    let store = SecretStore::Sealed(sealer.clone());
    let r = store.put("a", "s3cret").unwrap();
    let sealed = r.sealed.unwrap();
    assert!(!sealed.contains("s3cret"));
    let aad = crate::config::client_secret_aad("a");
    assert_eq!(sealer.open(&aad, &sealed).unwrap(), b"s3cret");
    let other = crate::config::client_secret_aad("b");
    assert!(sealer.open(&other, &sealed).is_err());
}

#[test]
fn only_tenant_ids_name_secret_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = SecretStore::Files {
        tenants_file: dir.path().join("tenants.yaml"),
    };
    for bad in ["../x", "a/b", "", "x.y"] {
        assert!(store.put(bad, "s").is_err(), "{bad}");
        assert!(store.remove(bad).is_err(), "{bad}");
    }
}
