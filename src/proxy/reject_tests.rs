//! Unit tests of `reject`.

use super::*;

#[test]
fn statuses_and_bodies() {
    assert_eq!(Reject::UnknownHost.status(), 404);
    assert_eq!(Reject::TenantDisabled.status(), 403);
    assert_eq!(Reject::MalformedHost.status(), 400);
    let b = Answer::from(Reject::UnknownHost).json(&http::HeaderValue::from_static("r1"));
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["error"], "unknown_host");
    assert_eq!(v["request_id"], "r1");
}

#[test]
fn maps_pingora_errors() {
    let e = Error::new(ErrorType::ConnectRefused).into_up();
    assert_eq!(Reject::from_error(&e), Some(Reject::BackendUnavailable));
    let e = Error::new(ErrorType::ReadTimedout).into_up();
    assert_eq!(Reject::from_error(&e), Some(Reject::BackendTimeout));
    let e = Error::new(ErrorType::Custom(NO_HEALTHY_BACKEND));
    assert_eq!(Reject::from_error(&e), Some(Reject::NoHealthyBackend));
    let e = Error::new(ErrorType::ConnectionClosed).into_down();
    assert_eq!(Reject::from_error(&e), None);
}

#[test]
fn reasons_reach_the_body() {
    let r = Reject::InvalidPath(PathError::EncodedSlash);
    assert_eq!(r.status(), 400);
    let b = Answer::from(r).json(&http::HeaderValue::from_static("r2"));
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["error"], "invalid_path");
    assert_eq!(v["reason"], "encoded_slash");
    assert_eq!(Reject::HeadersTooLarge("too_many_headers").status(), 431);
    assert_eq!(Reject::UriTooLong.status(), 414);
    let plain = Answer::from(Reject::NoRoute).json(&http::HeaderValue::from_static("r3"));
    let v: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert!(v.get("reason").is_none());
}
