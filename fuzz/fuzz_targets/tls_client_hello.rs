//! `tls::gate::inspect` (the HTTPS listener's ClientHello check) on arbitrary first bytes.
//!
//! Properties: never a panic; anything but a TLS handshake record, or more than
//! `MAX_HELLO_BYTES` without a complete ClientHello, is refused; an `acme-tls/1` SNI comes
//! back lower case; and a verdict, once reached, is the same with more bytes appended (the
//! gate decides on the bytes it has).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenant_gateway::tls::gate::{inspect, Hello, MAX_HELLO_BYTES};

fuzz_target!(|seen: &[u8]| {
    let verdict = inspect(seen);
    if seen.first().is_some_and(|&b| b != 0x16) || seen.len() > MAX_HELLO_BYTES {
        assert_eq!(verdict, Some(Hello::Refuse), "{} bytes", seen.len());
    }
    if seen.len() >= MAX_HELLO_BYTES {
        assert!(verdict.is_some(), "undecided at the bound");
    }
    if let Some(Hello::AcmeTlsAlpn(Some(sni))) = &verdict {
        assert!(!sni.bytes().any(|c| c.is_ascii_uppercase()), "{sni:?}");
    }
    if let Some(v) = &verdict {
        if *v != Hello::Refuse && seen.len() + 6 <= MAX_HELLO_BYTES {
            let mut more = seen.to_vec();
            more.extend_from_slice(&[0x17, 3, 3, 0, 1, 0]);
            assert_eq!(inspect(&more).as_ref(), Some(v), "verdict changed");
        }
    }
});
