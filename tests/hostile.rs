//! An attacker's black-box suite against the real gateway binary: path spellings that could
//! route around authentication, smuggled credentials and identity headers, oversized and
//! malformed heads, request smuggling. Two tenants, `acme` and `globex`, under `hostile.test`
//! (plus the path-tenant host `partners.hostile.test`, `/mno/<tenant>/...`), each with
//!
//! * `/`           open (`auth: none`),
//! * `/api`        `auth: jwt` (tokens from moto's Cognito),
//! * `/api/admin`  `auth: jwt`, `require_groups: [admins]`,
//! * `/hooks`      `auth: basic` (a user hashed by the binary's `hash-password`),
//!
//! in front of a recording backend (exact request heads) or a lenient backend (reads paths
//! the way permissive frameworks do, and flags every request that is for `/api` or `/hooks`
//! read that way). See `tests/common/hostile.rs`.

mod common;
use common::hostile::*;
use common::peers::*;
use common::*;
use serde_json::Value;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const BASE: &str = "hostile.test";
const ACME: &str = "acme.hostile.test";
const GLOBEX: &str = "globex.hostile.test";
const PARTNERS: &str = "partners.hostile.test";
const HOOK_USER: &str = "hook-user";
const HOOK_PASS: &str = "hook-pass-1";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pool {
    Recording,
    Lenient,
}

struct Opts {
    /// Start moto and get real Cognito tokens (otherwise the tenants' IdP is unreachable and
    /// only unauthenticated requests make sense).
    tokens: bool,
    /// Where every route of both tenants goes.
    pool: Pool,
    /// Appended to gateway.yaml (top-level blocks: `headers:`, `limits:`).
    gateway_extra: &'static str,
    /// More route lines for acme (`      - { prefix: ..., pool: rec, ... }`).
    acme_routes_extra: &'static str,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            tokens: false,
            pool: Pool::Recording,
            gateway_extra: "",
            acme_routes_extra: "",
        }
    }
}

struct Hostile {
    gw: Gateway,
    rec: RecordingBackend,
    lenient: LenientBackend,
    fx: Value,
    moto: Option<Moto>,
}

fn gateway_yaml(rec: SocketAddr, lenient: SocketAddr, extra: &str) -> String {
    format!(
        r#"listeners:
  http: ["{{http}}"]
  admin: "{{admin}}"
server:
  threads: 2
  grace_period: 1s
  graceful_shutdown_timeout: 1s
base_domains:
  - domain: {BASE}
path_tenants:
  - host: {PARTNERS}
    prefix: /mno
pools:
  rec:
    backends: ["{rec}"]
    connect_timeout: 1s
    read_timeout: 5s
  lenient:
    backends: ["{lenient}"]
    connect_timeout: 1s
    read_timeout: 5s
tenants:
  source: file
  path: tenants.yaml
admin:
  token_env: TEST_ADMIN_TOKEN
logging:
  access_log: "{{access_log}}"
{extra}"#
    )
}

fn tenants_yaml(fx: &Value, pool: &str, hash: &str, acme_extra: &str) -> String {
    let (issuer, jwks, client) = if fx.is_null() {
        (
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_offline".to_string(),
            "http://127.0.0.1:9/jwks.json".to_string(),
            "offline-client".to_string(),
        )
    } else {
        (
            fx["issuer"].as_str().unwrap().to_string(),
            fx["jwks_url"].as_str().unwrap().to_string(),
            fx["client_id"].as_str().unwrap().to_string(),
        )
    };
    let tenant = |id: &str, name: &str, sub: &str, extra: &str| {
        format!(
            r#"  - id: {id}
    name: {name}
    subdomain: {sub}
    idp:
      kind: cognito
      issuer: {issuer}
      jwks_uri: {jwks}
      client_id: {client}
      tenant_group_prefix: tenant-
    basic_auth:
      - {{ username: {HOOK_USER}, password_hash: "{hash}" }}
    routes:
      - {{ prefix: /, pool: {pool}, auth: none }}
      - {{ prefix: /api, pool: {pool}, auth: jwt }}
      - {{ prefix: /api/admin, pool: {pool}, auth: jwt, require_groups: [admins] }}
      - {{ prefix: /hooks, pool: {pool}, auth: basic }}
{extra}"#
        )
    };
    format!(
        "tenants:\n{}{}",
        tenant(TENANT_A, "Acme", "acme", acme_extra),
        tenant(TENANT_B, "Globex", "globex", "")
    )
}

/// Runs the binary's `check` on the configuration first, so a field the gateway does not
/// know (yet) fails with its own message instead of a gateway that never listens.
fn preflight(gateway: &str, tenants: &str) {
    let dir = tempfile::tempdir().unwrap();
    let yaml = gateway
        .replace("{http}", "127.0.0.1:1")
        .replace("{admin}", "127.0.0.1:2")
        .replace(
            "{access_log}",
            &dir.path().join("access.log").display().to_string(),
        );
    std::fs::write(dir.path().join("gateway.yaml"), yaml).unwrap();
    std::fs::write(dir.path().join("tenants.yaml"), tenants).unwrap();
    let (ok, out) = check(&dir.path().join("gateway.yaml"));
    assert!(
        ok,
        "the gateway refuses this configuration:\n{out}\n--- gateway.yaml ---\n{gateway}\n--- tenants.yaml ---\n{tenants}"
    );
}

impl Hostile {
    fn start(opts: Opts) -> Hostile {
        let rec = RecordingBackend::start("rec");
        let lenient = LenientBackend::start("lenient");
        let (moto, fx) = if opts.tokens {
            let moto = Moto::start();
            let fx = cognito_tokens(
                &moto,
                &[
                    ("acme", TENANT_A),
                    ("globex", TENANT_B),
                    ("reader", TENANT_A),
                ],
            );
            (Some(moto), fx)
        } else {
            (None, Value::Null)
        };
        let pool = match opts.pool {
            Pool::Recording => "rec",
            Pool::Lenient => "lenient",
        };
        let gateway = gateway_yaml(rec.addr(), lenient.addr(), opts.gateway_extra);
        let tenants = tenants_yaml(&fx, pool, &hash_password(HOOK_PASS), opts.acme_routes_extra);
        preflight(&gateway, &tenants);
        let gw = GatewayBuilder::new(&gateway, &tenants).no_watch().start();
        Hostile {
            gw,
            rec,
            lenient,
            fx,
            moto,
        }
    }

    /// acme's user: in `tenant-<acme id>` and `admins`.
    fn token(&self, kind: &str) -> String {
        self.fx["users"]["acme"][kind]
            .as_str()
            .expect("started with tokens")
            .to_string()
    }

    /// A valid bearer for acme's `/api` (an access token: tenant by group).
    fn bearer(&self) -> String {
        format!("Bearer {}", self.token("access_token"))
    }

    /// A valid bearer of acme's that `/api/admin` refuses: an id token of a user of acme's
    /// who is not in `admins`.
    fn reader_bearer(&self) -> String {
        let token = self.fx["users"]["reader"]["id_token"].as_str();
        format!("Bearer {}", token.expect("started with tokens"))
    }

    /// A valid bearer for acme's `/api/admin` (an id token of a user in `admins`).
    fn admin_bearer(&self) -> String {
        format!("Bearer {}", self.token("id_token"))
    }

    /// Valid credentials for acme's `/hooks`.
    fn basic(&self) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        format!("Basic {}", b64.encode(format!("{HOOK_USER}:{HOOK_PASS}")))
    }

    /// GET over a new HTTP/1.1 connection, target byte for byte.
    fn get(&self, host: &str, target: &str, headers: &[(&str, &str)]) -> RawResponse {
        send_raw(self.gw.http, &request("GET", target, host, headers))
    }

    async fn h2(
        &self,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<H2Response, H2Error> {
        h2_request(self.gw.http, host, "GET", path, headers).await
    }

    /// The gateway logs JSON lines on stderr; client errors must not be logged as ERROR.
    fn assert_no_error_logs(&self, after: &str) {
        let log = self.gw.stderr();
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("\"level\":\"ERROR\""))
            .filter(|l| {
                let upstream_noise = NOT_CLIENT_ERRORS.iter().any(|n| l.contains(n));
                if upstream_noise {
                    eprintln!("note: ERROR line about no client error (ignored): {l}");
                }
                !upstream_noise
            })
            .collect();
        assert!(
            errors.is_empty(),
            "ERROR lines in the gateway log after {after}:\n{}",
            errors.join("\n")
        );
    }

    /// The access-log line of the request with `x-request-id: <id>` (polled: the log is
    /// written by a background thread).
    fn access_log_line(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&self.gw.access_log).unwrap_or_default();
            if let Some(v) = text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|v| v["request_id"] == id)
            {
                return v;
            }
            if Instant::now() > deadline {
                panic!("no access-log line for request {id}:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Checks that may each fail, reported together at the end, so one run shows every limit or
/// answer that is off rather than the first.
#[derive(Default)]
struct Soft(Vec<String>);

impl Soft {
    fn check(&mut self, f: impl FnOnce()) {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            self.0.push(msg);
        }
    }

    fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} check(s) failed:\n\n{}",
            self.0.len(),
            self.0.join("\n\n")
        );
    }
}

/// ERROR lines that are about no client error: Pingora's upstream connection pool logs a lost
/// race with its idle-connection watcher as "failed to acquire reusable stream" (at ERROR) and
/// then simply connects anew. Seen under load with any backend; not what these tests check.
const NOT_CLIENT_ERRORS: [&str; 1] = ["failed to acquire reusable stream"];

/// Asserts a gateway rejection: status, `Content-Type: application/json`, and a body
/// `{"error", "reason" (when given), "message", "request_id"}`; returns the body.
fn assert_reject_parts(
    what: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    want: u16,
    error: &str,
    reason: Option<&str>,
) -> Value {
    let text = String::from_utf8_lossy(body);
    assert_eq!(status, want, "{what}: status (body: {text})");
    assert!(
        content_type.is_some_and(|c| c.starts_with("application/json")),
        "{what}: Content-Type {content_type:?} (body: {text})"
    );
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {text}"));
    assert_eq!(v["error"], error, "{what}: {v}");
    if let Some(reason) = reason {
        assert_eq!(v["reason"], reason, "{what}: {v}");
    }
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: no message: {v}"
    );
    assert!(
        v["request_id"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: no request_id: {v}"
    );
    assert!(v.get("backend").is_none(), "{what}: reached a backend: {v}");
    v
}

fn assert_reject(r: &RawResponse, what: &str, want: u16, error: &str, reason: Option<&str>) {
    assert_reject_parts(
        what,
        r.status,
        r.header("content-type"),
        &r.body,
        want,
        error,
        reason,
    );
}

fn assert_h2_reject(
    r: &Result<H2Response, H2Error>,
    what: &str,
    want: u16,
    error: &str,
    reason: Option<&str>,
) {
    let r = r
        .as_ref()
        .unwrap_or_else(|e| panic!("{what}: no HTTP/2 answer: {e:?}"));
    assert_reject_parts(
        what,
        r.status,
        r.header("content-type"),
        &r.body,
        want,
        error,
        reason,
    );
}

fn h2_ok(r: Result<H2Response, H2Error>, what: &str) -> H2Response {
    let r = r.unwrap_or_else(|e| panic!("{what}: no HTTP/2 answer: {e:?}"));
    assert_eq!(r.status, 200, "{what}: {}", r.text());
    r
}

// ---------------------------------------------------------------------------------------
// 1. Canonical path

/// One canonical path is computed once and used for routing, authentication, the access log
/// and what is forwarded: unreserved characters decoded, other escapes kept in upper case,
/// dot segments resolved (encoded ones too, never above the root), slashes merged, the query
/// untouched.
#[tokio::test]
async fn canonical_path_is_what_is_routed_authenticated_logged_and_forwarded() {
    let h = Hostile::start(Opts {
        tokens: true,
        ..Opts::default()
    });
    let bearer = h.bearer();
    // (sent, what the backend receives)
    let protected = [
        ("/%61pi/x", "/api/x"),
        ("/%61%70%69/x?q=%61&r=/../", "/api/x?q=%61&r=/../"),
        ("/a%70i/x", "/api/x"),
        ("/x/../api/x", "/api/x"),
        ("/./api/x", "/api/x"),
        ("/%2e%2e/api/x", "/api/x"),
        ("/%2E/api", "/api"),
        ("/.%2e/api/x", "/api/x"),
        ("/../../api/x", "/api/x"),
        ("/x/y/../../api/x", "/api/x"),
        ("//api/x", "/api/x"),
        ("///api//x///y", "/api/x/y"),
        ("/api/./x", "/api/x"),
        ("/api/x/%2e%2e/y", "/api/y"),
        ("/api/%c3%a9?e=%c3%a9", "/api/%C3%A9?e=%c3%a9"),
        ("/api/%7e%2D%5f%2e", "/api/~-_."),
        // Decoded dots inside a segment do not make a dot segment.
        ("/api/a%2e%2eb", "/api/a..b"),
        ("/api/%41%5A%30%39", "/api/AZ09"),
        ("/api/%3c%3E%20", "/api/%3C%3E%20"),
        ("/%61pi/%61dmin/../x", "/api/x"),
    ];
    for (i, (sent, canonical)) in protected.iter().enumerate() {
        let before = h.rec.count();
        let anon = format!("canon-anon-{i}");
        let r = h.get(ACME, sent, &[(PROBE, &anon)]);
        assert_reject(
            &r,
            &format!("{sent} without a token"),
            401,
            "unauthorized",
            None,
        );
        assert_eq!(
            h.rec.count(),
            before,
            "{sent} without a token reached the backend"
        );

        let probe = format!("canon-{i}");
        let r = h.get(ACME, sent, &[(PROBE, &probe), ("Authorization", &bearer)]);
        assert_eq!(r.status, 200, "{sent} with a token: {}", r.show());
        let seen = h.rec.one(&probe);
        assert_eq!(
            seen.target(),
            *canonical,
            "{sent}: what the backend received"
        );
        assert_eq!(
            seen.request_line(),
            format!("GET {canonical} HTTP/1.1"),
            "{sent}"
        );
        assert!(
            seen.header("x-user-sub").is_some(),
            "{sent}: forwarded without identity:\n{}",
            seen.head_text()
        );
    }

    // Open paths: escapes of reserved and non-ASCII bytes are kept, in upper-case hex.
    let open = [
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/%7euser/%2d%5F", "/~user/-_"),
        ("/a/b/../c/./d", "/a/c/d"),
        ("/q?x=%2F..%2f&y=%c3%a9", "/q?x=%2F..%2f&y=%c3%a9"),
        ("/100%25", "/100%25"),
        ("/%c0%ae%c0%ae/x", "/%C0%AE%C0%AE/x"),
        ("/x%3a%40%21", "/x%3A%40%21"),
        // Route prefixes are case-sensitive: /API is not /api, so this is the open `/`
        // route, and the backend gets /API/x as it was sent (not lowercased).
        ("/API/x", "/API/x"),
        ("/%41PI/x", "/API/x"),
        ("/Api/admin", "/Api/admin"),
        ("/HOOKS/x", "/HOOKS/x"),
        ("/apix", "/apix"),
        ("/api%20/x", "/api%20/x"),
        ("/api./x", "/api./x"),
        ("/api%2E/x", "/api./x"),
    ];
    for (i, (sent, canonical)) in open.iter().enumerate() {
        let probe = format!("open-{i}");
        let r = h.get(ACME, sent, &[(PROBE, &probe)]);
        assert_eq!(r.status, 200, "{sent}: {}", r.show());
        assert_eq!(h.rec.one(&probe).target(), *canonical, "{sent}");
    }

    // The access log shows the canonical path, and the route it matched.
    h.get(
        ACME,
        "/%61pi/x/../logged?secret=1",
        &[("x-request-id", "canon-log-ok"), ("Authorization", &bearer)],
    );
    h.get(ACME, "//%61pi/logged", &[("x-request-id", "canon-log-401")]);
    let ok = h.access_log_line("canon-log-ok");
    assert_eq!(ok["path"], "/api/logged", "{ok}");
    assert_eq!(ok["route"], "/api", "{ok}");
    assert_eq!(ok["status"], 200, "{ok}");
    let denied = h.access_log_line("canon-log-401");
    assert_eq!(denied["path"], "/api/logged", "{denied}");
    assert_eq!(denied["status"], 401, "{denied}");
    h.assert_no_error_logs("canonical paths");
}

/// Paths with no single meaning are refused with 400 `invalid_path` and the reason, on every
/// route (open ones included) and on the path-tenant host; nothing reaches a backend.
#[tokio::test]
async fn ambiguous_paths_get_400_invalid_path_with_a_reason() {
    let h = Hostile::start(Opts::default());
    let cases = [
        ("/api%2fx", "encoded_slash"),
        ("/api%2Fx", "encoded_slash"),
        ("/%2f", "encoded_slash"),
        ("/public%2F..%2Fapi/x", "encoded_slash"),
        ("/api%5Cx", "encoded_slash"),
        ("/api%5cx", "encoded_slash"),
        ("/x%5c..%5capi/x", "encoded_slash"),
        ("/api\\x", "backslash"),
        ("/x\\..\\api/x", "backslash"),
        ("/\\api", "backslash"),
        ("/api;x", "semicolon"),
        ("/api;jsessionid=1/x", "semicolon"),
        ("/x/..;/api/x", "semicolon"),
        ("/;/api/x", "semicolon"),
        ("/public;", "semicolon"),
        ("/api/%00", "control_character"),
        ("/api/%0a", "control_character"),
        ("/api/x%0d%0aX-Injected:%201", "control_character"),
        ("/api/%7f", "control_character"),
        ("/api/%7F", "control_character"),
        ("/api/%09", "control_character"),
        ("/api/%1b", "control_character"),
        ("/.%00./api/x", "control_character"),
        ("/%zz", "bad_percent_encoding"),
        ("/%4", "bad_percent_encoding"),
        ("/api/x%", "bad_percent_encoding"),
        ("/%g0/api", "bad_percent_encoding"),
        ("/%%30", "bad_percent_encoding"),
        ("/%u0061pi/x", "bad_percent_encoding"),
        ("/%zz/../api/x", "bad_percent_encoding"),
    ];
    for (i, (target, reason)) in cases.iter().enumerate() {
        for host in [ACME, GLOBEX] {
            let probe = format!("bad-{i}-{host}");
            let r = h.get(host, target, &[(PROBE, &probe)]);
            assert_reject(
                &r,
                &format!("{host}{target}"),
                400,
                "invalid_path",
                Some(reason),
            );
        }
        let partners = format!("/mno/acme{target}");
        let r = h.get(PARTNERS, &partners, &[(PROBE, "bad-partners")]);
        assert_reject(
            &r,
            &format!("{PARTNERS}{partners}"),
            400,
            "invalid_path",
            Some(reason),
        );
    }
    // A request for the server itself, not a path.
    let r = send_raw(
        h.gw.http,
        format!("OPTIONS * HTTP/1.1\r\nHost: {ACME}\r\n{PROBE}: star\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_reject(
        &r,
        "OPTIONS *",
        400,
        "invalid_path",
        Some("not_origin_form"),
    );
    // A tunnel request is no path either, and is never passed on.
    for target in [
        format!("{ACME}:80"),
        format!("{ACME}:443"),
        "127.0.0.1:22".to_string(),
    ] {
        let r = send_raw(
            h.gw.http,
            format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{PROBE}: connect\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert!(
            (400..500).contains(&r.status),
            "CONNECT {target}: {}",
            r.show()
        );
    }
    assert_eq!(h.rec.count(), 0, "{:#?}", h.rec.seen());
    h.assert_no_error_logs("invalid paths");
}

/// An absolute-form target (proxy style) is brought to origin-form, canonicalised and
/// authenticated like any other; its authority must be the Host.
#[tokio::test]
async fn absolute_form_targets_become_origin_form_and_must_match_the_host() {
    let h = Hostile::start(Opts {
        tokens: true,
        ..Opts::default()
    });
    let port = h.gw.http.port();
    let bearer = h.bearer();
    let same_host = [
        (format!("http://{ACME}/api/x"), ACME.to_string(), "/api/x"),
        (
            format!("http://{ACME}/%61pi/x?q=1"),
            ACME.to_string(),
            "/api/x?q=1",
        ),
        (
            format!("http://{ACME}//api/./x"),
            ACME.to_string(),
            "/api/x",
        ),
        (
            format!("http://{ACME}:{port}/api/x"),
            format!("{ACME}:{port}"),
            "/api/x",
        ),
    ];
    for (i, (target, host, canonical)) in same_host.iter().enumerate() {
        let r = h.get(host, target, &[(PROBE, &format!("abs-anon-{i}"))]);
        assert_reject(
            &r,
            &format!("{target} without a token"),
            401,
            "unauthorized",
            None,
        );
        let probe = format!("abs-{i}");
        let r = h.get(host, target, &[(PROBE, &probe), ("Authorization", &bearer)]);
        assert_eq!(r.status, 200, "{target}: {}", r.show());
        let seen = h.rec.one(&probe);
        assert_eq!(
            seen.request_line(),
            format!("GET {canonical} HTTP/1.1"),
            "{target}: the backend must get origin-form"
        );
        assert_eq!(seen.header_all("host").len(), 1, "{}", seen.head_text());
    }
    let r = h.get(ACME, &format!("http://{ACME}/"), &[(PROBE, "abs-open")]);
    assert_eq!(r.status, 200, "{}", r.show());
    assert_eq!(h.rec.one("abs-open").request_line(), "GET / HTTP/1.1");

    let mut soft = Soft::default();
    // The target names another tenant than the Host: which one is meant is ambiguous. Pingora's
    // HTTP/1 parser refuses this before the gateway sees the request (its own plain 400, and
    // the connection closed), so the answer has no JSON body.
    for (target, host) in [
        (format!("http://{GLOBEX}/api/x"), ACME),
        (format!("http://{ACME}/x"), GLOBEX),
        (format!("http://{GLOBEX}/x"), ACME),
        ("http://evil.example/api/x".to_string(), ACME),
    ] {
        soft.check(|| {
            let r = h.get(
                host,
                &target,
                &[(PROBE, "abs-mismatch"), ("Authorization", &bearer)],
            );
            assert_eq!(r.status, 400, "{target} with Host {host}: {}", r.show());
        });
    }
    assert!(h.rec.by_probe("abs-mismatch").is_empty());
    h.assert_no_error_logs("absolute-form targets");
    soft.finish();
}

/// Path-tenant hosts (`/mno/<tenant key>/...`) take the tenant and the route from the
/// canonical path too.
#[tokio::test]
async fn path_tenant_hosts_use_the_canonical_path() {
    let h = Hostile::start(Opts {
        tokens: true,
        ..Opts::default()
    });
    let bearer = h.bearer();
    let spellings = [
        "/mno/acme/api/x",
        "/mno/acme/%61pi/x",
        "/mno/acme//api/x",
        "/mno/./acme/api/x",
        "//mno//acme/api/x",
        "/mno/x/../acme/api/x",
        "/%6dno/%61cme/api/x",
        "/mno/acme/x/../api/x",
        "/mno/acme/%2e/api/x",
        "/x/../mno/acme/api/./x",
    ];
    for (i, target) in spellings.iter().enumerate() {
        let r = h.get(PARTNERS, target, &[(PROBE, &format!("pt-anon-{i}"))]);
        assert_reject(
            &r,
            &format!("{target} without a token"),
            401,
            "unauthorized",
            None,
        );
        let probe = format!("pt-{i}");
        let r = h.get(
            PARTNERS,
            target,
            &[(PROBE, &probe), ("Authorization", &bearer)],
        );
        assert_eq!(r.status, 200, "{target}: {}", r.show());
        let seen = h.rec.one(&probe);
        assert_eq!(seen.target(), "/api/x", "{target}");
        assert_eq!(seen.header("x-tenant-id").as_deref(), Some(TENANT_A));
    }
    // The route prefix stays case-sensitive behind the tenant key.
    let r = h.get(PARTNERS, "/mno/acme/API/x", &[(PROBE, "pt-upper")]);
    assert_eq!(r.status, 200, "{}", r.show());
    assert_eq!(h.rec.one("pt-upper").target(), "/API/x");
    // globex's token is no good for acme, whatever the spelling of the tenant key.
    let globex = format!(
        "Bearer {}",
        h.fx["users"]["globex"]["access_token"].as_str().unwrap()
    );
    let r = h.get(PARTNERS, "/mno/%61cme/api/x", &[("Authorization", &globex)]);
    assert_reject(
        &r,
        "globex token on /mno/%61cme",
        403,
        "forbidden",
        Some("tenant_mismatch"),
    );
    h.assert_no_error_logs("path tenants");
}

/// HTTP/2 cleartext (prior knowledge): the same spellings, carried in `:path` byte for byte,
/// come to the same outcome as over HTTP/1.1.
#[tokio::test]
async fn h2c_spellings_get_the_same_canonical_path_and_refusals() {
    let h = Hostile::start(Opts {
        tokens: true,
        ..Opts::default()
    });
    let bearer = h.bearer();
    let protected = [
        ("/%61pi/x", "/api/x"),
        ("//api/x", "/api/x"),
        ("/./api/x", "/api/x"),
        ("/x/../api/x", "/api/x"),
        ("/%2e%2e/api/x", "/api/x"),
        ("/%2E/api", "/api"),
        ("/api/%c3%a9?q=%c3%a9", "/api/%C3%A9?q=%c3%a9"),
    ];
    for (i, (path, canonical)) in protected.iter().enumerate() {
        let r = h.h2(ACME, path, &[(PROBE, &format!("h2-anon-{i}"))]).await;
        assert_h2_reject(
            &r,
            &format!("h2 {path} without a token"),
            401,
            "unauthorized",
            None,
        );
        let probe = format!("h2-{i}");
        let r = h
            .h2(ACME, path, &[(PROBE, &probe), ("authorization", &bearer)])
            .await;
        h2_ok(r, &format!("h2 {path} with a token"));
        assert_eq!(h.rec.one(&probe).target(), *canonical, "h2 {path}");
    }
    let open = [("/API/x", "/API/x"), ("/caf%c3%a9", "/caf%C3%A9")];
    for (i, (path, canonical)) in open.iter().enumerate() {
        let probe = format!("h2-open-{i}");
        h2_ok(h.h2(ACME, path, &[(PROBE, &probe)]).await, path);
        assert_eq!(h.rec.one(&probe).target(), *canonical, "h2 {path}");
    }
    let bad = [
        ("/api%2fx", "encoded_slash"),
        ("/api%5Cx", "encoded_slash"),
        ("/api\\x", "backslash"),
        ("/api;x", "semicolon"),
        ("/api;jsessionid=1/x", "semicolon"),
        ("/api/%00", "control_character"),
        ("/api/%0a", "control_character"),
        ("/api/%7f", "control_character"),
        ("/%zz", "bad_percent_encoding"),
        ("/%4", "bad_percent_encoding"),
        ("/api/x%", "bad_percent_encoding"),
    ];
    for (path, reason) in bad {
        let r = h
            .h2(ACME, path, &[(PROBE, "h2-bad"), ("authorization", &bearer)])
            .await;
        assert_h2_reject(&r, &format!("h2 {path}"), 400, "invalid_path", Some(reason));
    }
    let r = h
        .h2(PARTNERS, "/mno/acme/%61pi/x", &[(PROBE, "h2-pt")])
        .await;
    assert_h2_reject(&r, "h2 /mno/acme/%61pi/x", 401, "unauthorized", None);
    assert!(h.rec.by_probe("h2-bad").is_empty());
    assert!(h.rec.by_probe("h2-pt").is_empty());
    h.assert_no_error_logs("h2c spellings");
}

/// Two names for the request's host (two `Host` headers, a list in one, an HTTP/2
/// `:authority` with a different `host` header) must never give the tenant from one and
/// something else from the other: refused, or one tenant throughout.
#[tokio::test]
async fn conflicting_host_names_never_split_the_tenant() {
    let h = Hostile::start(Opts::default());
    for (what, head) in [
        (
            "two Host headers",
            format!("Host: {ACME}\r\nHost: {GLOBEX}\r\n"),
        ),
        (
            "two Host headers, reversed",
            format!("Host: {GLOBEX}\r\nHost: {ACME}\r\n"),
        ),
        ("a list in Host", format!("Host: {ACME}, {GLOBEX}\r\n")),
        ("Host with userinfo", format!("Host: {GLOBEX}@{ACME}\r\n")),
    ] {
        let r = send_raw(
            h.gw.http,
            format!("GET /x HTTP/1.1\r\n{head}{PROBE}: hosts\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(r.status, 400, "{what}: {}", r.show());
    }
    assert!(h.rec.by_probe("hosts").is_empty(), "{:#?}", h.rec.seen());

    // HTTP/2: :authority names globex, a host header names acme.
    let r = h
        .h2(GLOBEX, "/x", &[(PROBE, "h2-hosts"), ("host", ACME)])
        .await;
    match r {
        Ok(r) if r.status == 200 => {
            let seen = h.rec.one("h2-hosts");
            let tenant = seen.header("x-tenant-id").unwrap_or_default();
            let hosts = seen.header_all("host");
            let forwarded = seen.header("x-forwarded-host").unwrap_or_default();
            let tenant_host = if tenant == TENANT_A { ACME } else { GLOBEX };
            assert!(
                hosts.len() == 1
                    && hosts[0].starts_with(tenant_host)
                    && forwarded.starts_with(tenant_host),
                "h2 :authority {GLOBEX} with host {ACME}: the backend gets tenant {tenant} but Host {hosts:?}, X-Forwarded-Host {forwarded:?}:\n{}",
                seen.head_text()
            );
        }
        Ok(r) => assert!(
            (400..500).contains(&r.status),
            "h2 :authority {GLOBEX} with host {ACME}: {} {}",
            r.status,
            r.text()
        ),
        Err(_) => {} // refused at the protocol level (RFC 9113 8.3.1 allows that)
    }
    h.assert_no_error_logs("conflicting host names");
}

// ---------------------------------------------------------------------------------------
// 2. Credentials

/// Two `Authorization` headers: which one was checked and which one the backend reads could
/// differ, so the request is refused, on every kind of route, over HTTP/1.1 and HTTP/2.
#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let h = Hostile::start(Opts {
        tokens: true,
        ..Opts::default()
    });
    let (bearer, admin, basic) = (h.bearer(), h.admin_bearer(), h.basic());
    let cases: Vec<(&str, [(&str, String); 2])> = vec![
        (
            "/api/x",
            [
                ("Authorization", bearer.clone()),
                ("Authorization", bearer.clone()),
            ],
        ),
        (
            "/api/x",
            [
                ("Authorization", bearer.clone()),
                ("Authorization", "Bearer forged".into()),
            ],
        ),
        (
            "/api/x",
            [
                ("Authorization", "Bearer forged".into()),
                ("authorization", bearer.clone()),
            ],
        ),
        (
            "/api/admin/x",
            [
                ("AUTHORIZATION", admin.clone()),
                ("Authorization", bearer.clone()),
            ],
        ),
        (
            "/hooks/x",
            [
                ("Authorization", basic.clone()),
                ("Authorization", "Basic Zm9vOmJhcg==".into()),
            ],
        ),
        (
            "/hooks/x",
            [
                ("Authorization", basic.clone()),
                ("Authorization", basic.clone()),
            ],
        ),
        (
            "/",
            [
                ("Authorization", "Bearer a".into()),
                ("Authorization", "Bearer b".into()),
            ],
        ),
        (
            "/",
            [
                ("Authorization", bearer.clone()),
                ("Authorization", basic.clone()),
            ],
        ),
    ];
    for (i, (path, [(k1, v1), (k2, v2)])) in cases.iter().enumerate() {
        let probe = format!("dup-{i}");
        let r = h.get(ACME, path, &[(PROBE, &probe), (k1, v1), (k2, v2)]);
        assert_reject(
            &r,
            &format!("{path} with {k1} and {k2}"),
            400,
            "invalid_request",
            Some("duplicate_authorization"),
        );
        let r = h
            .h2(
                ACME,
                path,
                &[
                    (PROBE, &probe),
                    ("authorization", v1),
                    ("authorization", v2),
                ],
            )
            .await;
        assert_h2_reject(
            &r,
            &format!("h2 {path} with two authorization"),
            400,
            "invalid_request",
            Some("duplicate_authorization"),
        );
    }
    assert_eq!(h.rec.count(), 0, "{:#?}", h.rec.seen());
    // One header of each kind still passes.
    for (path, cred) in [
        ("/api/x", &bearer),
        ("/api/admin/x", &admin),
        ("/hooks/x", &basic),
    ] {
        let r = h.get(ACME, path, &[("Authorization", cred)]);
        assert_eq!(r.status, 200, "{path}: {}", r.show());
    }
    h.assert_no_error_logs("duplicate Authorization");
}

/// On an authenticated route the backend gets no `Authorization`, unless the route says
/// `forward_token: true`: then exactly the credential that was validated, once. An open
/// route passes the client's header through untouched.
#[tokio::test]
async fn the_backend_gets_a_credential_only_when_the_route_forwards_it() {
    let h = Hostile::start(Opts {
        tokens: true,
        acme_routes_extra: "      - { prefix: /api/fwd, pool: rec, auth: jwt, forward_token: true }\n      - { prefix: /hooks/fwd, pool: rec, auth: basic, forward_token: true }\n",
        ..Opts::default()
    });
    let (bearer, admin, basic) = (h.bearer(), h.admin_bearer(), h.basic());
    for (i, (path, cred)) in [
        ("/api/x", &bearer),
        ("/api/x", &admin),
        ("/api/admin/x", &admin),
        ("/hooks/x", &basic),
    ]
    .iter()
    .enumerate()
    {
        let probe = format!("nofwd-{i}");
        let r = h.get(ACME, path, &[(PROBE, &probe), ("Authorization", cred)]);
        assert_eq!(r.status, 200, "{path}: {}", r.show());
        let seen = h.rec.one(&probe);
        assert!(
            seen.header_all("authorization").is_empty(),
            "{path}: the credential reached the backend:\n{}",
            seen.head_text()
        );
    }
    for (i, (path, cred)) in [
        ("/api/fwd/x", &bearer),
        ("/api/fwd/x", &admin),
        ("/%61pi/fwd/../fwd/x", &bearer),
        ("/hooks/fwd/x", &basic),
    ]
    .iter()
    .enumerate()
    {
        let probe = format!("fwd-{i}");
        let r = h.get(ACME, path, &[(PROBE, &probe), ("Authorization", cred)]);
        assert_eq!(r.status, 200, "{path}: {}", r.show());
        let seen = h.rec.one(&probe);
        assert_eq!(
            seen.header_all("authorization"),
            vec![cred.to_string()],
            "{path}: the backend must get exactly the validated credential:\n{}",
            seen.head_text()
        );
        let r = h
            .h2(
                ACME,
                path,
                &[(PROBE, &format!("h2-{probe}")), ("authorization", cred)],
            )
            .await;
        h2_ok(r, &format!("h2 {path}"));
        assert_eq!(
            h.rec
                .one(&format!("h2-{probe}"))
                .header_all("authorization"),
            vec![cred.to_string()],
            "h2 {path}"
        );
    }
    // Unauthenticated forward-token routes forward nothing, since nothing passes.
    let r = h.get(ACME, "/api/fwd/x", &[("Authorization", "Bearer forged")]);
    assert_eq!(r.status, 401, "{}", r.show());
    // An open route passes one client header through as it was.
    for (i, cred) in [
        "Bearer opaque-client-token",
        "Basic dXNlcjpwYXNz",
        "Custom x=1, y=\"2\"",
    ]
    .iter()
    .enumerate()
    {
        let probe = format!("open-auth-{i}");
        let r = h.get(ACME, "/public", &[(PROBE, &probe), ("Authorization", cred)]);
        assert_eq!(r.status, 200, "{}", r.show());
        assert_eq!(
            h.rec.one(&probe).header_all("authorization"),
            vec![cred.to_string()]
        );
    }
    h.assert_no_error_logs("forward_token");
}

// ---------------------------------------------------------------------------------------
// 3. Header hygiene

const UNDERSCORED: [(&str, &str); 4] = [
    ("X_Tenant_Id", "33333333-3333-4333-8333-333333333333"),
    ("X-User_Sub", "root"),
    ("X_Forwarded_For", "6.6.6.6"),
    ("Foo_Bar", "1"),
];

/// Headers with `_` in their names (which some servers read as `-`) never reach the
/// upstream by default.
#[tokio::test]
async fn headers_with_underscores_are_dropped_by_default() {
    let h = Hostile::start(Opts::default());
    let mut headers: Vec<(&str, &str)> = UNDERSCORED.to_vec();
    headers.push(("X-Kept", "yes"));
    headers.push((PROBE, "under-h1"));
    let r = h.get(ACME, "/x", &headers);
    assert_eq!(r.status, 200, "{}", r.show());
    let mut lower: Vec<(String, &str)> = UNDERSCORED
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), *v))
        .collect();
    lower.push(("x-kept".into(), "yes"));
    lower.push((PROBE.into(), "under-h2"));
    let lower: Vec<(&str, &str)> = lower.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    h2_ok(h.h2(ACME, "/x", &lower).await, "h2 underscores");
    for probe in ["under-h1", "under-h2"] {
        let seen = h.rec.one(probe);
        let names: Vec<String> = seen.headers().into_iter().map(|(k, _)| k).collect();
        assert!(
            names.iter().all(|n| !n.contains('_')),
            "{probe}: underscore headers reached the backend:\n{}",
            seen.head_text()
        );
        assert_eq!(seen.header("x-kept").as_deref(), Some("yes"));
        assert_eq!(seen.header("x-tenant-id").as_deref(), Some(TENANT_A));
        assert_eq!(seen.header("x-forwarded-for").as_deref(), Some("127.0.0.1"));
        assert!(seen.header("x-user-sub").is_none(), "{}", seen.head_text());
    }
}

/// With `headers: {underscores: reject}` such requests are refused outright.
#[tokio::test]
async fn headers_with_underscores_are_refused_when_configured() {
    let h = Hostile::start(Opts {
        gateway_extra: "headers:\n  underscores: reject\n",
        ..Opts::default()
    });
    for (name, value) in UNDERSCORED {
        let r = h.get(ACME, "/x", &[(PROBE, "under-reject"), (name, value)]);
        assert_reject(&r, name, 400, "invalid_request", Some("underscore_header"));
        let r = h
            .h2(
                ACME,
                "/x",
                &[(PROBE, "under-reject"), (&name.to_ascii_lowercase(), value)],
            )
            .await;
        assert_h2_reject(
            &r,
            &format!("h2 {name}"),
            400,
            "invalid_request",
            Some("underscore_header"),
        );
    }
    assert!(h.rec.by_probe("under-reject").is_empty());
    let r = h.get(ACME, "/x", &[(PROBE, "no-under"), ("X-Fine-Header", "1")]);
    assert_eq!(r.status, 200, "{}", r.show());
    h.assert_no_error_logs("underscore headers");
}

/// A request with the given number of header fields in all (Host, the probe and
/// `Connection: close` included), the rest being small fillers.
fn request_with_header_count(target: &str, probe: &str, total: usize) -> Vec<u8> {
    let fillers: Vec<(String, String)> = (0..total - 3)
        .map(|i| (format!("X-Filler-{i}"), "v".to_string()))
        .collect();
    let mut headers: Vec<(&str, &str)> = vec![(PROBE, probe)];
    headers.extend(fillers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    request("GET", target, ACME, &headers)
}

/// A GET whose request line (method, target, version; no CRLF) is exactly `len` bytes.
fn request_with_line_len(len: usize, probe: &str) -> Vec<u8> {
    let target = format!("/{}", "a".repeat(len - "GET / HTTP/1.1".len()));
    let out = request("GET", &target, ACME, &[(PROBE, probe)]);
    assert_eq!(out.iter().position(|b| *b == b'\r'), Some(len));
    out
}

/// What a header counts beyond its name and value against `max_header_bytes`. The spec
/// this suite was written to says "a single header (name + value) over 32768 bytes": 0.
/// conf/gateway.yaml documents the gateway's reading, `name: value` without the CRLF: 2.
const HEADER_COUNT_OVERHEAD: usize = 2;

/// A header whose name plus value is exactly `len` bytes.
fn big_header(name: &str, len: usize) -> (String, String) {
    (name.to_string(), "b".repeat(len - name.len()))
}

fn with_headers(probe: &str, headers: &[(String, String)]) -> Vec<u8> {
    let mut all: Vec<(&str, &str)> = vec![(PROBE, probe)];
    all.extend(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    request("GET", "/x", ACME, &all)
}

fn assert_passes(h: &Hostile, what: &str, bytes: &[u8], probe: &str) {
    let r = send_raw(h.gw.http, bytes);
    assert_eq!(r.status, 200, "{what}: {}", r.show());
    assert_eq!(h.rec.by_probe(probe).len(), 1, "{what}");
}

fn assert_refused(
    h: &Hostile,
    what: &str,
    bytes: &[u8],
    probe: &str,
    want: (u16, &str, Option<&str>),
) {
    let r = send_raw(h.gw.http, bytes);
    assert_reject(&r, what, want.0, want.1, want.2);
    assert!(
        h.rec.by_probe(probe).is_empty(),
        "{what} reached the backend"
    );
}

/// Default limits: request line 8192 bytes (414), one header 32768 bytes name + value, all
/// headers 65536 bytes, 100 headers (431). A 1,000,000-byte header is never forwarded.
#[tokio::test]
async fn oversized_request_lines_and_headers_get_414_and_431() {
    let h = Hostile::start(Opts::default());
    let mut soft = Soft::default();
    soft.check(|| {
        assert_passes(
            &h,
            "request line of 8192",
            &request_with_line_len(8192, "line-ok"),
            "line-ok",
        );
    });
    soft.check(|| {
        assert_refused(
            &h,
            "request line of 8193",
            &request_with_line_len(8193, "line-long"),
            "line-long",
            (414, "uri_too_long", None),
        );
    });
    soft.check(|| {
        assert_refused(
            &h,
            "request line of 60000",
            &request_with_line_len(60000, "line-60k"),
            "line-60k",
            (414, "uri_too_long", None),
        );
    });
    soft.check(|| {
        assert_passes(
            &h,
            "one header of 32768",
            &with_headers(
                "hdr-ok",
                &[big_header("X-Big", 32768 - HEADER_COUNT_OVERHEAD)],
            ),
            "hdr-ok",
        );
    });
    soft.check(|| {
        assert_refused(
            &h,
            "one header of 32769",
            &with_headers(
                "hdr-big",
                &[big_header("X-Big", 32769 - HEADER_COUNT_OVERHEAD)],
            ),
            "hdr-big",
            (431, "headers_too_large", Some("header_too_large")),
        );
    });
    soft.check(|| {
        assert_passes(
            &h,
            "headers of ~60000 in all",
            &with_headers(
                "list-ok",
                &[big_header("X-Big-1", 30000), big_header("X-Big-2", 30000)],
            ),
            "list-ok",
        );
    });
    soft.check(|| {
        assert_refused(
            &h,
            "headers of ~90000 in all",
            &with_headers(
                "list-big",
                &[
                    big_header("X-Big-1", 30000),
                    big_header("X-Big-2", 30000),
                    big_header("X-Big-3", 30000),
                ],
            ),
            "list-big",
            (431, "headers_too_large", Some("header_list_too_large")),
        );
    });
    soft.check(|| {
        assert_passes(
            &h,
            "100 headers",
            &request_with_header_count("/x", "count-ok", 100),
            "count-ok",
        );
    });
    soft.check(|| {
        assert_refused(
            &h,
            "101 headers",
            &request_with_header_count("/x", "count-big", 101),
            "count-big",
            (431, "headers_too_large", Some("too_many_headers")),
        );
    });

    // A 1,000,000-byte header: refused, whatever the gateway manages to answer before the
    // connection goes, and never forwarded.
    let huge = with_headers("huge", &[big_header("X-Huge", 1_000_000)]);
    let ex = exchange(h.gw.http, &huge, Duration::from_secs(15));
    match ex.responses.first() {
        Some(r) => assert!(
            [400, 413, 431].contains(&r.status),
            "1,000,000-byte header: {}",
            r.show()
        ),
        None => assert!(
            ex.closed,
            "1,000,000-byte header: no answer and no close: {ex:?}"
        ),
    }
    assert!(
        h.rec.by_probe("huge").is_empty(),
        "the huge header was forwarded"
    );
    assert!(
        h.rec.seen().iter().all(|s| s.head.len() < 100_000),
        "an oversized head reached the backend"
    );
    // The gateway still serves.
    assert_passes(
        &h,
        "after the huge header",
        &with_headers("after-huge", &[]),
        "after-huge",
    );
    h.assert_no_error_logs("oversized heads");
    soft.finish();
}

/// The four limits come from `limits:` in gateway.yaml (the exact boundaries are checked
/// with the defaults above; here, clearly under and just over each lowered value).
#[tokio::test]
async fn lowered_header_limits_from_gateway_yaml_apply() {
    let h = Hostile::start(Opts {
        gateway_extra: "limits:\n  max_request_line_bytes: 200\n  max_header_bytes: 300\n  max_header_list_bytes: 1200\n  max_headers: 10\n",
        ..Opts::default()
    });
    assert_passes(
        &h,
        "line of 190",
        &request_with_line_len(190, "l-ok"),
        "l-ok",
    );
    assert_refused(
        &h,
        "line of 201",
        &request_with_line_len(201, "l-big"),
        "l-big",
        (414, "uri_too_long", None),
    );
    assert_passes(
        &h,
        "header of 250",
        &with_headers("h-ok", &[big_header("X-Big", 250)]),
        "h-ok",
    );
    assert_refused(
        &h,
        "header of 301",
        &with_headers("h-big", &[big_header("X-Big", 301)]),
        "h-big",
        (431, "headers_too_large", Some("header_too_large")),
    );
    let five: Vec<(String, String)> = (0..5)
        .map(|i| big_header(&format!("X-B{i}"), 250))
        .collect();
    assert_refused(
        &h,
        "5 headers of 250",
        &with_headers("list-big", &five),
        "list-big",
        (431, "headers_too_large", Some("header_list_too_large")),
    );
    assert_passes(
        &h,
        "2 headers of 250",
        &with_headers("list-ok", &five[..2]),
        "list-ok",
    );
    assert_passes(
        &h,
        "10 headers",
        &request_with_header_count("/x", "n-ok", 10),
        "n-ok",
    );
    assert_refused(
        &h,
        "11 headers",
        &request_with_header_count("/x", "n-big", 11),
        "n-big",
        (431, "headers_too_large", Some("too_many_headers")),
    );
    h.assert_no_error_logs("lowered limits");
}

/// Request lines that are not HTTP/1.x get a 400 (plain or JSON: only the status is asserted)
/// and the connection is closed at once; nothing reaches a backend and nothing is logged as
/// an ERROR.
#[tokio::test]
async fn malformed_request_lines_get_400_and_the_connection_closes() {
    let h = Hostile::start(Opts::default());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("HTTP/0.9 style", b"GET /\r\n".to_vec()),
        (
            "HTTP/0.9 style with a blank line",
            b"GET /api/x\r\n\r\n".to_vec(),
        ),
        (
            "space inside the target",
            format!("GET /a b HTTP/1.1\r\nHost: {ACME}\r\n\r\n").into_bytes(),
        ),
        (
            "space inside a protected target",
            format!("GET /public /../api/x HTTP/1.1\r\nHost: {ACME}\r\n\r\n").into_bytes(),
        ),
        (
            "tab inside the target",
            format!("GET /a\tb HTTP/1.1\r\nHost: {ACME}\r\n\r\n").into_bytes(),
        ),
        (
            "NUL inside the target",
            format!("GET /a\0b HTTP/1.1\r\nHost: {ACME}\r\n\r\n").into_bytes(),
        ),
        (
            "junk after the version",
            format!("GET / HTTP/1.1 x\r\nHost: {ACME}\r\n\r\n").into_bytes(),
        ),
        ("garbage", b"\x01\x02\x03 hello \xff\xfe\r\n\r\n".to_vec()),
        (
            "TLS hello on the plain port",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03abcdefghijklmnopqrstuvwxyz012345\r\n\r\n"
                .to_vec(),
        ),
        (
            "header line without a colon",
            format!("GET / HTTP/1.1\r\nHost: {ACME}\r\nNo colon here\r\n\r\n").into_bytes(),
        ),
    ];
    for (what, bytes) in &cases {
        let ex = exchange(h.gw.http, bytes, Duration::from_secs(5));
        let r = ex
            .responses
            .first()
            .unwrap_or_else(|| panic!("{what}: no answer: {ex:?}"));
        assert_eq!(r.status, 400, "{what}: {}", r.show());
        assert!(
            ex.closed,
            "{what}: the connection was still open 5 s after the answer: {ex:?}"
        );
    }
    assert_eq!(h.rec.count(), 0, "{:#?}", h.rec.seen());
    // The gateway still serves (and has written whatever it logs about the above).
    let r = h.get(ACME, "/x", &[]);
    assert_eq!(r.status, 200, "{}", r.show());
    h.assert_no_error_logs("malformed request lines");
}

// ---------------------------------------------------------------------------------------
// 4. Identity headers

/// `X-User-Groups` is an RFC 8941 List of Strings, so a group name with a comma or a quote
/// stays one group: it parses back to exactly the IdP's list.
#[tokio::test]
async fn user_groups_reach_the_backend_as_a_structured_list() {
    let h = Hostile::start(Opts {
        tokens: true,
        ..Opts::default()
    });
    let moto = h.moto.as_ref().unwrap();
    // moto's create_group takes any name; Cognito's own pattern allows punctuation too.
    let tokens = cognito_join_groups(
        moto,
        &h.fx,
        "acme",
        &[
            "team,\"a\"",
            "admins\", \"root",
            "back\\slash",
            "ops team",
            "x;y=1",
        ],
    );
    for kind in ["id_token", "access_token"] {
        let token = tokens[kind].as_str().unwrap();
        let claimed: Vec<String> = jwt_claims(token)["cognito:groups"]
            .as_array()
            .expect("cognito:groups in the token")
            .iter()
            .map(|g| g.as_str().unwrap().to_string())
            .collect();
        assert!(claimed.iter().any(|g| g == "team,\"a\""), "{claimed:?}");
        for path in ["/api/x", "/api/admin/x"] {
            let probe = format!("groups-{kind}-{path}");
            let r = h.get(
                ACME,
                path,
                &[
                    (PROBE, &probe),
                    ("Authorization", &format!("Bearer {token}")),
                    ("X-User-Groups", "\"superusers\""),
                ],
            );
            assert_eq!(r.status, 200, "{kind} {path}: {}", r.show());
            let seen = h.rec.one(&probe);
            let raw = seen.header("x-user-groups").unwrap_or_else(|| {
                panic!("{kind} {path}: no X-User-Groups:\n{}", seen.head_text())
            });
            let parsed = parse_sf_string_list(&raw)
                .unwrap_or_else(|e| panic!("{kind} {path}: X-User-Groups {raw:?}: {e}"));
            assert_eq!(parsed, claimed, "{kind} {path}: X-User-Groups {raw:?}");
        }
    }
    // The parser itself: what a comma-joined header would have given is not a list of strings.
    assert!(parse_sf_string_list("admins,team,a").is_err());
    assert_eq!(
        parse_sf_string_list(r#""admins", "team,\"a\"""#).unwrap(),
        vec!["admins".to_string(), "team,\"a\"".to_string()]
    );
}

// ---------------------------------------------------------------------------------------
// 5. Spoofing and smuggling

/// Every client-sent `X-Tenant-*`, `X-User-*`, `Forwarded` and `X-Forwarded-*` header is
/// replaced, however it is spelled, over HTTP/1.1 and HTTP/2.
#[tokio::test]
async fn spoofed_tenant_identity_and_forwarding_headers_are_replaced() {
    let h = Hostile::start(Opts {
        tokens: true,
        ..Opts::default()
    });
    let spoofed: Vec<(&str, String)> = vec![
        ("X-Tenant-Id", TENANT_B.to_string()),
        ("x-tenant-id", "spoof-tenant-id-2".into()),
        ("X-TENANT-NAME", "spoof-name".into()),
        ("X-Tenant-Tier", "spoof-tier".into()),
        ("X-Tenant-Role", "spoof-role".into()),
        ("X-User-Sub", "spoof-sub".into()),
        ("x-user-email", "spoof@evil.example".into()),
        ("X-User-Groups", "\"admins\"".into()),
        ("X-User-Anything", "spoof-anything".into()),
        ("Forwarded", "for=6.6.6.6;host=spoof.example".into()),
        ("X-Forwarded-For", "6.6.6.6".into()),
        ("X-Forwarded-Host", "spoof.example".into()),
        ("X-Forwarded-Proto", "https-spoof".into()),
        ("X-Forwarded-Port", "4443".into()),
        ("X-Forwarded-Prefix", "/spoof-prefix".into()),
        ("X-Forwarded-Server", "spoof-server".into()),
        ("X-Forwarded-Ssl", "on-spoof".into()),
    ];
    let values: HashSet<&str> = spoofed.iter().map(|(_, v)| v.as_str()).collect();
    let bearer = h.bearer();
    let sub = h.fx["users"]["acme"]["sub"].as_str().unwrap().to_string();
    for (path, authed) in [("/api/x", true), ("/x", false)] {
        let mut headers: Vec<(&str, &str)> =
            spoofed.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if authed {
            headers.push(("Authorization", &bearer));
        }
        let probe1 = format!("spoof-h1-{path}");
        headers.push((PROBE, &probe1));
        let r = h.get(ACME, path, &headers);
        assert_eq!(r.status, 200, "{path}: {}", r.show());
        headers.pop();
        let lower: Vec<(String, &str)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect();
        let probe2 = format!("spoof-h2-{path}");
        let mut lower: Vec<(&str, &str)> = lower.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        lower.push((PROBE, &probe2));
        h2_ok(h.h2(ACME, path, &lower).await, &format!("h2 {path}"));
        for probe in [probe1, probe2] {
            let seen = h.rec.one(&probe);
            let mut wrong = Vec::new();
            for (name, value) in seen.headers() {
                let n = name.to_ascii_lowercase();
                let owned = n.starts_with("x-tenant-")
                    || n.starts_with("x-user-")
                    || n.starts_with("x-forwarded-")
                    || n == "forwarded";
                if owned && values.contains(value.as_str()) {
                    wrong.push(format!("the client's {name}: {value} reached the backend"));
                }
            }
            let mut expect = |name: &str, want: Option<&str>| {
                let all = seen.header_all(name);
                let ok = match want {
                    Some(w) => all.len() == 1 && all[0].starts_with(w),
                    None => all.is_empty(),
                };
                if !ok {
                    wrong.push(format!("{name}: {all:?}, wanted {want:?}"));
                }
            };
            expect("x-tenant-id", Some(TENANT_A));
            expect("x-tenant-name", Some("Acme"));
            expect("x-tenant-role", None);
            expect("forwarded", None);
            expect("x-forwarded-for", Some("127.0.0.1"));
            expect("x-forwarded-proto", Some("http"));
            expect("x-forwarded-host", Some(ACME));
            if authed {
                expect("x-user-sub", Some(&sub));
            } else {
                for (k, v) in seen.headers() {
                    if k.to_ascii_lowercase().starts_with("x-user-") {
                        wrong.push(format!("identity on an open route: {k}: {v}"));
                    }
                }
            }
            assert!(
                wrong.is_empty(),
                "{probe}:\n  {}\n--- what the backend received ---\n{}",
                wrong.join("\n  "),
                seen.head_text()
            );
        }
    }
}

/// Framing tricks never get a second request to the backend: every request the backend
/// sees was one the gateway answered, with unambiguous framing. The smuggled request is for
/// a protected path, so if the gateway ever reads it as its own request it answers 401.
#[tokio::test]
async fn request_smuggling_never_reaches_the_backend() {
    let h = Hostile::start(Opts::default());
    let smuggled = |i: usize| {
        format!("GET /api/smuggled-{i} HTTP/1.1\r\nHost: {ACME}\r\n{PROBE}: smuggled-{i}\r\n\r\n")
    };
    let attempt = |i: usize, headers: &str, body: String| {
        format!(
            "POST /x HTTP/1.1\r\nHost: {ACME}\r\n{PROBE}: carrier-{i}\r\n{headers}Connection: close\r\n\r\n{body}"
        )
    };
    let mut attempts: Vec<(&str, String)> = Vec::new();
    let s = smuggled(0);
    attempts.push((
        "CL.TE",
        attempt(
            0,
            "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
            format!("0\r\n\r\n{s}"),
        ),
    ));
    let s = smuggled(1);
    attempts.push((
        "TE.CL",
        attempt(
            1,
            "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
            format!("{:x}\r\n{s}\r\n0\r\n\r\n", s.len()),
        ),
    ));
    let s = smuggled(2);
    attempts.push((
        "two differing Content-Lengths",
        attempt(
            2,
            &format!("Content-Length: 0\r\nContent-Length: {}\r\n", s.len()),
            s.clone(),
        ),
    ));
    let s = smuggled(3);
    attempts.push((
        "two differing Content-Lengths, reversed",
        attempt(
            3,
            &format!("Content-Length: {}\r\nContent-Length: 0\r\n", s.len()),
            s.clone(),
        ),
    ));
    let s = smuggled(4);
    attempts.push((
        "Content-Length list",
        attempt(4, &format!("Content-Length: 0, {}\r\n", s.len()), s.clone()),
    ));
    let s = smuggled(5);
    attempts.push((
        "Transfer-Encoding: chunked, identity",
        attempt(
            5,
            &format!(
                "Transfer-Encoding: chunked, identity\r\nContent-Length: {}\r\n",
                5 + s.len()
            ),
            format!("0\r\n\r\n{s}"),
        ),
    ));
    let s = smuggled(6);
    attempts.push((
        "Transfer-Encoding: chunked, identity alone",
        attempt(
            6,
            "Transfer-Encoding: chunked, identity\r\n",
            format!("0\r\n\r\n{s}"),
        ),
    ));
    let s = smuggled(7);
    attempts.push((
        "two Transfer-Encoding headers",
        attempt(
            7,
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
            format!("0\r\n\r\n{s}"),
        ),
    ));
    let s = smuggled(8);
    attempts.push((
        "Transfer-Encoding: xchunked with Content-Length",
        attempt(
            8,
            "Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n",
            format!("0\r\n\r\n{s}"),
        ),
    ));
    let s = smuggled(9);
    attempts.push((
        "obs-fold Transfer-Encoding",
        attempt(
            9,
            "Transfer-Encoding: identity\r\n chunked\r\nContent-Length: 5\r\n",
            format!("0\r\n\r\n{s}"),
        ),
    ));
    let s = smuggled(10);
    attempts.push((
        "Content-Length with a sign",
        attempt(10, "Content-Length: +0\r\n", s.clone()),
    ));
    let s = smuggled(11);
    attempts.push((
        "oversized chunk size",
        attempt(
            11,
            "Transfer-Encoding: chunked\r\n",
            format!("10000000000000000\r\nx\r\n0\r\n\r\n{s}"),
        ),
    ));
    let s = smuggled(12);
    attempts.push((
        "HTTP/1.0 with chunked and Content-Length",
        format!(
            "POST /x HTTP/1.0\r\nHost: {ACME}\r\n{PROBE}: carrier-12\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n{s}"
        ),
    ));
    let s = smuggled(13);
    attempts.push((
        "space before the colon",
        attempt(
            13,
            "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n",
            format!("0\r\n\r\n{s}"),
        ),
    ));
    let s = smuggled(14);
    attempts.push((
        "a request as the body of a GET",
        attempt(14, &format!("Content-Length: {}\r\n", s.len()), s.clone())
            .replacen("POST", "GET", 1),
    ));

    for (what, bytes) in &attempts {
        let ex = exchange(h.gw.http, bytes.as_bytes(), Duration::from_secs(5));
        for r in &ex.responses {
            assert!(r.status != 500, "{what}: {}", r.show());
        }
        // A smuggled request the gateway itself read must have been authenticated.
        for r in ex.responses.iter().skip(1) {
            assert_ne!(
                r.status,
                200,
                "{what}: a second request was answered 200: {}",
                r.show()
            );
        }
    }
    // HTTP/2 to an HTTP/1.1 backend: a content-length that does not match the DATA frames
    // (H2.CL). The DATA frames are the only framing HTTP/2 has; the gateway must not forward a
    // Content-Length that lets the backend read part of them as a second request.
    for (i, cl) in ["0", "5"].iter().enumerate() {
        let s = smuggled(20 + i);
        let probe = format!("carrier-h2-{i}");
        let r = h2_request_with_body(
            h.gw.http,
            ACME,
            "POST",
            "/x",
            &[(PROBE, &probe), ("content-length", cl)],
            Some(s.as_bytes()),
        )
        .await;
        match r {
            Ok(r) => assert_ne!(r.status, 500, "H2.CL {cl}: {}", r.text()),
            Err(e) => eprintln!("H2.CL {cl}: {e:?}"),
        }
    }
    // Sentinels on the same upstream connections: once they are through, anything the
    // attempts left in a connection has been read by the backend.
    for i in 0..6 {
        let probe = format!("sentinel-{i}");
        let r = h.get(ACME, "/sentinel", &[(PROBE, &probe)]);
        assert_eq!(r.status, 200, "{}", r.show());
        h.rec.one(&probe);
    }
    let seen = h.rec.seen();
    for s in &seen {
        assert!(
            !s.request_line().contains("smuggled"),
            "a smuggled request reached the backend:\n{}",
            s.head_text()
        );
        assert!(
            s.probe().is_some(),
            "a request the test never sent reached the backend:\n{}",
            s.head_text()
        );
        assert!(
            s.ambiguous.is_none(),
            "ambiguous framing forwarded ({}):\n{}",
            s.ambiguous.as_deref().unwrap_or_default(),
            s.head_text()
        );
    }
    // The plain GET-with-body case is one request whose body is the text of another.
    if let Some(s) = seen
        .iter()
        .find(|s| s.probe().as_deref() == Some("carrier-14"))
    {
        assert_eq!(s.body, smuggled(14).into_bytes());
    }
    h.assert_no_error_logs("smuggling attempts");
}

// ---------------------------------------------------------------------------------------
// 6. The central table

#[derive(Clone, Copy, Debug)]
enum Want {
    /// A protected path: 401 without credentials; with them, the backend gets this path.
    Canonical(&'static str),
    /// Refused with 400 and this reason (`host_mismatch`: `invalid_request`, else
    /// `invalid_path`), with or without credentials.
    Refused(&'static str),
    /// Not a protected path at all: the open route, and the backend gets this path.
    Open(&'static str),
    /// Either refused or routed somewhere harmless; only "no leak" is asserted.
    NoLeak,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cred {
    Bearer,
    Admin,
    Basic,
}

use Cred::*;
use Want::*;

/// Spellings of `/api/v1/orders`, `/api/admin/keys` and `/hooks/invoice` (and harmless
/// look-alikes), on acme's host or the path-tenant host.
const SPELLINGS: &[(&str, &str, Want, Cred)] = &[
    (ACME, "/api/v1/orders", Canonical("/api/v1/orders"), Bearer),
    (
        ACME,
        "/%61pi/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/%61%70%69/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/a%70i/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (ACME, "/ap%49/v1/orders", Open("/apI/v1/orders"), Bearer),
    (ACME, "//api/v1/orders", Canonical("/api/v1/orders"), Bearer),
    (
        ACME,
        "///api//v1//orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/./api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/x/../api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/%2e/api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/%2E%2E/api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/.%2e/api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/x/%2e%2e/api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/../../../api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/api/./v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/api/v1/../v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/public/../api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (ACME, "/api;x/v1/orders", Refused("semicolon"), Bearer),
    (
        ACME,
        "/api;jsessionid=1/v1/orders",
        Refused("semicolon"),
        Bearer,
    ),
    (ACME, "/x/..;/api/v1/orders", Refused("semicolon"), Bearer),
    (ACME, "/;/api/v1/orders", Refused("semicolon"), Bearer),
    (ACME, "/api/v1/orders;", Refused("semicolon"), Bearer),
    (ACME, "/api\\v1\\orders", Refused("backslash"), Bearer),
    (ACME, "/x\\..\\api/v1/orders", Refused("backslash"), Bearer),
    (
        ACME,
        "/x%5c..%5capi/v1/orders",
        Refused("encoded_slash"),
        Bearer,
    ),
    (
        ACME,
        "/x%2f..%2fapi/v1/orders",
        Refused("encoded_slash"),
        Bearer,
    ),
    (
        ACME,
        "/x%2F%2E%2E%2Fapi/v1/orders",
        Refused("encoded_slash"),
        Bearer,
    ),
    (
        ACME,
        "/%2e%2e%2fapi/v1/orders",
        Refused("encoded_slash"),
        Bearer,
    ),
    (ACME, "/api%2fv1%2forders", Refused("encoded_slash"), Bearer),
    (
        ACME,
        "/public/..%2f..%2fapi/v1/orders",
        Refused("encoded_slash"),
        Bearer,
    ),
    (
        ACME,
        "/api/v1/orders%00",
        Refused("control_character"),
        Bearer,
    ),
    (
        ACME,
        "/api%00/v1/orders",
        Refused("control_character"),
        Bearer,
    ),
    (
        ACME,
        "/api%09/v1/orders",
        Refused("control_character"),
        Bearer,
    ),
    (
        ACME,
        "/.%00./api/v1/orders",
        Refused("control_character"),
        Bearer,
    ),
    (
        ACME,
        "/%zz/../api/v1/orders",
        Refused("bad_percent_encoding"),
        Bearer,
    ),
    (
        ACME,
        "/api/v1/orders%",
        Refused("bad_percent_encoding"),
        Bearer,
    ),
    (
        ACME,
        "/%u0061pi/v1/orders",
        Refused("bad_percent_encoding"),
        Bearer,
    ),
    (
        ACME,
        "http://acme.hostile.test/api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "http://acme.hostile.test/%61pi/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "http://acme.hostile.test//api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "http://globex.hostile.test/api/v1/orders",
        Refused("host_mismatch"),
        Bearer,
    ),
    (
        ACME,
        "http://acme.hostile.test/api;x/v1/orders",
        Refused("semicolon"),
        Bearer,
    ),
    (
        ACME,
        "HTTP://ACME.hostile.test/api/v1/orders",
        NoLeak,
        Bearer,
    ),
    (
        ACME,
        "http://x@acme.hostile.test/api/v1/orders",
        NoLeak,
        Bearer,
    ),
    (ACME, "/public#/../api/v1/orders", NoLeak, Bearer),
    (ACME, "/api/v1/orders/..", NoLeak, Bearer),
    (ACME, "/api/..", NoLeak, Bearer),
    // Route prefixes are case-sensitive: these are the open `/` route, and the lenient
    // backend (which never lowercases) does not read them as /api or /hooks either.
    (ACME, "/API/v1/orders", Open("/API/v1/orders"), Bearer),
    (ACME, "/Api/v1/orders", Open("/Api/v1/orders"), Bearer),
    (ACME, "/%41PI/v1/orders", Open("/API/v1/orders"), Bearer),
    (ACME, "/api%20/v1/orders", Open("/api%20/v1/orders"), Bearer),
    (ACME, "/api./v1/orders", Open("/api./v1/orders"), Bearer),
    (ACME, "/api%2E/v1/orders", Open("/api./v1/orders"), Bearer),
    (
        ACME,
        "/api%e2%80%8b/v1/orders",
        Open("/api%E2%80%8B/v1/orders"),
        Bearer,
    ),
    (
        ACME,
        "/%c0%ae%c0%ae/api/v1/orders",
        Open("/%C0%AE%C0%AE/api/v1/orders"),
        Bearer,
    ),
    (ACME, "/apix/v1/orders", Open("/apix/v1/orders"), Bearer),
    (ACME, "/api/admin/keys", Canonical("/api/admin/keys"), Admin),
    (
        ACME,
        "/%61pi/admin/keys",
        Canonical("/api/admin/keys"),
        Admin,
    ),
    (
        ACME,
        "/api/%61dmin/keys",
        Canonical("/api/admin/keys"),
        Admin,
    ),
    (
        ACME,
        "/api//admin/keys",
        Canonical("/api/admin/keys"),
        Admin,
    ),
    (
        ACME,
        "/api/x/../admin/keys",
        Canonical("/api/admin/keys"),
        Admin,
    ),
    (
        ACME,
        "//api/admin/keys",
        Canonical("/api/admin/keys"),
        Admin,
    ),
    (
        ACME,
        "/./api/admin/keys",
        Canonical("/api/admin/keys"),
        Admin,
    ),
    (
        ACME,
        "/x/../api//admin/./keys",
        Canonical("/api/admin/keys"),
        Admin,
    ),
    (
        ACME,
        "/api/./admin/keys",
        Canonical("/api/admin/keys"),
        Admin,
    ),
    (
        ACME,
        "/api/%2e/admin/keys",
        Canonical("/api/admin/keys"),
        Admin,
    ),
    (ACME, "/api/admin;x/keys", Refused("semicolon"), Admin),
    (ACME, "/api/admin%2fkeys", Refused("encoded_slash"), Admin),
    (ACME, "/api/admin\\keys", Refused("backslash"), Admin),
    (ACME, "/hooks/invoice", Canonical("/hooks/invoice"), Basic),
    (ACME, "/%68ooks/invoice", Canonical("/hooks/invoice"), Basic),
    (
        ACME,
        "/%68%6F%6F%6B%73/invoice",
        Canonical("/hooks/invoice"),
        Basic,
    ),
    (ACME, "//hooks/invoice", Canonical("/hooks/invoice"), Basic),
    (
        ACME,
        "/x/../hooks/invoice",
        Canonical("/hooks/invoice"),
        Basic,
    ),
    (
        ACME,
        "/%2e%2e/hooks/invoice",
        Canonical("/hooks/invoice"),
        Basic,
    ),
    (
        ACME,
        "/hooks/invoice?x=/../api",
        Canonical("/hooks/invoice?x=/../api"),
        Basic,
    ),
    (ACME, "/hooks;a=b/invoice", Refused("semicolon"), Basic),
    (ACME, "/hooks%2finvoice", Refused("encoded_slash"), Basic),
    (ACME, "/hooks\\invoice", Refused("backslash"), Basic),
    (ACME, "/HOOKS/invoice", Open("/HOOKS/invoice"), Basic),
    (
        PARTNERS,
        "/mno/acme/api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        PARTNERS,
        "/mno/acme/%61pi/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        PARTNERS,
        "/mno/acme//api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        PARTNERS,
        "/mno/./acme/api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        PARTNERS,
        "//mno//acme/api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        PARTNERS,
        "/%6dno/%61cme/api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        PARTNERS,
        "/mno/x/../acme/api/v1/orders",
        Canonical("/api/v1/orders"),
        Bearer,
    ),
    (
        PARTNERS,
        "/mno/acme/x/../api/admin/keys",
        Canonical("/api/admin/keys"),
        Admin,
    ),
    (
        PARTNERS,
        "/mno/acme/%68ooks/invoice",
        Canonical("/hooks/invoice"),
        Basic,
    ),
    (
        PARTNERS,
        "/mno/acme;x/api/v1/orders",
        Refused("semicolon"),
        Bearer,
    ),
    (
        PARTNERS,
        "/mno/acme%2fapi/v1/orders",
        Refused("encoded_slash"),
        Bearer,
    ),
    (
        PARTNERS,
        "/mno/acme/API/v1/orders",
        Open("/API/v1/orders"),
        Bearer,
    ),
];

/// What one answer (HTTP/1.1 or HTTP/2) to an uncredentialed request may be.
fn check_anonymous(what: &str, want: Want, answer: Result<(u16, Option<String>, Vec<u8>), String>) {
    let (status, ctype, body) = match answer {
        Ok(a) => a,
        // A protocol-level refusal (HTTP/2 reset) forwards nothing either.
        Err(e) => {
            assert!(
                matches!(want, Refused(_) | NoLeak),
                "{what}: refused at the protocol level ({e}), wanted {want:?}"
            );
            return;
        }
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    assert!(
        [200, 400, 401, 404].contains(&status),
        "{what}: status {status}: {text}"
    );
    match want {
        Canonical(_) => {
            assert_eq!(status, 401, "{what}: {text}");
            assert_reject_parts(
                what,
                status,
                ctype.as_deref(),
                &body,
                401,
                "unauthorized",
                None,
            );
        }
        // The exact JSON of each refusal is the business of the tests above; here a 400
        // is what matters, and its reason when it has a JSON body.
        Refused(reason) => {
            assert_eq!(status, 400, "{what}: {text}");
            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                assert_eq!(v["reason"], reason, "{what}: {v}");
            }
        }
        Open(_) => assert_eq!(status, 200, "{what}: {text}"),
        NoLeak => {}
    }
}

/// The central assertion: no spelling of a protected path, sent without credentials over
/// HTTP/1.1 or HTTP/2, reaches the lenient backend as a protected path (each gets 400, 401
/// or 404, or is a harmless open path); with valid credentials each one that is a protected
/// path reaches the backend as its canonical path.
#[tokio::test]
async fn no_spelling_of_a_protected_path_gets_past_authentication() {
    assert!(SPELLINGS.len() >= 40);
    let h = Hostile::start(Opts {
        tokens: true,
        pool: Pool::Lenient,
        ..Opts::default()
    });
    let creds = |c: Cred| match c {
        Bearer => h.bearer(),
        Admin => h.admin_bearer(),
        Basic => h.basic(),
    };
    let mut credentialed: HashSet<String> = HashSet::new();
    let mut h2_skipped = Vec::new();
    for (i, &(host, target, want, cred)) in SPELLINGS.iter().enumerate() {
        // Sanity of the table: an open path must look harmless to the lenient backend too.
        if let Open(p) = want {
            assert!(!is_protected(&lenient_normalise(p)), "table: {p}");
        }
        // HTTP/1.1, no credentials.
        let probe = format!("anon-h1-{i}");
        let what = format!("h1 {host} {target}");
        let ex = exchange(
            h.gw.http,
            &request("GET", target, host, &[(PROBE, &probe)]),
            Duration::from_secs(15),
        );
        let answer = ex
            .responses
            .first()
            .map(|r| {
                (
                    r.status,
                    r.header("content-type").map(str::to_string),
                    r.body.clone(),
                )
            })
            .ok_or_else(|| format!("no answer: {ex:?}"));
        check_anonymous(&what, want, answer);
        if let Open(p) = want {
            assert_eq!(h.lenient.one(&probe).target(), p, "{what}");
        }

        // HTTP/2, no credentials, where h2 can carry the spelling (origin-form, no fragment).
        let h2able = target.starts_with('/') && !target.contains('#');
        if h2able {
            let probe = format!("anon-h2-{i}");
            let what = format!("h2 {host} {target}");
            match h.h2(host, target, &[(PROBE, &probe)]).await {
                Err(H2Error::Unsendable(e)) => h2_skipped.push(format!("{target}: {e}")),
                r => {
                    let answer = r
                        .map(|r| {
                            let ctype = r.header("content-type").map(str::to_string);
                            (r.status, ctype, r.body)
                        })
                        .map_err(|e| format!("{e:?}"));
                    check_anonymous(&what, want, answer);
                    if let Open(p) = want {
                        assert_eq!(h.lenient.one(&probe).target(), p, "{what}");
                    }
                }
            }
        } else {
            h2_skipped.push(format!("{target}: not an origin-form path"));
        }

        // With valid credentials.
        let cred = creds(cred);
        let probe = format!("cred-h1-{i}");
        credentialed.insert(probe.clone());
        let what = format!("h1 {host} {target} with credentials");
        let r = h.get(host, target, &[(PROBE, &probe), ("Authorization", &cred)]);
        match want {
            Canonical(p) => {
                assert_eq!(r.status, 200, "{what}: {}", r.show());
                assert_eq!(h.lenient.one(&probe).target(), p, "{what}");
            }
            Refused(reason) => check_anonymous(
                &what,
                Refused(reason),
                Ok((
                    r.status,
                    r.header("content-type").map(str::to_string),
                    r.body.clone(),
                )),
            ),
            Open(_) | NoLeak => {}
        }
        // `require_groups` holds for every spelling: a valid token without the group is
        // refused (and never reaches the backend: the leak check below sees its probe).
        if SPELLINGS[i].3 == Admin && matches!(want, Canonical(_)) {
            let probe = format!("user-h1-{i}");
            let reader = h.reader_bearer();
            let r = h.get(host, target, &[(PROBE, &probe), ("Authorization", &reader)]);
            assert_eq!(
                r.status,
                403,
                "h1 {host} {target} without the group: {}",
                r.show()
            );
        }
        if h2able {
            if let Canonical(p) = want {
                let probe = format!("cred-h2-{i}");
                credentialed.insert(probe.clone());
                let what = format!("h2 {host} {target} with credentials");
                let r = h
                    .h2(host, target, &[(PROBE, &probe), ("authorization", &cred)])
                    .await;
                h2_ok(r, &what);
                assert_eq!(h.lenient.one(&probe).target(), p, "{what}");
            }
        }
    }
    // Every request the lenient backend reads as protected was sent with credentials.
    let leaks: Vec<String> = h
        .lenient
        .protected_hits()
        .into_iter()
        .filter(|hit| !hit.seen.probe().is_some_and(|p| credentialed.contains(&p)))
        .map(|hit| format!("{} <- {}", hit.normalised, hit.seen.request_line()))
        .collect();
    assert!(
        leaks.is_empty(),
        "protected paths reached the lenient backend without credentials:\n{}",
        leaks.join("\n")
    );
    eprintln!(
        "{} spellings; not sent over HTTP/2: {h2_skipped:#?}",
        SPELLINGS.len()
    );
    h.assert_no_error_logs("the spelling table");
}

/// Beyond the spelling rules above: an encoded semicolon and double percent-encoding are
/// harmless to a backend that decodes once, but a backend that decodes until stable (as the
/// lenient one does) reads them as `/api/...;x`, `/api/...`. The gateway must either refuse
/// them or keep them from reaching such a backend as a protected path.
#[tokio::test]
async fn encoded_semicolons_and_double_encoding_do_not_reach_a_decoding_backend() {
    let h = Hostile::start(Opts {
        pool: Pool::Lenient,
        ..Opts::default()
    });
    let spellings = [
        "/api%3bx/v1/orders",
        "/api%3Bjsessionid=1/v1/orders",
        "/hooks%3B/invoice",
        "/%2561pi/v1/orders",
        "/%25%36%31pi/v1/orders",
        "/api%252fv1%252forders",
        "/x%252f..%252fapi/v1/orders",
        "/%252e%252e/api/v1/orders",
        "/x/%252e%252e/hooks/invoice",
        "/api%253bx/v1/orders",
        "/api%255cv1/orders",
        "/%25252561pi/v1/orders",
    ];
    for (i, target) in spellings.iter().enumerate() {
        let probe = format!("residual-{i}");
        let r = h.get(ACME, target, &[(PROBE, &probe)]);
        assert!(
            [200, 400, 401, 404].contains(&r.status),
            "{target}: {}",
            r.show()
        );
        if let Ok(r) = h
            .h2(ACME, target, &[(PROBE, &format!("residual-h2-{i}"))])
            .await
        {
            assert!(
                [200, 400, 401, 404].contains(&r.status),
                "h2 {target}: {}",
                r.text()
            );
        }
    }
    let leaks: Vec<String> = h
        .lenient
        .protected_hits()
        .into_iter()
        .map(|hit| format!("{} <- {}", hit.normalised, hit.seen.request_line()))
        .collect();
    assert!(
        leaks.is_empty(),
        "read as protected paths by a decoding backend, sent without credentials:\n{}",
        leaks.join("\n")
    );
}
