//! One configuration version as the request path uses it: a [`Runtime`] is a complete,
//! validated version (tenant snapshot, pools, session codec), and the [`RuntimeHandle`]
//! publishes it with one atomic swap. Requests load it once and finish on it.

use crate::auth::SessionCodec;
use crate::config::RoutingConfig;
use crate::metrics::METRICS;
use crate::tenant::Snapshot;
use crate::upstream::PoolSet;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::SystemTime;

/// One configuration version as the request path uses it.
pub struct Runtime {
    pub generation: u64,
    pub routing: RoutingConfig,
    pub snapshot: Snapshot,
    pub pools: Arc<PoolSet>,
    /// Encrypts session cookies; present when `auth.session_key` is set.
    pub session_codec: Option<Arc<SessionCodec>>,
    pub loaded_at: SystemTime,
}

impl Runtime {
    /// Builds a version, reusing unchanged pools (and their health state) from `previous`.
    pub fn build(routing: RoutingConfig, previous: Option<&Runtime>, generation: u64) -> Self {
        let pools = PoolSet::build(&routing.pools, previous.map(|p| &*p.pools));
        let snapshot = Snapshot::build(&routing, |k| pools.index_of(k));
        let session_codec = match (&routing.auth.session_key, previous) {
            // Key derivation is not free: keep the codec when the key did not change.
            (Some(k), Some(p)) if p.routing.auth.session_key.as_ref() == Some(k) => {
                p.session_codec.clone()
            }
            (Some(k), _) => SessionCodec::new(k).map(Arc::new),
            (None, _) => None,
        };
        Runtime {
            session_codec,
            generation,
            routing,
            snapshot,
            pools: Arc::new(pools),
            loaded_at: SystemTime::now(),
        }
    }
}

/// The current [`Runtime`], shared by the proxy, the admin API and background services.
pub type RuntimeHandle = Arc<ArcSwap<Runtime>>;

/// Publishes `runtime` and updates the gauges that describe it.
pub fn publish(handle: &ArcSwap<Runtime>, runtime: Runtime) {
    record_gauges(&runtime);
    handle.store(Arc::new(runtime));
}

/// Sets the gauges that describe a configuration version.
pub fn record_gauges(runtime: &Runtime) {
    let counts = runtime.snapshot.counts();
    METRICS
        .tenants
        .with_label_values(&["active"])
        .set(counts.active as i64);
    METRICS
        .tenants
        .with_label_values(&["disabled"])
        .set(counts.disabled as i64);
    METRICS.config_generation.set(runtime.generation as i64);
}
