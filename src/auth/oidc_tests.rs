//! Unit tests of `oidc`.

use super::*;

#[test]
fn return_paths_stay_on_this_host() {
    assert_eq!(safe_return_to("/orders?id=1"), "/orders?id=1");
    for bad in [
        "//evil.test/x",
        "/\\evil.test",
        "https://evil.test/",
        "evil",
        "/a\r\nb",
    ] {
        assert_eq!(safe_return_to(bad), "/", "{bad}");
    }
}

#[test]
fn authorize_url_has_every_parameter() {
    let idp = crate::config::IdpSpec {
        kind: IdpKind::Cognito,
        issuer: "https://idp.test".into(),
        discovery_url: String::new(),
        authorization_endpoint: None,
        token_endpoint: None,
        jwks_uri: None,
        end_session_endpoint: None,
        client_id: "c1".into(),
        client_secret: None,
        scopes: vec!["openid".into(), "email".into()],
        identity_provider: Some("oidc-provider".into()),
        tenant_binding: crate::config::TenantBinding::default(),
        accept_id_tokens: true,
        accept_access_tokens: true,
        audiences: vec!["c1".into()],
        groups_claim: "cognito:groups".into(),
        claim_headers: vec![],
        forward_token: false,
    };
    let ep = Endpoints {
        authorization: "https://idp.test/oauth2/authorize".into(),
        token: "https://idp.test/oauth2/token".into(),
        end_session: Some("https://idp.test/logout".into()),
    };
    let (flow, url) = start(&idp, &ep, "https://t1.example.com/callback", "/x?y=1", 5).unwrap();
    let u = url::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "c1");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["scope"], "openid email");
    assert_eq!(q["identity_provider"], "oidc-provider");
    assert_eq!(q["redirect_uri"], "https://t1.example.com/callback");
    assert_eq!(q["state"], flow.state);
    assert_eq!(q["nonce"], flow.nonce);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["code_challenge"],
        URL_SAFE_NO_PAD.encode(Sha256::digest(flow.verifier.as_bytes()))
    );
    assert_eq!(flow.return_to, "/x?y=1");
    let out = logout_location(&idp, Some(&ep), "https://t1.example.com", None);
    assert_eq!(
        out,
        "https://idp.test/logout?client_id=c1&logout_uri=https%3A%2F%2Ft1.example.com%2F"
    );
}
