//! Oversized answers from an identity provider: a JWKS (with or without Content-Length) or a
//! discovery document over `auth.idp_max_response_bytes` is a failed fetch, so bearer
//! requests get 503 `idp_unavailable` (not a hang, a panic or an unbounded buffer), and the
//! gateway keeps serving every other tenant.

mod common;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

const TENANT_C: &str = "44444444-4444-4444-8444-444444444444";
const TENANT_D: &str = "55555555-5555-4555-8555-555555555555";
const TENANT_E: &str = "66666666-6666-4666-8666-666666666666";

const BIG: usize = 2 * 1024 * 1024;

/// A tiny IdP: `/cl/...` answers 2 MiB with Content-Length, `/chunked/...` 2 MiB chunked,
/// `/small/jwks.json` an empty JWKS. Records the paths it was asked for.
struct FakeIdp {
    addr: SocketAddr,
    paths: Arc<Mutex<Vec<String>>>,
}

impl FakeIdp {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let paths = Arc::new(Mutex::new(Vec::new()));
        let seen = paths.clone();
        std::thread::spawn(move || {
            for sock in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || answer(sock, addr, &seen));
            }
        });
        FakeIdp { addr, paths }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requested(&self, path: &str) -> bool {
        self.paths.lock().unwrap().iter().any(|p| p == path)
    }
}

fn answer(mut sock: TcpStream, me: SocketAddr, seen: &Mutex<Vec<String>>) {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&req);
    let path = text.split(' ').nth(1).unwrap_or("").to_string();
    seen.lock().unwrap().push(path.clone());
    // Valid as a JWKS and as a discovery document (pointing at the small JWKS), so only the
    // cap makes it a failure.
    let big = {
        let mut b = format!(r#"{{"keys":[],"jwks_uri":"http://{me}/small/jwks.json","padding":""#)
            .into_bytes();
        b.resize(BIG - 2, b'x');
        b.extend_from_slice(br#""}"#);
        b
    };
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n";
    // Errors are expected: the gateway hangs up once it has read past its cap.
    let _ = if path.starts_with("/cl/") {
        sock.write_all(format!("{head}content-length: {}\r\n\r\n", big.len()).as_bytes())
            .and_then(|_| sock.write_all(&big))
    } else if path.starts_with("/chunked/") {
        sock.write_all(format!("{head}transfer-encoding: chunked\r\n\r\n").as_bytes())
            .and_then(|_| {
                for part in big.chunks(16 * 1024) {
                    sock.write_all(format!("{:x}\r\n", part.len()).as_bytes())?;
                    sock.write_all(part)?;
                    sock.write_all(b"\r\n")?;
                }
                sock.write_all(b"0\r\n\r\n")
            })
    } else if path == "/small/jwks.json" {
        let body = br#"{"keys":[]}"#;
        sock.write_all(format!("{head}content-length: {}\r\n\r\n", body.len()).as_bytes())
            .and_then(|_| sock.write_all(body))
    } else {
        sock.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
    };
}

/// A well-formed RS256 token naming a key; its signature is never reached.
fn token() -> String {
    let part = |v: &str| URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.{}",
        part(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#),
        part(r#"{"sub":"someone","exp":4000000000}"#),
        part("signature")
    )
}

fn tenants_yaml(idp: &FakeIdp) -> String {
    let with_idp = |id: &str, sub: &str, issuer: &str, jwks: Option<&str>| {
        let jwks = jwks.map_or(String::new(), |j| format!(", jwks_uri: \"{}\"", idp.url(j)));
        format!(
            "  - id: {id}\n    name: {sub}\n    subdomain: {sub}\n    idp: {{ kind: oidc, issuer: \"{}\", client_id: c1{jwks} }}\n    routes: [{{ prefix: /, pool: web, auth: jwt }}]\n",
            idp.url(issuer)
        )
    };
    [
        "tenants:\n".to_string(),
        with_idp(TENANT_A, "big-cl", "/cl", Some("/cl/jwks.json")),
        with_idp(
            TENANT_B,
            "big-chunked",
            "/chunked",
            Some("/chunked/jwks.json"),
        ),
        with_idp(TENANT_C, "big-discovery", "/cl/issuer", None),
        with_idp(TENANT_E, "small", "/small", Some("/small/jwks.json")),
        format!("  - id: {TENANT_D}\n    name: public\n    subdomain: public\n"),
    ]
    .concat()
}

#[tokio::test]
async fn oversized_idp_answers_are_idp_unavailable_and_other_tenants_keep_working() {
    let idp = FakeIdp::start();
    let web = Backend::start("web");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&web], ""), &tenants_yaml(&idp))
        .no_watch()
        .start();
    let c = client();
    let call = |host: &str| {
        send(
            c.get(gw.url("/orders"))
                .header("host", format!("{host}.example.com"))
                .bearer_auth(token()),
        )
    };
    for host in ["big-cl", "big-chunked", "big-discovery"] {
        let started = std::time::Instant::now();
        let r = call(host).await;
        assert_eq!(r.status, 503, "{host}: {}", r.text);
        assert_eq!(r.json()["reason"], "idp_unavailable", "{host}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{host} took {:?}",
            started.elapsed()
        );
        // The public tenant is served between the failures.
        let ok = gw.get("public.example.com", "/").await;
        assert_eq!(ok.status, 200, "{}", ok.text);
    }
    assert!(idp.requested("/cl/jwks.json"));
    assert!(idp.requested("/chunked/jwks.json"));
    assert!(idp.requested("/cl/issuer/.well-known/openid-configuration"));
    // A JWKS under the cap is read: the token is refused for its key, not for the IdP.
    let r = call("small").await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json()["reason"], "unknown_kid");

    let m = gw.metrics().await;
    for path in ["/cl/jwks.json", "/chunked/jwks.json"] {
        let series = format!(
            "gateway_jwks_fetches_total{{jwks=\"{}\",result=\"error\"}}",
            idp.url(path)
        );
        assert!(m.contains(&series), "missing {series} in:\n{m}");
    }
    let log = gw.stderr();
    assert!(
        log.contains("response body larger than 1048576 bytes"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}
