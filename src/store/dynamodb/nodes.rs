//! The fleet's live nodes: one `NODES` item in the control table holding a map `nodes` of
//! node id → expiry (Unix seconds). Each node refreshes its own entry every poll interval and
//! reads the map from what that UpdateItem returns; entries not expired are the live nodes,
//! which share the tiers' limits. Expired entries are removed by whichever node sees them.

use super::items::{attr_n, key, now_secs, Item};
use super::{DynamoStore, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::time::Duration;

/// The control table's live-nodes item.
pub const NODES: &str = "NODES";

impl DynamoStore {
    /// Writes `node`'s expiry (now + `ttl`) into the `NODES` item and returns the live nodes
    /// (at least this one) from the item the write returns: one small write per call, no read.
    /// Expired entries are removed.
    pub async fn heartbeat(&self, node: &str, ttl: Duration) -> Result<u32, StoreError> {
        let now = now_secs();
        let exp = now + ttl.as_secs_f64().ceil().max(1.0) as u64;
        let item = match self.refresh(node, exp).await {
            Ok(item) => item,
            Err(_) => {
                // The item or its map is missing: make an empty map, then try again.
                self.client()
                    .update_item()
                    .table_name(self.settings().control_table())
                    .set_key(Some(key(NODES)))
                    .update_expression("SET nodes = if_not_exists(nodes, :empty)")
                    .expression_attribute_values(":empty", AttributeValue::M(HashMap::new()))
                    .send()
                    .await
                    .map_err(|e| StoreError::sdk("creating the live-nodes item", e))?;
                self.refresh(node, exp)
                    .await
                    .map_err(|e| StoreError::sdk("writing this node's heartbeat", e))?
            }
        };
        let (live, dead) = item
            .as_ref()
            .map(|i| live_and_dead(i, now))
            .unwrap_or_default();
        if !dead.is_empty() {
            self.remove_dead(&dead).await;
        }
        Ok(live.max(1))
    }

    /// Sets this node's expiry; the item as it is after the write.
    async fn refresh(
        &self,
        node: &str,
        exp: u64,
    ) -> Result<
        Option<Item>,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::update_item::UpdateItemError,
        >,
    > {
        self.client()
            .update_item()
            .table_name(self.settings().control_table())
            .set_key(Some(key(NODES)))
            .update_expression("SET nodes.#me = :exp")
            .expression_attribute_names("#me", node)
            .expression_attribute_values(":exp", attr_n(exp))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map(|out| out.attributes)
    }

    /// Removes the entries of nodes gone quiet (best effort: a failure waits for next time).
    async fn remove_dead(&self, dead: &[String]) {
        let mut req = self
            .client()
            .update_item()
            .table_name(self.settings().control_table())
            .set_key(Some(key(NODES)));
        let mut paths = Vec::new();
        for (i, id) in dead.iter().take(50).enumerate() {
            let name = format!("#d{i}");
            paths.push(format!("nodes.{name}"));
            req = req.expression_attribute_names(name, id);
        }
        if let Err(e) = req
            .update_expression(format!("REMOVE {}", paths.join(", ")))
            .send()
            .await
        {
            tracing::debug!(error = %StoreError::sdk("removing expired nodes", e), "live nodes");
        }
    }

    /// Removes `node`'s entry (a node shutting down), best effort.
    pub async fn leave(&self, node: &str) {
        let _ = self
            .client()
            .update_item()
            .table_name(self.settings().control_table())
            .set_key(Some(key(NODES)))
            .update_expression("REMOVE nodes.#me")
            .expression_attribute_names("#me", node)
            .send()
            .await;
    }
}

/// The count of entries not expired at `now`, and the ids of the expired ones.
fn live_and_dead(item: &Item, now: u64) -> (u32, Vec<String>) {
    let Some(AttributeValue::M(nodes)) = item.get("nodes") else {
        return (0, Vec::new());
    };
    let mut live = 0;
    let mut dead = Vec::new();
    for (id, v) in nodes {
        let exp: u64 = v.as_n().ok().and_then(|n| n.parse().ok()).unwrap_or(0);
        if exp > now {
            live += 1;
        } else {
            dead.push(id.clone());
        }
    }
    (live, dead)
}
