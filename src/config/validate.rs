//! Validation: turns the parsed files into a [`Config`], collecting every problem found (not
//! just the first) with the file, tenant and field it belongs to.

use super::error::Issue;
use super::file::*;
use super::model::*;
use crate::host::{is_dns_label, Hostname};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

use super::validate_auth::{self as auth, Scope};

/// Validated pieces of `gateway.yaml` that do not depend on tenants.
pub(super) struct GatewayParts {
    pub listeners: Listeners,
    pub server: ServerSettings,
    pub logging: LoggingSettings,
    pub admin_token_env: Option<String>,
    pub admin_token_file: Option<PathBuf>,
    pub upstream_keepalive_pool_size: usize,
    pub base_domains: Vec<Hostname>,
    pub path_tenants: Vec<PathTenantSpec>,
    pub pools: BTreeMap<String, PoolSpec>,
    pub default_routes: Vec<RouteSpec>,
    pub max_tenant_labels: usize,
    pub max_request_body_bytes: u64,
    pub request: RequestPolicy,
    pub auth: AuthSettings,
    pub tls: Option<TlsConfig>,
    pub assertion: Option<AssertionConfig>,
    pub https_redirect: Option<HttpsRedirect>,
    pub limits: LimitsSettings,
    pub provisioning: Option<CognitoProvisioning>,
    pub domain_verification: Option<DomainVerification>,
    /// Opens `{sealed: ...}` secrets in tenant records (the DynamoDB store's key).
    pub sealer: Option<std::sync::Arc<crate::seal::Sealer>>,
}

pub(super) fn gateway(file: &Path, g: GatewayFile, issues: &mut Vec<Issue>) -> GatewayParts {
    let mut s = Scope {
        file,
        tenant: None,
        issues,
    };
    for (i, l) in g.listeners.http.iter().enumerate() {
        if l.parse::<SocketAddr>().is_err() {
            s.err(
                format!("listeners.http[{i}]"),
                format!("{l:?} is not an ip:port address"),
            );
        }
    }
    if g.listeners.http.is_empty() {
        s.err("listeners.http", "at least one HTTP listener is required");
    }
    if g.listeners.admin.parse::<SocketAddr>().is_err() {
        s.err(
            "listeners.admin",
            format!("{:?} is not an ip:port address", g.listeners.admin),
        );
    }
    let threads = g
        .server
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        s.err("server.threads", "must be at least 1");
    }
    let upgrade_sock = match &g.server.upgrade_sock {
        Some(p) => relative_to(file, p),
        None => PathBuf::from(DEFAULT_UPGRADE_SOCK),
    };
    // A Unix socket path fits in sun_path (108 bytes with the NUL).
    let empty = g
        .server
        .upgrade_sock
        .as_ref()
        .is_some_and(|p| p.as_os_str().is_empty());
    if empty || upgrade_sock.as_os_str().len() > 107 {
        s.err(
            "server.upgrade_sock",
            format!("{upgrade_sock:?}: a Unix socket path of 1 to 107 bytes"),
        );
    }
    let access_log = match g.logging.access_log.as_str() {
        "off" => AccessLogTarget::Off,
        "stdout" => AccessLogTarget::Stdout,
        "" => {
            s.err(
                "logging.access_log",
                "use \"off\", \"stdout\" or a file path",
            );
            AccessLogTarget::Off
        }
        path => AccessLogTarget::File(relative_to(file, Path::new(path))),
    };
    if tracing_subscriber::EnvFilter::try_new(&g.logging.level).is_err() {
        s.err(
            "logging.level",
            format!("{:?} is not a log filter", g.logging.level),
        );
    }
    if g.admin.token_env.is_some() && g.admin.token_file.is_some() {
        s.err("admin", "set token_env or token_file, not both");
    }

    let mut base_domains = Vec::new();
    if g.base_domains.is_empty() {
        s.err("base_domains", "at least one base domain is required");
    }
    for (i, b) in g.base_domains.iter().enumerate() {
        match Hostname::parse(&b.domain) {
            Ok(h) if base_domains.contains(&h) => s.err(
                format!("base_domains[{i}].domain"),
                format!("duplicate base domain {h}"),
            ),
            Ok(h) => base_domains.push(h),
            Err(e) => s.err(format!("base_domains[{i}].domain"), e),
        }
    }
    let mut path_tenants: Vec<PathTenantSpec> = Vec::new();
    for (i, p) in g.path_tenants.iter().enumerate() {
        let field = format!("path_tenants[{i}]");
        let host = match Hostname::parse(&p.host) {
            Ok(h) => h,
            Err(e) => {
                s.err(format!("{field}.host"), e);
                continue;
            }
        };
        if path_tenants.iter().any(|o| o.host == host) {
            s.err(
                format!("{field}.host"),
                format!("duplicate path-tenant host {host}"),
            );
        }
        if let Err(e) = check_prefix(&p.prefix) {
            s.err(format!("{field}.prefix"), e);
        }
        path_tenants.push(PathTenantSpec {
            host,
            prefix: p.prefix.trim_end_matches('/').to_string(),
            strip_prefix: p.strip_prefix,
        });
    }

    let mut pools = BTreeMap::new();
    for (name, p) in &g.pools {
        if let Some(spec) = pool(&mut s, &format!("pools.{name}"), name, p) {
            pools.insert(name.clone(), spec);
        }
    }
    let default_routes = routes(&mut s, "default_routes", &g.default_routes, &pools, None);
    let auth = auth::settings(&mut s, &g.auth);
    let request = request_policy(&mut s, &g);
    let tls = super::validate_tls::tls(&mut s, &g.listeners.https, &g.tls, &g.base_domains);
    let assertion = g.assertion.as_ref().and_then(|a| assertion(&mut s, a));
    let https_redirect = super::validate_tls::redirect(&g.listeners.https, &g.tls, &g.base_domains);
    let limits = limits_settings(&mut s, &g);
    let provisioning = g
        .provisioning
        .as_ref()
        .and_then(|p| super::validate_provisioning::cognito(&mut s, &p.cognito));
    let domain_verification = g
        .domain_verification
        .as_ref()
        .map(|d| domain_verification(&mut s, d));
    let grace_period = g.server.grace_period.unwrap_or(Duration::from_secs(5));
    let keepalive_drain = g
        .server
        .keepalive_drain
        .unwrap_or(Duration::from_secs(2).min(grace_period / 2));
    if keepalive_drain > grace_period {
        s.err(
            "server.keepalive_drain",
            format!(
                "{} is longer than server.grace_period ({}): idle connections would outlive the process",
                humantime::format_duration(keepalive_drain),
                humantime::format_duration(grace_period)
            ),
        );
    }
    if g.metrics.max_tenant_labels == 0 {
        s.err(
            "metrics.max_tenant_labels",
            "must be at least 1 (tenants past it share the label \"other\")",
        );
    }
    GatewayParts {
        listeners: Listeners {
            http: g.listeners.http,
            admin: g.listeners.admin,
            h2c: g.listeners.h2c,
            https: g.listeners.https,
        },
        server: ServerSettings {
            threads,
            grace_period,
            keepalive_drain,
            graceful_shutdown_timeout: g
                .server
                .graceful_shutdown_timeout
                .unwrap_or(Duration::from_secs(5)),
            upgrade_sock,
        },
        logging: LoggingSettings {
            level: g.logging.level,
            access_log,
            json: match g.logging.format {
                LogFormatFile::Auto => None,
                LogFormatFile::Json => Some(true),
                LogFormatFile::Text => Some(false),
            },
        },
        admin_token_env: g.admin.token_env,
        admin_token_file: g.admin.token_file.map(|p| relative_to(file, &p)),
        upstream_keepalive_pool_size: g.limits.upstream_keepalive_pool_size,
        base_domains,
        path_tenants,
        pools,
        default_routes,
        max_tenant_labels: g.metrics.max_tenant_labels,
        max_request_body_bytes: g.limits.max_request_body_bytes,
        request,
        auth,
        tls,
        assertion,
        https_redirect,
        limits,
        provisioning,
        domain_verification,
        sealer: None,
    }
}

fn domain_verification(s: &mut Scope<'_>, d: &DomainVerificationFile) -> DomainVerification {
    let mut nameservers = Vec::new();
    for (i, n) in d.nameservers.iter().enumerate() {
        match n.parse::<SocketAddr>() {
            Ok(a) => nameservers.push(a),
            Err(_) => s.err(
                format!("domain_verification.nameservers[{i}]"),
                format!("{n:?} is not an ip:port address"),
            ),
        }
    }
    if d.min_interval < Duration::from_secs(1) {
        s.err("domain_verification.min_interval", "must be at least 1s");
    }
    if d.max_interval < d.min_interval {
        s.err(
            "domain_verification.max_interval",
            "must be at least min_interval",
        );
    }
    if d.http && d.http_port == 0 {
        s.err("domain_verification.http_port", "must be a port number");
    }
    DomainVerification {
        nameservers,
        min_interval: d.min_interval,
        max_interval: d.max_interval,
        http_port: d.http.then_some(d.http_port),
        allow_private_addresses: d.allow_private_addresses,
    }
}

/// A verification token as the verifier makes them: 16 to 128 characters of A-Z, a-z, 0-9,
/// `-`, `_`.
pub fn valid_token(t: &str) -> bool {
    (16..=128).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `tiers:` and the rate-limit fields of `limits:`.
fn limits_settings(s: &mut Scope<'_>, g: &GatewayFile) -> LimitsSettings {
    let mut tiers = BTreeMap::new();
    for (name, t) in &g.tiers {
        tiers.insert(name.clone(), limit_values(s, &format!("tiers.{name}"), t));
    }
    let mut trusted_proxies = Vec::new();
    for (i, c) in g.limits.trusted_proxies.iter().enumerate() {
        match Cidr::parse(c) {
            Ok(c) => trusted_proxies.push(c),
            Err(e) => s.err(format!("limits.trusted_proxies[{i}]"), e),
        }
    }
    LimitsSettings {
        tiers,
        trusted_proxies,
        headers_on_success: g.limits.headers_on_success,
    }
}

/// Rate and concurrency values: positive numbers, `burst` at least 1.
pub(super) fn limit_values(s: &mut Scope<'_>, field: &str, v: &LimitValuesFile) -> LimitValues {
    for (name, value) in [
        ("rate_per_second", v.rate_per_second),
        ("max_in_flight", v.max_in_flight),
        ("burst", v.burst),
    ] {
        if value == Some(0) {
            let what = if name == "burst" {
                "must be at least 1"
            } else {
                "must be a positive number"
            };
            s.err(format!("{field}.{name}"), what);
        }
    }
    v.to_values()
}

/// The `assertion:` block.
fn assertion(s: &mut Scope<'_>, a: &AssertionFile) -> Option<AssertionConfig> {
    let before = s.issues.len();
    if !(a.issuer.starts_with("https://") || a.issuer.starts_with("http://"))
        || url::Url::parse(&a.issuer).is_err()
    {
        s.err(
            "assertion.issuer",
            "must be an http(s) URL naming the gateway",
        );
    }
    let header = a.header.to_ascii_lowercase();
    if http::HeaderName::from_bytes(header.as_bytes()).is_err() || header.contains('_') {
        s.err(
            "assertion.header",
            format!("{:?} is not a header name", a.header),
        );
    }
    if a.ttl < Duration::from_secs(10) {
        s.err("assertion.ttl", "must be at least 10s");
    }
    if a.rotation_interval < a.ttl * 2 {
        s.err(
            "assertion.rotation_interval",
            "must be at least twice assertion.ttl (a retired key stays published one interval)",
        );
    }
    for (i, c) in a.copy_claims.iter().enumerate() {
        if c.is_empty() || RESERVED_ASSERTION_CLAIMS.contains(&c.as_str()) {
            s.err(
                format!("assertion.copy_claims[{i}]"),
                format!("{c:?} is empty or a claim the gateway sets itself"),
            );
        }
    }
    (s.issues.len() == before).then(|| AssertionConfig {
        issuer: a.issuer.trim_end_matches('/').to_string(),
        header,
        ttl: a.ttl,
        rotation_interval: a.rotation_interval,
        key_file: relative_to(s.file, &a.key_file),
        copy_claims: a.copy_claims.clone(),
    })
}

/// `server.upgrade_sock` when unset.
pub const DEFAULT_UPGRADE_SOCK: &str = "/tmp/tenant-gateway-upgrade.sock";

/// Claims of the tenant assertion that `copy_claims` cannot override.
const RESERVED_ASSERTION_CLAIMS: [&str; 15] = [
    "iss",
    "aud",
    "sub",
    "email",
    "groups",
    "scope",
    "tenant_id",
    "tenant_name",
    "tier",
    "idp_iss",
    "amr",
    "iat",
    "exp",
    "jti",
    "nbf",
];

/// Resolves `path` against the directory of the file that names it.
pub(super) fn relative_to(file: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        file.parent().unwrap_or(Path::new(".")).join(path)
    }
}

/// `paths`, `headers` and the request-head limits of `limits`.
fn request_policy(s: &mut Scope<'_>, g: &GatewayFile) -> RequestPolicy {
    let l = &g.limits;
    for (field, v, min) in [
        (
            "limits.max_request_line_bytes",
            l.max_request_line_bytes,
            64,
        ),
        ("limits.max_header_bytes", l.max_header_bytes, 256),
        (
            "limits.max_header_list_bytes",
            l.max_header_list_bytes,
            1024,
        ),
        ("limits.max_headers", l.max_headers, 8),
    ] {
        if v < min {
            s.err(field, format!("must be at least {min}"));
        }
    }
    if l.max_header_list_bytes < l.max_header_bytes {
        s.err(
            "limits.max_header_list_bytes",
            "must be at least limits.max_header_bytes",
        );
    }
    RequestPolicy {
        paths: crate::path::PathOptions {
            merge_slashes: g.paths.merge_slashes,
            allow_semicolons: g.paths.semicolons == SemicolonsFile::Allow,
        },
        reject_underscores: g.headers.underscores == UnderscoresFile::Reject,
        max_request_line_bytes: l.max_request_line_bytes,
        max_header_bytes: l.max_header_bytes,
        max_header_list_bytes: l.max_header_list_bytes,
        max_headers: l.max_headers,
    }
}

fn check_prefix(prefix: &str) -> Result<(), String> {
    if !prefix.starts_with('/') {
        return Err(format!("{prefix:?} must start with '/'"));
    }
    // Requests are matched on their canonical path, so a prefix in any other spelling would
    // never match (and `;`, `%2F` and the like are refused before routing).
    match crate::path::canonicalize(prefix.as_bytes(), &crate::path::PathOptions::default()) {
        Ok(c) if c == prefix || c.trim_end_matches('/') == prefix.trim_end_matches('/') => {}
        Ok(c) => {
            return Err(format!(
                "{prefix:?} is not in canonical form (requests are matched as {c:?}): write {c:?}"
            ))
        }
        Err(e) => return Err(format!("{prefix:?} can never match: {}", e.message())),
    }
    if prefix
        .bytes()
        .any(|c| c == b'?' || c == b'#' || c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return Err(format!(
            "{prefix:?} must be a plain path (no query, fragment or spaces)"
        ));
    }
    Ok(())
}

fn valid_pool_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

fn pool(s: &mut Scope, field: &str, name: &str, p: &PoolFile) -> Option<PoolSpec> {
    let before = s.issues.len();
    if !valid_pool_name(name) {
        s.err(field, "pool names use [a-z0-9_-]");
    }
    if p.backends.is_empty() {
        s.err(
            format!("{field}.backends"),
            "at least one backend is required",
        );
    }
    let mut backends = Vec::new();
    for (i, b) in p.backends.iter().enumerate() {
        match resolve(b) {
            Ok(addr) if backends.contains(&addr) => s.err(
                format!("{field}.backends[{i}]"),
                format!("duplicate backend {addr}"),
            ),
            Ok(addr) => backends.push(addr),
            Err(e) => s.err(format!("{field}.backends[{i}]"), e),
        }
    }
    let health_check = p.health_check.as_ref().map(|h| {
        if !h.path.starts_with('/') {
            s.err(format!("{field}.health_check.path"), "must start with '/'");
        }
        if h.healthy_after == 0 || h.unhealthy_after == 0 {
            s.err(
                format!("{field}.health_check"),
                "healthy_after and unhealthy_after must be >= 1",
            );
        }
        if h.interval.is_zero() {
            s.err(format!("{field}.health_check.interval"), "must be > 0");
        }
        HealthCheckSpec {
            path: h.path.clone(),
            host: h.host.clone().unwrap_or_else(|| "localhost".to_string()),
            interval: h.interval,
            timeout: h.timeout,
            healthy_after: h.healthy_after,
            unhealthy_after: h.unhealthy_after,
        }
    });
    for (what, d) in [
        ("connect_timeout", p.connect_timeout),
        ("read_timeout", p.read_timeout),
    ] {
        if d.is_zero() {
            s.err(format!("{field}.{what}"), "must be > 0");
        }
    }
    if s.issues.len() > before {
        return None;
    }
    Some(PoolSpec {
        backends,
        balance: match p.balance {
            BalanceFile::RoundRobin => Balance::RoundRobin,
            BalanceFile::TenantHash => Balance::TenantHash,
        },
        health_check,
        connect_timeout: p.connect_timeout,
        read_timeout: p.read_timeout,
        write_timeout: p.write_timeout,
        idle_timeout: p.idle_timeout,
        retries: p.retries,
    })
}

/// `ip:port`, or `name:port` resolved once here (never on the request path).
fn resolve(backend: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = backend.parse() {
        return Ok(a);
    }
    backend
        .to_socket_addrs()
        .map_err(|e| format!("{backend:?} is not a resolvable host:port ({e})"))?
        .next()
        .ok_or_else(|| format!("{backend:?} resolved to no address"))
}

/// Validates a route list. `local` holds a tenant's silo pools: (local name → global key).
fn routes(
    s: &mut Scope,
    field: &str,
    list: &[RouteFile],
    pools: &BTreeMap<String, PoolSpec>,
    local: Option<&HashMap<String, String>>,
) -> Vec<RouteSpec> {
    let mut out: Vec<RouteSpec> = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if let Err(e) = check_prefix(&r.prefix) {
            s.err(format!("{f}.prefix"), e);
            continue;
        }
        let prefix = normalize_prefix(&r.prefix);
        if out.iter().any(|o| o.prefix == prefix) {
            s.err(
                format!("{f}.prefix"),
                format!("duplicate route prefix {prefix:?}"),
            );
        }
        let pool = match local.and_then(|l| l.get(&r.pool)) {
            Some(global) => global.clone(),
            None if pools.contains_key(&r.pool) => r.pool.clone(),
            None => {
                s.err(format!("{f}.pool"), format!("no pool named {:?}", r.pool));
                continue;
            }
        };
        out.push(RouteSpec {
            name: r.name.clone().unwrap_or_else(|| prefix.clone()),
            prefix,
            pool,
            strip_prefix: r.strip_prefix,
            auth: r.auth.map(auth::auth_mode),
            require_groups: r.require_groups.clone(),
            require_scopes: r.require_scopes.clone(),
            forward_token: r.forward_token,
            assertion: r.assertion,
            assertion_audience: r.assertion_audience.clone(),
            limits: r.limits.map(|l| match l {
                RouteLimitsFile::Switch(LimitsSwitchFile::Off) => RouteLimits::Off,
                RouteLimitsFile::Values(v) => {
                    RouteLimits::Set(limit_values(s, &format!("{f}.limits"), &v))
                }
            }),
        });
    }
    out
}

/// `/api/` and `/api` are the same route; `/` stays `/`.
fn normalize_prefix(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        "/".to_string()
    } else {
        t.to_string()
    }
}

/// Validates every tenant record against the gateway parts and each other.
pub(super) fn tenants(
    parts: &mut GatewayParts,
    files: Vec<(PathBuf, TenantsFile)>,
    issues: &mut Vec<Issue>,
) -> Vec<std::sync::Arc<TenantSpec>> {
    // Each spec is shared from the start (a configuration that changes one tenant shares the
    // others); made into `Arc`s afterwards, the freed list would stay resident.
    let mut out = Vec::new();
    let mut ids: HashMap<Uuid, String> = HashMap::new();
    let mut subs: HashMap<String, String> = HashMap::new();
    let mut domains: HashMap<Hostname, String> = HashMap::new();
    let path_hosts: HashSet<&Hostname> = parts.path_tenants.iter().map(|p| &p.host).collect();
    let mut silo_pools = BTreeMap::new();
    let mut idp_uses = Vec::new();
    for (file, tf) in files {
        for (i, t) in tf.tenants.into_iter().enumerate() {
            let label = format!("{:?} (tenants[{i}], id {})", t.name, t.id);
            let mut s = Scope {
                file: &file,
                tenant: Some(label.clone()),
                issues,
            };
            let before = s.issues.len();
            let id = match Uuid::parse_str(&t.id) {
                Ok(id) => {
                    if let Some(other) = ids.insert(id, label.clone()) {
                        s.err("id", format!("duplicate tenant id (also used by {other})"));
                    }
                    id
                }
                Err(e) => {
                    s.err("id", format!("{:?} is not a UUID: {e}", t.id));
                    Uuid::nil()
                }
            };
            if t.name.trim().is_empty() || t.name.chars().any(char::is_control) {
                s.err("name", "must be non-empty printable text");
            }
            if !is_dns_label(&t.subdomain) {
                s.err(
                    "subdomain",
                    format!("{:?} is not a lowercase DNS label", t.subdomain),
                );
            } else if let Some(other) = subs.insert(t.subdomain.clone(), label.clone()) {
                s.err(
                    "subdomain",
                    format!(
                        "duplicate subdomain {:?} (also used by {other})",
                        t.subdomain
                    ),
                );
            }
            if t.tier.is_empty() || !t.tier.bytes().all(|c| c.is_ascii_graphic()) {
                s.err("tier", "must be a non-empty word");
            }
            let mut custom = Vec::new();
            for (j, d) in t.custom_domains.iter().enumerate() {
                let field = format!("custom_domains[{j}]");
                let h = match Hostname::parse(d) {
                    Ok(h) => h,
                    Err(e) => {
                        s.err(field, e);
                        continue;
                    }
                };
                if let Some(b) = parts.base_domains.iter().find(|b| under(&h, b)) {
                    s.err(
                        &field,
                        format!("{h} is under base domain {b}; use the subdomain instead"),
                    );
                } else if path_hosts.contains(&h) {
                    s.err(&field, format!("{h} is a path-tenant host"));
                } else if let Some(other) = domains.insert(h.clone(), label.clone()) {
                    s.err(
                        &field,
                        format!("duplicate custom domain {h} (also used by {other})"),
                    );
                }
                custom.push(h);
            }
            // With verification on, only verified domains are served; the others wait.
            let mut pending = Vec::new();
            for (d, state) in &t.verification {
                let field = format!("verification.{d}");
                if !t.custom_domains.iter().any(|c| c.eq_ignore_ascii_case(d)) {
                    s.err(&field, "not one of custom_domains");
                }
                if let Some(tok) = &state.token {
                    if !valid_token(tok) {
                        s.err(
                            format!("{field}.token"),
                            "16-128 characters of A-Z, a-z, 0-9, '-', '_'",
                        );
                    }
                }
            }
            if parts.domain_verification.is_some() {
                custom.retain(|h| {
                    let state = t
                        .verification
                        .iter()
                        .find(|(d, _)| d.eq_ignore_ascii_case(h.as_str()))
                        .map(|(_, st)| st);
                    match state {
                        Some(st) if st.status == DomainStatusFile::Verified => true,
                        _ => {
                            pending.push(PendingDomain {
                                host: h.clone(),
                                token: state.and_then(|st| st.token.clone()),
                            });
                            false
                        }
                    }
                });
            }
            let mut local = HashMap::new();
            for (name, p) in &t.pools {
                let key = format!("tenant/{}/{name}", t.subdomain);
                if let Some(spec) = pool(&mut s, &format!("pools.{name}"), name, p) {
                    silo_pools.insert(key.clone(), spec);
                }
                local.insert(name.clone(), key);
            }
            let routes = t
                .routes
                .as_ref()
                .map(|r| routes(&mut s, "routes", r, &parts.pools, Some(&local)));
            if routes.is_none() && parts.default_routes.is_empty() {
                s.err("routes", "no routes and the gateway has no default_routes");
            }
            let idp = t
                .idp
                .as_ref()
                .and_then(|i| auth::idp(&mut s, i, &t.id, parts.sealer.as_deref()));
            if let Some(i) = &idp {
                idp_uses.push(auth::IdpUse::new(&file, &label, i));
            }
            let basic_users = auth::basic_users(&mut s, &t.basic_auth);
            let limits = t.limits.map(|l| limit_values(&mut s, "limits", &l));
            if s.issues.len() > before {
                continue;
            }
            let mut spec = TenantSpec {
                id,
                name: t.name,
                subdomain: t.subdomain,
                custom_domains: custom,
                pending_domains: pending,
                status: match t.status {
                    TenantStatusFile::Active => TenantStatus::Active,
                    TenantStatusFile::Disabled => TenantStatus::Disabled,
                },
                tier: t.tier,
                email_domain: t.email_domain,
                routes,
                idp: idp.map(std::sync::Arc::new),
                basic_users,
                limits,
            };
            let (list, field) = match spec.routes.take() {
                Some(r) => (r, "routes"),
                None => (Vec::new(), "default_routes"),
            };
            let check = if list.is_empty() {
                &parts.default_routes
            } else {
                &list
            };
            auth::route_modes(&mut s, &spec, check, field);
            if field == "routes" {
                spec.routes = Some(list);
            }
            if s.issues.len() > before {
                continue;
            }
            out.push(std::sync::Arc::new(spec));
        }
    }
    auth::dedicated_issuers(&idp_uses, issues);
    parts.pools.extend(silo_pools);
    out
}

/// Browser login needs encrypted cookies, so a session key, once any route uses it.
pub(super) fn session_key_needed(
    parts: &GatewayParts,
    tenants: &[std::sync::Arc<TenantSpec>],
) -> bool {
    parts.auth.session_key.is_none()
        && tenants.iter().any(|t| {
            let routes = t.routes.as_deref().unwrap_or(&parts.default_routes);
            routes.iter().any(|r| t.effective_auth(r) == AuthMode::Oidc)
        })
}

fn under(host: &Hostname, base: &Hostname) -> bool {
    host == base
        || host
            .as_str()
            .strip_suffix(base.as_str())
            .is_some_and(|rest| rest.ends_with('.'))
}
