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

/// A retired version's tenants are freed on the reclaim thread, not by whichever request
/// happened to hold it last.
impl Drop for Runtime {
    fn drop(&mut self) {
        let snapshot = std::mem::take(&mut self.snapshot);
        let tenants = std::mem::take(&mut self.routing.tenants);
        crate::reclaim::later((snapshot, tenants));
    }
}

impl Runtime {
    /// Whether [`Runtime::update`] can make `routing`'s version from `previous` by rebuilding
    /// only changed tenants: the same settings and pool names.
    pub fn can_update(routing: &RoutingConfig, previous: &Runtime) -> bool {
        routing.pools.keys().eq(previous.routing.pools.keys())
            && routing.same_settings(&previous.routing)
    }

    /// The version of `routing` made from `previous` when only the tenants in `changed`
    /// differ: unchanged tenants are shared (see [`Snapshot::update`]). Anything else that
    /// differs, or a changed set of pool names, makes it a full [`Runtime::build`].
    pub fn update(
        routing: RoutingConfig,
        previous: &Runtime,
        generation: u64,
        changed: &std::collections::HashSet<uuid::Uuid>,
    ) -> Self {
        if !Self::can_update(&routing, previous) {
            return Self::build(routing, Some(previous), generation);
        }
        let pools = PoolSet::build(&routing.pools, Some(&previous.pools));
        let snapshot = previous
            .snapshot
            .update(&previous.routing, &routing, changed, |k| pools.index_of(k));
        Runtime {
            session_codec: previous.session_codec.clone(),
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
