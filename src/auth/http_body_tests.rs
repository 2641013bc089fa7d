//! Unit tests of `http_body`: a local HTTP/1.1 server sends bodies of every shape.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const MIB: usize = 1024 * 1024;

/// How the test server frames its body.
#[derive(Clone, Copy)]
enum Framing {
    ContentLength,
    Chunked,
    /// Declares `len` bytes but closes after half of them.
    Truncated,
}

/// Serves one response of `len` bytes on every connection; returns its URL.
async fn serve(len: usize, framing: Framing) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let body = vec![b'x'; len];
                let _ = match framing {
                    Framing::ContentLength => {
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n");
                        sock.write_all(&[head.as_bytes(), &body].concat()).await
                    }
                    Framing::Truncated => {
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n");
                        sock.write_all(&[head.as_bytes(), &body[..len / 2]].concat())
                            .await
                    }
                    Framing::Chunked => {
                        let mut out =
                            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                        for part in body.chunks(64 * 1024) {
                            out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                            out.extend_from_slice(part);
                            out.extend_from_slice(b"\r\n");
                        }
                        out.extend_from_slice(b"0\r\n\r\n");
                        // A client that stops reading early closes the socket: ignore errors.
                        sock.write_all(&out).await
                    }
                };
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}/")
}

async fn fetch(url: &str, max: u64) -> Result<Vec<u8>, BodyError> {
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    read_capped(resp, max).await
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused_with_or_without_content_length() {
    for framing in [Framing::ContentLength, Framing::Chunked] {
        let url = serve(2 * MIB, framing).await;
        let err = fetch(&url, MIB as u64).await.unwrap_err();
        assert!(
            matches!(err, BodyError::TooLarge(n) if n == MIB as u64),
            "{err}"
        );
        assert_eq!(err.to_string(), "response body larger than 1048576 bytes");
    }
}

#[tokio::test]
async fn bodies_up_to_the_cap_are_read_whole() {
    for framing in [Framing::ContentLength, Framing::Chunked] {
        let url = serve(MIB, framing).await;
        assert_eq!(fetch(&url, MIB as u64).await.unwrap().len(), MIB);
        let url = serve(300, framing).await;
        assert_eq!(fetch(&url, MIB as u64).await.unwrap(), vec![b'x'; 300]);
        let url = serve(0, framing).await;
        assert!(fetch(&url, MIB as u64).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_cut_off_body_is_a_read_error() {
    let url = serve(1000, Framing::Truncated).await;
    let err = fetch(&url, MIB as u64).await.unwrap_err();
    assert!(matches!(err, BodyError::Read(_)), "{err}");
}

#[tokio::test]
async fn the_idp_client_applies_its_cap() {
    let url = serve(2048, Framing::Chunked).await;
    let http = IdpHttp {
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        max_body: 1024,
    };
    let resp = http.client.get(&url).send().await.unwrap();
    assert!(matches!(
        http.body(resp).await,
        Err(BodyError::TooLarge(1024))
    ));
}
