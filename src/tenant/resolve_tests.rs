//! Unit tests of `resolve`.

use super::*;
use crate::config::*;
use crate::host::Hostname;
use std::collections::BTreeMap;

fn tenant(sub: &str, status: TenantStatus, domains: &[&str]) -> TenantSpec {
    TenantSpec {
        id: uuid::Uuid::new_v4(),
        name: format!("{sub} inc"),
        subdomain: sub.into(),
        custom_domains: domains
            .iter()
            .map(|d| Hostname::parse(d).unwrap())
            .collect(),
        pending_domains: vec![],
        status,
        tier: "basic".into(),
        email_domain: None,
        routes: None,
        idp: None,
        basic_users: vec![],
        limits: None,
    }
}

fn snapshot() -> Snapshot {
    let routing = RoutingConfig {
        base_domains: vec![
            Hostname::parse("example.com").unwrap(),
            Hostname::parse("eu.example.com").unwrap(),
        ],
        path_tenants: vec![PathTenantSpec {
            host: Hostname::parse("hooks.example.net").unwrap(),
            prefix: "/mno".into(),
            strip_prefix: true,
        }],
        pools: BTreeMap::new(),
        default_routes: vec![],
        tenants: vec![
            TenantSpec {
                pending_domains: vec![crate::config::PendingDomain {
                    host: Hostname::parse("new.acme.test").unwrap(),
                    token: None,
                }],
                ..tenant("acme", TenantStatus::Active, &["shop.acme.test"])
            },
            tenant("gone", TenantStatus::Disabled, &[]),
        ]
        .into_iter()
        .map(std::sync::Arc::new)
        .collect(),
        max_tenant_labels: 10,
        max_request_body_bytes: 1,
        request: Default::default(),
        auth: AuthSettings::default(),
        https_redirect: None,
        limits: Default::default(),
        domain_verification: None,
    };
    Snapshot::build(&routing, |_| Some(0))
}

#[test]
fn resolves_subdomains_and_custom_domains() {
    let s = snapshot();
    assert_eq!(
        s.resolve(b"acme.example.com", "/")
            .unwrap()
            .tenant
            .subdomain,
        "acme"
    );
    assert_eq!(
        s.resolve(b"ACME.example.com:8080", "/")
            .unwrap()
            .tenant
            .subdomain,
        "acme"
    );
    assert_eq!(
        s.resolve(b"acme.eu.example.com", "/")
            .unwrap()
            .tenant
            .subdomain,
        "acme"
    );
    assert_eq!(
        s.resolve(b"shop.acme.test.", "/").unwrap().tenant.subdomain,
        "acme"
    );
}

#[test]
fn rejects_unknown_disabled_and_malformed() {
    let s = snapshot();
    assert!(matches!(
        s.resolve(b"nope.example.com", "/"),
        Err(ResolveError::UnknownHost)
    ));
    assert!(matches!(
        s.resolve(b"example.com", "/"),
        Err(ResolveError::UnknownHost)
    ));
    assert!(matches!(
        s.resolve(b"x.acme.example.com", "/"),
        Err(ResolveError::UnknownHost)
    ));
    assert!(matches!(
        s.resolve(b"acme.example.org", "/"),
        Err(ResolveError::UnknownHost)
    ));
    assert!(matches!(
        s.resolve(b"gone.example.com", "/"),
        Err(ResolveError::Disabled(_))
    ));
    assert!(matches!(
        s.resolve(b"", "/"),
        Err(ResolveError::MissingHost)
    ));
    assert!(matches!(
        s.resolve(b"a b", "/"),
        Err(ResolveError::MalformedHost)
    ));
}

#[test]
fn resolves_path_tenants() {
    let s = snapshot();
    let r = s.resolve(b"hooks.example.net", "/mno/acme/rest/x").unwrap();
    assert_eq!(r.tenant.subdomain, "acme");
    assert_eq!(r.tenant_path, Some(("/rest/x".to_string(), true)));
    let r = s.resolve(b"hooks.example.net", "/mno/acme").unwrap();
    assert_eq!(r.tenant_path, Some(("/".to_string(), true)));
    let id = r.tenant.id.to_string();
    let by_id = s
        .resolve(b"hooks.example.net", &format!("/mno/{id}/x"))
        .unwrap();
    assert_eq!(by_id.tenant.subdomain, "acme");
    assert!(matches!(
        s.resolve(b"hooks.example.net", "/mno/zzz/x"),
        Err(ResolveError::UnknownTenantKey)
    ));
    assert!(matches!(
        s.resolve(b"hooks.example.net", "/other"),
        Err(ResolveError::UnknownTenantKey)
    ));
    assert!(matches!(
        s.resolve(b"hooks.example.net", "/mno/gone/x"),
        Err(ResolveError::Disabled(_))
    ));
}

#[test]
fn a_pending_custom_domain_is_not_served() {
    let snap = snapshot();
    assert!(matches!(
        snap.resolve(b"new.acme.test", "/"),
        Err(ResolveError::DomainPending)
    ));
    assert!(snap.resolve(b"shop.acme.test", "/").is_ok());
    assert!(!snap.active_hosts().iter().any(|h| h == "new.acme.test"));
}
