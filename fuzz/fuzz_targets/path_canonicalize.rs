//! `path::canonicalize` on arbitrary request path bytes. The first input byte picks the options
//! (bit 0: `merge_slashes`, bit 1: `allow_semicolons`; seeds use `'0'`..`'3'`), the rest is
//! the path.
//!
//! Properties of an accepted path: it starts with `/`; canonicalising it again gives it back;
//! no empty segment when slashes are merged; no `.` or `..` segment; no encoded `/` or `\`,
//! no `\`, no control character, space or DEL; every `%` starts an upper-case `%XX` escape,
//! and no escape encodes an unreserved character (ALPHA DIGIT `-` `.` `_` `~`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenant_gateway::path::{canonicalize, PathOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, raw)) = data.split_first() else {
        return;
    };
    let mut opts = PathOptions::default();
    opts.merge_slashes = pick & 1 != 0;
    opts.allow_semicolons = pick & 2 != 0;
    let Ok(c) = canonicalize(raw, &opts) else {
        return;
    };
    let c: &str = &c;
    assert!(c.starts_with('/'), "{c:?} does not start with '/'");
    if opts.merge_slashes {
        assert!(!c.contains("//"), "empty segment in {c:?}");
    }
    for seg in ["/./", "/../"] {
        assert!(!c.contains(seg), "{seg:?} segment in {c:?}");
    }
    assert!(
        !c.ends_with("/.") && !c.ends_with("/.."),
        "dot segment at the end of {c:?}"
    );
    for enc in ["%2F", "%2f", "%5C", "%5c"] {
        assert!(!c.contains(enc), "{enc} in {c:?}");
    }
    assert!(!c.contains('\\'), "backslash in {c:?}");
    assert!(
        !c.bytes().any(|b| b < 0x21 || b == 0x7f),
        "control character, space or DEL in {c:?}"
    );
    let b = c.as_bytes();
    for (i, _) in c.match_indices('%') {
        let hex = b
            .get(i + 1..i + 3)
            .unwrap_or_else(|| panic!("cut escape in {c:?}"));
        assert!(
            hex.iter()
                .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h)),
            "escape {:?} in {c:?} is not upper-case %XX",
            String::from_utf8_lossy(hex)
        );
        let byte = u8::from_str_radix(std::str::from_utf8(hex).unwrap(), 16).unwrap();
        assert!(
            !(byte.is_ascii_alphanumeric() || b"-._~".contains(&byte)),
            "encoded unreserved character {:?} in {c:?}",
            byte as char
        );
    }
    match canonicalize(c.as_bytes(), &opts) {
        Ok(again) => assert_eq!(&*again, c, "not idempotent"),
        Err(e) => panic!(
            "not idempotent: {c:?} (from {:?}) is rejected: {e:?}",
            String::from_utf8_lossy(raw)
        ),
    }
});
