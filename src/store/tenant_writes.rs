//! Tenant changes from the admin API: each change is applied to the current records and
//! validated as a file edit would be (only the changed records, against the version in
//! service, when that version was made from the records before the change). The file source
//! writes and syncs the new file to a temporary file while the change is validated, then
//! renames it into place and swaps the new version in; the DynamoDB source commits one
//! conditional transaction (see `dynamodb::change`). A change that fails validation leaves the
//! tenants file as it was. One change at a time per node.
//!
//! When the version in service was loaded from the tenants file as it is now, in the layout
//! this writer keeps, its records are not parsed: each is its item's text, parsed when a
//! change or a read asks for it (see `records`). Otherwise the file is parsed whole. What was
//! read or written is kept for a minute with the file's stamp (a hash of the bytes read; the
//! metadata of the file written, see `stamp::FileMeta`), so a burst of changes (an onboarding
//! script) reads the file at most once, unless someone else changes it.

use super::dynamodb::{Follower, StoreStatus};
use super::records::Records;
use super::stamp::FileStamp;
use super::tenants_held::{FileVersion, Held, TenantsFileSource};
use super::tenants_written::{Staged, Written};
use super::{ReloadOutcome, Reloader, Validated};
use crate::config::file::{TenantFile, TenantsFile};
use crate::config::{self, ConfigError};
use std::path::PathBuf;
use std::sync::Arc;

/// Why a tenant change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no tenant with id {0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid change")]
    Invalid(ConfigError),
    #[error("{0}")]
    Unsupported(String),
    #[error("writing the tenant file: {0}")]
    Io(std::io::Error),
    #[error("the tenant store is unavailable: {0}")]
    Unavailable(String),
}

impl ChangeError {
    pub fn status(&self) -> u16 {
        match self {
            ChangeError::NotFound(_) => 404,
            ChangeError::Conflict(_) => 409,
            ChangeError::Invalid(_) => 400,
            ChangeError::Unsupported(_) => 501,
            ChangeError::Io(_) => 500,
            ChangeError::Unavailable(_) => 503,
        }
    }
}

/// Applies tenant changes to the configured tenant source.
pub struct TenantWriter {
    reloader: Arc<Reloader>,
    lock: tokio::sync::Mutex<()>,
    fleet: Option<Arc<Follower>>,
    /// The tenants file as last read or written.
    file: TenantsFileSource,
}

impl TenantWriter {
    /// A writer for the file source.
    pub fn new(reloader: Arc<Reloader>) -> Self {
        Self {
            file: TenantsFileSource::new(reloader.clone()),
            reloader,
            lock: tokio::sync::Mutex::new(()),
            fleet: None,
        }
    }

    /// A writer for the DynamoDB source.
    pub fn dynamodb(reloader: Arc<Reloader>, follower: Arc<Follower>) -> Self {
        Self {
            fleet: Some(follower),
            ..Self::new(reloader)
        }
    }

    /// The store's health, when tenants live in DynamoDB.
    pub fn store_status(&self) -> Option<StoreStatus> {
        self.fleet.as_ref().map(|f| f.status())
    }

    fn source(&self) -> Result<PathBuf, ChangeError> {
        let path = config::tenant_source(self.reloader.path())
            .map_err(ChangeError::Invalid)?
            .ok_or_else(|| ChangeError::Unsupported("tenants live in DynamoDB".into()))?;
        if path.is_dir() {
            return Err(ChangeError::Unsupported(
                "the tenant source is a directory; the admin API writes a single tenants file"
                    .into(),
            ));
        }
        Ok(path)
    }

    /// The current records of the tenant source. Reading (and, the first time, indexing) a
    /// large tenants file is background work, off the admin listener's worker.
    pub async fn records(&self) -> Result<Records, ChangeError> {
        if let Some(f) = &self.fleet {
            return Ok(f.records().into());
        }
        let (file, path) = (self.file.clone(), self.source()?);
        let held = tokio::task::spawn_blocking(move || {
            crate::priority::background();
            file.held(&path)
        })
        .await
        .map_err(|e| ChangeError::Io(std::io::Error::other(e)))??;
        Ok(held.records.as_ref().clone())
    }

    /// Validates `change` applied to the current records like [`Self::apply`], writing
    /// nothing: what onboarding asks before it creates anything outside the store.
    pub async fn check(
        &self,
        change: impl FnOnce(&mut Records) -> Result<(), ChangeError>,
    ) -> Result<(), ChangeError> {
        let mut records = self.records().await?;
        change(&mut records)?;
        let label = match &self.fleet {
            Some(f) => f.store().settings().label(),
            None => self.source()?,
        };
        let gateway = self.reloader.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            crate::priority::background();
            config::load_with(&gateway, Some((label, owned(&records)?)))
                .map_err(ChangeError::Invalid)
        })
        .await
        .map_err(|e| ChangeError::Io(std::io::Error::other(e)))??;
        Ok(())
    }

    /// The tenants file the admin API writes, when tenants live in one.
    pub fn tenants_file(&self) -> Option<PathBuf> {
        self.fleet.is_none().then(|| self.source().ok()).flatten()
    }

    /// Runs `change` on the records; if the result validates, writes it and reloads.
    ///
    /// When the records changed are few and the version in service was made from exactly the
    /// records before the change (this writer applied them), only the changed records are
    /// validated and rebuilt ([`config::load_change`], [`Reloader::apply_change`]);
    /// otherwise, or when that path cannot decide, the whole configuration is validated.
    pub async fn apply<T>(
        &self,
        mut change: impl FnMut(&mut Records) -> Result<T, ChangeError>,
    ) -> Result<(T, ReloadOutcome), ChangeError> {
        let _one = self.lock.lock().await;
        if let Some(f) = &self.fleet {
            return super::dynamodb::apply_change(f, self.reloader.path(), &mut change).await;
        }
        let path = self.source()?;
        // Reading (and on a first change, indexing) the file is background work too.
        let (file, at) = (self.file.clone(), path.clone());
        let held = tokio::task::spawn_blocking(move || {
            crate::priority::background();
            file.held(&at)
        })
        .await
        .map_err(|e| ChangeError::Io(std::io::Error::other(e)))??;
        let mut records = held.records.as_ref().clone();
        let out = change(&mut records)?;
        let base = self.reloader.current();
        let diff = records.edit_from(&held.records);
        let edit = held
            .serving
            .filter(|g| *g == base.generation)
            .and(diff.clone());
        let written_before = held.written();
        let records = Arc::new(records);
        let (gateway, label, all, file) = (
            self.reloader.path().to_path_buf(),
            path.clone(),
            records.clone(),
            path.clone(),
        );
        let base_generation = base.generation;
        let gateway_stamp = FileStamp::read(self.reloader.path()).map_err(ChangeError::Io)?;
        let (written, staged, checked) = tokio::task::spawn_blocking(move || {
            crate::priority::background();
            let written = Written::after(&file, &all, written_before, diff)?;
            // The new file is written (and synced) beside the validation, on another core.
            let (staged, checked) = std::thread::scope(|scope| {
                let staging = scope.spawn(|| Staged::write(&file, &written.texts));
                let quick = edit.and_then(|e| {
                    config::load_change(&gateway, label.clone(), &base.routing, &base.snapshot, e)
                });
                let checked = match quick {
                    Some((config, changed)) => Ok(Validated::Change {
                        config,
                        changed,
                        base_generation,
                    }),
                    None => owned(&all).and_then(|all| {
                        config::load_with(&gateway, Some((label, all)))
                            .map(Validated::Full)
                            .map_err(ChangeError::Invalid)
                    }),
                };
                let staged = staging
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("the file writer panicked")));
                (staged, checked)
            });
            let staged = staged.map_err(ChangeError::Io);
            match (staged, checked) {
                (Ok(staged), Ok(checked)) => Ok((written, staged, checked)),
                (Ok(staged), Err(e)) => {
                    staged.discard();
                    Err(e)
                }
                (Err(e), _) => Err(e),
            }
        })
        .await
        .map_err(|e| ChangeError::Io(std::io::Error::other(e)))??;
        // What was just validated is what the file will say: swap it in without reading and
        // validating everything a second time.
        let items = written.items.clone();
        let (meta, outcome) = self
            .reloader
            .write_and_apply(
                "admin-api",
                gateway_stamp,
                || staged.commit(),
                checked,
                items,
            )
            .await
            .map_err(ChangeError::Io)?;
        // The file now holds these records whether or not the swap succeeded; which
        // generation serves them is known only when it did.
        let serving = outcome.as_ref().ok().map(ReloadOutcome::generation);
        let held = Held {
            records,
            serving,
            texts: Some(written.texts),
            items: written.items,
        };
        self.file.remember(FileVersion::Written(meta), &held);
        let outcome = outcome.map_err(ChangeError::Invalid)?;
        Ok((out, outcome))
    }
}

/// The records as a tenants file (a copy: what a full validation takes).
fn owned(records: &Records) -> Result<TenantsFile, ChangeError> {
    Ok(TenantsFile {
        tenants: records
            .all()?
            .iter()
            .map(|r| TenantFile::clone(r))
            .collect(),
    })
}

#[cfg(test)]
#[path = "tenant_writes_tests.rs"]
mod tests;
