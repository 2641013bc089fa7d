//! Admin API writes of the tenants file and the file watch they cause: the write and the swap
//! are one step under the reload lock, and the stamps of the files as written let the watch
//! that fires on the write find nothing to parse.

use super::reload::{ReloadOutcome, ReloadReport, Reloader, ServedFrom, Validated};
use super::stamp::{FileMeta, FileStamp};
use crate::config::{self, ConfigError};

/// The files as an admin API change left them, and the generation that serves them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Written {
    files: WrittenFiles,
    generation: u64,
}

/// The files an admin API change leaves: `gateway.yaml` as read before validating, and the
/// tenants file as written (by its metadata: no read of a large file for the watch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WrittenFiles {
    gateway: FileStamp,
    tenants: FileMeta,
}

impl Reloader {
    /// For a file-watch reload: the generation in service when the files are byte for byte
    /// what the admin API wrote and that generation serves (the watch fired on its write).
    pub(super) fn as_written(&self, trigger: &str) -> Option<u64> {
        if trigger != "file-watch" {
            return None;
        }
        let written = (*self.written.lock().ok()?)?;
        let tenants = config::tenant_source(&self.path).ok()??;
        let now = Written {
            files: WrittenFiles {
                gateway: FileStamp::read(&self.path).ok()?,
                tenants: FileMeta::of(&tenants).ok()?,
            },
            generation: self.generation(),
        };
        (now == written).then_some(now.generation)
    }

    /// Records (under the reload lock, before a file watch can look) that the version a
    /// change put in service serves `files`; forgets the last record when it failed.
    fn note_written(&self, files: WrittenFiles, result: &Result<ReloadReport, ConfigError>) {
        let generation = result.as_ref().ok().map(|r| r.outcome.generation());
        if let Ok(mut w) = self.written.lock() {
            *w = generation.map(|generation| Written { files, generation });
        }
    }

    /// Writes an admin API change and swaps its validated configuration in, both under the
    /// reload lock: a file watch that the write fires waits, then finds the files as
    /// written. `write` replaces the tenants file and returns its metadata as written;
    /// `gateway` is the stamp of `gateway.yaml` as read before validating. Returns that
    /// metadata and the reload's result, or the write's error (nothing applied).
    pub async fn write_and_apply(
        &self,
        trigger: &str,
        gateway: FileStamp,
        write: impl FnOnce() -> std::io::Result<FileMeta>,
        validated: Validated,
        items: Option<std::sync::Arc<config::TenantItems>>,
    ) -> std::io::Result<(FileMeta, Result<ReloadOutcome, ConfigError>)> {
        let _one_at_a_time = self.lock.lock().await;
        let started = std::time::Instant::now();
        let tenants = write()?;
        let from = items.map(ServedFrom::Items);
        let (result, detail) = self.apply_validated(trigger, validated, from).await;
        self.note_written(WrittenFiles { gateway, tenants }, &result);
        self.remember(trigger, &result, started.elapsed(), detail);
        Ok((tenants, result.map(|r| r.outcome)))
    }
}
