//! Unit tests of `head`.

use super::*;

fn req(target: &str, headers: &[(&str, &str)]) -> RequestHeader {
    let mut r = RequestHeader::build("GET", target.as_bytes(), None).unwrap();
    for (n, v) in headers {
        r.append_header(n.to_string(), *v).unwrap();
    }
    r
}

fn policy() -> RequestPolicy {
    RequestPolicy::default()
}

#[test]
fn canonical_targets_need_no_rewrite() {
    let r = req("/api/x?a=1", &[]);
    let t = check(&r, &policy()).unwrap();
    assert!(!t.needs_rewrite());
    assert_eq!(t.path(&r), "/api/x");
    assert_eq!(t.query(&r), Some("a=1"));
}

#[test]
fn other_spellings_are_rewritten() {
    let r = req("//api/./x?a=%2F", &[]);
    let t = check(&r, &policy()).unwrap();
    assert!(t.needs_rewrite());
    assert_eq!(t.path(&r), "/api/x");
    assert_eq!(t.query(&r), Some("a=%2F"));
}

#[test]
fn absolute_form_becomes_origin_form() {
    let r = req("http://acme.example.test/api/x?q", &[]);
    let t = check(&r, &policy()).unwrap();
    assert!(t.needs_rewrite());
    assert_eq!(t.path(&r), "/api/x");
    assert_eq!(t.query(&r), Some("q"));
    let r = req("HTTPS://acme.example.test", &[]);
    assert_eq!(check(&r, &policy()).unwrap().path(&r), "/");
    let r = req("ftp://acme.example.test/x", &[]);
    assert_eq!(
        check(&r, &policy()).unwrap_err(),
        Reject::InvalidRequest("unsupported_scheme")
    );
}

#[test]
fn asterisk_form_is_refused() {
    let r = req("*", &[]);
    assert_eq!(
        check(&r, &policy()).unwrap_err(),
        Reject::InvalidPath(path::PathError::NotOriginForm)
    );
}

#[test]
fn limits() {
    let long = format!("/{}", "a".repeat(9000));
    assert_eq!(
        check(&req(&long, &[]), &policy()).unwrap_err(),
        Reject::UriTooLong
    );
    let big = "v".repeat(40_000);
    assert_eq!(
        check(&req("/", &[("x-big", &big)]), &policy()).unwrap_err(),
        Reject::HeadersTooLarge("header_too_large")
    );
    let medium = "v".repeat(30_000);
    let three = [("x-a", medium.as_str()), ("x-b", &medium), ("x-c", &medium)];
    assert_eq!(
        check(&req("/", &three), &policy()).unwrap_err(),
        Reject::HeadersTooLarge("header_list_too_large")
    );
    let names: Vec<String> = (0..101).map(|i| format!("x-h{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    assert_eq!(
        check(&req("/", &many), &policy()).unwrap_err(),
        Reject::HeadersTooLarge("too_many_headers")
    );
}

#[test]
fn credentials_and_names() {
    let two = [("authorization", "Bearer a"), ("authorization", "Bearer b")];
    assert_eq!(
        check(&req("/", &two), &policy()).unwrap_err(),
        Reject::InvalidRequest("duplicate_authorization")
    );
    let under = [("x_tenant_id", "x")];
    assert!(check(&req("/", &under), &policy()).is_ok());
    let strict = RequestPolicy {
        reject_underscores: true,
        ..policy()
    };
    assert_eq!(
        check(&req("/", &under), &strict).unwrap_err(),
        Reject::InvalidRequest("underscore_header")
    );
}
