//! The tenant assertion's key set in the fleet's certs table (`ASSERTION#keys`, sealed with
//! the store key like the ACME keys), so that every node signs with the same keys; rotations
//! take the `LEASE#assertion-keys` lease, so one node at a time changes the set.

use super::certs::DynamoCertStorage;
use super::items::{attr_n, attr_s, get_s, key, now_secs};
use super::DynamoStore;
use crate::assertion::store::KeyStore;
use crate::tls::storage::CertStorage;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use std::time::Duration;

const PK: &str = "ASSERTION#keys";
const LEASE: &str = "assertion-keys";

pub struct DynamoKeyStore {
    certs: DynamoCertStorage,
}

impl DynamoKeyStore {
    /// `secret` is the store key (`encryption_key_env`) that seals the private keys.
    pub fn new(store: DynamoStore, secret: &str) -> Self {
        Self {
            certs: DynamoCertStorage::new(store, secret, Duration::from_secs(30)),
        }
    }
}

#[async_trait]
impl KeyStore for DynamoKeyStore {
    async fn load(&self) -> std::io::Result<Option<Vec<u8>>> {
        let Some(item) = self.certs.get(PK).await? else {
            return Ok(None);
        };
        let sealed = get_s(&item, "keys").ok_or_else(|| std::io::Error::other("no keys"))?;
        self.certs
            .sealer()
            .open(PK, sealed)
            .map(Some)
            .map_err(|e| std::io::Error::other(format!("{PK}: {e}")))
    }

    async fn save(&self, bytes: &[u8]) -> std::io::Result<()> {
        let sealed = self
            .certs
            .sealer()
            .seal(PK, bytes)
            .map_err(std::io::Error::other)?;
        let mut item = key(PK);
        item.insert("keys".into(), AttributeValue::S(sealed));
        item.insert("stored_at".into(), attr_n(now_secs()));
        item.insert("kind".into(), attr_s("assertion-keys"));
        self.certs.put(item).await
    }

    async fn lock(&self) -> std::io::Result<bool> {
        self.certs.acquire_lease(LEASE).await
    }

    async fn unlock(&self) -> std::io::Result<()> {
        self.certs.release_lease(LEASE).await
    }

    fn is_shared(&self) -> bool {
        true
    }
}
