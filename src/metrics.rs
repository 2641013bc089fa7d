//! Prometheus metrics, registered in the default `prometheus` registry (the one Pingora's own
//! metrics use). Tenant labels are bounded: the snapshot gives each tenant past
//! `metrics.max_tenant_labels` the label `other`.

use prometheus::{
    register_histogram_vec, register_int_counter, register_int_counter_vec, register_int_gauge,
    register_int_gauge_vec, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
};
use std::sync::LazyLock;

/// Every metric the gateway exports.
pub struct Metrics {
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub rejected: IntCounterVec,
    pub upstream_errors: IntCounterVec,
    pub backend_up: IntGaugeVec,
    pub reloads: IntCounterVec,
    pub config_generation: IntGauge,
    pub access_log_dropped: IntCounter,
    pub tenants: IntGaugeVec,
    pub auth: IntCounterVec,
    pub basic_checks: IntCounterVec,
    pub logins: IntCounterVec,
    pub jwks_fetches: IntCounterVec,
    pub jwks_key_age: IntGaugeVec,
    pub cert_expiry: IntGaugeVec,
    pub acme_orders: IntCounterVec,
    pub acme_issue_seconds: prometheus::Histogram,
    pub store_up: IntGauge,
    pub store_errors: IntCounterVec,
    pub store_sequence: IntGauge,
    pub fleet_nodes: IntGauge,
    pub acme_leases: IntCounterVec,
    pub limited: IntCounterVec,
    pub in_flight: IntGaugeVec,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::register);

impl Metrics {
    fn register() -> Self {
        // Registration only fails on a duplicate name, which is a programming error caught by
        // the unit test below; fall back to an unregistered metric rather than panic.
        Metrics {
            requests: register_int_counter_vec!(
                "gateway_requests_total",
                "Requests answered, by tenant, route and status class",
                &["tenant", "route", "status"]
            )
            .unwrap_or_else(|_| {
                unregistered_counter("gateway_requests_total", &["tenant", "route", "status"])
            }),
            request_duration: register_histogram_vec!(
                "gateway_request_duration_seconds",
                "Time from request to last response byte, by tenant",
                &["tenant"],
                vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
            )
            .unwrap_or_else(|_| {
                HistogramVec::new(
                    prometheus::histogram_opts!("unregistered_duration", "-"),
                    &["tenant"],
                )
                .expect("static histogram options are valid")
            }),
            rejected: register_int_counter_vec!(
                "gateway_rejected_requests_total",
                "Requests answered by the gateway itself, by reason",
                &["reason"]
            )
            .unwrap_or_else(|_| {
                unregistered_counter("gateway_rejected_requests_total", &["reason"])
            }),
            upstream_errors: register_int_counter_vec!(
                "gateway_upstream_errors_total",
                "Failed upstream attempts, by pool and kind",
                &["pool", "kind"]
            )
            .unwrap_or_else(|_| {
                unregistered_counter("gateway_upstream_errors_total", &["pool", "kind"])
            }),
            backend_up: register_int_gauge_vec!(
                "gateway_backend_up",
                "1 when the health check passes for the backend",
                &["pool", "backend"]
            )
            .unwrap_or_else(|_| unregistered_gauge("gateway_backend_up", &["pool", "backend"])),
            reloads: register_int_counter_vec!(
                "gateway_config_reloads_total",
                "Configuration reloads, by result (ok, rejected, unchanged)",
                &["result"]
            )
            .unwrap_or_else(|_| unregistered_counter("gateway_config_reloads_total", &["result"])),
            access_log_dropped: register_int_counter!(
                "gateway_access_log_dropped_total",
                "Access-log lines dropped because the writer fell 8 MiB behind"
            )
            .unwrap_or_else(|_| IntCounter::new("unregistered_dropped", "-").expect("valid")),
            config_generation: register_int_gauge!(
                "gateway_config_generation",
                "Generation of the configuration in service (1 at start, +1 per applied reload)"
            )
            .unwrap_or_else(|_| IntGauge::new("unregistered_generation", "-").expect("valid")),
            tenants: register_int_gauge_vec!(
                "gateway_tenants",
                "Tenants in the current configuration, by status",
                &["status"]
            )
            .unwrap_or_else(|_| unregistered_gauge("gateway_tenants", &["status"])),
            auth: register_int_counter_vec!(
                "gateway_auth_total",
                "Authentication outcomes on authenticated routes, by tenant, mode and result",
                &["tenant", "mode", "result"]
            )
            .unwrap_or_else(|_| {
                unregistered_counter("gateway_auth_total", &["tenant", "mode", "result"])
            }),
            basic_checks: register_int_counter_vec!(
                "gateway_basic_auth_checks_total",
                "Basic credential checks, by tenant and result (verified, cached, failed, cached_failure, overloaded)",
                &["tenant", "result"]
            )
            .unwrap_or_else(|_| {
                unregistered_counter("gateway_basic_auth_checks_total", &["tenant", "result"])
            }),
            logins: register_int_counter_vec!(
                "gateway_oidc_logins_total",
                "Browser logins, refreshes and logouts, by tenant and result",
                &["tenant", "result"]
            )
            .unwrap_or_else(|_| {
                unregistered_counter("gateway_oidc_logins_total", &["tenant", "result"])
            }),
            jwks_fetches: register_int_counter_vec!(
                "gateway_jwks_fetches_total",
                "JWKS fetches, by JWKS URL and result",
                &["jwks", "result"]
            )
            .unwrap_or_else(|_| {
                unregistered_counter("gateway_jwks_fetches_total", &["jwks", "result"])
            }),
            jwks_key_age: register_int_gauge_vec!(
                "gateway_jwks_key_age_seconds",
                "Seconds since the keys of a JWKS were last fetched",
                &["jwks"]
            )
            .unwrap_or_else(|_| unregistered_gauge("gateway_jwks_key_age_seconds", &["jwks"])),
            cert_expiry: register_int_gauge_vec!(
                "gateway_certificate_expiry_timestamp_seconds",
                "Expiry (unix seconds) of the certificate served for a host name",
                &["host"]
            )
            .unwrap_or_else(|_| {
                unregistered_gauge("gateway_certificate_expiry_timestamp_seconds", &["host"])
            }),
            acme_orders: register_int_counter_vec!(
                "gateway_acme_orders_total",
                "ACME certificate orders, by result",
                &["result"]
            )
            .unwrap_or_else(|_| unregistered_counter("gateway_acme_orders_total", &["result"])),
            acme_issue_seconds: prometheus::register_histogram!(
                "gateway_acme_issue_seconds",
                "Time from placing an ACME order to holding the certificate",
                vec![0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0]
            )
            .unwrap_or_else(|_| {
                prometheus::Histogram::with_opts(prometheus::histogram_opts!(
                    "unregistered_acme_issue",
                    "-"
                ))
                .expect("static histogram options are valid")
            }),
            store_up: register_int_gauge!(
                "gateway_store_up",
                "1 while the DynamoDB tenant store answers, 0 while the last known tenants are served"
            )
            .unwrap_or_else(|_| IntGauge::new("unregistered_store_up", "-").expect("valid")),
            store_errors: register_int_counter_vec!(
                "gateway_store_errors_total",
                "Failed DynamoDB tenant store calls, by operation",
                &["operation"]
            )
            .unwrap_or_else(|_| unregistered_counter("gateway_store_errors_total", &["operation"])),
            store_sequence: register_int_gauge!(
                "gateway_store_sequence",
                "The fleet change sequence this node has applied"
            )
            .unwrap_or_else(|_| IntGauge::new("unregistered_store_sequence", "-").expect("valid")),
            fleet_nodes: register_int_gauge!(
                "gateway_fleet_nodes",
                "Live gateway nodes this node sees in the fleet (limits are shared by them)"
            )
            .unwrap_or_else(|_| IntGauge::new("unregistered_fleet_nodes", "-").expect("valid")),
            acme_leases: register_int_counter_vec!(
                "gateway_acme_leases_total",
                "ACME order leases in a fleet: acquired, or held by another node",
                &["result"]
            )
            .unwrap_or_else(|_| unregistered_counter("gateway_acme_leases_total", &["result"])),
            limited: register_int_counter_vec!(
                "gateway_limited_requests_total",
                "Requests refused by a tenant limit, by tenant and reason (rate or in_flight)",
                &["tenant", "reason"]
            )
            .unwrap_or_else(|_| {
                unregistered_counter("gateway_limited_requests_total", &["tenant", "reason"])
            }),
            in_flight: register_int_gauge_vec!(
                "gateway_in_flight",
                "Requests in flight under a concurrency limit, by tier",
                &["tier"]
            )
            .unwrap_or_else(|_| unregistered_gauge("gateway_in_flight", &["tier"])),
        }
    }
}

fn unregistered_counter(name: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(
        prometheus::opts!(format!("unregistered_{name}"), "-"),
        labels,
    )
    .expect("static counter options are valid")
}

fn unregistered_gauge(name: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(
        prometheus::opts!(format!("unregistered_{name}"), "-"),
        labels,
    )
    .expect("static gauge options are valid")
}

/// `2xx`-style class of a status code; 0 (no response written) is `none`.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "none",
    }
}

/// The Prometheus text exposition of every registered metric.
/// A tenant's counters as its metric label has them now: requests by status class, and
/// limited requests by reason (the console derives rates from two readings).
pub fn tenant_counters(label: &str) -> serde_json::Value {
    use prometheus::core::Collector;
    let sum_by = |families: Vec<prometheus::proto::MetricFamily>, key: &str| {
        let mut out = std::collections::BTreeMap::<String, u64>::new();
        for m in families.iter().flat_map(|f| f.get_metric().iter()) {
            let labels = m.get_label();
            let of_tenant = labels
                .iter()
                .any(|l| l.name() == "tenant" && l.value() == label);
            let Some(k) = labels.iter().find(|l| l.name() == key) else {
                continue;
            };
            if of_tenant {
                *out.entry(k.value().to_string()).or_default() += m.get_counter().value() as u64;
            }
        }
        out
    };
    serde_json::json!({
        "metric_label": label,
        "requests_by_status": sum_by(METRICS.requests.collect(), "status"),
        "limited_by_reason": sum_by(METRICS.limited.collect(), "reason"),
    })
}

pub fn render() -> String {
    use prometheus::Encoder;
    let mut buf = Vec::new();
    let _ = prometheus::TextEncoder::new().encode(&prometheus::gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
