//! Tenants as the request path sees them: the immutable [`Snapshot`] built from a validated
//! configuration, host → tenant resolution and per-tenant route tables. Nothing here locks or
//! allocates on lookup; a new configuration builds a new snapshot.

mod layered;
mod resolve;
mod route;
mod snapshot;
mod snapshot_update;

pub use resolve::{ResolveError, Resolved, RouteMatch};
pub use route::{strip as strip_prefix, Route, RouteTable};
pub use snapshot::{Snapshot, TenantCounts};

use crate::config::{BasicUser, IdpSpec, TenantStatus};
use http::HeaderValue;
use std::fmt;
use std::sync::Arc;
use uuid::Uuid;

/// A tenant's id: the UUID identity providers put in `custom:tenantid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantId(pub Uuid);

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One tenant, ready for the request path: header values are pre-encoded.
#[derive(Debug)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub subdomain: String,
    pub status: TenantStatus,
    pub tier: String,
    pub routes: Arc<RouteTable>,
    /// Label used in metrics: the subdomain, or `other` past `metrics.max_tenant_labels`.
    pub metric_label: Arc<str>,
    pub headers: TenantHeaders,
    /// IdP and webhook credentials, if the tenant has any.
    pub auth: Option<Arc<TenantAuth>>,
    /// The tenant's overrides of its tier's limits.
    pub limits: Option<crate::config::LimitValues>,
    /// Its request-metric handles, made at its first request.
    pub request_metrics: crate::metrics_handles::RequestMetrics,
}

/// A tenant's authentication settings, with a fingerprint that changes when they do (caches
/// of validated tokens key on it, so a changed IdP configuration is never served stale).
#[derive(Debug)]
pub struct TenantAuth {
    pub idp: Option<std::sync::Arc<IdpSpec>>,
    pub basic_users: Vec<BasicUser>,
    pub fingerprint: [u8; 32],
}

/// `X-Tenant-*` values, encoded once when the snapshot is built.
#[derive(Debug, Clone)]
pub struct TenantHeaders {
    pub id: HeaderValue,
    pub name: HeaderValue,
    pub tier: HeaderValue,
}

impl Tenant {
    pub fn is_active(&self) -> bool {
        self.status == TenantStatus::Active
    }
}
