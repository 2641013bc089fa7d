#!/usr/bin/env bash
# The whole check a change must pass: installs the test dependencies, then formatting, lints,
# every shipped configuration, unit tests and integration tests (real gateway processes
# against real backends).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test

if [ -n "${CI:-}" ]; then
  # A clean clone gains nothing from incremental artefacts; they only take disk.
  export CARGO_INCREMENTAL=0
fi
disk() { echo "== disk: $(df -h . | awk 'NR==2 {print $4 " free of " $2}')"; }
disk

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
# The shipped conf reads its session key from the environment (scripts/demo.sh sets one).
export TENANT_GATEWAY_SESSION_KEY=${TENANT_GATEWAY_SESSION_KEY:-check-only-session-key-0123456789abcdef}
cargo build --locked --bin tenant-gateway
for f in conf/*.yaml; do
  target/debug/tenant-gateway check -c "$f"
done
echo "== alert rules (promtool)"
scripts/check-monitoring.sh
echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --all-targets 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
[ "$status" -ne 0 ] || scripts/fuzz.sh || status=$? # fuzz only a build that passed its tests
[ "$status" -ne 0 ] || scripts/container-test.sh || status=$? # the image, from that build
disk
# One closing line over every test binary (each prints its own `test result:` line).
passed=$(grep -Eo '^test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '; [0-9]+ failed' "$log" | awk '{s+=$2} END {print s+0}')
echo
echo "total: $passed passed, $failed failed"
exit "$status"
