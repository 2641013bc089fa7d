//! Tenant changes from the admin API: each change is applied to the current records and the
//! whole configuration is validated exactly as a file edit would be; then the file source
//! replaces its file atomically (temp file + rename) and reloads, or the DynamoDB source
//! commits one conditional transaction (see `dynamodb::change`). A change that fails
//! validation writes nothing. One change at a time per node. The records last read or written
//! are kept for a minute with a hash of the file's bytes, so a burst of changes (an
//! onboarding script) parses the file once, unless someone else changes it; between bursts
//! they are dropped (at 100,000 tenants they take as much memory as the running snapshot).

use super::dynamodb::{Follower, StoreStatus};
use super::{ReloadOutcome, Reloader};
use crate::config::file::{TenantFile, TenantsFile};
use crate::config::{self, ConfigError};
use std::io::Write;
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
    /// The tenants file's records as last read or written, and which file version they are.
    known: Arc<std::sync::Mutex<Option<Known>>>,
}

/// How long the records of the last change are kept for the next one.
const KEEP_RECORDS: std::time::Duration = std::time::Duration::from_secs(60);

struct Known {
    stamp: FileStamp,
    records: Arc<Vec<TenantFile>>,
    /// Which `remember` put them there (the expiry of an older one leaves them alone).
    generation: u64,
}

/// Which version of a file, by its bytes (modification times are too coarse to tell two
/// quick writes apart; hashing is a few milliseconds where parsing is hundreds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: usize,
    hash: u64,
}

impl FileStamp {
    fn of(bytes: &[u8]) -> Self {
        use std::hash::BuildHasher;
        Self {
            len: bytes.len(),
            hash: foldhash::quality::FixedState::with_seed(0x7465_6e61_6e74).hash_one(bytes),
        }
    }
}

impl TenantWriter {
    /// A writer for the file source.
    pub fn new(reloader: Arc<Reloader>) -> Self {
        Self {
            reloader,
            lock: tokio::sync::Mutex::new(()),
            fleet: None,
            known: Arc::new(std::sync::Mutex::new(None)),
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

    /// The current records of the tenant file.
    pub fn records(&self) -> Result<Vec<TenantFile>, ChangeError> {
        if let Some(f) = &self.fleet {
            return Ok(f.records());
        }
        let path = self.source()?;
        let text = std::fs::read_to_string(&path).map_err(ChangeError::Io)?;
        let stamp = FileStamp::of(text.as_bytes());
        if let Some(k) = &*self.known.lock().unwrap_or_else(|e| e.into_inner()) {
            if k.stamp == stamp {
                return Ok(k.records.as_ref().clone());
            }
        }
        let records = config::parse_tenants(&path, &text)
            .map(|f| f.tenants)
            .map_err(ChangeError::Invalid)?;
        self.remember(stamp, records.clone());
        Ok(records)
    }

    fn remember(&self, stamp: FileStamp, records: Vec<TenantFile>) {
        let generation = {
            let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
            let generation = known.as_ref().map_or(0, |k| k.generation + 1);
            *known = Some(Known {
                stamp,
                records: Arc::new(records),
                generation,
            });
            generation
        };
        // Dropped a while after the last change (outside a runtime, e.g. a test: kept).
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let known = Arc::downgrade(&self.known);
        runtime.spawn(async move {
            tokio::time::sleep(KEEP_RECORDS).await;
            if let Some(known) = known.upgrade() {
                let mut known = known.lock().unwrap_or_else(|e| e.into_inner());
                if known.as_ref().is_some_and(|k| k.generation == generation) {
                    *known = None;
                }
            }
        });
    }

    /// Validates `change` applied to the current records like [`Self::apply`], writing
    /// nothing: what onboarding asks before it creates anything outside the store.
    pub async fn check(
        &self,
        change: impl FnOnce(&mut Vec<TenantFile>) -> Result<(), ChangeError>,
    ) -> Result<(), ChangeError> {
        let mut records = self.records()?;
        change(&mut records)?;
        let label = match &self.fleet {
            Some(f) => f.store().settings().label(),
            None => self.source()?,
        };
        let gateway = self.reloader.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            config::load_with(&gateway, Some((label, TenantsFile { tenants: records })))
        })
        .await
        .map_err(|e| ChangeError::Io(std::io::Error::other(e)))?
        .map_err(ChangeError::Invalid)?;
        Ok(())
    }

    /// The tenants file the admin API writes, when tenants live in one.
    pub fn tenants_file(&self) -> Option<PathBuf> {
        self.fleet.is_none().then(|| self.source().ok()).flatten()
    }

    /// Runs `change` on the records; if the result validates, writes it and reloads.
    pub async fn apply<T>(
        &self,
        mut change: impl FnMut(&mut Vec<TenantFile>) -> Result<T, ChangeError>,
    ) -> Result<(T, ReloadOutcome), ChangeError> {
        let _one = self.lock.lock().await;
        if let Some(f) = &self.fleet {
            return super::dynamodb::apply_change(f, self.reloader.path(), &mut change).await;
        }
        let path = self.source()?;
        let mut records = self.records()?;
        let out = change(&mut records)?;
        let kept = records.clone();
        let file = TenantsFile { tenants: records };
        let gateway = self.reloader.path().to_path_buf();
        let check_path = path.clone();
        let (yaml, validated) = tokio::task::spawn_blocking(move || {
            let yaml = config::tenants_yaml(&file)
                .map(|y| HEADER.to_string() + &y)
                .map_err(|e| ChangeError::Io(std::io::Error::other(e)))?;
            let config = config::load_with(&gateway, Some((check_path, file)))
                .map_err(ChangeError::Invalid)?;
            Ok::<_, ChangeError>((yaml, config))
        })
        .await
        .map_err(|e| ChangeError::Io(std::io::Error::other(e)))??;
        let stamp = write_atomic(&path, yaml.as_bytes()).map_err(ChangeError::Io)?;
        self.remember(stamp, kept);
        // What was just validated is what the file now says: swap it in without reading
        // and validating everything a second time.
        let outcome = self
            .reloader
            .reload_with("admin-api", Some(validated))
            .await
            .map_err(ChangeError::Invalid)?;
        Ok((out, outcome))
    }
}

/// The first line of a tenants file the admin API writes.
const HEADER: &str = "# Written by the tenant-gateway admin API.\n";

/// Writes `bytes` through a temporary file and a rename; returns their stamp.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<FileStamp> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("tenants")
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(FileStamp::of(bytes))
}
