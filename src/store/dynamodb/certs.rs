//! ACME state shared by a fleet, in the certs table: certificates (`CERT#<host>`: the chain,
//! and the private key encrypted with the configured key), the account (`ACCOUNT`,
//! encrypted), order leases (`LEASE#<host>`: a conditional write with an expiry, so one
//! node orders a host while the others wait and load its result), and pending HTTP-01
//! answers (`CHALLENGE#<token>`), so the CA may reach any node. Each certificate item also
//! carries its metadata (`meta`: names and validity, JSON), so a node indexes the table
//! without reading a key and loads each certificate at its first handshake.

use super::items::{attr_n, attr_s, get_n, get_s, key, now_secs, Item};
use super::{DynamoStore, StoreError};
use crate::seal::Sealer;
use crate::tls::storage::{CertMeta, CertStorage, StoredCert};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use std::time::Duration;

pub struct DynamoCertStorage {
    store: DynamoStore,
    table: String,
    sealer: Sealer,
    /// This node, as lease owner.
    owner: String,
    lease: Duration,
}

fn io(e: StoreError) -> std::io::Error {
    std::io::Error::other(e.0)
}

impl DynamoCertStorage {
    /// `secret` encrypts keys at rest; `lease` bounds how long a crashed node blocks orders.
    pub fn new(store: DynamoStore, secret: &str, lease: Duration) -> Self {
        Self {
            table: store.settings().certs_table(),
            store,
            sealer: Sealer::new(secret),
            owner: format!(
                "{}/{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into()),
                uuid::Uuid::new_v4()
            ),
            lease,
        }
    }

    pub(super) async fn get(&self, pk: &str) -> std::io::Result<Option<Item>> {
        let out = self
            .store
            .client()
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| io(StoreError::sdk(&format!("reading {pk}"), e)))?;
        Ok(out.item().cloned())
    }

    pub(super) async fn put(&self, item: Item) -> std::io::Result<()> {
        self.store
            .client()
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| io(StoreError::sdk("writing the certs table", e)))?;
        Ok(())
    }

    async fn delete(&self, pk: &str) -> std::io::Result<()> {
        self.store
            .client()
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk)))
            .send()
            .await
            .map_err(|e| io(StoreError::sdk(&format!("deleting {pk}"), e)))?;
        Ok(())
    }

    /// A certificate stored before items carried their metadata: read and parsed once, and
    /// given its `meta` so later indexing reads no key.
    async fn index_legacy(&self, host: &str) -> std::io::Result<Option<CertMeta>> {
        let Some(stored) = self.load_cert(host).await? else {
            return Ok(None);
        };
        let Some(meta) = meta_json(&stored) else {
            return Err(std::io::Error::other(
                "the stored certificate does not parse",
            ));
        };
        self.store
            .client()
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(&format!("CERT#{host}"))))
            .update_expression("SET meta = :m")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":m", attr_s(&meta))
            .send()
            .await
            .map_err(|e| io(StoreError::sdk("indexing a stored certificate", e)))?;
        Ok(serde_json::from_str(&meta).ok())
    }

    pub(super) fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    fn cert_from(&self, item: &Item) -> std::io::Result<StoredCert> {
        let pk = get_s(item, "pk").unwrap_or_default();
        let host = pk.strip_prefix("CERT#").unwrap_or(pk).to_string();
        let chain = get_s(item, "chain").ok_or_else(|| std::io::Error::other("no chain"))?;
        let sealed = get_s(item, "key").ok_or_else(|| std::io::Error::other("no key"))?;
        let key_pem = self
            .sealer
            .open(pk, sealed)
            .map_err(|e| std::io::Error::other(format!("{pk}: {e}")))?;
        Ok(StoredCert {
            host,
            chain_pem: chain.as_bytes().to_vec(),
            key_pem,
        })
    }
}

/// The index entry of a certificate, as JSON; `None` when it does not parse.
fn meta_json(cert: &StoredCert) -> Option<String> {
    let c = crate::tls::certs::LoadedCert::from_pem(
        &cert.chain_pem,
        &cert.key_pem,
        crate::tls::certs::Source::Acme,
    )
    .ok()?;
    serde_json::to_string(&CertMeta::of(&c)).ok()
}

#[async_trait]
impl CertStorage for DynamoCertStorage {
    async fn list_meta(&self) -> std::io::Result<Vec<(String, CertMeta)>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .store
                .client()
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :p)")
                .projection_expression("pk, meta")
                .expression_attribute_values(":p", attr_s("CERT#"))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| io(StoreError::sdk("scanning the certs table", e)))?;
            for item in page.items() {
                let host = get_s(item, "pk").and_then(|pk| pk.strip_prefix("CERT#"));
                let Some(host) = host else { continue };
                let meta = get_s(item, "meta").and_then(|m| serde_json::from_str(m).ok());
                match meta {
                    Some(m) => out.push((host.to_string(), m)),
                    None => match self.index_legacy(host).await {
                        Ok(Some(m)) => out.push((host.to_string(), m)),
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(host = %host, error = %e, "skipping a stored certificate")
                        }
                    },
                }
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(out),
            }
        }
    }

    async fn save_cert(&self, cert: &StoredCert) -> std::io::Result<()> {
        let pk = format!("CERT#{}", cert.host);
        let chain = String::from_utf8(cert.chain_pem.clone()).map_err(std::io::Error::other)?;
        let sealed = self
            .sealer
            .seal(&pk, &cert.key_pem)
            .map_err(std::io::Error::other)?;
        let mut item = key(&pk);
        item.insert("chain".into(), AttributeValue::S(chain));
        item.insert("key".into(), AttributeValue::S(sealed));
        item.insert("stored_by".into(), attr_s(&self.owner));
        item.insert("stored_at".into(), attr_n(now_secs()));
        if let Some(meta) = meta_json(cert) {
            item.insert("meta".into(), AttributeValue::S(meta));
        }
        self.put(item).await
    }

    async fn load_account(&self) -> std::io::Result<Option<Vec<u8>>> {
        let Some(item) = self.get("ACCOUNT").await? else {
            return Ok(None);
        };
        match get_s(&item, "credentials") {
            Some("") | None => Ok(None),
            Some(sealed) => self
                .sealer
                .open("ACCOUNT", sealed)
                .map(Some)
                .map_err(std::io::Error::other),
        }
    }

    async fn save_account(&self, credentials: &[u8]) -> std::io::Result<()> {
        if credentials.is_empty() {
            return self.delete("ACCOUNT").await;
        }
        let sealed = self
            .sealer
            .seal("ACCOUNT", credentials)
            .map_err(std::io::Error::other)?;
        let mut item = key("ACCOUNT");
        item.insert("credentials".into(), AttributeValue::S(sealed));
        self.put(item).await
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn load_cert(&self, host: &str) -> std::io::Result<Option<StoredCert>> {
        match self.get(&format!("CERT#{host}")).await? {
            Some(item) => self.cert_from(&item).map(Some),
            None => Ok(None),
        }
    }

    async fn acquire_lease(&self, host: &str) -> std::io::Result<bool> {
        let mut item = key(&format!("LEASE#{host}"));
        item.insert("owner".into(), attr_s(&self.owner));
        item.insert(
            "expires_at".into(),
            attr_n(now_secs() + self.lease.as_secs().max(1)),
        );
        let r = self
            .store
            .client()
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now OR #o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":now", attr_n(now_secs()))
            .expression_attribute_values(":me", attr_s(&self.owner))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(_) => {
                    Ok(false)
                }
                other => Err(io(StoreError::sdk("taking an order lease", other))),
            },
        }
    }

    async fn release_lease(&self, host: &str) -> std::io::Result<()> {
        let r = self
            .store
            .client()
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(&format!("LEASE#{host}"))))
            .condition_expression("#o = :me")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":me", attr_s(&self.owner))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                // Expired and taken over by another node: nothing to release.
                aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(_) => Ok(()),
                other => Err(io(StoreError::sdk("releasing an order lease", other))),
            },
        }
    }

    async fn put_challenge(&self, token: &str, key_authorization: &str) -> std::io::Result<()> {
        let mut item = key(&format!("CHALLENGE#{token}"));
        item.insert("answer".into(), attr_s(key_authorization));
        item.insert("expires_at".into(), attr_n(now_secs() + 600));
        self.put(item).await
    }

    async fn remove_challenge(&self, token: &str) -> std::io::Result<()> {
        self.delete(&format!("CHALLENGE#{token}")).await
    }

    async fn get_challenge(&self, token: &str) -> std::io::Result<Option<String>> {
        Ok(self
            .get(&format!("CHALLENGE#{token}"))
            .await?
            .filter(|i| get_n(i, "expires_at").is_some_and(|e| e > now_secs()))
            .and_then(|i| get_s(&i, "answer").map(str::to_string)))
    }
}

/// Copies the certificates a single node stored as files (`<certs_dir>/acme/`) into the
/// fleet's certs table, keys sealed, a few writes at a time: what moving from files to a
/// fleet keeps. Returns how many were copied; one that does not parse is skipped and named.
pub async fn import_certs(
    storage: std::sync::Arc<DynamoCertStorage>,
    files: crate::tls::storage::FileStorage,
) -> Result<usize, String> {
    const PARALLEL: usize = 16;
    let hosts = files.list_meta().await.map_err(|e| e.to_string())?;
    let mut running = tokio::task::JoinSet::new();
    let mut copied = 0;
    for (host, _) in hosts {
        if running.len() >= PARALLEL {
            copied += joined(running.join_next().await)?;
        }
        let (storage, files) = (storage.clone(), files.clone());
        running.spawn(async move {
            let stored = files
                .load_cert(&host)
                .await
                .map_err(|e| format!("{host}: {e}"))?
                .ok_or_else(|| format!("{host}: its files are gone"))?;
            storage
                .save_cert(&stored)
                .await
                .map_err(|e| format!("{host}: {e}"))
        });
    }
    while let Some(r) = running.join_next().await {
        copied += joined(Some(r))?;
    }
    Ok(copied)
}

fn joined(r: Option<Result<Result<(), String>, tokio::task::JoinError>>) -> Result<usize, String> {
    match r {
        Some(Ok(Ok(()))) => Ok(1),
        Some(Ok(Err(e))) => Err(e),
        Some(Err(e)) => Err(e.to_string()),
        None => Ok(0),
    }
}
