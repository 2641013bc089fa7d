//! `auth::bearer` on arbitrary `Authorization` values.
//!
//! Properties: a token is only taken from a `Bearer` scheme (any case), it has no leading or
//! trailing whitespace, and it is a part of the header value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenant_gateway::auth::bearer;

fuzz_target!(|raw: &[u8]| {
    assert_eq!(bearer(None), None);
    let Some(token) = bearer(Some(raw)) else {
        return;
    };
    assert!(
        !token.starts_with(char::is_whitespace) && !token.ends_with(char::is_whitespace),
        "token with surrounding whitespace: {token:?}"
    );
    let text = std::str::from_utf8(raw).expect("accepted header is UTF-8");
    let (scheme, rest) = text.split_once(' ').expect("scheme and token");
    assert!(scheme.eq_ignore_ascii_case("bearer"), "scheme {scheme:?}");
    assert!(rest.contains(token), "{token:?} is not in {rest:?}");
});
