#!/usr/bin/env bash
# Installs what building and testing tenant-gateway needs on a Debian/Ubuntu machine that has
# only the Rust toolchain (plus Node.js 20+ and Python 3 for the test peers). Idempotent:
# installs only what is missing.
#   scripts/install-deps.sh build   # cmake (pingora's zlib-ng), pkg-config, curl
#   scripts/install-deps.sh test    # the above plus the peers the test suite talks to
set -euo pipefail
what=${1:-test}
root=$(cd "$(dirname "$0")/.." && pwd)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to install: $*" >&2; exit 1; fi
}

need=()
want() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
# A Debian package without a command of its own (fonts, Python modules).
want_pkg() {
  [ "$(dpkg-query -W -f '${Status}' "$1" 2>/dev/null)" = "install ok installed" ] || need+=("$1")
}

want cmake cmake
want pkg-config pkg-config
want curl curl
if [ "$what" = test ]; then
  # Load-test and baseline tools used by benches/load.sh; cheap to have, so CI checks them too.
  want wrk wrk
  want nginx nginx
  # Auth tests: a real browser for the login flow (tests/peers/browser_login.mjs), jq for
  # scripts, and the ACME test server for the TLS tests.
  want chromium chromium
  want_pkg fonts-liberation
  want jq jq
  want pebble pebble
  # Monitoring: Prometheus checks the alert rules (promtool) and the dashboard's queries.
  want prometheus prometheus
  # Container image test (scripts/container-test.sh): the daemon, and debootstrap for a base
  # image made without a registry.
  want docker docker.io
  want_pkg debootstrap
  # moto runs in a venv (.venv-peers); Debian's own python3 needs python3-venv for that.
  if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need+=(python3-venv)
  fi
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

if [ "$what" = test ]; then
  # Node test peers: oidc-provider (the IdP) and playwright-core (drives Debian's chromium;
  # it never downloads a browser of its own).
  peers=$root/tests/peers
  command -v node >/dev/null && command -v npm >/dev/null \
    || { echo "node and npm (Node.js 20+) are needed for the test peers" >&2; exit 1; }
  if [ ! -d "$peers/node_modules" ] \
    || [ "$peers/package-lock.json" -nt "$peers/node_modules/.package-lock.json" ]; then
    echo "installing: npm packages of tests/peers"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$peers" --no-audit --no-fund --loglevel=error
  fi
  # Python test peers, in their own venv: moto's server (Cognito tokens, DynamoDB), boto3,
  # and PyJWT (the verifying backend of tests/assertion.rs, tests/peers/assertion_backend.py).
  venv=$root/.venv-peers
  if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/python" ]; then
    echo "installing: moto[server], boto3 and pyjwt in .venv-peers"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'moto[server]==5.2.5' boto3 \
      'pyjwt[crypto]==2.15.1'
  elif ! "$venv/bin/python" -c 'import jwt' >/dev/null 2>&1; then
    echo "installing: pyjwt in .venv-peers"
    "$venv/bin/pip" install -q --disable-pip-version-check 'pyjwt[crypto]==2.15.1'
  fi
fi
echo "dependencies ready ($what)"
