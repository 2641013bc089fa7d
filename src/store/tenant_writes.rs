//! Tenant changes from the admin API, for the file tenant source: each change is applied to
//! the current records, the whole configuration is validated exactly as a file edit would be,
//! the file is replaced atomically (temp file + rename), and the reload path swaps the result
//! in. A change that fails validation writes nothing. One change at a time.

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
}

impl ChangeError {
    pub fn status(&self) -> u16 {
        match self {
            ChangeError::NotFound(_) => 404,
            ChangeError::Conflict(_) => 409,
            ChangeError::Invalid(_) => 400,
            ChangeError::Unsupported(_) => 501,
            ChangeError::Io(_) => 500,
        }
    }
}

/// Applies tenant changes to the file source.
pub struct TenantWriter {
    reloader: Arc<Reloader>,
    lock: tokio::sync::Mutex<()>,
}

impl TenantWriter {
    pub fn new(reloader: Arc<Reloader>) -> Self {
        Self {
            reloader,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn source(&self) -> Result<PathBuf, ChangeError> {
        let path = config::tenant_source(self.reloader.path()).map_err(ChangeError::Invalid)?;
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
        let path = self.source()?;
        let text = std::fs::read_to_string(&path).map_err(ChangeError::Io)?;
        serde_norway::from_str::<TenantsFile>(&text)
            .map(|f| f.tenants)
            .map_err(|e| {
                ChangeError::Invalid(ConfigError::Parse {
                    path,
                    message: e.to_string(),
                })
            })
    }

    /// Runs `change` on the records; if the result validates, writes it and reloads.
    pub async fn apply<T>(
        &self,
        change: impl FnOnce(&mut Vec<TenantFile>) -> Result<T, ChangeError>,
    ) -> Result<(T, ReloadOutcome), ChangeError> {
        let _one = self.lock.lock().await;
        let path = self.source()?;
        let mut records = self.records()?;
        let out = change(&mut records)?;
        let file = TenantsFile { tenants: records };
        let gateway = self.reloader.path().to_path_buf();
        let check_path = path.clone();
        let validated = tokio::task::spawn_blocking(move || {
            let yaml = serde_norway::to_string(&file)
                .map_err(|e| ChangeError::Io(std::io::Error::other(e)))?;
            config::load_with(&gateway, Some((check_path, file))).map_err(ChangeError::Invalid)?;
            Ok::<_, ChangeError>(yaml)
        })
        .await
        .map_err(|e| ChangeError::Io(std::io::Error::other(e)))??;
        write_atomic(&path, validated.as_bytes()).map_err(ChangeError::Io)?;
        let outcome = self
            .reloader
            .reload("admin-api")
            .await
            .map_err(ChangeError::Invalid)?;
        Ok((out, outcome))
    }
}

fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("tenants")
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(b"# Written by the tenant-gateway admin API.\n")?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
