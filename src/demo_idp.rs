//! The demo identity provider (`tenant-gateway demo-idp`), NOT FOR PRODUCTION: a loopback-only
//! OpenID provider for the quickstart. It reads the gateway's configuration, registers a public
//! client (PKCE) for every tenant whose IdP issuer is its own URL, with that tenant's callback
//! URLs, and lets you pick a demo user of the tenant on its authorize page. Tokens are
//! Cognito-shaped (`custom:tenantid`, `cognito:groups`, `token_use`), signed with an ES256 key
//! made at start. `GET /demo-token?client_id=..&user=..` hands out an access token for curl.

use crate::assertion::keys::StoredKey;
use crate::config::Config;
use async_trait::async_trait;
use base64::Engine;
use http::{Method, Response, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// How long issued tokens last.
const TOKEN_TTL: u64 = 3600;
/// How long an authorization code may wait for its exchange.
const CODE_TTL: Duration = Duration::from_secs(60);
/// The demo users every demo tenant has: login, groups.
const USERS: [(&str, &[&str]); 2] = [("alice", &["admins", "staff"]), ("bob", &["staff"])];

/// A registered client: one demo tenant.
#[derive(Debug, Clone)]
struct Client {
    tenant_id: String,
    tenant_name: String,
    email_domain: String,
    redirect_uris: Vec<String>,
    /// Origins a logout may return to (those of the redirect URIs).
    origins: Vec<String>,
}

/// What a code stands for until it is exchanged.
#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    user: String,
    nonce: Option<String>,
    challenge: Option<String>,
    scope: String,
}

pub struct DemoIdp {
    issuer: String,
    kid: String,
    key: EncodingKey,
    jwks: Value,
    clients: BTreeMap<String, Client>,
    codes: moka::sync::Cache<String, Grant>,
}

/// The demo clients of a configuration: tenants whose IdP issuer is `issuer`.
fn clients(config: &Config, issuer: &str) -> BTreeMap<String, Client> {
    let r = &config.routing;
    let mut out = BTreeMap::new();
    let ports: Vec<String> = config
        .listeners
        .http
        .iter()
        .filter_map(|l| l.parse::<std::net::SocketAddr>().ok())
        .map(|a| match a.port() {
            80 => String::new(),
            p => format!(":{p}"),
        })
        .collect();
    for t in &r.tenants {
        let Some(idp) = t.idp.as_ref().filter(|i| i.issuer == issuer) else {
            continue;
        };
        let mut hosts: Vec<String> = r
            .base_domains
            .iter()
            .map(|b| format!("{}.{b}", t.subdomain))
            .collect();
        hosts.extend(t.custom_domains.iter().map(|d| d.to_string()));
        let origins: Vec<String> = hosts
            .iter()
            .flat_map(|h| ports.iter().map(move |p| format!("http://{h}{p}")))
            .collect();
        out.insert(
            idp.client_id.clone(),
            Client {
                tenant_id: t.id.to_string(),
                tenant_name: t.name.clone(),
                email_domain: t
                    .email_domain
                    .clone()
                    .unwrap_or_else(|| format!("{}.example", t.subdomain)),
                redirect_uris: origins
                    .iter()
                    .map(|o| format!("{o}{}", r.auth.callback_path))
                    .collect(),
                origins,
            },
        );
    }
    out
}

fn b64url_sha256(v: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
}

fn random() -> String {
    use rand::RngCore;
    let mut b = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn now() -> u64 {
    crate::tls::certs::unix_secs(std::time::SystemTime::now())
}

/// HTML with every `<`, `>`, `&`, `"` and `'` escaped.
fn esc(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn respond(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .header("cache-control", "no-store")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'",
        )
        .body(body)
        .unwrap_or_default()
}

fn json_answer(status: StatusCode, v: Value) -> Response<Vec<u8>> {
    respond(status, "application/json", v.to_string().into_bytes())
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Vec<u8>> {
    json_answer(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response<Vec<u8>> {
    let html = format!(
        "<!doctype html><html><head><meta charset=utf-8><meta name=viewport \
         content='width=device-width'><title>{t}</title><style>body{{font:16px system-ui;\
         max-width:32rem;margin:3rem auto;padding:0 1rem}}.warn{{background:#fff3cd;\
         padding:.5rem}}button{{font-size:1rem;margin:.3rem 0;padding:.5rem 1rem}}</style>\
         </head><body><p class=warn>Demo identity provider of tenant-gateway: not for \
         production.</p><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    );
    respond(status, "text/html; charset=utf-8", html.into_bytes())
}

fn params(s: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(s.as_bytes())
        .into_owned()
        .collect()
}

impl DemoIdp {
    /// A provider at `issuer` (`http://127.0.0.1:<port>`) for the tenants of `config`.
    pub fn new(config: &Config, issuer: &str) -> Result<Self, String> {
        let key = StoredKey::generate(now(), now()).map_err(|e| e.to_string())?;
        let jwk = key.jwk().map_err(|e| e.to_string())?;
        let der = key.pkcs8().map_err(|e| e.to_string())?;
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_string(),
            kid: key.kid.clone(),
            key: EncodingKey::from_ec_der(&der),
            jwks: json!({ "keys": [jwk] }),
            clients: clients(config, issuer.trim_end_matches('/')),
            codes: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CODE_TTL)
                .build(),
        })
    }

    /// The client ids it serves (one per demo tenant).
    pub fn client_ids(&self) -> Vec<String> {
        self.clients.keys().cloned().collect()
    }

    fn sign(&self, claims: &Value) -> Option<String> {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &self.key).ok()
    }

    /// The id and access tokens of `user` of `client`.
    fn tokens(
        &self,
        client_id: &str,
        c: &Client,
        user: &str,
        nonce: Option<&str>,
        scope: &str,
    ) -> Option<(String, String)> {
        let groups = USERS.iter().find(|(u, _)| *u == user)?.1;
        let iat = now();
        let sub = format!("{user}@{}", c.email_domain);
        let mut id = json!({
            "iss": self.issuer, "sub": sub, "aud": client_id, "iat": iat, "exp": iat + TOKEN_TTL,
            "token_use": "id", "email": sub, "email_verified": true, "name": format!("{user} ({})", c.tenant_name),
            "custom:tenantid": c.tenant_id, "cognito:groups": groups, "groups": groups,
        });
        if let Some(n) = nonce {
            id["nonce"] = json!(n);
        }
        let access = json!({
            "iss": self.issuer, "sub": sub, "client_id": client_id, "iat": iat, "exp": iat + TOKEN_TTL,
            "token_use": "access", "scope": scope, "custom:tenantid": c.tenant_id, "email": sub,
            "cognito:groups": groups, "groups": groups, "jti": random(),
        });
        Some((self.sign(&id)?, self.sign(&access)?))
    }

    fn discovery(&self) -> Value {
        let i = &self.issuer;
        json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}/authorize"),
            "token_endpoint": format!("{i}/token"),
            "jwks_uri": format!("{i}/jwks"),
            "end_session_endpoint": format!("{i}/logout"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "email", "profile"],
        })
    }

    /// The authorize page: the request is checked (client, exact redirect URI, code flow),
    /// then each demo user is one button; choosing one (POST) redirects back with a code.
    fn authorize(&self, q: &HashMap<String, String>, chosen: Option<&str>) -> Response<Vec<u8>> {
        let get = |k: &str| q.get(k).map(String::as_str);
        let Some((client_id, c)) = get("client_id").and_then(|id| self.clients.get_key_value(id))
        else {
            return page(
                StatusCode::BAD_REQUEST,
                "Unknown client",
                "<p>This client_id is not a demo tenant of the gateway.</p>",
            );
        };
        let Some(redirect_uri) =
            get("redirect_uri").filter(|u| c.redirect_uris.iter().any(|r| r == u))
        else {
            // Never redirect to an unregistered URI: say so here instead.
            return page(
                StatusCode::BAD_REQUEST,
                "Unregistered redirect_uri",
                "<p>The redirect_uri is not one of this tenant's callback URLs.</p>",
            );
        };
        let mut back = match url::Url::parse(redirect_uri) {
            Ok(u) => u,
            Err(_) => return page(StatusCode::BAD_REQUEST, "Bad redirect_uri", ""),
        };
        if let Some(s) = get("state") {
            back.query_pairs_mut().append_pair("state", s);
        }
        if get("response_type") != Some("code") {
            back.query_pairs_mut()
                .append_pair("error", "unsupported_response_type");
            return redirect(back.as_str());
        }
        if get("code_challenge").is_some() && get("code_challenge_method") != Some("S256") {
            back.query_pairs_mut()
                .append_pair("error", "invalid_request");
            return redirect(back.as_str());
        }
        let Some(user) = chosen else {
            let hidden: String = q
                .iter()
                .filter(|(k, _)| k.as_str() != "user")
                .map(|(k, v)| {
                    format!(
                        "<input type=hidden name=\"{}\" value=\"{}\">",
                        esc(k),
                        esc(v)
                    )
                })
                .collect();
            let buttons: String = USERS
                .iter()
                .map(|(u, groups)| {
                    format!(
                        "<p><button name=user value=\"{u}\">Sign in as {u}@{d}</button> <small>groups: {g}</small></p>",
                        d = esc(&c.email_domain),
                        g = esc(&groups.join(", "))
                    )
                })
                .collect();
            let body = format!(
                "<p>Tenant <b>{}</b> ({})</p><form method=post action=/authorize>{hidden}{buttons}</form>",
                esc(&c.tenant_name),
                esc(&c.tenant_id)
            );
            return page(StatusCode::OK, "Choose a demo user", &body);
        };
        if !USERS.iter().any(|(u, _)| *u == user) {
            return page(StatusCode::BAD_REQUEST, "Unknown user", "");
        }
        let code = random();
        self.codes.insert(
            code.clone(),
            Grant {
                client_id: client_id.clone(),
                redirect_uri: redirect_uri.to_string(),
                user: user.to_string(),
                nonce: get("nonce").map(str::to_string),
                challenge: get("code_challenge").map(str::to_string),
                scope: get("scope").unwrap_or("openid").to_string(),
            },
        );
        back.query_pairs_mut().append_pair("code", &code);
        redirect(back.as_str())
    }

    fn token(&self, form: &HashMap<String, String>) -> Response<Vec<u8>> {
        let get = |k: &str| form.get(k).map(String::as_str);
        if get("grant_type") != Some("authorization_code") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code",
            );
        }
        // A code is good once.
        let Some(grant) = get("code").and_then(|c| self.codes.remove(c)) else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "unknown, used or expired code",
            );
        };
        if get("client_id") != Some(grant.client_id.as_str())
            || get("redirect_uri") != Some(grant.redirect_uri.as_str())
        {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "client_id or redirect_uri differs from the authorization request",
            );
        }
        if let Some(ch) = &grant.challenge {
            if get("code_verifier").map(b64url_sha256).as_deref() != Some(ch.as_str()) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "PKCE verification failed",
                );
            }
        }
        let Some(c) = self.clients.get(&grant.client_id) else {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "unknown client");
        };
        match self.tokens(
            &grant.client_id,
            c,
            &grant.user,
            grant.nonce.as_deref(),
            &grant.scope,
        ) {
            Some((id, access)) => json_answer(
                StatusCode::OK,
                json!({ "id_token": id, "access_token": access, "token_type": "Bearer", "expires_in": TOKEN_TTL }),
            ),
            None => oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "cannot sign",
            ),
        }
    }

    /// An access token for curl: `?client_id=<tenant's client>&user=alice|bob`.
    fn demo_token(&self, q: &HashMap<String, String>) -> Response<Vec<u8>> {
        let client_id = q.get("client_id").map(String::as_str).unwrap_or_default();
        let user = q.get("user").map(String::as_str).unwrap_or("alice");
        let Some(c) = self.clients.get(client_id) else {
            let known = self.client_ids().join(", ");
            return respond(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!("client_id must be one of: {known}\n").into_bytes(),
            );
        };
        match self.tokens(client_id, c, user, None, "openid email") {
            Some((_, access)) => respond(StatusCode::OK, "text/plain", access.into_bytes()),
            None => respond(
                StatusCode::BAD_REQUEST,
                "text/plain",
                b"user must be alice or bob\n".to_vec(),
            ),
        }
    }

    /// Logout returns only to an origin of the client's callback URLs.
    fn logout(&self, q: &HashMap<String, String>) -> Response<Vec<u8>> {
        let target = q
            .get("post_logout_redirect_uri")
            .or_else(|| q.get("logout_uri"));
        let client = q.get("client_id").and_then(|c| self.clients.get(c));
        match (target, client) {
            (Some(t), Some(c)) if c.origins.iter().any(|o| t == &format!("{o}/")) => redirect(t),
            _ => page(
                StatusCode::OK,
                "Signed out",
                "<p>You are signed out of the demo provider.</p>",
            ),
        }
    }
}

fn redirect(location: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", location)
        .header("content-length", 0)
        .header("cache-control", "no-store")
        .body(Vec::new())
        .unwrap_or_default()
}

#[async_trait]
impl ServeHttp for DemoIdp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = session.read_request_body().await {
            body.extend_from_slice(&chunk);
            if body.len() > 64 * 1024 {
                return oauth_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request",
                    "body too large",
                );
            }
        }
        let req = session.req_header();
        let query = params(req.uri.query().unwrap_or(""));
        let form = params(&String::from_utf8_lossy(&body));
        match (&req.method, req.uri.path()) {
            (&Method::GET, "/.well-known/openid-configuration") => {
                json_answer(StatusCode::OK, self.discovery())
            }
            (&Method::GET, "/jwks") => json_answer(StatusCode::OK, self.jwks.clone()),
            (&Method::GET, "/authorize") => self.authorize(&query, None),
            (&Method::POST, "/authorize") => {
                let user = form.get("user").cloned();
                self.authorize(&form, Some(user.as_deref().unwrap_or("")))
            }
            (&Method::POST, "/token") => self.token(&form),
            (&Method::GET, "/demo-token") => self.demo_token(&query),
            (&Method::GET, "/logout") => self.logout(&query),
            _ => oauth_error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
        }
    }
}

#[cfg(test)]
#[path = "demo_idp_tests.rs"]
mod tests;
