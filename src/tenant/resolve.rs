//! Host (and, for path-tenant hosts, path) → tenant. The request's host is normalised once;
//! lookups are hash-map gets on the snapshot, so the cost does not grow with the tenant count.

use super::{strip_prefix, Route, Snapshot, Tenant};
use crate::host::{self, HostError};
use std::sync::Arc;

/// A request's tenant, plus how much of the path named it (path-tenant hosts only).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub tenant: Arc<Tenant>,
    /// For path-tenant hosts: the path within the tenant (after `/<prefix>/<key>`), and
    /// whether the upstream gets that path (`strip_prefix`) or the original one.
    pub tenant_path: Option<(String, bool)>,
    /// Plain-HTTP requests for this host are redirected to HTTPS.
    pub redirect_https: bool,
}

/// A request's route within its tenant, and the path its upstream gets.
#[derive(Debug, Clone, Default)]
pub struct RouteMatch {
    pub route: Option<Route>,
    /// The upstream path when it is not the request's canonical path (a stripped route prefix,
    /// or the tail of a path-tenant URL).
    pub upstream_path: Option<String>,
}

impl Resolved {
    /// The path routes and login endpoints are matched on: the canonical `path`, or for
    /// path-tenant hosts the part after `/<prefix>/<key>`.
    pub fn match_path<'a>(&'a self, path: &'a str) -> &'a str {
        match &self.tenant_path {
            Some((tail, _)) => tail,
            None => path,
        }
    }

    /// The route for the canonical `path` (longest prefix) and what the upstream is sent.
    pub fn route(&self, path: &str) -> RouteMatch {
        let match_path = self.match_path(path);
        let Some(route) = self.tenant.routes.find(match_path) else {
            return RouteMatch::default();
        };
        let keep_original = matches!(self.tenant_path, Some((_, false)));
        let upstream_path = if keep_original {
            None
        } else if route.strip_prefix {
            Some(strip_prefix(&route.prefix, match_path))
        } else if match_path.len() != path.len() {
            Some(match_path.to_string())
        } else {
            None
        };
        RouteMatch {
            route: Some(route.clone()),
            upstream_path,
        }
    }
}

/// Why no tenant serves a request. Each maps to one status and JSON error (see `proxy`).
#[derive(Debug, Clone)]
pub enum ResolveError {
    /// No `Host` header and no `:authority`.
    MissingHost,
    /// The host is not a syntactically valid name.
    MalformedHost,
    /// No base domain, custom domain or path-tenant rule matches.
    UnknownHost,
    /// A path-tenant host whose path names no tenant.
    UnknownTenantKey,
    /// The tenant exists but is disabled.
    Disabled(Arc<Tenant>),
    /// A tenant's custom domain whose verification is pending.
    DomainPending,
}

impl Snapshot {
    /// Resolves the tenant of a request from its raw host bytes and canonical path.
    pub fn resolve(&self, raw_host: &[u8], path: &str) -> Result<Resolved, ResolveError> {
        let host = host::normalize(raw_host).map_err(|e| match e {
            HostError::Missing => ResolveError::MissingHost,
            HostError::Malformed => ResolveError::MalformedHost,
        })?;
        let host: &str = &host;
        if let Some(t) = self.by_domain.get(host) {
            return active(t, None, self.redirect_custom);
        }
        if self.pending_domains.contains_key(host) {
            return Err(ResolveError::DomainPending);
        }
        if let Some(rule) = self.path_hosts.get(host) {
            let rest = path
                .strip_prefix(rule.prefix.as_str())
                .and_then(|r| r.strip_prefix('/'))
                .ok_or(ResolveError::UnknownTenantKey)?;
            let (key, tail) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let tenant = self
                .by_subdomain
                .get(key)
                .or_else(|| {
                    uuid::Uuid::parse_str(key)
                        .ok()
                        .and_then(|id| self.by_id.get(&id))
                })
                .ok_or(ResolveError::UnknownTenantKey)?;
            return active(
                tenant,
                Some((tail.to_string(), rule.strip_prefix)),
                self.redirect_custom,
            );
        }
        for (suffix, redirect) in &self.base_suffixes {
            if let Some(sub) = host.strip_suffix(suffix.as_str()) {
                if sub.contains('.') {
                    // a.b.example.com: tenants are one label deep.
                    return Err(ResolveError::UnknownHost);
                }
                return match self.by_subdomain.get(sub) {
                    Some(t) => active(t, None, *redirect),
                    None => Err(ResolveError::UnknownHost),
                };
            }
        }
        Err(ResolveError::UnknownHost)
    }
}

fn active(
    t: &Arc<Tenant>,
    tenant_path: Option<(String, bool)>,
    redirect_https: bool,
) -> Result<Resolved, ResolveError> {
    if t.is_active() {
        Ok(Resolved {
            tenant: t.clone(),
            tenant_path,
            redirect_https,
        })
    } else {
        Err(ResolveError::Disabled(t.clone()))
    }
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
