//! Unit tests of `basic`.

use super::*;

#[test]
fn hashes_verify_and_parse() {
    let users = vec![BasicUser {
        username: "hook".into(),
        password_hash: hash("s3cret").unwrap(),
    }];
    assert_eq!(verify(&users, "hook", "s3cret").unwrap().sub, "hook");
    assert_eq!(
        verify(&users, "hook", "wrong"),
        Err(AuthError::InvalidCredentials)
    );
    assert_eq!(
        verify(&users, "nobody", "s3cret"),
        Err(AuthError::InvalidCredentials)
    );
    let header = format!("Basic {}", STANDARD.encode("hook:s3:cret"));
    assert_eq!(
        parse(header.as_bytes()),
        Some(("hook".into(), "s3:cret".into()))
    );
    assert_eq!(parse(b"Bearer abc"), None);
    assert!(PasswordHash::new(DUMMY_HASH).is_ok());
}
