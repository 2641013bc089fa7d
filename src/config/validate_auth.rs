//! Validation of authentication settings: the gateway's `auth` block, tenant IdPs, webhook
//! credentials, and whether each route's auth mode is backed by what it needs. Secrets are
//! resolved here (environment or file) so a missing one fails the load, not a request.

use super::error::Issue;
use super::file::{
    AuthFile, AuthModeFile, BasicUserFile, IdpFile, IdpKindFile, SecretRefFile, TokenKindFile,
};
use super::model::*;
use std::path::Path;

pub(super) struct Scope<'a> {
    pub file: &'a Path,
    pub tenant: Option<String>,
    pub issues: &'a mut Vec<Issue>,
}

impl Scope<'_> {
    pub fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.issues.push(Issue {
            file: self.file.to_path_buf(),
            tenant: self.tenant.clone(),
            field: field.into(),
            message: message.into(),
        });
    }
}

pub(super) fn auth_mode(m: AuthModeFile) -> AuthMode {
    match m {
        AuthModeFile::None => AuthMode::None,
        AuthModeFile::Oidc => AuthMode::Oidc,
        AuthModeFile::Jwt => AuthMode::Jwt,
        AuthModeFile::Basic => AuthMode::Basic,
    }
}

/// Reads a secret reference. Relative files are resolved against the config file.
pub(super) fn secret(s: &mut Scope, field: &str, r: &SecretRefFile) -> Option<Secret> {
    let value = match (&r.env, &r.file) {
        (Some(var), None) => match std::env::var(var) {
            Ok(v) => v,
            Err(_) => {
                s.err(field, format!("environment variable {var} is not set"));
                return None;
            }
        },
        (None, Some(p)) => {
            let p = super::validate::relative_to(s.file, p);
            match std::fs::read_to_string(&p) {
                Ok(v) => v,
                Err(e) => {
                    s.err(field, format!("cannot read {}: {e}", p.display()));
                    return None;
                }
            }
        }
        _ => {
            s.err(field, "give exactly one of `env` or `file`");
            return None;
        }
    };
    let value = value.trim();
    if value.is_empty() {
        s.err(field, "the secret is empty");
        return None;
    }
    Some(Secret::new(value))
}

fn check_path(s: &mut Scope, field: &str, p: &str) {
    if !p.starts_with('/') || p.contains('?') || p.contains('#') {
        s.err(field, format!("{p:?} must be a plain absolute path"));
    }
}

pub(super) fn settings(s: &mut Scope, a: &AuthFile) -> AuthSettings {
    let session_key = a
        .session_key
        .as_ref()
        .and_then(|r| secret(s, "auth.session_key", r));
    if let Some(k) = &session_key {
        if k.expose().len() < 32 {
            s.err("auth.session_key", "must be at least 32 characters");
        }
    }
    check_path(s, "auth.callback_path", &a.callback_path);
    check_path(s, "auth.logout_path", &a.logout_path);
    if a.callback_path == a.logout_path {
        s.err("auth.logout_path", "must differ from callback_path");
    }
    if a.basic.max_concurrent == Some(0) {
        s.err("auth.basic.max_concurrent", "must be at least 1");
    }
    if a.basic.max_queue == 0 {
        s.err("auth.basic.max_queue", "must be at least 1");
    }
    if a.basic.queue_timeout.is_zero() {
        s.err("auth.basic.queue_timeout", "must be positive");
    }
    if a.basic.failure_cache_ttl.is_zero() {
        s.err("auth.basic.failure_cache_ttl", "must be positive");
    }
    if a.idp_max_response_bytes == 0 {
        s.err("auth.idp_max_response_bytes", "must be positive");
    }
    from_file(a, session_key)
}

/// The settings of an `auth` block, given its resolved session key.
pub(super) fn from_file(a: &AuthFile, session_key: Option<Secret>) -> AuthSettings {
    AuthSettings {
        session_key,
        session_ttl: a.session_ttl,
        refresh_before: a.refresh_before,
        callback_path: a.callback_path.clone(),
        logout_path: a.logout_path.clone(),
        leeway: a.leeway,
        jwks_refresh_interval: a.jwks_refresh_interval,
        jwks_min_refetch_interval: a.jwks_min_refetch_interval,
        http_timeout: a.http_timeout,
        claims_cache_size: a.claims_cache_size,
        basic: BasicLimits {
            max_concurrent: a
                .basic
                .max_concurrent
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            max_queue: a.basic.max_queue,
            queue_timeout: a.basic.queue_timeout,
            failure_cache_ttl: a.basic.failure_cache_ttl,
        },
        idp_max_response_bytes: a.idp_max_response_bytes,
    }
}

fn url(s: &mut Scope, field: &str, v: &str) -> Option<String> {
    match reqwest::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Some(v.to_string())
        }
        _ => {
            s.err(field, format!("{v:?} is not an http(s) URL"));
            None
        }
    }
}

pub(super) fn idp(s: &mut Scope, i: &IdpFile) -> Option<IdpSpec> {
    let before = s.issues.len();
    let issuer = url(s, "idp.issuer", &i.issuer);
    let opt_url =
        |s: &mut Scope, field: &str, v: &Option<String>| v.as_ref().and_then(|v| url(s, field, v));
    let discovery = opt_url(s, "idp.discovery_url", &i.discovery_url);
    let authorization_endpoint =
        opt_url(s, "idp.authorization_endpoint", &i.authorization_endpoint);
    let token_endpoint = opt_url(s, "idp.token_endpoint", &i.token_endpoint);
    let jwks_uri = opt_url(s, "idp.jwks_uri", &i.jwks_uri);
    let end_session_endpoint = opt_url(s, "idp.end_session_endpoint", &i.end_session_endpoint);
    if i.client_id.trim().is_empty() {
        s.err("idp.client_id", "is required");
    }
    let client_secret = i
        .client_secret
        .as_ref()
        .and_then(|r| secret(s, "idp.client_secret", r));
    if !i.scopes.iter().any(|x| x == "openid") {
        s.err("idp.scopes", "must include \"openid\"");
    }
    if i.scopes.iter().any(|x| x.is_empty() || x.contains(' ')) {
        s.err("idp.scopes", "scopes are single words");
    }
    if i.tenant_claim.is_empty() {
        s.err("idp.tenant_claim", "is required");
    }
    if i.accept_tokens.is_empty() {
        s.err("idp.accept_tokens", "accept at least one of id, access");
    }
    let mut claim_headers = Vec::new();
    for (header, claim) in &i.claim_headers {
        let h = header.to_ascii_lowercase();
        if !h.starts_with("x-user-") || http::HeaderName::from_bytes(h.as_bytes()).is_err() {
            s.err(
                format!("idp.claim_headers.{header}"),
                "identity headers must be valid names starting with X-User- (clients cannot send those)",
            );
        } else if ["x-user-sub", "x-user-email", "x-user-groups"].contains(&h.as_str()) {
            s.err(
                format!("idp.claim_headers.{header}"),
                "this header is always set by the gateway",
            );
        } else {
            claim_headers.push((h, claim.clone()));
        }
    }
    if s.issues.len() > before {
        return None;
    }
    let issuer = issuer?;
    let kind = match i.kind {
        IdpKindFile::Cognito => IdpKind::Cognito,
        IdpKindFile::Oidc => IdpKind::Oidc,
    };
    Some(IdpSpec {
        kind,
        discovery_url: discovery.unwrap_or_else(|| {
            format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            )
        }),
        issuer,
        authorization_endpoint,
        token_endpoint,
        jwks_uri,
        end_session_endpoint,
        client_id: i.client_id.clone(),
        client_secret,
        scopes: i.scopes.clone(),
        identity_provider: i.identity_provider.clone(),
        tenant_claim: i.tenant_claim.clone(),
        tenant_group_prefix: i.tenant_group_prefix.clone().filter(|p| !p.is_empty()),
        accept_id_tokens: i.accept_tokens.contains(&TokenKindFile::Id),
        accept_access_tokens: i.accept_tokens.contains(&TokenKindFile::Access),
        audiences: if i.audiences.is_empty() {
            vec![i.client_id.clone()]
        } else {
            i.audiences.clone()
        },
        groups_claim: i.groups_claim.clone().unwrap_or_else(|| match kind {
            IdpKind::Cognito => "cognito:groups".to_string(),
            IdpKind::Oidc => "groups".to_string(),
        }),
        claim_headers,
        forward_token: i.forward_token,
    })
}

pub(super) fn basic_users(s: &mut Scope, users: &[BasicUserFile]) -> Vec<BasicUser> {
    let mut out: Vec<BasicUser> = Vec::new();
    for (i, u) in users.iter().enumerate() {
        if u.username.is_empty() || u.username.contains(':') {
            s.err(
                format!("basic_auth[{i}].username"),
                "must be non-empty and contain no ':'",
            );
            continue;
        }
        if out.iter().any(|o| o.username == u.username) {
            s.err(
                format!("basic_auth[{i}].username"),
                format!("duplicate user {:?}", u.username),
            );
            continue;
        }
        if argon2::PasswordHash::new(&u.password_hash).is_err() {
            s.err(
                format!("basic_auth[{i}].password_hash"),
                "not a PHC hash string (make one with `tenant-gateway hash-password`)",
            );
            continue;
        }
        out.push(BasicUser {
            username: u.username.clone(),
            password_hash: u.password_hash.clone(),
        });
    }
    out
}

/// Every route's effective auth mode must be backed by the tenant's settings.
pub(super) fn route_modes(s: &mut Scope, t: &TenantSpec, routes: &[RouteSpec], field: &str) {
    for (i, r) in routes.iter().enumerate() {
        match t.effective_auth(r) {
            AuthMode::Oidc | AuthMode::Jwt if t.idp.is_none() => {
                s.err(format!("{field}[{i}].auth"), "needs the tenant's `idp`")
            }
            AuthMode::Basic if t.basic_users.is_empty() => s.err(
                format!("{field}[{i}].auth"),
                "needs the tenant's `basic_auth` users",
            ),
            AuthMode::None if !r.require_groups.is_empty() || !r.require_scopes.is_empty() => s
                .err(
                    format!("{field}[{i}]"),
                    "require_groups/require_scopes need an authenticated route",
                ),
            _ => {}
        }
    }
}
