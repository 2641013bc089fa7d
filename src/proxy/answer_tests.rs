//! Unit tests of `answer`.

use super::*;

#[test]
fn json_schema() {
    let a = Answer::error(401, "invalid_token", "the token has expired").with_reason("expired");
    let v: serde_json::Value =
        serde_json::from_slice(&a.json(&HeaderValue::from_static("id-1"))).unwrap();
    assert_eq!(v["error"], "invalid_token");
    assert_eq!(v["reason"], "expired");
    assert_eq!(v["message"], "the token has expired");
    assert_eq!(v["request_id"], "id-1");
    assert_eq!(a.status(), 401);
}

#[test]
fn redirects_carry_a_location() {
    let a = Answer::redirect(302, "login_redirect", "https://idp.test/authorize?x=1");
    assert_eq!(a.code(), "login_redirect");
    assert!(a
        .headers
        .iter()
        .any(|(n, v)| n == http::header::LOCATION && v == "https://idp.test/authorize?x=1"));
}
