//! The DynamoDB tenant store of a fleet: the table layout, the whole-table load at start,
//! the change feed every node follows, and the conditional transaction every write commits
//! through. `docs/fleet-design.md` describes the tables; [`follow`] keeps a node current;
//! [`write`] applies admin API changes; [`certs`] shares ACME state.

pub mod assertion_keys;
pub mod certs;
mod change;
mod client;
mod follow;
mod items;
mod nodes;

mod tables;
mod write;

pub use change::apply_change;
pub use client::connect;
pub use follow::{Follower, StoreStatus};
pub use tables::{import, init};
pub use write::Commit;

use crate::config::file::TenantFile;
use crate::config::DynamoSettings;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use items::{attr_s, key};
use std::collections::HashMap;
use std::sync::Arc;

/// A failed DynamoDB call, with the SDK's full error context.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl StoreError {
    fn sdk<E: std::error::Error + 'static>(what: &str, e: E) -> Self {
        StoreError(format!(
            "{what}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        ))
    }
}

/// One tenant as stored: the record and its optimistic-concurrency version.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Shared: the records a change leaves alone are the same allocations in every list a
    /// node makes of them, which is how the reload path tells them apart.
    pub record: Arc<TenantFile>,
    pub version: u64,
}

/// What changed since a sequence number.
pub enum Changes {
    /// Nothing new.
    None,
    /// These tenants changed (`None`: deleted), up to `seq`.
    Some {
        seq: u64,
        changed: Vec<(String, Option<Stored>)>,
    },
    /// The feed cannot say (a bulk import, expired change items, a re-created table): load
    /// everything again.
    Resync,
}

/// The DynamoDB client and table names of one gateway.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    settings: DynamoSettings,
}

impl DynamoStore {
    pub fn new(client: Client, settings: DynamoSettings) -> Self {
        Self { client, settings }
    }

    pub fn settings(&self) -> &DynamoSettings {
        &self.settings
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The fleet's change sequence (0 for a new table), read consistently.
    pub async fn sequence(&self) -> Result<u64, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.settings.control_table())
            .key("pk", attr_s(items::META))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("reading the change sequence", e))?;
        Ok(out.item().and_then(|i| items::get_n(i, "seq")).unwrap_or(0))
    }

    /// Every tenant, read with a consistent parallel scan, and the sequence it reflects (read
    /// first, so changes racing the scan are applied again by the next poll).
    pub async fn load_all(&self) -> Result<(u64, Vec<Stored>), StoreError> {
        const SEGMENTS: i32 = 4;
        let seq = self.sequence().await?;
        let mut tasks = tokio::task::JoinSet::new();
        for segment in 0..SEGMENTS {
            let store = self.clone();
            tasks.spawn(async move { store.scan_segment(segment, SEGMENTS).await });
        }
        let mut all = Vec::new();
        while let Some(r) = tasks.join_next().await {
            all.extend(r.map_err(|e| StoreError(format!("scan task: {e}")))??);
        }
        all.sort_by(|a, b| a.record.id.cmp(&b.record.id));
        Ok((seq, all))
    }

    async fn scan_segment(&self, segment: i32, total: i32) -> Result<Vec<Stored>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(self.settings.tenants_table())
                .consistent_read(true)
                .segment(segment)
                .total_segments(total)
                .set_exclusive_start_key(start.take())
                .customize()
                .config_override(client::scan_timeouts(&self.settings))
                .send()
                .await
                .map_err(|e| StoreError::sdk("scanning the tenants table", e))?;
            for item in page.items() {
                out.push(items::stored_from_item(item)?);
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(out),
            }
        }
    }

    /// The tenants changed after `after`, from the change items (one per sequence number).
    pub async fn changes_since(&self, after: u64) -> Result<Changes, StoreError> {
        let seq = self.sequence().await?;
        if seq == after {
            return Ok(Changes::None);
        }
        if seq < after {
            return Ok(Changes::Resync);
        }
        let mut ids = std::collections::BTreeSet::new();
        for n in after + 1..=seq {
            let out = self
                .client
                .get_item()
                .table_name(self.settings.control_table())
                .key("pk", attr_s(&items::change_key(n)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| StoreError::sdk("reading a change item", e))?;
            let Some(item) = out.item() else {
                return Ok(Changes::Resync);
            };
            if matches!(item.get("resync"), Some(AttributeValue::Bool(true))) {
                return Ok(Changes::Resync);
            }
            if let Some(AttributeValue::L(list)) = item.get("ids") {
                ids.extend(list.iter().filter_map(|v| v.as_s().ok().cloned()));
            }
        }
        let ids: Vec<String> = ids.into_iter().collect();
        let mut found = self.get_tenants(&ids).await?;
        let changed = ids
            .into_iter()
            .map(|id| {
                let s = found.remove(&id);
                (id, s)
            })
            .collect();
        Ok(Changes::Some { seq, changed })
    }

    /// Reads tenants by id, consistently (100 keys per request, unprocessed keys retried).
    async fn get_tenants(&self, ids: &[String]) -> Result<HashMap<String, Stored>, StoreError> {
        let table = self.settings.tenants_table();
        let mut found = HashMap::new();
        for chunk in ids.chunks(100) {
            let mut keys: Vec<HashMap<String, AttributeValue>> =
                chunk.iter().map(|id| key(id)).collect();
            for _attempt in 0..8 {
                if keys.is_empty() {
                    break;
                }
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError(e.to_string()))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&table, ka)
                    .send()
                    .await
                    .map_err(|e| StoreError::sdk("reading changed tenants", e))?;
                for item in out
                    .responses()
                    .and_then(|r| r.get(&table))
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    let s = items::stored_from_item(item)?;
                    found.insert(s.record.id.clone(), s);
                }
                if let Some(left) = out.unprocessed_keys().and_then(|u| u.get(&table)) {
                    keys = left.keys().to_vec();
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
            if !keys.is_empty() {
                return Err(StoreError("reading changed tenants: throttled".into()));
            }
        }
        Ok(found)
    }
}

/// Start-up on the DynamoDB source: connect, load every tenant (retrying for up to
/// `wait`), and validate the configuration with them. Fails (the process exits) when the
/// store cannot be read or its records are invalid: there is no earlier version to serve.
pub async fn bootstrap(
    gateway: &std::path::Path,
    settings: &DynamoSettings,
    wait: std::time::Duration,
) -> Result<(crate::config::Config, std::sync::Arc<Follower>), String> {
    let started = std::time::Instant::now();
    let store = DynamoStore::new(connect(settings).await, settings.clone());
    let (seq, stored) = loop {
        match store.load_all().await {
            Ok(x) => break x,
            Err(e) if started.elapsed() < wait => {
                tracing::warn!(error = %e, "cannot load tenants from DynamoDB yet; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(e) => return Err(format!("loading tenants from DynamoDB: {e}")),
        }
    };
    let loaded = started.elapsed();
    let records: Vec<TenantFile> = stored
        .iter()
        .map(|s| TenantFile::clone(&s.record))
        .collect();
    let tenants = crate::config::file::TenantsFile { tenants: records };
    let path = gateway.to_path_buf();
    let label = settings.label();
    let config = tokio::task::spawn_blocking(move || {
        crate::priority::background();
        crate::config::load_with(&path, Some((label, tenants)))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    tracing::info!(
        tenants = stored.len(),
        sequence = seq,
        load_ms = loaded.as_millis() as u64,
        validate_ms = (started.elapsed() - loaded).as_millis() as u64,
        "tenants loaded from DynamoDB"
    );
    Ok((config, Follower::new(store, seq, stored)))
}
