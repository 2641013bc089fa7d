//! Keeps one node current with the fleet: holds the tenant records and the sequence they
//! reflect, polls the sequence item every `poll_interval` (one consistent GetItem), reads only
//! the tenants named by new change items, and hands the records to the reload path. While
//! DynamoDB cannot be reached the node keeps its last version, retries with a capped backoff,
//! reports itself degraded, and catches up by itself when the store returns. The same loop
//! writes this node's heartbeat into the `NODES` item and reads the live nodes from it: the
//! tiers' limits are shared by them (see [`super::nodes`]); while the store cannot be reached
//! the node keeps its last share.

use super::{Changes, DynamoStore, StoreError, Stored};
use crate::config::file::TenantFile;
use crate::metrics::METRICS;
use crate::store::{ReloadOutcome, Reloader};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// The store's health as `/readyz` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoreStatus {
    pub source: &'static str,
    pub healthy: bool,
    pub sequence: u64,
    pub tenants: usize,
    pub last_error: Option<String>,
    /// Set when the store's records failed validation (the previous version stays in service).
    pub rejected: Option<String>,
    #[serde(with = "humantime_serde")]
    pub last_success: Option<SystemTime>,
}

/// The records a node holds and the fleet sequence they reflect.
pub(super) struct Held {
    pub seq: u64,
    pub records: BTreeMap<String, Stored>,
}

pub struct Follower {
    store: DynamoStore,
    held: tokio::sync::Mutex<Held>,
    /// The records as the reload path reads them (each shared with `held`: a change leaves
    /// the others the same allocations).
    view: Arc<ArcSwap<Vec<Arc<TenantFile>>>>,
    status: Mutex<StoreStatus>,
    reloader: OnceLock<Arc<Reloader>>,
    /// This node in the `NODES` item: `<HOSTNAME>/<uuid>`, one per process.
    node: String,
    /// The limits whose share follows the live nodes.
    limits: OnceLock<Arc<crate::limits::Limits>>,
}

impl Follower {
    /// A follower starting from a full load (`seq`, `records`).
    pub fn new(store: DynamoStore, seq: u64, records: Vec<Stored>) -> Arc<Self> {
        let view = Arc::new(ArcSwap::from_pointee(
            records.iter().map(|s| s.record.clone()).collect(),
        ));
        let status = StoreStatus {
            source: "dynamodb",
            healthy: true,
            sequence: seq,
            tenants: records.len(),
            last_error: None,
            rejected: None,
            last_success: Some(SystemTime::now()),
        };
        METRICS.store_up.set(1);
        METRICS.store_sequence.set(seq as i64);
        Arc::new(Self {
            store,
            held: tokio::sync::Mutex::new(Held {
                seq,
                records: records
                    .into_iter()
                    .map(|s| (s.record.id.clone(), s))
                    .collect(),
            }),
            view,
            status: Mutex::new(status),
            reloader: OnceLock::new(),
            node: format!(
                "{}/{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into()),
                uuid::Uuid::new_v4()
            ),
            limits: OnceLock::new(),
        })
    }

    pub fn store(&self) -> &DynamoStore {
        &self.store
    }

    /// What the reload path validates: the held records under the store's name.
    pub fn records_provider(&self) -> crate::store::reload::RecordsProvider {
        let view = self.view.clone();
        let label = self.store.settings().label();
        Box::new(move || (label.clone(), view.load_full()))
    }

    /// Connects the reload path (built after the follower, since it reads the records).
    pub fn set_reloader(&self, reloader: Arc<Reloader>) {
        let _ = self.reloader.set(reloader);
    }

    /// Connects the limits, shared from now on by the live nodes of the fleet.
    pub fn set_limits(&self, limits: Arc<crate::limits::Limits>) {
        let _ = self.limits.set(limits);
    }

    /// This node's id in the `NODES` item.
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// Writes this node's heartbeat and reads the live nodes; on success the limits are
    /// shared by them, on failure the last share stays.
    pub async fn heartbeat(&self) {
        let ttl = self.store.settings().poll_interval * 3;
        match self.store.heartbeat(&self.node, ttl).await {
            Ok(live) => {
                METRICS.fleet_nodes.set(i64::from(live));
                if let Some(limits) = self.limits.get() {
                    if limits.live_nodes() != live {
                        tracing::info!(live, "live gateway nodes changed: limits shared by them");
                    }
                    limits.set_live_nodes(live);
                }
            }
            Err(e) => {
                METRICS.store_errors.with_label_values(&["heartbeat"]).inc();
                tracing::debug!(error = %e, "heartbeat failed: keeping the last limit share");
            }
        }
    }

    pub fn status(&self) -> StoreStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The held records, in id order.
    pub fn records(&self) -> Vec<Arc<TenantFile>> {
        self.view.load().as_ref().clone()
    }

    pub(super) async fn lock(&self) -> tokio::sync::MutexGuard<'_, Held> {
        self.held.lock().await
    }

    /// Catches up with the store now; `Ok(true)` when something changed.
    pub async fn sync(&self, trigger: &str) -> Result<bool, StoreError> {
        let mut held = self.held.lock().await;
        self.sync_locked(&mut held, trigger).await
    }

    pub(super) async fn sync_locked(
        &self,
        held: &mut Held,
        trigger: &str,
    ) -> Result<bool, StoreError> {
        let result = self.catch_up(held).await;
        match &result {
            Ok(_) => self.mark_healthy(held),
            Err(e) => self.mark_failed("poll", e),
        }
        if let Ok(true) = result {
            self.publish(held, trigger).await;
        }
        result
    }

    async fn catch_up(&self, held: &mut Held) -> Result<bool, StoreError> {
        match self.store.changes_since(held.seq).await? {
            Changes::None => Ok(false),
            Changes::Some { seq, changed } => {
                for (id, s) in changed {
                    match s {
                        Some(s) => held.records.insert(id, s),
                        None => held.records.remove(&id),
                    };
                }
                held.seq = seq;
                Ok(true)
            }
            Changes::Resync => {
                let (seq, all) = self.store.load_all().await?;
                tracing::info!(seq, tenants = all.len(), "tenant store reloaded in full");
                held.records = all.into_iter().map(|s| (s.record.id.clone(), s)).collect();
                held.seq = seq;
                Ok(true)
            }
        }
    }

    /// The reload path, once connected.
    pub(super) fn reloader(&self) -> Option<Arc<Reloader>> {
        self.reloader.get().cloned()
    }

    /// The configuration generation in service.
    pub fn generation(&self) -> u64 {
        self.reloader.get().map_or(0, |r| r.generation())
    }

    /// Makes `held` the records the reload path sees, and reloads. Records that fail
    /// validation (written around the gateway) leave the running version in service.
    pub(super) async fn publish(&self, held: &Held, trigger: &str) -> ReloadOutcome {
        self.publish_validated(held, trigger, None).await
    }

    /// Like [`Follower::publish`], with the configuration already validated for exactly
    /// `held` (an admin write), so it is not validated again.
    pub(super) async fn publish_validated(
        &self,
        held: &Held,
        trigger: &str,
        validated: Option<crate::store::Validated>,
    ) -> ReloadOutcome {
        self.view.store(Arc::new(
            held.records.values().map(|s| s.record.clone()).collect(),
        ));
        METRICS.store_sequence.set(held.seq as i64);
        {
            let mut st = self.status.lock().unwrap_or_else(|e| e.into_inner());
            st.sequence = held.seq;
            st.tenants = held.records.len();
        }
        let Some(reloader) = self.reloader.get() else {
            return ReloadOutcome::Unchanged { generation: 0 };
        };
        let (outcome, rejected) = match reloader.reload_with(trigger, validated).await {
            Ok(o) => (o, None),
            Err(e) => (
                ReloadOutcome::Unchanged {
                    generation: reloader.generation(),
                },
                Some(e.to_string()),
            ),
        };
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rejected = rejected;
        outcome
    }

    fn mark_healthy(&self, held: &Held) {
        METRICS.store_up.set(1);
        let mut st = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if !st.healthy {
            tracing::info!("tenant store reachable again");
        }
        st.healthy = true;
        st.last_error = None;
        st.sequence = held.seq;
        st.tenants = held.records.len();
        st.last_success = Some(SystemTime::now());
    }

    pub(super) fn mark_failed(&self, operation: &str, e: &StoreError) {
        METRICS.store_up.set(0);
        METRICS.store_errors.with_label_values(&[operation]).inc();
        let mut st = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if st.healthy {
            tracing::warn!(error = %e, "tenant store unreachable: serving the last known tenants");
        }
        st.healthy = false;
        st.last_error = Some(e.to_string());
    }
}

/// The poll loop.
#[async_trait]
impl BackgroundService for Follower {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let every = self.store.settings().poll_interval;
        let max_backoff = Duration::from_secs(5).max(every);
        let mut delay = every;
        self.heartbeat().await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => {
                    self.store.leave(&self.node).await;
                    return;
                }
            }
            delay = match self.sync("dynamodb").await {
                Ok(_) => every,
                Err(_) => (delay * 2).min(max_backoff),
            };
            self.heartbeat().await;
        }
    }
}
