//! The tenant admin API on the file store: onboarding, listing, changes, enable/disable,
//! IdP and routes, removal; invalid or conflicting changes refused with nothing written.

mod common;
use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn onboarding_and_changes_are_validated_written_and_live() {
    use reqwest::Method;
    let b = Backend::start("web");
    let yaml = gateway_yaml(&[&b], "auth:\n  session_key: { env: TEST_SESSION_KEY }\n");
    let gw = GatewayBuilder::new(&yaml, &basic_tenants())
        .env(
            "TEST_SESSION_KEY",
            "admin-test-session-key-0123456789abcdef",
        )
        .no_watch()
        .start();

    // Onboard with the guide's payload.
    let r = admin(
        &gw,
        Method::POST,
        "/tenants",
        Some(json!({
            "tenantName": "tenant-three", "tenantSubDomain": "tenant-3",
            "tenantEmailDomain": "three.test", "emailId": "admin@three.test", "tier": "premium"
        })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    let routed = gw.get("tenant-3.example.com", "/").await;
    assert_eq!(routed.status, 200, "live as soon as the API answered");
    assert_eq!(
        routed.upstream_header("x-tenant-id").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        routed.upstream_header("x-tenant-tier").as_deref(),
        Some("premium")
    );

    // Conflicts and invalid input change nothing.
    let before = std::fs::read_to_string(gw.path("tenants.yaml")).unwrap();
    let r = admin(
        &gw,
        Method::POST,
        "/tenants",
        Some(json!({"tenantName": "x", "tenantSubDomain": "tenant-a"})),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = admin(
        &gw,
        Method::POST,
        "/tenants",
        Some(json!({"tenantName": "x", "tenantSubDomain": "Bad_Sub"})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["issues"].to_string().contains("subdomain"),
        "{}",
        r.text
    );
    let r = admin(
        &gw,
        Method::POST,
        "/tenants",
        Some(json!({"tenantName": "x", "tenantSubDomain": "ok", "colour": "red"})),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = send(
        client()
            .post(gw.admin_url("/tenants"))
            .bearer_auth(ADMIN_TOKEN)
            .body("{not json"),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = admin(
        &gw,
        Method::PATCH,
        &format!("/tenants/{id}"),
        Some(json!({"custom_domains": ["www.tenant-a.test"]})),
    )
    .await;
    assert_eq!(r.status, 400, "duplicate custom domain: {}", r.text);
    let r = admin(
        &gw,
        Method::PUT,
        &format!("/tenants/{id}/idp"),
        Some(json!({"kind": "oidc", "issuer": "not a url", "client_id": "c"})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        std::fs::read_to_string(gw.path("tenants.yaml")).unwrap(),
        before,
        "nothing written"
    );

    // Reading and paging.
    let one = admin(&gw, Method::GET, &format!("/tenants/{id}"), None).await;
    assert_eq!(one.json()["admin_email"], "admin@three.test");
    let page = admin(&gw, Method::GET, "/tenants?limit=2", None)
        .await
        .json();
    assert_eq!(page["tenants"].as_array().unwrap().len(), 2);
    let next = page["next"].as_str().unwrap();
    let rest = admin(
        &gw,
        Method::GET,
        &format!("/tenants?limit=2&after={next}"),
        None,
    )
    .await
    .json();
    assert_eq!(rest["tenants"].as_array().unwrap().len(), 2);
    assert!(rest["next"].is_null());
    assert_eq!(
        admin(
            &gw,
            Method::GET,
            "/tenants/00000000-0000-4000-8000-000000000000",
            None
        )
        .await
        .status,
        404
    );

    // Changes, disable/enable, routes, IdP.
    let r = admin(
        &gw,
        Method::PATCH,
        &format!("/tenants/{id}"),
        Some(json!({"tier": "enterprise"})),
    )
    .await;
    assert_eq!(r.json()["tier"], "enterprise");
    assert_eq!(
        gw.get("tenant-3.example.com", "/")
            .await
            .upstream_header("x-tenant-tier")
            .as_deref(),
        Some("enterprise")
    );
    // The version in service was made from the records the writer last wrote, so only the
    // changed tenant was validated and rebuilt.
    let reloads = admin(&gw, Method::GET, "/reloads", None).await.json();
    let last = &reloads["reloads"][0];
    assert_eq!(last["trigger"], "admin-api", "{reloads}");
    assert_eq!(last["result"], "applied", "{reloads}");
    assert!(
        last["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("rebuilt 1 of ")),
        "{reloads}"
    );
    assert_eq!(
        admin(&gw, Method::POST, &format!("/tenants/{id}/disable"), None)
            .await
            .status,
        200
    );
    assert_eq!(gw.get("tenant-3.example.com", "/").await.status, 403);
    assert_eq!(
        admin(&gw, Method::POST, &format!("/tenants/{id}/enable"), None)
            .await
            .status,
        200
    );
    assert_eq!(gw.get("tenant-3.example.com", "/").await.status, 200);
    let r = admin(
        &gw,
        Method::PUT,
        &format!("/tenants/{id}/routes"),
        Some(json!([{"prefix": "/api", "pool": "web"}])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        gw.get("tenant-3.example.com", "/").await.status,
        404,
        "only /api now"
    );
    assert_eq!(gw.get("tenant-3.example.com", "/api/x").await.status, 200);
    let r = admin(
        &gw,
        Method::PUT,
        &format!("/tenants/{id}/idp"),
        Some(json!({
            "kind": "oidc", "issuer": "http://127.0.0.1:9/issuer", "client_id": "three"
        })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        gw.get("tenant-3.example.com", "/api/x").await.status,
        401,
        "routes now default to login"
    );

    // Removal.
    let r = admin(&gw, Method::DELETE, &format!("/tenants/{id}"), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(gw.get("tenant-3.example.com", "/api/x").await.status, 404);
    assert_eq!(
        admin(&gw, Method::DELETE, &format!("/tenants/{id}"), None)
            .await
            .status,
        404
    );

    // A hand edit between two API changes is kept: the writer does not reuse the records it
    // wrote once the file changed (here in place, same size, same inode).
    let file = gw.path("tenants.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("Tenant B"), "{text}");
    std::fs::write(&file, text.replace("Tenant B", "Tenant Q")).unwrap();
    let r = admin(
        &gw,
        Method::POST,
        "/tenants",
        Some(json!({"tenantName": "tenant-four", "tenantSubDomain": "tenant-4"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("Tenant Q") && !text.contains("Tenant B") && text.contains("tenant-four"),
        "{text}"
    );
}

#[tokio::test]
async fn tenant_endpoints_need_the_admin_token() {
    let b = Backend::start("web");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants())
        .no_watch()
        .start();
    let c = client();
    assert_eq!(send(c.get(gw.admin_url("/tenants"))).await.status, 401);
    let r = send(
        c.post(gw.admin_url("/tenants"))
            .bearer_auth("wrong-token-wrong-token")
            .json(&json!({"tenantName": "x", "tenantSubDomain": "x"})),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        gw.get("x.example.com", "/").await.status,
        404,
        "nothing onboarded"
    );
}

#[tokio::test]
async fn idp_tenant_bindings_are_stored_as_given_and_a_shared_dedicated_issuer_is_refused() {
    use reqwest::Method;
    let b = Backend::start("web");
    let yaml = gateway_yaml(&[&b], "auth:\n  session_key: { env: TEST_SESSION_KEY }\n");
    let gw = GatewayBuilder::new(&yaml, &basic_tenants())
        .env(
            "TEST_SESSION_KEY",
            "admin-test-session-key-0123456789abcdef",
        )
        .no_watch()
        .start();
    let idp = |extra: Value| {
        let mut v =
            json!({"kind": "oidc", "issuer": "http://127.0.0.1:9/shared", "client_id": "portal"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let put = |id: &'static str, body: Value| {
        let gw = &gw;
        async move { admin(gw, Method::PUT, &format!("/tenants/{id}/idp"), Some(body)).await }
    };

    // The deprecated key is accepted and written back as it was given.
    let r = put(TENANT_A, idp(json!({"tenant_group_prefix": "tenant-"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["idp"]["tenant_group_prefix"], "tenant-");
    assert!(
        r.json()["idp"].get("tenant_binding").is_none(),
        "{}",
        r.text
    );
    assert!(r.json()["idp"].get("tenant_claim").is_none(), "{}", r.text);

    // Tenant B dedicating the IdP tenant A uses: 400 naming both, nothing written.
    let before = std::fs::read_to_string(gw.path("tenants.yaml")).unwrap();
    let r = put(TENANT_B, idp(json!({"tenant_binding": "issuer"}))).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["error"], "invalid_tenant");
    let issues: Vec<String> = r.json()["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect();
    assert_eq!(issues.len(), 2, "{issues:#?}");
    let on = |name: &str| {
        issues
            .iter()
            .find(|i| i.contains(&format!("tenant \"{name}\"")))
            .unwrap_or_else(|| panic!("no issue on {name}: {issues:#?}"))
            .clone()
    };
    let (a, b_issue) = (on("Tenant A"), on("Tenant B"));
    assert!(
        a.contains("idp.tenant_binding: ") && a.contains("dedicated to \"Tenant B\""),
        "{a}"
    );
    assert!(
        b_issue.contains("idp.tenant_binding: ")
            && b_issue.contains("is also the IdP of \"Tenant A\"")
            && b_issue.contains("client_id \"portal\""),
        "{b_issue}"
    );
    assert_eq!(
        std::fs::read_to_string(gw.path("tenants.yaml")).unwrap(),
        before,
        "nothing written"
    );

    // Old and new keys together: 400 saying what to write.
    let r = put(
        TENANT_B,
        idp(json!({"tenant_claim": "custom:tenantid", "tenant_binding": {"group": "tenant-"}})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text
            .contains("write `tenant_binding: {claim: custom:tenantid}`"),
        "{}",
        r.text
    );

    // With a client of its own the dedicated binding is accepted, and stored as given.
    let mut own = idp(json!({"tenant_binding": "issuer"}));
    own["client_id"] = json!("portal-b");
    let r = put(TENANT_B, own).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["idp"]["tenant_binding"], "issuer");
    let r = put(
        TENANT_A,
        idp(json!({"tenant_binding": {"claim": "custom:tenantid", "group": "tenant-"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["idp"]["tenant_binding"],
        json!({"claim": "custom:tenantid", "group": "tenant-"})
    );
    let written = std::fs::read_to_string(gw.path("tenants.yaml")).unwrap();
    assert!(written.contains("tenant_binding: issuer"), "{written}");
    assert!(!written.contains("tenant_group_prefix"), "{written}");
    assert!(!written.contains("tenant_claim"), "{written}");
}

/// With the file watch on, the watch that an API write causes finds the files as written and
/// does nothing (no second parse of the tenants file); a hand edit is still loaded.
#[tokio::test]
async fn the_file_watch_after_an_api_write_finds_nothing_to_do() {
    use reqwest::Method;
    let b = Backend::start("web");
    let yaml = gateway_yaml(&[&b], "");
    let gw = GatewayBuilder::new(&yaml, &basic_tenants()).start();
    let page = admin(&gw, Method::GET, "/tenants?limit=1", None)
        .await
        .json();
    let id = page["tenants"][0]["id"].as_str().unwrap().to_string();
    // A burst: the watch fires while later changes are being written; the write and the swap
    // are one step under the reload lock, so it never sees a file that is not in service yet.
    for tier in [
        "gold", "platinum", "copper", "iron", "tin", "lead", "gold", "silver",
    ] {
        let r = admin(
            &gw,
            Method::PATCH,
            &format!("/tenants/{id}"),
            Some(json!({ "tier": tier })),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let events = |r: &serde_json::Value, trigger: &str| -> Vec<serde_json::Value> {
        r["reloads"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["trigger"] == trigger)
            .cloned()
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let reloads = loop {
        let r = admin(&gw, Method::GET, "/reloads", None).await.json();
        if !events(&r, "file-watch").is_empty() {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no file-watch reload: {r}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let api = events(&reloads, "admin-api");
    assert_eq!(api.len(), 8, "{reloads}");
    // Newest first: all but the first change after start were rebuilt alone.
    for e in &api[..7] {
        let detail = e["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with("rebuilt 1 of "), "{reloads}");
    }
    for e in events(&reloads, "file-watch") {
        assert_eq!(e["result"], "unchanged", "{reloads}");
        assert_eq!(e["detail"], "as written", "{reloads}");
    }
    // A hand edit after the API's write is loaded by the watch as usual, compared with the
    // file as the API wrote it: only the edited tenant is rebuilt.
    let file = gw.path("tenants.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.matches("tier: silver").count(), 1, "{text}");
    std::fs::write(&file, text.replace("tier: silver", "tier: bronze")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let r = gw.get("tenant-a.example.com", "/").await;
        if r.upstream_header("x-tenant-tier").as_deref() == Some("bronze") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the hand edit was not loaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let reloads = admin(&gw, Method::GET, "/reloads", None).await.json();
    let watched = events(&reloads, "file-watch");
    let applied = watched.iter().find(|e| e["result"] == "applied");
    let detail = applied
        .and_then(|e| e["detail"].as_str())
        .unwrap_or_default();
    assert!(detail.starts_with("rebuilt 1 of "), "{reloads}");
}
