//! Unit tests of `session`.

use super::*;

fn codec() -> SessionCodec {
    SessionCodec::new(&Secret::new("0123456789abcdef0123456789abcdef")).unwrap()
}

fn cookies_from(set_cookies: &[String]) -> RequestCookies {
    let header: Vec<String> = set_cookies
        .iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect();
    let joined = header.join("; ");
    RequestCookies::parse(std::iter::once(joined.as_bytes()))
}

fn session(size: usize) -> SessionData {
    SessionData {
        tid: "t".into(),
        id_token: "x".repeat(size),
        access_token: Some("a".repeat(size)),
        refresh_token: None,
        exp: 1,
        max_until: 2,
    }
}

#[test]
fn small_and_large_sessions_round_trip() {
    let c = codec();
    for size in [100, 5000] {
        let s = session(size);
        let set = c.session_cookies(&s, true, 3600, 0);
        assert!(set
            .iter()
            .all(|v| v.contains("HttpOnly") && v.contains("Secure") && v.contains("SameSite=Lax")));
        assert!(set.iter().all(|v| !v.contains("Domain")), "host-only");
        assert!(
            set.iter().all(|v| v.len() < 4096),
            "every cookie fits a browser's limit"
        );
        if size > 1000 {
            assert!(set.len() > 2, "large sessions are chunked: {}", set.len());
        }
        assert_eq!(c.read_session(&cookies_from(&set)), Some(s));
    }
}

#[test]
fn tampered_or_foreign_cookies_are_ignored() {
    let c = codec();
    let set = c.session_cookies(&session(10), false, 60, 0);
    assert!(!set[0].contains("Secure"));
    let mut value = set[0].split(';').next().unwrap().to_string();
    value.pop();
    value.push('A');
    assert_eq!(
        c.read_session(&RequestCookies::parse(std::iter::once(value.as_bytes()))),
        None
    );
    let other = SessionCodec::new(&Secret::new("another-key-another-key-another-key")).unwrap();
    assert_eq!(other.read_session(&cookies_from(&set)), None);
    assert_eq!(
        c.read_session(&RequestCookies::parse(std::iter::once(
            &b"tg_session=garbage"[..]
        ))),
        None
    );
}

#[test]
fn flow_cookie_is_bound_to_its_state() {
    let c = codec();
    let f = FlowData {
        state: "abcdefghijklmnop".into(),
        nonce: "n".into(),
        verifier: "v".into(),
        return_to: "/x".into(),
        iat: 1,
    };
    let set = c.flow_cookie(&f, "/callback", true).unwrap();
    assert!(set.contains("Path=/callback") && set.contains("Max-Age=600"));
    let jar = cookies_from(&[set]);
    assert_eq!(c.read_flow(&jar, "abcdefghijklmnop"), Some(f));
    assert_eq!(c.read_flow(&jar, "zzzzzzzzzzzzzzzz"), None);
}

#[test]
fn a_session_too_large_to_read_back_is_not_written() {
    let c = codec();
    let s = session(60_000);
    assert!(c.session_cookies(&s, true, 3600, 0).is_empty());
}
