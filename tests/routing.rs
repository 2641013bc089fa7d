//! Tenant resolution and routing through the real gateway to real echo backends.

mod common;
use common::*;
use std::time::Duration;

#[tokio::test]
async fn routes_by_subdomain_and_custom_domain_with_tenant_headers() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants()).start();

    for host in [
        "tenant-a.example.com",
        "TENANT-A.saas.test:8443",
        "www.tenant-a.test",
        "tenant-a.example.com.",
    ] {
        let r = gw.get(host, "/orders?page=2").await;
        assert_eq!(r.status, 200, "{host}: {}", r.text);
        assert_eq!(
            r.upstream_header("x-tenant-id").as_deref(),
            Some(TENANT_A),
            "{host}"
        );
        assert_eq!(
            r.upstream_header("x-tenant-name").as_deref(),
            Some("Tenant A")
        );
        assert_eq!(
            r.upstream_header("x-tenant-tier").as_deref(),
            Some("premium")
        );
        assert_eq!(
            r.upstream_header("x-forwarded-proto").as_deref(),
            Some("http")
        );
        assert_eq!(
            r.upstream_header("x-forwarded-for").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(r.upstream_header("x-forwarded-host").as_deref(), Some(host));
        assert_eq!(r.json()["path"], "/orders?page=2");
    }
    let r = gw.get("tenant-b.example.com", "/").await;
    assert_eq!(r.upstream_header("x-tenant-id").as_deref(), Some(TENANT_B));
    assert_eq!(r.upstream_header("x-tenant-tier").as_deref(), Some("basic"));
}

#[tokio::test]
async fn unknown_disabled_and_malformed_hosts_get_json_errors() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants()).start();

    let cases = [
        ("nobody.example.com", 404, "unknown_host"),
        ("example.com", 404, "unknown_host"),
        ("deep.tenant-a.example.com", 404, "unknown_host"),
        ("tenant-a.example.org", 404, "unknown_host"),
        ("127.0.0.1", 404, "unknown_host"),
        ("gone.example.com", 403, "tenant_disabled"),
    ];
    for (host, status, code) in cases {
        let r = gw.get(host, "/").await;
        assert_eq!(r.status, status, "{host}: {}", r.text);
        assert_eq!(r.json()["error"], code, "{host}");
        assert!(r.json()["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(r.headers.contains_key("x-request-id"));
        assert!(
            r.json().get("backend").is_none(),
            "{host} reached a backend"
        );
    }

    for (raw, code) in [
        (
            "GET / HTTP/1.1\r\nHost: bad_host!\r\nConnection: close\r\n\r\n",
            "malformed_host",
        ),
        (
            "GET / HTTP/1.1\r\nHost: a..b\r\nConnection: close\r\n\r\n",
            "malformed_host",
        ),
        (
            "GET / HTTP/1.1\r\nHost: tenant-a.example.com:http\r\nConnection: close\r\n\r\n",
            "malformed_host",
        ),
        (
            "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
            "missing_host",
        ),
    ] {
        let resp = raw_request(gw.http, raw.as_bytes());
        assert!(resp.starts_with("HTTP/1.1 400"), "{raw:?} -> {resp}");
        assert!(
            resp.contains(&format!("\"error\":\"{code}\"")),
            "{raw:?} -> {resp}"
        );
    }

    // HEAD gets the same answer head (status, JSON type, the GET body's length), no body.
    let get_len = gw.get("nobody.example.com", "/").await.text.len();
    let resp = raw_request(
        gw.http,
        b"HEAD / HTTP/1.1\r\nHost: nobody.example.com\r\nConnection: close\r\n\r\n",
    );
    let (head, rest) = resp.split_once("\r\n\r\n").expect("a complete head");
    assert!(head.starts_with("HTTP/1.1 404"), "{resp}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/json"), "{resp}");
    assert!(
        head.contains(&format!("content-length: {get_len}")),
        "{resp}"
    );
    assert_eq!(rest, "", "HEAD answered with a body: {resp}");

    let metrics = gw.metrics().await;
    for reason in [
        "unknown_host",
        "tenant_disabled",
        "malformed_host",
        "missing_host",
    ] {
        assert!(
            metrics.contains(&format!(
                "gateway_rejected_requests_total{{reason=\"{reason}\"}}"
            )),
            "no metric for {reason}"
        );
    }
}

#[tokio::test]
async fn longest_prefix_wins_and_silo_pools_stay_with_their_tenant() {
    let web = Backend::start("web");
    let api = Backend::start("api");
    let admin = Backend::start("admin-api");
    let silo = Backend::start("silo-a");
    let extra = format!(
        "  api:\n    backends: [\"{}\"]\n  admin:\n    backends: [\"{}\"]\n",
        api.addr, admin.addr
    );
    // Append the extra pools under `pools:` by building the yaml around it.
    let yaml =
        gateway_yaml(&[&web], "").replace("default_routes:", &format!("{extra}default_routes:"));
    let tenants = format!(
        r#"tenants:
  - id: {TENANT_A}
    name: A
    subdomain: tenant-a
    routes:
      - {{ prefix: /, pool: web }}
      - {{ prefix: /api, pool: api, name: api }}
      - {{ prefix: /api/admin, pool: admin, name: api-admin }}
      - {{ prefix: /files/, pool: mine, strip_prefix: true }}
    pools:
      mine:
        backends: ["{silo}"]
  - id: {TENANT_B}
    name: B
    subdomain: tenant-b
    routes:
      - {{ prefix: /api, pool: api }}
"#,
        silo = silo.addr
    );
    let gw = GatewayBuilder::new(&yaml, &tenants).start();

    let expect = [
        ("/", "web", "/"),
        ("/apix", "web", "/apix"),
        ("/api", "api", "/api"),
        ("/api/users/7", "api", "/api/users/7"),
        ("/api/admin", "admin-api", "/api/admin"),
        ("/api/admin/keys?x=1", "admin-api", "/api/admin/keys?x=1"),
        ("/files/report.pdf?v=2", "silo-a", "/report.pdf?v=2"),
        ("/files", "silo-a", "/"),
    ];
    for (path, backend, upstream_path) in expect {
        let r = gw.get("tenant-a.example.com", path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.backend(), backend, "{path}");
        assert_eq!(r.json()["path"], upstream_path, "{path}");
    }
    // Tenant B has no `/` route and no access to A's silo pool.
    let r = gw.get("tenant-b.example.com", "/files/report.pdf").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "no_route");
    assert_eq!(
        gw.get("tenant-b.example.com", "/api/v1").await.backend(),
        "api"
    );
}

#[tokio::test]
async fn client_sent_tenant_identity_and_forwarding_headers_are_replaced() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants()).start();
    let r = send(
        client()
            .get(gw.url("/"))
            .header("host", "tenant-b.example.com")
            .header("X-Tenant-Id", TENANT_A)
            .header("X-Tenant-Name", "Tenant A")
            .header("x-tenant-role", "owner")
            .header("X-User-Sub", "admin")
            .header("X-User-Groups", "admins")
            .header("X-Forwarded-For", "6.6.6.6")
            .header("X-Forwarded-Host", "tenant-a.example.com")
            .header("Forwarded", "for=6.6.6.6")
            .header("X-Custom", "kept"),
    )
    .await;
    assert_eq!(r.status, 200);
    let headers = r.json()["headers"].clone();
    assert_eq!(headers["x-tenant-id"], TENANT_B);
    assert_eq!(headers["x-tenant-name"], "Tenant B");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-host"], "tenant-b.example.com");
    assert_eq!(headers["x-custom"], "kept");
    for gone in ["x-tenant-role", "x-user-sub", "x-user-groups", "forwarded"] {
        assert!(
            headers.get(gone).is_none(),
            "{gone} reached the backend: {headers}"
        );
    }
}

#[tokio::test]
async fn path_tenants_take_the_tenant_from_the_url() {
    let b = Backend::start("web1");
    let extra = "path_tenants:\n  - host: hooks.saas.test\n    prefix: /mno-enterprise\n  - host: keep.saas.test\n    prefix: /t\n    strip_prefix: false\n";
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], extra), &basic_tenants()).start();

    let r = gw
        .get("hooks.saas.test", "/mno-enterprise/tenant-b/metadata?x=1")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.upstream_header("x-tenant-id").as_deref(), Some(TENANT_B));
    assert_eq!(r.json()["path"], "/metadata?x=1");

    let r = gw
        .get(
            "hooks.saas.test",
            &format!("/mno-enterprise/{TENANT_A}/saml/consume"),
        )
        .await;
    assert_eq!(r.upstream_header("x-tenant-id").as_deref(), Some(TENANT_A));
    assert_eq!(r.json()["path"], "/saml/consume");

    let r = gw.get("keep.saas.test", "/t/tenant-a/x").await;
    assert_eq!(r.json()["path"], "/t/tenant-a/x");

    assert_eq!(
        gw.get("hooks.saas.test", "/mno-enterprise/nobody/x")
            .await
            .json()["error"],
        "unknown_tenant"
    );
    assert_eq!(gw.get("hooks.saas.test", "/elsewhere").await.status, 404);
    assert_eq!(
        gw.get("hooks.saas.test", "/mno-enterprise/gone/x")
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn request_ids_are_kept_when_valid_and_generated_otherwise() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants()).start();
    let r = send(
        client()
            .get(gw.url("/"))
            .header("host", "tenant-a.example.com")
            .header("x-request-id", "trace-42"),
    )
    .await;
    assert_eq!(
        r.upstream_header("x-request-id").as_deref(),
        Some("trace-42")
    );
    assert_eq!(r.headers["x-request-id"], "trace-42");

    let r = send(
        client()
            .get(gw.url("/"))
            .header("host", "tenant-a.example.com")
            .header("x-request-id", "<bad id>"),
    )
    .await;
    let id = r.upstream_header("x-request-id").unwrap();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(r.headers["x-request-id"], id.as_str());
}

#[tokio::test]
async fn http2_cleartext_routes_by_authority() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants()).start();
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .resolve("tenant-a.example.com", gw.http)
        .resolve("nobody.example.com", gw.http)
        .build()
        .unwrap();
    let port = gw.http.port();
    let resp = h2
        .get(format!("http://tenant-a.example.com:{port}/h2"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["headers"]["x-tenant-id"], TENANT_A);
    // HTTP/1 backends get a Host header built from :authority.
    assert_eq!(v["headers"]["host"], format!("tenant-a.example.com:{port}"));
    let resp = h2
        .get(format!("http://nobody.example.com:{port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let b = Backend::start("web1");
    let yaml = gateway_yaml(&[&b], "limits:\n  max_request_body_bytes: 1000\n");
    let gw = GatewayBuilder::new(&yaml, &basic_tenants()).start();
    let ok = send(
        client()
            .post(gw.url("/upload"))
            .header("host", "tenant-a.example.com")
            .body(vec![b'x'; 1000]),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["body_bytes"], 1000);
    let big = send(
        client()
            .post(gw.url("/upload"))
            .header("host", "tenant-a.example.com")
            .body(vec![b'x'; 1001]),
    )
    .await;
    assert_eq!(big.status, 413);
    assert_eq!(big.json()["error"], "body_too_large");
    // Chunked (no Content-Length) is counted as it streams.
    let mut raw = b"POST /upload HTTP/1.1\r\nHost: tenant-a.example.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..5 {
        raw.extend_from_slice(b"190\r\n");
        raw.extend_from_slice(&[b'y'; 400]);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let resp = raw_request(gw.http, &raw);
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(resp.contains("body_too_large"), "{resp}");
}

#[tokio::test]
async fn access_log_has_one_json_line_per_request() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants()).start();
    gw.get("tenant-a.example.com", "/a?secret=code123").await;
    gw.get("nobody.example.com", "/b").await;
    let lines: Vec<serde_json::Value> =
        eventually("two access log lines", Duration::from_secs(5), || async {
            let text = std::fs::read_to_string(&gw.access_log).unwrap_or_default();
            let lines: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).expect("JSON line"))
                .collect();
            if lines.len() >= 2 {
                Ok(lines)
            } else {
                Err(text)
            }
        })
        .await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["tenant_id"], TENANT_A);
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["path"], "/a");
    assert_eq!(lines[0]["upstream"], b.addr.to_string());
    assert!(
        !lines[0].to_string().contains("code123"),
        "query strings are not logged"
    );
    assert_eq!(lines[1]["status"], 404);
    assert_eq!(lines[1]["error"], "unknown_host");
    assert!(lines[1]["tenant_id"].is_null());

    let metrics = gw.metrics().await;
    assert!(
        metrics
            .contains("gateway_requests_total{route=\"/\",status=\"2xx\",tenant=\"tenant-a\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("gateway_tenants{status=\"active\"} 2"));
    assert!(metrics.contains("gateway_tenants{status=\"disabled\"} 1"));
}
