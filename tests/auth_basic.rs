//! HTTP Basic on webhook routes with Argon2-hashed credentials made by the real
//! `hash-password` command.

mod common;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

fn hash_password(password: &str) -> String {
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

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
