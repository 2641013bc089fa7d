//! The immutable tenant snapshot: every lookup map the request path needs, built in one go
//! from a validated [`RoutingConfig`] and published with one atomic swap.

use super::layered::Layered;
use super::{RouteTable, Tenant, TenantAuth, TenantHeaders, TenantId};
use crate::config::{AuthMode, PathTenantSpec, RoutingConfig, TenantSpec, TenantStatus};
use http::HeaderValue;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;

/// The snapshot's maps hash with foldhash (randomly seeded): a few times faster than SipHash
/// for the host lookups every request makes. Clients choose only lookup keys, never what is
/// stored, so there is no table to flood.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The maps over all tenants: a snapshot made from the last one shares their bases and copies
/// only the changes layered over them (see [`Layered`]).
pub(super) type TenantMap<K, V> = Layered<K, V, foldhash::fast::RandomState>;

/// Host and id lookups over all tenants of one configuration version.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// `.example.com` for each base domain, longest first, with whether plain HTTP redirects.
    pub(super) base_suffixes: Vec<(String, bool)>,
    /// Plain HTTP on custom domains and path-tenant hosts redirects to HTTPS.
    pub(super) redirect_custom: bool,
    /// Keys are shared (`Arc<str>`): a snapshot made from the last one copies them without
    /// allocating, and dropping the last one frees none of them.
    pub(super) by_subdomain: TenantMap<Arc<str>, Arc<Tenant>>,
    pub(super) by_domain: TenantMap<Arc<str>, Arc<Tenant>>,
    /// Custom domains waiting for verification: answered 404 `domain_pending`.
    pub(super) pending_domains: TenantMap<Arc<str>, TenantId>,
    pub(super) by_id: TenantMap<Uuid, Arc<Tenant>>,
    pub(super) path_hosts: HashMap<Box<str>, PathTenantSpec>,
    /// IdP issuer → a tenant with that issuer (the first, when several share it).
    pub(super) issuer_owners: TenantMap<Arc<str>, TenantId>,
    /// (issuer, client id) → the tenant whose IdP uses that client.
    pub(super) client_owners: TenantMap<(Box<str>, Box<str>), TenantId>,
    /// Active and disabled tenants, kept as tenants are added and removed.
    pub(super) counts: TenantCounts,
    /// How many tenants are bound to their IdP's issuer (`tenant_binding: issuer`): while
    /// none is, no issuer can clash across tenants (see `config::change`).
    pub(super) issuer_bound: usize,
    /// The route tables of tenants without routes of their own (public, and browser login
    /// for tenants with an IdP), shared by all of them.
    pub(super) default_public: Arc<RouteTable>,
    pub(super) default_login: Arc<RouteTable>,
}

/// Tenant totals for the `gateway_tenants` gauge and the admin status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TenantCounts {
    pub active: usize,
    pub disabled: usize,
}

impl TenantCounts {
    fn of(&mut self, status: TenantStatus) -> &mut usize {
        match status {
            TenantStatus::Active => &mut self.active,
            _ => &mut self.disabled,
        }
    }

    pub(super) fn add(&mut self, status: TenantStatus) {
        *self.of(status) += 1;
    }

    pub(super) fn remove(&mut self, status: TenantStatus) {
        let n = self.of(status);
        *n = n.saturating_sub(1);
    }
}

impl Snapshot {
    /// `pool_index` maps a pool key to its index in the runtime's pool list.
    pub fn build(routing: &RoutingConfig, pool_index: impl Fn(&str) -> Option<usize>) -> Self {
        // Default routes default to browser login for tenants with an IdP, public otherwise.
        let redirect = routing.https_redirect.as_ref();
        let mut base_suffixes: Vec<(String, bool)> = routing
            .base_domains
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let r = redirect.is_some_and(|r| r.base_domains.get(i).copied().unwrap_or(false));
                (format!(".{b}"), r)
            })
            .collect();
        base_suffixes.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        let mut snap = Snapshot {
            base_suffixes,
            redirect_custom: redirect.is_some_and(|r| r.custom_domains),
            path_hosts: routing
                .path_tenants
                .iter()
                .map(|p| (p.host.as_str().into(), p.clone()))
                .collect(),
            default_public: Arc::new(RouteTable::build(
                &routing.default_routes,
                AuthMode::None,
                &pool_index,
            )),
            default_login: Arc::new(RouteTable::build(
                &routing.default_routes,
                AuthMode::Oidc,
                &pool_index,
            )),
            ..Default::default()
        };
        snap.by_subdomain.reserve(routing.tenants.len());
        snap.by_id.reserve(routing.tenants.len());
        for (i, spec) in routing.tenants.iter().enumerate() {
            let tenant = snap.make_tenant(spec, i, routing, &pool_index);
            snap.index(spec, &tenant);
            snap.claim_owners(spec);
            snap.counts.add(spec.status);
        }
        snap
    }

    /// The request-path form of `spec`, the `position`th tenant of `routing`.
    pub(super) fn make_tenant(
        &self,
        spec: &TenantSpec,
        position: usize,
        routing: &RoutingConfig,
        pool_index: impl Fn(&str) -> Option<usize>,
    ) -> Arc<Tenant> {
        let default_auth = if spec.idp.is_some() {
            AuthMode::Oidc
        } else {
            AuthMode::None
        };
        let routes = match &spec.routes {
            Some(r) => Arc::new(RouteTable::build(r, default_auth, &pool_index)),
            None if spec.idp.is_some() => self.default_login.clone(),
            None => self.default_public.clone(),
        };
        let metric_label: Arc<str> = if position < routing.max_tenant_labels {
            spec.subdomain.as_str().into()
        } else {
            "other".into()
        };
        Arc::new(Tenant {
            id: TenantId(spec.id),
            name: spec.name.clone(),
            subdomain: spec.subdomain.clone(),
            status: spec.status,
            tier: spec.tier.clone(),
            routes,
            metric_label,
            headers: TenantHeaders {
                id: header(&spec.id.to_string()),
                name: header(&spec.name),
                tier: header(&spec.tier),
            },
            auth: tenant_auth(spec),
            limits: spec.limits,
            request_metrics: Default::default(),
        })
    }

    /// Adds `tenant`'s hosts and id to the lookup maps (not the IdP owners).
    pub(super) fn index(&mut self, spec: &TenantSpec, tenant: &Arc<Tenant>) {
        self.issuer_bound += usize::from(spec.bound_to_issuer());
        self.by_subdomain
            .insert(spec.subdomain.as_str().into(), tenant.clone());
        for d in &spec.custom_domains {
            self.by_domain.insert(d.as_str().into(), tenant.clone());
        }
        for p in &spec.pending_domains {
            self.pending_domains
                .insert(p.host.as_str().into(), TenantId(spec.id));
        }
        self.by_id.insert(spec.id, tenant.clone());
    }

    /// Makes `spec`'s tenant the owner of its IdP issuer and client, unless an earlier
    /// tenant owns them.
    pub(super) fn claim_owners(&mut self, spec: &TenantSpec) {
        if let Some(idp) = &spec.idp {
            self.issuer_owners
                .insert_if_absent(idp.issuer.as_str().into(), TenantId(spec.id));
            self.client_owners.insert_if_absent(
                (idp.issuer.as_str().into(), idp.client_id.as_str().into()),
                TenantId(spec.id),
            );
        }
    }

    /// Removes what [`Self::index`] added for `spec` (not the IdP owners).
    pub(super) fn unindex(&mut self, spec: &TenantSpec) {
        self.issuer_bound -= usize::from(spec.bound_to_issuer());
        self.by_subdomain.remove(spec.subdomain.as_str().into());
        for d in &spec.custom_domains {
            self.by_domain.remove(d.as_str().into());
        }
        for p in &spec.pending_domains {
            self.pending_domains.remove(p.host.as_str().into());
        }
        self.by_id.remove(spec.id);
    }

    /// Merges each map's layered changes into its base once they are many.
    pub(super) fn settle(&mut self) {
        self.by_subdomain.settle();
        self.by_domain.settle();
        self.pending_domains.settle();
        self.by_id.settle();
        self.issuer_owners.settle();
        self.client_owners.settle();
    }

    pub fn by_id(&self, id: &Uuid) -> Option<&Arc<Tenant>> {
        self.by_id.get(id)
    }

    /// A tenant whose IdP has issuer `iss` (the first one, when several share it): a token
    /// of that issuer presented elsewhere is another tenant's identity.
    pub fn issuer_owner(&self, iss: &str) -> Option<TenantId> {
        self.issuer_owners.get(iss).copied()
    }

    /// The tenant whose IdP uses app client `client` of issuer `iss` (the first one, when
    /// several share it).
    pub fn client_owner(&self, iss: &str, client: &str) -> Option<TenantId> {
        self.client_owners
            .get(&(Box::from(iss), Box::from(client)))
            .copied()
    }

    /// Every host an active tenant is served at: its subdomain under each base domain and
    /// its custom domains (what needs a certificate), sorted.
    pub fn active_hosts(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (subdomain, _) in self.by_subdomain.iter().filter(|(_, t)| t.is_active()) {
            for (suffix, _) in &self.base_suffixes {
                out.push(format!("{subdomain}{suffix}"));
            }
        }
        out.extend(
            self.by_domain
                .iter()
                .filter(|(_, t)| t.is_active())
                .map(|(d, _)| d.to_string()),
        );
        out.sort_unstable();
        out
    }

    pub fn counts(&self) -> TenantCounts {
        self.counts
    }
}

fn tenant_auth(spec: &TenantSpec) -> Option<Arc<TenantAuth>> {
    if spec.idp.is_none() && spec.basic_users.is_empty() {
        return None;
    }
    // Debug output is deterministic and redacts secrets; the id keeps tenants with identical
    // IdP settings apart.
    let fingerprint =
        Sha256::digest(format!("{}|{:?}|{:?}", spec.id, spec.idp, spec.basic_users)).into();
    Some(Arc::new(TenantAuth {
        idp: spec.idp.clone(),
        basic_users: spec.basic_users.clone(),
        fingerprint,
    }))
}

/// Names are validated printable; any byte a header cannot carry is replaced.
fn header(v: &str) -> HeaderValue {
    HeaderValue::from_bytes(v.as_bytes()).unwrap_or_else(|_| {
        let clean: String = v
            .chars()
            .map(|c| if c.is_control() { '_' } else { c })
            .collect();
        HeaderValue::from_bytes(clean.as_bytes()).unwrap_or(HeaderValue::from_static("invalid"))
    })
}
