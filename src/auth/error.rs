//! Authentication failures and what each one answers: 401 with an RFC 6750 challenge for bad
//! or missing credentials, 403 for a valid identity that may not pass, 503 when the IdP's
//! keys cannot be had at all, and 503 with `Retry-After` when too many Basic credentials are
//! being checked at once.

/// Why a request was not authenticated or not authorized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials")]
    MissingCredentials,
    /// The reason is a stable code: `expired`, `wrong_issuer`, `unknown_kid`, ...
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    #[error("token is for another tenant")]
    TenantMismatch,
    #[error("token has no tenant claim")]
    TenantClaimMissing,
    #[error("not authorized: {0}")]
    Forbidden(&'static str),
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("identity provider unavailable: {0}")]
    IdpUnavailable(String),
    #[error("login failed: {0}")]
    LoginFailed(String),
    /// Too many Basic credential checks running and waiting: try again shortly.
    #[error("too many credential checks in progress")]
    Overloaded,
}

impl AuthError {
    pub fn status(&self) -> u16 {
        match self {
            AuthError::MissingCredentials
            | AuthError::InvalidToken(_)
            | AuthError::InvalidCredentials => 401,
            AuthError::TenantMismatch | AuthError::TenantClaimMissing | AuthError::Forbidden(_) => {
                403
            }
            AuthError::IdpUnavailable(_) | AuthError::Overloaded => 503,
            AuthError::LoginFailed(_) => 400,
        }
    }

    /// Stable code for JSON bodies, metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingCredentials => "missing_credentials",
            AuthError::InvalidToken(r) => r,
            AuthError::TenantMismatch => "tenant_mismatch",
            AuthError::TenantClaimMissing => "tenant_claim_missing",
            AuthError::Forbidden(r) => r,
            AuthError::InvalidCredentials => "invalid_credentials",
            AuthError::IdpUnavailable(_) => "idp_unavailable",
            AuthError::LoginFailed(_) => "login_failed",
            AuthError::Overloaded => "overloaded",
        }
    }

    /// The `error` member of the JSON body.
    pub fn error(&self) -> &'static str {
        match self {
            AuthError::MissingCredentials | AuthError::InvalidCredentials => "unauthorized",
            AuthError::InvalidToken(_) => "invalid_token",
            AuthError::TenantMismatch | AuthError::TenantClaimMissing | AuthError::Forbidden(_) => {
                "forbidden"
            }
            AuthError::IdpUnavailable(_) => "idp_unavailable",
            AuthError::LoginFailed(_) => "login_failed",
            AuthError::Overloaded => "overloaded",
        }
    }

    /// `WWW-Authenticate` value (RFC 6750 for bearer, RFC 7617 for basic).
    pub fn challenge(&self, realm: &str, basic: bool) -> Option<String> {
        let realm = realm.replace('"', "");
        if basic {
            return matches!(
                self,
                AuthError::MissingCredentials | AuthError::InvalidCredentials
            )
            .then(|| format!("Basic realm=\"{realm}\", charset=\"UTF-8\""));
        }
        match self {
            AuthError::MissingCredentials => Some(format!("Bearer realm=\"{realm}\"")),
            AuthError::InvalidToken(r) => Some(format!(
                "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{r}\""
            )),
            AuthError::Forbidden("missing_scope") => Some(format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"missing_scope\""
            )),
            _ => None,
        }
    }

    /// Human-readable message for the JSON body (no secrets, no token content).
    pub fn message(&self) -> String {
        match self {
            AuthError::MissingCredentials => "authentication is required".into(),
            AuthError::InvalidToken(r) => format!("the token was rejected ({r})"),
            AuthError::TenantMismatch => "the token belongs to another tenant".into(),
            AuthError::TenantClaimMissing => "the token carries no tenant".into(),
            AuthError::Forbidden(r) => format!("access denied ({r})"),
            AuthError::InvalidCredentials => "invalid credentials".into(),
            AuthError::IdpUnavailable(_) => {
                "the identity provider cannot be reached; try again shortly".into()
            }
            AuthError::LoginFailed(m) => m.clone(),
            AuthError::Overloaded => {
                "too many credential checks in progress; try again shortly".into()
            }
        }
    }

    /// Seconds for a `Retry-After` header, for answers that say "try again shortly".
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            AuthError::Overloaded => Some(1),
            _ => None,
        }
    }
}
