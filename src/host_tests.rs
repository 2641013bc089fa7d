//! Unit tests of `host`.

use super::*;

#[test]
fn normalizes_case_port_and_trailing_dot() {
    assert_eq!(
        normalize(b"Tenant-1.Example.COM:8443").unwrap(),
        "tenant-1.example.com"
    );
    assert_eq!(normalize(b"acme.example.com.").unwrap(), "acme.example.com");
    assert_eq!(
        normalize(b"acme.example.com.:80").unwrap(),
        "acme.example.com"
    );
    assert_eq!(normalize(b"[::1]:8080").unwrap(), "::1");
    assert_eq!(normalize(b"10.0.0.1").unwrap(), "10.0.0.1");
}

#[test]
fn rejects_malformed_hosts() {
    assert_eq!(normalize(b""), Err(HostError::Missing));
    for bad in [
        &b"a..b"[..],
        b"a b.com",
        b"evil.com/x",
        b"x.com:port",
        b"x.com:",
        b".",
        b"a_b.com",
        b"[::1",
        b"\xff.com",
        b"user@host.com",
    ] {
        assert_eq!(normalize(bad), Err(HostError::Malformed), "{:?}", bad);
    }
}

#[test]
fn validates_configured_names() {
    assert_eq!(
        Hostname::parse("Example.COM.").unwrap().as_str(),
        "example.com"
    );
    assert!(Hostname::parse("-bad.com").is_err());
    assert!(Hostname::parse("").is_err());
    assert!(is_dns_label("tenant-1"));
    assert!(!is_dns_label("Tenant"));
    assert!(!is_dns_label("a.b"));
}

#[test]
fn bracketed_hosts_must_be_ipv6_addresses() {
    for bad in ["[.]", "[1.]:80", "[:]", "[...]", "[]"] {
        assert_eq!(
            normalize(bad.as_bytes()),
            Err(HostError::Malformed),
            "{bad}"
        );
    }
    assert_eq!(normalize(b"[::1]:8080").as_deref(), Ok("::1"));
    assert_eq!(normalize(b"[2001:db8::1]").as_deref(), Ok("2001:db8::1"));
}
