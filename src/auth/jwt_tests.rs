//! Unit tests of `jwt`.

use super::*;
use crate::config::{IdpKind, IdpSpec, TenantBinding};
use jsonwebtoken::{encode, DecodingKey, EncodingKey};
use serde_json::json;

const RSA_KEY: &[u8] = include_bytes!("../../tests/fixtures/test-rsa-key.pem");
const RSA_PUB: &[u8] = include_bytes!("../../tests/fixtures/test-rsa-pub.pem");
const EC_KEY: &[u8] = include_bytes!("../../tests/fixtures/test-ec-key.pem");
const EC_PUB: &[u8] = include_bytes!("../../tests/fixtures/test-ec-pub.pem");
const TENANT: &str = "11111111-1111-4111-8111-111111111111";

fn idp(kind: IdpKind) -> IdpSpec {
    IdpSpec {
        kind,
        issuer: "https://idp.test/pool".into(),
        discovery_url: String::new(),
        authorization_endpoint: None,
        token_endpoint: None,
        jwks_uri: None,
        end_session_endpoint: None,
        client_id: "client-1".into(),
        client_secret: None,
        scopes: vec!["openid".into()],
        identity_provider: None,
        tenant_binding: TenantBinding::Claim {
            claim: "custom:tenantid".into(),
            group_prefix: Some("tenant-".into()),
        },
        accept_id_tokens: true,
        accept_access_tokens: true,
        audiences: vec!["client-1".into()],
        groups_claim: "cognito:groups".into(),
        claim_headers: vec![("x-user-dept".into(), "custom:dept".into())],
        forward_token: false,
    }
}

fn rsa_entry() -> KeyEntry {
    KeyEntry {
        key: DecodingKey::from_rsa_pem(RSA_PUB).unwrap(),
        alg: None,
        allowed: &[
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
        ],
    }
}

fn now() -> u64 {
    crate::auth::now_secs()
}

fn id_claims() -> Value {
    json!({
        "sub": "alice", "iss": "https://idp.test/pool", "aud": "client-1", "token_use": "id",
        "exp": now() + 600, "iat": now(), "custom:tenantid": TENANT, "email": "a@x.test",
        "cognito:groups": ["admins"], "custom:dept": "ops", "nonce": "n1"
    })
}

fn sign(alg: Algorithm, claims: &Value) -> String {
    let mut h = Header::new(alg);
    h.kid = Some("k1".into());
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(EC_KEY).unwrap(),
        _ => EncodingKey::from_rsa_pem(RSA_KEY).unwrap(),
    };
    encode(&h, claims, &key).unwrap()
}

fn check(token: &str, entry: &KeyEntry, idp: &IdpSpec) -> Result<Identity, AuthError> {
    let (h, _) = header(token)?;
    let expect = Expect {
        tenant_id: TENANT,
        leeway_secs: 5,
        nonce: None,
        id_token_only: false,
        copy_claims: &[],
    };
    validate(token, &h, entry, idp, &expect)
}

#[test]
fn accepts_a_good_id_token_and_reads_the_identity() {
    let id = check(
        &sign(Algorithm::RS256, &id_claims()),
        &rsa_entry(),
        &idp(IdpKind::Cognito),
    )
    .unwrap();
    assert_eq!(id.sub, "alice");
    assert_eq!(id.email.as_deref(), Some("a@x.test"));
    assert_eq!(id.groups, vec!["admins"]);
    assert_eq!(id.kind, Some(TokenKind::Id));
    assert_eq!(
        id.extra_headers,
        vec![(
            "x-user-dept".to_string(),
            ClaimValue::One("ops".to_string())
        )]
    );
    let ps = check(
        &sign(Algorithm::PS256, &id_claims()),
        &rsa_entry(),
        &idp(IdpKind::Cognito),
    );
    assert!(ps.is_ok(), "{ps:?}");
}

#[test]
fn accepts_es256() {
    let entry = KeyEntry {
        key: DecodingKey::from_ec_pem(EC_PUB).unwrap(),
        alg: None,
        allowed: &[Algorithm::ES256],
    };
    assert!(check(
        &sign(Algorithm::ES256, &id_claims()),
        &entry,
        &idp(IdpKind::Cognito)
    )
    .is_ok());
    // An RSA-signed token against an EC key is refused.
    assert_eq!(
        check(
            &sign(Algorithm::RS256, &id_claims()),
            &entry,
            &idp(IdpKind::Cognito)
        ),
        Err(AuthError::InvalidToken("bad_signature"))
    );
}

#[test]
fn cognito_access_tokens_need_the_client_id() {
    let mut c = id_claims();
    c["token_use"] = json!("access");
    c.as_object_mut().unwrap().remove("aud");
    c["client_id"] = json!("client-1");
    c["scope"] = json!("openid api/read");
    let id = check(
        &sign(Algorithm::RS256, &c),
        &rsa_entry(),
        &idp(IdpKind::Cognito),
    )
    .unwrap();
    assert_eq!(id.kind, Some(TokenKind::Access));
    assert_eq!(id.scopes, vec!["openid", "api/read"]);
    c["client_id"] = json!("other-client");
    assert_eq!(
        check(
            &sign(Algorithm::RS256, &c),
            &rsa_entry(),
            &idp(IdpKind::Cognito)
        ),
        Err(AuthError::InvalidToken("wrong_audience"))
    );
}

#[test]
fn rejections_have_precise_reasons() {
    let i = idp(IdpKind::Cognito);
    let cases: Vec<(Value, AuthError)> = vec![
        (
            json!({"exp": now() - 100}),
            AuthError::InvalidToken("expired"),
        ),
        (
            json!({"nbf": now() + 100}),
            AuthError::InvalidToken("not_yet_valid"),
        ),
        (
            json!({"iss": "https://evil.test"}),
            AuthError::InvalidToken("wrong_issuer"),
        ),
        (
            json!({"aud": "someone-else"}),
            AuthError::InvalidToken("wrong_audience"),
        ),
        (
            json!({"token_use": "refresh"}),
            AuthError::InvalidToken("wrong_token_use"),
        ),
        (
            json!({"custom:tenantid": "22222222-2222-4222-8222-222222222222"}),
            AuthError::TenantMismatch,
        ),
        (
            json!({"custom:tenantid": null}),
            AuthError::TenantClaimMissing,
        ),
    ];
    for (patch, want) in cases {
        let mut c = id_claims();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        assert_eq!(
            check(&sign(Algorithm::RS256, &c), &rsa_entry(), &i),
            Err(want.clone()),
            "{patch}"
        );
    }
}

#[test]
fn a_tenant_group_stands_in_for_a_missing_tenant_claim() {
    let mut c = id_claims();
    c.as_object_mut().unwrap().remove("custom:tenantid");
    c["cognito:groups"] = json!(["admins", format!("tenant-{TENANT}")]);
    assert!(check(
        &sign(Algorithm::RS256, &c),
        &rsa_entry(),
        &idp(IdpKind::Cognito)
    )
    .is_ok());
    let mut no_prefix = idp(IdpKind::Cognito);
    no_prefix.tenant_binding = TenantBinding::default();
    assert_eq!(
        check(&sign(Algorithm::RS256, &c), &rsa_entry(), &no_prefix),
        Err(AuthError::TenantClaimMissing)
    );
}

#[test]
fn tampering_none_and_hmac_confusion_are_refused() {
    let i = idp(IdpKind::Cognito);
    let good = sign(Algorithm::RS256, &id_claims());
    // Change one claim, keep the signature.
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("mallory");
    parts[1] = b64.encode(serde_json::to_vec(&claims).unwrap());
    assert_eq!(
        check(&parts.join("."), &rsa_entry(), &i),
        Err(AuthError::InvalidToken("bad_signature"))
    );

    let none_header = b64.encode(br#"{"alg":"none","kid":"k1","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{}.", parts[1]);
    assert_eq!(
        check(&unsigned, &rsa_entry(), &i),
        Err(AuthError::InvalidToken("unsupported_alg"))
    );

    // HS256 "signed" with the RSA public key as the secret.
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("k1".into());
    let forged = encode(&h, &id_claims(), &EncodingKey::from_secret(RSA_PUB)).unwrap();
    assert_eq!(
        check(&forged, &rsa_entry(), &i),
        Err(AuthError::InvalidToken("unsupported_alg"))
    );

    assert_eq!(
        check("not-a-token", &rsa_entry(), &i),
        Err(AuthError::InvalidToken("malformed"))
    );
    assert_eq!(
        check("a.b.c", &rsa_entry(), &i),
        Err(AuthError::InvalidToken("malformed"))
    );
}

#[test]
fn login_checks_the_nonce_and_wants_an_id_token() {
    let i = idp(IdpKind::Cognito);
    let t = sign(Algorithm::RS256, &id_claims());
    let (h, _) = header(&t).unwrap();
    let mut e = Expect {
        tenant_id: TENANT,
        leeway_secs: 0,
        nonce: Some("n1"),
        id_token_only: true,
        copy_claims: &[],
    };
    assert!(validate(&t, &h, &rsa_entry(), &i, &e).is_ok());
    e.nonce = Some("other");
    assert_eq!(
        validate(&t, &h, &rsa_entry(), &i, &e),
        Err(AuthError::InvalidToken("bad_nonce"))
    );
}

#[test]
fn control_characters_in_single_claims_make_the_token_unusable() {
    let mut c = id_claims();
    c["sub"] = serde_json::json!("alice\r\nx-user-groups: admins");
    let r = check(
        &sign(Algorithm::RS256, &c),
        &rsa_entry(),
        &idp(IdpKind::Cognito),
    );
    assert_eq!(r.unwrap_err(), AuthError::InvalidToken("unsafe_claim"));
    let mut c = id_claims();
    c["cognito:groups"] = serde_json::json!(["a,b", "c\nd"]);
    let id = check(
        &sign(Algorithm::RS256, &c),
        &rsa_entry(),
        &idp(IdpKind::Cognito),
    )
    .unwrap();
    assert_eq!(id.groups, vec!["a,b", "c\nd"]);
}

const OTHER: &str = "22222222-2222-4222-8222-222222222222";

fn bound(binding: TenantBinding) -> IdpSpec {
    IdpSpec {
        tenant_binding: binding,
        ..idp(IdpKind::Cognito)
    }
}

/// The id token's claims with `patch` applied (`null` removes a claim).
fn claims_with(patch: Value) -> Value {
    let mut c = id_claims();
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn check_claims(patch: Value, idp: &IdpSpec) -> Result<Identity, AuthError> {
    check(
        &sign(Algorithm::RS256, &claims_with(patch)),
        &rsa_entry(),
        idp,
    )
}

#[test]
fn claim_binding_reads_the_configured_claim_case_insensitively() {
    let i = bound(TenantBinding::Claim {
        claim: "org".into(),
        group_prefix: None,
    });
    let upper = TENANT.to_ascii_uppercase();
    assert!(check_claims(json!({"org": upper, "custom:tenantid": null}), &i).is_ok());
    // The default claim means nothing to this IdP.
    assert_eq!(
        check_claims(json!({"org": null}), &i),
        Err(AuthError::TenantClaimMissing)
    );
    assert_eq!(
        check_claims(json!({"org": OTHER}), &i),
        Err(AuthError::TenantMismatch)
    );
    // A claim naming another tenant is refused even with this tenant's group.
    let with_group = bound(TenantBinding::Claim {
        claim: "custom:tenantid".into(),
        group_prefix: Some("tenant-".into()),
    });
    assert_eq!(
        check_claims(
            json!({"custom:tenantid": OTHER, "cognito:groups": [format!("tenant-{TENANT}")]}),
            &with_group
        ),
        Err(AuthError::TenantMismatch)
    );
    // Without the claim, another tenant's group is a mismatch, no tenant group at all is none.
    assert_eq!(
        check_claims(
            json!({"custom:tenantid": null, "cognito:groups": [format!("tenant-{OTHER}")]}),
            &with_group
        ),
        Err(AuthError::TenantMismatch)
    );
    assert_eq!(
        check_claims(
            json!({"custom:tenantid": null, "cognito:groups": ["admins"]}),
            &with_group
        ),
        Err(AuthError::TenantClaimMissing)
    );
}

#[test]
fn group_binding_needs_the_tenant_group_and_ignores_the_claim() {
    let i = bound(TenantBinding::Group {
        prefix: "org-".into(),
    });
    let group = format!("org-{TENANT}");
    assert!(check_claims(
        json!({"custom:tenantid": null, "cognito:groups": ["admins", group]}),
        &i
    )
    .is_ok());
    // The claim alone does not do it.
    assert_eq!(
        check_claims(json!({"cognito:groups": ["admins"]}), &i),
        Err(AuthError::TenantClaimMissing)
    );
    assert_eq!(
        check_claims(json!({"cognito:groups": [format!("org-{OTHER}")]}), &i),
        Err(AuthError::TenantMismatch)
    );
    // The IdP's groups claim is the one read.
    let mut oidc = bound(TenantBinding::Group {
        prefix: "org-".into(),
    });
    oidc.groups_claim = "roles".into();
    assert!(check_claims(json!({"cognito:groups": null, "roles": [group]}), &oidc).is_ok());
}

#[test]
fn issuer_binding_needs_no_tenant_claim_but_refuses_another_tenants() {
    let i = bound(TenantBinding::Issuer);
    let id = check_claims(json!({"custom:tenantid": null, "cognito:groups": null}), &i).unwrap();
    assert_eq!(id.sub, "alice");
    assert!(
        check_claims(json!({}), &i).is_ok(),
        "its own tenant's claim"
    );
    let mut access = claims_with(json!({"custom:tenantid": null, "aud": null, "nonce": null}));
    access["token_use"] = json!("access");
    access["client_id"] = json!("client-1");
    assert!(check(&sign(Algorithm::RS256, &access), &rsa_entry(), &i).is_ok());
    assert_eq!(
        check_claims(json!({"custom:tenantid": OTHER}), &i),
        Err(AuthError::TenantMismatch)
    );
    assert_eq!(
        check_claims(json!({"custom:tenantid": ["x"]}), &i),
        Err(AuthError::TenantMismatch)
    );
    // Everything else about the token is still checked: issuer, audience, client.
    for (patch, reason) in [
        (json!({"iss": "https://other.test/pool"}), "wrong_issuer"),
        (json!({"aud": "client-2"}), "wrong_audience"),
    ] {
        assert_eq!(
            check_claims(patch.clone(), &i),
            Err(AuthError::InvalidToken(reason)),
            "{patch}"
        );
    }
    access["client_id"] = json!("client-2");
    assert_eq!(
        check(&sign(Algorithm::RS256, &access), &rsa_entry(), &i),
        Err(AuthError::InvalidToken("wrong_audience"))
    );
}

#[test]
fn the_unverified_issuer_is_read_from_the_payload() {
    let t = sign(Algorithm::RS256, &id_claims());
    assert_eq!(
        unverified_issuer(&t).as_deref(),
        Some("https://idp.test/pool")
    );
    let no_iss = sign(Algorithm::RS256, &claims_with(json!({"iss": null})));
    assert_eq!(unverified_issuer(&no_iss), None);
    for bad in ["", "a", "a.b.c", "a.!!!.c", "a.e30.c"] {
        assert_eq!(unverified_issuer(bad), None, "{bad}");
    }
}
