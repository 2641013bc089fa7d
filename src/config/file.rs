//! The on-disk configuration format: serde structs that mirror what operators write in
//! `gateway.yaml` and the tenant files. Unknown fields are rejected; nothing here is used on
//! the request path (see `config::model` for the validated form).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// `gateway.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayFile {
    #[serde(default)]
    pub listeners: ListenersFile,
    #[serde(default)]
    pub server: ServerFile,
    pub base_domains: Vec<BaseDomainFile>,
    #[serde(default)]
    pub path_tenants: Vec<PathTenantFile>,
    pub pools: BTreeMap<String, PoolFile>,
    #[serde(default)]
    pub default_routes: Vec<RouteFile>,
    pub tenants: TenantSourceFile,
    #[serde(default)]
    pub admin: AdminFile,
    #[serde(default)]
    pub metrics: MetricsFile,
    #[serde(default)]
    pub logging: LoggingFile,
    #[serde(default)]
    pub limits: LimitsFile,
    #[serde(default)]
    pub paths: PathsFile,
    #[serde(default)]
    pub headers: HeadersFile,
    #[serde(default)]
    pub auth: AuthFile,
    #[serde(default)]
    pub tls: TlsFile,
    #[serde(default)]
    pub assertion: Option<AssertionFile>,
    /// Rate and concurrency limits by tier name.
    #[serde(default)]
    pub tiers: BTreeMap<String, LimitValuesFile>,
    /// What onboarding creates in the tenant's identity provider.
    #[serde(default)]
    pub provisioning: Option<ProvisioningFile>,
    /// Custom domains are served only once their tenant proved control of them.
    #[serde(default)]
    pub domain_verification: Option<DomainVerificationFile>,
}

/// `domain_verification:` in `gateway.yaml`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct DomainVerificationFile {
    /// DNS servers (`ip:port`) asked for `_tenant-gateway-challenge.<domain>` TXT records.
    /// Default: the system's resolvers.
    #[serde(default)]
    pub nameservers: Vec<String>,
    /// First retry of a pending domain; doubles up to `max_interval`.
    #[serde(default = "default_verify_min", with = "humantime_serde")]
    pub min_interval: Duration,
    #[serde(default = "default_hour", with = "humantime_serde")]
    pub max_interval: Duration,
    /// Also accept the token served by the domain's current origin over plain HTTP at
    /// `/.well-known/tenant-gateway-challenge`. Default: true.
    #[serde(default = "default_true")]
    pub http: bool,
    /// Port of that HTTP check. Default: 80.
    #[serde(default = "default_http_check_port")]
    pub http_port: u16,
    /// Let the HTTP check reach loopback, private and link-local addresses (tests, labs).
    /// Default: false: a domain resolving to one is never fetched.
    #[serde(default)]
    pub allow_private_addresses: bool,
}

fn default_http_check_port() -> u16 {
    80
}

fn default_verify_min() -> Duration {
    Duration::from_secs(10)
}

/// A custom domain's verification state in a tenant record.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DomainStateFile {
    pub status: DomainStatusFile,
    /// What the tenant publishes to prove control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When and how it was verified (`dns`, `http`, or `admin` for a hand-made decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainStatusFile {
    Pending,
    Verified,
}

/// `provisioning:` in `gateway.yaml`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningFile {
    pub cognito: CognitoProvisioningFile,
}

/// `provisioning.cognito`: the shared user pool and what each new tenant gets in it.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CognitoProvisioningFile {
    pub user_pool_id: String,
    #[serde(default)]
    pub region: Option<String>,
    /// Endpoint override for Cognito-compatible servers.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Where the pool's keys are, when not at `<issuer>/.well-known/jwks.json`.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The hosted UI's domain (`auth.example.com`): the authorize, token and logout endpoints
    /// written into each tenant's `idp`. Without it they come from the pool's discovery.
    #[serde(default)]
    pub hosted_ui_domain: Option<String>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default = "default_auth_flows")]
    pub explicit_auth_flows: Vec<String>,
    #[serde(default)]
    pub token_validity: TokenValidityFile,
    #[serde(default = "default_group_pattern")]
    pub group_pattern: String,
    /// Create the tenant administrator (onboarding's `emailId`) with an invitation.
    #[serde(default = "default_true")]
    pub admin_user: bool,
    /// Deleting a tenant also deletes the users of its group.
    #[serde(default)]
    pub delete_users: bool,
    /// Scheme and port of the callback and logout URLs registered on the app client.
    #[serde(default = "default_public_scheme")]
    pub public_scheme: String,
    #[serde(default)]
    pub public_port: Option<u16>,
    /// Deadline of one Cognito call, retries included.
    #[serde(default = "default_provisioning_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// Token lifetimes of a provisioned app client.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct TokenValidityFile {
    #[serde(default = "default_hour", with = "humantime_serde")]
    pub id: Duration,
    #[serde(default = "default_hour", with = "humantime_serde")]
    pub access: Duration,
    #[serde(default = "default_refresh_validity", with = "humantime_serde")]
    pub refresh: Duration,
}

impl Default for TokenValidityFile {
    fn default() -> Self {
        Self {
            id: default_hour(),
            access: default_hour(),
            refresh: default_refresh_validity(),
        }
    }
}

fn default_auth_flows() -> Vec<String> {
    vec!["ALLOW_REFRESH_TOKEN_AUTH".to_string()]
}
fn default_group_pattern() -> String {
    "tenant-{id}".to_string()
}
fn default_public_scheme() -> String {
    "https".to_string()
}
fn default_provisioning_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_hour() -> Duration {
    Duration::from_secs(3600)
}
fn default_refresh_validity() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}

/// Rate and concurrency limits (a tier, a tenant's `limits`, a route's `limits`); a value
/// not given is unlimited, or inherited when this overrides a tier.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LimitValuesFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_second: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<LimitKeyFile>,
}

impl LimitValuesFile {
    /// The same values, unchecked (validation checks them).
    pub fn to_values(&self) -> super::LimitValues {
        super::LimitValues {
            rate_per_second: self.rate_per_second,
            burst: self.burst,
            max_in_flight: self.max_in_flight,
            key: self.key.map(|k| match k {
                LimitKeyFile::Tenant => super::LimitKey::Tenant,
                LimitKeyFile::User => super::LimitKey::User,
                LimitKeyFile::ClientIp => super::LimitKey::ClientIp,
            }),
        }
    }
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKeyFile {
    Tenant,
    User,
    ClientIp,
}

/// A route's `limits`: `off`, or values overriding the tenant's.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RouteLimitsFile {
    Switch(LimitsSwitchFile),
    Values(LimitValuesFile),
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitsSwitchFile {
    Off,
}

/// The signed tenant assertion sent to upstreams (`assertion:`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionFile {
    pub issuer: String,
    #[serde(default = "default_assertion_header")]
    pub header: String,
    #[serde(default = "default_assertion_ttl", with = "humantime_serde")]
    pub ttl: Duration,
    #[serde(default = "default_rotation_interval", with = "humantime_serde")]
    pub rotation_interval: Duration,
    #[serde(default = "default_assertion_key_file")]
    pub key_file: PathBuf,
    #[serde(default)]
    pub copy_claims: Vec<String>,
}

fn default_assertion_header() -> String {
    "x-tenant-assertion".into()
}
fn default_assertion_ttl() -> Duration {
    Duration::from_secs(120)
}
fn default_rotation_interval() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_assertion_key_file() -> PathBuf {
    PathBuf::from("state/assertion-keys.json")
}

/// TLS termination: certificates and ACME.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certs_dir: Option<PathBuf>,
    #[serde(default)]
    pub certificates: Vec<StaticCertFile>,
    #[serde(default)]
    pub unknown_sni: UnknownSniFile,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_http: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeFile>,
    /// Memory for stored certificates loaded at their first handshake (MiB). Default: 256.
    #[serde(default = "default_cert_cache_mib")]
    pub certificate_cache_mib: u64,
}

fn default_cert_cache_mib() -> u64 {
    256
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct StaticCertFile {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UnknownSniFile {
    #[default]
    Reject,
    Default,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeFile {
    pub directory_url: String,
    #[serde(default)]
    pub contact: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_renew_fraction")]
    pub renew_when_remaining: f64,
    #[serde(default = "default_retry_min", with = "humantime_serde")]
    pub retry_min: Duration,
    #[serde(default = "default_retry_max", with = "humantime_serde")]
    pub retry_max: Duration,
    #[serde(default = "default_acme_check", with = "humantime_serde")]
    pub check_interval: Duration,
    #[serde(default)]
    pub challenge: super::model::AcmeChallenge,
}

/// Gateway-wide authentication settings (sessions, token checks, JWKS caching).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_key: Option<SecretRefFile>,
    #[serde(default = "default_session_ttl", with = "humantime_serde")]
    pub session_ttl: Duration,
    #[serde(default = "default_refresh_before", with = "humantime_serde")]
    pub refresh_before: Duration,
    #[serde(default = "default_callback_path")]
    pub callback_path: String,
    #[serde(default = "default_logout_path")]
    pub logout_path: String,
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    #[serde(default = "default_jwks_refresh", with = "humantime_serde")]
    pub jwks_refresh_interval: Duration,
    #[serde(default = "default_jwks_min_refetch", with = "humantime_serde")]
    pub jwks_min_refetch_interval: Duration,
    #[serde(default = "default_http_timeout", with = "humantime_serde")]
    pub http_timeout: Duration,
    #[serde(default = "default_claims_cache")]
    pub claims_cache_size: u64,
    #[serde(default)]
    pub basic: BasicAuthFile,
    #[serde(default = "default_idp_max_response")]
    pub idp_max_response_bytes: u64,
}

/// `auth.basic`: bounds on Basic credential checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthFile {
    /// Default: the number of CPUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<usize>,
    #[serde(default = "default_basic_max_queue")]
    pub max_queue: usize,
    #[serde(default = "default_basic_queue_timeout", with = "humantime_serde")]
    pub queue_timeout: Duration,
    #[serde(default = "default_basic_failure_ttl", with = "humantime_serde")]
    pub failure_cache_ttl: Duration,
}

impl Default for BasicAuthFile {
    fn default() -> Self {
        Self {
            max_concurrent: None,
            max_queue: default_basic_max_queue(),
            queue_timeout: default_basic_queue_timeout(),
            failure_cache_ttl: default_basic_failure_ttl(),
        }
    }
}

impl Default for AuthFile {
    fn default() -> Self {
        Self {
            session_key: None,
            session_ttl: default_session_ttl(),
            refresh_before: default_refresh_before(),
            callback_path: default_callback_path(),
            logout_path: default_logout_path(),
            leeway: default_leeway(),
            jwks_refresh_interval: default_jwks_refresh(),
            jwks_min_refetch_interval: default_jwks_min_refetch(),
            http_timeout: default_http_timeout(),
            claims_cache_size: default_claims_cache(),
            basic: BasicAuthFile::default(),
            idp_max_response_bytes: default_idp_max_response(),
        }
    }
}

/// A secret given by reference, never in plain text: `{ env: NAME }`, `{ file: path }`, or
/// (tenant records in DynamoDB) `{ sealed: "v1...." }`, encrypted with the store's key.
#[derive(Debug, Deserialize, Clone, PartialEq, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SecretRefFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenersFile {
    #[serde(default = "default_http_listeners")]
    pub http: Vec<String>,
    #[serde(default = "default_admin_listener")]
    pub admin: String,
    #[serde(default = "default_true")]
    pub h2c: bool,
    #[serde(default)]
    pub https: Vec<String>,
}

impl Default for ListenersFile {
    fn default() -> Self {
        Self {
            http: default_http_listeners(),
            admin: default_admin_listener(),
            h2c: true,
            https: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graceful_shutdown_timeout: Option<Duration>,
    /// How long idle keep-alive connections stay open once draining starts (each request
    /// still arriving on one is answered with `Connection: close`).
    #[serde(default, with = "humantime_serde")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive_drain: Option<Duration>,
    /// Unix socket where a new process (`run --upgrade`) receives the listening sockets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_sock: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseDomainFile {
    pub domain: String,
    /// Redirect plain-HTTP requests for this base domain's tenants to HTTPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_http: Option<bool>,
    /// The ACME challenge for this base domain's hosts (else `tls.acme.challenge`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme_challenge: Option<super::model::AcmeChallenge>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathTenantFile {
    pub host: String,
    pub prefix: String,
    #[serde(default = "default_true")]
    pub strip_prefix: bool,
}

#[derive(Debug, Deserialize, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoolFile {
    pub backends: Vec<String>,
    #[serde(default)]
    pub balance: BalanceFile,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckFile>,
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    #[serde(default = "default_read_timeout", with = "humantime_serde")]
    pub read_timeout: Duration,
    #[serde(default = "default_read_timeout", with = "humantime_serde")]
    pub write_timeout: Duration,
    #[serde(default = "default_idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Duration,
    #[serde(default = "default_retries")]
    pub retries: u8,
}

#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BalanceFile {
    #[default]
    RoundRobin,
    TenantHash,
}

#[derive(Debug, Deserialize, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckFile {
    #[serde(default = "default_health_path")]
    pub path: String,
    #[serde(default = "default_health_interval", with = "humantime_serde")]
    pub interval: Duration,
    #[serde(default = "default_health_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default = "default_one")]
    pub healthy_after: usize,
    #[serde(default = "default_two")]
    pub unhealthy_after: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

#[derive(Debug, Deserialize, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub prefix: String,
    pub pool: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    // Empty lists and `false` are left out of the files the admin API writes (its JSON
    // shows them: see `admin::tenants::record`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub strip_prefix: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthModeFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require_scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_token: Option<bool>,
    /// On `auth: none` routes: send an assertion with the tenant context only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub assertion: bool,
    /// The assertion's `aud` for this route (default: the request's host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_audience: Option<String>,
    /// `off`, or limits overriding the tenant's on this route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<RouteLimitsFile>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthModeFile {
    None,
    Oidc,
    Jwt,
    Basic,
}

/// A tenant's identity provider.
#[derive(Debug, Deserialize, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdpFile {
    pub kind: IdpKindFile,
    pub issuer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretRefFile>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
    /// How a token is bound to the tenant (see [`TenantBindingFile`]). Default: the
    /// `custom:tenantid` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_binding: Option<TenantBindingFile>,
    /// Deprecated alias: `tenant_binding: {claim: ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_claim: Option<String>,
    /// Deprecated alias: `tenant_binding: {claim: ..., group: ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_group_prefix: Option<String>,
    #[serde(default = "default_accept_tokens")]
    pub accept_tokens: Vec<TokenKindFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups_claim: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claim_headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub forward_token: bool,
    /// Set when onboarding created this IdP's app client (`provisioning:`): the gateway keeps
    /// its URLs in step with the tenant's hosts and deletes it with the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<ManagedIdpFile>,
}

/// What onboarding created for a tenant in a Cognito user pool.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedIdpFile {
    pub user_pool_id: String,
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_user: Option<String>,
}

/// `idp.tenant_binding`: the string `issuer`, or a map with `claim`, `group` or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantBindingFile {
    /// `issuer`: the IdP (issuer + client_id) is dedicated to this tenant.
    Issuer,
    /// `{claim: C}`, `{group: P}` or `{claim: C, group: P}`.
    Rule {
        claim: Option<String>,
        group: Option<String>,
    },
}

/// The map form of [`TenantBindingFile`].
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TenantBindingRuleFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<String>,
}

impl Serialize for TenantBindingFile {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match self {
            TenantBindingFile::Issuer => ser.serialize_str("issuer"),
            TenantBindingFile::Rule { claim, group } => TenantBindingRuleFile {
                claim: claim.clone(),
                group: group.clone(),
            }
            .serialize(ser),
        }
    }
}

impl<'de> Deserialize<'de> for TenantBindingFile {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TenantBindingFile;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`issuer` or a map with `claim` and/or `group`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "issuer" => Ok(TenantBindingFile::Issuer),
                    other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let r = TenantBindingRuleFile::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(TenantBindingFile::Rule {
                    claim: r.claim,
                    group: r.group,
                })
            }
        }
        de.deserialize_any(Visitor)
    }
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdpKindFile {
    Cognito,
    Oidc,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKindFile {
    Id,
    Access,
}

/// A webhook credential: the password is stored as an Argon2 PHC hash.
#[derive(Debug, Deserialize, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicUserFile {
    pub username: String,
    pub password_hash: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "source", rename_all = "snake_case")]
pub enum TenantSourceFile {
    /// A YAML file with a `tenants:` list, or a directory of such files (`*.yaml`, `*.yml`).
    File { path: PathBuf },
    /// DynamoDB tables shared by a fleet of gateways (see `docs/fleet-design.md`).
    Dynamodb(DynamoSourceFile),
}

#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DynamoSourceFile {
    /// Tables are `<prefix>-tenants`, `<prefix>-control` and `<prefix>-certs`.
    #[serde(default = "default_table_prefix")]
    pub table_prefix: String,
    /// Region; default: the AWS provider chain's, else `us-east-1`.
    #[serde(default)]
    pub region: Option<String>,
    /// Endpoint override for DynamoDB-compatible servers (local testing).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// How often each node checks the fleet's change sequence.
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    pub poll_interval: std::time::Duration,
    /// Deadline of one DynamoDB call (retries included).
    #[serde(default = "default_store_timeout", with = "humantime_serde")]
    pub timeout: std::time::Duration,
    /// Environment variable with the secret (at least 32 characters) that encrypts ACME
    /// private keys and the ACME account in the certs table. Required with `tls.acme`.
    #[serde(default)]
    pub encryption_key_env: Option<String>,
}

fn default_table_prefix() -> String {
    "tenant-gateway".to_string()
}
fn default_poll_interval() -> std::time::Duration {
    std::time::Duration::from_secs(1)
}
fn default_store_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(2)
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AdminFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    #[serde(default = "default_max_tenant_labels")]
    pub max_tenant_labels: usize,
}

impl Default for MetricsFile {
    fn default() -> Self {
        Self {
            max_tenant_labels: default_max_tenant_labels(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingFile {
    #[serde(default = "default_log_level")]
    pub level: String,
    #[serde(default = "default_access_log")]
    pub access_log: String,
    /// The gateway's own logs: `auto` (readable lines on a terminal, JSON otherwise), `json`
    /// or `text`.
    #[serde(default)]
    pub format: LogFormatFile,
}

#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormatFile {
    #[default]
    Auto,
    Json,
    Text,
}

impl Default for LoggingFile {
    fn default() -> Self {
        Self {
            level: default_log_level(),
            access_log: default_access_log(),
            format: LogFormatFile::Auto,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    #[serde(default = "default_max_body")]
    pub max_request_body_bytes: u64,
    #[serde(default = "default_keepalive_pool")]
    pub upstream_keepalive_pool_size: usize,
    #[serde(default = "default_max_request_line")]
    pub max_request_line_bytes: usize,
    #[serde(default = "default_max_header")]
    pub max_header_bytes: usize,
    #[serde(default = "default_max_header_list")]
    pub max_header_list_bytes: usize,
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
    /// Connections from these CIDR ranges may name the client in `X-Forwarded-For`.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub headers_on_success: bool,
}

impl Default for LimitsFile {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            headers_on_success: false,
            max_request_body_bytes: default_max_body(),
            upstream_keepalive_pool_size: default_keepalive_pool(),
            max_request_line_bytes: default_max_request_line(),
            max_header_bytes: default_max_header(),
            max_header_list_bytes: default_max_header_list(),
            max_headers: default_max_headers(),
        }
    }
}

/// How request paths are canonicalised (`paths:`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsFile {
    #[serde(default = "default_true")]
    pub merge_slashes: bool,
    #[serde(default)]
    pub semicolons: SemicolonsFile,
}

impl Default for PathsFile {
    fn default() -> Self {
        Self {
            merge_slashes: true,
            semicolons: SemicolonsFile::Reject,
        }
    }
}

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SemicolonsFile {
    #[default]
    Reject,
    Allow,
}

/// Request header policy (`headers:`).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HeadersFile {
    #[serde(default)]
    pub underscores: UnderscoresFile,
}

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UnderscoresFile {
    #[default]
    Drop,
    Reject,
}

/// A tenants file: `tenants: [...]`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TenantsFile {
    #[serde(default)]
    pub tenants: Vec<TenantFile>,
}

/// One tenant record, modelled on the tenants table of the Hybrid SaaS Identity guide.
#[derive(Debug, Deserialize, Clone, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    pub id: String,
    pub name: String,
    pub subdomain: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_domains: Vec<String>,
    #[serde(default)]
    pub status: TenantStatusFile,
    #[serde(default = "default_tier")]
    pub tier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_domain: Option<String>,
    /// The tenant administrator's email (onboarding's `emailId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<RouteFile>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pools: BTreeMap<String, PoolFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp: Option<IdpFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub basic_auth: Vec<BasicUserFile>,
    /// Overrides of the tier's rate and concurrency limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitValuesFile>,
    /// Verification state of `custom_domains` (with `domain_verification:` on), by domain.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub verification: BTreeMap<String, DomainStateFile>,
}

#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatusFile {
    #[default]
    Active,
    Disabled,
}

fn default_true() -> bool {
    true
}
fn default_http_listeners() -> Vec<String> {
    vec!["0.0.0.0:8080".to_string()]
}
fn default_admin_listener() -> String {
    "127.0.0.1:9090".to_string()
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_read_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_idle_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_retries() -> u8 {
    1
}
fn default_health_path() -> String {
    "/".to_string()
}
fn default_health_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_health_timeout() -> Duration {
    Duration::from_secs(1)
}
fn default_one() -> usize {
    1
}
fn default_two() -> usize {
    2
}
fn default_max_tenant_labels() -> usize {
    500
}
fn default_log_level() -> String {
    "info".to_string()
}
fn default_access_log() -> String {
    "stdout".to_string()
}
fn default_max_body() -> u64 {
    10 * 1024 * 1024
}
fn default_keepalive_pool() -> usize {
    1024
}
fn default_max_request_line() -> usize {
    8 * 1024
}
fn default_max_header() -> usize {
    32 * 1024
}
fn default_max_header_list() -> usize {
    64 * 1024
}
fn default_max_headers() -> usize {
    100
}
fn default_renew_fraction() -> f64 {
    1.0 / 3.0
}
fn default_retry_min() -> Duration {
    Duration::from_secs(10)
}
fn default_retry_max() -> Duration {
    Duration::from_secs(3600)
}
fn default_acme_check() -> Duration {
    Duration::from_secs(5)
}
fn default_session_ttl() -> Duration {
    Duration::from_secs(8 * 3600)
}
fn default_refresh_before() -> Duration {
    Duration::from_secs(60)
}
fn default_callback_path() -> String {
    "/callback".to_string()
}
fn default_logout_path() -> String {
    "/logout".to_string()
}
fn default_leeway() -> Duration {
    Duration::from_secs(60)
}
fn default_jwks_refresh() -> Duration {
    Duration::from_secs(900)
}
fn default_jwks_min_refetch() -> Duration {
    Duration::from_secs(30)
}
fn default_http_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_claims_cache() -> u64 {
    100_000
}
fn default_idp_max_response() -> u64 {
    1024 * 1024
}
fn default_basic_max_queue() -> usize {
    32
}
fn default_basic_queue_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_basic_failure_ttl() -> Duration {
    Duration::from_secs(60)
}
fn default_scopes() -> Vec<String> {
    vec!["openid".to_string(), "email".to_string()]
}
fn default_accept_tokens() -> Vec<TokenKindFile> {
    vec![TokenKindFile::Id, TokenKindFile::Access]
}
fn default_tier() -> String {
    "basic".to_string()
}
