//! The auth tests' peers work on their own, before any gateway is involved: the OIDC provider
//! (discovery, JWKS, key rotation, a whole code flow by HTTP client and by browser, PKCE for
//! public clients) and Cognito tokens from moto.

mod common;
use common::peers::*;
use common::*;
use serde_json::{json, Value};

const CONFIDENTIAL: &str = "gw-confidential";
const SECRET: &str = "gw-secret-0123456789";
const PUBLIC: &str = "gw-public";
/// A PKCE pair: BASE64URL(SHA256(verifier)) = challenge.
const PKCE_VERIFIER: &str = "peers-selftest-code-verifier-0123456789abcdefghijkl";
const PKCE_CHALLENGE: &str = "Aj3IpFNMVZ4Nj6OrjZ-uvLoKmlwkUEAwoBjO-n9z6y0";

/// A provider whose clients send users back to `callback_port` (an echo backend standing in
/// for the gateway's callback).
fn provider(callback_port: u16) -> OidcProvider {
    start_oidc_provider(
        json!([
            {"client_id": CONFIDENTIAL, "client_secret": SECRET,
             "redirect_uris": [format!("http://tenant-a.gw.test:{callback_port}/callback")]},
            {"client_id": PUBLIC,
             "redirect_uris": [format!("http://tenant-b.gw.test:{callback_port}/callback")]},
        ]),
        json!({"alice": {"tenant": TENANT_A, "groups": ["admins", "ops"]}}),
        Some(TENANT_B),
        "k1",
    )
}

fn auth_url(idp: &OidcProvider, client_id: &str, redirect_uri: &str) -> String {
    let mut url = reqwest::Url::parse(&idp.url("/auth")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", "st-1")
        .append_pair("nonce", "nonce-1");
    url.to_string()
}

async fn get_json(url: &str) -> Value {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn oidc_provider_discovery_jwks_and_key_rotation() {
    let mut idp = provider(free_port());
    let conf = get_json(&idp.discovery_url()).await;
    assert_eq!(conf["issuer"], idp.issuer.as_str());
    assert_eq!(conf["jwks_uri"], idp.jwks_url().as_str());
    assert_eq!(
        conf["end_session_endpoint"],
        idp.url("/session/end").as_str()
    );
    assert_eq!(conf["code_challenge_methods_supported"], json!(["S256"]));

    let kids = |jwks: Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kids(get_json(&idp.jwks_url()).await), ["k1"]);

    idp.restart_with_kid("k2");
    assert_eq!(kids(get_json(&idp.jwks_url()).await), ["k2"]);

    idp.stop();
    assert!(client().get(idp.jwks_url()).send().await.is_err());
    idp.start_again();
    assert_eq!(kids(get_json(&idp.jwks_url()).await), ["k2"]);
}

#[tokio::test]
async fn http_client_login_gets_a_code_and_tokens_with_tenant_claims() {
    let callback = Backend::start("callback");
    let idp = provider(callback.addr.port());
    let redirect_uri = format!("http://tenant-a.gw.test:{}/callback", callback.addr.port());

    let r = login_with_http_client(
        &auth_url(&idp, CONFIDENTIAL, &redirect_uri),
        "alice",
        &[("tenant-a.gw.test", callback.addr)],
    )
    .await;
    assert_eq!(r.final_status, 200, "{r:#?}\n{}", idp.log());
    assert!(r.final_url.starts_with(&redirect_uri), "{r:#?}");
    assert_eq!(query_param(&r.final_url, "state").as_deref(), Some("st-1"));
    assert_eq!(
        query_param(&r.final_url, "iss").as_deref(),
        Some(idp.issuer.as_str())
    );
    // /auth → login form → posted → /auth/<uid> → consent form → posted → callback
    assert_eq!(
        r.hops
            .iter()
            .filter(|(_, u)| u.contains("/interaction/"))
            .count(),
        4
    );
    assert_eq!(
        r.json()["headers"]["host"],
        format!("tenant-a.gw.test:{}", callback.addr.port())
    );

    let code = query_param(&r.final_url, "code").expect("code in the callback");
    let tokens = exchange_code(&idp, CONFIDENTIAL, SECRET, &code, &redirect_uri).await;
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], idp.issuer.as_str());
    assert_eq!(id["aud"], CONFIDENTIAL);
    assert_eq!(id["sub"], "alice");
    assert_eq!(id["nonce"], "nonce-1");
    assert_eq!(id["custom:tenantid"], TENANT_A);
    assert_eq!(id["groups"], json!(["admins", "ops"]));
    assert_eq!(id["email"], "alice@example.test");
    assert_eq!(
        jwt_header(tokens["id_token"].as_str().unwrap())["kid"],
        "k1"
    );

    let at = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], "urn:tenant-gateway");
    assert_eq!(at["client_id"], CONFIDENTIAL);
    assert_eq!(at["custom:tenantid"], TENANT_A);
    assert_eq!(at["scope"], "openid email");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");

    // RP-initiated logout back to the redirect URI's origin, without a click.
    let home = format!("http://tenant-a.gw.test:{}/", callback.addr.port());
    let mut logout = reqwest::Url::parse(&idp.url("/session/end")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", &home)
        .append_pair("state", "bye");
    let out = follow_until(r.client.clone(), r.jar.clone(), logout.as_str(), &home).await;
    assert_eq!(out.final_url, format!("{home}?state=bye"), "{out:#?}");
    assert_eq!(out.final_status, 200);
    assert!(out.hop("/session/end/confirm").is_some(), "{out:#?}");
    // The IdP session is gone: a new authorization request shows the login form again.
    let again = follow_until(
        r.client.clone(),
        r.jar.clone(),
        &auth_url(&idp, CONFIDENTIAL, &redirect_uri),
        &redirect_uri,
    )
    .await;
    assert!(again.final_url.contains("/interaction/"), "{again:#?}");
    assert!(again.final_body.contains(r#"name="login""#));
}

#[tokio::test]
async fn public_client_needs_pkce_and_unlisted_logins_get_the_default_tenant() {
    let callback = Backend::start("callback");
    let idp = provider(callback.addr.port());
    let redirect_uri = format!("http://tenant-b.gw.test:{}/callback", callback.addr.port());
    let resolve = [("tenant-b.gw.test", callback.addr)];

    // Without PKCE the provider sends an error back to the redirect URI.
    let r = login_with_http_client(&auth_url(&idp, PUBLIC, &redirect_uri), "bob", &resolve).await;
    assert_eq!(
        query_param(&r.final_url, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(idp.log().contains("requires PKCE"), "{}", idp.log());

    // With a challenge it logs in, and only the matching verifier gets tokens.
    let url = format!(
        "{}&code_challenge={PKCE_CHALLENGE}&code_challenge_method=S256",
        auth_url(&idp, PUBLIC, &redirect_uri)
    );
    let redeem = |verifier: &'static str| {
        let idp_token = idp.url("/token");
        let redirect_uri = redirect_uri.clone();
        let url = url.clone();
        async move {
            let r = login_with_http_client(&url, "bob", &resolve).await;
            let code = query_param(&r.final_url, "code").expect("code");
            client()
                .post(idp_token)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", PUBLIC),
                    ("code", &code),
                    ("redirect_uri", &redirect_uri),
                    ("code_verifier", verifier),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = redeem("wrong-verifier-0123456789abcdefghijklmnopqrstuvwxyz").await;
    assert_eq!(wrong.status(), 400);
    let tokens: Value = redeem(PKCE_VERIFIER).await.json().await.unwrap();
    // bob is not listed, so he has the default tenant.
    let id = jwt_claims(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(id["sub"], "bob");
    assert_eq!(id["custom:tenantid"], TENANT_B);
    assert_eq!(id["groups"], json!([]));
}

#[test]
fn browser_login_reaches_the_callback() {
    let callback = Backend::start("callback");
    let idp = provider(callback.addr.port());
    let redirect_uri = format!("http://tenant-a.gw.test:{}/callback", callback.addr.port());
    let out = browser_login(
        &auth_url(&idp, CONFIDENTIAL, &redirect_uri),
        "alice",
        &redirect_uri,
    );
    assert_eq!(out["login_form_seen"], true, "{out}");
    assert_eq!(out["status"], 200, "{out}");
    let url = out["url"].as_str().unwrap();
    assert!(query_param(url, "code").is_some(), "{out}");
    // The echo backend's JSON, as the browser shows it.
    let body: Value = serde_json::from_str(out["body"].as_str().unwrap()).expect("JSON body");
    assert!(
        body["path"]
            .as_str()
            .unwrap()
            .starts_with("/callback?code="),
        "{body}"
    );
    assert!(out["cookies"].is_array(), "{out}");
}

#[tokio::test]
async fn cognito_tokens_from_moto_carry_tenant_claims() {
    let moto = Moto::start();
    let t = cognito_tokens(&moto, &[("tenant-a", TENANT_A), ("tenant-b", TENANT_B)]);
    let pool = t["pool_id"].as_str().unwrap();
    let client_id = t["client_id"].as_str().unwrap();
    assert_eq!(
        t["issuer"],
        format!("https://cognito-idp.us-east-1.amazonaws.com/{pool}")
    );
    assert_eq!(
        t["jwks_url"],
        format!("{}/{pool}/.well-known/jwks.json", moto.url)
    );

    let a = &t["users"]["tenant-a"];
    let id = jwt_claims(a["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], t["issuer"]);
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["aud"], client_id);
    assert_eq!(id["custom:tenantid"], TENANT_A);
    let groups = id["cognito:groups"].as_array().unwrap();
    assert!(groups.contains(&json!("admins")), "{groups:?}");
    assert!(
        groups.contains(&json!(format!("tenant-{TENANT_A}"))),
        "{groups:?}"
    );
    assert_eq!(id["cognito:username"], "tenant-a-user");
    let at = jwt_claims(a["access_token"].as_str().unwrap());
    assert_eq!(at["token_use"], "access");
    assert_eq!(at["client_id"], client_id);
    assert!(at.get("aud").is_none(), "{at}");
    assert_eq!(
        jwt_header(a["access_token"].as_str().unwrap())["kid"],
        "dummy"
    );

    let b = jwt_claims(t["users"]["tenant-b"]["id_token"].as_str().unwrap());
    assert_eq!(b["custom:tenantid"], TENANT_B);
    assert_eq!(
        b["cognito:groups"],
        json!([format!("tenant-{TENANT_B}")]),
        "{b}"
    );
    let orphan = jwt_claims(t["users"]["orphan"]["id_token"].as_str().unwrap());
    assert!(orphan.get("custom:tenantid").is_none(), "{orphan}");
    assert!(orphan.get("cognito:groups").is_none(), "{orphan}");
    assert_eq!(t["users"]["orphan"]["tenant"], Value::Null);

    let jwks = get_json(t["jwks_url"].as_str().unwrap()).await;
    assert_eq!(jwks["keys"][0]["kid"], "dummy");
}
