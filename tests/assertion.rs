//! The signed tenant assertion as a backend sees it: every upstream request of an
//! authenticated route carries one `X-Tenant-Assertion` (an ES256 JWT of the gateway), and a
//! backend that trusts nothing else verifies it with an independent library (PyJWT,
//! `tests/peers/assertion_backend.py`) against the gateway's published JWKS.
//!
//! A hybrid fleet like the Hybrid SaaS Identity guide's: tenant A on Cognito-shaped tokens
//! (moto), tenant B federated to its own OIDC issuer whose tokens carry no tenant claim
//! (`tenant_binding: issuer`; a bearer token and a login in headless Chromium), tenant C's
//! webhooks on Basic credentials. Then: client-sent copies never reach the backend, `auth:
//! none` routes with and without `assertion: true`, keys rotating under traffic, and keys
//! surviving a restart.

mod common;
use common::peers::*;
use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ISSUER: &str = "https://gateway.test";
const JWKS_PATH: &str = "/.well-known/tenant-gateway/jwks.json";
const SESSION_KEY: &str = "test-session-key-0123456789-abcdefghijklmnop";
const B_CLIENT: &str = "gw-b";
const B_SECRET: &str = "secret-b-0123456789";
const TENANT_C: &str = "44444444-4444-4444-8444-444444444444";
const HOOK_USER: &str = "billing-hook";
const HOOK_PASS: &str = "hook-pass-0123";
/// The default `assertion.ttl` (2m).
const DEFAULT_TTL: i64 = 120;

/// Claims of every assertion for an authenticated request.
const REQUIRED: [&str; 12] = [
    "iss",
    "aud",
    "sub",
    "groups",
    "tenant_id",
    "tenant_name",
    "tier",
    "idp_iss",
    "amr",
    "iat",
    "exp",
    "jti",
];
/// Claims present when known: `email`, `scope`, and the fleet's `copy_claims`.
const OPTIONAL: [&str; 3] = ["email", "scope", "cognito:username"];

// ---------------------------------------------------------------------------------------
// Configuration

/// A gateway.yaml whose one pool is the verifying backend; `assertion_extra`: more lines of
/// the `assertion` block (indented two spaces).
fn gateway_yaml(backend: SocketAddr, assertion_extra: &str) -> String {
    format!(
        r#"listeners:
  http: ["{{http}}"]
  admin: "{{admin}}"
server:
  threads: 2
  grace_period: 1s
  graceful_shutdown_timeout: 1s
base_domains:
  - domain: gw.test
pools:
  verify:
    backends: ["{backend}"]
    connect_timeout: 500ms
    read_timeout: 10s
tenants:
  source: file
  path: tenants.yaml
admin:
  token_env: TEST_ADMIN_TOKEN
logging:
  access_log: "{{access_log}}"
auth:
  session_key: {{ env: TEST_SESSION_KEY }}
  jwks_min_refetch_interval: 1s
assertion:
  issuer: {ISSUER}
{assertion_extra}"#
    )
}

/// Tenant C: webhooks on Basic credentials, a partner route with its own assertion audience,
/// and two public routes, one with a tenant-context assertion.
fn tenant_c(hash: &str) -> String {
    format!(
        r#"  - id: {TENANT_C}
    name: Tenant C
    subdomain: tenant-c
    custom_domains: [hooks.tenant-c.test]
    tier: basic
    basic_auth:
      - {{ username: {HOOK_USER}, password_hash: "{hash}" }}
    routes:
      - {{ prefix: /webhooks, pool: verify, auth: basic }}
      - {{ prefix: /partner, pool: verify, auth: basic, assertion_audience: "urn:partner-api" }}
      - {{ prefix: /public, pool: verify, auth: none }}
      - {{ prefix: /context, pool: verify, auth: none, assertion: true }}
"#
    )
}

/// A verifying backend that fetches the JWKS of the gateway that will listen on `port`.
fn start_backend(port: u16) -> AssertionBackend {
    AssertionBackend::start(
        &format!("http://127.0.0.1:{port}{JWKS_PATH}"),
        "tenant-c.gw.test",
        ISSUER,
        &[("/partner", "urn:partner-api")],
    )
}

/// `tenant-gateway check` on the configuration first, so a refused one fails with the reason.
fn preflight(gateway_yaml: &str, tenants_yaml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let yaml = gateway_yaml
        .replace("{http}", "127.0.0.1:1")
        .replace("{admin}", "127.0.0.1:2")
        .replace("{access_log}", "off");
    std::fs::write(dir.path().join("gateway.yaml"), yaml).unwrap();
    std::fs::write(dir.path().join("tenants.yaml"), tenants_yaml).unwrap();
    let out = Command::new(BIN)
        .arg("check")
        .arg("-c")
        .arg(dir.path().join("gateway.yaml"))
        .env("TEST_SESSION_KEY", SESSION_KEY)
        .env("IDP_B_SECRET", B_SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the gateway refuses this configuration:\n{}{}\n--- gateway.yaml ---\n{gateway_yaml}\n--- tenants.yaml ---\n{tenants_yaml}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_gateway(port: u16, gateway_yaml: &str, tenants_yaml: &str) -> Gateway {
    preflight(gateway_yaml, tenants_yaml);
    GatewayBuilder::new(gateway_yaml, tenants_yaml)
        .http_port(port)
        .env("TEST_SESSION_KEY", SESSION_KEY)
        .env("IDP_B_SECRET", B_SECRET)
        .no_watch()
        .start()
}

/// Tenant C alone, behind a verifying backend; `assertion_extra` as in [`gateway_yaml`].
struct Small {
    gw: Gateway,
    backend: AssertionBackend,
    port: u16,
    yaml: String,
    tenants: String,
}

impl Small {
    fn start(assertion_extra: &str) -> Self {
        let port = free_port();
        let backend = start_backend(port);
        let yaml = gateway_yaml(backend.addr, assertion_extra);
        let tenants = format!("tenants:\n{}", tenant_c(&hash_password(HOOK_PASS)));
        let gw = start_gateway(port, &yaml, &tenants);
        Small {
            gw,
            backend,
            port,
            yaml,
            tenants,
        }
    }

    fn logs(&self) -> String {
        logs(&self.gw, &self.backend)
    }
}

fn logs(gw: &Gateway, backend: &AssertionBackend) -> String {
    format!(
        "--- gateway log ---\n{}\n--- backend log ---\n{}",
        gw.stderr(),
        backend.log()
    )
}

// ---------------------------------------------------------------------------------------
// Requests and what the backend saw

async fn bearer(gw: &Gateway, host: &str, path: &str, token: &str) -> Reply {
    send(
        client()
            .get(gw.url(path))
            .header("host", host)
            .bearer_auth(token),
    )
    .await
}

async fn hook(gw: &Gateway, host: &str, path: &str, extra: &[(&str, &str)]) -> Reply {
    let mut req = client()
        .post(gw.url(path))
        .header("host", host)
        .basic_auth(HOOK_USER, Some(HOOK_PASS))
        .body("{\"event\":\"invoice.paid\"}");
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    send(req).await
}

/// The backend's answer to a request it verified: `{"verified": true, "claims", "kid",
/// "header", "headers", "assertion_count", ...}`.
fn verified(what: &str, r: &Reply, logs: impl FnOnce() -> String) -> Value {
    let doc: Value = serde_json::from_str(&r.text).unwrap_or(Value::Null);
    assert!(
        r.status == 200 && doc["verified"] == true,
        "{what}: the backend did not verify an assertion: {} {}\n{}",
        r.status,
        r.text,
        logs()
    );
    check_token(what, &doc);
    doc
}

/// One header, an ES256 JWT with `typ` and `kid`, the one the backend verified.
fn check_token(what: &str, doc: &Value) {
    assert_eq!(doc["assertion_count"], 1, "{what}: {doc}");
    let token = doc["headers"]["x-tenant-assertion"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {doc}"));
    let header = jwt_header(token);
    assert_eq!(header["alg"], "ES256", "{what}: {header}");
    assert_eq!(header["typ"], "JWT", "{what}: {header}");
    assert!(
        header["kid"].as_str().is_some_and(|k| !k.is_empty()),
        "{what}: {header}"
    );
    assert_eq!(header["kid"], doc["kid"], "{what}");
}

fn token_of(doc: &Value) -> String {
    doc["headers"]["x-tenant-assertion"]
        .as_str()
        .expect("the assertion the backend received")
        .to_string()
}

/// What one tenant's assertions must say.
struct Expect<'a> {
    tenant_id: &'a str,
    tenant_name: &'a str,
    tier: &'a str,
    aud: &'a str,
    idp_iss: &'a str,
    amr: &'a str,
    sub: &'a str,
}

/// The claim set of an authenticated request: the same keys for everyone (plus optional
/// ones), with this tenant's values.
fn check_claims(what: &str, c: &Value, e: &Expect, ttl: i64) {
    let keys: BTreeSet<&str> = c
        .as_object()
        .unwrap_or_else(|| panic!("{what}: claims {c}"))
        .keys()
        .map(String::as_str)
        .collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|k| !keys.contains(k))
        .collect();
    let extra: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| !REQUIRED.contains(k) && !OPTIONAL.contains(k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:?}, unexpected {extra:?} in {c:#}"
    );
    assert_eq!(c["iss"], ISSUER, "{what}");
    assert_eq!(c["aud"], e.aud, "{what}: aud is the tenant host");
    assert_eq!(c["tenant_id"], e.tenant_id, "{what}");
    assert_eq!(c["tenant_name"], e.tenant_name, "{what}");
    assert_eq!(c["tier"], e.tier, "{what}");
    assert_eq!(c["idp_iss"], e.idp_iss, "{what}");
    assert_eq!(c["amr"], json!([e.amr]), "{what}");
    assert_eq!(c["sub"], e.sub, "{what}");
    assert!(
        c["groups"]
            .as_array()
            .is_some_and(|g| g.iter().all(Value::is_string)),
        "{what}: groups is a JSON array of strings: {c}"
    );
    if let Some(scope) = c.get("scope") {
        let scope = scope.as_str().unwrap_or_default();
        assert!(
            !scope.is_empty() && !scope.contains(',') && scope.trim() == scope,
            "{what}: scope is a space-separated string: {c}"
        );
    }
    if let Some(email) = c.get("email") {
        assert!(
            email.as_str().is_some_and(|m| m.contains('@')),
            "{what}: {c}"
        );
    }
    check_times(what, c, ttl);
}

fn check_times(what: &str, c: &Value, ttl: i64) {
    let (iat, exp) = (c["iat"].as_i64(), c["exp"].as_i64());
    let (Some(iat), Some(exp)) = (iat, exp) else {
        panic!("{what}: iat and exp are integers: {c}");
    };
    assert_eq!(exp - iat, ttl, "{what}: exp - iat is the ttl: {c}");
    let now = unix_now();
    assert!(
        (iat as f64 - now).abs() < 30.0,
        "{what}: iat {iat} is now ({now})"
    );
    assert!(
        c["jti"].as_str().is_some_and(|j| !j.is_empty()),
        "{what}: jti: {c}"
    );
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

async fn jwks_at(gw: &Gateway, host: &str) -> Value {
    let r = gw.get(host, JWKS_PATH).await;
    assert_eq!(r.status, 200, "JWKS on {host}: {}", r.text);
    let ct = r.headers["content-type"].to_str().unwrap_or_default();
    assert!(ct.contains("json"), "JWKS on {host}: content-type {ct}");
    r.json()
}

async fn jwks_on_admin(gw: &Gateway) -> Value {
    let r = send(client().get(gw.admin_url(JWKS_PATH))).await;
    assert_eq!(r.status, 200, "JWKS on the admin listener: {}", r.text);
    r.json()
}

fn kids(jwks: &Value) -> BTreeSet<String> {
    jwks["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("not a JWKS: {jwks}"))
        .iter()
        .map(|k| k["kid"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Public EC P-256 signing keys and nothing else.
fn check_jwks(jwks: &Value) {
    let keys = jwks["keys"].as_array().expect("keys");
    assert!(!keys.is_empty(), "{jwks}");
    for k in keys {
        let fields: BTreeSet<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            BTreeSet::from(["kty", "crv", "x", "y", "kid", "alg", "use"]),
            "public members only (no `d`): {k}"
        );
        assert_eq!(k["kty"], "EC", "{k}");
        assert_eq!(k["crv"], "P-256", "{k}");
        assert_eq!(k["alg"], "ES256", "{k}");
        assert_eq!(k["use"], "sig", "{k}");
        for coord in ["x", "y"] {
            let bytes = base64url_decode(k[coord].as_str().unwrap());
            assert_eq!(bytes.len(), 32, "{coord} of {k}");
        }
    }
    assert_eq!(kids(jwks).len(), keys.len(), "kids are unique: {jwks}");
}

// ---------------------------------------------------------------------------------------
// The hybrid fleet

struct Fleet {
    gw: Gateway,
    backend: AssertionBackend,
    _moto: Moto,
    /// moto's users and tokens (`cognito_tokens`).
    fx: Value,
    idp_b: OidcProvider,
    /// B's access token (code flow of B's client, no tenant claim).
    b_token: String,
    port: u16,
    _cli: Backend,
}

impl Fleet {
    async fn start() -> Self {
        let port = free_port();
        let moto = Moto::start();
        let fx = cognito_tokens(&moto, &[("a", TENANT_A)]);
        // The redirect URI of a CLI of tenant B's that gets its own tokens (an echo backend).
        let cli = Backend::start("cli");
        let cli_redirect = format!("http://cli.gw.test:{}/callback", cli.addr.port());
        let idp_b = start_oidc_provider(
            json!([{ "client_id": B_CLIENT, "client_secret": B_SECRET,
                     "redirect_uris": [format!("http://tenant-b.gw.test:{port}/callback"),
                                       cli_redirect] }]),
            // No `tenant`: B's issuer knows nothing of tenants; its tokens have no tenant claim.
            json!({ "dave": { "groups": ["staff", "billing"] } }),
            None,
            "b1",
        );
        let hash = hash_password(HOOK_PASS);
        let backend = start_backend(port);
        let yaml = gateway_yaml(backend.addr, "  copy_claims: [\"cognito:username\"]\n");
        let tenants = format!(
            r#"tenants:
  - id: {TENANT_A}
    name: Tenant A
    subdomain: tenant-a
    tier: premium
    idp:
      kind: cognito
      issuer: {a_issuer}
      jwks_uri: {a_jwks}
      client_id: {a_client}
      tenant_group_prefix: tenant-
    routes:
      - {{ prefix: /, pool: verify, auth: jwt }}
  - id: {TENANT_B}
    name: Tenant B
    subdomain: tenant-b
    tier: standard
    idp:
      kind: oidc
      issuer: {b_issuer}
      client_id: {B_CLIENT}
      client_secret: {{ env: IDP_B_SECRET }}
      scopes: [openid, email]
      audiences: [{B_CLIENT}, "urn:tenant-gateway"]
      tenant_binding: issuer
    routes:
      - {{ prefix: /, pool: verify }}
      - {{ prefix: /api, pool: verify, auth: jwt }}
{c}"#,
            a_issuer = fx["issuer"].as_str().unwrap(),
            a_jwks = fx["jwks_url"].as_str().unwrap(),
            a_client = fx["client_id"].as_str().unwrap(),
            b_issuer = idp_b.issuer,
            c = tenant_c(&hash),
        );
        let gw = start_gateway(port, &yaml, &tenants);
        let b_token = b_access_token(&idp_b, &cli, &cli_redirect).await;
        Fleet {
            gw,
            backend,
            _moto: moto,
            fx,
            idp_b,
            b_token,
            port,
            _cli: cli,
        }
    }

    fn logs(&self) -> String {
        format!(
            "{}\n--- oidc-provider log ---\n{}",
            logs(&self.gw, &self.backend),
            self.idp_b.log()
        )
    }

    fn a(&self, kind: &str) -> &str {
        self.fx["users"]["a"][kind].as_str().unwrap()
    }
}

/// dave's access token from B's issuer: an authorization-code flow of B's own client.
async fn b_access_token(idp: &OidcProvider, cli: &Backend, redirect_uri: &str) -> String {
    let mut url = reqwest::Url::parse(&idp.url("/auth")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", B_CLIENT)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", "cli-state")
        .append_pair("nonce", "cli-nonce");
    let r = login_with_http_client(url.as_str(), "dave", &[("cli.gw.test", cli.addr)]).await;
    let code = query_param(&r.final_url, "code")
        .unwrap_or_else(|| panic!("no code: {:?}\n{}", r.hops, idp.log()));
    let tokens = exchange_code(idp, B_CLIENT, B_SECRET, &code, redirect_uri).await;
    let token = tokens["access_token"].as_str().unwrap().to_string();
    let claims = jwt_claims(&token);
    assert!(
        claims.get("custom:tenantid").is_none(),
        "B's tokens carry no tenant claim: {claims}"
    );
    token
}

#[tokio::test]
async fn a_hybrid_fleet_gets_verified_assertions_of_one_shape() {
    let f = Fleet::start().await;
    let gw = &f.gw;
    let logs = || f.logs();
    let a_sub = f.fx["users"]["a"]["sub"].as_str().unwrap();
    let a_iss = f.fx["issuer"].as_str().unwrap();
    let expect_a = Expect {
        tenant_id: TENANT_A,
        tenant_name: "Tenant A",
        tier: "premium",
        aud: "tenant-a.gw.test",
        idp_iss: a_iss,
        amr: "jwt",
        sub: a_sub,
    };
    let expect_b = |amr| Expect {
        tenant_id: TENANT_B,
        tenant_name: "Tenant B",
        tier: "standard",
        aud: "tenant-b.gw.test",
        idp_iss: &f.idp_b.issuer,
        amr,
        sub: "dave",
    };
    let expect_c = Expect {
        tenant_id: TENANT_C,
        tenant_name: "Tenant C",
        tier: "basic",
        aud: "tenant-c.gw.test",
        idp_iss: ISSUER,
        amr: "basic",
        sub: HOOK_USER,
    };
    let mut seen: Vec<(String, Value)> = Vec::new();

    // A: Cognito id and access tokens on a jwt route.
    for kind in ["id_token", "access_token"] {
        let r = bearer(gw, "tenant-a.gw.test", "/orders/7", f.a(kind)).await;
        let doc = verified(&format!("A {kind}"), &r, logs);
        let c = &doc["claims"];
        check_claims(&format!("A {kind}"), c, &expect_a, DEFAULT_TTL);
        assert!(
            c["groups"].as_array().unwrap().contains(&json!("admins")),
            "A {kind}: cognito:groups become groups: {c}"
        );
        assert!(
            doc["headers"].get("authorization").is_none(),
            "A {kind}: no token forwarded"
        );
        seen.push((format!("A {kind}"), doc));
    }
    let a_id = &seen[0].1["claims"];
    // The same identity on the same host again: the cached assertion (one signature per
    // lifetime); on another route's path too (the audience is the host).
    for path in ["/orders/7", "/orders/8"] {
        let again = bearer(gw, "tenant-a.gw.test", path, f.a("id_token")).await;
        let again = verified("A id_token again", &again, logs);
        assert_eq!(
            again["claims"]["jti"], a_id["jti"],
            "A's assertion is reused"
        );
    }
    assert_ne!(
        seen[1].1["claims"]["jti"], a_id["jti"],
        "the access token's identity (other scopes) has its own assertion"
    );
    assert_eq!(a_id["email"], "a-user@example.test", "{a_id}");
    assert_eq!(
        a_id["cognito:username"], "a-user",
        "copy_claims copies the IdP claim: {a_id}"
    );

    // B: a bearer token without any tenant claim, bound to the tenant by its issuer.
    let r = bearer(gw, "tenant-b.gw.test", "/api/invoices", &f.b_token).await;
    let doc = verified("B bearer", &r, logs);
    let c = &doc["claims"];
    check_claims("B bearer", c, &expect_b("jwt"), DEFAULT_TTL);
    assert_eq!(c["groups"], json!(["staff", "billing"]), "{c}");
    let scopes: BTreeSet<&str> = c["scope"].as_str().unwrap_or_default().split(' ').collect();
    assert!(
        scopes.contains("openid"),
        "B bearer: the token's scope: {c}"
    );
    seen.push(("B bearer".into(), doc));

    // B: a login in headless Chromium; the session's requests carry assertions too.
    let start = format!("http://tenant-b.gw.test:{}/app/home?tab=1", f.port);
    let prefix = start.clone();
    let v = tokio::task::spawn_blocking(move || browser_login(&start, "dave", &prefix))
        .await
        .unwrap();
    let doc: Value = serde_json::from_str(v["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not the backend's JSON ({e}): {v}\n{}", logs()));
    assert_eq!(
        doc["verified"],
        true,
        "B browser: the backend did not verify: {doc}\n{}",
        logs()
    );
    assert_eq!(doc["path"], "/app/home?tab=1");
    check_token("B browser", &doc);
    let c = &doc["claims"];
    check_claims("B browser", c, &expect_b("oidc"), DEFAULT_TTL);
    assert_eq!(c["email"], "dave@example.test", "{c}");
    assert_eq!(c["groups"], json!(["staff", "billing"]), "{c}");
    seen.push(("B browser".into(), doc));

    // C: Basic credentials on a webhook route.
    let r = hook(gw, "tenant-c.gw.test", "/webhooks/invoice", &[]).await;
    let doc = verified("C basic", &r, logs);
    let c = &doc["claims"];
    check_claims("C basic", c, &expect_c, DEFAULT_TTL);
    assert_eq!(c["groups"], json!([]), "{c}");
    seen.push(("C basic".into(), doc));

    // One shape: the same claim names everywhere, optional ones aside.
    let shape = |c: &Value| -> BTreeSet<String> {
        c.as_object()
            .unwrap()
            .keys()
            .filter(|k| !OPTIONAL.contains(&k.as_str()))
            .cloned()
            .collect()
    };
    let first = shape(&seen[0].1["claims"]);
    for (what, doc) in &seen {
        assert_eq!(shape(&doc["claims"]), first, "{what}");
    }
    let jtis: BTreeSet<&str> = seen
        .iter()
        .map(|(_, d)| d["claims"]["jti"].as_str().unwrap())
        .collect();
    assert_eq!(jtis.len(), seen.len(), "every jti is unique");

    // The keys: one JWKS on every tenant host and on the admin listener, holding every kid
    // that signed.
    let published = jwks_at(gw, "tenant-a.gw.test").await;
    check_jwks(&published);
    for host in [
        "tenant-b.gw.test",
        "tenant-c.gw.test",
        "hooks.tenant-c.test",
    ] {
        assert_eq!(kids(&jwks_at(gw, host).await), kids(&published), "{host}");
    }
    assert_eq!(kids(&jwks_on_admin(gw).await), kids(&published), "admin");
    for (what, doc) in &seen {
        let kid = doc["kid"].as_str().unwrap();
        assert!(kids(&published).contains(kid), "{what}: {kid} published");
    }

    // Tokens of one tenant on another tenant's host: refused, and nothing reaches the backend.
    let before = f.backend.stats().await["requests"].clone();
    for (what, host, path, token) in [
        (
            "B's token on A's host",
            "tenant-a.gw.test",
            "/orders",
            f.b_token.as_str(),
        ),
        (
            "A's token on B's host",
            "tenant-b.gw.test",
            "/api/x",
            f.a("id_token"),
        ),
        (
            "A's access token on B's host",
            "tenant-b.gw.test",
            "/api/x",
            f.a("access_token"),
        ),
    ] {
        let r = bearer(gw, host, path, token).await;
        assert_eq!(r.status, 403, "{what}: {}", r.text);
        assert_eq!(r.json()["reason"], "tenant_mismatch", "{what}: {}", r.text);
        assert!(r.json().get("verified").is_none(), "{what}: {}", r.text);
    }
    assert_eq!(
        f.backend.stats().await["requests"],
        before,
        "refused requests never reach the backend"
    );
}

// ---------------------------------------------------------------------------------------
// Client copies, public routes, audiences

#[tokio::test]
async fn client_copies_never_reach_the_backend_and_routes_shape_the_assertion() {
    let s = Small::start("");
    let gw = &s.gw;
    let logs = || s.logs();

    // `auth: none` + `assertion: true`: the tenant context, no identity.
    let r = gw.get("tenant-c.gw.test", "/context/status").await;
    let doc = verified("context", &r, logs);
    let c = &doc["claims"];
    assert_eq!(c["iss"], ISSUER, "{c}");
    assert_eq!(c["aud"], "tenant-c.gw.test", "{c}");
    assert_eq!(c["tenant_id"], TENANT_C, "{c}");
    assert_eq!(c["tenant_name"], "Tenant C", "{c}");
    assert_eq!(c["tier"], "basic", "{c}");
    for identity in ["sub", "email", "scope", "cognito:username"] {
        assert!(
            c.get(identity).is_none(),
            "no {identity} without a user: {c}"
        );
    }
    assert!(
        c.get("groups").is_none_or(|g| g == &json!([])),
        "no groups without a user: {c}"
    );
    check_times("context", c, DEFAULT_TTL);
    let valid_copy = token_of(&doc);

    // `auth: none` without `assertion`: a client's copy, even a valid one, never arrives.
    let r = send(
        client()
            .get(gw.url("/public/page"))
            .header("host", "tenant-c.gw.test")
            .header("X-Tenant-Assertion", &valid_copy),
    )
    .await;
    let doc: Value = serde_json::from_str(&r.text).unwrap_or(Value::Null);
    assert_eq!(r.status, 401, "the backend refuses: {}\n{}", r.text, logs());
    assert_eq!(doc["error"], "missing", "{doc}");
    assert_eq!(doc["assertion_count"], 0, "{doc}");
    // Two copies: dropped both, or the request refused by the gateway itself.
    let r = send(
        client()
            .get(gw.url("/public/page"))
            .header("host", "tenant-c.gw.test")
            .header("x-tenant-assertion", "forged")
            .header("X-TENANT-ASSERTION", &valid_copy),
    )
    .await;
    let doc: Value = serde_json::from_str(&r.text).unwrap_or(Value::Null);
    if doc.get("verified").is_some() {
        assert_eq!(doc["error"], "missing", "{doc}");
        assert_eq!(doc["assertion_count"], 0, "{doc}");
    } else {
        assert_eq!(r.status, 400, "{}", r.text);
    }
    let r = gw.get("tenant-c.gw.test", "/public/page").await;
    assert_eq!(r.json()["error"], "missing", "{}", r.text);

    // Authenticated and context routes: the client's copy is replaced by the gateway's.
    let r = hook(
        gw,
        "tenant-c.gw.test",
        "/webhooks/invoice",
        &[("x-tenant-assertion", &valid_copy)],
    )
    .await;
    let doc = verified("webhook with a client copy", &r, logs);
    assert_ne!(token_of(&doc), valid_copy);
    assert_ne!(doc["claims"]["jti"], c["jti"]);
    assert_eq!(doc["claims"]["sub"], HOOK_USER, "{doc}");
    assert_eq!(doc["claims"]["amr"], json!(["basic"]), "{doc}");
    let r = send(
        client()
            .get(gw.url("/context/again"))
            .header("host", "tenant-c.gw.test")
            .header("x-tenant-assertion", "forged"),
    )
    .await;
    let doc = verified("context with a client copy", &r, logs);
    assert!(doc["claims"].get("sub").is_none(), "{doc}");

    // A route's `assertion_audience` replaces the host.
    let r = hook(gw, "tenant-c.gw.test", "/partner/orders", &[]).await;
    let doc = verified("partner", &r, logs);
    assert_eq!(doc["claims"]["aud"], "urn:partner-api", "{doc}");

    // `aud` is the tenant host the request named: lowercased, without port; a custom domain.
    let r = gw
        .get(&format!("TENANT-C.GW.TEST:{}", s.port), "/context/x")
        .await;
    let doc = verified("upper-case host with port", &r, logs);
    assert_eq!(doc["claims"]["aud"], "tenant-c.gw.test", "{doc}");
    let r = hook(gw, "hooks.tenant-c.test", "/webhooks/invoice", &[]).await;
    let doc = verified("custom domain", &r, logs);
    assert_eq!(doc["claims"]["aud"], "hooks.tenant-c.test", "{doc}");
    assert_eq!(doc["claims"]["tenant_id"], TENANT_C, "{doc}");
}

// ---------------------------------------------------------------------------------------
// Rotation

/// The shortest rotation the gateway accepts (`rotation_interval` >= 2 x `ttl` >= 20s): two
/// intervals of traffic take about 40 s.
const ROTATION_SECS: u64 = 20;
const ROTATION_TTL: i64 = 10;

type LateCheck = tokio::task::JoinHandle<(String, f64, Value)>;

/// What the trickle of requests saw.
#[derive(Default)]
struct Run {
    /// kid → (first seen in the JWKS, first seen missing after that).
    published: BTreeMap<String, (f64, Option<f64>)>,
    /// (time sent, kid) of every verified assertion.
    signed: Vec<(f64, String)>,
    /// (kid, token, exp) of the latest verified assertion.
    last: Option<(String, String, f64)>,
    iat_exp: Vec<(i64, i64)>,
    /// Every distinct assertion and its jti (an identity's assertion is reused a while).
    jtis: BTreeMap<String, String>,
    failures: Vec<String>,
    /// Assertions verified again against a JWKS fetched just before their exp.
    late_checks: Vec<LateCheck>,
}

impl Run {
    /// A JWKS fetched at `t`.
    fn saw_jwks(&mut self, t: f64, now: &BTreeSet<String>) {
        for kid in now {
            match self.published.get(kid) {
                None => {
                    self.published.insert(kid.clone(), (t, None));
                }
                Some((_, Some(gone))) => {
                    let msg = format!("{kid} published again after it was withdrawn at {gone}");
                    self.failures.push(msg);
                }
                Some(_) => {}
            }
        }
        for (kid, (_, gone)) in self.published.iter_mut() {
            if gone.is_none() && !now.contains(kid) {
                *gone = Some(t);
            }
        }
    }

    /// The backend's answer to a request sent at `t`.
    fn saw_answer(&mut self, t: f64, r: &Reply, backend: SocketAddr) {
        let doc: Value = serde_json::from_str(&r.text).unwrap_or(Value::Null);
        if r.status != 200 || doc["verified"] != true {
            self.failures.push(format!("{} {}", r.status, r.text));
            return;
        }
        let kid = doc["kid"].as_str().unwrap_or_default().to_string();
        let c = &doc["claims"];
        let token = token_of(&doc);
        let exp = c["exp"].as_f64().unwrap_or_default();
        self.iat_exp.push((
            c["iat"].as_i64().unwrap_or_default(),
            c["exp"].as_i64().unwrap_or_default(),
        ));
        let jti = c["jti"].as_str().unwrap_or_default().to_string();
        self.jtis.insert(token.clone(), jti);
        if self.signed.is_empty() {
            let check =
                verify_before_exp(backend, "the first assertion".into(), token.clone(), exp);
            self.late_checks.push(check);
        }
        if let Some((prev_kid, prev_token, prev_exp)) = self.last.take() {
            if prev_kid != kid && self.sequence().len() == 1 {
                // The assertion before this one was the last one of the first key: it must
                // still verify against the JWKS near its exp, after the switch.
                let label = format!("the last assertion signed by {prev_kid}");
                let check = verify_before_exp(backend, label, prev_token, prev_exp);
                self.late_checks.push(check);
            }
        }
        self.last = Some((kid.clone(), token, exp));
        self.signed.push((t, kid));
    }

    /// Signing kids in the order they took over.
    fn sequence(&self) -> Vec<String> {
        let mut seq: Vec<String> = Vec::new();
        for (_, kid) in &self.signed {
            if seq.last() != Some(kid) {
                seq.push(kid.clone());
            }
        }
        seq
    }

    /// When `kid` signed first and last.
    fn signing_span(&self, kid: &str) -> (f64, f64) {
        let times: Vec<f64> = self
            .signed
            .iter()
            .filter(|(_, k)| k == kid)
            .map(|(t, _)| *t)
            .collect();
        (times[0], times[times.len() - 1])
    }

    fn done(&self) -> bool {
        let seq = self.sequence();
        let first_withdrawn = seq
            .first()
            .and_then(|k| self.published.get(k))
            .is_some_and(|(_, gone)| gone.is_some());
        seq.len() >= 3 && first_withdrawn
    }

    fn summary(&self) -> String {
        let start = self.signed.first().map_or(0.0, |(t, _)| *t);
        let rel = |t: f64| format!("{:+.1}s", t - start);
        let published: Vec<String> = self
            .published
            .iter()
            .map(|(k, (seen, gone))| {
                format!(
                    "{k}: published {} withdrawn {}",
                    rel(*seen),
                    gone.map(rel).unwrap_or_default()
                )
            })
            .collect();
        let signing: Vec<String> = self
            .sequence()
            .iter()
            .map(|k| {
                let (a, b) = self.signing_span(k);
                format!("{k}: signed {}..{}", rel(a), rel(b))
            })
            .collect();
        format!(
            "{} verified; {signing:?}; {published:?}; failures: {:?}",
            self.signed.len(),
            self.failures
        )
    }
}

/// Verifies `token` against a JWKS fetched in the last second before its `exp`.
fn verify_before_exp(backend: SocketAddr, label: String, token: String, exp: f64) -> LateCheck {
    tokio::spawn(async move {
        eventually(
            &format!("{label}: the last second before its exp"),
            Duration::from_secs(ROTATION_TTL as u64 + 5),
            || async move {
                let left = exp - unix_now();
                if left <= 1.0 {
                    Ok(())
                } else {
                    Err(format!("{left:.2}s before exp"))
                }
            },
        )
        .await;
        let v = assertion_backend_verify(backend, &token, "tenant-c.gw.test").await;
        (label, exp, v)
    })
}

#[tokio::test]
async fn keys_rotate_under_a_trickle_of_requests_and_every_assertion_verifies() {
    let s = Small::start(&format!(
        "  rotation_interval: {ROTATION_SECS}s\n  ttl: {ROTATION_TTL}s\n"
    ));
    let gw = &s.gw;
    let backend = s.backend.addr;
    let run = Arc::new(Mutex::new(Run::default()));
    let interval = ROTATION_SECS as f64;

    // One JWKS fetch and one request per probe, until three keys have signed in turn and the
    // first of them has been withdrawn (about two intervals).
    eventually_with_log(
        "three keys signing in turn and the first one withdrawn",
        Duration::from_secs(ROTATION_SECS * 3),
        || format!("{}\n{}", run.lock().unwrap().summary(), s.logs()),
        || {
            let run = run.clone();
            async move {
                let t = unix_now();
                let published = kids(&jwks_at(gw, "tenant-c.gw.test").await);
                let r = hook(gw, "tenant-c.gw.test", "/webhooks/tick", &[]).await;
                let mut run = run.lock().unwrap();
                run.saw_jwks(t, &published);
                run.saw_answer(t, &r, backend);
                if run.done() {
                    Ok(())
                } else {
                    Err(run.summary())
                }
            }
        },
    )
    .await;

    let mut run = std::mem::take(&mut *run.lock().unwrap());
    let summary = run.summary();
    assert!(run.failures.is_empty(), "every request verifies: {summary}");
    assert!(
        run.iat_exp
            .iter()
            .all(|(iat, exp)| exp - iat == ROTATION_TTL),
        "exp - iat = ttl: {:?}",
        run.iat_exp
    );
    let distinct_jtis: BTreeSet<&String> = run.jtis.values().collect();
    assert_eq!(distinct_jtis.len(), run.jtis.len(), "a jti per assertion");

    // Kids take over one after another, never back.
    let seq = run.sequence();
    let distinct: BTreeSet<&String> = seq.iter().collect();
    assert_eq!(distinct.len(), seq.len(), "no key signs again: {summary}");

    for (i, kid) in seq.iter().enumerate() {
        let (first_signed, last_signed) = run.signing_span(kid);
        let (seen, gone) = run.published[kid];
        assert!(
            seen <= first_signed,
            "{kid} published before it signs: {summary}"
        );
        // Published one interval before it signs (the first key signed from the start).
        if i > 0 {
            assert!(
                first_signed - seen >= interval / 2.0,
                "{kid} published {:.1}s before it signed (interval {interval}s): {summary}",
                first_signed - seen
            );
        }
        // Still published one interval after it stopped signing.
        if i + 1 < seq.len() {
            if let Some(gone) = gone {
                assert!(
                    gone - last_signed >= interval / 2.0,
                    "{kid} withdrawn {:.1}s after it last signed (interval {interval}s): {summary}",
                    gone - last_signed
                );
            }
        } else {
            assert!(
                gone.is_none(),
                "the signing key {kid} is published: {summary}"
            );
        }
    }

    // Assertions verify against the JWKS fetched just before they expire: the first one, and
    // the last one of the first key, after the next key took over.
    assert_eq!(run.late_checks.len(), 2, "{summary}");
    for check in run.late_checks.drain(..) {
        let (label, exp, v) = check.await.unwrap();
        assert_eq!(v["verified"], true, "{label}: {v}\n{summary}");
        let fetched = v["jwks_fetched_at"].as_f64().unwrap();
        assert!(
            fetched < exp && fetched >= exp - 1.5,
            "{label}: JWKS fetched {:.2}s before exp: {v}",
            exp - fetched
        );
    }

    // The backend refetched its JWKS for the keys it had not seen.
    let stats = s.backend.stats().await;
    assert!(
        stats["jwks_fetches"].as_u64().unwrap_or_default() >= 2,
        "{stats}: {summary}"
    );
}

// ---------------------------------------------------------------------------------------
// Restart

#[tokio::test]
async fn a_restart_signs_with_the_keys_it_published_before() {
    let s = Small::start("");
    let Small {
        gw,
        backend,
        port,
        yaml,
        tenants,
    } = s;
    let logs = |gw: &Gateway| logs(gw, &backend);

    let before = kids(&jwks_at(&gw, "tenant-c.gw.test").await);
    assert_eq!(kids(&jwks_on_admin(&gw).await), before);
    let r = hook(&gw, "tenant-c.gw.test", "/webhooks/before", &[]).await;
    let doc = verified("before the restart", &r, || logs(&gw));
    let old_token = token_of(&doc);
    assert!(before.contains(doc["kid"].as_str().unwrap()), "{doc}");

    // The keys are in the key file (next to gateway.yaml by default), readable by the owner only.
    let key_file = gw.path("state/assertion-keys.json");
    let mode = |path: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&key_file), 0o600, "{}", key_file.display());
    let fetches = backend.stats().await["jwks_fetches"].clone();

    let dir = gw.stop();
    let gw = GatewayBuilder::new(&yaml, &tenants)
        .in_dir(dir)
        .http_port(port)
        .env("TEST_SESSION_KEY", SESSION_KEY)
        .no_watch()
        .start();
    assert_eq!(
        kids(&jwks_at(&gw, "tenant-c.gw.test").await),
        before,
        "the same key set after the restart\n{}",
        logs(&gw)
    );
    let r = hook(&gw, "tenant-c.gw.test", "/webhooks/after", &[]).await;
    let doc = verified("after the restart", &r, || logs(&gw));
    let kid = doc["kid"].as_str().unwrap();
    assert!(
        before.contains(kid),
        "{kid} was published before: {before:?}"
    );
    assert_eq!(
        backend.stats().await["jwks_fetches"],
        fetches,
        "the backend's cached keys still verify"
    );
    let v = backend.verify_now(&old_token, "tenant-c.gw.test").await;
    assert_eq!(
        v["verified"], true,
        "an assertion from before the restart: {v}"
    );
    assert_eq!(mode(&gw.path("state/assertion-keys.json")), 0o600);
}
