//! Verified custom domains, against pebble-challtestsrv's DNS server and pebble: a custom
//! domain starts pending with a token (404 `domain_pending_verification`, no certificate);
//! a TXT record with the wrong value keeps it pending; the right one verifies it, after which
//! it is routed and pebble certifies it; removing the record later does not take it away;
//! an operator can verify one by hand; a removed domain stops being served at once. The HTTP
//! proof from the domain's origin works, and is never fetched from a private address unless
//! allowed.

mod common;
use common::pebble::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const CHECKS: Duration = Duration::from_secs(20);

async fn tenant(gw: &Gateway, id: &str) -> Value {
    let r = admin(gw, Method::GET, &format!("/tenants/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

/// The token the verifier gave `domain` of tenant A (it writes one within a tick).
async fn token_of(gw: &Gateway, domain: &str) -> String {
    eventually_with_log(
        &format!("a verification token for {domain}"),
        CHECKS,
        || gw.stderr(),
        || async {
            let t = tenant(gw, TENANT_A).await;
            match t["verification"][domain]["token"].as_str() {
                Some(tok) => Ok(tok.to_string()),
                None => Err(t),
            }
        },
    )
    .await
}

async fn status_of(gw: &Gateway, domain: &str) -> Value {
    tenant(gw, TENANT_A).await["verification"][domain].clone()
}

/// Waits until tenant A's `domain` has `status` in its record, and answers its state.
async fn wait_state(gw: &Gateway, domain: &str, status: &str) -> Value {
    eventually_with_log(
        &format!("{domain} {status}"),
        CHECKS,
        || gw.stderr(),
        || async {
            let s = status_of(gw, domain).await;
            if s["status"] == status {
                Ok(s)
            } else {
                Err(s)
            }
        },
    )
    .await
}

/// Waits until `domain` has been checked at least `min_checks` times and the last check says
/// `needle`, and answers the check.
async fn wait_check(gw: &Gateway, domain: &str, needle: &str, min_checks: u64) -> Value {
    eventually_with_log(
        &format!("{min_checks} checks of {domain}, the last saying {needle:?}"),
        CHECKS,
        || gw.stderr(),
        || async {
            let t = tenant(gw, TENANT_A).await;
            let c = t["domain_checks"][domain].clone();
            let checks = c["checks"].as_u64().unwrap_or(0);
            match c["last_result"].as_str() {
                Some(r) if r.contains(needle) && checks >= min_checks => Ok(c),
                _ => Err(t),
            }
        },
    )
    .await
}

#[tokio::test]
async fn custom_domains_are_served_and_certified_only_once_verified() {
    let (http_port, https_port) = (free_port(), free_port());
    let pebble = Pebble::start(http_port, https_port);
    let web = Backend::start("web");
    // Plain HTTP is answered (not redirected) so the test can use it for every host.
    let yaml = format!(
        "{}domain_verification:\n  nameservers: [\"{}\"]\n  min_interval: 1s\n  max_interval: 2s\n",
        acme_gateway_yaml(&web, &pebble, "").replace("tls:\n", "tls:\n  redirect_http: false\n"),
        pebble.dns
    );
    let gw = GatewayBuilder::new(&yaml, &basic_tenants())
        .http_port(http_port)
        .https_port(https_port)
        .no_watch()
        .start();
    let domain = "www.tenant-a.test";
    let challenge = format!("_tenant-gateway-challenge.{domain}");

    // Pending: a token, a clear 404, no certificate ordered, visible in /certs.
    let token = token_of(&gw, domain).await;
    assert_eq!(status_of(&gw, domain).await["status"], "pending");
    let r = gw.get(domain, "/").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        r.json()["error"],
        "domain_pending_verification",
        "{}",
        r.text
    );
    assert_eq!(gw.get("tenant-a.example.com", "/").await.status, 200);
    let certs = admin(&gw, Method::GET, "/certs", None).await.json();
    assert!(
        certs["pending_domains"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["host"] == domain && p["token"] == token.as_str()),
        "{certs:#}"
    );
    assert!(
        !certs["hosts"].to_string().contains(domain),
        "a pending domain gets no certificate: {certs:#}"
    );

    // The wrong value: still pending after several checks, which say why.
    let before = tenant(&gw, TENANT_A).await["domain_checks"][domain]["checks"]
        .as_u64()
        .unwrap_or(0);
    pebble.set_txt(&challenge, "not-the-token").await;
    let checked = wait_check(&gw, domain, "no record holds the token", before + 2).await;
    assert!(
        checked["last_result"]
            .as_str()
            .unwrap()
            .contains("no record holds the token"),
        "{checked}"
    );
    assert!(checked["last_check"].is_string(), "{checked}");
    assert_eq!(status_of(&gw, domain).await["status"], "pending");
    assert_eq!(gw.get(domain, "/").await.status, 404);

    // The token (beside the wrong value): verified, routed, then certified by pebble.
    pebble.set_txt(&challenge, &token).await;
    let verified = wait_state(&gw, domain, "verified").await;
    assert_eq!(verified["verified_by"], "dns", "{verified}");
    let r = eventually("the verified domain routed", CHECKS, || async {
        let r = gw.get(domain, "/").await;
        if r.status == 200 {
            Ok(r)
        } else {
            Err(format!("{} {}", r.status, r.text))
        }
    })
    .await;
    assert_eq!(r.upstream_header("x-tenant-id").as_deref(), Some(TENANT_A));
    wait_for_cert(&gw, domain, Duration::from_secs(60)).await;
    let root = pebble.root_pem().await;
    let chain = fetch_served_chain(gw.https, domain).unwrap();
    verify_chain(&chain.join(""), &root, domain).unwrap();

    // The record removed: a verified domain is never checked again, so it stays served.
    pebble.clear_txt(&challenge).await;
    let t = tenant(&gw, TENANT_A).await;
    assert!(t["domain_checks"].get(domain).is_none(), "{t:#}");
    assert_eq!(gw.reload().await.status, 200);
    assert_eq!(gw.get(domain, "/").await.status, 200);
    assert_eq!(status_of(&gw, domain).await["status"], "verified");

    // A new domain, verified by hand (the operator vouches; audited in the log).
    let r = admin(
        &gw,
        Method::PATCH,
        &format!("/tenants/{TENANT_A}"),
        Some(json!({"custom_domains": [domain, "shop.tenant-a.test"]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let shop = r.json()["verification"]["shop.tenant-a.test"].clone();
    assert_eq!(shop["status"], "pending", "{}", r.text);
    assert_eq!(status_of(&gw, domain).await["status"], "verified");
    assert_eq!(gw.get("shop.tenant-a.test", "/").await.status, 404);
    let r = admin(
        &gw,
        Method::POST,
        &format!("/tenants/{TENANT_A}/domains/shop.tenant-a.test/verify"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["verification"]["shop.tenant-a.test"]["verified_by"],
        "admin"
    );
    assert_eq!(gw.get("shop.tenant-a.test", "/").await.status, 200);
    assert!(
        gw.stderr().contains("marked verified by hand"),
        "audited: {}",
        gw.stderr()
    );

    // Another tenant cannot claim it; removing it stops it at once.
    let r = admin(
        &gw,
        Method::PATCH,
        &format!("/tenants/{TENANT_B}"),
        Some(json!({"custom_domains": ["shop.tenant-a.test"]})),
    )
    .await;
    assert!(r.status == 400 || r.status == 409, "{}", r.text);
    let r = admin(
        &gw,
        Method::PATCH,
        &format!("/tenants/{TENANT_A}"),
        Some(json!({"custom_domains": [domain]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["verification"].get("shop.tenant-a.test").is_none());
    let r = gw.get("shop.tenant-a.test", "/").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.json()["error"], "unknown_host");
}

/// An origin that answers `/.well-known/tenant-gateway-challenge` with what `body` holds.
async fn token_origin(body: std::sync::Arc<std::sync::Mutex<String>>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let body = body.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let (status, text) =
                    if head.starts_with("GET /.well-known/tenant-gateway-challenge ") {
                        ("200 OK", body)
                    } else {
                        ("404 Not Found", String::new())
                    };
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = conn.write_all(resp.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn the_origin_can_prove_control_over_http_but_never_from_a_private_address() {
    // challtestsrv answers every A query with 127.0.0.1: a private address.
    let pebble = Pebble::start(free_port(), free_port());
    let web = Backend::start("web");
    let served = std::sync::Arc::new(std::sync::Mutex::new("not-the-token".to_string()));
    let origin_port = token_origin(served.clone()).await;
    let yaml = format!(
        "{}domain_verification:\n  nameservers: [\"{}\"]\n  min_interval: 1s\n  max_interval: 1s\n  \
         http_port: {origin_port}\n  allow_private_addresses: false\n",
        gateway_yaml(&[&web], ""),
        pebble.dns
    );
    let gw = GatewayBuilder::new(&yaml, &basic_tenants())
        .no_watch()
        .start();
    let domain = "www.tenant-a.test";
    let token = token_of(&gw, domain).await;
    *served.lock().unwrap() = token.clone();

    // The origin serves the token, but at a private address: never fetched.
    let refused = wait_check(&gw, domain, "resolves to no public address", 1).await["last_result"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        refused.contains("TXT _tenant-gateway-challenge.www.tenant-a.test."),
        "{refused}"
    );
    assert_eq!(status_of(&gw, domain).await["status"], "pending");

    // Allowed (a lab): a wrong answer keeps it pending, the token verifies it.
    *served.lock().unwrap() = "not-the-token".to_string();
    let allowed = std::fs::read_to_string(gw.path("gateway.yaml"))
        .unwrap()
        .replace(
            "allow_private_addresses: false",
            "allow_private_addresses: true",
        );
    gw.write_config("gateway.yaml", &allowed);
    assert_eq!(gw.reload().await.status, 200);
    wait_check(&gw, domain, "the answer is not the token", 1).await;
    assert_eq!(status_of(&gw, domain).await["status"], "pending");
    *served.lock().unwrap() = token;
    let verified = wait_state(&gw, domain, "verified").await;
    assert_eq!(verified["verified_by"], "http", "{verified}");
    assert_eq!(gw.get(domain, "/").await.status, 200);
}
