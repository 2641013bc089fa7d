//! A snapshot made from the previous one when only a few tenants changed: the maps are
//! copied (a layer over shared bases), the changed tenants' entries replaced, and every
//! unchanged tenant (with the metric handles it has cached) is shared. What
//! [`Snapshot::build`] does for all tenants, this does for the changed ones, touching no
//! unchanged tenant.

use super::{Snapshot, TenantId};
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
            counts: self.counts,
            issuer_bound: self.issuer_bound,
            default_public: self.default_public.clone(),
            default_login: self.default_login.clone(),
        };
        if let Some(Run { start, gone, came }) = changed_run(old, new, changed).filter(|_| by_run) {
            // One run of changed records: where they are is known without a scan, and so,
            // mostly, are the IdP owners.
            let came_at = came.iter().enumerate().map(|(i, t)| (start + i, t));
            snap.replace(gone, came_at, new, &pool_index);
            snap.update_owners_of_run(gone, came, new);
        } else {
            // A handful of ids: a scan is cheaper than hashing each of 100,000 tenants'.
            let changed: Vec<Uuid> = changed.iter().copied().collect();
            let changed_specs = |c: &'_ RoutingConfig| -> Vec<(usize, Arc<TenantSpec>)> {
                c.tenants
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| changed.contains(&t.id))
                    .map(|(i, t)| (i, t.clone()))
                    .collect()
            };
            let gone: Vec<Arc<TenantSpec>> =
                changed_specs(old).into_iter().map(|(_, t)| t).collect();
            let came = changed_specs(new);
            snap.replace(&gone, came.iter().map(|(i, t)| (*i, t)), new, &pool_index);
            snap.update_owners(gone.iter().chain(came.iter().map(|(_, t)| t)), new);
        }
        snap.settle();
        snap
    }

    /// Removes the `gone` tenants from the lookup maps and adds the tenants made of `came`
    /// (each with its position in `new`).
    fn replace<'a>(
        &mut self,
        gone: &[Arc<TenantSpec>],
        came: impl Iterator<Item = (usize, &'a Arc<TenantSpec>)>,
        new: &RoutingConfig,
        pool_index: impl Fn(&str) -> Option<usize>,
    ) {
        for spec in gone {
            self.unindex(spec);
            self.counts.remove(spec.status);
        }
        for (position, spec) in came {
            let t = self.make_tenant(spec, position, new, &pool_index);
            self.index(spec, &t);
            self.counts.add(spec.status);
        }
    }

    /// [`Self::update_owners`] after one run of changed records (`gone` replaced by `came`):
    /// only the owners the run cannot decide (see [`owner_after_run`]) are found by a scan.
    fn update_owners_of_run(
        &mut self,
        gone: &[Arc<TenantSpec>],
        came: &[Arc<TenantSpec>],
        new: &RoutingConfig,
    ) {
        let (gone, came) = (idp_users(gone), idp_users(came));
        if gone.is_empty() && came.is_empty() {
            return;
        }
        let scan_issuers = owners_after_run(
            &mut self.issuer_owners,
            (&gone, &came),
            |u| u.issuer,
            |issuer| issuer.into(),
        );
        let scan_clients = owners_after_run(
            &mut self.client_owners,
            (&gone, &came),
            |u| (u.issuer, u.client),
            |(issuer, client)| (issuer.into(), client.into()),
        );
        if scan_issuers.is_empty() && scan_clients.is_empty() {
            return;
        }
        for spec in &new.tenants {
            let Some(idp) = spec.idp.as_deref() else {
                continue;
            };
            if scan_issuers.contains(&idp.issuer.as_str()) {
                self.issuer_owners
                    .insert_if_absent(idp.issuer.as_str().into(), TenantId(spec.id));
            }
            if scan_clients.contains(&(idp.issuer.as_str(), idp.client_id.as_str())) {
                self.client_owners.insert_if_absent(
                    (idp.issuer.as_str().into(), idp.client_id.as_str().into()),
                    TenantId(spec.id),
                );
            }
        }
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

/// A tenant of a run with an IdP: its id, issuer and client.
struct IdpUser<'a> {
    id: Uuid,
    issuer: &'a str,
    client: &'a str,
}

fn idp_users(run: &[Arc<TenantSpec>]) -> Vec<IdpUser<'_>> {
    run.iter()
        .filter_map(|t| {
            let idp = t.idp.as_deref()?;
            Some(IdpUser {
                id: t.id,
                issuer: &idp.issuer,
                client: &idp.client_id,
            })
        })
        .collect()
}

/// Applies what a run (its old and new users) does to the owner of each key its users have
/// (`key`: a user's key; `stored`: that key as `owners` holds it); returns the keys only a
/// scan can decide, removed from `owners`.
fn owners_after_run<'u, Q, K>(
    owners: &mut super::snapshot::TenantMap<K, TenantId>,
    (gone, came): (&[IdpUser<'u>], &[IdpUser<'u>]),
    key: impl Fn(&IdpUser<'u>) -> Q,
    stored: impl Fn(Q) -> K,
) -> Vec<Q>
where
    Q: Copy + Ord,
    K: std::hash::Hash + Eq + Clone,
{
    let mut keys: Vec<Q> = gone.iter().chain(came).map(&key).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut scan = Vec::new();
    for q in keys {
        let gone_ids: Vec<Uuid> = gone.iter().filter(|u| key(u) == q).map(|u| u.id).collect();
        let first_came = came.iter().find(|u| key(u) == q).map(|u| u.id);
        let k = stored(q);
        match owner_after_run(owners.get(&k).copied(), &gone_ids, first_came) {
            Owner::Keep => {}
            Owner::Set(id) => owners.insert(k, TenantId(id)),
            Owner::Scan => {
                owners.remove(k);
                scan.push(q);
            }
        }
    }
    scan
}

/// What one run of changed records does to the owner of an issuer (or of an issuer and
/// client): the first tenant in order that uses it.
#[derive(Debug, PartialEq, Eq)]
enum Owner {
    Keep,
    Set(Uuid),
    /// The run alone does not tell: the tenants are scanned.
    Scan,
}

/// The owner after a run, from the owner `before`, the ids of the run's old records that use
/// it (`gone`) and the first of its new records that does (`came`). The tenants outside the
/// run keep their order, so an owner in the run preceded every other user, all of which
/// follow the run; and an owner outside the run that preceded a user in it precedes the run.
fn owner_after_run(before: Option<TenantId>, gone: &[Uuid], came: Option<Uuid>) -> Owner {
    match (before, came) {
        // No tenant used it: only the run's new records can.
        (None, Some(id)) => Owner::Set(id),
        (None, None) => Owner::Keep,
        // The owner was in the run: the run's first new user, or whoever follows the run.
        (Some(o), Some(id)) if gone.contains(&o.0) && o.0 == id => Owner::Keep,
        (Some(o), Some(id)) if gone.contains(&o.0) => Owner::Set(id),
        (Some(o), None) if gone.contains(&o.0) => Owner::Scan,
        // The owner precedes the run, or no user joined it.
        (Some(_), _) if !gone.is_empty() => Owner::Keep,
        (Some(_), None) => Owner::Keep,
        // A user joined from the run: before or after the owner is not known here.
        (Some(_), Some(_)) => Owner::Scan,
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

    fn issuer_bound(&self) -> usize {
        self.issuer_bound
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
        maps.push(format!("bound to their issuer {}", self.issuer_bound));
        let mut tenants: Vec<_> = self
            .by_id
            .iter()
            .map(|(_, t)| format!("tenant {t:?}"))
            .collect();
        tenants.sort();
        maps.extend(tenants);
        maps
    }
}
