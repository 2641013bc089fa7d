//! Unit tests of `certs`.

use super::*;

#[test]
fn wildcards_cover_one_label() {
    assert!(wildcard_matches("*.example.com", "a.example.com"));
    assert!(!wildcard_matches("*.example.com", "example.com"));
    assert!(!wildcard_matches("*.example.com", "a.b.example.com"));
    assert!(!wildcard_matches("example.com", "example.com"));
}
