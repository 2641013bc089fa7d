//! HTTP Basic credential parsing (`auth::basic::parse`) on arbitrary `Authorization` values.
//!
//! Properties: credentials come only from a `Basic` scheme (any case), the user name holds no
//! `:` (the first colon separates it), and encoding the result again parses back to it.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use tenant_gateway::fuzzing::basic_parse;

fuzz_target!(|raw: &[u8]| {
    let Some((user, password)) = basic_parse(raw) else {
        return;
    };
    assert!(!user.contains(':'), "user name with a colon: {user:?}");
    let text = std::str::from_utf8(raw).expect("accepted header is UTF-8");
    let (scheme, _) = text.split_once(' ').expect("scheme and credentials");
    assert!(scheme.eq_ignore_ascii_case("basic"), "scheme {scheme:?}");
    let again = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
    assert_eq!(
        basic_parse(again.as_bytes()),
        Some((user, password)),
        "round trip"
    );
});
