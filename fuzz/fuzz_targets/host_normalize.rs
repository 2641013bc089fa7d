//! `host::normalize` on arbitrary `Host` / `:authority` bytes.
//!
//! Properties of an accepted host name: lower case, no port, no trailing dot, DNS-shaped
//! labels, and normalising it again gives it back unchanged. An IPv6 literal (`[...]`) is
//! returned without its brackets (it matches no tenant): it must be lower case, made only of
//! hex digits, `:` and `.`, and normalise back to itself once bracketed again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenant_gateway::host::normalize;

fuzz_target!(|raw: &[u8]| {
    let Ok(out) = normalize(raw) else {
        return;
    };
    let out: &str = &out;
    assert!(!out.is_empty(), "empty host accepted from {raw:?}");
    assert!(
        !out.bytes().any(|c| c.is_ascii_uppercase()),
        "not lower case: {out:?}"
    );
    if raw.first() == Some(&b'[') {
        assert!(
            out.bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.'),
            "IPv6 literal with other characters: {out:?}"
        );
        let again = format!("[{out}]");
        assert_eq!(
            normalize(again.as_bytes()).as_deref(),
            Ok(out),
            "IPv6 literal not stable"
        );
        return;
    }
    assert!(!out.contains(':'), "port kept: {out:?} from {raw:?}");
    assert!(!out.ends_with('.'), "trailing dot kept: {out:?}");
    assert!(out.len() <= 253, "name too long: {}", out.len());
    for label in out.split('.') {
        assert!(
            !label.is_empty() && label.len() <= 63,
            "bad label {label:?} in {out:?}"
        );
        assert!(
            label
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'),
            "bad character in {out:?}"
        );
    }
    assert_eq!(
        normalize(out.as_bytes()).as_deref(),
        Ok(out),
        "not idempotent"
    );
    // The accepted text is the input's, minus port and one trailing dot, lowercased.
    let raw = std::str::from_utf8(raw).expect("accepted host is UTF-8");
    assert!(
        raw.to_ascii_lowercase().starts_with(out),
        "{out:?} is not a prefix of {raw:?}"
    );
});
