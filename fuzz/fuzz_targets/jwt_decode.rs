//! JWT header and claims decoding (`auth::jwt::header`, `auth::jwt::validate`).
//!
//! Input that starts with `{` is a claims payload: it is signed (ES256, the test key in
//! tests/fixtures) and validated against that key, so the fuzzer reaches the claim checks
//! behind the signature. Any other input is a token as a client sends it.
//!
//! Properties: nothing panics; an accepted header names an allowed algorithm and its `kid`;
//! an accepted token has the issuer, is not expired or not yet valid (beyond the leeway),
//! belongs to the tenant (claim or tenant group), carries the nonce that was asked for, and
//! is an id token when only id tokens are asked for.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::sync::OnceLock;
use tenant_gateway::auth::jwks::KeyEntry;
use tenant_gateway::auth::jwt::{header, validate, Expect, ALLOWED};
use tenant_gateway::auth::{Identity, TokenKind};
use tenant_gateway::config::{IdpKind, IdpSpec, TenantBinding};

const EC_KEY: &[u8] = include_bytes!("../../tests/fixtures/test-ec-key.pem");
const EC_PUB: &[u8] = include_bytes!("../../tests/fixtures/test-ec-pub.pem");
const TENANT: &str = "11111111-1111-4111-8111-111111111111";
const ISSUER: &str = "https://idp.test/pool";
const LEEWAY: u64 = 5;
const NONCE: &str = "n1";

struct Fixture {
    signer: EncodingKey,
    key: KeyEntry,
    cognito: IdpSpec,
    oidc: IdpSpec,
}

fn idp(kind: IdpKind) -> IdpSpec {
    IdpSpec {
        kind,
        issuer: ISSUER.into(),
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
        accept_access_tokens: kind == IdpKind::Cognito,
        audiences: vec!["client-1".into(), "api".into()],
        groups_claim: if kind == IdpKind::Cognito {
            "cognito:groups".into()
        } else {
            "groups".into()
        },
        claim_headers: vec![("x-user-dept".into(), "custom:dept".into())],
        forward_token: false,
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture {
        signer: EncodingKey::from_ec_pem(EC_KEY).expect("test EC key"),
        key: KeyEntry {
            key: DecodingKey::from_ec_pem(EC_PUB).expect("test EC public key"),
            alg: None,
            allowed: &ALLOWED[6..7],
        },
        cognito: idp(IdpKind::Cognito),
        oidc: idp(IdpKind::Oidc),
    })
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What every accepted token must satisfy, read from its own payload.
fn check_accepted(token: &str, id: &Identity, idp: &IdpSpec, expect: &Expect) {
    let payload = token.split('.').nth(1).expect("payload part");
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .expect("payload is base64url");
    let c: Map<String, Value> = serde_json::from_slice(&bytes).expect("claims are an object");
    match c.get("iss") {
        Some(Value::String(s)) => assert_eq!(s, ISSUER, "wrong issuer accepted"),
        Some(Value::Array(a)) => assert!(
            a.iter().any(|v| v.as_str() == Some(ISSUER)),
            "wrong issuers accepted: {a:?}"
        ),
        other => panic!("accepted without a string issuer: {other:?}"),
    }
    assert!(c.contains_key("sub"), "accepted without sub");
    let now = now();
    let exp = c
        .get("exp")
        .and_then(Value::as_f64)
        .expect("exp is a number");
    assert!(
        exp + 2.0 >= (now - LEEWAY) as f64,
        "expired token accepted: {exp}"
    );
    if let Some(nbf) = c.get("nbf").and_then(Value::as_f64) {
        assert!(
            nbf <= (now + LEEWAY + 2) as f64,
            "token accepted before nbf {nbf}"
        );
    }
    let TenantBinding::Claim {
        claim,
        group_prefix,
    } = &idp.tenant_binding
    else {
        panic!("the fuzzed IdPs bind tokens by claim");
    };
    match c.get(claim) {
        Some(Value::String(t)) => assert!(t.eq_ignore_ascii_case(TENANT), "other tenant {t:?}"),
        None | Some(Value::Null) => {
            let prefix = group_prefix.as_deref().unwrap_or_default();
            assert!(
                id.groups.iter().any(|g| g
                    .strip_prefix(prefix)
                    .is_some_and(|t| t.eq_ignore_ascii_case(TENANT))),
                "accepted without the tenant claim or group: {:?}",
                id.groups
            );
        }
        Some(other) => panic!("accepted with a non-string tenant claim {other:?}"),
    }
    if let Some(n) = expect.nonce {
        assert_eq!(c.get("nonce").and_then(Value::as_str), Some(n), "nonce");
    }
    if expect.id_token_only {
        assert_eq!(id.kind, Some(TokenKind::Id), "not an id token");
    }
    match id.kind {
        Some(TokenKind::Access) => assert!(idp.accept_access_tokens, "access token accepted"),
        Some(TokenKind::Id) => {}
        None => panic!("a JWT identity without a token kind"),
    }
}

/// Header, then full validation of `token` with the bearer and the login expectations.
fn run(token: &str) {
    let f = fixture();
    let Ok((h, kid)) = header(token) else {
        return;
    };
    assert!(ALLOWED.contains(&h.alg), "disallowed algorithm {:?}", h.alg);
    assert_eq!(h.kid.as_deref(), Some(kid.as_str()), "kid");
    assert_eq!(token.split('.').count(), 3, "three parts");
    let bearer = Expect {
        tenant_id: TENANT,
        leeway_secs: LEEWAY,
        nonce: None,
        id_token_only: false,
        copy_claims: &[],
    };
    if let Ok(id) = validate(token, &h, &f.key, &f.cognito, &bearer) {
        check_accepted(token, &id, &f.cognito, &bearer);
    }
    let login = Expect {
        tenant_id: TENANT,
        leeway_secs: LEEWAY,
        nonce: Some(NONCE),
        id_token_only: true,
        copy_claims: &[],
    };
    if let Ok(id) = validate(token, &h, &f.key, &f.oidc, &login) {
        check_accepted(token, &id, &f.oidc, &login);
    }
}

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{') {
        let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#);
        let message = format!("{head}.{}", URL_SAFE_NO_PAD.encode(data));
        let sig =
            jsonwebtoken::crypto::sign(message.as_bytes(), &fixture().signer, Algorithm::ES256)
                .expect("ES256 signing");
        run(&format!("{message}.{sig}"));
    } else {
        run(&String::from_utf8_lossy(data));
    }
});
