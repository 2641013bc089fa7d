//! Browser login through the gateway against a real OIDC provider (node-oidc-provider), two
//! tenants on two issuers: the whole authorization-code flow, sessions, groups, logout, flow
//! errors, open-redirect attempts, API callers, and JWKS rotation.

mod common;
use common::peers::*;
use common::*;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

const SESSION_KEY: &str = "test-session-key-0123456789-abcdefghijklmnop";

struct Setup {
    gw: Gateway,
    idp_a: OidcProvider,
    idp_b: OidcProvider,
    _web: Backend,
    port: u16,
}

impl Setup {
    fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}.gw.test:{}{path}", self.port)
    }
    fn resolve(&self) -> Vec<(&'static str, SocketAddr)> {
        vec![
            ("tenant-a.gw.test", self.gw.http),
            ("tenant-b.gw.test", self.gw.http),
        ]
    }
}

fn setup() -> Setup {
    setup_with(&[], "")
}

/// `idp_env`: extra environment for tenant A's provider (e.g. a short `TOKEN_TTL`);
/// `auth_extra`: more lines for the gateway's `auth` block.
fn setup_with(idp_env: &[(&str, &str)], auth_extra: &str) -> Setup {
    setup_full(idp_env, auth_extra, "")
}

/// Where the providers may also send a code: the echo backend, standing in for an API
/// client that gets its own tokens (see `api_tokens`).
const API_CLIENT_HOST: &str = "api-client.test";

/// `setup_with`, plus `b_idp_extra`: more lines for tenant B's `idp` (e.g. its
/// `tenant_binding`). Besides the accounts of their tenant, tenant B's provider knows `dave`
/// (no tenant claim at all) and `erin` (tenant A's claim).
fn setup_full(idp_env: &[(&str, &str)], auth_extra: &str, b_idp_extra: &str) -> Setup {
    let port = free_port();
    let web = Backend::start("web");
    let api_client = format!("http://{API_CLIENT_HOST}:{}/cb", web.addr.port());
    let idp_a = OidcProvider::start_with_env(
        free_port(),
        json!([{ "client_id": "gw-a", "client_secret": "secret-a",
                 "redirect_uris": [format!("http://tenant-a.gw.test:{port}/callback"), api_client] }]),
        json!({ "alice": { "tenant": TENANT_A, "groups": ["admins"] },
                "bob": { "tenant": TENANT_A, "groups": ["staff"] },
                "mallory": { "tenant": TENANT_B } }),
        None,
        "a1",
        idp_env,
    );
    let idp_b = start_oidc_provider(
        json!([{ "client_id": "gw-b",
                 "redirect_uris": [format!("http://tenant-b.gw.test:{port}/callback"), api_client] }]),
        json!({ "carol": { "tenant": TENANT_B, "groups": [] },
                "dave": { "groups": ["staff"] },
                "erin": { "tenant": TENANT_A } }),
        None,
        "b1",
    );
    let yaml = gateway_yaml(
        &[&web],
        &format!("auth:\n  session_key: {{ env: TEST_SESSION_KEY }}\n  jwks_min_refetch_interval: 1s\n{auth_extra}"),
    )
    .replace("  - domain: saas.test\n", "  - domain: gw.test\n");
    let tenants = format!(
        r#"tenants:
  - id: {TENANT_A}
    name: Tenant A
    subdomain: tenant-a
    idp:
      kind: oidc
      issuer: {issuer_a}
      client_id: gw-a
      client_secret: {{ env: IDP_A_SECRET }}
      scopes: [openid, email]
      audiences: [gw-a, "urn:tenant-gateway"]
    routes:
      - {{ prefix: /, pool: web }}
      - {{ prefix: /admin, pool: web, require_groups: [admins] }}
      - {{ prefix: /api, pool: web, auth: jwt }}
      - {{ prefix: /public, pool: web, auth: none }}
  - id: {TENANT_B}
    name: Tenant B
    subdomain: tenant-b
    idp:
      kind: oidc
      issuer: {issuer_b}
      client_id: gw-b
{b_idp_extra}"#,
        issuer_a = idp_a.issuer,
        issuer_b = idp_b.issuer,
    );
    let gw = GatewayBuilder::new(&yaml, &tenants)
        .http_port(port)
        .env("TEST_SESSION_KEY", SESSION_KEY)
        .env("IDP_A_SECRET", "secret-a")
        .no_watch()
        .start();
    Setup {
        gw,
        idp_a,
        idp_b,
        _web: web,
        port,
    }
}

#[tokio::test]
async fn full_login_for_two_tenants_on_two_issuers() {
    let s = setup();
    let r = login_with_http_client(
        &s.url("tenant-a", "/dashboard?tab=2"),
        "alice",
        &s.resolve(),
    )
    .await;
    assert_eq!(
        r.final_status,
        200,
        "hops: {:?}\n{}\n{}",
        r.hops,
        r.final_body,
        s.gw.stderr()
    );
    assert_eq!(r.upstream_header("x-tenant-id").as_deref(), Some(TENANT_A));
    assert_eq!(r.upstream_header("x-user-sub").as_deref(), Some("alice"));
    assert_eq!(
        r.upstream_header("x-user-groups").as_deref(),
        Some("\"admins\"")
    );
    assert_eq!(
        r.upstream_header("x-user-email").as_deref(),
        Some("alice@example.test")
    );
    assert_eq!(
        r.json()["path"],
        "/dashboard?tab=2",
        "back to the original path"
    );
    let cookie = r.upstream_header("cookie").unwrap_or_default();
    assert!(
        !cookie.contains("tg_"),
        "gateway cookies never reach the upstream: {cookie}"
    );

    // The authorize redirect carries everything the flow needs.
    let (status, auth_url) = r
        .hop(&format!("{}/auth?", s.idp_a.issuer))
        .expect("went to the IdP")
        .clone();
    assert_eq!(status, 303, "the IdP shows its login: {:?}", r.hops);
    for (k, v) in [
        ("client_id", "gw-a"),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("code_challenge_method", "S256"),
    ] {
        assert_eq!(
            query_param(&auth_url, k).as_deref(),
            Some(v),
            "{k} in {auth_url}"
        );
    }
    assert_eq!(
        query_param(&auth_url, "redirect_uri").as_deref(),
        Some(s.url("tenant-a", "/callback").as_str())
    );
    for k in ["state", "nonce", "code_challenge"] {
        assert!(
            query_param(&auth_url, k).is_some_and(|v| v.len() >= 32),
            "{k} in {auth_url}"
        );
    }
    let session_cookie = r
        .set_cookies
        .iter()
        .find(|(_, c)| c.starts_with("tg_session=") && !c.contains("Max-Age=0"))
        .map(|(_, c)| c.clone())
        .expect("a session cookie");
    assert!(
        session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"),
        "{session_cookie}"
    );
    assert!(
        !session_cookie.contains("Domain"),
        "host-only: {session_cookie}"
    );
    assert!(
        !session_cookie.contains("Secure"),
        "plain HTTP here: {session_cookie}"
    );

    // The session serves further requests without the IdP; alice may enter /admin.
    let again = send(r.client.get(s.url("tenant-a", "/admin/users"))).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        again.upstream_header("x-user-sub").as_deref(),
        Some("alice")
    );

    // Tenant B: another issuer, a public client (PKCE only).
    let r = login_with_http_client(&s.url("tenant-b", "/"), "carol", &s.resolve()).await;
    assert_eq!(r.final_status, 200, "hops: {:?}\n{}", r.hops, r.final_body);
    assert_eq!(r.upstream_header("x-tenant-id").as_deref(), Some(TENANT_B));
    assert_eq!(r.upstream_header("x-user-sub").as_deref(), Some("carol"));
    assert!(r.hop(&format!("{}/auth?", s.idp_b.issuer)).is_some());
}

#[tokio::test]
async fn groups_api_callers_replay_and_logout() {
    let s = setup();
    let bob = login_with_http_client(&s.url("tenant-a", "/"), "bob", &s.resolve()).await;
    assert_eq!(bob.final_status, 200, "{:?}", bob.hops);
    let r = send(bob.client.get(s.url("tenant-a", "/admin"))).await;
    assert_eq!(r.status, 403, "bob is not in admins: {}", r.text);
    assert_eq!(r.json()["reason"], "missing_group");

    // API callers (no HTML) get 401 with a Bearer challenge, never a redirect.
    let c = client();
    for path in ["/", "/api/items"] {
        let r = send(c.get(s.gw.url(path)).header("host", "tenant-a.gw.test")).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text);
        assert!(r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm="));
        assert_eq!(r.json()["reason"], "missing_credentials");
    }
    // A jwt route does not redirect even a browser.
    let r = send(
        c.get(s.gw.url("/api/items"))
            .header("host", "tenant-a.gw.test")
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(r.status, 401);
    // Public route.
    assert_eq!(gw_get(&s, "tenant-a", "/public/x").await.status, 200);
    // A spoofed identity header with no credentials changes nothing.
    let r = send(
        c.get(s.gw.url("/public/x"))
            .header("host", "tenant-a.gw.test")
            .header("x-user-sub", "root"),
    )
    .await;
    assert!(r.upstream_header("x-user-sub").is_none());

    // Tenant A's session cookie replayed on tenant B's host is no session there.
    let session = bob.cookie("tg_session").expect("session cookie");
    let r = send(
        c.get(s.gw.url("/"))
            .header("host", "tenant-b.gw.test")
            .header("cookie", format!("tg_session={session}")),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    // A garbage session cookie is no session either.
    let r = send(
        c.get(s.gw.url("/"))
            .header("host", "tenant-a.gw.test")
            .header("cookie", "tg_session=garbage"),
    )
    .await;
    assert_eq!(r.status, 401);

    // A user whose token names another tenant cannot log in here.
    let m = login_with_http_client(&s.url("tenant-a", "/"), "mallory", &s.resolve()).await;
    assert_eq!(m.final_status, 403, "{:?} {}", m.hops, m.final_body);
    assert!(m.final_body.contains("another tenant"), "{}", m.final_body);

    // Logout clears the session and goes through the IdP's end-session endpoint.
    let out = follow_until(
        bob.client.clone(),
        bob.jar.clone(),
        &s.url("tenant-a", "/logout"),
        &s.url("tenant-a", "/"),
    )
    .await;
    assert!(
        out.hops.iter().any(|(_, u)| u.contains("/session/end")),
        "{:?}",
        out.hops
    );
    assert!(out
        .set_cookies
        .iter()
        .any(|(_, c)| c.starts_with("tg_session=") && c.contains("Max-Age=0")));
    let r = send(bob.client.get(s.url("tenant-a", "/"))).await;
    assert_eq!(r.status, 302, "logged out: back to the IdP");
    assert!(r.headers["location"]
        .to_str()
        .unwrap()
        .starts_with(&s.idp_a.issuer));
}

async fn gw_get(s: &Setup, tenant: &str, path: &str) -> Reply {
    s.gw.get(&format!("{tenant}.gw.test"), path).await
}

#[tokio::test]
async fn flow_errors_end_on_a_page_not_a_loop_and_never_redirect_off_host() {
    let s = setup();
    let (c, _jar) = session_client(&s.resolve());
    // IdP error parameters.
    let r = send(c.get(s.url(
        "tenant-a",
        "/callback?error=access_denied&error_description=user+cancelled&state=x",
    )))
    .await;
    assert_eq!(r.status, 400);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(
        r.text.contains("access_denied") && r.text.contains("Start again"),
        "{}",
        r.text
    );
    // A state with no matching flow cookie, and no code at all.
    for q in ["code=abc&state=forged-state-value", "state=abc"] {
        let r = send(c.get(s.url("tenant-a", &format!("/callback?{q}")))).await;
        assert_eq!(r.status, 400, "{q}: {}", r.text);
        assert!(!r.headers.contains_key("location"), "{q}: no redirect");
    }
    // JSON for API callers.
    let r = send(
        client()
            .get(s.gw.url("/callback?state=x"))
            .header("host", "tenant-a.gw.test"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "login_failed");

    // A tampered state (right cookie, wrong state) fails too.
    let start = send(c.get(s.url("tenant-a", "/x"))).await;
    assert_eq!(start.status, 302);
    let loc = start.headers["location"].to_str().unwrap().to_string();
    let state = query_param(&loc, "state").unwrap();
    let r = send(c.get(s.url("tenant-a", &format!("/callback?code=abc&state={}x", state)))).await;
    assert_eq!(r.status, 400);

    // Open redirect attempts: the return path is always same-host and relative.
    for evil in ["//evil.test/steal", "/\\evil.test"] {
        let r = login_with_http_client(&s.url("tenant-a", evil), "alice", &s.resolve()).await;
        if r.hops.first().map(|(status, _)| *status) == Some(400) {
            // `/\evil.test`: a backslash path is refused before any login starts.
            assert_eq!(evil, "/\\evil.test", "{:?}", r.hops);
            continue;
        }
        let back = r
            .hops
            .iter()
            .skip_while(|(_, u)| !u.contains("/callback"))
            .nth(1)
            .map(|(_, u)| u.clone())
            .unwrap_or_default();
        // The path is canonical (`//evil.test/steal` is the same-host path `/evil.test/steal`):
        // the return hop stays on the tenant's origin.
        let origin = s.url("tenant-a", "/");
        assert!(back.starts_with(&origin), "{evil}: {:?}", r.hops);
        assert!(
            !back[origin.len()..].starts_with('/'),
            "{evil}: {:?}",
            r.hops
        );
        assert!(
            r.hops.iter().all(|(_, u)| !u.starts_with("http://evil")),
            "{:?}",
            r.hops
        );
    }
}

#[tokio::test]
async fn jwks_rotation_is_picked_up_and_a_warm_cache_survives_the_idp_going_down() {
    let mut s = setup();
    let alice = login_with_http_client(&s.url("tenant-a", "/"), "alice", &s.resolve()).await;
    assert_eq!(alice.final_status, 200);

    // The IdP rotates to a new signing key: a token signed with it is accepted, no restart.
    s.idp_a.restart_with_kid("a2");
    tokio::time::sleep(Duration::from_millis(1100)).await; // past jwks_min_refetch_interval
    let bob = login_with_http_client(&s.url("tenant-a", "/"), "bob", &s.resolve()).await;
    assert_eq!(
        bob.final_status,
        200,
        "{:?}\n{}\n{}",
        bob.hops,
        bob.final_body,
        s.gw.stderr()
    );
    assert_eq!(bob.upstream_header("x-user-sub").as_deref(), Some("bob"));

    // The IdP goes away: existing sessions keep working from the caches.
    s.idp_a.stop();
    for who in [&alice, &bob] {
        let r = send(who.client.get(s.url("tenant-a", "/still-here"))).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let metrics = s.gw.metrics().await;
    assert!(
        metrics.contains("gateway_oidc_logins_total{result=\"ok\",tenant=\"tenant-a\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("gateway_jwks_fetches_total"), "{metrics}");
    assert!(
        !s.gw.stderr().contains("secret-a"),
        "client secret must never be logged"
    );
    assert!(
        !s.gw.stderr().contains(SESSION_KEY),
        "session key must never be logged"
    );
}

#[tokio::test]
async fn login_in_a_real_browser() {
    let s = setup();
    let start = s.url("tenant-a", "/in/the/browser?x=1");
    let prefix = start.clone();
    let v = tokio::task::spawn_blocking(move || browser_login(&start, "alice", &prefix))
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(v["body"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("not the echo backend's JSON ({e}): {v}"));
    assert_eq!(body["headers"]["x-tenant-id"], TENANT_A, "{v}");
    assert_eq!(body["headers"]["x-user-sub"], "alice");
    assert_eq!(body["path"], "/in/the/browser?x=1");
    assert_eq!(v["login_form_seen"], true, "{v}");
    let cookies = v["cookies"].as_array().unwrap();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "tg_session")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");
    assert_eq!(session["domain"], "tenant-a.gw.test", "host-only");
    assert!(
        cookies
            .iter()
            .all(|c| !c["name"].as_str().unwrap().starts_with("tg_flow_")),
        "flow cookie cleared: {v}"
    );
}

#[tokio::test]
async fn sessions_refresh_with_the_refresh_token_before_the_id_token_expires() {
    // Tokens live 30 s and the gateway refreshes 29 s before expiry: the next request refreshes.
    let s = setup_with(
        &[("TOKEN_TTL", "30")],
        "  refresh_before: 29s\n  leeway: 0s\n",
    );
    let alice = login_with_http_client(&s.url("tenant-a", "/"), "alice", &s.resolve()).await;
    assert_eq!(alice.final_status, 200, "{:?}", alice.hops);
    let old = alice.cookie("tg_session").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = alice
        .client
        .get(s.url("tenant-a", "/after-refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let fresh = set
        .iter()
        .find(|c| c.starts_with("tg_session=") && !c.contains("Max-Age=0"))
        .unwrap_or_else(|| panic!("{set:?}"));
    assert!(
        !fresh.starts_with(&format!("tg_session={old};")),
        "a new session cookie"
    );
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["headers"]["x-user-sub"], "alice");
    let metrics = s.gw.metrics().await;
    assert!(
        metrics.contains("gateway_oidc_logins_total{result=\"refreshed\",tenant=\"tenant-a\"}"),
        "{metrics}"
    );
    // The refreshed session keeps working.
    assert_eq!(
        alice
            .client
            .get(s.url("tenant-a", "/again"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// A PKCE pair: BASE64URL(SHA256(verifier)) = challenge.
const PKCE_VERIFIER: &str = "peers-selftest-code-verifier-0123456789abcdefghijkl";
const PKCE_CHALLENGE: &str = "Aj3IpFNMVZ4Nj6OrjZ-uvLoKmlwkUEAwoBjO-n9z6y0";

/// Tokens an API client gets from `idp` for `client_id` (with `secret`: confidential, else
/// public with PKCE) by logging in as `login`: the code goes to the echo backend
/// (`API_CLIENT_HOST`), then to the token endpoint.
async fn api_tokens(
    s: &Setup,
    idp: &OidcProvider,
    client_id: &str,
    secret: Option<&str>,
    login: &str,
) -> serde_json::Value {
    let redirect_uri = format!("http://{API_CLIENT_HOST}:{}/cb", s._web.addr.port());
    let mut url = reqwest::Url::parse(&idp.url("/auth")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email")
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("state", "api-state")
        .append_pair("nonce", "api-nonce");
    if secret.is_none() {
        url.query_pairs_mut()
            .append_pair("code_challenge", PKCE_CHALLENGE)
            .append_pair("code_challenge_method", "S256");
    }
    let r = login_with_http_client(url.as_str(), login, &[(API_CLIENT_HOST, s._web.addr)]).await;
    assert!(
        r.final_url.starts_with(&redirect_uri),
        "{:?}\n{}",
        r.hops,
        idp.log()
    );
    let code = query_param(&r.final_url, "code").expect("a code");
    if let Some(secret) = secret {
        return exchange_code(idp, client_id, secret, &code, &redirect_uri).await;
    }
    let resp = client()
        .post(format!("http://{}/token", idp.addr()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("client_id", client_id),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .send()
        .await
        .expect("token request");
    assert!(
        resp.status().is_success(),
        "token endpoint: {}",
        resp.status()
    );
    resp.json().await.expect("token response is JSON")
}

async fn bearer_get(s: &Setup, tenant: &str, path: &str, token: &str) -> Reply {
    send(
        client()
            .get(s.gw.url(path))
            .header("host", format!("{tenant}.gw.test"))
            .bearer_auth(token),
    )
    .await
}

#[tokio::test]
async fn a_tenant_on_an_issuer_of_its_own_needs_no_tenant_claim() {
    // Tenant B's IdP is dedicated to it; tenant A's binds tokens by claim, as before.
    let s = setup_full(&[], "", "      tenant_binding: issuer\n");
    let dave = api_tokens(&s, &s.idp_b, "gw-b", None, "dave").await;
    for kind in ["id_token", "access_token"] {
        let token = dave[kind]
            .as_str()
            .unwrap_or_else(|| panic!("{kind}: {dave}"));
        let claims = jwt_claims(token);
        assert!(claims.get("custom:tenantid").is_none(), "{kind}: {claims}");
        assert_eq!(claims["iss"], s.idp_b.issuer.as_str());

        // Served on its tenant with no tenant claim at all.
        let r = bearer_get(&s, "tenant-b", "/orders", token).await;
        assert_eq!(r.status, 200, "{kind}: {}\n{}", r.text, s.gw.stderr());
        assert_eq!(r.upstream_header("x-tenant-id").as_deref(), Some(TENANT_B));
        assert_eq!(r.upstream_header("x-user-sub").as_deref(), Some("dave"));
        assert_eq!(
            r.upstream_header("x-user-groups").as_deref(),
            Some("\"staff\"")
        );

        // A valid identity of tenant B on tenant A's host: 403, not 401.
        for path in ["/", "/api/items"] {
            let r = bearer_get(&s, "tenant-a", path, token).await;
            assert_eq!(r.status, 403, "{kind} {path}: {}", r.text);
            assert_eq!(r.json()["reason"], "tenant_mismatch", "{}", r.text);
            assert!(
                !r.headers.contains_key("www-authenticate"),
                "{:?}",
                r.headers
            );
        }
    }

    // Tenant A's token (its own claim, its own issuer) on tenant B's host: 403.
    let alice = api_tokens(&s, &s.idp_a, "gw-a", Some("secret-a"), "alice").await;
    let token = alice["access_token"].as_str().unwrap();
    assert_eq!(
        bearer_get(&s, "tenant-a", "/api/items", token).await.status,
        200
    );
    let r = bearer_get(&s, "tenant-b", "/", token).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.json()["reason"], "tenant_mismatch");

    // A token of B's own issuer whose tenant claim names tenant A is refused on B too.
    let erin = api_tokens(&s, &s.idp_b, "gw-b", None, "erin").await;
    let r = bearer_get(&s, "tenant-b", "/", erin["id_token"].as_str().unwrap()).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.json()["reason"], "tenant_mismatch");

    // A token of an issuer no tenant has is still 401.
    let mut forged = alice["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .map(str::to_string)
        .collect::<Vec<_>>();
    let mut claims = jwt_claims(token);
    claims["iss"] = json!("http://127.0.0.1:9/nobody");
    forged[1] = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&claims).unwrap())
    };
    let r = bearer_get(&s, "tenant-b", "/", &forged.join(".")).await;
    assert_eq!(r.status, 401, "{}", r.text);
}
