//! Background upkeep of the auth caches: JWKS older than `auth.jwks_refresh_interval` are
//! refetched (the last good keys stay when the IdP is down), and key age is reported.

use super::Authenticator;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::Duration;

/// Refreshes JWKS on the interval the current configuration names.
pub struct KeyRefresher<F> {
    auth: Arc<Authenticator>,
    interval: F,
}

impl<F: Fn() -> Duration + Send + Sync> KeyRefresher<F> {
    pub fn new(auth: Arc<Authenticator>, interval: F) -> Self {
        Self { auth, interval }
    }
}

#[async_trait]
impl<F: Fn() -> Duration + Send + Sync> BackgroundService for KeyRefresher<F> {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.auth.refresh_keys((self.interval)()).await,
                _ = shutdown.changed() => return,
            }
        }
    }
}
