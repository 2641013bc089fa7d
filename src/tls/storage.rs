//! Where issued certificates, their keys and the ACME account live. A small trait so a fleet
//! can share them (the DynamoDB issue adds that implementation); the file implementation keeps
//! them under `<certs_dir>/acme/`, written atomically, private keys and account mode 0600.

use async_trait::async_trait;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What the SNI index needs of a stored certificate, kept beside it (`meta.json`) so that
/// starting never reads or parses keys.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CertMeta {
    pub names: Vec<String>,
    /// Unix seconds.
    pub not_before: u64,
    pub not_after: u64,
    pub issuer: String,
}

impl CertMeta {
    pub fn of(c: &super::certs::LoadedCert) -> Self {
        use super::certs::unix_secs;
        Self {
            names: c.names.clone(),
            not_before: unix_secs(c.not_before),
            not_after: unix_secs(c.not_after),
            issuer: c.issuer.clone(),
        }
    }

    pub fn is_valid_at(&self, now: std::time::SystemTime) -> bool {
        let t = super::certs::unix_secs(now);
        self.not_before <= t && t < self.not_after
    }

    /// True once less than `fraction` of the lifetime remains.
    pub fn due_for_renewal(&self, now: std::time::SystemTime, fraction: f64) -> bool {
        let t = super::certs::unix_secs(now);
        let life = self.not_after.saturating_sub(self.not_before) as f64;
        (self.not_after.saturating_sub(t) as f64) < life * fraction
    }
}

/// One stored certificate.
pub struct StoredCert {
    pub host: String,
    pub chain_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// Certificates, keys and the ACME account; a shared implementation (a fleet) also
/// coordinates orders and HTTP-01 answers between nodes. The defaults are those of a
/// storage only one process uses.
#[async_trait]
pub trait CertStorage: Send + Sync {
    /// The index of every stored certificate by host: metadata only, no key is read.
    async fn list_meta(&self) -> std::io::Result<Vec<(String, CertMeta)>>;
    /// The stored certificate of one host (a first handshake, or another node's issuance).
    async fn load_cert(&self, host: &str) -> std::io::Result<Option<StoredCert>>;
    async fn save_cert(&self, cert: &StoredCert) -> std::io::Result<()>;
    async fn load_account(&self) -> std::io::Result<Option<Vec<u8>>>;
    async fn save_account(&self, credentials: &[u8]) -> std::io::Result<()>;

    /// Other nodes write here too: look for their certificates before ordering.
    fn is_shared(&self) -> bool {
        false
    }
    /// Takes the right to order for `host` for a while; `false` while another node holds it.
    async fn acquire_lease(&self, _host: &str) -> std::io::Result<bool> {
        Ok(true)
    }
    async fn release_lease(&self, _host: &str) -> std::io::Result<()> {
        Ok(())
    }
    /// Publishes an HTTP-01 answer so that whichever node the CA reaches can give it.
    async fn put_challenge(&self, _token: &str, _key_authorization: &str) -> std::io::Result<()> {
        Ok(())
    }
    async fn remove_challenge(&self, _token: &str) -> std::io::Result<()> {
        Ok(())
    }
    async fn get_challenge(&self, _token: &str) -> std::io::Result<Option<String>> {
        Ok(None)
    }
}

/// Certificates as files: `acme/<host>/fullchain.pem`, `acme/<host>/privkey.pem`, `acme/account.json`.
#[derive(Clone)]
pub struct FileStorage {
    root: PathBuf,
}

impl FileStorage {
    pub fn new(certs_dir: &Path) -> Self {
        Self {
            root: certs_dir.join("acme"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The index of every stored certificate, by host: each `meta.json` (a certificate stored
    /// before those existed is parsed once and gets one). Reads no key; the files are read by
    /// a few threads (100,000 small files are mostly system calls).
    pub fn read_index(&self) -> Vec<(String, CertMeta)> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let hosts: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|h| valid_host_dir(h) && h != "account.json")
            .collect();
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 8);
        let chunk = hosts.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = hosts
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .filter_map(|h| self.meta_of(h))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        })
    }

    /// One host's index entry; `None` for a directory that holds no usable certificate.
    fn meta_of(&self, host: &str) -> Option<(String, CertMeta)> {
        let meta_path = self.root.join(host).join("meta.json");
        if let Ok(b) = std::fs::read(&meta_path) {
            if let Ok(m) = serde_json::from_slice::<CertMeta>(&b) {
                return Some((host.to_string(), m));
            }
        }
        let stored = read_cert(&self.root, host)?;
        match super::certs::LoadedCert::from_pem(
            &stored.chain_pem,
            &stored.key_pem,
            super::certs::Source::Acme,
        ) {
            Ok(c) => {
                let m = CertMeta::of(&c);
                if let Ok(json) = serde_json::to_vec(&m) {
                    let _ = write_atomic(&meta_path, &json, 0o644);
                }
                Some((host.to_string(), m))
            }
            Err(e) => {
                tracing::warn!(host = %host, error = %e, "skipping a stored certificate that does not parse");
                None
            }
        }
    }
}

/// The chain and key stored for `host` under `root`, read synchronously (a first handshake
/// reads them on the blocking pool).
pub fn read_cert(root: &Path, host: &str) -> Option<StoredCert> {
    if !valid_host_dir(host) {
        return None;
    }
    let dir = root.join(host);
    Some(StoredCert {
        host: host.to_string(),
        chain_pem: std::fs::read(dir.join("fullchain.pem")).ok()?,
        key_pem: std::fs::read(dir.join("privkey.pem")).ok()?,
    })
}

/// Writes through a temporary file and a rename, with `mode` set before any byte is written.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn valid_host_dir(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
}

#[async_trait]
impl CertStorage for FileStorage {
    async fn list_meta(&self) -> std::io::Result<Vec<(String, CertMeta)>> {
        let files = self.clone();
        tokio::task::spawn_blocking(move || files.read_index())
            .await
            .map_err(std::io::Error::other)
    }

    async fn load_cert(&self, host: &str) -> std::io::Result<Option<StoredCert>> {
        let (root, host) = (self.root.clone(), host.to_string());
        tokio::task::spawn_blocking(move || read_cert(&root, &host))
            .await
            .map_err(std::io::Error::other)
    }

    async fn save_cert(&self, cert: &StoredCert) -> std::io::Result<()> {
        if !valid_host_dir(&cert.host) {
            return Err(std::io::Error::other("invalid host name for storage"));
        }
        let dir = self.root.join(&cert.host);
        // Key first: a chain without its key is never visible; the index entry last.
        write_atomic(&dir.join("privkey.pem"), &cert.key_pem, 0o600)?;
        write_atomic(&dir.join("fullchain.pem"), &cert.chain_pem, 0o644)?;
        if let Ok(c) = super::certs::LoadedCert::from_pem(
            &cert.chain_pem,
            &cert.key_pem,
            super::certs::Source::Acme,
        ) {
            let json = serde_json::to_vec(&CertMeta::of(&c)).map_err(std::io::Error::other)?;
            write_atomic(&dir.join("meta.json"), &json, 0o644)?;
        }
        Ok(())
    }

    async fn load_account(&self) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.root.join("account.json")) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn save_account(&self, credentials: &[u8]) -> std::io::Result<()> {
        write_atomic(&self.root.join("account.json"), credentials, 0o600)
    }
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
