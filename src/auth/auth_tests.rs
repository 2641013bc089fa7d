//! Unit tests of `auth`.

use super::*;

fn who(groups: &[&str], scopes: &[&str]) -> Identity {
    Identity {
        sub: "u".into(),
        email: None,
        groups: groups.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        extra_headers: vec![],
        expires_at: u64::MAX,
        kind: None,
        copied: vec![],
    }
}

#[test]
fn groups_any_scopes_all() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(authorize(&who(&["admins"], &[]), &s(&["admins", "ops"]), &[]).is_ok());
    assert!(authorize(&who(&["users"], &[]), &s(&["admins"]), &[]).is_err());
    assert!(authorize(&who(&[], &["read", "write"]), &[], &s(&["read", "write"])).is_ok());
    assert!(authorize(&who(&[], &["read"]), &[], &s(&["read", "write"])).is_err());
}

#[test]
fn empty_credentials_are_no_credentials() {
    assert_eq!(bearer(Some(b"Bearer ")), None);
    assert_eq!(bearer(Some(b"bearer \t")), None);
    assert_eq!(bearer(Some(b"Bearer abc ")), Some("abc"));
    assert_eq!(basic::parse(b"Basic Og=="), None);
}
