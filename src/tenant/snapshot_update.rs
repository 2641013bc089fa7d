//! A snapshot made from the previous one when only a few tenants changed: the maps are
//! copied, the changed tenants' entries replaced, and every unchanged tenant (with the metric
//! handles it has cached) is shared. What [`Snapshot::build`] does for all tenants, this does
//! for the changed ones.

use super::Snapshot;
use crate::config::{RoutingConfig, TenantSpec};
use std::collections::HashSet;
use std::sync::Arc;
use uuid::Uuid;

impl Snapshot {
    /// The snapshot of `new`, made from `self` (the snapshot of `old`). `changed` names every
    /// tenant whose record was added, removed or edited between the two.
    ///
    /// The caller guarantees that `new` differs from `old` only in its tenants and their silo
    /// pools' settings: the same base domains, path tenants, default routes, redirects,
    /// label limit and pool names (route tables hold pool indices).
    ///
    /// An unchanged tenant keeps its metric label even when a removal or insertion moved it
    /// across `metrics.max_tenant_labels`; the next full reload labels by position again.
    pub fn update(
        &self,
        old: &RoutingConfig,
        new: &RoutingConfig,
        changed: &HashSet<Uuid>,
        pool_index: impl Fn(&str) -> Option<usize>,
    ) -> Snapshot {
        self.update_by(old, new, changed, pool_index, true)
    }

    /// [`Self::update`]; `by_run: false` leaves out its shortcut for one run of changed
    /// records (tests compare both ways).
    pub(crate) fn update_by(
        &self,
        old: &RoutingConfig,
        new: &RoutingConfig,
        changed: &HashSet<Uuid>,
        pool_index: impl Fn(&str) -> Option<usize>,
        by_run: bool,
    ) -> Snapshot {
        let mut snap = Snapshot {
            base_suffixes: self.base_suffixes.clone(),
            redirect_custom: self.redirect_custom,
            by_subdomain: self.by_subdomain.clone(),
            by_domain: self.by_domain.clone(),
            pending_domains: self.pending_domains.clone(),
            by_id: self.by_id.clone(),
            path_hosts: self.path_hosts.clone(),
            issuer_owners: self.issuer_owners.clone(),
            client_owners: self.client_owners.clone(),
            tenants: Vec::with_capacity(new.tenants.len()),
            counts: self.counts,
            default_public: self.default_public.clone(),
            default_login: self.default_login.clone(),
        };
        let run = changed_run(old, new, changed).filter(|_| by_run);
        let (gone, came) = match run {
            Some(Run { start, gone, came }) if self.tenants.len() == old.tenants.len() => {
                // One run of changed records, the rest the same allocations in the same
                // order: the unchanged tenants are copied as they are, unread.
                let end = start + gone.len();
                for spec in gone {
                    snap.unindex(spec);
                    snap.counts.remove(spec.status);
                }
                snap.tenants.extend_from_slice(&self.tenants[..start]);
                for (i, spec) in came.iter().enumerate() {
                    let t = snap.make_tenant(spec, start + i, new, &pool_index);
                    snap.index(spec, &t);
                    snap.counts.add(spec.status);
                    snap.tenants.push(t);
                }
                snap.tenants.extend_from_slice(&self.tenants[end..]);
                (gone.to_vec(), came.to_vec())
            }
            _ => self.update_each(&mut snap, old, new, changed, &pool_index),
        };
        snap.update_owners(gone.iter().chain(&came), new);
        snap.settle();
        snap
    }

    /// Rebuilds the changed tenants into `snap` wherever they are; returns the changed
    /// tenants' records before and after.
    fn update_each(
        &self,
        snap: &mut Snapshot,
        old: &RoutingConfig,
        new: &RoutingConfig,
        changed: &HashSet<Uuid>,
        pool_index: impl Fn(&str) -> Option<usize>,
    ) -> (Vec<Arc<TenantSpec>>, Vec<Arc<TenantSpec>>) {
        // A handful of ids: a scan is cheaper than hashing each of 100,000 tenants' ids.
        let changed: Vec<Uuid> = changed.iter().copied().collect();
        let changed = changed.as_slice();
        let changed_specs = |c: &RoutingConfig| -> Vec<Arc<TenantSpec>> {
            c.tenants
                .iter()
                .filter(|t| changed.contains(&t.id))
                .cloned()
                .collect()
        };
        let (gone, came) = (changed_specs(old), changed_specs(new));
        for spec in &gone {
            snap.unindex(spec);
            snap.counts.remove(spec.status);
        }
        for spec in &came {
            snap.counts.add(spec.status);
        }
        for (i, spec) in new.tenants.iter().enumerate() {
            let kept = if changed.contains(&spec.id) {
                None
            } else {
                // Unchanged tenants usually keep their place; a lookup when one moved.
                self.tenants
                    .get(i)
                    .filter(|t| t.id.0 == spec.id)
                    .or_else(|| self.by_id.get(&spec.id))
                    .cloned()
            };
            let tenant = match kept {
                Some(t) => t,
                None => {
                    let t = snap.make_tenant(spec, i, new, &pool_index);
                    snap.index(spec, &t);
                    t
                }
            };
            snap.tenants.push(tenant);
        }
        (gone, came)
    }

    /// Recomputes the IdP owners of every issuer and client the changed tenants had or have:
    /// the first tenant (in order) that uses each, as [`Snapshot::build`] chooses them.
    fn update_owners<'a>(
        &mut self,
        changed: impl Iterator<Item = &'a Arc<TenantSpec>>,
        new: &RoutingConfig,
    ) {
        // A few of each: scanned, not hashed, for each of the tenants below.
        let mut issuers: Vec<&str> = Vec::new();
        let mut clients: Vec<(&str, &str)> = Vec::new();
        for idp in changed.filter_map(|t| t.idp.as_deref()) {
            issuers.push(&idp.issuer);
            clients.push((&idp.issuer, &idp.client_id));
        }
        if issuers.is_empty() {
            return;
        }
        for issuer in &issuers {
            self.issuer_owners.remove((*issuer).into());
        }
        for (issuer, client) in &clients {
            self.client_owners
                .remove((Box::from(*issuer), Box::from(*client)));
        }
        // Owners that were not removed stay: claiming only fills the removed entries.
        for spec in &new.tenants {
            if spec
                .idp
                .as_deref()
                .is_some_and(|idp| issuers.contains(&idp.issuer.as_str()))
            {
                self.claim_owners(spec);
            }
        }
    }
}

/// A run of changed records: where it starts, its records before and after.
struct Run<'a> {
    start: usize,
    gone: &'a [Arc<TenantSpec>],
    came: &'a [Arc<TenantSpec>],
}

/// The one run of records that differ between `old` and `new` (by allocation: unchanged
/// records are shared); `None` unless every tenant in `changed` is in it and it is short.
fn changed_run<'a>(
    old: &'a RoutingConfig,
    new: &'a RoutingConfig,
    changed: &HashSet<Uuid>,
) -> Option<Run<'a>> {
    const MAX_RUN: usize = 64;
    let (old, new) = (&old.tenants, &new.tenants);
    let (head, tail) = crate::config::common_ends(old, new, Arc::ptr_eq);
    let (gone, came) = (&old[head..old.len() - tail], &new[head..new.len() - tail]);
    let inside = |id: &Uuid| gone.iter().chain(came).any(|t| t.id == *id);
    (gone.len() <= MAX_RUN && came.len() <= MAX_RUN && changed.iter().all(inside)).then_some(Run {
        start: head,
        gone,
        came,
    })
}

impl crate::config::TenantNames for Snapshot {
    fn has_id(&self, id: &Uuid) -> bool {
        self.by_id.contains_key(id)
    }

    fn subdomain_holder(&self, subdomain: &str) -> Option<Uuid> {
        self.by_subdomain.get(subdomain).map(|t| t.id.0)
    }

    fn domain_holder(&self, host: &str) -> Option<Uuid> {
        (self.by_domain.get(host).map(|t| t.id))
            .or_else(|| self.pending_domains.get(host).copied())
            .map(|t| t.0)
    }
}

#[cfg(test)]
impl Snapshot {
    /// Every lookup and tenant as text (maps sorted, tenants in order): two snapshots that
    /// answer alike have the same view.
    pub(crate) fn view(&self) -> Vec<String> {
        let mut maps = Vec::new();
        maps.extend(
            self.by_subdomain
                .iter()
                .map(|(k, t)| format!("sub {k} {}", t.id)),
        );
        maps.extend(
            self.by_domain
                .iter()
                .map(|(k, t)| format!("domain {k} {}", t.id)),
        );
        maps.extend(
            self.pending_domains
                .iter()
                .map(|(k, t)| format!("pending {k} {t}")),
        );
        maps.extend(self.by_id.iter().map(|(k, t)| format!("id {k} {t:?}")));
        maps.extend(
            self.issuer_owners
                .iter()
                .map(|(k, t)| format!("issuer {k} {t}")),
        );
        maps.extend(
            self.client_owners
                .iter()
                .map(|(k, t)| format!("client {k:?} {t}")),
        );
        maps.sort();
        maps.push(format!("counts {:?}", self.counts));
        maps.extend(self.tenants.iter().map(|t| format!("tenant {t:?}")));
        maps
    }
}
