//! Noisy-neighbour protection: per-tenant rate (GCRA) and concurrency limits by tier. The
//! configured values are for the fleet: each node enforces its share, the values divided by
//! the live nodes the store side reports (1 with the file store). The state lives here,
//! outside the configuration version, so a reload never resets other tenants' budgets.

use crate::config::{LimitKey, LimitValues, LimitsSettings, RouteLimits};
use crate::metrics::METRICS;
use crate::tenant::{Route, Tenant};
use http::HeaderValue;
use moka::sync::Cache;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A key idle this long is forgotten (a fresh budget is the same as a long-idle one).
const IDLE_EVICTION: Duration = Duration::from_secs(15 * 60);
/// At most this many keys of each kind are kept; the least recently used go first.
const MAX_KEYS: u64 = 500_000;
const NANOS: u64 = 1_000_000_000;

/// The limits that apply to one request: the tier's values, then the tenant's overrides,
/// then the route's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The tier name (the `RateLimit-Policy` name).
    pub name: Arc<str>,
    pub values: LimitValues,
}

impl Policy {
    pub fn key(&self) -> LimitKey {
        self.values.key.unwrap_or_default()
    }

    /// This node's share of the policy when `nodes` live nodes split it: the rate, burst and
    /// in-flight maximum divided, rounded up, at least 1.
    pub fn share(&self, nodes: u32) -> LimitValues {
        let mut v = self.values;
        let n = nodes.max(1);
        if n > 1 {
            let split = |x: u32| x.div_ceil(n).max(1);
            v.rate_per_second = v.rate_per_second.map(split);
            v.burst = v.burst.map(split);
            v.max_in_flight = v.max_in_flight.map(split);
        }
        v
    }
}

/// Tier values merged with a tenant's overrides (what `GET /tenants/{id}` shows).
pub fn effective(
    settings: &LimitsSettings,
    tier: &str,
    overrides: Option<LimitValues>,
) -> LimitValues {
    let base = settings.tiers.get(tier).copied().unwrap_or_default();
    overrides.map_or(base, |o| o.over(base))
}

/// The policy for a request of `tenant` on `route`; `None` when nothing limits it.
pub fn policy(settings: &LimitsSettings, tenant: &Tenant, route: Option<&Route>) -> Option<Policy> {
    let mut values = effective(settings, &tenant.tier, tenant.limits);
    match route.and_then(|r| r.limits) {
        Some(RouteLimits::Off) => return None,
        Some(RouteLimits::Set(r)) => values = r.over(values),
        None => {}
    }
    if values.rate_per_second.is_none() && values.max_in_flight.is_none() {
        return None;
    }
    Some(Policy {
        name: tenant.tier.as_str().into(),
        values,
    })
}

/// Whose budget a request spends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    Tenant,
    User(Arc<str>),
    Ip(IpAddr),
}

/// A rate budget's key: the tenant, who spends it, and the values it is spent under. A
/// change of values (a tier or override change, a new node share) starts a new budget: an
/// upgrade applies at once, at the cost of at most one extra burst per change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RateKey {
    tenant: Uuid,
    rate: u32,
    burst: u32,
    who: Who,
}

/// An in-flight counter's key: the tenant and who holds the slots.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FlightKey {
    tenant: Uuid,
    who: Who,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Over the rate: 429 `rate_limited`.
    Rate,
    /// Too many requests in flight: 503 `concurrency_limited`.
    InFlight,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Rate => "rate",
            Reason::InFlight => "in_flight",
        }
    }
}

/// `RateLimit-Policy` and `RateLimit` values for a response.
#[derive(Debug, Clone)]
pub struct RateHeaders {
    pub policy: HeaderValue,
    pub state: HeaderValue,
}

/// A refused request: why, when to retry (whole seconds, at least 1) and the headers.
#[derive(Debug)]
pub struct Limited {
    pub reason: Reason,
    pub retry_after: u64,
    pub headers: Option<RateHeaders>,
}

/// An admitted request: its in-flight slot (released on drop) and its rate headers.
#[derive(Debug, Default)]
pub struct Admitted {
    pub in_flight: Option<InFlight>,
    pub headers: Option<RateHeaders>,
}

/// One request counted in flight; dropping it releases the slot.
#[derive(Debug)]
pub struct InFlight {
    counter: Arc<AtomicUsize>,
    gauge: prometheus::IntGauge,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::AcqRel);
        self.gauge.dec();
    }
}

/// The limiter state of every key: GCRA theoretical arrival times and in-flight counters,
/// in concurrent (sharded) caches that forget idle keys.
pub struct Limits {
    epoch: Instant,
    rates: Cache<RateKey, Arc<AtomicU64>>,
    flights: Cache<FlightKey, Arc<AtomicUsize>>,
    /// The live nodes sharing the limits (set by the fleet's heartbeat; 1 alone).
    live_nodes: AtomicU32,
}

impl Default for Limits {
    fn default() -> Self {
        Self::new()
    }
}

impl Limits {
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            rates: Cache::builder()
                .max_capacity(MAX_KEYS)
                .time_to_idle(IDLE_EVICTION)
                .build(),
            flights: Cache::builder()
                .max_capacity(MAX_KEYS)
                .time_to_idle(IDLE_EVICTION)
                .build(),
            live_nodes: AtomicU32::new(1),
        }
    }

    /// The live nodes the limits are shared by (at least 1).
    pub fn live_nodes(&self) -> u32 {
        self.live_nodes.load(Ordering::Relaxed).max(1)
    }

    /// Sets the live nodes the limits are shared by (0 counts as 1).
    pub fn set_live_nodes(&self, nodes: u32) {
        self.live_nodes.store(nodes.max(1), Ordering::Relaxed);
    }

    /// Admits a request of `tenant` under `policy` for `who`, or says why not. The in-flight
    /// slot is taken first, so a request refused for its rate holds none.
    pub fn check(
        &self,
        settings: &LimitsSettings,
        policy: &Policy,
        tenant: &Tenant,
        who: Who,
    ) -> Result<Admitted, Limited> {
        let v = policy.share(self.live_nodes());
        let mut admitted = Admitted::default();
        if let Some(max) = v.max_in_flight {
            let counter = self.flights.get_with(
                FlightKey {
                    tenant: tenant.id.0,
                    who: who.clone(),
                },
                || Arc::new(AtomicUsize::new(0)),
            );
            if counter.fetch_add(1, Ordering::AcqRel) >= max as usize {
                counter.fetch_sub(1, Ordering::AcqRel);
                METRICS
                    .limited
                    .with_label_values(&[&tenant.metric_label, Reason::InFlight.as_str()])
                    .inc();
                return Err(Limited {
                    reason: Reason::InFlight,
                    retry_after: 1,
                    headers: None,
                });
            }
            let label = if settings.tiers.contains_key(&*policy.name) {
                &*policy.name
            } else {
                "other"
            };
            let gauge = METRICS.in_flight.with_label_values(&[label]);
            gauge.inc();
            admitted.in_flight = Some(InFlight { counter, gauge });
        }
        if let Some(rate) = v.rate_per_second {
            let burst = v.burst.unwrap_or(1).max(1);
            let cell = self.rates.get_with(
                RateKey {
                    tenant: tenant.id.0,
                    rate,
                    burst,
                    who,
                },
                || Arc::new(AtomicU64::new(0)),
            );
            let now = self.epoch.elapsed().as_nanos() as u64;
            match gcra(&cell, now, rate, burst) {
                Ok((remaining, reset)) => {
                    admitted.headers = Some(headers(&policy.name, rate, remaining, reset));
                }
                Err(wait) => return Err(over_rate(policy, rate, tenant, wait)),
            }
        }
        Ok(admitted)
    }

    /// Under per-user limits, requests without a user (refused credentials among them) spend
    /// the tenant's own budget. When that budget is spent, this refuses the next request
    /// before its credential is checked, so a flood of bad credentials costs no
    /// authentication work (Argon2 slots, IdP calls) that other tenants share. It spends
    /// nothing: `None` leaves the request to authentication and `check`.
    pub fn refused_before_auth(&self, policy: &Policy, tenant: &Tenant) -> Option<Limited> {
        let v = policy.share(self.live_nodes());
        let rate = v.rate_per_second?;
        let burst = v.burst.unwrap_or(1).max(1);
        let cell = self.rates.get(&RateKey {
            tenant: tenant.id.0,
            rate,
            burst,
            who: Who::Tenant,
        })?;
        let now = self.epoch.elapsed().as_nanos() as u64;
        let wait = over_by(cell.load(Ordering::Acquire), now, rate, burst)?;
        Some(over_rate(policy, rate, tenant, wait))
    }
}

/// A request refused for its rate, `wait` nanoseconds before one is allowed (counted).
fn over_rate(policy: &Policy, rate: u32, tenant: &Tenant, wait: u64) -> Limited {
    METRICS
        .limited
        .with_label_values(&[&tenant.metric_label, Reason::Rate.as_str()])
        .inc();
    Limited {
        reason: Reason::Rate,
        retry_after: seconds_up(wait),
        headers: Some(headers(&policy.name, rate, 0, wait)),
    }
}

/// GCRA's emission interval and tolerance for `rate` per second with `burst`.
fn interval_and_tolerance(rate: u32, burst: u32) -> (u64, u64) {
    let t = (NANOS / u64::from(rate.max(1))).max(1);
    (t, t * u64::from(burst.max(1) - 1))
}

/// How long until a request is allowed, when the cell's theoretical arrival time `tat` says
/// the budget is spent at `now`; `None` when one is allowed now.
fn over_by(tat: u64, now: u64, rate: u32, burst: u32) -> Option<u64> {
    let (_, tau) = interval_and_tolerance(rate, burst);
    let tat = tat.max(now);
    (tat - now > tau).then(|| tat - now - tau)
}

/// Whole seconds, rounded up, at least 1.
fn seconds_up(nanos: u64) -> u64 {
    nanos.div_ceil(NANOS).max(1)
}

/// GCRA on one cell holding the theoretical arrival time (nanoseconds since the epoch).
/// `Ok((remaining, nanos until the budget is full))`, or `Err(nanos until one is allowed)`.
fn gcra(cell: &AtomicU64, now: u64, rate: u32, burst: u32) -> Result<(u64, u64), u64> {
    let (t, tau) = interval_and_tolerance(rate, burst);
    let mut current = cell.load(Ordering::Acquire);
    loop {
        if let Some(wait) = over_by(current, now, rate, burst) {
            return Err(wait);
        }
        let tat = current.max(now);
        let new = tat + t;
        match cell.compare_exchange_weak(current, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                let remaining = (tau - (tat - now)) / t;
                return Ok((remaining, new - now));
            }
            Err(c) => current = c,
        }
    }
}

/// The IETF draft `RateLimit-Policy` / `RateLimit` headers for policy `name`.
pub fn headers(name: &str, rate: u32, remaining: u64, reset_nanos: u64) -> RateHeaders {
    let name = sf_string(name);
    let policy = format!("{name};q={rate};w=1");
    let state = format!("{name};r={remaining};t={}", seconds_up(reset_nanos));
    RateHeaders {
        policy: HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("\"tier\"")),
        state: HeaderValue::from_str(&state).unwrap_or(HeaderValue::from_static("\"tier\"")),
    }
}

/// A structured-field string: quoted, `"` and `\` escaped, anything not printable dropped.
fn sf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars().filter(|c| (' '..='~').contains(c)) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The client's address: the socket's, or, when the socket is a trusted proxy, the first
/// `X-Forwarded-For` entry read right to left that is not itself a trusted proxy.
pub fn client_ip<'a>(
    socket: Option<IpAddr>,
    forwarded_for: impl DoubleEndedIterator<Item = &'a HeaderValue>,
    settings: &LimitsSettings,
) -> Option<IpAddr> {
    let trusted = |ip: IpAddr| settings.trusted_proxies.iter().any(|c| c.contains(ip));
    let mut ip = socket?;
    if !trusted(ip) {
        return Some(ip);
    }
    for header in forwarded_for.rev() {
        let Ok(list) = header.to_str() else {
            return Some(ip);
        };
        for entry in list.rsplit(',') {
            match entry.trim().parse::<IpAddr>() {
                Ok(hop) => {
                    ip = hop;
                    if !trusted(hop) {
                        return Some(ip);
                    }
                }
                Err(_) => return Some(ip),
            }
        }
    }
    Some(ip)
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
