//! Unit tests of `metrics`.

use super::*;

#[test]
fn all_metrics_register_and_render() {
    METRICS.requests.with_label_values(&["t", "/", "2xx"]).inc();
    METRICS.reloads.with_label_values(&["ok"]).inc();
    let text = render();
    assert!(text.contains("gateway_requests_total{route=\"/\",status=\"2xx\",tenant=\"t\"} 1"));
    assert!(text.contains("gateway_config_reloads_total{result=\"ok\"} 1"));
    assert!(!text.contains("unregistered_"));
}
