//! One backend pool: selection with health and retry exclusion, and the `HttpPeer` settings.

use crate::config::{Balance, HealthCheckSpec, PoolSpec};
use pingora::http::RequestHeader;
use pingora::lb::health_check::HttpHealthCheck;
use pingora::lb::selection::{Consistent, RoundRobin};
use pingora::lb::LoadBalancer;
use pingora::prelude::HttpPeer;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

enum Balancer {
    RoundRobin(LoadBalancer<RoundRobin>),
    Hash(LoadBalancer<Consistent>),
}

/// A named set of backends with one balancing policy and one set of timeouts.
pub struct Pool {
    name: String,
    spec: PoolSpec,
    lb: Balancer,
    /// When the health loop last checked this pool (not touched by requests).
    pub(super) last_check: Mutex<Option<Instant>>,
}

/// A backend and whether it currently takes traffic.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackendStatus {
    pub addr: SocketAddr,
    pub healthy: bool,
}

impl Pool {
    pub fn new(name: &str, spec: PoolSpec) -> Self {
        let lb = match spec.balance {
            Balance::RoundRobin => Balancer::RoundRobin(build_lb(&spec)),
            Balance::TenantHash => Balancer::Hash(build_lb(&spec)),
        };
        Pool {
            name: name.to_string(),
            spec,
            lb,
            last_check: Mutex::new(None),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn spec(&self) -> &PoolSpec {
        &self.spec
    }

    /// Picks a healthy backend not in `exclude` (the ones that already failed this request).
    /// `key` feeds consistent hashing; round robin ignores it.
    pub fn select(&self, key: &[u8], exclude: &[SocketAddr]) -> Option<SocketAddr> {
        // One backend and no health check: it always takes traffic, so the balancer (its
        // selector and health lookups) has nothing to decide.
        if let ([only], None) = (self.spec.backends.as_slice(), &self.spec.health_check) {
            return (!exclude.contains(only)).then_some(*only);
        }
        let max = self.spec.backends.len() * 4 + 4;
        let accept = |b: &pingora::lb::Backend, healthy: bool| {
            healthy && b.addr.as_inet().is_some_and(|a| !exclude.contains(a))
        };
        let picked = match &self.lb {
            Balancer::RoundRobin(lb) => lb.select_with(key, max, accept),
            Balancer::Hash(lb) => lb.select_with(key, max, accept),
        };
        picked.and_then(|b| b.addr.as_inet().copied())
    }

    /// The peer for `addr` with this pool's timeouts; connections are pooled per peer.
    pub fn peer(&self, addr: SocketAddr) -> Box<HttpPeer> {
        let mut peer = HttpPeer::new(addr, false, String::new());
        let o = &mut peer.options;
        o.connection_timeout = Some(self.spec.connect_timeout);
        o.read_timeout = Some(self.spec.read_timeout);
        o.write_timeout = Some(self.spec.write_timeout);
        o.idle_timeout = Some(self.spec.idle_timeout);
        Box::new(peer)
    }

    pub fn max_retries(&self) -> u8 {
        self.spec.retries
    }

    /// Runs one health-check pass (a no-op for pools without `health_check`).
    pub async fn check_health(&self) {
        if self.spec.health_check.is_none() {
            return;
        }
        match &self.lb {
            Balancer::RoundRobin(lb) => lb.backends().run_health_check(true).await,
            Balancer::Hash(lb) => lb.backends().run_health_check(true).await,
        }
    }

    pub fn backends(&self) -> Vec<BackendStatus> {
        let backends = match &self.lb {
            Balancer::RoundRobin(lb) => lb.backends(),
            Balancer::Hash(lb) => lb.backends(),
        };
        backends
            .get_backend()
            .iter()
            .filter_map(|b| {
                Some(BackendStatus {
                    addr: *b.addr.as_inet()?,
                    healthy: backends.ready(b),
                })
            })
            .collect()
    }
}

fn build_lb<S>(spec: &PoolSpec) -> LoadBalancer<S>
where
    S: pingora::lb::selection::BackendSelection + 'static,
    S::Iter: pingora::lb::selection::BackendIter,
{
    let backends = pingora::lb::discovery::Static::new(
        spec.backends
            .iter()
            .filter_map(|a| pingora::lb::Backend::new(&a.to_string()).ok())
            .collect(),
    );
    let mut lb = LoadBalancer::from_backends(pingora::lb::Backends::new(backends));
    if let Some(hc) = &spec.health_check {
        lb.set_health_check(health_check(hc));
    }
    // Static discovery never blocks or fails; this publishes the backend list.
    let _ = futures_now(lb.update());
    lb
}

fn health_check(spec: &HealthCheckSpec) -> Box<HttpHealthCheck> {
    let mut hc = HttpHealthCheck::new(&spec.host, false);
    if let Ok(mut req) = RequestHeader::build("GET", spec.path.as_bytes(), None) {
        let _ = req.insert_header("Host", spec.host.as_str());
        let _ = req.insert_header("User-Agent", "tenant-gateway-health");
        hc.req = req;
    }
    hc.consecutive_success = spec.healthy_after;
    hc.consecutive_failure = spec.unhealthy_after;
    hc.peer_template.options.connection_timeout = Some(spec.timeout);
    hc.peer_template.options.read_timeout = Some(spec.timeout);
    Box::new(hc)
}

/// Polls a future that is known to complete without waiting (static discovery).
fn futures_now<F: std::future::Future>(f: F) -> Option<F::Output> {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}
