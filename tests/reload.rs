//! Live configuration changes: file watch, SIGHUP and the admin API all apply a valid change
//! without a restart; a broken change is rejected and the running configuration keeps serving.

mod common;
use common::*;
use std::time::Duration;

const NEW_TENANT: &str = "44444444-4444-4444-8444-444444444444";

fn with_new_tenant() -> String {
    format!(
        "{}  - id: {NEW_TENANT}\n    name: Newco\n    subdomain: newco\n",
        basic_tenants()
    )
}

#[tokio::test]
async fn file_changes_apply_without_restart() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants()).start();
    let pid = gw.pid();
    assert_eq!(gw.get("newco.example.com", "/").await.status, 404);

    // Onboard: the watcher picks the new file up.
    gw.write_config("tenants.yaml", &with_new_tenant());
    let r = gw
        .wait_for_status("newco.example.com", "/", 200, Duration::from_secs(10))
        .await;
    assert_eq!(
        r.upstream_header("x-tenant-id").as_deref(),
        Some(NEW_TENANT)
    );

    // Disable, then remove.
    gw.write_config(
        "tenants.yaml",
        &with_new_tenant().replace(
            "subdomain: newco\n",
            "subdomain: newco\n    status: disabled\n",
        ),
    );
    gw.wait_for_status("newco.example.com", "/", 403, Duration::from_secs(10))
        .await;
    gw.write_config("tenants.yaml", &basic_tenants());
    gw.wait_for_status("newco.example.com", "/", 404, Duration::from_secs(10))
        .await;

    assert_eq!(gw.pid(), pid, "same process throughout");
    let metrics = gw.metrics().await;
    assert!(metrics.contains("gateway_config_generation 4"), "{metrics}");
}

#[tokio::test]
async fn broken_changes_are_rejected_and_the_running_config_keeps_serving() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants())
        .no_watch()
        .start();

    // A duplicate subdomain and a route to a pool that does not exist.
    let broken = format!(
        "{}  - id: {NEW_TENANT}\n    name: Copycat\n    subdomain: tenant-a\n    routes:\n      - {{ prefix: /, pool: nowhere }}\n",
        basic_tenants()
    );
    gw.write_config("tenants.yaml", &broken);
    let r = gw.reload().await;
    assert_eq!(r.status, 400, "{}", r.text);
    let body = r.json();
    assert_eq!(body["error"], "invalid_config");
    let issues = body["issues"].to_string();
    assert!(issues.contains("tenants.yaml"), "{issues}");
    assert!(issues.contains("Copycat"), "{issues}");
    assert!(issues.contains("subdomain"), "{issues}");
    assert!(issues.contains("routes[0].pool"), "{issues}");
    assert!(issues.contains("nowhere"), "{issues}");

    // Unparseable YAML and an unknown field: rejected too.
    for bad in [
        "tenants: [ {",
        &basic_tenants().replace("tier: premium", "tier: premium\n    colour: blue"),
    ] {
        gw.write_config("tenants.yaml", bad);
        assert_eq!(gw.reload().await.status, 400);
    }
    // A broken gateway.yaml is rejected as well.
    let good_gateway = std::fs::read_to_string(gw.path("gateway.yaml")).unwrap();
    gw.write_config(
        "gateway.yaml",
        &good_gateway.replace("interval: 200ms", "interval: soon"),
    );
    let r = gw.reload().await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["issues"].to_string().contains("gateway.yaml"),
        "{}",
        r.text
    );

    // Traffic continues on the last good configuration.
    let r = gw.get("tenant-a.example.com", "/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.upstream_header("x-tenant-id").as_deref(), Some(TENANT_A));
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_config_reloads_total{result=\"rejected\"} 4"),
        "{metrics}"
    );
    assert!(metrics.contains("gateway_config_generation 1"));

    // Fixing the files and reloading applies.
    gw.write_config("gateway.yaml", &good_gateway);
    gw.write_config("tenants.yaml", &with_new_tenant());
    let r = gw.reload().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["result"], "applied");
    assert_eq!(gw.get("newco.example.com", "/").await.status, 200);
    assert_eq!(gw.reload().await.json()["result"], "unchanged");
}

#[tokio::test]
async fn sighup_reloads() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants())
        .no_watch()
        .start();
    gw.write_config("tenants.yaml", &with_new_tenant());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        gw.get("newco.example.com", "/").await.status,
        404,
        "no watch: nothing changes yet"
    );
    let status = std::process::Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    gw.wait_for_status("newco.example.com", "/", 200, Duration::from_secs(10))
        .await;
}

#[tokio::test]
async fn in_flight_requests_finish_on_the_snapshot_they_started_with() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants())
        .no_watch()
        .start();
    let url = gw.url("/slow?sleep_ms=1500");
    let slow = tokio::spawn(async move {
        send(client().get(url).header("host", "tenant-b.example.com")).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Remove tenant B while its request is in flight.
    gw.write_config(
        "tenants.yaml",
        &basic_tenants().replace(
            &format!("  - id: {TENANT_B}\n    name: Tenant B\n    subdomain: tenant-b\n"),
            "",
        ),
    );
    assert_eq!(gw.reload().await.status, 200);
    assert_eq!(gw.get("tenant-b.example.com", "/").await.status, 404);
    let r = slow.await.unwrap();
    assert_eq!(r.status, 200, "in-flight request was cut: {}", r.text);
    assert_eq!(r.upstream_header("x-tenant-id").as_deref(), Some(TENANT_B));
}

#[tokio::test]
async fn admin_api_needs_the_token_and_probes_do_not() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants())
        .no_watch()
        .start();
    let c = client();
    assert_eq!(send(c.get(gw.admin_url("/healthz"))).await.status, 200);
    assert_eq!(
        send(c.get(gw.admin_url("/readyz"))).await.json()["generation"],
        1
    );
    assert_eq!(send(c.get(gw.admin_url("/metrics"))).await.status, 200);
    let r = send(c.post(gw.admin_url("/reload"))).await;
    assert_eq!(r.status, 401);
    assert!(r.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    assert_eq!(
        send(
            c.post(gw.admin_url("/reload"))
                .bearer_auth("wrong-token-wrong-token")
        )
        .await
        .status,
        401
    );
    assert_eq!(send(c.get(gw.admin_url("/status"))).await.status, 401);
    assert_eq!(
        send(c.get(gw.admin_url("/reload")).bearer_auth(ADMIN_TOKEN))
            .await
            .status,
        405
    );
    assert_eq!(send(c.get(gw.admin_url("/nope"))).await.status, 404);
    assert_eq!(gw.reload().await.status, 200);
    // The admin API is not served on the tenant listener.
    assert_eq!(
        gw.get("tenant-a.example.com", "/reload").await.backend(),
        "web1"
    );
    assert!(
        !gw.stderr().contains(ADMIN_TOKEN),
        "the token must never be logged"
    );
}

#[tokio::test]
async fn without_a_token_the_admin_writes_are_refused() {
    let b = Backend::start("web1");
    let yaml = gateway_yaml(&[&b], "").replace("admin:\n  token_env: TEST_ADMIN_TOKEN\n", "");
    let gw = GatewayBuilder::new(&yaml, &basic_tenants())
        .no_watch()
        .start();
    let r = send(
        client()
            .post(gw.admin_url("/reload"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "admin_disabled");
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants())
        .no_watch()
        .start();
    let url = gw.url("/slow?sleep_ms=1000");
    let slow = tokio::spawn(async move {
        send(client().get(url).header("host", "tenant-a.example.com")).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let r = slow.await.unwrap();
    assert_eq!(
        r.status, 200,
        "the in-flight request completes during shutdown: {}",
        r.text
    );
    // Then the process exits by itself within the shutdown timeout.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{}", gw.pid())).exists()
        && std::fs::read_to_string(format!("/proc/{}/stat", gw.pid()))
            .is_ok_and(|s| !s.contains(") Z "))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "gateway did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
