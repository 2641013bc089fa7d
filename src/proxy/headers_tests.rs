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
