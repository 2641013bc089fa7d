//! Backend pools: load balancing (round robin, or consistent hashing by tenant), health state,
//! and the peer settings (timeouts, keepalive) used to reach a backend. Built on
//! `pingora-load-balancing`; a pool whose settings did not change survives a reload with its
//! health state intact.

mod health;
mod pool;

pub use health::HealthChecker;
pub use pool::{BackendStatus, Pool};

use crate::config::PoolSpec;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// All pools of one configuration version, addressed by index from route tables.
#[derive(Default)]
pub struct PoolSet {
    pools: Vec<Arc<Pool>>,
    index: HashMap<String, usize>,
}

impl PoolSet {
    /// Builds the pools, reusing those of `previous` whose settings are unchanged.
    pub fn build(specs: &BTreeMap<String, PoolSpec>, previous: Option<&PoolSet>) -> Self {
        let mut set = PoolSet::default();
        for (name, spec) in specs {
            let reused = previous
                .and_then(|p| p.get_by_name(name))
                .filter(|p| p.spec() == spec)
                .cloned();
            let pool = reused.unwrap_or_else(|| Arc::new(Pool::new(name, spec.clone())));
            set.index.insert(name.clone(), set.pools.len());
            set.pools.push(pool);
        }
        set
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn get(&self, index: usize) -> Option<&Arc<Pool>> {
        self.pools.get(index)
    }

    pub fn get_by_name(&self, name: &str) -> Option<&Arc<Pool>> {
        self.index_of(name).and_then(|i| self.pools.get(i))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Pool>> {
        self.pools.iter()
    }
}
