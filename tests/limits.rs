//! Per-tenant rate and concurrency limits by tier, against the real gateway and backends: a
//! tenant held to its rate under load while another is untouched, 503 past `max_in_flight`,
//! per-user and per-client-IP keys (with and without trusted proxies), and tier changes
//! applied live through the admin API and a file reload.

mod common;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const A: &str = "tenant-a.example.com";
const B: &str = "tenant-b.example.com";

fn header<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.headers.get(name).map_or("", |v| v.to_str().unwrap_or(""))
}

/// Tenant B (tier `basic`) at 50/s, burst 10, gets 200 req/s for 5 s: about 50×5+10 pass,
/// the rest are 429 with `Retry-After: 1`; tenant A, on the same pool at the same time, is
/// never limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_is_held_to_its_rate_and_the_others_are_not() {
    let web = Backend::start("web");
    let yaml = gateway_yaml(
        &[&web],
        "tiers:\n  basic: { rate_per_second: 50, burst: 10 }\n",
    );
    let gw = GatewayBuilder::new(&yaml, &basic_tenants())
        .no_watch()
        .start();
    let gw = Arc::new(gw);
    let ok_b = Arc::new(AtomicUsize::new(0));
    let limited_b = Arc::new(AtomicUsize::new(0));
    let other_b = Arc::new(AtomicUsize::new(0));
    let bad_a = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for i in 0..1000u32 {
        tick.tick().await;
        let (gw, ok_b, limited_b, other_b, bad_a) = (
            gw.clone(),
            ok_b.clone(),
            limited_b.clone(),
            other_b.clone(),
            bad_a.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = gw.get(B, "/load").await;
            match r.status {
                200 => {
                    ok_b.fetch_add(1, Ordering::Relaxed);
                }
                429 => {
                    assert_eq!(header(&r, "retry-after"), "1", "{:?}", r.headers);
                    assert_eq!(header(&r, "ratelimit-policy"), "\"basic\";q=50;w=1");
                    assert!(
                        header(&r, "ratelimit").starts_with("\"basic\";r=0;t="),
                        "{:?}",
                        r.headers
                    );
                    assert_eq!(r.json()["error"], "rate_limited", "{}", r.text);
                    limited_b.fetch_add(1, Ordering::Relaxed);
                }
                _ => {
                    other_b.fetch_add(1, Ordering::Relaxed);
                }
            }
            if i % 10 == 0 {
                let r = gw.get(A, "/load").await;
                if r.status != 200 {
                    bad_a.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let sent_for = start.elapsed();
    for t in tasks {
        t.await.unwrap();
    }
    let ok = ok_b.load(Ordering::Relaxed);
    let limited = limited_b.load(Ordering::Relaxed);
    // The budget over the time the load really took (the pacing loop may run a little late).
    let expected = 50.0 * sent_for.as_secs_f64() + 10.0;
    eprintln!("sent for {sent_for:?}: {ok} accepted (expected {expected:.0}), {limited} limited");
    assert_eq!(other_b.load(Ordering::Relaxed), 0, "only 200 and 429");
    assert_eq!(ok + limited, 1000);
    assert!(
        (ok as f64) >= expected * 0.9 && (ok as f64) <= expected * 1.1,
        "{ok} accepted, expected {expected:.0} ±10%"
    );
    assert!((ok as f64) >= 260.0 * 0.9 && (ok as f64) <= 260.0 * 1.25);
    assert_eq!(bad_a.load(Ordering::Relaxed), 0, "tenant A was limited");
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(&format!(
            "gateway_limited_requests_total{{reason=\"rate\",tenant=\"tenant-b\"}} {limited}"
        )),
        "{metrics}"
    );
    assert!(
        !metrics.contains("gateway_limited_requests_total{reason=\"rate\",tenant=\"tenant-a\"}")
    );
}

/// Tenant B may have 4 requests in flight: the 5th gets 503 `concurrency_limited`; tenant A
/// runs 5 at once; once B's requests finish it is admitted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fifth_concurrent_request_is_refused_and_other_tenants_are_not() {
    let web = Backend::start("web");
    let yaml = gateway_yaml(&[&web], "tiers:\n  basic: { max_in_flight: 4 }\n");
    let gw = Arc::new(
        GatewayBuilder::new(&yaml, &basic_tenants())
            .no_watch()
            .start(),
    );
    let slow = |host: &'static str| {
        let gw = gw.clone();
        tokio::spawn(async move { gw.get(host, "/slow?sleep_ms=1500").await })
    };
    let b_slow: Vec<_> = (0..4).map(|_| slow(B)).collect();
    let a_slow: Vec<_> = (0..5).map(|_| slow(A)).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fifth = gw.get(B, "/").await;
    assert_eq!(fifth.status, 503, "{}", fifth.text);
    assert_eq!(fifth.json()["error"], "concurrency_limited");
    assert_eq!(header(&fifth, "retry-after"), "1");
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_in_flight{tier=\"basic\"} 4"),
        "{metrics}"
    );
    assert!(metrics
        .contains("gateway_limited_requests_total{reason=\"in_flight\",tenant=\"tenant-b\"} 1"));
    for t in b_slow.into_iter().chain(a_slow) {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(gw.get(B, "/").await.status, 200);
    assert!(gw
        .metrics()
        .await
        .contains("gateway_in_flight{tier=\"basic\"} 0"));
}

/// `key: user` on a Basic route: each user has a budget of its own; `limits: off` routes are
/// never limited.
#[tokio::test]
async fn each_user_of_a_tenant_gets_its_own_budget() {
    let (h1, h2) = (hash_password("pass-one"), hash_password("pass-two"));
    let web = Backend::start("web");
    let tenants = format!(
        r#"tenants:
  - id: {TENANT_B}
    name: Tenant B
    subdomain: tenant-b
    basic_auth:
      - {{ username: hook-1, password_hash: "{h1}" }}
      - {{ username: hook-2, password_hash: "{h2}" }}
    routes:
      - {{ prefix: /, pool: web }}
      - {{ prefix: /health, pool: web, limits: off }}
      - {{ prefix: /hooks, pool: web, auth: basic, limits: {{ rate_per_second: 1, burst: 2, key: user }} }}
"#
    );
    let yaml = gateway_yaml(
        &[&web],
        "tiers:\n  basic: { rate_per_second: 1, burst: 1 }\n",
    );
    let gw = GatewayBuilder::new(&yaml, &tenants).no_watch().start();
    let c = client();
    let hook = |user: &str, pass: &str| {
        send(
            c.post(gw.url("/hooks/x"))
                .header("host", B)
                .basic_auth(user, Some(pass)),
        )
    };
    // Warm the credential cache, so the budget is not refilled while Argon2 runs.
    assert_eq!(hook("hook-1", "pass-one").await.status, 200);
    assert_eq!(hook("hook-2", "pass-two").await.status, 200);
    let third = async {
        let mut last = 0;
        for _ in 0..3 {
            last = hook("hook-1", "pass-one").await.status;
        }
        last
    };
    assert_eq!(third.await, 429, "hook-1 over its budget");
    assert_eq!(
        hook("hook-2", "pass-two").await.status,
        200,
        "hook-2's own budget"
    );
    // A wrong password names no user: it spends the tenant's budget of this route, so a
    // flood of bad credentials is limited too (burst 2, then 429).
    let mut bad = Vec::new();
    for _ in 0..5 {
        bad.push(hook("nobody", "wrong").await.status);
    }
    assert_eq!(bad[0], 401, "{bad:?}");
    assert!(bad.contains(&429), "{bad:?}");
    // While that budget is spent, requests are refused before their credential is checked:
    // the flood costs no Argon2 work, which every tenant's Basic checks share.
    let checks = |m: &str| -> u64 {
        m.lines()
            .filter(|l| l.starts_with("gateway_basic_auth_checks_total{") && l.contains("tenant-b"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    let mut refused = 0;
    for _ in 0..3 {
        let before = checks(&gw.metrics().await);
        let r = hook("nobody", "wrong").await;
        if r.status == 429 {
            refused += 1;
            assert!(r.headers.contains_key("retry-after"), "{:?}", r.headers);
            assert_eq!(
                checks(&gw.metrics().await),
                before,
                "a 429 checked a credential"
            );
        }
    }
    assert!(refused > 0, "the spent budget refused none");
    // The tenant-wide tier (1/s, burst 1) still holds on other routes; /health is off.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(gw.get(B, "/page").await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    for _ in 0..5 {
        assert_eq!(gw.get(B, "/health").await.status, 200);
    }
}

/// `key: client_ip`: from an untrusted socket `X-Forwarded-For` does not change the key;
/// once 127.0.0.1 is a trusted proxy (a file reload) it does.
#[tokio::test]
async fn client_ip_keys_read_forwarded_for_only_from_trusted_proxies() {
    let web = Backend::start("web");
    let tiers = "tiers:\n  basic: { rate_per_second: 1, burst: 1, key: client_ip }\n";
    let gw = GatewayBuilder::new(&gateway_yaml(&[&web], tiers), &basic_tenants())
        .no_watch()
        .start();
    let from = |ip: &str| {
        send(
            client()
                .get(gw.url("/"))
                .header("host", B)
                .header("x-forwarded-for", ip.to_string()),
        )
    };
    assert_eq!(from("198.51.100.1").await.status, 200);
    let spoofed = from("198.51.100.2").await;
    assert_eq!(
        spoofed.status, 429,
        "a spoofed X-Forwarded-For chose the key"
    );
    gw.write_config(
        "gateway.yaml",
        &std::fs::read_to_string(gw.path("gateway.yaml"))
            .unwrap()
            .replace(
                "tiers:",
                "limits:\n  trusted_proxies: [\"127.0.0.1/32\"]\ntiers:",
            ),
    );
    let r = gw.reload().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(from("198.51.100.3").await.status, 200);
    assert_eq!(from("198.51.100.4").await.status, 200);
    assert_eq!(from("198.51.100.3").await.status, 429);
}

/// A PATCH of a tenant's tier applies at once, without resetting another tenant's budget;
/// `GET /tenants/{id}` shows the effective limits; `headers_on_success` adds the headers to
/// forwarded responses.
#[tokio::test]
async fn a_tier_change_through_the_admin_api_applies_live() {
    let web = Backend::start("web");
    let extra = "limits:\n  headers_on_success: true\ntiers:\n  basic: { rate_per_second: 1, burst: 1 }\n  premium: { rate_per_second: 1000, burst: 100, max_in_flight: 50 }\n  tight: { rate_per_second: 1, burst: 1 }\n";
    let tenants = basic_tenants().replace("tier: premium", "tier: tight");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&web], extra), &tenants)
        .no_watch()
        .start();
    let ok = gw.get(B, "/").await;
    assert_eq!(ok.status, 200);
    assert_eq!(header(&ok, "ratelimit-policy"), "\"basic\";q=1;w=1");
    assert_eq!(header(&ok, "ratelimit"), "\"basic\";r=0;t=1");
    assert_eq!(gw.get(B, "/").await.status, 429);
    // Tenant A spends its budget, then B's tier changes: A's budget must survive the change.
    // A's budget refills within a second, so a round only counts when the change and A's next
    // request fit in 800 ms; on a slow machine the round is repeated (never skipped).
    let mut checked = false;
    for round in 0..5 {
        let tier = if round % 2 == 0 { "premium" } else { "basic" };
        eventually(
            "tenant A's budget refills",
            Duration::from_secs(5),
            || async {
                let s = gw.get(A, "/").await.status;
                if s == 200 {
                    Ok(())
                } else {
                    Err(format!("status {s}"))
                }
            },
        )
        .await;
        let spent_at = Instant::now();
        assert_eq!(gw.get(A, "/").await.status, 429);
        let patch = send(
            client()
                .patch(gw.admin_url(&format!("/tenants/{TENANT_B}")))
                .bearer_auth(ADMIN_TOKEN)
                .json(&serde_json::json!({ "tier": tier })),
        )
        .await;
        assert_eq!(patch.status, 200, "{}", patch.text);
        let a_after = gw.get(A, "/").await.status;
        if spent_at.elapsed() < Duration::from_millis(800) {
            assert_eq!(
                a_after, 429,
                "tenant A's budget was reset by another tenant's change"
            );
            checked = true;
            if tier == "premium" {
                break;
            }
        }
    }
    assert!(
        checked,
        "no round fitted in 800 ms: the machine is too slow to tell"
    );
    let patch = send(
        client()
            .patch(gw.admin_url(&format!("/tenants/{TENANT_B}")))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({ "tier": "premium" })),
    )
    .await;
    assert_eq!(patch.status, 200, "{}", patch.text);
    for _ in 0..20 {
        let r = gw.get(B, "/").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(header(&r, "ratelimit-policy"), "\"premium\";q=1000;w=1");
    }
    let shown = send(
        client()
            .get(gw.admin_url(&format!("/tenants/{TENANT_B}")))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(
        shown.json()["effective_limits"],
        serde_json::json!({
            "tier_configured": true, "rate_per_second": 1000, "burst": 100,
            "max_in_flight": 50, "key": "tenant"
        })
    );
    // A tenant override (through the admin API) merges with the tier.
    let patch = send(
        client()
            .patch(gw.admin_url(&format!("/tenants/{TENANT_B}")))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({ "limits": { "rate_per_second": 2, "burst": 1 } })),
    )
    .await;
    assert_eq!(patch.status, 200, "{}", patch.text);
    let shown = send(
        client()
            .get(gw.admin_url(&format!("/tenants/{TENANT_B}")))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(shown.json()["effective_limits"]["rate_per_second"], 2);
    assert_eq!(shown.json()["effective_limits"]["max_in_flight"], 50);
    assert_eq!(shown.json()["limits"]["rate_per_second"], 2);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(gw.get(B, "/").await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // Invalid values are refused.
    let bad = send(
        client()
            .patch(gw.admin_url(&format!("/tenants/{TENANT_B}")))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({ "limits": { "burst": 0 } })),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.text.contains("limits.burst"), "{}", bad.text);
}

/// Validation: zero values and bad CIDRs are refused with the field named.
#[test]
fn invalid_limits_are_refused_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let web = Backend::start("web");
    let yaml = gateway_yaml(
        &[&web],
        "limits:\n  trusted_proxies: [\"10.0.0.0/99\"]\ntiers:\n  basic: { rate_per_second: 0, burst: 0 }\n",
    )
    .replace("{http}", "127.0.0.1:1")
    .replace("{admin}", "127.0.0.1:2")
    .replace("{access_log}", "off");
    std::fs::write(dir.path().join("gateway.yaml"), yaml).unwrap();
    std::fs::write(dir.path().join("tenants.yaml"), basic_tenants()).unwrap();
    let (ok, text) = check(&dir.path().join("gateway.yaml"));
    assert!(!ok, "{text}");
    for field in [
        "tiers.basic.rate_per_second",
        "tiers.basic.burst",
        "limits.trusted_proxies[0]",
    ] {
        assert!(text.contains(field), "{field} not in {text}");
    }
}
