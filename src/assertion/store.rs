//! Where the assertion key set is kept: a file (mode 0600) for one gateway, or the fleet's
//! certs table (sealed like the ACME keys) so that every node signs with the same keys and one
//! node at a time rotates them, under a lease.

use async_trait::async_trait;
use std::path::PathBuf;

/// Storage of the serialised key set.
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn load(&self) -> std::io::Result<Option<Vec<u8>>>;
    async fn save(&self, bytes: &[u8]) -> std::io::Result<()>;
    /// Takes the right to change the key set for a while; `false` while another node has it.
    async fn lock(&self) -> std::io::Result<bool> {
        Ok(true)
    }
    async fn unlock(&self) -> std::io::Result<()> {
        Ok(())
    }
    /// Shared by a fleet: reload it now and then to see other nodes' rotations.
    fn is_shared(&self) -> bool {
        false
    }
}

/// The key set as one file, written atomically with mode 0600.
pub struct FileKeyStore {
    path: PathBuf,
}

impl FileKeyStore {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

#[async_trait]
impl KeyStore for FileKeyStore {
    async fn load(&self) -> std::io::Result<Option<Vec<u8>>> {
        match tokio::fs::read(&self.path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn save(&self, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path.clone();
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || crate::tls::storage::write_atomic(&path, &bytes, 0o600))
            .await
            .map_err(std::io::Error::other)?
    }
}
