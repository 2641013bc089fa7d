//! Per-tenant path routing: the longest matching prefix wins, and a prefix matches only at a
//! path-segment boundary (`/api` matches `/api` and `/api/x`, not `/apix`).

use crate::config::{AuthMode, RouteSpec};
use std::sync::Arc;

/// A route with its pool resolved to an index into the runtime's pool list.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: Arc<str>,
    pub prefix: Arc<str>,
    pub pool: usize,
    pub strip_prefix: bool,
    pub auth: AuthMode,
    pub require_groups: Arc<[String]>,
    pub require_scopes: Arc<[String]>,
    /// Send the validated credential upstream (`None`: the tenant IdP's `forward_token`).
    pub forward_token: Option<bool>,
    /// `auth: none` routes: send a tenant-context assertion anyway.
    pub assertion: bool,
    /// The assertion's `aud` (default: the request's host).
    pub assertion_audience: Option<Arc<str>>,
    /// The route's own limits (`None`: the tenant's).
    pub limits: Option<crate::config::RouteLimits>,
    /// Its position in its table (longest prefix first): the tenant's metric slot.
    pub index: usize,
}

/// Routes sorted longest prefix first.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// `pool_index` maps a pool key to its index; validation guarantees every key exists.
    /// `default_auth` applies to routes that do not name a mode.
    pub fn build(
        specs: &[RouteSpec],
        default_auth: AuthMode,
        pool_index: impl Fn(&str) -> Option<usize>,
    ) -> Self {
        let mut routes: Vec<Route> = specs
            .iter()
            .filter_map(|s| {
                Some(Route {
                    name: s.name.as_str().into(),
                    prefix: s.prefix.as_str().into(),
                    pool: pool_index(&s.pool)?,
                    strip_prefix: s.strip_prefix,
                    auth: s.auth.unwrap_or(default_auth),
                    require_groups: s.require_groups.clone().into(),
                    require_scopes: s.require_scopes.clone().into(),
                    forward_token: s.forward_token,
                    assertion: s.assertion,
                    assertion_audience: s.assertion_audience.as_deref().map(Arc::from),
                    limits: s.limits,
                    index: 0,
                })
            })
            .collect();
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        for (i, r) in routes.iter_mut().enumerate() {
            r.index = i;
        }
        Self { routes }
    }

    /// The route for `path` (the path only, no query).
    pub fn find(&self, path: &str) -> Option<&Route> {
        self.routes.iter().find(|r| prefix_matches(&r.prefix, path))
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// The path after removing a matched `prefix`, always starting with `/`.
pub fn strip(prefix: &str, path: &str) -> String {
    if prefix == "/" {
        return path.to_string();
    }
    let rest = path.strip_prefix(prefix).unwrap_or(path);
    if rest.starts_with('/') {
        rest.to_string()
    } else {
        format!("/{rest}")
    }
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
