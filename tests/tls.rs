//! TLS and ACME against a real ACME server (pebble): HTTP-01 answered by the gateway itself,
//! the served chain verifying against pebble's root, certificates for tenants added by reload,
//! renewal, an ACME outage, bad nonces, a restart that does not re-order, HTTPS redirects,
//! 421 on Host/SNI mismatch, h2 by ALPN, and static certificates chosen by SNI.

mod common;
use common::pebble::*;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const TENANT_C: &str = "44444444-4444-4444-8444-444444444444";

fn start_acme_gateway(yaml: &str, tenants: &str, http_port: u16, https_port: u16) -> Gateway {
    GatewayBuilder::new(yaml, tenants)
        .http_port(http_port)
        .https_port(https_port)
        .no_watch()
        .start()
}

fn served_leaf(gw: &Gateway, sni: &str) -> String {
    fetch_served_chain(gw.https, sni)
        .unwrap_or_else(|e| panic!("{sni}: {e}"))
        .remove(0)
}

/// A client that trusts pebble's current root and sends `host` to the gateway's HTTPS port.
fn https_client(root_pem: &str, host: &str, gw: &Gateway) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap())
        .resolve(host, gw.https)
        .build()
        .unwrap()
}

#[tokio::test]
async fn certificates_are_issued_served_renewed_and_kept_across_restarts() {
    let (http_port, https_port) = (free_port(), free_port());
    let pebble = Pebble::start(http_port, https_port);
    let web = Backend::start("web");
    let yaml = acme_gateway_yaml(&web, &pebble, "");
    let gw = start_acme_gateway(&yaml, &basic_tenants(), http_port, https_port);

    // Issued over HTTP-01 answered by the gateway itself, for subdomains and custom domains.
    for host in [
        "tenant-a.example.com",
        "www.tenant-a.test",
        "tenant-b.saas.test",
    ] {
        let h = wait_for_cert(&gw, host, Duration::from_secs(60)).await;
        assert_eq!(h["source"], "acme");
    }
    let c = certs(&gw).await;
    assert!(
        c["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| !h["host"].as_str().unwrap().starts_with("gone.")),
        "disabled tenants get no certificate: {c:#}"
    );
    let root = pebble.root_pem().await;
    let chain = fetch_served_chain(gw.https, "tenant-a.example.com").unwrap();
    assert!(chain.len() >= 2, "leaf and intermediate are served");
    verify_chain(&chain.join(""), &root, "tenant-a.example.com").unwrap();
    assert!(verify_chain(&chain.join(""), &root, "tenant-b.example.com").is_err());

    // A real HTTPS request, h2 by ALPN, with the tenant's headers.
    let https = https_client(&root, "tenant-a.example.com", &gw);
    let resp = https
        .get(format!(
            "https://tenant-a.example.com:{https_port}/secure?x=1"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["headers"]["x-tenant-id"], TENANT_A);
    assert_eq!(v["headers"]["x-forwarded-proto"], "https");
    assert_eq!(
        served_alpn(gw.https, "tenant-a.example.com", "h2,http/1.1").as_deref(),
        Some("h2")
    );
    assert_eq!(
        served_alpn(gw.https, "tenant-a.example.com", "http/1.1").as_deref(),
        Some("http/1.1")
    );

    // The Host names another tenant than the SNI the connection was made for: 421.
    let https = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .add_root_certificate(reqwest::Certificate::from_pem(root.as_bytes()).unwrap())
        .resolve("tenant-a.example.com", gw.https)
        .build()
        .unwrap();
    let r = send(
        https
            .get(format!("https://tenant-a.example.com:{https_port}/"))
            .header("host", "tenant-b.saas.test"),
    )
    .await;
    assert_eq!(r.status, 421, "{}", r.text);
    assert_eq!(r.json()["error"], "misdirected_request");
    // Same tenant, other name (custom domain on a subdomain's connection): fine.
    let r = send(
        https
            .get(format!("https://tenant-a.example.com:{https_port}/"))
            .header("host", "www.tenant-a.test"),
    )
    .await;
    assert_eq!(r.status, 200);

    // Plain HTTP redirects to HTTPS; unknown hosts still get their 404.
    let r = send(
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(gw.url("/path?q=1"))
            .header("host", "tenant-a.example.com"),
    )
    .await;
    assert_eq!(r.status, 308);
    assert_eq!(
        r.headers["location"],
        format!("https://tenant-a.example.com:{https_port}/path?q=1")
    );
    assert_eq!(gw.get("nobody.example.com", "/").await.status, 404);

    // Keys are private on disk.
    use std::os::unix::fs::PermissionsExt;
    let key = gw.path("certs/acme/tenant-a.example.com/privkey.pem");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(gw.path("certs/acme/account.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    // A tenant added by reload gets its certificate without a restart.
    let more = format!(
        "{}  - id: {TENANT_C}\n    name: Tenant C\n    subdomain: tenant-c\n",
        basic_tenants()
    );
    gw.write_config("tenants.yaml", &more);
    assert_eq!(gw.reload().await.status, 200);
    wait_for_cert(&gw, "tenant-c.example.com", Duration::from_secs(60)).await;
    let leaf_c = served_leaf(&gw, "tenant-c.example.com");
    assert!(cert_sans(&leaf_c)
        .unwrap()
        .contains(&"DNS:tenant-c.example.com".to_string()));

    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_acme_orders_total{result=\"ok\"}"),
        "{metrics}"
    );
    assert!(metrics
        .contains("gateway_certificate_expiry_timestamp_seconds{host=\"tenant-a.example.com\"}"));

    // A restart serves the stored certificates at once and orders nothing.
    eventually(
        "a certificate for every host",
        Duration::from_secs(60),
        || async {
            let c = certs(&gw).await;
            let all_valid = c["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .all(|h| h["status"] == "valid");
            all_valid.then_some(()).ok_or(c)
        },
    )
    .await;
    let before = served_leaf(&gw, "tenant-a.example.com");
    let dir = gw.stop();
    let gw = GatewayBuilder::new(&yaml, &more)
        .http_port(http_port)
        .https_port(https_port)
        .in_dir(dir)
        .no_watch()
        .start();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        cert_info(&served_leaf(&gw, "tenant-a.example.com"))
            .unwrap()
            .fingerprint,
        cert_info(&before).unwrap().fingerprint
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !gw.metrics().await.contains("gateway_acme_orders_total"),
        "a restart must not re-order"
    );
}

#[tokio::test]
async fn short_lived_certificates_are_renewed_and_the_new_one_served() {
    let (http_port, https_port) = (free_port(), free_port());
    let pebble = Pebble::start_with(
        http_port,
        https_port,
        &[],
        &[("certificateValidityPeriod", json!(40))],
    );
    let web = Backend::start("web");
    // Renew once less than 90% of the 40 s lifetime remains: about 4 s after issuance.
    let yaml = acme_gateway_yaml(&web, &pebble, "    renew_when_remaining: 0.9\n");
    let gw = start_acme_gateway(&yaml, &basic_tenants(), http_port, https_port);
    wait_for_cert(&gw, "tenant-a.example.com", Duration::from_secs(60)).await;
    let first = cert_info(&served_leaf(&gw, "tenant-a.example.com")).unwrap();
    let renewed = eventually_with_log(
        "a renewed certificate served",
        Duration::from_secs(60),
        || gw.stderr(),
        || async {
            let now = cert_info(&served_leaf(&gw, "tenant-a.example.com")).unwrap();
            if now.fingerprint != first.fingerprint {
                Ok(now)
            } else {
                Err(format!("the first certificate, {}", now.fingerprint))
            }
        },
    )
    .await;
    assert!(
        renewed.not_after > first.not_after,
        "{renewed:?} vs {first:?}"
    );
}

#[tokio::test]
async fn an_acme_outage_keeps_serving_and_orders_resume_when_it_returns() {
    let (http_port, https_port) = (free_port(), free_port());
    // Bad nonces on a share of requests: instant-acme retries them, the gateway retries orders.
    let mut pebble =
        Pebble::start_with_env(http_port, https_port, &[("PEBBLE_WFE_NONCEREJECT", "15")]);
    let web = Backend::start("web");
    let yaml = acme_gateway_yaml(&web, &pebble, "");
    let gw = start_acme_gateway(&yaml, &basic_tenants(), http_port, https_port);
    wait_for_cert(&gw, "tenant-a.example.com", Duration::from_secs(90)).await;
    let served = served_leaf(&gw, "tenant-a.example.com");

    pebble.stop();
    let more = format!(
        "{}  - id: {TENANT_C}\n    name: Tenant C\n    subdomain: tenant-c\n",
        basic_tenants()
    );
    gw.write_config("tenants.yaml", &more);
    assert_eq!(gw.reload().await.status, 200);
    // Orders fail and back off; the existing certificate is served throughout.
    let h = eventually(
        "two failed orders recorded for tenant-c",
        Duration::from_secs(20),
        || async {
            let c = certs(&gw).await;
            let h = c["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["host"] == "tenant-c.example.com")
                .cloned()
                .unwrap();
            if h["failures"].as_u64().unwrap_or(0) >= 2 {
                Ok(h)
            } else {
                Err(c)
            }
        },
    )
    .await;
    assert_eq!(h["status"], "failing", "{h:#}");
    assert!(
        h["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{h:#}"
    );
    assert_eq!(served_leaf(&gw, "tenant-a.example.com"), served);
    assert!(gw
        .metrics()
        .await
        .contains("gateway_acme_orders_total{result=\"error\"}"));

    // The CA comes back (a fresh one, which has forgotten the account): orders succeed again.
    pebble.start_again();
    wait_for_cert(&gw, "tenant-c.example.com", Duration::from_secs(60)).await;
    let root = pebble.root_pem().await;
    let chain = fetch_served_chain(gw.https, "tenant-c.example.com").unwrap();
    verify_chain(&chain.join(""), &root, "tenant-c.example.com").unwrap();
}

fn self_signed_pair(dir: &std::path::Path, name: &str, sans: &str) -> (String, String) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    self_signed(&cert, &key, name, sans);
    (cert.display().to_string(), key.display().to_string())
}

#[tokio::test]
async fn static_certificates_are_chosen_by_sni() {
    let certs_dir = tempfile::tempdir().unwrap();
    let (wild_c, wild_k) = self_signed_pair(certs_dir.path(), "wildcard", "DNS:*.example.com");
    let (exact_c, exact_k) = self_signed_pair(
        certs_dir.path(),
        "exact",
        "DNS:tenant-a.example.com,DNS:www.tenant-a.test",
    );
    let web = Backend::start("web");
    for unknown in ["reject", "default"] {
        let yaml = gateway_yaml(&[&web], &format!(
            "tls:\n  certs_dir: certs\n  unknown_sni: {unknown}\n  certificates:\n    - {{ cert: {wild_c}, key: {wild_k} }}\n    - {{ cert: {exact_c}, key: {exact_k} }}\n"
        ))
        .replace("  http: [\"{http}\"]\n", "  http: [\"{http}\"]\n  https: [\"{https}\"]\n");
        let gw = GatewayBuilder::new(&yaml, &basic_tenants())
            .no_watch()
            .start();
        wait_for_port(gw.https, "gateway HTTPS");
        let sans = |sni: &str| cert_sans(&served_leaf(&gw, sni)).unwrap();
        // The most specific certificate wins: exact before wildcard.
        assert_eq!(
            sans("tenant-a.example.com"),
            vec!["DNS:tenant-a.example.com", "DNS:www.tenant-a.test"]
        );
        assert_eq!(
            sans("www.tenant-a.test"),
            vec!["DNS:tenant-a.example.com", "DNS:www.tenant-a.test"]
        );
        assert_eq!(sans("tenant-b.example.com"), vec!["DNS:*.example.com"]);
        let unknown_sni = fetch_served_chain(gw.https, "nobody.other.test");
        match unknown {
            "reject" => assert!(unknown_sni.is_err(), "handshake must fail: {unknown_sni:?}"),
            _ => assert_eq!(
                cert_sans(&unknown_sni.unwrap()[0]).unwrap(),
                vec!["DNS:*.example.com"]
            ),
        }
    }
}
