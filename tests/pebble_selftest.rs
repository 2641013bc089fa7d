//! The ACME test peer works on its own, before any gateway is involved: pebble's directory
//! and management API answer over HTTPS trusted through `ca_cert`, restarts give a new
//! issuing root, and the openssl helpers (served chain, ALPN, chain verification) tell a
//! good chain from a bad one.

mod common;
use common::pebble::*;
use common::*;
use serde_json::json;

#[tokio::test]
async fn pebble_directory_roots_and_restart() {
    let mut p = Pebble::start(free_port(), free_port());

    let dir = p.directory().await;
    for key in ["newOrder", "newAccount", "newNonce"] {
        let url = dir[key].as_str().unwrap_or_default();
        assert!(
            url.starts_with(&format!("https://{}/", p.listen)),
            "{key}: {dir}"
        );
    }

    let root = p.root_pem().await;
    assert_eq!(split_pem(&root).len(), 1, "{root}");
    let root_info = cert_info(&root).unwrap();
    assert!(
        root_info.subject.contains("Pebble Root CA"),
        "{root_info:?}"
    );
    let inter = p.intermediate_pem().await;
    let inter_info = cert_info(&inter).unwrap();
    assert!(
        inter_info.subject.contains("Pebble Intermediate CA"),
        "{inter_info:?}"
    );
    assert_eq!(inter_info.issuer, root_info.subject);

    // A restart keeps the ports and configuration but makes a new CA.
    p.stop();
    assert!(!p.is_running());
    p.start_again();
    assert!(p.is_running());
    assert!(p.directory().await["newOrder"].is_string());
    let root2 = p.root_pem().await;
    assert_ne!(
        cert_info(&root2).unwrap().fingerprint,
        root_info.fingerprint,
        "pebble kept its root across a restart"
    );
    let log = p.log();
    assert_eq!(log.matches("Generated new root issuer").count(), 2, "{log}");
    assert!(
        log.contains("Configured to reject 0% of good nonces"),
        "{log}"
    );
    assert!(log.contains("Disabling random VA sleeps"), "{log}");
}

#[tokio::test]
async fn openssl_helpers_on_pebbles_own_listener() {
    let p = Pebble::start(free_port(), free_port());
    let root = p.root_pem().await;

    let chain = fetch_served_chain(p.listen, "localhost").unwrap();
    assert_eq!(chain.len(), 1, "{chain:?}");
    let served = cert_info(&chain[0]).unwrap();
    assert_eq!(
        served.fingerprint,
        cert_info(&p.ca_cert_pem()).unwrap().fingerprint
    );
    assert!(
        served.sans.contains(&"DNS:localhost".to_string()),
        "{served:?}"
    );
    assert!(
        served.sans.contains(&"IP:127.0.0.1".to_string()),
        "{served:?}"
    );
    // No SNI at all: Go serves its one certificate anyway.
    assert_eq!(fetch_served_chain(p.listen, "").unwrap().len(), 1);

    let ca = p.ca_cert_pem();
    verify_chain(&chain.concat(), &ca, "localhost").unwrap();
    verify_chain(&chain.concat(), &ca, "127.0.0.1").unwrap();
    let err = verify_chain(&chain.concat(), &ca, "tenant-a.example.com").unwrap_err();
    assert!(err.contains("does not cover"), "{err}");
    let err = verify_chain(&chain.concat(), &root, "localhost").unwrap_err();
    assert!(err.contains("openssl verify"), "{err}");
    // The intermediate is no trust anchor for it either.
    let chain_with_inter = format!("{}{}", chain[0], p.intermediate_pem().await);
    assert!(verify_chain(&chain_with_inter, &root, "localhost").is_err());

    assert_eq!(
        served_alpn(p.listen, "localhost", "h2,http/1.1").as_deref(),
        Some("h2")
    );
    assert_eq!(
        served_alpn(p.listen, "localhost", "http/1.1").as_deref(),
        Some("http/1.1")
    );
    assert_eq!(served_alpn(p.listen, "localhost", "acme-tls/1"), None);

    // Nothing listening: an error, not a hang.
    let closed = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    assert!(fetch_served_chain(closed, "localhost").is_err());
}

#[tokio::test]
async fn pebble_env_and_config_overrides() {
    let p = Pebble::start_with(
        free_port(),
        free_port(),
        &[("PEBBLE_WFE_NONCEREJECT", "50")],
        &[("certificateValidityPeriod", json!(120))],
    );
    assert!(p.directory().await["newNonce"].is_string());
    let log = p.log();
    assert!(
        log.contains("Configured to reject 50% of good nonces"),
        "{log}"
    );
    assert!(log.contains("validity period of 120 seconds"), "{log}");
    assert!(log.contains("Answering A queries with 127.0.0.1"), "{log}");
}

/// What pebble's validator asked the HTTP-01 responder: (Host header, path).
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A minimal HTTP-01 responder on `port`: answers `/.well-known/acme-challenge/<token>` from
/// `tokens` (token -> key authorization), 404 otherwise, and records every request.
async fn http01_responder(
    port: u16,
    tokens: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    seen: Seen,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let tokens = tokens.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let path = head.split(' ').nth(1).unwrap_or_default().to_string();
                let host = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("host").then(|| v.trim().to_string())
                    })
                    .unwrap_or_default();
                seen.lock().unwrap().push((host, path.clone()));
                let answer = path
                    .strip_prefix("/.well-known/acme-challenge/")
                    .and_then(|t| tokens.lock().unwrap().get(t).cloned());
                let resp = match answer {
                    Some(body) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string(),
                };
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
}

/// A whole HTTP-01 issuance with instant-acme (no shortcut: pebble's validator fetches every
/// token from our responder), then the issued chain served by openssl and checked with the
/// helpers, before and after a pebble restart (new root).
#[tokio::test]
async fn http01_issuance_with_instant_acme() {
    use instant_acme::{
        Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
        RetryPolicy,
    };
    use std::time::Duration;

    // rustls is built with both ring and aws-lc-rs here (instant-acme's default features):
    // without a process-wide provider, instant-acme's client panics.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http_port = free_port();
    let mut p = Pebble::start(http_port, free_port());
    let tokens = std::sync::Arc::new(std::sync::Mutex::new(Default::default()));
    let seen: Seen = Default::default();
    http01_responder(http_port, tokens.clone(), seen.clone()).await;

    let names = ["tenant-a.example.com", "www.tenant-a.test"];
    let (account, _credentials) = Account::builder_with_root(&p.ca_cert)
        .unwrap()
        .create(
            &NewAccount {
                contact: &[],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            p.dir_url.clone(),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("new account: {e}\n{}", p.log()));
    let ids: Vec<Identifier> = names
        .iter()
        .map(|n| Identifier::Dns(n.to_string()))
        .collect();
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    let mut authzs = order.authorizations();
    while let Some(authz) = authzs.next().await {
        let mut authz = authz.unwrap();
        assert_eq!(authz.status, AuthorizationStatus::Pending);
        let mut challenge = authz.challenge(ChallengeType::Http01).unwrap();
        let key_auth = challenge.key_authorization().as_str().to_string();
        tokens
            .lock()
            .unwrap()
            .insert(challenge.token.clone(), key_auth);
        challenge.set_ready().await.unwrap();
    }
    let retry = RetryPolicy::default()
        .initial_delay(Duration::from_millis(100))
        .timeout(Duration::from_secs(10));
    let status = order.poll_ready(&retry).await.unwrap();
    assert_eq!(
        status,
        OrderStatus::Ready,
        "{:?}\n{}",
        order.state(),
        p.log()
    );
    let key_pem = order.finalize().await.unwrap();
    let chain_pem = order.poll_certificate(&retry).await.unwrap();

    // The validator: plain HTTP to 127.0.0.1:<http_port>, Host with the port, several times.
    let seen = seen.lock().unwrap().clone();
    for name in names {
        let hits: Vec<_> = seen
            .iter()
            .filter(|(h, path)| {
                *h == format!("{name}:{http_port}")
                    && path.starts_with("/.well-known/acme-challenge/")
            })
            .collect();
        assert!(!hits.is_empty(), "{name}: {seen:?}");
    }

    let chain = split_pem(&chain_pem);
    assert_eq!(chain.len(), 2, "leaf + intermediate: {chain_pem}");
    let leaf = cert_info(&chain[0]).unwrap();
    for name in names {
        assert!(leaf.sans.contains(&format!("DNS:{name}")), "{leaf:?}");
    }
    let root = p.root_pem().await;
    assert_eq!(
        cert_info(&chain[1]).unwrap().fingerprint,
        cert_info(&p.intermediate_pem().await).unwrap().fingerprint
    );

    let server = OpensslServer::start(&chain_pem, &key_pem, "h2,http/1.1");
    let served = fetch_served_chain(server.addr, names[0]).unwrap();
    assert_eq!(served, chain, "{}", server.log());
    assert_eq!(
        served_alpn(server.addr, names[0], "h2,http/1.1").as_deref(),
        Some("h2")
    );
    verify_chain(&served.concat(), &root, names[0]).unwrap();
    verify_chain(&served.concat(), &root, names[1]).unwrap();
    assert!(verify_chain(&served.concat(), &root, "tenant-b.example.com").is_err());
    // Without the intermediate the leaf does not chain up to the root.
    assert!(verify_chain(&served[0], &root, names[0]).is_err());

    // A restarted pebble has a new root: the old chain no longer verifies against it.
    p.start_again();
    let new_root = p.root_pem().await;
    assert!(verify_chain(&served.concat(), &new_root, names[0]).is_err());
    verify_chain(&served.concat(), &root, names[0]).unwrap();
}
