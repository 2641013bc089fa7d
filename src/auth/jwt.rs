//! JWT validation against one key: algorithm allow-list (no `none`, no HMAC, so no algorithm
//! confusion), signature, `iss`, `exp`/`nbf` with leeway, `token_use`, audience or Cognito's
//! `client_id`, the tenant claim, and (for login) the nonce.

use super::jwks::KeyEntry;
use super::{AuthError, Identity, TokenKind};
use crate::config::{IdpKind, IdpSpec};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde_json::{Map, Value};

/// Asymmetric algorithms accepted for tokens.
const ALLOWED: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Reads the header and returns it with its `kid`, rejecting disallowed algorithms early.
pub fn header(token: &str) -> Result<(Header, String), AuthError> {
    if token.split('.').count() != 3 {
        return Err(AuthError::InvalidToken("malformed"));
    }
    let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
        ErrorKind::InvalidAlgorithmName => AuthError::InvalidToken("unsupported_alg"),
        _ => {
            // `alg: none` and unknown algorithms fail to parse as a header.
            if raw_alg(token).is_some_and(|a| a.eq_ignore_ascii_case("none")) {
                AuthError::InvalidToken("unsupported_alg")
            } else {
                AuthError::InvalidToken("malformed")
            }
        }
    })?;
    if !ALLOWED.contains(&header.alg) {
        return Err(AuthError::InvalidToken("unsupported_alg"));
    }
    let kid = header
        .kid
        .clone()
        .ok_or(AuthError::InvalidToken("missing_kid"))?;
    Ok((header, kid))
}

fn raw_alg(token: &str) -> Option<String> {
    use base64::Engine;
    let first = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(first)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("alg")?.as_str().map(str::to_string)
}

/// What the caller expects of a token beyond the IdP settings.
pub struct Expect<'a> {
    pub tenant_id: &'a str,
    pub leeway_secs: u64,
    /// For the id token of a login: the nonce we sent.
    pub nonce: Option<&'a str>,
    /// Only id tokens (session and login), or whatever the IdP settings accept (bearer).
    pub id_token_only: bool,
}

/// Validates signature and claims; returns the identity the token carries.
pub fn validate(
    token: &str,
    header: &Header,
    key: &KeyEntry,
    idp: &IdpSpec,
    expect: &Expect,
) -> Result<Identity, AuthError> {
    if !key.allowed.contains(&header.alg) || key.alg.is_some_and(|a| a != header.alg) {
        return Err(AuthError::InvalidToken("bad_signature"));
    }
    let mut v = Validation::new(header.alg);
    v.leeway = expect.leeway_secs;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.validate_aud = false; // checked below: Cognito access tokens carry client_id instead
    v.set_issuer(&[idp.issuer.as_str()]);
    v.set_required_spec_claims(&["exp", "iss", "sub"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &v).map_err(|e| {
        AuthError::InvalidToken(match e.kind() {
            ErrorKind::ExpiredSignature => "expired",
            ErrorKind::ImmatureSignature => "not_yet_valid",
            ErrorKind::InvalidIssuer => "wrong_issuer",
            ErrorKind::InvalidSignature => "bad_signature",
            ErrorKind::InvalidAlgorithm => "bad_signature",
            ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => {
                "missing_claim"
            }
            _ => "malformed",
        })
    })?;
    let c = data.claims;
    let kind = token_kind(&c, idp)?;
    if expect.id_token_only && kind != TokenKind::Id {
        return Err(AuthError::InvalidToken("wrong_token_use"));
    }
    match kind {
        TokenKind::Id if !idp.accept_id_tokens && !expect.id_token_only => {
            return Err(AuthError::InvalidToken("wrong_token_use"))
        }
        TokenKind::Access if !idp.accept_access_tokens => {
            return Err(AuthError::InvalidToken("wrong_token_use"))
        }
        _ => {}
    }
    check_audience(&c, kind, idp)?;
    if let Some(nonce) = expect.nonce {
        if c.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(AuthError::InvalidToken("bad_nonce"));
        }
    }
    let identity = identity(&c, kind, idp);
    match c.get(&idp.tenant_claim) {
        Some(Value::String(t)) if t.eq_ignore_ascii_case(expect.tenant_id) => {}
        None | Some(Value::Null) => tenant_by_group(&identity, idp, expect.tenant_id)?,
        Some(_) => return Err(AuthError::TenantMismatch),
    }
    Ok(identity)
}

/// Without the tenant claim, a tenant group (`tenant_group_prefix` + id) decides.
fn tenant_by_group(identity: &Identity, idp: &IdpSpec, tenant_id: &str) -> Result<(), AuthError> {
    let Some(prefix) = &idp.tenant_group_prefix else {
        return Err(AuthError::TenantClaimMissing);
    };
    let mut tenant_groups = identity
        .groups
        .iter()
        .filter_map(|g| g.strip_prefix(prefix.as_str()))
        .peekable();
    if tenant_groups.peek().is_none() {
        return Err(AuthError::TenantClaimMissing);
    }
    if tenant_groups.any(|t| t.eq_ignore_ascii_case(tenant_id)) {
        Ok(())
    } else {
        Err(AuthError::TenantMismatch)
    }
}

/// `token_use` when present (Cognito), else: an id token is addressed to our client.
fn token_kind(c: &Map<String, Value>, idp: &IdpSpec) -> Result<TokenKind, AuthError> {
    match c.get("token_use").and_then(Value::as_str) {
        Some("id") => Ok(TokenKind::Id),
        Some("access") => Ok(TokenKind::Access),
        Some(_) => Err(AuthError::InvalidToken("wrong_token_use")),
        None if idp.kind == IdpKind::Cognito => Err(AuthError::InvalidToken("wrong_token_use")),
        None => {
            let aud_has_client = audiences(c).any(|a| a == idp.client_id);
            let is_access =
                c.get("scope").is_some() || c.get("client_id").is_some() && !aud_has_client;
            Ok(if is_access && c.get("nonce").is_none() {
                TokenKind::Access
            } else {
                TokenKind::Id
            })
        }
    }
}

fn audiences(c: &Map<String, Value>) -> impl Iterator<Item = &str> {
    let list: Vec<&str> = match c.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    list.into_iter()
}

fn check_audience(c: &Map<String, Value>, kind: TokenKind, idp: &IdpSpec) -> Result<(), AuthError> {
    let aud_ok = audiences(c).any(|a| idp.audiences.iter().any(|x| x == a));
    let client_ok = c.get("client_id").and_then(Value::as_str) == Some(idp.client_id.as_str());
    let ok = match (kind, idp.kind) {
        (TokenKind::Id, _) => aud_ok,
        // Cognito access tokens have no `aud`; they name the app client.
        (TokenKind::Access, IdpKind::Cognito) => client_ok,
        (TokenKind::Access, IdpKind::Oidc) => aud_ok || client_ok,
    };
    if ok {
        Ok(())
    } else {
        Err(AuthError::InvalidToken("wrong_audience"))
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => s
            .split([' ', ','])
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
        _ => vec![],
    }
}

fn identity(c: &Map<String, Value>, kind: TokenKind, idp: &IdpSpec) -> Identity {
    let mut groups = strings(c.get(&idp.groups_claim));
    if groups.is_empty() && idp.groups_claim != "groups" {
        groups = strings(c.get("groups"));
    }
    let mut scopes = strings(c.get("scope"));
    if scopes.is_empty() {
        scopes = strings(c.get("scp"));
    }
    let extra_headers = idp
        .claim_headers
        .iter()
        .filter_map(|(h, claim)| {
            let v = match c.get(claim)? {
                Value::String(s) => s.clone(),
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some((h.clone(), v))
        })
        .collect();
    Identity {
        sub: c
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        email: c.get("email").and_then(Value::as_str).map(str::to_string),
        groups,
        scopes,
        extra_headers,
        expires_at: c.get("exp").and_then(Value::as_u64).unwrap_or(0),
        kind: Some(kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{IdpKind, IdpSpec};
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
            tenant_claim: "custom:tenantid".into(),
            tenant_group_prefix: Some("tenant-".into()),
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
            vec![("x-user-dept".to_string(), "ops".to_string())]
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
        no_prefix.tenant_group_prefix = None;
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
        };
        assert!(validate(&t, &h, &rsa_entry(), &i, &e).is_ok());
        e.nonce = Some("other");
        assert_eq!(
            validate(&t, &h, &rsa_entry(), &i, &e),
            Err(AuthError::InvalidToken("bad_nonce"))
        );
    }
}
