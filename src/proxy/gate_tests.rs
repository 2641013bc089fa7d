//! Unit tests of `gate`.

use super::*;

fn h1(seen: &[u8]) -> Option<Sniffed> {
    classify(seen, true, 8192)
}

#[test]
fn decides_as_soon_as_the_bytes_stop_matching_the_preface() {
    assert_eq!(h1(b""), None);
    assert_eq!(h1(b"PRI * HTTP/2.0\r\n"), None);
    assert_eq!(h1(PREFACE), Some(Sniffed::H2));
    assert_eq!(h1(b"G"), None, "an HTTP/1 line is read to its end");
    assert_eq!(h1(b"GET / HTTP/1.1\r\n"), Some(Sniffed::H1));
    assert_eq!(h1(b"\r\nGET / HTTP/1.0\r\n"), Some(Sniffed::H1));
    assert_eq!(
        classify(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", false, 8192),
        Some(Sniffed::Refuse(Reject::InvalidRequest(
            "malformed_request_line"
        )))
    );
}

#[test]
fn malformed_request_lines_are_refused() {
    let bad = Sniffed::Refuse(Reject::InvalidRequest("malformed_request_line"));
    for line in [
        &b"GET /\r\n"[..],
        b"GET /a b HTTP/1.1\r\n",
        b"GET  / HTTP/1.1\r\n",
        b"GET / HTTP/1.1 \r\n",
        b"GET /\x01 HTTP/1.1\r\n",
        b"GET / HTTP/2.0\r\n",
        b"GET / HTTP/0.9\r\n",
        b"HELLO\r\n",
        b"G(T / HTTP/1.1\r\n",
        b"GET /\tx HTTP/1.1\r\n",
    ] {
        assert_eq!(h1(line), Some(bad), "{:?}", String::from_utf8_lossy(line));
    }
}

#[test]
fn long_lines_are_refused_before_they_are_read_whole() {
    let mut line = b"GET /".to_vec();
    line.extend(std::iter::repeat_n(b'a', 100));
    assert_eq!(
        classify(&line, true, 64),
        Some(Sniffed::Refuse(Reject::UriTooLong))
    );
    assert_eq!(classify(&line[..40], true, 64), None);
    // Exactly at the limit (without CRLF) passes; one byte more does not.
    let at = format!("GET /{} HTTP/1.1\r\n", "a".repeat(64 - 14));
    assert_eq!(at.len() - 2, 64);
    assert_eq!(classify(at.as_bytes(), true, 64), Some(Sniffed::H1));
    let over = format!("GET /{} HTTP/1.1\r\n", "a".repeat(65 - 14));
    assert_eq!(
        classify(over.as_bytes(), true, 64),
        Some(Sniffed::Refuse(Reject::UriTooLong))
    );
}
