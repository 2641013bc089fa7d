//! One admin change as one DynamoDB transaction: the sequence item moves from the sequence
//! the change was validated against to the next one (so writes from different nodes are
//! serialised and none is lost), a change item lists the tenants it touched (the feed the
//! other nodes follow), tenant items are put or deleted with version conditions, and the
//! subdomain and custom-domain items are claimed with `attribute_not_exists` (a name taken by
//! another tenant fails the whole transaction: 409).

use super::items::{self, attr_n, attr_s, Item};
use super::{DynamoStore, StoreError, Stored};
use crate::config::file::TenantFile;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The difference between the records a node holds and the records after a change.
#[derive(Debug, Default)]
pub struct Commit {
    pub expected_seq: u64,
    /// New or changed records with the version they replace (`None`: new).
    pub puts: Vec<(Arc<TenantFile>, Option<u64>)>,
    /// Removed tenants and their versions.
    pub deletes: Vec<(String, u64)>,
    /// Name claims: (claim, new owner, old owner).
    pub hosts: Vec<(String, Option<String>, Option<String>)>,
}

/// Why a commit did not happen.
#[derive(Debug)]
pub enum CommitError {
    /// Another node wrote first: catch up and try again.
    Stale,
    /// No answer (timeout, connection lost): the transaction may or may not have committed.
    Unknown(StoreError),
    /// A subdomain or domain belongs to another tenant.
    HostTaken(String),
    Store(StoreError),
}

impl Commit {
    pub fn diff(
        expected_seq: u64,
        before: &BTreeMap<String, Stored>,
        after: &[Arc<TenantFile>],
    ) -> Self {
        let mut c = Commit {
            expected_seq,
            ..Default::default()
        };
        let mut owners: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
        let mut seen = std::collections::HashSet::new();
        for t in after {
            seen.insert(t.id.as_str());
            let old = before.get(&t.id);
            if old.is_some_and(|o| Arc::ptr_eq(&o.record, t) || o.record == *t) {
                continue;
            }
            for claim in items::claims(t) {
                owners.entry(claim).or_default().0 = Some(t.id.clone());
            }
            if let Some(o) = old {
                for claim in items::claims(&o.record) {
                    owners.entry(claim).or_default().1 = Some(t.id.clone());
                }
            }
            c.puts.push((t.clone(), old.map(|o| o.version)));
        }
        for (id, o) in before {
            if seen.contains(id.as_str()) {
                continue;
            }
            for claim in items::claims(&o.record) {
                owners.entry(claim).or_default().1 = Some(id.clone());
            }
            c.deletes.push((id.clone(), o.version));
        }
        c.hosts = owners
            .into_iter()
            .filter(|(_, (new, old))| new != old)
            .map(|(claim, (new, old))| (claim, new, old))
            .collect();
        c
    }

    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }

    /// The ids the change item lists.
    fn ids(&self) -> Vec<String> {
        let mut v: Vec<String> = self.puts.iter().map(|(t, _)| t.id.clone()).collect();
        v.extend(self.deletes.iter().map(|(id, _)| id.clone()));
        v
    }
}

fn values(pairs: &[(&str, aws_sdk_dynamodb::types::AttributeValue)]) -> Item {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect::<HashMap<_, _>>()
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, CommitError> {
    r.map_err(|e| CommitError::Store(StoreError(format!("building the transaction: {e}"))))
}

impl DynamoStore {
    /// Commits `c` atomically; returns the new fleet sequence.
    pub async fn commit(&self, c: &Commit) -> Result<u64, CommitError> {
        let control = self.settings.control_table();
        let tenants = self.settings.tenants_table();
        let next = c.expected_seq + 1;
        // (item, the host claim it is, if any): cancellation reasons come back in this order.
        let mut ops: Vec<(TransactWriteItem, Option<String>)> = Vec::new();
        let meta_condition = if c.expected_seq == 0 {
            "attribute_not_exists(pk) OR #seq = :expected"
        } else {
            "#seq = :expected"
        };
        let meta = built(
            Update::builder()
                .table_name(&control)
                .set_key(Some(items::key(items::META)))
                .update_expression("SET #seq = :next")
                .condition_expression(meta_condition)
                .expression_attribute_names("#seq", "seq")
                .set_expression_attribute_values(Some(values(&[
                    (":expected", attr_n(c.expected_seq)),
                    (":next", attr_n(next)),
                ])))
                .build(),
        )?;
        ops.push((TransactWriteItem::builder().update(meta).build(), None));
        let change = items::change_item(next, Some(&c.ids()));
        let put = built(
            Put::builder()
                .table_name(&control)
                .set_item(Some(change))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        ops.push((TransactWriteItem::builder().put(put).build(), None));
        for (t, prev) in &c.puts {
            let item = items::tenant_item(t, prev.map_or(1, |v| v + 1), next)
                .map_err(CommitError::Store)?;
            let mut b = Put::builder().table_name(&tenants).set_item(Some(item));
            b = match prev {
                None => b.condition_expression("attribute_not_exists(pk)"),
                Some(v) => b
                    .condition_expression("#v = :v")
                    .expression_attribute_names("#v", "version")
                    .expression_attribute_values(":v", attr_n(*v)),
            };
            ops.push((
                TransactWriteItem::builder().put(built(b.build())?).build(),
                None,
            ));
        }
        for (id, v) in &c.deletes {
            let d = built(
                Delete::builder()
                    .table_name(&tenants)
                    .set_key(Some(items::key(id)))
                    .condition_expression("#v = :v")
                    .expression_attribute_names("#v", "version")
                    .expression_attribute_values(":v", attr_n(*v))
                    .build(),
            )?;
            ops.push((TransactWriteItem::builder().delete(d).build(), None));
        }
        for (claim, new, old) in &c.hosts {
            let pk = items::host_key(claim);
            let op = match (new, old) {
                (Some(owner), old) => {
                    let mut item = items::key(&pk);
                    item.insert("tenant".into(), attr_s(owner));
                    let mut vals = values(&[(":owner", attr_s(owner))]);
                    let mut cond = "attribute_not_exists(pk) OR #t = :owner".to_string();
                    if let Some(o) = old {
                        vals.insert(":old".into(), attr_s(o));
                        cond.push_str(" OR #t = :old");
                    }
                    let p = built(
                        Put::builder()
                            .table_name(&control)
                            .set_item(Some(item))
                            .condition_expression(cond)
                            .expression_attribute_names("#t", "tenant")
                            .set_expression_attribute_values(Some(vals))
                            .build(),
                    )?;
                    TransactWriteItem::builder().put(p).build()
                }
                (None, Some(old)) => {
                    let d = built(
                        Delete::builder()
                            .table_name(&control)
                            .set_key(Some(items::key(&pk)))
                            .condition_expression("attribute_not_exists(pk) OR #t = :old")
                            .expression_attribute_names("#t", "tenant")
                            .expression_attribute_values(":old", attr_s(old))
                            .build(),
                    )?;
                    TransactWriteItem::builder().delete(d).build()
                }
                (None, None) => continue,
            };
            ops.push((op, new.as_ref().map(|_| claim.clone())));
        }
        if ops.len() > 100 {
            return Err(CommitError::Store(StoreError(format!(
                "a change of {} items is larger than one DynamoDB transaction (100)",
                ops.len()
            ))));
        }
        let claims: Vec<Option<String>> = ops.iter().map(|(_, c)| c.clone()).collect();
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(ops.into_iter().map(|(op, _)| op).collect()))
            .customize()
            .config_override(super::client::write_timeouts(&self.settings))
            .send()
            .await;
        match result {
            Ok(_) => Ok(next),
            Err(e) => match e.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(t) => {
                    let failed = |i: usize| {
                        t.cancellation_reasons()
                            .get(i)
                            .and_then(|r| r.code())
                            .is_some_and(|c| c == "ConditionalCheckFailed")
                    };
                    if failed(0) {
                        return Err(CommitError::Stale);
                    }
                    match claims
                        .iter()
                        .enumerate()
                        .find_map(|(i, c)| c.as_ref().filter(|_| failed(i)))
                    {
                        Some(claim) => Err(CommitError::HostTaken(claim.clone())),
                        // No reasons (or a version conflict): catch up and retry.
                        None => Err(CommitError::Stale),
                    }
                }
                other if other.meta().code().is_none() => Err(CommitError::Unknown(
                    StoreError::sdk("writing the change", other),
                )),
                other => Err(CommitError::Store(StoreError::sdk(
                    "writing the change",
                    other,
                ))),
            },
        }
    }
}

#[cfg(test)]
#[path = "write_tests.rs"]
mod tests;
