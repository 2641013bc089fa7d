//! Bearer tokens from a real Cognito-shaped IdP (moto): tokens from `initiate_auth` work on
//! their own tenant and nowhere else; every way a token can be wrong is refused with its own
//! reason; JWKS caching (one fetch), an IdP outage with a warm cache, and a cold cache.

mod common;
use common::peers::*;
use common::*;
use serde_json::{json, Value};

struct Setup {
    gw: Gateway,
    moto: Moto,
    fx: Value,
    _web: Backend,
}

fn tenants_yaml(fx: &Value) -> String {
    let idp = |_: &str| {
        format!(
            "    idp:\n      kind: cognito\n      issuer: {}\n      jwks_uri: {}\n      client_id: {}\n      tenant_group_prefix: tenant-\n",
            fx["issuer"].as_str().unwrap(),
            fx["jwks_url"].as_str().unwrap(),
            fx["client_id"].as_str().unwrap()
        )
    };
    format!(
        r#"tenants:
  - id: {TENANT_A}
    name: Tenant A
    subdomain: tenant-a
{a}    routes:
      - {{ prefix: /, pool: web, auth: jwt }}
      - {{ prefix: /admin, pool: web, auth: jwt, require_groups: [admins] }}
      - {{ prefix: /reports, pool: web, auth: jwt, require_scopes: [reports/read] }}
  - id: {TENANT_B}
    name: Tenant B
    subdomain: tenant-b
{b}    routes:
      - {{ prefix: /, pool: web, auth: jwt }}
"#,
        a = idp("a"),
        b = idp("b"),
    )
}

fn setup() -> Setup {
    let moto = Moto::start();
    let fx = cognito_tokens(&moto, &[("a", TENANT_A), ("b", TENANT_B)]);
    let web = Backend::start("web");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&web], ""), &tenants_yaml(&fx))
        .no_watch()
        .start();
    Setup {
        gw,
        moto,
        fx,
        _web: web,
    }
}

async fn call(gw: &Gateway, host: &str, path: &str, token: &str) -> Reply {
    send(
        client()
            .get(gw.url(path))
            .header("host", host)
            .bearer_auth(token),
    )
    .await
}

fn user<'a>(fx: &'a Value, name: &str, token: &str) -> &'a str {
    fx["users"][name][token].as_str().unwrap()
}

/// Claims like moto's id token for user `a`, for forging variations.
fn id_claims(fx: &Value) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({
        "sub": "forged-user", "iss": fx["issuer"], "aud": fx["client_id"], "token_use": "id",
        "iat": now, "exp": now + 600, "custom:tenantid": TENANT_A, "cognito:groups": ["admins"]
    })
}

#[tokio::test]
async fn cognito_id_and_access_tokens_work_on_their_tenant_only() {
    let s = setup();
    for kind in ["id_token", "access_token"] {
        let r = call(
            &s.gw,
            "tenant-a.example.com",
            "/orders",
            user(&s.fx, "a", kind),
        )
        .await;
        assert_eq!(r.status, 200, "{kind}: {}", r.text);
        assert_eq!(r.upstream_header("x-tenant-id").as_deref(), Some(TENANT_A));
        assert_eq!(
            r.upstream_header("x-user-sub").as_deref(),
            s.fx["users"]["a"]["sub"].as_str()
        );
        // An RFC 8941 list of strings: `"admins", "tenant-..."`.
        let groups = r.upstream_header("x-user-groups").unwrap_or_default();
        assert!(groups.split(", ").any(|g| g == "\"admins\""), "{groups}");
        // Admins only: a is in admins, b is not.
        assert_eq!(
            call(
                &s.gw,
                "tenant-a.example.com",
                "/admin",
                user(&s.fx, "a", kind)
            )
            .await
            .status,
            200
        );

        // The same token replayed on tenant B's host.
        let r = call(
            &s.gw,
            "tenant-b.example.com",
            "/orders",
            user(&s.fx, "a", kind),
        )
        .await;
        assert_eq!(r.status, 403, "{kind}: {}", r.text);
        assert_eq!(r.json()["reason"], "tenant_mismatch");
        assert!(r.json().get("backend").is_none());
    }
    let r = call(
        &s.gw,
        "tenant-b.example.com",
        "/",
        user(&s.fx, "b", "id_token"),
    )
    .await;
    assert_eq!(r.upstream_header("x-tenant-id").as_deref(), Some(TENANT_B));

    // A user without the tenant claim.
    let r = call(
        &s.gw,
        "tenant-a.example.com",
        "/",
        user(&s.fx, "orphan", "id_token"),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["reason"], "tenant_claim_missing");

    // Client-sent identity headers are replaced by the token's.
    let r = send(
        client()
            .get(s.gw.url("/"))
            .header("host", "tenant-a.example.com")
            .header("x-user-sub", "root")
            .header("x-user-groups", "superusers")
            .bearer_auth(user(&s.fx, "a", "id_token")),
    )
    .await;
    assert_eq!(
        r.upstream_header("x-user-sub").as_deref(),
        s.fx["users"]["a"]["sub"].as_str()
    );
    assert!(!r
        .upstream_header("x-user-groups")
        .unwrap_or_default()
        .contains("superusers"));
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_reason() {
    let s = setup();
    let gw = &s.gw;
    let base = id_claims(&s.fx);
    let with = |patch: Value| {
        let mut c = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let now = base["iat"].as_u64().unwrap();
    // A genuine token with its payload changed.
    let real = user(&s.fx, "a", "id_token");
    let parts: Vec<&str> = real.split('.').collect();
    let mut claims = jwt_claims(real);
    claims["sub"] = json!("someone-else");
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );

    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "expired",
            forge_token(&with(json!({"exp": now - 3600})), "moto", "dummy"),
            401,
            "expired",
        ),
        (
            "not yet valid",
            forge_token(&with(json!({"nbf": now + 3600})), "moto", "dummy"),
            401,
            "not_yet_valid",
        ),
        (
            "wrong issuer",
            forge_token(
                &with(json!({"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_evil"})),
                "moto",
                "dummy",
            ),
            401,
            "wrong_issuer",
        ),
        (
            "wrong audience",
            forge_token(&with(json!({"aud": "another-client"})), "moto", "dummy"),
            401,
            "wrong_audience",
        ),
        (
            "wrong client_id",
            forge_token(
                &with(json!({"token_use": "access", "aud": null, "client_id": "another-client"})),
                "moto",
                "dummy",
            ),
            401,
            "wrong_audience",
        ),
        (
            "refresh token use",
            forge_token(&with(json!({"token_use": "refresh"})), "moto", "dummy"),
            401,
            "wrong_token_use",
        ),
        ("tampered", tampered, 401, "bad_signature"),
        (
            "unknown kid",
            forge_token(&base, "other-key", "not-a-known-kid"),
            401,
            "unknown_kid",
        ),
        (
            "other key, known kid",
            forge_token(&base, "other-key", "dummy"),
            401,
            "bad_signature",
        ),
        (
            "alg none",
            forge_token(&base, "none", "dummy"),
            401,
            "unsupported_alg",
        ),
        (
            "HS256 with the RSA public key",
            forge_token(&base, "hs256-public", "dummy"),
            401,
            "unsupported_alg",
        ),
        ("malformed", "not.a.jwt".to_string(), 401, "malformed"),
        ("garbage", "garbage".to_string(), 401, "malformed"),
        (
            "tenant mismatch",
            forge_token(&with(json!({"custom:tenantid": TENANT_B})), "moto", "dummy"),
            403,
            "tenant_mismatch",
        ),
        (
            "no tenant claim",
            forge_token(&with(json!({"custom:tenantid": null})), "moto", "dummy"),
            403,
            "tenant_claim_missing",
        ),
    ];
    for (what, token, status, reason) in &cases {
        let r = call(gw, "tenant-a.example.com", "/orders", token).await;
        assert_eq!(r.status, *status, "{what}: {}", r.text);
        assert_eq!(r.json()["reason"], *reason, "{what}");
        if *status == 401 {
            let challenge = r.headers["www-authenticate"].to_str().unwrap();
            assert!(
                challenge.contains("error=\"invalid_token\""),
                "{what}: {challenge}"
            );
            assert!(challenge.contains(reason), "{what}: {challenge}");
        }
    }
    // The forged-but-valid baseline passes, so the cases above fail for their own reason.
    assert_eq!(
        call(
            gw,
            "tenant-a.example.com",
            "/orders",
            &forge_token(&base, "moto", "dummy")
        )
        .await
        .status,
        200
    );

    // Missing credentials and the wrong scheme.
    let r = send(
        client()
            .get(gw.url("/"))
            .header("host", "tenant-a.example.com"),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.headers["www-authenticate"], "Bearer realm=\"tenant-a\"");
    let r = send(
        client()
            .get(gw.url("/"))
            .header("host", "tenant-a.example.com")
            .header("authorization", "Basic dTpw"),
    )
    .await;
    assert_eq!(r.status, 401);

    // Groups and scopes.
    let r = call(
        gw,
        "tenant-a.example.com",
        "/admin",
        user(&s.fx, "orphan", "id_token"),
    )
    .await;
    assert_eq!(r.status, 403);
    let no_admin = forge_token(&with(json!({"cognito:groups": ["staff"]})), "moto", "dummy");
    let r = call(gw, "tenant-a.example.com", "/admin", &no_admin).await;
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (403, json!("missing_group"))
    );
    let r = call(
        gw,
        "tenant-a.example.com",
        "/reports",
        user(&s.fx, "a", "access_token"),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (403, json!("missing_scope"))
    );
    assert!(r.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
    let scoped = forge_token(
        &with(
            json!({"token_use": "access", "aud": null, "client_id": s.fx["client_id"], "scope": "openid reports/read"}),
        ),
        "moto",
        "dummy",
    );
    assert_eq!(
        call(gw, "tenant-a.example.com", "/reports", &scoped)
            .await
            .status,
        200
    );

    let metrics = gw.metrics().await;
    assert!(
        metrics
            .contains("gateway_auth_total{mode=\"jwt\",result=\"expired\",tenant=\"tenant-a\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn keys_are_fetched_once_and_survive_an_idp_outage_but_a_cold_cache_gives_503() {
    let mut s = setup();
    for _ in 0..20 {
        assert_eq!(
            call(
                &s.gw,
                "tenant-a.example.com",
                "/",
                user(&s.fx, "a", "id_token")
            )
            .await
            .status,
            200
        );
        assert_eq!(
            call(
                &s.gw,
                "tenant-b.example.com",
                "/",
                user(&s.fx, "b", "access_token")
            )
            .await
            .status,
            200
        );
    }
    let jwks = s.fx["jwks_url"].as_str().unwrap();
    let metrics = s.gw.metrics().await;
    assert!(
        metrics.contains(&format!(
            "gateway_jwks_fetches_total{{jwks=\"{jwks}\",result=\"ok\"}} 1"
        )),
        "one JWKS fetch for 40 requests on two tenants: {metrics}"
    );

    // The IdP goes down: a token never seen before still validates from the cached keys.
    s.moto.stop();
    let fresh = forge_token(&id_claims(&s.fx), "moto", "dummy");
    let r = call(&s.gw, "tenant-a.example.com", "/", &fresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.upstream_header("x-user-sub").as_deref(),
        Some("forged-user")
    );

    // A gateway that never saw the keys cannot check tokens: 503, not 401.
    let web = Backend::start("web2");
    let cold = GatewayBuilder::new(&gateway_yaml(&[&web], ""), &tenants_yaml(&s.fx))
        .no_watch()
        .start();
    let r = call(&cold, "tenant-a.example.com", "/", &fresh).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json()["error"], "idp_unavailable");
}
