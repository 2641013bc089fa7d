//! A change of a few tenant records, validated without revalidating the other tenants: the
//! changed records go through the same checks as at a full load, and the rules across
//! tenants (unique ids, subdomains and custom domains, dedicated issuers) are asked of the
//! configuration in service. Whatever this path cannot settle cheaply (any issue at all, an
//! issuer shared with a dedicated tenant) it leaves to a full [`super::load_with`], which
//! gives the same messages as a file edit.

use super::error::Issue;
use super::file::{TenantFile, TenantsFile};
use super::model::{Config, RoutingConfig, TenantBinding, TenantSpec};
use super::{assemble, gateway_parts, read, validate};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use uuid::Uuid;

/// Who holds a name among the tenants in service (the running snapshot's maps).
pub trait TenantNames {
    fn has_id(&self, id: &Uuid) -> bool;
    fn subdomain_holder(&self, subdomain: &str) -> Option<Uuid>;
    /// The tenant with custom domain `host`, verified or pending.
    fn domain_holder(&self, host: &str) -> Option<Uuid>;
    /// How many tenants are bound to their IdP's issuer (`tenant_binding: issuer`).
    fn issuer_bound(&self) -> usize;
}

/// The most records a change may touch to be validated on its own.
pub const EDIT_MAX: usize = 16;

/// One change to the list of tenant records: `base.tenants[start..start + removed]` are
/// replaced by `added` (records, in order). `base` is the configuration in service, loaded
/// from exactly the records the change was made to.
#[derive(Debug, Clone)]
pub struct RecordEdit {
    pub start: usize,
    pub removed: usize,
    pub added: Vec<TenantFile>,
}

/// How many elements `a` and `b` share at their start and, after that, at their end (`same`
/// tells elements apart): what is left between them is the one run that differs.
pub fn common_ends<T>(a: &[T], b: &[T], same: impl Fn(&T, &T) -> bool) -> (usize, usize) {
    let head = a.iter().zip(b).take_while(|(x, y)| same(x, y)).count();
    let tail = (a[head..].iter().rev())
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| same(x, y))
        .count();
    (head, tail)
}

impl RecordEdit {
    /// The records that differ between `before` and `after` as one replaced run (records a
    /// change did not touch are usually the same allocations, compared by pointer first);
    /// `None` when more than [`EDIT_MAX`] records changed.
    pub fn between(before: &[Arc<TenantFile>], after: &[Arc<TenantFile>]) -> Option<RecordEdit> {
        let (start, tail) = common_ends(before, after, |a, b| Arc::ptr_eq(a, b) || a == b);
        let removed = before.len() - start - tail;
        let added = &after[start..after.len() - tail];
        if removed > EDIT_MAX || added.len() > EDIT_MAX {
            return None;
        }
        Some(RecordEdit {
            start,
            removed,
            added: added.iter().map(|r| TenantFile::clone(r)).collect(),
        })
    }
}

/// The configuration `edit` makes of `base`, with the ids of the tenants it adds, removes or
/// replaces; `None` when a full validation must decide (see the module documentation).
/// `gateway` is `gateway.yaml`; `label` the tenant file, as issues would name it.
pub fn load_change(
    gateway: &Path,
    label: PathBuf,
    base: &RoutingConfig,
    names: &dyn TenantNames,
    edit: RecordEdit,
) -> Option<(Config, HashSet<Uuid>)> {
    let end = edit.start.checked_add(edit.removed)?;
    let replaced = base.tenants.get(edit.start..end)?;
    let mut issues: Vec<Issue> = Vec::new();
    let (mut parts, source) = gateway_parts(gateway, &read(gateway).ok()?, &mut issues).ok()?;
    let added = validate::tenants(
        &mut parts,
        vec![(
            label,
            TenantsFile {
                tenants: edit.added,
            },
        )],
        &mut issues,
    );
    if !issues.is_empty() {
        return None;
    }
    let gone: HashSet<Uuid> = replaced.iter().map(|t| t.id).collect();
    let others = || {
        base.tenants[..edit.start]
            .iter()
            .chain(&base.tenants[end..])
    };
    // While no tenant is bound to its issuer, issuers cannot clash: the scan is skipped.
    let bound_left = names
        .issuer_bound()
        .checked_sub(replaced.iter().filter(|t| t.bound_to_issuer()).count())?;
    let no_binding = bound_left == 0 && !added.iter().any(|t| t.bound_to_issuer());
    if !added.iter().all(|t| free_names(t, names, &gone))
        || !(no_binding || issuers_free(&added, others()))
    {
        return None;
    }
    // Silo pools: the unchanged tenants' from the configuration in service, the changed
    // tenants' just validated (the gateway file's own are in `parts` already).
    let silo_gone: Vec<String> = replaced
        .iter()
        .map(|t| format!("tenant/{}/", t.subdomain))
        .collect();
    for (key, pool) in &base.pools {
        let own = key.starts_with("tenant/")
            && !silo_gone
                .iter()
                .any(|prefix| key.starts_with(prefix.as_str()));
        if own {
            parts
                .pools
                .entry(key.clone())
                .or_insert_with(|| pool.clone());
        }
    }
    let changed: HashSet<Uuid> = gone
        .iter()
        .copied()
        .chain(added.iter().map(|t| t.id))
        .collect();
    let mut tenants = Vec::with_capacity(base.tenants.len() + added.len() - replaced.len());
    tenants.extend_from_slice(&base.tenants[..edit.start]);
    let new_ones = edit.start..edit.start + added.len();
    tenants.extend(added);
    tenants.extend_from_slice(&base.tenants[end..]);
    let config = assemble(gateway, source, parts, tenants, new_ones, issues).ok()?;
    // The unchanged tenants were validated against the gateway file in service: one edited
    // since (a new base domain, a pool gone, another session key) could refuse them, which
    // only a full validation finds.
    let shared = |c: &RoutingConfig| {
        c.pools
            .iter()
            .filter(|(k, _)| !k.starts_with("tenant/"))
            .map(|(k, p)| (k.clone(), p.clone()))
            .collect::<Vec<_>>()
    };
    if !config.routing.same_settings(base) || shared(&config.routing) != shared(base) {
        return None;
    }
    Some((config, changed))
}

/// No tenant outside `gone` holds `t`'s id, subdomain or any of its custom domains.
fn free_names(t: &TenantSpec, names: &dyn TenantNames, gone: &HashSet<Uuid>) -> bool {
    let free = |holder: Option<Uuid>| holder.is_none_or(|h| gone.contains(&h));
    let domains = t
        .custom_domains
        .iter()
        .chain(t.pending_domains.iter().map(|p| &p.host));
    (!names.has_id(&t.id) || gone.contains(&t.id))
        && free(names.subdomain_holder(&t.subdomain))
        && domains
            .into_iter()
            .all(|d| free(names.domain_holder(d.as_str())))
}

/// No added tenant shares an issuer with another tenant when either is dedicated to it
/// (`tenant_binding: issuer`): the case the full validation's rule across tenants judges.
fn issuers_free<'a>(
    added: &[Arc<TenantSpec>],
    others: impl Iterator<Item = &'a Arc<TenantSpec>>,
) -> bool {
    let issuers: Vec<(&str, bool)> = added
        .iter()
        .filter_map(|t| t.idp.as_deref())
        .map(|i| (i.issuer.as_str(), i.tenant_binding == TenantBinding::Issuer))
        .collect();
    if issuers.is_empty() {
        return true;
    }
    let shared = |(a, _): &(&str, bool)| issuers.iter().filter(|(b, _)| a == b).count() > 1;
    if issuers.iter().any(|i| i.1) && issuers.iter().any(shared) {
        return false; // two changed records share an issuer: let the full rule judge
    }
    // At most `EDIT_MAX` issuers, against every other tenant's: compared as they are, which
    // costs less than hashing each of the others'.
    others.filter_map(|t| t.idp.as_deref()).all(|i| {
        let dedicated = i.tenant_binding == TenantBinding::Issuer;
        issuers
            .iter()
            .all(|(added, added_dedicated)| *added != i.issuer || !(dedicated || *added_dedicated))
    })
}

#[cfg(test)]
#[path = "change_tests.rs"]
mod tests;
