//! `tenant-gateway dynamodb init` and `import`: create the three tables (idempotent), and
//! bulk-load a tenants file (validated with the gateway file first, together with what the
//! table already holds) for seeding a fleet or moving from the file store.

use super::items::{self, attr_n, attr_s};
use super::{DynamoStore, StoreError};
use crate::config::file::TenantFile;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PutRequest, ScalarAttributeType,
    TableStatus, TimeToLiveSpecification, WriteRequest,
};
use std::time::{Duration, Instant};

/// Creates the tables that do not exist and waits until all are active; returns their names.
pub async fn init(store: &DynamoStore) -> Result<Vec<String>, StoreError> {
    let s = store.settings();
    let tables = vec![s.tenants_table(), s.control_table(), s.certs_table()];
    for t in &tables {
        let created = store
            .client()
            .create_table()
            .table_name(t)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| StoreError(e.to_string()))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(|e| StoreError(e.to_string()))?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => tracing::info!(table = %t, "table created"),
            Err(e) => match e.into_service_error() {
                CreateTableError::ResourceInUseException(_) => {
                    tracing::info!(table = %t, "table exists")
                }
                other => return Err(StoreError::sdk(&format!("creating {t}"), other)),
            },
        }
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    for t in &tables {
        loop {
            let d = store
                .client()
                .describe_table()
                .table_name(t)
                .send()
                .await
                .map_err(|e| StoreError::sdk(&format!("describing {t}"), e))?;
            if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                break;
            }
            if Instant::now() > deadline {
                return Err(StoreError(format!("{t} is not active after 5 minutes")));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    // Old change items expire by themselves; a store without TTL support keeps them.
    let ttl = store
        .client()
        .update_time_to_live()
        .table_name(s.control_table())
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()
                .map_err(|e| StoreError(e.to_string()))?,
        )
        .send()
        .await;
    if let Err(e) = ttl {
        let e = StoreError::sdk("enabling TTL on the control table", e);
        if !e.0.contains("already enabled") {
            tracing::warn!(error = %e, "change items will not expire");
        }
    }
    Ok(tables)
}

/// Writes `records` (already validated together with the table's current tenants) in
/// batches, claims their names, then moves the sequence with a "resync" change so running
/// nodes reload. Returns the number written.
pub async fn import(store: &DynamoStore, records: Vec<TenantFile>) -> Result<usize, StoreError> {
    let s = store.settings();
    let seq = store.sequence().await?;
    let next = seq + 1;
    let mut requests = Vec::new();
    for t in &records {
        requests.push((s.tenants_table(), items::tenant_item(t, 1, next)?));
        for claim in items::claims(t) {
            let mut item = items::key(&items::host_key(&claim));
            item.insert("tenant".into(), attr_s(&t.id));
            requests.push((s.control_table(), item));
        }
    }
    let n = records.len();
    let mut tasks = tokio::task::JoinSet::new();
    let mut chunks: Vec<Vec<_>> = Vec::new();
    for c in requests.chunks(25) {
        chunks.push(c.to_vec());
    }
    let chunks = std::sync::Arc::new(std::sync::Mutex::new(chunks));
    for _ in 0..8 {
        let store = store.clone();
        let chunks = chunks.clone();
        tasks.spawn(async move {
            loop {
                let next = chunks.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let Some(chunk) = next else {
                    return Ok::<_, StoreError>(());
                };
                write_batch(&store, chunk).await?;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| StoreError(format!("import task: {e}")))??;
    }
    let change = items::change_item(next, None);
    store
        .client()
        .put_item()
        .table_name(s.control_table())
        .set_item(Some(change))
        .send()
        .await
        .map_err(|e| StoreError::sdk("writing the import's change item", e))?;
    store
        .client()
        .put_item()
        .table_name(s.control_table())
        .set_item(Some({
            let mut m = items::key(items::META);
            m.insert("seq".into(), attr_n(next));
            m
        }))
        .condition_expression("attribute_not_exists(pk) OR #seq = :seq")
        .expression_attribute_names("#seq", "seq")
        .expression_attribute_values(":seq", attr_n(seq))
        .send()
        .await
        .map_err(|e| {
            StoreError::sdk(
                "moving the change sequence (was the table written during the import?)",
                e,
            )
        })?;
    Ok(n)
}

async fn write_batch(
    store: &DynamoStore,
    chunk: Vec<(String, items::Item)>,
) -> Result<(), StoreError> {
    let mut pending: std::collections::HashMap<String, Vec<WriteRequest>> = Default::default();
    for (table, item) in chunk {
        let put = PutRequest::builder()
            .set_item(Some(item))
            .build()
            .map_err(|e| StoreError(e.to_string()))?;
        pending
            .entry(table)
            .or_default()
            .push(WriteRequest::builder().put_request(put).build());
    }
    for attempt in 0..10u32 {
        if pending.is_empty() {
            return Ok(());
        }
        let out = store
            .client()
            .batch_write_item()
            .set_request_items(Some(std::mem::take(&mut pending)))
            .send()
            .await
            .map_err(|e| StoreError::sdk("writing tenants", e))?;
        if let Some(left) = out.unprocessed_items() {
            pending = left.clone();
            pending.retain(|_, v| !v.is_empty());
        }
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
        }
    }
    Err(StoreError(
        "writing tenants: still throttled after 10 attempts".into(),
    ))
}
