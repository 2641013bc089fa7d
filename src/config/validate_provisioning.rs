//! Validation of `provisioning.cognito`: the shared user pool and what onboarding creates in
//! it for each tenant.

use super::file::CognitoProvisioningFile;
use super::model::CognitoProvisioning;
use super::validate_auth::Scope;
use std::time::Duration;

/// Cognito's limits on app-client token lifetimes.
const ID_ACCESS_RANGE: (Duration, Duration) =
    (Duration::from_secs(5 * 60), Duration::from_secs(24 * 3600));
const REFRESH_RANGE: (Duration, Duration) = (
    Duration::from_secs(3600),
    Duration::from_secs(3650 * 24 * 3600),
);

/// The auth flows an app client may allow (Cognito's `ExplicitAuthFlowsType`).
const AUTH_FLOWS: [&str; 5] = [
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_AUTH",
];

pub(super) fn cognito(s: &mut Scope, c: &CognitoProvisioningFile) -> Option<CognitoProvisioning> {
    let before = s.issues.len();
    let f = |name: &str| format!("provisioning.cognito.{name}");
    // `<region>_<id>`, e.g. `us-east-1_AbCdEf123`.
    let pool_region = c
        .user_pool_id
        .split_once('_')
        .filter(|(r, id)| {
            !r.is_empty()
                && !id.is_empty()
                && r.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
                && id.chars().all(|ch| ch.is_ascii_alphanumeric())
        })
        .map(|(r, _)| r.to_string());
    if pool_region.is_none() {
        s.err(
            f("user_pool_id"),
            format!(
                "{:?} is not a user pool id (<region>_<id>, e.g. us-east-1_AbCdEf123)",
                c.user_pool_id
            ),
        );
    }
    let region = c.region.clone().or(pool_region).unwrap_or_default();
    for (name, v) in [("endpoint", &c.endpoint), ("jwks_uri", &c.jwks_uri)] {
        if let Some(v) = v {
            match url::Url::parse(v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => s.err(f(name), format!("{v:?} is not an http(s) URL")),
            }
        }
    }
    let hosted_ui =
        c.hosted_ui_domain
            .as_ref()
            .and_then(|d| match crate::host::Hostname::parse(d) {
                Ok(h) => Some(format!("https://{h}")),
                Err(e) => {
                    s.err(
                        f("hosted_ui_domain"),
                        format!("{d:?}: {e} (give the bare domain)"),
                    );
                    None
                }
            });
    if !c.scopes.iter().any(|x| x == "openid") {
        s.err(f("scopes"), "must include \"openid\"");
    }
    if c.scopes.iter().any(|x| x.is_empty() || x.contains(' ')) {
        s.err(f("scopes"), "scopes are single words");
    }
    for flow in &c.explicit_auth_flows {
        if !AUTH_FLOWS.contains(&flow.as_str()) {
            s.err(
                f("explicit_auth_flows"),
                format!("{flow:?} is not one of {}", AUTH_FLOWS.join(", ")),
            );
        }
    }
    let v = &c.token_validity;
    for (name, d, (lo, hi)) in [
        ("token_validity.id", v.id, ID_ACCESS_RANGE),
        ("token_validity.access", v.access, ID_ACCESS_RANGE),
        ("token_validity.refresh", v.refresh, REFRESH_RANGE),
    ] {
        if d < lo || d > hi || d.subsec_nanos() != 0 {
            s.err(
                f(name),
                format!(
                    "must be whole seconds between {} and {}",
                    humantime::format_duration(lo),
                    humantime::format_duration(hi)
                ),
            );
        }
    }
    let sample = c
        .group_pattern
        .replace("{id}", "00000000-0000-0000-0000-000000000000");
    if !c.group_pattern.contains("{id}")
        || sample.len() > 128
        || sample.contains(char::is_whitespace)
    {
        s.err(
            f("group_pattern"),
            "must contain {id} (the tenant id), no spaces, at most 128 characters with it",
        );
    }
    if !matches!(c.public_scheme.as_str(), "http" | "https") {
        s.err(f("public_scheme"), "must be http or https");
    }
    if c.timeout < Duration::from_millis(100) {
        s.err(f("timeout"), "must be at least 100ms");
    }
    if s.issues.len() > before {
        return None;
    }
    Some(CognitoProvisioning {
        issuer: format!(
            "https://cognito-idp.{region}.amazonaws.com/{}",
            c.user_pool_id
        ),
        user_pool_id: c.user_pool_id.clone(),
        region,
        endpoint: c.endpoint.clone(),
        jwks_uri: c.jwks_uri.clone(),
        hosted_ui,
        scopes: c.scopes.clone(),
        explicit_auth_flows: c.explicit_auth_flows.clone(),
        id_token_validity: v.id,
        access_token_validity: v.access,
        refresh_token_validity: v.refresh,
        group_pattern: c.group_pattern.clone(),
        admin_user: c.admin_user,
        delete_users: c.delete_users,
        public_scheme: c.public_scheme.clone(),
        public_port: c.public_port,
        timeout: c.timeout,
    })
}
