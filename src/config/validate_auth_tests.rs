//! Unit tests of `validate_auth`: `idp.tenant_binding`, its deprecated spellings, and the
//! one-tenant-per-dedicated-issuer rule.

use super::*;
use crate::config::file::TenantsFile;

fn idp_file(yaml: &str) -> IdpFile {
    serde_norway::from_str(&format!(
        "{{kind: oidc, issuer: \"https://idp.test\", client_id: c1, {yaml}}}"
    ))
    .unwrap()
}

/// The binding an `idp` validates to, or its issues as `field: message`.
fn binding(yaml: &str) -> Result<TenantBinding, Vec<String>> {
    let mut issues = Vec::new();
    let mut s = Scope {
        file: Path::new("tenants.yaml"),
        tenant: Some("t".into()),
        issues: &mut issues,
    };
    match idp(&mut s, &idp_file(yaml), "t", None) {
        Some(spec) if issues.is_empty() => Ok(spec.tenant_binding),
        _ => Err(issues
            .into_iter()
            .map(|i| format!("{}: {}", i.field, i.message))
            .collect()),
    }
}

fn claim(claim: &str, group: Option<&str>) -> TenantBinding {
    TenantBinding::Claim {
        claim: claim.into(),
        group_prefix: group.map(Into::into),
    }
}

#[test]
fn the_three_bindings_and_the_default() {
    assert_eq!(binding(""), Ok(claim("custom:tenantid", None)));
    assert_eq!(
        binding("tenant_binding: {claim: custom:tenantid}"),
        Ok(claim("custom:tenantid", None))
    );
    assert_eq!(
        binding("tenant_binding: {claim: org, group: tenant-}"),
        Ok(claim("org", Some("tenant-")))
    );
    assert_eq!(
        binding("tenant_binding: {group: tenant-}"),
        Ok(TenantBinding::Group {
            prefix: "tenant-".into()
        })
    );
    assert_eq!(binding("tenant_binding: issuer"), Ok(TenantBinding::Issuer));
}

#[test]
fn the_deprecated_keys_still_mean_what_they_meant() {
    assert_eq!(
        binding("tenant_claim: org"),
        Ok(claim("org", None)),
        "tenant_claim alone"
    );
    assert_eq!(
        binding("tenant_group_prefix: tenant-"),
        Ok(claim("custom:tenantid", Some("tenant-")))
    );
    assert_eq!(
        binding("tenant_claim: org, tenant_group_prefix: t-"),
        Ok(claim("org", Some("t-")))
    );
    // An empty prefix was "no group"; an empty claim was and is refused.
    assert_eq!(
        binding("tenant_group_prefix: ''"),
        Ok(claim("custom:tenantid", None))
    );
    assert_eq!(
        binding("tenant_claim: ''"),
        Err(vec!["idp.tenant_claim: is required".to_string()])
    );
}

#[test]
fn old_and_new_keys_together_say_what_to_write() {
    let issues = binding("tenant_group_prefix: tenant-, tenant_binding: issuer").unwrap_err();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let m = &issues[0];
    assert!(m.starts_with("idp.tenant_binding: "), "{m}");
    for needle in [
        "Remove `tenant_group_prefix: tenant-`",
        "write `tenant_binding: {claim: custom:tenantid, group: tenant-}`",
        "keep `tenant_binding: issuer`",
    ] {
        assert!(m.contains(needle), "{needle:?} in {m}");
    }
    let m = &binding("tenant_claim: 'my claim', tenant_binding: {group: g-}").unwrap_err()[0];
    assert!(
        m.contains("Remove `tenant_claim: \"my claim\"`")
            && m.contains("write `tenant_binding: {claim: \"my claim\"}`")
            && m.contains("keep `tenant_binding: {group: g-}`"),
        "{m}"
    );
}

#[test]
fn empty_or_unknown_bindings_are_refused() {
    for (yaml, want) in [
        (
            "tenant_binding: {}",
            "idp.tenant_binding: give `claim`, `group` or both",
        ),
        (
            "tenant_binding: {claim: ''}",
            "idp.tenant_binding.claim: must not be empty",
        ),
        (
            "tenant_binding: {group: ''}",
            "idp.tenant_binding.group: must not be empty",
        ),
    ] {
        let issues = binding(yaml).unwrap_err();
        assert!(
            issues.iter().any(|i| i.starts_with(want)),
            "{yaml}: {issues:?}"
        );
    }
    for yaml in [
        "tenant_binding: tenant",
        "tenant_binding: {claim: x, prefix: y}",
        "tenant_binding: [issuer]",
    ] {
        let r = serde_norway::from_str::<IdpFile>(&format!(
            "{{kind: oidc, issuer: \"https://idp.test\", client_id: c1, {yaml}}}"
        ));
        assert!(r.is_err(), "{yaml}");
    }
}

#[test]
fn the_file_format_is_written_back_as_given() {
    for yaml in [
        "tenant_binding: issuer",
        "tenant_binding: {group: tenant-}",
        "tenant_binding: {claim: custom:tenantid, group: tenant-}",
        "tenant_claim: custom:tenantid",
        "tenant_group_prefix: tenant-",
        "",
    ] {
        let parsed = idp_file(yaml);
        let json = serde_json::to_value(&parsed).unwrap();
        let again: IdpFile = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(again, parsed, "{yaml}");
        let written = serde_norway::to_string(&parsed).unwrap();
        let again: IdpFile = serde_norway::from_str(&written).unwrap();
        assert_eq!(again, parsed, "{yaml}: {written}");
        // Only the keys that were given are written.
        for key in ["tenant_binding", "tenant_claim", "tenant_group_prefix"] {
            assert_eq!(
                json.get(key).is_some(),
                yaml.contains(&format!("{key}:")),
                "{key} in {json} from {yaml:?}"
            );
        }
    }
    assert_eq!(
        serde_json::to_value(idp_file("tenant_binding: issuer")).unwrap()["tenant_binding"],
        "issuer"
    );
}

const GATEWAY: &str = "base_domains: [{ domain: example.com }]
pools:
  web: { backends: [\"127.0.0.1:9\"] }
default_routes: [{ prefix: /, pool: web, auth: jwt }]
tenants: { source: file, path: tenants.yaml }
";

/// Validates `tenants` (YAML) with a minimal gateway file; the issues as strings.
fn load_issues(tenants: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let gateway = dir.path().join("gateway.yaml");
    std::fs::write(&gateway, GATEWAY).unwrap();
    let records: TenantsFile = serde_norway::from_str(tenants).unwrap();
    match crate::config::load_with(&gateway, Some((PathBuf::from("tenants.yaml"), records))) {
        Ok(_) => vec![],
        Err(e) => e.issues().iter().map(ToString::to_string).collect(),
    }
}

fn tenant(n: u8, name: &str, idp: &str) -> String {
    format!(
        "  - id: {n}{n}{n}{n}{n}{n}{n}{n}-1111-4111-8111-111111111111\n    name: {name}\n    \
         subdomain: {}\n    idp: {{kind: oidc, issuer: \"https://idp.test\", {idp}}}\n",
        name.to_lowercase()
    )
}

#[test]
fn an_issuer_binding_needs_an_issuer_and_client_of_its_own() {
    // Same issuer, different clients: fine, whatever the bindings.
    let ok = format!(
        "tenants:\n{}{}",
        tenant(1, "Alpha", "client_id: a, tenant_binding: issuer"),
        tenant(2, "Beta", "client_id: b"),
    );
    assert_eq!(load_issues(&ok), Vec::<String>::new());
    // Same issuer and client with claim bindings only: fine (a shared Cognito pool).
    let shared = format!(
        "tenants:\n{}{}",
        tenant(1, "Alpha", "client_id: a"),
        tenant(2, "Beta", "client_id: a, tenant_binding: {group: t-}"),
    );
    assert_eq!(load_issues(&shared), Vec::<String>::new());
    // Different clients that accept one audience: a token for it would pass on both hosts.
    let audience = format!(
        "tenants:\n{}{}",
        tenant(
            1,
            "Alpha",
            "client_id: a, audiences: [urn:api], tenant_binding: issuer"
        ),
        tenant(2, "Beta", "client_id: b, audiences: [b, urn:api]"),
    );
    let issues = load_issues(&audience);
    assert_eq!(issues.len(), 2, "{issues:#?}");
    assert!(
        issues.iter().all(|i| i.contains("audience \"urn:api\"")),
        "{issues:#?}"
    );
    assert!(issues[0].contains("IdP of \"Beta\""), "{issues:#?}");
    assert!(issues[1].contains("dedicated to \"Alpha\""), "{issues:#?}");

    let clash = format!(
        "tenants:\n{}{}{}",
        tenant(1, "Alpha", "client_id: a, tenant_binding: issuer"),
        tenant(2, "Beta", "client_id: a"),
        tenant(3, "Gamma", "client_id: b"),
    );
    let issues = load_issues(&clash);
    assert_eq!(issues.len(), 2, "{issues:#?}");
    let alpha = issues
        .iter()
        .find(|i| i.contains("tenant \"Alpha\""))
        .unwrap();
    let beta = issues
        .iter()
        .find(|i| i.contains("tenant \"Beta\""))
        .unwrap();
    assert!(
        alpha.starts_with("tenants.yaml: tenant \"Alpha\" (tenants[0], id 11111111-"),
        "{alpha}"
    );
    for (issue, other) in [
        (alpha, "\"Beta\" (tenants[1]"),
        (beta, "\"Alpha\" (tenants[0]"),
    ] {
        assert!(issue.contains(": idp.tenant_binding: "), "{issue}");
        assert!(issue.contains("https://idp.test"), "{issue}");
        assert!(issue.contains("client_id \"a\""), "{issue}");
        assert!(issue.contains(other), "{other} in {issue}");
        assert!(!issue.contains("Gamma"), "{issue}");
    }
    assert!(
        alpha.contains("needs an IdP no other tenant uses"),
        "{alpha}"
    );
    assert!(beta.contains("is dedicated to"), "{beta}");

    // Two dedicated tenants on one IdP: each names the other.
    let both = format!(
        "tenants:\n{}{}",
        tenant(1, "Alpha", "client_id: a, tenant_binding: issuer"),
        tenant(2, "Beta", "client_id: a, tenant_binding: issuer"),
    );
    let issues = load_issues(&both);
    assert_eq!(issues.len(), 2, "{issues:#?}");
    assert!(issues[0].contains("tenant \"Alpha\"") && issues[0].contains("IdP of \"Beta\""));
    assert!(issues[1].contains("tenant \"Beta\"") && issues[1].contains("IdP of \"Alpha\""));
}

/// `idp.client_secret` as a sealed value: opened with the store key for its own tenant only.
fn sealed_secret(sealer: Option<&crate::seal::Sealer>, sealed: &str, tenant: &str) -> Vec<String> {
    let mut issues = Vec::new();
    let mut s = Scope {
        file: Path::new("dynamodb:t-tenants"),
        tenant: Some(tenant.into()),
        issues: &mut issues,
    };
    let spec = idp(
        &mut s,
        &idp_file(&format!("client_secret: {{sealed: \"{sealed}\"}}")),
        tenant,
        sealer,
    );
    if let Some(spec) = spec {
        assert_eq!(
            spec.client_secret
                .map(|c| c.expose().to_string())
                .as_deref(),
            Some("s3")
        );
    }
    issues.into_iter().map(|i| i.message).collect()
}

#[test]
fn sealed_client_secrets_open_with_the_store_key_for_their_own_tenant_only() {
    let key = crate::seal::Sealer::new(&"k".repeat(32));
    let sealed = key.seal(&client_secret_aad("a"), b"s3").unwrap();
    assert!(sealed_secret(Some(&key), &sealed, "a").is_empty());
    let other = sealed_secret(Some(&key), &sealed, "b");
    assert!(other[0].contains("cannot decrypt"), "{other:?}");
    let wrong = crate::seal::Sealer::new(&"x".repeat(32));
    assert!(!sealed_secret(Some(&wrong), &sealed, "a").is_empty());
    let no_store = sealed_secret(None, &sealed, "a");
    assert!(no_store[0].contains("DynamoDB"), "{no_store:?}");
}
