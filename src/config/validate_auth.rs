//! Validation of authentication settings: the gateway's `auth` block, tenant IdPs, webhook
//! credentials, and whether each route's auth mode is backed by what it needs. Secrets are
//! resolved here (environment or file) so a missing one fails the load, not a request.

use super::error::Issue;
use super::file::{
    AuthFile, AuthModeFile, BasicUserFile, IdpFile, IdpKindFile, SecretRefFile, TenantBindingFile,
    TokenKindFile,
};
use super::model::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    secret_opening(s, field, r, None)
}

/// The associated data a tenant's sealed app-client secret is sealed with: the value cannot
/// be copied into another tenant's record.
pub fn client_secret_aad(tenant_id: &str) -> String {
    format!(
        "tenant/{}/idp.client_secret",
        tenant_id.to_ascii_lowercase()
    )
}

/// [`secret`], also opening `{sealed: ...}` with `unseal` (the store key, and the associated
/// data the value was sealed with).
fn secret_opening(
    s: &mut Scope,
    field: &str,
    r: &SecretRefFile,
    unseal: Option<(&crate::seal::Sealer, &str)>,
) -> Option<Secret> {
    let value = match (&r.env, &r.file, &r.sealed) {
        (Some(var), None, None) => match std::env::var(var) {
            Ok(v) => v,
            Err(_) => {
                s.err(field, format!("environment variable {var} is not set"));
                return None;
            }
        },
        (None, Some(p), None) => {
            let p = super::validate::relative_to(s.file, p);
            match std::fs::read_to_string(&p) {
                Ok(v) => v,
                Err(e) => {
                    s.err(field, format!("cannot read {}: {e}", p.display()));
                    return None;
                }
            }
        }
        (None, None, Some(sealed)) => {
            let Some((sealer, aad)) = unseal else {
                s.err(
                    field,
                    "a sealed secret is only readable in a tenant record of the DynamoDB \
                     store with `encryption_key_env` set",
                );
                return None;
            };
            match sealer.open(aad, sealed).map(String::from_utf8) {
                Ok(Ok(v)) => v,
                Ok(Err(_)) => {
                    s.err(field, "the sealed secret is not text");
                    return None;
                }
                Err(e) => {
                    s.err(field, e);
                    return None;
                }
            }
        }
        _ => {
            s.err(field, "give exactly one of `env`, `file` or `sealed`");
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
        copy_claims: Vec::new(),
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

/// A tenant's IdP; `sealer` opens a sealed client secret (DynamoDB store).
pub(super) fn idp(
    s: &mut Scope,
    i: &IdpFile,
    tenant_id: &str,
    sealer: Option<&crate::seal::Sealer>,
) -> Option<IdpSpec> {
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
    let client_secret = i.client_secret.as_ref().and_then(|r| {
        let aad = client_secret_aad(tenant_id);
        secret_opening(s, "idp.client_secret", r, sealer.map(|k| (k, aad.as_str())))
    });
    if !i.scopes.iter().any(|x| x == "openid") {
        s.err("idp.scopes", "must include \"openid\"");
    }
    if i.scopes.iter().any(|x| x.is_empty() || x.contains(' ')) {
        s.err("idp.scopes", "scopes are single words");
    }
    let tenant_binding = tenant_binding(s, i);
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
    let tenant_binding = tenant_binding?;
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
        tenant_binding,
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

/// `idp.tenant_binding`, or the deprecated `tenant_claim` / `tenant_group_prefix` it
/// replaces (never both).
fn tenant_binding(s: &mut Scope, i: &IdpFile) -> Option<TenantBinding> {
    let old_keys = i.tenant_claim.is_some() || i.tenant_group_prefix.is_some();
    let Some(given) = &i.tenant_binding else {
        let claim = i.tenant_claim.as_deref().unwrap_or(DEFAULT_TENANT_CLAIM);
        if claim.is_empty() {
            s.err("idp.tenant_claim", "is required");
            return None;
        }
        return Some(TenantBinding::Claim {
            claim: claim.to_string(),
            group_prefix: i.tenant_group_prefix.clone().filter(|p| !p.is_empty()),
        });
    };
    if old_keys {
        let mut old = Vec::new();
        if let Some(c) = &i.tenant_claim {
            old.push(format!("`tenant_claim: {}`", yaml_scalar(c)));
        }
        if let Some(p) = &i.tenant_group_prefix {
            old.push(format!("`tenant_group_prefix: {}`", yaml_scalar(p)));
        }
        let old_meaning = TenantBindingFile::Rule {
            claim: Some(
                i.tenant_claim
                    .clone()
                    .unwrap_or(DEFAULT_TENANT_CLAIM.to_string()),
            ),
            group: i.tenant_group_prefix.clone().filter(|p| !p.is_empty()),
        };
        s.err(
            "idp.tenant_binding",
            format!(
                "replaces the deprecated tenant_claim and tenant_group_prefix: give only \
                 `tenant_binding`. Remove {} and write `tenant_binding: {}` (what the old keys \
                 mean), or remove them to keep `tenant_binding: {}`",
                old.join(" and "),
                binding_yaml(&old_meaning),
                binding_yaml(given)
            ),
        );
        return None;
    }
    match given {
        TenantBindingFile::Issuer => Some(TenantBinding::Issuer),
        TenantBindingFile::Rule { claim, group } => {
            let before = s.issues.len();
            if claim.as_deref() == Some("") {
                s.err("idp.tenant_binding.claim", "must not be empty");
            }
            if group.as_deref() == Some("") {
                s.err(
                    "idp.tenant_binding.group",
                    "must not be empty (it is the prefix of the tenant group, e.g. \"tenant-\")",
                );
            }
            if claim.is_none() && group.is_none() {
                s.err(
                    "idp.tenant_binding",
                    "give `claim`, `group` or both (e.g. `{claim: custom:tenantid}`), or `issuer`",
                );
            }
            if s.issues.len() > before {
                return None;
            }
            Some(match (claim, group) {
                (Some(claim), group_prefix) => TenantBinding::Claim {
                    claim: claim.clone(),
                    group_prefix: group_prefix.clone(),
                },
                (None, Some(prefix)) => TenantBinding::Group {
                    prefix: prefix.clone(),
                },
                (None, None) => return None,
            })
        }
    }
}

/// One tenant's IdP, for the checks across tenants.
pub(super) struct IdpUse {
    file: PathBuf,
    tenant: String,
    issuer: String,
    client_id: String,
    /// What a token's `aud` (or `client_id`) may name for this tenant to accept it.
    accepts: Vec<String>,
    dedicated: bool,
}

impl IdpUse {
    pub fn new(file: &Path, tenant: &str, idp: &IdpSpec) -> Self {
        IdpUse {
            file: file.to_path_buf(),
            tenant: tenant.to_string(),
            issuer: idp.issuer.clone(),
            client_id: idp.client_id.clone(),
            accepts: std::iter::once(&idp.client_id)
                .chain(&idp.audiences)
                .cloned()
                .collect(),
            dedicated: idp.tenant_binding == TenantBinding::Issuer,
        }
    }

    /// What makes a token of `other`'s IdP acceptable to this one too: the same client_id,
    /// or an audience both accept; `None` when no token can be accepted by both.
    fn shared_with(&self, other: &IdpUse) -> Option<String> {
        if self.client_id == other.client_id {
            return Some(format!("client_id {:?}", self.client_id));
        }
        self.accepts
            .iter()
            .find(|a| other.accepts.contains(a))
            .map(|a| format!("audience {a:?}"))
    }

    /// The tenant's label, with its file when that is not `file`.
    fn named_from(&self, file: &Path) -> String {
        if self.file == file {
            self.tenant.clone()
        } else {
            format!("{} in {}", self.tenant, self.file.display())
        }
    }
}

/// `tenant_binding: issuer` gives every token of an issuer and client to one tenant, so no
/// other tenant may use the same issuer with the same client_id or an audience either of them
/// accepts: an issue on each tenant involved, naming the others.
pub(super) fn dedicated_issuers(uses: &[IdpUse], issues: &mut Vec<Issue>) {
    let mut by_issuer: BTreeMap<&str, Vec<&IdpUse>> = BTreeMap::new();
    for u in uses {
        by_issuer.entry(u.issuer.as_str()).or_default().push(u);
    }
    for (issuer, group) in by_issuer {
        if group.len() < 2 || !group.iter().any(|u| u.dedicated) {
            continue;
        }
        for (i, u) in group.iter().enumerate() {
            // Another tenant clashes when one of the two is dedicated and a token could be
            // accepted by both: the same client_id, or an audience either accepts.
            let clashes: Vec<(&IdpUse, String)> = group
                .iter()
                .enumerate()
                .filter(|(j, o)| *j != i && (u.dedicated || o.dedicated))
                .filter_map(|(_, o)| Some((*o, u.shared_with(o)?)))
                .collect();
            if clashes.is_empty() {
                continue;
            }
            let shared = &clashes[0].1;
            let names = |dedicated_only: bool| {
                clashes
                    .iter()
                    .filter(|(o, _)| o.dedicated || !dedicated_only)
                    .map(|(o, _)| o.named_from(&u.file))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let message = if u.dedicated {
                format!(
                    "`issuer` needs an IdP no other tenant uses, but issuer {issuer} with \
                     {shared} is also the IdP of {}: give this tenant its own client_id (and \
                     audiences), or bind by claim or group",
                    names(false)
                )
            } else {
                format!(
                    "issuer {issuer} with {shared} is dedicated to {} \
                     (`tenant_binding: issuer`), so it cannot also be this tenant's IdP: use \
                     another client_id (and audiences)",
                    names(true)
                )
            };
            issues.push(Issue {
                file: u.file.clone(),
                tenant: Some(u.tenant.clone()),
                field: "idp.tenant_binding".to_string(),
                message,
            });
        }
    }
}

/// A binding as an operator would write it: `issuer` or `{claim: ..., group: ...}`.
pub(super) fn binding_yaml(b: &TenantBindingFile) -> String {
    match b {
        TenantBindingFile::Issuer => "issuer".to_string(),
        TenantBindingFile::Rule { claim, group } => {
            let parts: Vec<String> = [("claim", claim), ("group", group)]
                .into_iter()
                .filter_map(|(k, v)| Some(format!("{k}: {}", yaml_scalar(v.as_ref()?))))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// A plain YAML scalar when that reads back as the same string, else a quoted one.
fn yaml_scalar(v: &str) -> String {
    let plain = !v.is_empty()
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_:./@".contains(&c))
        && v.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && !v.ends_with(':');
    if plain {
        v.to_string()
    } else {
        serde_json::Value::String(v.to_string()).to_string()
    }
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

#[cfg(test)]
#[path = "validate_auth_tests.rs"]
mod tests;
