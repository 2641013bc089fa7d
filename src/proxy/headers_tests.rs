//! Unit tests of `headers`.

use super::*;

#[test]
fn strips_reserved_and_forwarding_headers() {
    let mut req = RequestHeader::build("GET", b"/", None).unwrap();
    for (k, v) in [
        ("X-Tenant-Id", "evil"),
        ("x-tenant-anything", "1"),
        ("X-User-Sub", "admin"),
        ("X-Forwarded-For", "1.2.3.4"),
        ("Forwarded", "for=1.2.3.4"),
        ("Accept", "*/*"),
    ] {
        req.append_header(k, v).unwrap();
    }
    strip_spoofed(&mut req);
    let names: Vec<_> = req.headers.keys().map(|k| k.as_str().to_string()).collect();
    assert_eq!(names, vec!["accept"]);
}

#[test]
fn request_ids() {
    let mut req = RequestHeader::build("GET", b"/", None).unwrap();
    req.insert_header("x-request-id", "abc-123").unwrap();
    assert_eq!(request_id(&req), "abc-123");
    req.insert_header("x-request-id", "bad id<script>").unwrap();
    assert_eq!(request_id(&req).len(), 36);
}

#[test]
fn header_names_with_underscores_are_dropped() {
    let mut req = RequestHeader::build("GET", b"/", None).unwrap();
    for (k, v) in [
        ("X_Tenant_Id", "evil"),
        ("X-User_Sub", "admin"),
        ("X_Forwarded_For", "1.2.3.4"),
        ("Foo_Bar", "x"),
        ("X-Fine", "y"),
    ] {
        req.append_header(k, v).unwrap();
    }
    strip_spoofed(&mut req);
    let names: Vec<_> = req.headers.keys().map(|k| k.as_str().to_string()).collect();
    assert_eq!(names, vec!["x-fine"]);
}

/// Parses an RFC 9651 list back into its strings, as a backend would.
fn parse_list(v: &str) -> Vec<String> {
    let list: sfv::List = sfv::Parser::new(v).parse().unwrap();
    list.iter()
        .map(|e| match e {
            sfv::ListEntry::Item(i) => match &i.bare_item {
                sfv::BareItem::String(s) => s.as_str().to_string(),
                sfv::BareItem::DisplayString(s) => s.clone(),
                other => panic!("not a string: {other:?}"),
            },
            other => panic!("not an item: {other:?}"),
        })
        .collect()
}

#[test]
fn groups_are_a_structured_list_no_item_can_forge_another() {
    let groups: Vec<String> = [
        "admins",
        "team,a",
        "quote\"d",
        "back\\slash",
        "café",
        "100%",
        "tab\there",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = structured_list(&groups);
    assert!(HeaderValue::from_str(&v).is_ok(), "{v}");
    assert_eq!(parse_list(&v), groups);
    assert_eq!(
        structured_list(&["a".into(), "b,c".into()]),
        "\"a\", \"b,c\""
    );
}

#[test]
fn identity_headers() {
    let mut req = RequestHeader::build("GET", b"/", None).unwrap();
    let id = Identity {
        sub: "u-1".into(),
        email: Some("é@x.test".into()),
        groups: vec!["a,b".into()],
        scopes: vec![],
        extra_headers: vec![
            ("x-user-dept".into(), ClaimValue::One("ops".into())),
            (
                "x-user-roles".into(),
                ClaimValue::List(vec!["r1".into(), "r,2".into()]),
            ),
        ],
        expires_at: 0,
        kind: None,
        copied: vec![],
    };
    add_identity_headers(&mut req, &id).unwrap();
    let get = |n: &str| req.headers.get(n).unwrap().as_bytes().to_vec();
    assert_eq!(get("x-user-sub"), b"u-1");
    assert_eq!(get("x-user-email"), "é@x.test".as_bytes());
    assert_eq!(get("x-user-groups"), b"\"a,b\"");
    assert_eq!(get("x-user-dept"), b"ops");
    assert_eq!(get("x-user-roles"), b"\"r1\", \"r,2\"");
}

#[test]
fn every_forwarding_variant_and_path_override_is_dropped() {
    let mut req = RequestHeader::build("GET", b"/", None).unwrap();
    for k in [
        "X-Forwarded-Port",
        "X-Forwarded-Prefix",
        "X-Forwarded-Ssl",
        "X-Forwarded-Server",
        "X-Real-IP",
        "True-Client-IP",
        "X-Original-URL",
        "X-Rewrite-URL",
    ] {
        req.append_header(k, "spoof").unwrap();
    }
    req.append_header("X-Kept", "1").unwrap();
    strip_spoofed(&mut req);
    let names: Vec<_> = req.headers.keys().map(|k| k.as_str().to_string()).collect();
    assert_eq!(names, vec!["x-kept"]);
}

#[test]
fn addresses_are_formatted_as_std_does() {
    for ip in [
        "0.0.0.0",
        "127.0.0.1",
        "10.9.99.100",
        "255.255.255.255",
        "192.168.1.20",
        "::1",
        "2001:db8::8a2e:370:7334",
        "::ffff:10.0.0.1",
    ] {
        let addr: std::net::IpAddr = ip.parse().unwrap();
        assert_eq!(ip_value(addr), addr.to_string().as_str(), "{ip}");
    }
}
