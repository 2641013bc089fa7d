#!/usr/bin/env bash
# The whole check a change must pass: installs the test dependencies, then formatting, lints,
# every shipped configuration, unit tests and integration tests (real gateway processes
# against real backends).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== no OpenSSL in the dependency tree"
if cargo tree --locked -e normal,build -i openssl-sys >/dev/null 2>&1; then
  echo "openssl-sys is in the tree; the gateway uses rustls only" >&2
  exit 1
fi
echo "== tenant-gateway check on conf/"
cargo build --locked --bin tenant-gateway
for f in conf/gateway*.yaml; do
  target/debug/tenant-gateway check -c "$f"
done
echo "== cargo test"
cargo test --locked --all-targets
