//! Stored certificates at scale: at start the gateway indexes them by their metadata only
//! (`meta.json`, made once for a certificate stored without one), loads one at its first
//! handshake into a cache bounded by memory, never reads the store for a name it does not
//! know, remembers a certificate that would not load, and does not re-order what is stored.

mod common;
use common::pebble::*;
use common::*;
use reqwest::Method;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// Writes a self-signed certificate for `host` as the ACME storage keeps it.
fn store(dir: &Path, host: &str, with_meta: bool) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![host.to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let d = dir.join("acme").join(host);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("fullchain.pem"), cert.pem()).unwrap();
    std::fs::write(d.join("privkey.pem"), key.serialize_pem()).unwrap();
    if with_meta {
        let (_, x) = x509_parser::parse_x509_certificate(cert.der()).unwrap();
        let meta = serde_json::json!({
            "names": [host],
            "not_before": x.validity().not_before.timestamp(),
            "not_after": x.validity().not_after.timestamp(),
            "issuer": x.issuer().to_string(),
        });
        std::fs::write(d.join("meta.json"), meta.to_string()).unwrap();
    }
}

async fn stored(gw: &Gateway) -> Vec<Value> {
    let c = admin(gw, Method::GET, "/certs", None).await.json();
    c["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x.get("stored_for").is_some())
        .cloned()
        .collect()
}

fn loaded(list: &[Value]) -> Vec<String> {
    let mut l: Vec<String> = list
        .iter()
        .filter(|x| x["loaded"] == true)
        .map(|x| x["stored_for"].as_str().unwrap().to_string())
        .collect();
    l.sort();
    l
}

#[tokio::test]
async fn stored_certificates_load_at_their_first_handshake_within_a_memory_bound() {
    let dir = tempfile::tempdir().unwrap();
    let n = 600;
    for i in 0..n {
        store(dir.path(), &format!("t{i}.example.com"), i != 1);
    }
    // A certificate whose key is damaged: indexed (its meta is fine), never servable.
    store(dir.path(), "broken.example.com", true);
    std::fs::write(
        dir.path().join("acme/broken.example.com/privkey.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let web = Backend::start("web");
    // 1 MiB of cache: room for about 400 of these small certificates, not for all 600.
    let yaml = gateway_yaml(
        &[&web],
        "tls:\n  certs_dir: certs\n  redirect_http: false\n  certificate_cache_mib: 1\n",
    )
    .replace(
        "  http: [\"{http}\"]\n",
        "  http: [\"{http}\"]\n  https: [\"{https}\"]\n",
    );
    let certs_dir = dir.path().to_path_buf();
    let gw_dir = tempfile::tempdir().unwrap();
    std::fs::rename(&certs_dir, gw_dir.path().join("certs")).unwrap_or_else(|_| {
        // Across file systems: copy instead.
        let out = std::process::Command::new("cp")
            .args(["-r"])
            .arg(&certs_dir)
            .arg(gw_dir.path().join("certs"))
            .status()
            .unwrap();
        assert!(out.success());
    });
    let gw = GatewayBuilder::new(&yaml, &basic_tenants())
        .in_dir(gw_dir)
        .no_watch()
        .start();

    // Indexed, none loaded; the one stored without metadata got its meta.json.
    let list = stored(&gw).await;
    assert_eq!(list.len(), n + 1, "every stored certificate is indexed");
    assert!(
        loaded(&list).is_empty(),
        "nothing loaded at start: {:?}",
        loaded(&list)
    );
    assert!(gw.path("certs/acme/t1.example.com/meta.json").exists());

    // The first handshake loads exactly that certificate, and serves it.
    let chain = fetch_served_chain(gw.https, "t7.example.com").unwrap();
    let (_, leaf) = x509_parser::pem::parse_x509_pem(chain[0].as_bytes()).unwrap();
    let leaf = leaf.parse_x509().unwrap();
    let sans = format!(
        "{:?}",
        leaf.subject_alternative_name().unwrap().unwrap().value
    );
    assert!(sans.contains("t7.example.com"), "{sans}");
    assert_eq!(loaded(&stored(&gw).await), ["t7.example.com"]);

    // An unknown name reads nothing (and gets no certificate); a broken one fails, once.
    assert!(fetch_served_chain(gw.https, "nobody.example.com").is_err());
    assert!(fetch_served_chain(gw.https, "broken.example.com").is_err());
    assert!(fetch_served_chain(gw.https, "broken.example.com").is_err());
    let warned = gw
        .stderr()
        .matches("a stored certificate would not load")
        .count();
    assert_eq!(warned, 1, "one read of the broken files: {}", gw.stderr());
    assert!(
        !gw.stderr().contains("nobody.example.com"),
        "{}",
        gw.stderr()
    );

    // Every host once, over real HTTPS requests: all served, the cache stays within its bound.
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(10));
    for i in 0..n {
        builder = builder.resolve(&format!("t{i}.example.com"), gw.https);
    }
    let https = builder.build().unwrap();
    for i in 0..n {
        let r = https
            .get(format!("https://t{i}.example.com:{}/", gw.https.port()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("t{i}: {e}\n{}", gw.stderr()));
        // No tenant has these hosts: the gateway's own 404, over TLS with their certificate.
        assert_eq!(r.status(), 404, "t{i}");
    }
    let bounded = eventually(
        "the certificate cache within its memory bound",
        Duration::from_secs(10),
        || async {
            let l = loaded(&stored(&gw).await);
            if l.len() < n {
                Ok(l.len())
            } else {
                Err(format!("{} of {n} loaded", l.len()))
            }
        },
    )
    .await;
    assert!(bounded > 50, "the cache holds a useful share: {bounded}");
}
