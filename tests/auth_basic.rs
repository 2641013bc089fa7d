//! HTTP Basic on webhook routes with Argon2-hashed credentials made by the real
//! `hash-password` command; bounded Argon2 work under a flood of wrong passwords (503
//! `overloaded` past the queue), wrong passwords answered from the failure cache, and a
//! changed password hash taking effect at reload.

mod common;
use common::*;

#[tokio::test]
async fn webhook_routes_take_the_tenants_basic_credentials() {
    let hash = hash_password("hook-pass-1");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let web = Backend::start("web");
    let tenants = format!(
        r#"tenants:
  - id: {TENANT_A}
    name: Tenant A
    subdomain: tenant-a
    basic_auth:
      - {{ username: billing-hook, password_hash: "{hash}" }}
    routes:
      - {{ prefix: /, pool: web }}
      - {{ prefix: /webhooks, pool: web, auth: basic }}
  - id: {TENANT_B}
    name: Tenant B
    subdomain: tenant-b
"#
    );
    let gw = GatewayBuilder::new(&gateway_yaml(&[&web], ""), &tenants)
        .no_watch()
        .start();
    let c = client();
    let post = |host: &str, user: &str, pass: &str| {
        c.post(gw.url("/webhooks/invoice"))
            .header("host", host.to_string())
            .basic_auth(user, Some(pass))
    };
    let ok = send(post("tenant-a.example.com", "billing-hook", "hook-pass-1")).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(
        ok.upstream_header("x-user-sub").as_deref(),
        Some("billing-hook")
    );
    // Cached verification gives the same answer.
    assert_eq!(
        send(post("tenant-a.example.com", "billing-hook", "hook-pass-1"))
            .await
            .status,
        200
    );

    for (user, pass) in [("billing-hook", "wrong"), ("nobody", "hook-pass-1")] {
        let r = send(post("tenant-a.example.com", user, pass)).await;
        assert_eq!(r.status, 401, "{user}:{pass}");
        assert_eq!(r.json()["reason"], "invalid_credentials");
        assert!(r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=\"tenant-a\""));
    }
    let r = send(
        c.post(gw.url("/webhooks/invoice"))
            .header("host", "tenant-a.example.com"),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    // The public route stays public; tenant B has no webhook route.
    assert_eq!(gw.get("tenant-a.example.com", "/").await.status, 200);
    assert_eq!(
        send(post("tenant-b.example.com", "billing-hook", "hook-pass-1"))
            .await
            .upstream_header("x-user-sub"),
        None
    );
    assert!(!gw.stderr().contains("hook-pass-1"));
}

#[test]
fn bad_hashes_and_missing_settings_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gateway.yaml"),
        "base_domains: [{ domain: example.com }]\npools: { web: { backends: [\"127.0.0.1:9\"] } }\ntenants: { source: file, path: tenants.yaml }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tenants.yaml"),
        format!(
            r#"tenants:
  - id: {TENANT_A}
    name: A
    subdomain: a
    basic_auth: [{{ username: hook, password_hash: plaintext }}]
    routes: [{{ prefix: /, pool: web, auth: basic }}]
  - id: {TENANT_B}
    name: B
    subdomain: b
    routes: [{{ prefix: /, pool: web, auth: jwt }}, {{ prefix: /x, pool: web, require_groups: [admins] }}]
    idp: {{ kind: oidc, issuer: "not a url", client_id: c, client_secret: {{ env: SURELY_UNSET_VAR_X }}, claim_headers: {{ Authorization: sub }} }}
"#
        ),
    )
    .unwrap();
    let (ok, out) = check(&dir.path().join("gateway.yaml"));
    assert!(!ok);
    for needle in [
        "tenant \"A\"",
        "basic_auth[0].password_hash: not a PHC hash",
        "tenant \"B\"",
        "idp.issuer: \"not a url\" is not an http(s) URL",
        "idp.client_secret: environment variable SURELY_UNSET_VAR_X is not set",
        "idp.claim_headers.Authorization",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

/// Tenant A with one Basic user (`hook`) on `/webhooks`, and a public `/`.
fn hook_tenants(hash: &str) -> String {
    format!(
        r#"tenants:
  - id: {TENANT_A}
    name: Tenant A
    subdomain: tenant-a
    basic_auth:
      - {{ username: hook, password_hash: "{hash}" }}
    routes:
      - {{ prefix: /, pool: web }}
      - {{ prefix: /webhooks, pool: web, auth: basic }}
"#
    )
}

/// The value of `gateway_basic_auth_checks_total{result, tenant="tenant-a"}` (0 when absent).
fn checks(metrics: &str, result: &str) -> u64 {
    let series =
        format!("gateway_basic_auth_checks_total{{result=\"{result}\",tenant=\"tenant-a\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |v| v.trim().parse().unwrap())
}

async fn hook(gw: &Gateway, c: &reqwest::Client, password: &str) -> Reply {
    send(
        c.post(gw.url("/webhooks/event"))
            .header("host", "tenant-a.example.com")
            .basic_auth("hook", Some(password)),
    )
    .await
}

#[tokio::test]
async fn a_flood_of_wrong_passwords_is_bounded_and_the_gateway_keeps_serving() {
    let web = Backend::start("web");
    let extra =
        "auth:\n  basic:\n    max_concurrent: 1\n    max_queue: 2\n    queue_timeout: 30s\n";
    let gw = GatewayBuilder::new(
        &gateway_yaml(&[&web], extra),
        &hook_tenants(&hash_password("right-pass")),
    )
    .no_watch()
    .start();
    let c = client();
    const FLOOD: usize = 24;
    let flood: Vec<_> = (0..FLOOD)
        .map(|i| {
            let c = c.clone();
            let url = gw.url("/webhooks/event");
            tokio::spawn(async move {
                send(
                    c.post(url)
                        .header("host", "tenant-a.example.com")
                        .basic_auth("hook", Some(format!("wrong-{i}"))),
                )
                .await
            })
        })
        .collect();
    // Argon2 runs off the request workers: the public route answers during the flood.
    let started = std::time::Instant::now();
    assert_eq!(gw.get("tenant-a.example.com", "/").await.status, 200);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let (mut unauthorized, mut overloaded) = (0, 0);
    for r in flood {
        let r = r.await.unwrap();
        match r.status {
            401 => {
                assert_eq!(r.json()["reason"], "invalid_credentials");
                unauthorized += 1;
            }
            503 => {
                assert_eq!(r.json()["reason"], "overloaded", "{}", r.text);
                assert_eq!(
                    r.headers.get("retry-after").map(|v| v.to_str().unwrap()),
                    Some("1"),
                    "{:?}",
                    r.headers
                );
                assert!(r.headers.get("www-authenticate").is_none());
                overloaded += 1;
            }
            s => panic!("unexpected {s}: {}", r.text),
        }
    }
    assert!(unauthorized >= 1, "no request was verified");
    assert!(overloaded >= 1, "no request was refused past the queue");
    let m = gw.metrics().await;
    assert_eq!(checks(&m, "overloaded"), overloaded);
    assert_eq!(checks(&m, "failed"), unauthorized);
    // The queue drains: the right password passes, the public route still answers.
    let ok = hook(&gw, &c, "right-pass").await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(gw.get("tenant-a.example.com", "/").await.status, 200);
    assert!(!gw.stderr().contains("wrong-1"));
}

#[tokio::test]
async fn wrong_passwords_are_remembered_until_the_hash_changes() {
    let web = Backend::start("web");
    let gw = GatewayBuilder::new(
        &gateway_yaml(&[&web], ""),
        &hook_tenants(&hash_password("old-pass")),
    )
    .no_watch()
    .start();
    let c = client();
    // The same wrong password: Argon2 once, then the failure cache.
    for _ in 0..4 {
        let r = hook(&gw, &c, "new-pass").await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.json()["reason"], "invalid_credentials");
        assert!(r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=\"tenant-a\""));
    }
    let m = gw.metrics().await;
    assert_eq!(checks(&m, "failed"), 1, "{m}");
    assert_eq!(checks(&m, "cached_failure"), 3, "{m}");
    // The right password still passes after the failures (then from the success cache).
    for _ in 0..2 {
        assert_eq!(hook(&gw, &c, "old-pass").await.status, 200);
    }
    let m = gw.metrics().await;
    assert_eq!(
        (checks(&m, "verified"), checks(&m, "cached")),
        (1, 1),
        "{m}"
    );

    // The password changes: the failed attempt with the new one is not remembered, the
    // cached success of the old one is gone.
    gw.write_config("tenants.yaml", &hook_tenants(&hash_password("new-pass")));
    let r = gw.reload().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ok = hook(&gw, &c, "new-pass").await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.upstream_header("x-user-sub").as_deref(), Some("hook"));
    assert_eq!(hook(&gw, &c, "old-pass").await.status, 401);
    let m = gw.metrics().await;
    assert_eq!(checks(&m, "cached_failure"), 3, "{m}");
    assert_eq!(
        (checks(&m, "verified"), checks(&m, "failed")),
        (2, 2),
        "{m}"
    );
}

#[test]
fn basic_limits_and_the_idp_body_cap_must_be_positive() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gateway.yaml"),
        "base_domains: [{ domain: example.com }]\npools: { web: { backends: [\"127.0.0.1:9\"] } }\ntenants: { source: file, path: tenants.yaml }\nauth:\n  idp_max_response_bytes: 0\n  basic: { max_concurrent: 0, max_queue: 0, queue_timeout: 0s, failure_cache_ttl: 0s }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("tenants.yaml"), "tenants: []\n").unwrap();
    let (ok, out) = check(&dir.path().join("gateway.yaml"));
    assert!(!ok);
    for needle in [
        "auth.basic.max_concurrent: must be at least 1",
        "auth.basic.max_queue: must be at least 1",
        "auth.basic.queue_timeout: must be positive",
        "auth.basic.failure_cache_ttl: must be positive",
        "auth.idp_max_response_bytes: must be positive",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    std::fs::write(
        dir.path().join("gateway.yaml"),
        "base_domains: [{ domain: example.com }]\npools: { web: { backends: [\"127.0.0.1:9\"] } }\ntenants: { source: file, path: tenants.yaml }\nauth:\n  basic: { max_queu: 3 }\n",
    )
    .unwrap();
    let (ok, out) = check(&dir.path().join("gateway.yaml"));
    assert!(!ok && out.contains("max_queu"), "{out}");
}
