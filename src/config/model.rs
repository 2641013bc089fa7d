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
    pub listeners: Listeners,
    pub server: ServerSettings,
    pub admin: AdminSettings,
    pub logging: LoggingSettings,
    pub upstream_keepalive_pool_size: usize,
    /// The part of the configuration that a reload can change.
    pub routing: RoutingConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listeners {
    pub http: Vec<String>,
    pub admin: String,
    pub h2c: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    pub threads: usize,
    pub grace_period: Duration,
    pub graceful_shutdown_timeout: Duration,
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
    pub tenants: Vec<TenantSpec>,
    pub max_tenant_labels: usize,
    pub max_request_body_bytes: u64,
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
    pub custom_domains: Vec<Hostname>,
    pub status: TenantStatus,
    pub tier: String,
    pub email_domain: Option<String>,
    /// `None`: the gateway's `default_routes`.
    pub routes: Option<Vec<RouteSpec>>,
}
