//! The authentication facade the proxy calls: one instance per process holds the outbound
//! HTTP client, the JWKS and discovery caches and the validated-token cache. Each method takes
//! a tenant and plain request facts and returns what to do: pass, deny, or answer a login step.

use super::cache::TokenCache;
use super::discovery::Discovery;
use super::http_body::IdpHttp;
use super::jwks::JwksCache;
use super::session::{FlowData, RequestCookies, SessionCodec, SessionData};
use super::{basic, jwt, now_secs, oidc, AuthError, Authenticated, Identity};
use crate::config::{AuthMode, AuthSettings, IdpSpec};
use crate::metrics::METRICS;
use crate::tenant::{Tenant, TenantAuth};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Facts about the request the login flow needs.
pub struct BrowserRequest<'a> {
    /// `scheme://host[:port]` as the client addressed us.
    pub origin: &'a str,
    pub path_and_query: &'a str,
    /// GET/HEAD that accepts HTML: gets a login redirect instead of a 401.
    pub is_browser: bool,
    /// HTTPS: cookies get `Secure`.
    pub secure: bool,
    pub authorization: Option<&'a [u8]>,
    pub cookies: &'a RequestCookies,
}

/// A step of the browser login the gateway answers itself.
#[derive(Debug)]
pub enum LoginAnswer {
    Redirect {
        location: String,
        set_cookies: Vec<String>,
    },
    /// An error page (HTML for browsers), never a redirect loop.
    Failed {
        error: AuthError,
        set_cookies: Vec<String>,
    },
}

/// What the proxy does with a request on an authenticated route.
#[derive(Debug)]
pub enum Outcome {
    Pass(Authenticated),
    Deny(AuthError),
    Login(LoginAnswer),
}

pub struct Authenticator {
    /// Outbound calls to IdPs, with the response-size cap.
    http: IdpHttp,
    jwks: JwksCache,
    discovery: Discovery,
    /// Validated tokens: hash(tenant, auth fingerprint, token) → identity, until `exp`.
    tokens: TokenCache,
    /// Basic credentials: verified and failed ones cached, Argon2 behind a bounded queue.
    basic: basic::Checker,
}

/// The token of an `Authorization: Bearer ...` value.
pub fn bearer(authorization: Option<&[u8]>) -> Option<&str> {
    let v = std::str::from_utf8(authorization?).ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl Authenticator {
    pub fn new(settings: &AuthSettings) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.http_timeout)
            .connect_timeout(settings.http_timeout)
            .user_agent(concat!("tenant-gateway/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let http = IdpHttp {
            client,
            max_body: settings.idp_max_response_bytes,
        };
        Ok(Self {
            jwks: JwksCache::new(http.clone()),
            discovery: Discovery::new(http.clone(), settings.jwks_refresh_interval),
            tokens: TokenCache::new(settings.claims_cache_size),
            basic: basic::Checker::new(&settings.basic),
            http,
        })
    }

    /// Background upkeep: refresh JWKS older than the interval.
    pub async fn refresh_keys(&self, interval: Duration) {
        self.jwks.refresh_stale(interval).await;
    }

    /// Validates a JWT for `tenant` (cached until it expires).
    async fn verify_token(
        &self,
        token: &str,
        tenant: &Tenant,
        auth: &TenantAuth,
        idp: &IdpSpec,
        settings: &AuthSettings,
        id_only: bool,
    ) -> Result<Arc<Identity>, AuthError> {
        let tid = tenant.id.0.as_bytes();
        let key = TokenCache::key(&[
            tid,
            &auth.fingerprint,
            &[u8::from(id_only)],
            token.as_bytes(),
        ]);
        if let Some(hit) = self.tokens.get(&key, settings.leeway.as_secs()) {
            return Ok(hit);
        }
        let identity = Arc::new(
            self.validate(token, tenant, idp, settings, None, id_only)
                .await?,
        );
        self.tokens.insert(key, identity.clone());
        Ok(identity)
    }

    /// Full validation of one token: its key by `kid` from the issuer's JWKS, then signature
    /// and claims (with `nonce` for a login's id token).
    async fn validate(
        &self,
        token: &str,
        tenant: &Tenant,
        idp: &IdpSpec,
        settings: &AuthSettings,
        nonce: Option<&str>,
        id_only: bool,
    ) -> Result<Identity, AuthError> {
        let (header, kid) = jwt::header(token)?;
        let uri = self.discovery.jwks_uri(idp).await?;
        let entry = self
            .jwks
            .key(&uri, &kid, settings.jwks_min_refetch_interval)
            .await?;
        let tenant_id = tenant.id.to_string();
        let expect = jwt::Expect {
            tenant_id: &tenant_id,
            leeway_secs: settings.leeway.as_secs(),
            nonce,
            id_token_only: id_only,
            copy_claims: &settings.copy_claims,
        };
        jwt::validate(token, &header, &entry, idp, &expect)
    }

    /// Authenticates a bearer token (the API path: no cookies, no login).
    pub async fn bearer(&self, token: &str, tenant: &Tenant, settings: &AuthSettings) -> Outcome {
        let Some((auth, idp)) = tenant
            .auth
            .as_deref()
            .and_then(|a| Some((a, a.idp.as_ref()?)))
        else {
            return Outcome::Deny(AuthError::MissingCredentials);
        };
        match self
            .verify_token(token, tenant, auth, idp, settings, false)
            .await
        {
            Ok(identity) => Outcome::Pass(Authenticated {
                identity,
                forward_token: None,
                set_cookies: vec![],
            }),
            Err(e) => Outcome::Deny(e),
        }
    }

    /// Authenticates a request on a route with `mode`.
    pub async fn authenticate(
        &self,
        mode: AuthMode,
        tenant: &Tenant,
        settings: &AuthSettings,
        codec: Option<&SessionCodec>,
        req: &BrowserRequest<'_>,
    ) -> Outcome {
        let Some(auth) = tenant.auth.as_deref() else {
            return Outcome::Deny(AuthError::MissingCredentials);
        };
        match mode {
            AuthMode::None => Outcome::Deny(AuthError::MissingCredentials),
            AuthMode::Basic => self.basic(tenant, auth, req).await,
            AuthMode::Jwt | AuthMode::Oidc => {
                let Some(idp) = &auth.idp else {
                    return Outcome::Deny(AuthError::MissingCredentials);
                };
                if let Some(token) = bearer(req.authorization) {
                    return self.bearer(token, tenant, settings).await;
                }
                if mode == AuthMode::Jwt {
                    return Outcome::Deny(AuthError::MissingCredentials);
                }
                let Some(codec) = codec else {
                    return Outcome::Deny(AuthError::MissingCredentials);
                };
                match self.session(tenant, auth, idp, settings, codec, req).await {
                    Ok(Some(a)) => Outcome::Pass(a),
                    Err(e @ AuthError::IdpUnavailable(_)) => Outcome::Deny(e),
                    Ok(None) | Err(_) if req.is_browser => {
                        self.start_login(idp, settings, codec, req).await
                    }
                    Ok(None) => Outcome::Deny(AuthError::MissingCredentials),
                    Err(e) => Outcome::Deny(e),
                }
            }
        }
    }

    async fn basic(&self, tenant: &Tenant, auth: &TenantAuth, req: &BrowserRequest<'_>) -> Outcome {
        let Some((user, password)) = req.authorization.and_then(basic::parse) else {
            return Outcome::Deny(AuthError::MissingCredentials);
        };
        let key = TokenCache::key(&[
            tenant.id.0.as_bytes(),
            &auth.fingerprint,
            user.as_bytes(),
            password.as_bytes(),
        ]);
        let (checked, result) = self
            .basic
            .check(key, &auth.basic_users, user, password)
            .await;
        METRICS
            .basic_checks
            .with_label_values(&[&tenant.metric_label, result.as_str()])
            .inc();
        match checked {
            Ok(identity) => Outcome::Pass(Authenticated {
                identity,
                forward_token: None,
                set_cookies: vec![],
            }),
            Err(e) => Outcome::Deny(e),
        }
    }

    /// A valid session for this tenant, refreshed when close to expiry; `None` when there is
    /// no usable session.
    async fn session(
        &self,
        tenant: &Tenant,
        auth: &TenantAuth,
        idp: &IdpSpec,
        settings: &AuthSettings,
        codec: &SessionCodec,
        req: &BrowserRequest<'_>,
    ) -> Result<Option<Authenticated>, AuthError> {
        let Some(mut s) = codec.read_session(req.cookies) else {
            return Ok(None);
        };
        let now = now_secs();
        if s.tid != tenant.id.to_string() || now >= s.max_until {
            return Ok(None);
        }
        let mut set_cookies = Vec::new();
        if now + settings.refresh_before.as_secs() >= s.exp {
            let Some(rt) = s.refresh_token.clone() else {
                return Ok(None);
            };
            let ep = self.discovery.endpoints(idp).await?;
            let fresh = match oidc::refresh(&self.http, idp, &ep, &rt).await {
                Ok(t) => t,
                Err(e @ AuthError::IdpUnavailable(_)) if now < s.exp => {
                    tracing::warn!(tenant = %tenant.subdomain, error = %e, "session refresh failed; using the current token");
                    return self
                        .session_identity(tenant, auth, idp, settings, &s, vec![])
                        .await
                        .map(Some);
                }
                Err(_) => return Ok(None),
            };
            let Some(id_token) = fresh.id_token else {
                return Ok(None);
            };
            s.id_token = id_token;
            s.access_token = fresh.access_token.or(s.access_token);
            s.refresh_token = fresh.refresh_token.or(s.refresh_token);
            let identity = self
                .verify_token(&s.id_token, tenant, auth, idp, settings, true)
                .await?;
            s.exp = identity.expires_at;
            let max_age = s.max_until.saturating_sub(now);
            set_cookies =
                codec.session_cookies(&s, req.secure, max_age, req.cookies.session_chunks());
            METRICS
                .logins
                .with_label_values(&[&tenant.metric_label, "refreshed"])
                .inc();
        }
        self.session_identity(tenant, auth, idp, settings, &s, set_cookies)
            .await
            .map(Some)
    }

    async fn session_identity(
        &self,
        tenant: &Tenant,
        auth: &TenantAuth,
        idp: &IdpSpec,
        settings: &AuthSettings,
        s: &SessionData,
        set_cookies: Vec<String>,
    ) -> Result<Authenticated, AuthError> {
        let identity = self
            .verify_token(&s.id_token, tenant, auth, idp, settings, true)
            .await?;
        Ok(Authenticated {
            identity,
            forward_token: s.access_token.clone(),
            set_cookies,
        })
    }

    fn redirect_uri(settings: &AuthSettings, req: &BrowserRequest<'_>) -> String {
        format!("{}{}", req.origin, settings.callback_path)
    }

    async fn start_login(
        &self,
        idp: &IdpSpec,
        settings: &AuthSettings,
        codec: &SessionCodec,
        req: &BrowserRequest<'_>,
    ) -> Outcome {
        let ep = match self.discovery.endpoints(idp).await {
            Ok(ep) => ep,
            Err(e) => return Outcome::Deny(e),
        };
        match oidc::start(
            idp,
            &ep,
            &Self::redirect_uri(settings, req),
            req.path_and_query,
            now_secs(),
        ) {
            Ok((flow, location)) => {
                let set_cookies = codec
                    .flow_cookie(&flow, &settings.callback_path, req.secure)
                    .into_iter()
                    .collect();
                Outcome::Login(LoginAnswer::Redirect {
                    location,
                    set_cookies,
                })
            }
            Err(e) => Outcome::Deny(e),
        }
    }

    /// Completes a login at the callback path.
    pub async fn callback(
        &self,
        tenant: &Tenant,
        settings: &AuthSettings,
        codec: &SessionCodec,
        query: &str,
        req: &BrowserRequest<'_>,
    ) -> LoginAnswer {
        let params: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
        let state = params.get("state").cloned().unwrap_or_default();
        let clear = vec![codec.clear_flow(&state, &settings.callback_path, req.secure)];
        let fail = |error: AuthError| {
            METRICS
                .logins
                .with_label_values(&[&tenant.metric_label, error.code()])
                .inc();
            tracing::info!(tenant = %tenant.subdomain, reason = %error, "login failed");
            LoginAnswer::Failed {
                error,
                set_cookies: clear.clone(),
            }
        };
        if let Some(err) = params.get("error") {
            let desc = params
                .get("error_description")
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            return fail(AuthError::LoginFailed(format!(
                "the identity provider reported {err}{desc}"
            )));
        }
        let (Some(auth), Some(code)) = (tenant.auth.as_deref(), params.get("code")) else {
            return fail(AuthError::LoginFailed(
                "the callback has no authorization code".into(),
            ));
        };
        let Some(idp) = &auth.idp else {
            return fail(AuthError::LoginFailed(
                "this tenant has no identity provider".into(),
            ));
        };
        let flow: Option<FlowData> = codec.read_flow(req.cookies, &state);
        let Some(flow) = flow.filter(|f| {
            bool::from(f.state.as_bytes().ct_eq(state.as_bytes())) && now_secs() <= f.iat + 600
        }) else {
            return fail(AuthError::LoginFailed(
                "this sign-in link has expired or was started in another browser; please start again".into(),
            ));
        };
        let ep = match self.discovery.endpoints(idp).await {
            Ok(ep) => ep,
            Err(e) => return fail(e),
        };
        let tokens = match oidc::exchange_code(
            &self.http,
            idp,
            &ep,
            code,
            &Self::redirect_uri(settings, req),
            &flow.verifier,
        )
        .await
        {
            Ok(t) => t,
            Err(e) => return fail(e),
        };
        let Some(id_token) = tokens.id_token else {
            return fail(AuthError::LoginFailed(
                "the identity provider returned no id token".into(),
            ));
        };
        let identity = match self
            .validate(&id_token, tenant, idp, settings, Some(&flow.nonce), true)
            .await
        {
            Ok(i) => i,
            Err(e) => return fail(e),
        };
        let now = now_secs();
        let session = SessionData {
            tid: tenant.id.to_string(),
            id_token,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            exp: identity.expires_at,
            max_until: now + settings.session_ttl.as_secs(),
        };
        let mut set_cookies = codec.session_cookies(
            &session,
            req.secure,
            settings.session_ttl.as_secs(),
            req.cookies.session_chunks(),
        );
        set_cookies.extend(clear.iter().cloned());
        METRICS
            .logins
            .with_label_values(&[&tenant.metric_label, "ok"])
            .inc();
        tracing::info!(tenant = %tenant.subdomain, sub = %identity.sub, "login completed");
        LoginAnswer::Redirect {
            location: flow.return_to,
            set_cookies,
        }
    }

    /// Clears the session and sends the browser to the IdP's logout when it has one.
    pub async fn logout(
        &self,
        tenant: &Tenant,
        codec: &SessionCodec,
        req: &BrowserRequest<'_>,
    ) -> LoginAnswer {
        let session = codec.read_session(req.cookies);
        let set_cookies = codec.clear_session(req.secure, req.cookies.session_chunks());
        let idp = tenant.auth.as_deref().and_then(|a| a.idp.as_ref());
        let location = match idp {
            Some(idp) => {
                let ep = self.discovery.endpoints(idp).await.ok();
                oidc::logout_location(
                    idp,
                    ep.as_ref(),
                    req.origin,
                    session.as_ref().map(|s| s.id_token.as_str()),
                )
            }
            None => "/".to_string(),
        };
        METRICS
            .logins
            .with_label_values(&[&tenant.metric_label, "logout"])
            .inc();
        LoginAnswer::Redirect {
            location,
            set_cookies,
        }
    }
}

/// Hashes a password for `basic_auth` (the `hash-password` command).
pub fn hash_password(password: &str) -> Result<String, String> {
    basic::hash(password)
}
