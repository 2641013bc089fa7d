//! TLS-ALPN-01 against a real ACME server (pebble), for deployments that close port 80: the
//! HTTPS listener answers `acme-tls/1` handshakes with the challenge certificate while
//! serving h2/http1.1 as usual. Pebble validates HTTP-01 at a port where nothing listens, so
//! only TLS-ALPN-01 can succeed: globally (`tls.acme.challenge`) and per base domain
//! (`base_domains[].acme_challenge`, where the other hosts, left on HTTP-01, fail).

mod common;
use common::pebble::*;
use common::*;
use serde_json::Value;
use std::time::Duration;

/// Pebble (HTTP-01 to a closed port, TLS-ALPN-01 to the gateway's HTTPS port) and a gateway
/// whose `tls.acme` block gets `extra_acme`; `base_yaml` edits the configuration further.
async fn setup(extra_acme: &str, edit: impl Fn(String) -> String) -> (Pebble, Backend, Gateway) {
    let (closed_port, http_port, https_port) = (free_port(), free_port(), free_port());
    let pebble = Pebble::start(closed_port, https_port);
    let web = Backend::start("web");
    let yaml = edit(acme_gateway_yaml(&web, &pebble, extra_acme));
    let gw = GatewayBuilder::new(&yaml, &basic_tenants())
        .http_port(http_port)
        .https_port(https_port)
        .no_watch()
        .start();
    (pebble, web, gw)
}

#[tokio::test]
async fn certificates_are_issued_over_tls_alpn_01_with_port_80_closed() {
    let (pebble, _web, gw) = setup("    challenge: tls-alpn-01\n", |y| y).await;
    for host in ["tenant-a.example.com", "www.tenant-a.test"] {
        let h = wait_for_status(&gw, host, "valid", Duration::from_secs(60)).await;
        assert_eq!(h["source"], "acme");
    }
    let log = gw.stderr();
    assert!(
        log.contains("answered a TLS-ALPN-01 validation"),
        "validated over TLS-ALPN-01:\n{log}"
    );

    // The served chain verifies against pebble's root.
    let root = pebble.root_pem().await;
    let chain = fetch_served_chain(gw.https, "tenant-a.example.com").unwrap();
    assert!(chain.len() >= 2, "leaf and intermediate are served");
    verify_chain(&chain.join(""), &root, "tenant-a.example.com").unwrap();

    // h2 (and http/1.1) by ALPN through the gate, the request reaching the tenant's backend.
    let https = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(root.as_bytes()).unwrap())
        .resolve("tenant-a.example.com", gw.https)
        .build()
        .unwrap();
    let resp = https
        .get(format!(
            "https://tenant-a.example.com:{}/secure",
            gw.https.port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["headers"]["x-tenant-id"], TENANT_A);
    assert_eq!(
        served_alpn(gw.https, "tenant-a.example.com", "h2,http/1.1").as_deref(),
        Some("h2")
    );
    assert_eq!(
        served_alpn(gw.https, "tenant-a.example.com", "http/1.1").as_deref(),
        Some("http/1.1")
    );
    // No pending challenge any more: an acme-tls/1 handshake is closed without an answer.
    assert_eq!(
        served_alpn(gw.https, "tenant-a.example.com", "acme-tls/1"),
        None
    );
    // Not TLS at all: closed, and the listener keeps serving.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(gw.https).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nhost: tenant-a.example.com\r\n\r\n")
            .unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        assert!(buf.is_empty(), "{}", String::from_utf8_lossy(&buf));
    }
    verify_chain(
        &fetch_served_chain(gw.https, "www.tenant-a.test")
            .unwrap()
            .join(""),
        &root,
        "www.tenant-a.test",
    )
    .unwrap();
}

#[tokio::test]
async fn the_challenge_can_be_chosen_per_base_domain() {
    // HTTP-01 globally, TLS-ALPN-01 for example.com: with port 80 closed only example.com's
    // hosts can be validated.
    let (pebble, _web, gw) = setup("", |y| {
        y.replace(
            "  - domain: example.com\n",
            "  - domain: example.com\n    acme_challenge: tls-alpn-01\n",
        )
    })
    .await;
    wait_for_status(
        &gw,
        "tenant-a.example.com",
        "valid",
        Duration::from_secs(60),
    )
    .await;
    let failing = wait_for_status(
        &gw,
        "tenant-b.saas.test",
        "failing",
        Duration::from_secs(60),
    )
    .await;
    assert!(
        failing["last_error"].as_str().is_some(),
        "{failing:#}\n{}",
        pebble.log()
    );
    let root = pebble.root_pem().await;
    let chain = fetch_served_chain(gw.https, "tenant-a.example.com").unwrap();
    verify_chain(&chain.join(""), &root, "tenant-a.example.com").unwrap();
}

#[test]
fn the_challenge_setting_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tenants.yaml"),
        "tenants:\n  - { id: 11111111-1111-4111-8111-111111111111, name: A, subdomain: a }\n",
    )
    .unwrap();
    let check_with = |gateway: &str| {
        let path = dir.path().join("gateway.yaml");
        std::fs::write(&path, gateway).unwrap();
        check(&path)
    };
    let base = r#"pools:
  web: { backends: ["127.0.0.1:9"] }
default_routes: [{ prefix: /, pool: web }]
tenants: { source: file, path: tenants.yaml }
"#;
    // tls-alpn-01 is answered on the HTTPS listener.
    let (ok, out) = check_with(&format!(
        "base_domains: [{{ domain: example.com }}]\n{base}tls:\n  acme:\n    \
         directory_url: https://ca.test/dir\n    challenge: tls-alpn-01\n"
    ));
    assert!(!ok);
    assert!(
        out.contains("tls.acme.challenge") && out.contains("listeners.https"),
        "{out}"
    );
    // A base domain's choice needs tls.acme.
    let (ok, out) = check_with(&format!(
        "base_domains: [{{ domain: example.com, acme_challenge: tls-alpn-01 }}]\n{base}"
    ));
    assert!(!ok);
    assert!(out.contains("base_domains[0].acme_challenge"), "{out}");
    // Unknown challenge types are refused by name.
    let (ok, out) = check_with(&format!(
        "listeners: {{ https: [\"127.0.0.1:8443\"] }}\nbase_domains: [{{ domain: example.com }}]\n\
         {base}tls:\n  certs_dir: certs\n  acme:\n    directory_url: https://ca.test/dir\n    \
         challenge: dns-01\n"
    ));
    assert!(!ok);
    assert!(out.contains("dns-01"), "{out}");
    // Valid: HTTPS listener, global tls-alpn-01, a base domain on http-01.
    let (ok, out) = check_with(&format!(
        "listeners: {{ https: [\"127.0.0.1:8443\"] }}\n\
         base_domains: [{{ domain: example.com, acme_challenge: http-01 }}]\n\
         {base}tls:\n  certs_dir: certs\n  acme:\n    directory_url: https://ca.test/dir\n    \
         challenge: tls-alpn-01\n"
    ));
    assert!(ok, "{out}");
}
