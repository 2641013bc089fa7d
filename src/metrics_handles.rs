//! A tenant's request-metric handles, looked up in the Prometheus vectors once per (route,
//! status class) and then reused: the request path does no label hashing or vector locking.
//! Series are never removed from the vectors, so a kept handle always counts in the export.

use crate::metrics::{status_class, METRICS};
use prometheus::{Histogram, IntCounter};
use std::sync::OnceLock;

/// Status classes in slot order; `status_class` names them.
const CLASSES: [u16; 6] = [100, 200, 300, 400, 500, 0];

/// One route's request counters, by status class.
type ByClass = OnceLock<Box<[IntCounter; 6]>>;

/// The handles of one tenant (empty until its first request).
#[derive(Debug, Default)]
pub struct RequestMetrics {
    duration: OnceLock<Histogram>,
    /// One slot per route of the tenant's table, and a last one for "no route".
    counts: OnceLock<Box<[ByClass]>>,
}

impl RequestMetrics {
    /// Counts one request of the tenant labelled `label` on the route at `route` (its index
    /// in a table of `routes` routes; `None` for no route) and observes its duration.
    pub fn record(
        &self,
        label: &str,
        route: Option<(usize, &str)>,
        routes: usize,
        status: u16,
        seconds: f64,
    ) {
        self.duration
            .get_or_init(|| METRICS.request_duration.with_label_values(&[label]))
            .observe(seconds);
        let slots = self
            .counts
            .get_or_init(|| (0..=routes).map(|_| OnceLock::new()).collect());
        let (slot, name) = match route {
            Some((i, name)) if i < routes => (i, name),
            _ => (routes, "none"),
        };
        let Some(slot) = slots.get(slot) else {
            // A table longer than when the slots were made (not possible: a tenant's table is
            // fixed for its snapshot); count without the cache.
            return count(label, name, status);
        };
        let by_class = slot.get_or_init(|| {
            Box::new(CLASSES.map(|c| {
                METRICS
                    .requests
                    .with_label_values(&[label, name, status_class(c)])
            }))
        });
        let i = match status {
            100..=599 => usize::from(status / 100 - 1),
            _ => 5,
        };
        by_class[i].inc();
    }
}

/// Counts a request without cached handles (no tenant).
pub fn count(label: &str, route: &str, status: u16) {
    METRICS
        .requests
        .with_label_values(&[label, route, status_class(status)])
        .inc();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_handles_count_in_the_exported_series() {
        let m = RequestMetrics::default();
        let series = |route: &str, class: &str| {
            METRICS
                .requests
                .with_label_values(&["handles-test", route, class])
                .get()
        };
        let before = (
            series("web", "2xx"),
            series("web", "5xx"),
            series("none", "4xx"),
        );
        m.record("handles-test", Some((0, "web")), 2, 204, 0.001);
        m.record("handles-test", Some((0, "web")), 2, 200, 0.001);
        m.record("handles-test", Some((0, "web")), 2, 503, 0.001);
        m.record("handles-test", None, 2, 404, 0.001);
        m.record("handles-test", Some((7, "web")), 2, 404, 0.001);
        assert_eq!(series("web", "2xx"), before.0 + 2);
        assert_eq!(series("web", "5xx"), before.1 + 1);
        assert_eq!(series("none", "4xx"), before.2 + 2);
        let h = METRICS
            .request_duration
            .with_label_values(&["handles-test"]);
        assert_eq!(h.get_sample_count(), 5);
    }
}
