//! JWT validation against one key: algorithm allow-list (no `none`, no HMAC, so no algorithm
//! confusion), signature, `iss`, `exp`/`nbf` with leeway, `token_use`, audience or Cognito's
//! `client_id`, the tenant (by the IdP's `tenant_binding`), and (for login) the nonce.

use super::jwks::KeyEntry;
use super::{AuthError, ClaimValue, Identity, TokenKind};
use crate::config::{IdpKind, IdpSpec, TenantBinding, DEFAULT_TENANT_CLAIM};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde_json::{Map, Value};

/// Asymmetric algorithms accepted for tokens: RSA (PKCS#1 and PSS) first, then EC P-256, P-384.
pub static ALLOWED: [Algorithm; 8] = [
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

/// The token's `iss`, read without verifying anything: only for choosing how to answer a
/// token that failed validation (401, or 403 for another tenant's issuer), never to trust.
pub fn unverified_issuer(token: &str) -> Option<String> {
    unverified_claims(token)?
        .get("iss")?
        .as_str()
        .map(str::to_string)
}

/// The `iss` and the client a token was issued to (`client_id`, else the first `aud`), read
/// without verifying anything: only to tell "another tenant's token" from "no token of ours".
pub fn unverified_client(token: &str) -> Option<(String, String)> {
    let v = unverified_claims(token)?;
    let iss = v.get("iss")?.as_str()?.to_string();
    let client = match (v.get("client_id"), v.get("aud")) {
        (Some(Value::String(c)), _) => c.clone(),
        (_, Some(Value::String(a))) => a.clone(),
        (_, Some(Value::Array(a))) => a.first()?.as_str()?.to_string(),
        _ => return None,
    };
    Some((iss, client))
}

fn unverified_claims(token: &str) -> Option<Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
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
    /// Claims kept on the identity for the tenant assertion (`assertion.copy_claims`).
    pub copy_claims: &'a [String],
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
    let identity = identity(&c, kind, idp, expect.copy_claims)?;
    bind_tenant(&c, &identity, &idp.tenant_binding, expect.tenant_id)?;
    Ok(identity)
}

/// Whether the token belongs to the tenant of the Host, by the IdP's `tenant_binding`.
fn bind_tenant(
    c: &Map<String, Value>,
    identity: &Identity,
    binding: &TenantBinding,
    tenant_id: &str,
) -> Result<(), AuthError> {
    match binding {
        TenantBinding::Claim {
            claim,
            group_prefix,
        } => match c.get(claim) {
            Some(Value::String(t)) if t.eq_ignore_ascii_case(tenant_id) => Ok(()),
            None | Some(Value::Null) => match group_prefix {
                Some(prefix) => tenant_by_group(identity, prefix, tenant_id),
                None => Err(AuthError::TenantClaimMissing),
            },
            Some(_) => Err(AuthError::TenantMismatch),
        },
        TenantBinding::Group { prefix } => tenant_by_group(identity, prefix, tenant_id),
        // The IdP is this tenant's alone (validation sees to it), so no claim is needed; one
        // naming another tenant is still refused.
        TenantBinding::Issuer => match c.get(DEFAULT_TENANT_CLAIM) {
            None | Some(Value::Null) => Ok(()),
            Some(Value::String(t)) if t.eq_ignore_ascii_case(tenant_id) => Ok(()),
            Some(_) => Err(AuthError::TenantMismatch),
        },
    }
}

/// A tenant group (`<prefix><tenant id>`) decides: none at all is a token without a tenant,
/// only others' is another tenant's.
fn tenant_by_group(identity: &Identity, prefix: &str, tenant_id: &str) -> Result<(), AuthError> {
    let mut tenant_groups = identity
        .groups
        .iter()
        .filter_map(|g| g.strip_prefix(prefix))
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

/// True when a claim value can be sent upstream as one header value without being misread:
/// no control characters (CR, LF, NUL, ...), which a header cannot carry and which dropping
/// would make two different values look alike.
fn header_safe(v: &str) -> bool {
    !v.chars().any(char::is_control)
}

/// The identity the upstream is told about. Groups and list-valued claims travel as
/// structured-field lists (see `proxy::headers`), so any string is safe there; single values
/// with control characters make the token unusable (`unsafe_claim`).
fn identity(
    c: &Map<String, Value>,
    kind: TokenKind,
    idp: &IdpSpec,
    copy_claims: &[String],
) -> Result<Identity, AuthError> {
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
                Value::String(s) => ClaimValue::One(s.clone()),
                Value::Array(a) => ClaimValue::List(
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect(),
                ),
                Value::Null => return None,
                other => ClaimValue::One(other.to_string()),
            };
            Some((h.clone(), v))
        })
        .collect::<Vec<_>>();
    let sub = c.get("sub").and_then(Value::as_str).unwrap_or_default();
    let email = c.get("email").and_then(Value::as_str);
    let singles_safe = header_safe(sub)
        && email.is_none_or(header_safe)
        && extra_headers.iter().all(|(_, v)| match v {
            ClaimValue::One(s) => header_safe(s),
            ClaimValue::List(_) => true,
        });
    if !singles_safe {
        return Err(AuthError::InvalidToken("unsafe_claim"));
    }
    Ok(Identity {
        sub: sub.to_string(),
        email: email.map(str::to_string),
        groups,
        scopes,
        extra_headers,
        expires_at: c.get("exp").and_then(Value::as_u64).unwrap_or(0),
        kind: Some(kind),
        copied: copy_claims
            .iter()
            .filter_map(|name| Some((name.clone(), c.get(name)?.clone())))
            .collect(),
    })
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
