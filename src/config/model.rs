//! The validated configuration the rest of the gateway is built from. Every value here has
//! passed validation; pools are resolved to socket addresses and routes name existing pools.

use crate::host::Hostname;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;

/// Everything loaded from `gateway.yaml` and its tenant source.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: PathBuf,
    /// Where tenant records come from.
    pub tenant_source: TenantSource,
    pub listeners: Listeners,
    pub server: ServerSettings,
    pub admin: AdminSettings,
    pub logging: LoggingSettings,
    pub upstream_keepalive_pool_size: usize,
    pub tls: Option<TlsConfig>,
    /// The signed tenant assertion (applies at start).
    pub assertion: Option<AssertionConfig>,
    /// What onboarding creates in a Cognito user pool (applies at start).
    pub provisioning: Option<CognitoProvisioning>,
    /// The part of the configuration that a reload can change.
    pub routing: RoutingConfig,
    /// The tenants file's items, when the tenants were read from one file that can be
    /// indexed: what the next edit of that file is compared with.
    pub tenant_items: Option<super::TenantItems>,
}

/// A validated `provisioning.cognito` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoProvisioning {
    pub user_pool_id: String,
    /// From the settings, else the pool id's prefix (`us-east-1_AbC` is in us-east-1).
    pub region: String,
    pub endpoint: Option<String>,
    /// `https://cognito-idp.<region>.amazonaws.com/<pool>`: the `iss` of the pool's tokens.
    pub issuer: String,
    pub jwks_uri: Option<String>,
    /// `https://<hosted UI domain>`.
    pub hosted_ui: Option<String>,
    pub scopes: Vec<String>,
    pub explicit_auth_flows: Vec<String>,
    /// Lifetimes of ID, access and refresh tokens.
    pub id_token_validity: Duration,
    pub access_token_validity: Duration,
    pub refresh_token_validity: Duration,
    /// With `{id}` where the tenant id goes.
    pub group_pattern: String,
    pub admin_user: bool,
    pub delete_users: bool,
    pub public_scheme: String,
    pub public_port: Option<u16>,
    pub timeout: Duration,
}

impl CognitoProvisioning {
    /// The tenant's group in the pool.
    pub fn group_for(&self, tenant_id: &str) -> String {
        self.group_pattern.replace("{id}", tenant_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listeners {
    pub http: Vec<String>,
    pub admin: String,
    pub h2c: bool,
    pub https: Vec<String>,
}

/// TLS termination settings (apply at start).
#[derive(Debug, Clone, PartialEq)]
pub struct TlsConfig {
    /// Where issued certificates, keys and the ACME account are kept.
    pub certs_dir: PathBuf,
    /// Operator-provided (cert chain, key) PEM files.
    pub certificates: Vec<(PathBuf, PathBuf)>,
    /// Serve the first static certificate for unknown SNI instead of failing the handshake.
    pub unknown_sni_default: bool,
    pub acme: Option<AcmeConfig>,
    /// Bytes of stored certificates kept loaded (least recently used ones are dropped).
    pub certificate_cache_bytes: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AcmeConfig {
    pub directory_url: String,
    pub contact: Vec<String>,
    pub ca_file: Option<PathBuf>,
    /// Renew when this fraction of the certificate's lifetime remains.
    pub renew_when_remaining: f64,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub check_interval: Duration,
    /// How the CA validates hosts (`tls.acme.challenge`).
    pub challenge: AcmeChallenge,
    /// `base_domains[].acme_challenge`: (base domain, challenge) overrides for its hosts.
    pub base_domain_challenges: Vec<(String, AcmeChallenge)>,
}

/// The ACME challenge type: HTTP-01 on the HTTP listener, or TLS-ALPN-01 on the HTTPS one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub enum AcmeChallenge {
    #[default]
    #[serde(rename = "http-01")]
    Http01,
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
}

impl AcmeConfig {
    /// The challenge for `host`: its base domain's choice, else the global one.
    pub fn challenge_for(&self, host: &str) -> AcmeChallenge {
        self.base_domain_challenges
            .iter()
            .filter(|(base, _)| {
                host == base
                    || host
                        .strip_suffix(base.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            })
            .max_by_key(|(base, _)| base.len())
            .map_or(self.challenge, |(_, c)| *c)
    }
}

/// The gateway-signed JWT upstreams receive (`assertion:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionConfig {
    pub issuer: String,
    /// Lower-case header name.
    pub header: String,
    pub ttl: Duration,
    pub rotation_interval: Duration,
    pub key_file: PathBuf,
    pub copy_claims: Vec<String>,
}

/// Plain-HTTP → HTTPS redirects: the port to redirect to and which hosts redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsRedirect {
    pub port: u16,
    /// Per base domain (same order as `RoutingConfig::base_domains`).
    pub base_domains: Vec<bool>,
    pub custom_domains: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    pub threads: usize,
    pub grace_period: Duration,
    pub graceful_shutdown_timeout: Duration,
    /// How long idle HTTP/1 keep-alive connections stay open once draining starts; a request
    /// arriving on one meanwhile is served and answered with `Connection: close`.
    pub keepalive_drain: Duration,
    /// Where `run --upgrade` takes the listening sockets over (see deploy/UPGRADE.md).
    pub upgrade_sock: PathBuf,
}

/// Admin listener settings. The token is a secret: its `Debug` never prints it.
#[derive(Clone, Default)]
pub struct AdminSettings {
    pub token: Option<String>,
}

impl fmt::Debug for AdminSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminSettings")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingSettings {
    pub level: String,
    pub access_log: AccessLogTarget,
    /// `None`: readable lines when stderr is a terminal, JSON otherwise; `Some(true)`: JSON.
    pub json: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    Off,
    Stdout,
    File(PathBuf),
}

/// Tenants, routes, pools and host rules: what a reload swaps in atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingConfig {
    pub base_domains: Vec<Hostname>,
    pub path_tenants: Vec<PathTenantSpec>,
    /// Shared pools by name, and each tenant's silo pools under `tenant/<subdomain>/<name>`.
    pub pools: BTreeMap<String, PoolSpec>,
    pub default_routes: Vec<RouteSpec>,
    /// Shared, so a version that changes one tenant shares the others with the last one.
    pub tenants: Vec<std::sync::Arc<TenantSpec>>,
    pub max_tenant_labels: usize,
    pub max_request_body_bytes: u64,
    /// Path canonicalisation, header policy and size limits of request heads.
    pub request: RequestPolicy,
    pub auth: AuthSettings,
    /// Present when HTTPS listeners exist and some hosts redirect to them.
    pub https_redirect: Option<HttpsRedirect>,
    /// Per-tenant rate and concurrency limits.
    pub limits: LimitsSettings,
    /// Set when custom domains must be verified before they are served.
    pub domain_verification: Option<DomainVerification>,
}

impl RoutingConfig {
    /// Whether `other` has the same settings apart from its tenants and pools (what a
    /// change of tenant records leaves alone).
    pub fn same_settings(&self, other: &RoutingConfig) -> bool {
        // Spelled out, so that a new field is a compile error here until it is compared.
        let RoutingConfig {
            base_domains,
            path_tenants,
            pools: _,
            default_routes,
            tenants: _,
            max_tenant_labels,
            max_request_body_bytes,
            request,
            auth,
            https_redirect,
            limits,
            domain_verification,
        } = self;
        *base_domains == other.base_domains
            && *path_tenants == other.path_tenants
            && *default_routes == other.default_routes
            && *max_tenant_labels == other.max_tenant_labels
            && *max_request_body_bytes == other.max_request_body_bytes
            && *request == other.request
            && *auth == other.auth
            && *https_redirect == other.https_redirect
            && *limits == other.limits
            && *domain_verification == other.domain_verification
    }
}

/// Validated `domain_verification:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainVerification {
    /// Empty: the system's resolvers.
    pub nameservers: Vec<SocketAddr>,
    pub min_interval: Duration,
    pub max_interval: Duration,
    /// The HTTP check: `Some(port)` when on.
    pub http_port: Option<u16>,
    pub allow_private_addresses: bool,
}

/// A custom domain waiting for its tenant to prove control (not served, not certified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDomain {
    pub host: Hostname,
    /// `None` until the verifier has given it one.
    pub token: Option<String>,
}

/// What a request head must look like before anything routes on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPolicy {
    pub paths: crate::path::PathOptions,
    /// Headers with `_` in their name are refused (400) instead of dropped.
    pub reject_underscores: bool,
    /// Method, target and version: past it 414.
    pub max_request_line_bytes: usize,
    /// One header's name and value: past it 431.
    pub max_header_bytes: usize,
    /// All headers together: past it 431.
    pub max_header_list_bytes: usize,
    /// Number of headers: past it 431.
    pub max_headers: usize,
}

impl Default for RequestPolicy {
    fn default() -> Self {
        Self {
            paths: crate::path::PathOptions::default(),
            reject_underscores: false,
            max_request_line_bytes: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_header_list_bytes: 64 * 1024,
            max_headers: 100,
        }
    }
}

/// A secret value read from the environment or a file. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(std::sync::Arc<str>);

impl Secret {
    pub fn new(value: &str) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Gateway-wide authentication settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// Encrypts session and login-flow cookies; required once a tenant uses `oidc` routes.
    pub session_key: Option<Secret>,
    pub session_ttl: Duration,
    pub refresh_before: Duration,
    pub callback_path: String,
    pub logout_path: String,
    pub leeway: Duration,
    pub jwks_refresh_interval: Duration,
    pub jwks_min_refetch_interval: Duration,
    pub http_timeout: Duration,
    pub claims_cache_size: u64,
    /// Bounds on Basic credential checks (Argon2).
    pub basic: BasicLimits,
    /// Largest response body read from an IdP (JWKS, discovery, token endpoint).
    pub idp_max_response_bytes: u64,
    /// IdP token claims kept for the tenant assertion (set from `assertion.copy_claims`).
    pub copy_claims: Vec<String>,
}

impl AuthSettings {
    /// Which of the settings read only where the authenticator is built at start (its HTTP
    /// client, token cache and Basic limits) differ in `new`, named as in `gateway.yaml`: a
    /// reload cannot apply them. A new start-only auth setting gets a line here.
    pub fn start_only_changes(&self, new: &AuthSettings) -> Vec<&'static str> {
        fn differs<T: PartialEq>(name: &'static str, old: &T, new: &T) -> Option<&'static str> {
            (old != new).then_some(name)
        }
        let (o, n) = (self, new);
        let (ob, nb) = (&o.basic, &n.basic);
        [
            differs("auth.http_timeout", &o.http_timeout, &n.http_timeout),
            differs(
                "auth.claims_cache_size",
                &o.claims_cache_size,
                &n.claims_cache_size,
            ),
            differs(
                "auth.idp_max_response_bytes",
                &o.idp_max_response_bytes,
                &n.idp_max_response_bytes,
            ),
            differs(
                "auth.basic.max_concurrent",
                &ob.max_concurrent,
                &nb.max_concurrent,
            ),
            differs("auth.basic.max_queue", &ob.max_queue, &nb.max_queue),
            differs(
                "auth.basic.queue_timeout",
                &ob.queue_timeout,
                &nb.queue_timeout,
            ),
            differs(
                "auth.basic.failure_cache_ttl",
                &ob.failure_cache_ttl,
                &nb.failure_cache_ttl,
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// How much Argon2 work unauthenticated clients can cause: a few verifications at once, a
/// short queue with a deadline, and wrong passwords remembered for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicLimits {
    /// Verifications running at once (at least 1).
    pub max_concurrent: usize,
    /// Requests waiting for a verification slot; more get 503 `overloaded`.
    pub max_queue: usize,
    /// Longest wait for a slot before 503 `overloaded`.
    pub queue_timeout: Duration,
    /// How long a wrong (tenant, credentials) pair is answered without Argon2.
    pub failure_cache_ttl: Duration,
}

/// How a route authenticates requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMode {
    /// Public: no authentication.
    None,
    /// Browser login through the tenant's IdP (session cookie), or a bearer token.
    Oidc,
    /// Bearer token only (APIs).
    Jwt,
    /// HTTP Basic with the tenant's webhook credentials.
    Basic,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Oidc => "oidc",
            AuthMode::Jwt => "jwt",
            AuthMode::Basic => "basic",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdpKind {
    Cognito,
    Oidc,
}

/// A tenant's identity provider, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpSpec {
    pub kind: IdpKind,
    pub issuer: String,
    /// Where to discover endpoints not given explicitly (default `<issuer>/.well-known/openid-configuration`).
    pub discovery_url: String,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub end_session_endpoint: Option<String>,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub scopes: Vec<String>,
    pub identity_provider: Option<String>,
    /// How a token is bound to the tenant of the Host.
    pub tenant_binding: TenantBinding,
    pub accept_id_tokens: bool,
    pub accept_access_tokens: bool,
    /// Accepted `aud` values (default: the client id).
    pub audiences: Vec<String>,
    pub groups_claim: String,
    /// (lower-case header name, claim name): extra identity headers for the upstream.
    pub claim_headers: Vec<(String, String)>,
    pub forward_token: bool,
}

/// The claim that names a token's tenant unless configured otherwise.
pub const DEFAULT_TENANT_CLAIM: &str = "custom:tenantid";

/// How a token is bound to the tenant of the Host (`idp.tenant_binding`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantBinding {
    /// The claim must equal the tenant id. Tokens without it (Cognito access tokens carry no
    /// custom attributes) belong to the tenant whose group `<group_prefix><tenant id>` they
    /// carry, when a prefix is set.
    Claim {
        claim: String,
        group_prefix: Option<String>,
    },
    /// The group `<prefix><tenant id>` decides; claims are not read.
    Group { prefix: String },
    /// The IdP (issuer + client_id) is dedicated to this tenant, which validation makes sure
    /// of: any valid token of it is the tenant's, unless its `custom:tenantid` names another.
    Issuer,
}

impl Default for TenantBinding {
    fn default() -> Self {
        TenantBinding::Claim {
            claim: DEFAULT_TENANT_CLAIM.to_string(),
            group_prefix: None,
        }
    }
}

/// A webhook credential (Argon2 PHC hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicUser {
    pub username: String,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTenantSpec {
    pub host: Hostname,
    pub prefix: String,
    pub strip_prefix: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    TenantHash,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    pub backends: Vec<SocketAddr>,
    pub balance: Balance,
    pub health_check: Option<HealthCheckSpec>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub idle_timeout: Duration,
    pub retries: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckSpec {
    pub path: String,
    pub host: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub healthy_after: usize,
    pub unhealthy_after: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub name: String,
    pub prefix: String,
    /// Key into [`RoutingConfig::pools`].
    pub pool: String,
    pub strip_prefix: bool,
    /// `None`: the tenant's default (`oidc` when it has an IdP, else `none`).
    pub auth: Option<AuthMode>,
    pub require_groups: Vec<String>,
    pub require_scopes: Vec<String>,
    /// Send the validated credential upstream (`None`: the tenant IdP's `forward_token`).
    pub forward_token: Option<bool>,
    /// `auth: none` routes: send a tenant-context assertion anyway.
    pub assertion: bool,
    /// The assertion's `aud` (default: the request's host).
    pub assertion_audience: Option<String>,
    /// The route's own limits (`None`: the tenant's).
    pub limits: Option<RouteLimits>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    Disabled,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSpec {
    pub id: Uuid,
    pub name: String,
    pub subdomain: String,
    /// Custom domains served (verified ones, when verification is on).
    pub custom_domains: Vec<Hostname>,
    /// Custom domains waiting for verification.
    pub pending_domains: Vec<PendingDomain>,
    pub status: TenantStatus,
    pub tier: String,
    pub email_domain: Option<String>,
    /// `None`: the gateway's `default_routes`.
    pub routes: Option<Vec<RouteSpec>>,
    pub idp: Option<std::sync::Arc<IdpSpec>>,
    pub basic_users: Vec<BasicUser>,
    /// Overrides of the tier's limits.
    pub limits: Option<LimitValues>,
}

impl TenantSpec {
    /// The auth mode a route has for this tenant.
    pub fn effective_auth(&self, route: &RouteSpec) -> AuthMode {
        route.auth.unwrap_or(if self.idp.is_some() {
            AuthMode::Oidc
        } else {
            AuthMode::None
        })
    }

    /// Whether this tenant's IdP gives it every token of its issuer (`tenant_binding: issuer`).
    pub fn bound_to_issuer(&self) -> bool {
        self.idp
            .as_deref()
            .is_some_and(|i| i.tenant_binding == TenantBinding::Issuer)
    }
}

/// Where tenant records come from (fixed at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantSource {
    /// A tenants file or a directory of them.
    File(PathBuf),
    /// DynamoDB tables shared by a fleet.
    Dynamodb(DynamoSettings),
}

/// A validated `tenants: {source: dynamodb}` block.
#[derive(Clone, PartialEq, Eq)]
pub struct DynamoSettings {
    pub table_prefix: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub poll_interval: Duration,
    pub timeout: Duration,
    /// The secret that encrypts certificate keys at rest (read from `encryption_key_env`).
    pub encryption_key: Option<String>,
}

impl DynamoSettings {
    pub fn tenants_table(&self) -> String {
        format!("{}-tenants", self.table_prefix)
    }
    pub fn control_table(&self) -> String {
        format!("{}-control", self.table_prefix)
    }
    pub fn certs_table(&self) -> String {
        format!("{}-certs", self.table_prefix)
    }
    /// How validation issues name the tenant source.
    pub fn label(&self) -> PathBuf {
        PathBuf::from(format!("dynamodb:{}", self.tenants_table()))
    }
}

impl fmt::Debug for DynamoSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoSettings")
            .field("table_prefix", &self.table_prefix)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

/// What a limit is counted per (`key:` on a tier, tenant or route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LimitKey {
    /// One budget per tenant.
    #[default]
    Tenant,
    /// One budget per (tenant, user `sub`) on authenticated routes; the tenant's otherwise.
    User,
    /// One budget per (tenant, client IP), the IP read as `limits.trusted_proxies` allow.
    ClientIp,
}

impl LimitKey {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKey::Tenant => "tenant",
            LimitKey::User => "user",
            LimitKey::ClientIp => "client_ip",
        }
    }
}

/// Rate and concurrency limits; a missing value is unlimited (`burst`: one request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LimitValues {
    pub rate_per_second: Option<u32>,
    pub burst: Option<u32>,
    pub max_in_flight: Option<u32>,
    pub key: Option<LimitKey>,
}

impl LimitValues {
    /// These values, with the ones not set here taken from `base`.
    pub fn over(self, base: LimitValues) -> LimitValues {
        LimitValues {
            rate_per_second: self.rate_per_second.or(base.rate_per_second),
            burst: self.burst.or(base.burst),
            max_in_flight: self.max_in_flight.or(base.max_in_flight),
            key: self.key.or(base.key),
        }
    }
}

/// A route's own limits (`limits:` on a route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteLimits {
    /// `limits: off`: the route is never limited.
    Off,
    /// Values that override the tenant's.
    Set(LimitValues),
}

/// An address range (`10.0.0.0/8`, `::1/128`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not an address or CIDR range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has an invalid prefix length"))?,
        };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::*;
        let ip = match ip {
            V6(v6) if self.addr.is_ipv4() => match v6.to_ipv4_mapped() {
                Some(v4) => V4(v4),
                None => return false,
            },
            other => other,
        };
        match (self.addr, ip) {
            (V4(n), V4(i)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(i) & mask
            }
            (V6(n), V6(i)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}

/// Per-tenant rate and concurrency limits (`tiers:` and `limits:` in `gateway.yaml`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LimitsSettings {
    /// Limits by tier name; a tenant whose tier is not here is unlimited unless overridden.
    pub tiers: BTreeMap<String, LimitValues>,
    /// Connections from these ranges may name the client in `X-Forwarded-For`.
    pub trusted_proxies: Vec<Cidr>,
    /// Add `RateLimit-Policy` / `RateLimit` to forwarded responses on limited routes too.
    pub headers_on_success: bool,
}
