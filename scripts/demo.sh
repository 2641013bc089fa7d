#!/usr/bin/env bash
# Builds tenant-gateway and runs it on the shipped conf/ with in-process demo backends and the
# demo identity provider (`tenant-gateway demo-idp`, loopback only, NOT for production).
# Then open http://tenant-1.localhost:8080/app/ in a browser, or from another terminal:
#   curl -s -H 'Host: tenant-1.localhost' http://127.0.0.1:8080/hello
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
export TENANT_GATEWAY_ADMIN_TOKEN=${TENANT_GATEWAY_ADMIN_TOKEN:-demo-admin-token-change-me}
# Encrypts login sessions; a fresh one per run (sessions end with the demo).
export TENANT_GATEWAY_SESSION_KEY=${TENANT_GATEWAY_SESSION_KEY:-$(head -c 32 /dev/urandom | base64)}
cargo build --release --locked --bin tenant-gateway
bin=target/release/tenant-gateway
"$bin" demo-idp -c conf/gateway.yaml --listen 127.0.0.1:9400 &
idp=$!
trap 'kill "$idp" 2>/dev/null || true' EXIT
"$bin" run -c conf/gateway.yaml --demo-backends "$@"
