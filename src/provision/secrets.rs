//! Where a provisioned app client's secret is kept: beside a tenants file, in a directory
//! only the gateway's user can read (one 0600 file per tenant, never in the tenants file), or
//! sealed with the store key inside the tenant's DynamoDB record.

use crate::config::file::SecretRefFile;
use crate::seal::Sealer;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub enum SecretStore {
    /// Files in `<tenants file stem>.secrets/` beside the tenants file.
    Files { tenants_file: PathBuf },
    /// Sealed in the record (DynamoDB store).
    Sealed(Arc<Sealer>),
}

impl SecretStore {
    fn dir_name(tenants_file: &Path) -> String {
        let stem = tenants_file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("tenants");
        format!("{stem}.secrets")
    }

    /// `<id>.client_secret`; ids are UUIDs (validation sees to it), anything else that could
    /// name another path is refused.
    fn file_name(tenant_id: &str) -> Result<String, String> {
        if tenant_id.is_empty()
            || !tenant_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'-')
        {
            return Err(format!("{tenant_id:?} is not a tenant id"));
        }
        Ok(format!("{}.client_secret", tenant_id.to_ascii_lowercase()))
    }

    /// Keeps `secret` and answers the reference the tenant record carries.
    pub fn put(&self, tenant_id: &str, secret: &str) -> Result<SecretRefFile, String> {
        match self {
            SecretStore::Files { tenants_file } => {
                let dir_name = Self::dir_name(tenants_file);
                let dir = tenants_file
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(&dir_name);
                create_private_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
                let name = Self::file_name(tenant_id)?;
                write_private(&dir.join(&name), secret.as_bytes())
                    .map_err(|e| format!("writing {}: {e}", dir.join(&name).display()))?;
                Ok(SecretRefFile {
                    file: Some(PathBuf::from(dir_name).join(name)),
                    ..Default::default()
                })
            }
            SecretStore::Sealed(sealer) => {
                let aad = crate::config::client_secret_aad(tenant_id);
                let sealed = sealer.seal(&aad, secret.as_bytes())?;
                Ok(SecretRefFile {
                    sealed: Some(sealed),
                    ..Default::default()
                })
            }
        }
    }

    /// Forgets the tenant's secret (nothing to do when it lives in the record).
    pub fn remove(&self, tenant_id: &str) -> Result<(), String> {
        let SecretStore::Files { tenants_file } = self else {
            return Ok(());
        };
        let path = tenants_file
            .parent()
            .unwrap_or(Path::new("."))
            .join(Self::dir_name(tenants_file))
            .join(Self::file_name(tenant_id)?);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("removing {}: {e}", path.display())),
        }
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        }
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Writes through a temporary file created 0600, so the secret is never readable by others,
/// not even for a moment.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
