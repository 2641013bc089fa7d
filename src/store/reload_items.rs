//! Reloading a change of a few tenant records by those records alone: an edited tenants file
//! by its changed items ([`config::TenantItems::edit_to`]), the DynamoDB store's records by
//! the ones that are not the same allocations as before ([`config::RecordEdit::between`]).
//! When the version in service was loaded from exactly what the change was made to, only the
//! changed records are validated ([`config::load_change`]) and only those tenants rebuilt.
//! Anything else (`SIGHUP`, a tenant directory, a large edit, anchors, any issue at all) loads
//! and validates everything, with the same messages.

use super::reload::{ReloadReport, Reloader, Served, ServedFrom, Validated};
use crate::config::file::{TenantFile, TenantsFile};
use crate::config::{self, ConfigError, RoutingConfig};
use std::path::PathBuf;
use std::sync::Arc;

/// The trigger that always loads everything: an operator's way to revalidate the whole
/// configuration.
const FULL_TRIGGER: &str = "sighup";

impl Reloader {
    /// Records that generation `generation` was loaded from `from` (or forgets what it was
    /// loaded from, when that cannot be compared with a change).
    pub(super) fn serve(&self, from: Option<ServedFrom>, generation: u64) {
        if let Ok(mut served) = self.served.lock() {
            *served = from.map(|from| Served { from, generation });
        }
    }

    /// The generation in service, when it was loaded from a tenants file with these `items`:
    /// the records of a file with these items are then the ones in service, in order.
    pub fn serves_items(&self, items: &config::TenantItems) -> Option<u64> {
        let served = self.served.lock().ok()?.clone()?;
        let ServedFrom::Items(from) = &served.from else {
            return None;
        };
        (**from == *items && served.generation == self.generation()).then_some(served.generation)
    }

    /// The reload of a change to a few tenant records, validated and rebuilt alone, with its
    /// detail; `None` when everything must be loaded. Runs under the reload lock.
    pub(super) async fn changed_only(
        &self,
        trigger: &str,
    ) -> Option<(Result<ReloadReport, ConfigError>, Option<String>)> {
        if trigger == FULL_TRIGGER {
            return None;
        }
        let served = self.served.lock().ok()?.clone()?;
        let base = self.current();
        if base.generation != served.generation {
            return None;
        }
        let provided = self.provided_records();
        let gateway = self.path().to_path_buf();
        let found = tokio::task::spawn_blocking(move || {
            crate::priority::background();
            let (label, edit, next) = match (served.from, provided) {
                (ServedFrom::Items(items), None) => {
                    if config::tenant_source(&gateway).ok()?? != items.path() {
                        return None;
                    }
                    let text = std::fs::read_to_string(items.path()).ok()?;
                    let (edit, next) = items.edit_to(&text)?;
                    let next = ServedFrom::Items(Arc::new(next));
                    (items.path().to_path_buf(), edit, next)
                }
                (ServedFrom::Records(before), Some((label, now))) => {
                    let edit = records_edit(&before, &now, &base.routing)?;
                    (label, edit, ServedFrom::Records(now))
                }
                _ => return None,
            };
            let (config, changed) =
                config::load_change(&gateway, label, &base.routing, &base.snapshot, edit)?;
            let validated = Validated::Change {
                config,
                changed,
                base_generation: base.generation,
            };
            Some((validated, next))
        })
        .await
        .ok()??;
        let (validated, next) = found;
        Some(self.apply_validated(trigger, validated, Some(next)).await)
    }

    /// Validates `records`, a provider's records after a change (a DynamoDB write, before it
    /// commits): alone when they differ in a few records from those the version in service
    /// was loaded from, else in full. Blocking.
    pub fn validate_records(
        &self,
        label: PathBuf,
        records: &[Arc<TenantFile>],
    ) -> Result<Validated, ConfigError> {
        let base = self.current();
        let quick = || {
            let served = self.served.lock().ok()?.clone()?;
            let ServedFrom::Records(before) = served.from else {
                return None;
            };
            if served.generation != base.generation {
                return None;
            }
            let edit = records_edit(&before, records, &base.routing)?;
            let (config, changed) = config::load_change(
                self.path(),
                label.clone(),
                &base.routing,
                &base.snapshot,
                edit,
            )?;
            Some(Validated::Change {
                config,
                changed,
                base_generation: base.generation,
            })
        };
        if let Some(validated) = quick() {
            return Ok(validated);
        }
        let tenants = records.iter().map(|r| TenantFile::clone(r)).collect();
        config::load_with(self.path(), Some((label, TenantsFile { tenants }))).map(Validated::Full)
    }
}

/// The edit from `before` (the records `base` was loaded from) to `now`, when the records it
/// replaces are the tenants at the same places in `base` (a check that the two lists are in
/// the same order).
fn records_edit(
    before: &[Arc<TenantFile>],
    now: &[Arc<TenantFile>],
    base: &RoutingConfig,
) -> Option<config::RecordEdit> {
    let edit = config::RecordEdit::between(before, now)?;
    let run = edit.start..edit.start + edit.removed;
    let same_run = before.len() == base.tenants.len()
        && before[run.clone()]
            .iter()
            .zip(&base.tenants[run])
            .all(|(r, t)| uuid::Uuid::parse_str(&r.id).is_ok_and(|id| id == t.id));
    same_run.then_some(edit)
}

#[cfg(test)]
#[path = "reload_items_tests.rs"]
mod tests;
