//! The authorization-code flow with the tenant's IdP: the authorize redirect (state, nonce,
//! PKCE S256, Cognito's `identity_provider`), the code exchange and refresh at the token
//! endpoint, and the logout redirect. Return paths are same-host relative paths only.

use super::discovery::Endpoints;
use super::http_body::IdpHttp;
use super::session::FlowData;
use super::AuthError;
use crate::config::{IdpKind, IdpSpec};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Only a same-host relative path may be returned to after login: `/x?y`, never `//evil`,
/// `/\evil` or an absolute URL.
pub fn safe_return_to(path_and_query: &str) -> String {
    let ok = path_and_query.starts_with('/')
        && !path_and_query.starts_with("//")
        && !path_and_query.starts_with("/\\")
        && !path_and_query.chars().any(|c| c.is_control());
    if ok {
        path_and_query.to_string()
    } else {
        "/".to_string()
    }
}

/// A new login: the flow state to keep in a cookie and the authorize URL to send the browser to.
pub fn start(
    idp: &IdpSpec,
    ep: &Endpoints,
    redirect_uri: &str,
    return_to: &str,
    now: u64,
) -> Result<(FlowData, String), AuthError> {
    let flow = FlowData {
        state: random_token(24),
        nonce: random_token(24),
        verifier: random_token(48),
        return_to: safe_return_to(return_to),
        iat: now,
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(flow.verifier.as_bytes()));
    let mut url = url::Url::parse(&ep.authorization)
        .map_err(|e| AuthError::IdpUnavailable(format!("bad authorization endpoint: {e}")))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &idp.client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", &idp.scopes.join(" "));
        if let Some(p) = &idp.identity_provider {
            q.append_pair("identity_provider", p);
        }
        q.append_pair("redirect_uri", redirect_uri)
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
    }
    Ok((flow, url.into()))
}

/// The token endpoint's answer.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub id_token: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TokenError {
    error: String,
    error_description: Option<String>,
}

async fn token_request(
    http: &IdpHttp,
    idp: &IdpSpec,
    ep: &Endpoints,
    form: &[(&str, &str)],
) -> Result<TokenResponse, AuthError> {
    let mut req = http.client.post(&ep.token);
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    match &idp.client_secret {
        Some(secret) => req = req.basic_auth(&idp.client_id, Some(secret.expose())),
        None => fields.push(("client_id", &idp.client_id)),
    }
    let resp = req
        .form(&fields)
        .send()
        .await
        .map_err(|e| AuthError::IdpUnavailable(format!("token endpoint: {e}")))?;
    let status = resp.status();
    let body = http
        .body(resp)
        .await
        .map_err(|e| AuthError::IdpUnavailable(format!("token endpoint: {e}")))?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|_| {
            AuthError::LoginFailed("the IdP's token response was not understood".into())
        });
    }
    if status.is_server_error() {
        return Err(AuthError::IdpUnavailable(format!(
            "token endpoint answered {status}"
        )));
    }
    let detail = serde_json::from_slice::<TokenError>(&body)
        .map(|e| {
            format!(
                "{}{}",
                e.error,
                e.error_description
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_else(|_| format!("HTTP {status}"));
    Err(AuthError::LoginFailed(format!(
        "the IdP refused the code ({detail})"
    )))
}

pub async fn exchange_code(
    http: &IdpHttp,
    idp: &IdpSpec,
    ep: &Endpoints,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<TokenResponse, AuthError> {
    token_request(
        http,
        idp,
        ep,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn refresh(
    http: &IdpHttp,
    idp: &IdpSpec,
    ep: &Endpoints,
    refresh_token: &str,
) -> Result<TokenResponse, AuthError> {
    token_request(
        http,
        idp,
        ep,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// Where the browser goes after the gateway cleared its session.
pub fn logout_location(
    idp: &IdpSpec,
    ep: Option<&Endpoints>,
    origin: &str,
    id_token: Option<&str>,
) -> String {
    let home = format!("{origin}/");
    let Some(end) = ep.and_then(|e| e.end_session.as_deref()) else {
        return "/".to_string();
    };
    let Ok(mut url) = url::Url::parse(end) else {
        return "/".to_string();
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &idp.client_id);
        match idp.kind {
            IdpKind::Cognito => {
                q.append_pair("logout_uri", &home);
            }
            IdpKind::Oidc => {
                q.append_pair("post_logout_redirect_uri", &home);
                if let Some(t) = id_token {
                    q.append_pair("id_token_hint", t);
                }
            }
        }
    }
    url.into()
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
