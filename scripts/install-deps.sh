#!/usr/bin/env bash
# Installs what building and testing tenant-gateway needs on a Debian/Ubuntu machine that has
# only the Rust toolchain. Idempotent: installs only what is missing.
#   scripts/install-deps.sh build   # cmake (pingora's zlib-ng), pkg-config, curl
#   scripts/install-deps.sh test    # the above plus the peers the test suite talks to
set -euo pipefail
what=${1:-test}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to install: $*" >&2; exit 1; fi
}

need=()
want() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }

want cmake cmake
want pkg-config pkg-config
want curl curl
if [ "$what" = test ]; then
  # Load-test and baseline tools used by benches/load.sh; cheap to have, so CI checks them too.
  want wrk wrk
  want nginx nginx
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
echo "dependencies ready ($what)"
