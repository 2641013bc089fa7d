//! `tenant-gateway check`: the shipped configuration passes, and bad files are reported with
//! the file, the tenant and the field.

mod common;
use common::*;
use std::path::Path;

#[test]
fn shipped_configuration_is_valid() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/gateway.yaml");
    let (ok, out) = check(&conf);
    assert!(ok, "{out}");
    assert!(out.contains("ok:"), "{out}");
    // A tenants file is checked through the gateway file beside it that names it.
    let (ok, out) = check(&conf.with_file_name("tenants.yaml"));
    assert!(ok, "{out}");
    assert!(
        out.contains("validated with") && out.contains("gateway.yaml"),
        "{out}"
    );
}

#[test]
fn a_bad_tenants_file_fails_its_own_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        GATEWAY,
        "tenants:\n  - { id: nope, name: A, subdomain: a }\n",
    );
    let (ok, out) = check(&path.with_file_name("tenants.yaml"));
    assert!(!ok);
    assert!(
        out.contains("tenant \"A\"") && out.contains("is not a UUID"),
        "{out}"
    );
}

fn write(dir: &Path, gateway: &str, tenants: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("gateway.yaml"), gateway).unwrap();
    std::fs::write(dir.join("tenants.yaml"), tenants).unwrap();
    dir.join("gateway.yaml")
}

const GATEWAY: &str = r#"base_domains: [{ domain: example.com }]
pools:
  web: { backends: ["127.0.0.1:9"] }
default_routes: [{ prefix: /, pool: web }]
tenants: { source: file, path: tenants.yaml }
"#;

#[test]
fn invalid_tenants_are_reported_with_file_tenant_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = r#"tenants:
  - id: 11111111-1111-4111-8111-111111111111
    name: First
    subdomain: first
    custom_domains: [shop.first.test]
  - id: not-a-uuid
    name: Second
    subdomain: Second_Co
  - id: 11111111-1111-4111-8111-111111111111
    name: Third
    subdomain: first
    custom_domains: [shop.first.test, x.example.com, "bad domain"]
    routes:
      - { prefix: api, pool: web }
      - { prefix: /x, pool: missing }
"#;
    let (ok, out) = check(&write(dir.path(), GATEWAY, tenants));
    assert!(!ok, "{out}");
    for needle in [
        "tenants.yaml: tenant \"Second\"",
        "id: \"not-a-uuid\" is not a UUID",
        "subdomain: \"Second_Co\" is not a lowercase DNS label",
        "tenant \"Third\"",
        "id: duplicate tenant id (also used by \"First\"",
        "subdomain: duplicate subdomain \"first\"",
        "custom_domains[0]: duplicate custom domain shop.first.test",
        "custom_domains[1]: x.example.com is under base domain example.com",
        "custom_domains[2]: \"bad domain\" is not a valid DNS name",
        "routes[0].prefix: \"api\" must start with '/'",
        "routes[1].pool: no pool named \"missing\"",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn parse_errors_name_the_tenant_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = r#"tenants:
  - id: 11111111-1111-4111-8111-111111111111
    name: First
    subdomain: first
  - id: 22222222-2222-4222-8222-222222222222
    name: Second
    subdomain: second
    status: paused
"#;
    let (ok, out) = check(&write(dir.path(), GATEWAY, tenants));
    assert!(!ok);
    assert!(out.contains("tenants.yaml"), "{out}");
    assert!(out.contains("tenant \"Second\""), "{out}");
    assert!(out.contains("status"), "{out}");
    assert!(out.contains("paused"), "{out}");

    let (ok, out) = check(&write(
        dir.path(),
        &format!("{GATEWAY}surprise: 1\n"),
        "tenants: []\n",
    ));
    assert!(!ok);
    assert!(
        out.contains("gateway.yaml") && out.contains("surprise"),
        "{out}"
    );
}

#[test]
fn invalid_gateway_settings_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = r#"listeners: { http: ["nowhere"], admin: "127.0.0.1:x" }
base_domains: [{ domain: "-bad-" }]
pools:
  web: { backends: [], connect_timeout: 0s }
  Bad: { backends: ["127.0.0.1:1", "127.0.0.1:1"] }
default_routes: [{ prefix: /, pool: nope }]
tenants: { source: file, path: tenants.yaml }
server: { grace_period: 2s, keepalive_drain: 3s }
"#;
    let (ok, out) = check(&write(dir.path(), gateway, "tenants: []\n"));
    assert!(!ok);
    for needle in [
        "listeners.http[0]",
        "listeners.admin",
        "base_domains[0].domain",
        "pools.web.backends: at least one backend",
        "pools.web.connect_timeout",
        "pools.Bad: pool names use [a-z0-9_-]",
        "pools.Bad.backends[1]: duplicate backend",
        "default_routes[0].pool: no pool named \"nope\"",
        "server.keepalive_drain: 3s is longer than server.grace_period (2s)",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gateway.yaml"), GATEWAY).unwrap();
    let (ok, out) = check(&dir.path().join("gateway.yaml"));
    assert!(!ok);
    assert!(out.contains("tenants.yaml: cannot read"), "{out}");
}

#[test]
fn a_directory_of_tenant_files_is_one_source() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tenants.d")).unwrap();
    std::fs::write(
        dir.path().join("tenants.d/a.yaml"),
        "tenants:\n  - { id: 11111111-1111-4111-8111-111111111111, name: A, subdomain: a }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tenants.d/b.yaml"),
        "tenants:\n  - { id: 22222222-2222-4222-8222-222222222222, name: B, subdomain: a }\n",
    )
    .unwrap();
    let gw = dir.path().join("gateway.yaml");
    std::fs::write(
        &gw,
        GATEWAY.replace("path: tenants.yaml", "path: tenants.d"),
    )
    .unwrap();
    let (ok, out) = check(&gw);
    assert!(!ok);
    assert!(out.contains("b.yaml: tenant \"B\""), "{out}");
    assert!(
        out.contains("duplicate subdomain \"a\" (also used by \"A\""),
        "{out}"
    );
}

#[test]
fn an_issuer_binding_on_an_idp_another_tenant_uses_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = |id: &str, name: &str, idp: &str| {
        format!(
            "  - id: {id}\n    name: {name}\n    subdomain: {}\n    \
             routes: [{{ prefix: /, pool: web, auth: jwt }}]\n    \
             idp: {{ kind: oidc, issuer: \"https://idp.shared.test\", client_id: portal{idp} }}\n",
            name.to_lowercase()
        )
    };
    // One IdP shared by tenants that bind tokens by claim or group (old keys or new): valid.
    let shared = format!(
        "tenants:\n{}{}",
        tenant(TENANT_A, "First", ", tenant_group_prefix: tenant-"),
        tenant(TENANT_B, "Second", ", tenant_binding: { group: tenant- }"),
    );
    let (ok, out) = check(&write(dir.path(), GATEWAY, &shared));
    assert!(ok, "{out}");

    // Second claims the IdP for itself while First uses it too.
    let clash = format!(
        "tenants:\n{}{}",
        tenant(TENANT_A, "First", ", tenant_group_prefix: tenant-"),
        tenant(TENANT_B, "Second", ", tenant_binding: issuer"),
    );
    let path = write(dir.path(), GATEWAY, &clash);
    for checked in [path.clone(), path.with_file_name("tenants.yaml")] {
        let (ok, out) = check(&checked);
        assert!(!ok, "{out}");
        for needle in [
            format!(
                "tenants.yaml: tenant \"First\" (tenants[0], id {TENANT_A}): idp.tenant_binding: \
                 issuer https://idp.shared.test with client_id \"portal\" is dedicated to \
                 \"Second\" (tenants[1], id {TENANT_B})"
            ),
            format!(
                "tenants.yaml: tenant \"Second\" (tenants[1], id {TENANT_B}): idp.tenant_binding: \
                 `issuer` needs an IdP no other tenant uses, but issuer https://idp.shared.test \
                 with client_id \"portal\" is also the IdP of \"First\" (tenants[0], id {TENANT_A})"
            ),
        ] {
            assert!(out.contains(&needle), "missing {needle:?} in:\n{out}");
        }
    }

    // Old and new keys together: the message says what to write.
    let both = format!(
        "tenants:\n{}",
        tenant(
            TENANT_A,
            "First",
            ", tenant_claim: custom:tenantid, tenant_binding: { group: tenant- }"
        ),
    );
    let (ok, out) = check(&write(dir.path(), GATEWAY, &both));
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "idp.tenant_binding: replaces the deprecated tenant_claim and tenant_group_prefix"
        ) && out.contains("write `tenant_binding: {claim: custom:tenantid}`")
            && out.contains("keep `tenant_binding: {group: tenant-}`"),
        "{out}"
    );
}
