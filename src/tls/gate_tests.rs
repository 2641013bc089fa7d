use super::*;
use rustls::pki_types::ServerName;

/// The first flight of a real rustls client: its ClientHello record(s).
fn client_hello(server_name: &str, alpn: &[&[u8]]) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

/// The same handshake message split over records of at most `chunk` bytes.
fn split_records(hello: &[u8], chunk: usize) -> Vec<u8> {
    assert_eq!(hello[0], 0x16);
    let len = u16::from_be_bytes([hello[3], hello[4]]) as usize;
    let body = &hello[5..5 + len];
    let mut out = Vec::new();
    for part in body.chunks(chunk) {
        out.extend_from_slice(&[0x16, hello[1], hello[2]]);
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&hello[5 + len..]);
    out
}

#[test]
fn acme_tls_alpn_hellos_are_told_apart_with_their_sni() {
    let h = client_hello("Tenant-A.Example.com", &[ACME_TLS_ALPN]);
    assert_eq!(
        inspect(&h),
        Some(Hello::AcmeTlsAlpn(Some("tenant-a.example.com".into())))
    );
    for alpn in [
        &[b"h2".as_slice(), b"http/1.1"][..],
        &[],
        &[ACME_TLS_ALPN, b"h2"],
    ] {
        let h = client_hello("tenant-a.example.com", alpn);
        assert_eq!(
            inspect(&h),
            Some(Hello::Regular(Some("tenant-a.example.com".into()))),
            "{alpn:?}"
        );
    }
}

#[test]
fn a_hello_without_sni_is_still_classified() {
    // rustls sends no SNI for an IP address.
    let h = client_hello("127.0.0.1", &[ACME_TLS_ALPN]);
    assert_eq!(inspect(&h), Some(Hello::AcmeTlsAlpn(None)));
    let h = client_hello("127.0.0.1", &[b"h2"]);
    assert_eq!(inspect(&h), Some(Hello::Regular(None)));
}

#[test]
fn truncated_hellos_wait_for_more() {
    let h = client_hello("tenant-a.example.com", &[ACME_TLS_ALPN]);
    for n in 0..h.len() {
        assert_eq!(inspect(&h[..n]), None, "prefix of {n} bytes");
    }
}

#[test]
fn a_hello_spread_over_several_records_is_read_whole() {
    let h = client_hello("tenant-a.example.com", &[ACME_TLS_ALPN]);
    for chunk in [1, 7, 100, 300] {
        let split = split_records(&h, chunk);
        assert_eq!(
            inspect(&split),
            Some(Hello::AcmeTlsAlpn(Some("tenant-a.example.com".into()))),
            "records of {chunk} bytes"
        );
        for n in [split.len() / 3, split.len() - 1] {
            assert_eq!(inspect(&split[..n]), None);
        }
    }
}

#[test]
fn oversized_hellos_are_refused() {
    // A handshake record announcing a huge ClientHello that never ends.
    let mut h = vec![0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0xff, 0xff, 0xff];
    h.resize(MAX_HELLO_BYTES + 1, 0);
    assert_eq!(inspect(&h), Some(Hello::Refuse));
    // Many tiny records, none completing the message, up to the bound.
    let mut h = Vec::new();
    h.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0xff, 0xff]);
    while h.len() <= MAX_HELLO_BYTES {
        h.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x01, 0x00]);
    }
    assert!(!matches!(inspect(&h), Some(Hello::Regular(_))));
    assert_eq!(inspect(&h[..MAX_HELLO_BYTES + 1]), Some(Hello::Refuse));
}

#[test]
fn garbage_is_refused_never_a_panic() {
    assert_eq!(inspect(b"GET / HTTP/1.1\r\n"), Some(Hello::Refuse));
    assert_eq!(inspect(b"PRI * HTTP/2.0\r\n"), Some(Hello::Refuse));
    // An alert, a ChangeCipherSpec, application data.
    for t in [0x15u8, 0x14, 0x17, 0x00, 0xff] {
        assert_eq!(inspect(&[t, 3, 3, 0, 2, 1, 0]), Some(Hello::Refuse));
    }
    // A handshake record with a ServerHello, or a ClientHello body of nonsense.
    assert_eq!(
        inspect(&[0x16, 3, 3, 0, 6, 2, 0, 0, 2, 3, 3]),
        Some(Hello::Refuse)
    );
    assert_eq!(
        inspect(&[0x16, 3, 3, 0, 8, 1, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef]),
        Some(Hello::Refuse)
    );
    // Corrupting any byte of a real hello: any verdict, but no panic.
    let h = client_hello("tenant-a.example.com", &[ACME_TLS_ALPN]);
    for i in 0..h.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut c = h.clone();
            c[i] ^= x;
            let _ = inspect(&c);
        }
    }
    // Pseudo-random handshake records.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2000 {
        let mut buf = vec![0x16, 3, 1];
        let n = (seed % 600) as usize;
        buf.extend_from_slice(&(n as u16).to_be_bytes());
        for _ in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            buf.push(seed as u8);
        }
        if buf.len() > 5 {
            buf[5] = 1;
        }
        let _ = inspect(&buf);
    }
}
