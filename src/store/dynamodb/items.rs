//! Item shapes and attribute names of the DynamoDB tables (one place, so the tables in
//! `docs/fleet-design.md` and the code agree).

use super::{StoreError, Stored};
use crate::config::file::TenantFile;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// The control table's sequence item.
pub const META: &str = "META";
/// Change items live this long; a node further behind reloads everything.
pub const CHANGE_RETENTION_SECS: u64 = 24 * 3600;

pub type Item = HashMap<String, AttributeValue>;

pub fn attr_s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

pub fn attr_n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn key(pk: &str) -> Item {
    HashMap::from([("pk".to_string(), attr_s(pk))])
}

pub fn get_n(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// `CHANGE#<seq>`, zero-padded so the items sort in order in any console.
pub fn change_key(seq: u64) -> String {
    format!("CHANGE#{seq:020}")
}

/// Unix seconds now (for `at`, `expires_at` and leases).
pub fn now_secs() -> u64 {
    crate::tls::certs::unix_secs(std::time::SystemTime::now())
}

/// `CHANGE#<seq>` listing the tenants change `seq` touched, or (`ids: None`) marking a bulk
/// change after which nodes reload everything. Expires after the retention period.
pub fn change_item(seq: u64, ids: Option<&[String]>) -> Item {
    let now = now_secs();
    let mut item = key(&change_key(seq));
    match ids {
        Some(ids) => item.insert(
            "ids".into(),
            AttributeValue::L(ids.iter().map(|i| attr_s(i)).collect()),
        ),
        None => item.insert("resync".into(), AttributeValue::Bool(true)),
    };
    item.insert("at".into(), attr_n(now));
    item.insert("expires_at".into(), attr_n(now + CHANGE_RETENTION_SECS));
    item
}

/// `HOST#<kind>:<name>`: one item per subdomain and custom domain, owned by one tenant.
pub fn host_key(claim: &str) -> String {
    format!("HOST#{claim}")
}

/// The names a tenant record claims fleet-wide.
pub fn claims(t: &TenantFile) -> Vec<String> {
    let mut v = vec![format!("sub:{}", t.subdomain.trim().to_ascii_lowercase())];
    v.extend(t.custom_domains.iter().map(|d| {
        format!(
            "domain:{}",
            d.trim().trim_end_matches('.').to_ascii_lowercase()
        )
    }));
    v
}

/// The tenants-table item of a record.
pub fn tenant_item(t: &TenantFile, version: u64, seq: u64) -> Result<Item, StoreError> {
    let json = serde_json::to_string(t).map_err(|e| StoreError(e.to_string()))?;
    let status = match t.status {
        crate::config::file::TenantStatusFile::Active => "active",
        crate::config::file::TenantStatusFile::Disabled => "disabled",
    };
    Ok(HashMap::from([
        ("pk".to_string(), attr_s(&t.id)),
        ("record".to_string(), AttributeValue::S(json)),
        ("version".to_string(), attr_n(version)),
        ("seq".to_string(), attr_n(seq)),
        // Readable copies for operators browsing the table; `record` is authoritative.
        ("name".to_string(), attr_s(&t.name)),
        ("subdomain".to_string(), attr_s(&t.subdomain)),
        ("status".to_string(), attr_s(status)),
    ]))
}

pub fn stored_from_item(item: &Item) -> Result<Stored, StoreError> {
    let pk = get_s(item, "pk").unwrap_or("?");
    let record: TenantFile = get_s(item, "record")
        .ok_or_else(|| StoreError(format!("tenant item {pk}: no `record` attribute")))
        .and_then(|r| {
            serde_json::from_str(r)
                .map_err(|e| StoreError(format!("tenant item {pk}: `record`: {e}")))
        })?;
    if record.id != pk {
        return Err(StoreError(format!(
            "tenant item {pk}: the record's id is {}",
            record.id
        )));
    }
    Ok(Stored {
        record: std::sync::Arc::new(record),
        version: get_n(item, "version").unwrap_or(0),
    })
}
