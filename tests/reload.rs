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

/// `--no-watch`: an edit is applied only by an explicit reload. The positive control is a
/// gateway with the watch, on the same configuration, given the same edit after the
/// no-watch one: once it has applied it, a watcher in the no-watch gateway would have too.
#[tokio::test]
async fn without_the_watch_an_edit_waits_for_the_admin_api_or_sighup() {
    let b = Backend::start("web1");
    let watching = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants()).start();
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants())
        .no_watch()
        .start();
    gw.write_config("tenants.yaml", &with_new_tenant());
    watching.write_config("tenants.yaml", &with_new_tenant());
    watching
        .wait_for_status("newco.example.com", "/", 200, Duration::from_secs(10))
        .await;
    wait_for_log(&watching, "file-watch").await;

    // Edited earlier, yet still on the configuration it started with.
    assert_eq!(
        gw.get("newco.example.com", "/").await.status,
        404,
        "no watch: the edit is not applied"
    );
    let ready = send(client().get(gw.admin_url("/readyz"))).await.json();
    assert_eq!(ready["generation"], 1, "{ready}");
    // The admin API applies it: `applied` (a reload before it would leave `unchanged`).
    let r = gw.reload().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["result"], "applied", "{}", r.text);
    assert_eq!(r.json()["generation"], 2, "{}", r.text);
    assert_eq!(gw.get("newco.example.com", "/").await.status, 200);

    // SIGHUP applies the next edit.
    gw.write_config(
        "tenants.yaml",
        &with_new_tenant().replace(
            "subdomain: newco\n",
            "subdomain: newco\n    status: disabled\n",
        ),
    );
    let status = std::process::Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    gw.wait_for_status("newco.example.com", "/", 403, Duration::from_secs(10))
        .await;
    wait_for_log(&gw, "sighup").await;
    let log = gw.stderr();
    assert!(
        !log.contains("file-watch"),
        "no watch, no file-watch reload: {log}"
    );
}

/// Waits until the gateway's log has `text` (a reload logs right after it publishes).
async fn wait_for_log(gw: &Gateway, text: &str) {
    eventually(
        &format!("{text:?} in the gateway log"),
        Duration::from_secs(5),
        || async {
            let log = gw.stderr();
            if log.contains(text) {
                Ok(())
            } else {
                Err(log)
            }
        },
    )
    .await;
}

/// Settings read only at start (the authenticator's HTTP client and caches, listeners...):
/// a reload applies the rest and names these in its answer and in a warning.
#[tokio::test]
async fn a_reload_names_the_settings_that_apply_at_the_next_restart() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants())
        .no_watch()
        .start();
    let started = std::fs::read_to_string(gw.path("gateway.yaml")).unwrap();
    assert_eq!(
        gw.reload().await.json()["restart_required"],
        serde_json::json!([])
    );

    // http_timeout is start-only; leeway applies live.
    gw.write_config(
        "gateway.yaml",
        &format!("{started}auth:\n  http_timeout: 7s\n  leeway: 30s\n"),
    );
    let r = gw.reload().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["result"], "applied", "{body}");
    assert_eq!(
        body["restart_required"],
        serde_json::json!(["auth.http_timeout"]),
        "{body}"
    );
    // Logged before the answer.
    let log = gw.stderr();
    assert!(
        log.contains("auth.http_timeout changed: applies at the next restart"),
        "{log}"
    );

    // Still pending at the next reload; back at the started value, nothing is.
    assert_eq!(
        gw.reload().await.json()["restart_required"],
        serde_json::json!(["auth.http_timeout"])
    );
    gw.write_config("gateway.yaml", &started);
    let body = gw.reload().await.json();
    assert_eq!(body["result"], "applied", "{body}");
    assert_eq!(body["restart_required"], serde_json::json!([]), "{body}");
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
    let stat = format!("/proc/{}/stat", gw.pid());
    eventually(
        "the gateway exits after SIGTERM",
        Duration::from_secs(10),
        || async {
            match std::fs::read_to_string(&stat) {
                Ok(s) if !s.contains(") Z ") => Err("still running"),
                _ => Ok(()),
            }
        },
    )
    .await;
}
