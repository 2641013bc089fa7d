use super::*;
use crate::config::file::TenantStatusFile;

fn tenant(sub: &str, custom: &[&str]) -> TenantFile {
    TenantFile {
        id: "6f1c2a8e-0000-4000-8000-000000000001".into(),
        name: "Acme".into(),
        subdomain: sub.into(),
        custom_domains: custom.iter().map(|d| d.to_string()).collect(),
        status: TenantStatusFile::Active,
        tier: "basic".into(),
        email_domain: None,
        admin_email: None,
        routes: None,
        pools: Default::default(),
        idp: None,
        basic_auth: vec![],
        limits: None,
        verification: Default::default(),
    }
}

fn routing() -> RoutingConfig {
    RoutingConfig {
        base_domains: vec![
            crate::host::Hostname::parse("saas.example").unwrap(),
            crate::host::Hostname::parse("eu.saas.example").unwrap(),
        ],
        path_tenants: vec![],
        pools: Default::default(),
        default_routes: vec![],
        tenants: vec![],
        max_tenant_labels: 1,
        max_request_body_bytes: 1,
        request: Default::default(),
        auth: Default::default(),
        https_redirect: None,
        limits: Default::default(),
        domain_verification: None,
    }
}

fn settings(scheme: &str, port: Option<u16>) -> CognitoProvisioning {
    CognitoProvisioning {
        user_pool_id: "us-east-1_Abc".into(),
        region: "us-east-1".into(),
        endpoint: None,
        issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc".into(),
        jwks_uri: None,
        hosted_ui: None,
        scopes: vec!["openid".into()],
        explicit_auth_flows: vec![],
        id_token_validity: std::time::Duration::from_secs(3600),
        access_token_validity: std::time::Duration::from_secs(3600),
        refresh_token_validity: std::time::Duration::from_secs(86400),
        group_pattern: "tenant-{id}".into(),
        admin_user: true,
        delete_users: false,
        public_scheme: scheme.into(),
        public_port: port,
        timeout: std::time::Duration::from_secs(5),
    }
}

#[test]
fn hosts_are_every_base_domain_then_each_custom_domain_once() {
    let mut routing = routing();
    let t = tenant("acme", &["www.acme.test", "Acme.test.", "acme.test"]);
    assert_eq!(
        tenant_hosts(&routing, &t),
        [
            "acme.saas.example",
            "acme.eu.saas.example",
            "acme.test",
            "www.acme.test"
        ]
    );
    // With verification on, only verified custom domains.
    routing.domain_verification = Some(crate::config::DomainVerification {
        nameservers: vec![],
        min_interval: std::time::Duration::from_secs(1),
        max_interval: std::time::Duration::from_secs(2),
        http_port: None,
        allow_private_addresses: false,
    });
    let mut t = t;
    crate::domains::sync_states(&mut t, true);
    assert_eq!(
        tenant_hosts(&routing, &t),
        ["acme.saas.example", "acme.eu.saas.example"]
    );
    assert!(crate::domains::mark_verified(
        &mut t,
        "www.acme.test",
        "admin"
    ));
    assert_eq!(
        tenant_hosts(&routing, &t),
        ["acme.saas.example", "acme.eu.saas.example", "www.acme.test"]
    );
}

#[test]
fn urls_name_the_callback_path_and_the_home_page_of_each_host() {
    let hosts = vec!["acme.saas.example".to_string(), "acme.test".to_string()];
    let (cb, out) = client_urls(&settings("https", None), &hosts, "/callback");
    assert_eq!(
        cb,
        [
            "https://acme.saas.example/callback",
            "https://acme.test/callback"
        ]
    );
    assert_eq!(out, ["https://acme.saas.example/", "https://acme.test/"]);
    let (cb, _) = client_urls(&settings("http", Some(8080)), &hosts[..1], "/cb");
    assert_eq!(cb, ["http://acme.saas.example:8080/cb"]);
}

#[test]
fn group_names_follow_the_pattern() {
    assert_eq!(settings("https", None).group_for("abc"), "tenant-abc");
}
