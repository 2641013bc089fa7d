#!/usr/bin/env bash
# Checks the monitoring files in deploy/: the alerting rules parse (promtool check rules) and
# behave as their unit tests say (promtool test rules), and the Grafana dashboard is valid
# JSON. The dashboard's queries are run against a real Prometheus by tests/monitoring.rs.
# Needs `promtool` (Debian package `prometheus`, installed by scripts/install-deps.sh test).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v promtool >/dev/null 2>&1 \
  || { echo "promtool not found: install the prometheus package (scripts/install-deps.sh test)" >&2; exit 1; }

promtool check rules deploy/prometheus/alerts.yaml
promtool test rules deploy/prometheus/alerts_test.yaml
python3 -m json.tool deploy/grafana/tenant-gateway.json >/dev/null \
  || { echo "deploy/grafana/tenant-gateway.json is not valid JSON" >&2; exit 1; }
echo "monitoring rules and dashboard OK"
