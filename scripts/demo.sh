#!/usr/bin/env bash
# Builds tenant-gateway and runs it on the shipped conf/ with in-process demo backends.
# Then, from another terminal:
#   curl -s -H 'Host: tenant-1.localhost' http://127.0.0.1:8080/hello
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
export TENANT_GATEWAY_ADMIN_TOKEN=${TENANT_GATEWAY_ADMIN_TOKEN:-demo-admin-token-change-me}
exec cargo run --release --locked --bin tenant-gateway -- run -c conf/gateway.yaml --demo-backends "$@"
