//! The active health-check loop: one background task for every pool of the current
//! configuration, each pool checked at its own interval. Pools swapped in by a reload are
//! picked up on the next tick; results feed `gateway_backend_up`.

use super::PoolSet;
use crate::metrics::METRICS;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs health checks for whatever pools `pools()` returns at each tick.
pub struct HealthChecker<F> {
    pools: F,
    tick: Duration,
}

impl<F> HealthChecker<F>
where
    F: Fn() -> Arc<PoolSet> + Send + Sync,
{
    pub fn new(pools: F) -> Self {
        Self {
            pools,
            tick: Duration::from_millis(250),
        }
    }

    async fn run_due(&self) {
        let set = (self.pools)();
        let now = Instant::now();
        let mut due = Vec::new();
        for pool in set.iter() {
            let Some(hc) = &pool.spec().health_check else {
                continue;
            };
            let mut last = pool.last_check.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_none_or(|t| now.duration_since(t) >= hc.interval) {
                *last = Some(now);
                due.push(pool.clone());
            }
        }
        let checks = due.into_iter().map(|pool| async move {
            pool.check_health().await;
            for b in pool.backends() {
                METRICS
                    .backend_up
                    .with_label_values(&[pool.name(), &b.addr.to_string()])
                    .set(i64::from(b.healthy));
            }
        });
        futures_join_all(checks).await;
    }
}

async fn futures_join_all<I>(futs: I)
where
    I: IntoIterator,
    I::Item: std::future::Future<Output = ()> + Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    for h in handles {
        let _ = h.await;
    }
}

#[async_trait]
impl<F> BackgroundService for HealthChecker<F>
where
    F: Fn() -> Arc<PoolSet> + Send + Sync,
{
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut interval = tokio::time::interval(self.tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => self.run_due().await,
                _ = shutdown.changed() => return,
            }
        }
    }
}
