use super::*;
use crate::config::file::TenantFile;

fn tenant(domains: &[&str]) -> TenantFile {
    serde_norway::from_str(&format!(
        "{{id: t1, name: T, subdomain: t, custom_domains: [{}]}}",
        domains.join(", ")
    ))
    .unwrap()
}

#[test]
fn new_domains_get_a_pending_token_and_removed_ones_lose_their_state() {
    let mut t = tenant(&["a.test", "b.test"]);
    sync_states(&mut t, true);
    assert_eq!(t.verification.len(), 2);
    let a = t.verification["a.test"].clone();
    assert_eq!(a.status, DomainStatusFile::Pending);
    assert!(crate::config::valid_token(a.token.as_deref().unwrap()));
    // A second sync keeps the token; a removed domain's state goes.
    t.custom_domains = vec!["a.test".into()];
    sync_states(&mut t, true);
    assert_eq!(t.verification.len(), 1);
    assert_eq!(t.verification["a.test"], a);
    assert!(!is_served(&t, "a.test", true));
    assert!(is_served(&t, "a.test", false), "verification off: served");
}

#[test]
fn marking_verified_keeps_the_token_and_says_by_whom() {
    let mut t = tenant(&["Shop.A.test"]);
    sync_states(&mut t, true);
    assert!(mark_verified(&mut t, "shop.a.test", "admin"));
    let s = &t.verification["shop.a.test"];
    assert_eq!(s.status, DomainStatusFile::Verified);
    assert_eq!(s.verified_by.as_deref(), Some("admin"));
    assert!(s.token.is_some() && s.verified_at.is_some());
    assert!(is_served(&t, "shop.a.test", true));
    assert!(!mark_verified(&mut t, "other.test", "admin"));
}

#[test]
fn the_challenge_name_is_under_the_domain() {
    assert_eq!(
        challenge_name("shop.a.test."),
        "_tenant-gateway-challenge.shop.a.test."
    );
}
