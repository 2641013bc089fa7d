#!/usr/bin/env bash
# Fleet start-up and propagation with many tenants in a DynamoDB-compatible server on loopback
# (STORE=dynalite, the default: LevelDB-backed, fast scans; or STORE=moto).
#
#   1. generates N tenants (default 100000) and imports them with `tenant-gateway dynamodb
#      import` (batch writes; each tenant has its item plus one subdomain claim item);
#   2. starts two gateway nodes on the tables and reports, for each, the time from process
#      start to `/readyz` answering with all N tenants loaded, and the node's own breakdown
#      (scan time, validation time) from its log;
#   3. with STORE=moto (dynalite has no TransactWriteItems), onboards a tenant through node
#      A's admin API and reports how long node B takes to route it (poll interval 1s), and
#      how each node applied it (the reload's `detail` and `duration_ms` from /reloads: A's
#      admin write, B's poll).
#
# Results are printed and written to bench-results/fleet-startup-<timestamp>.txt. Both servers
# are local emulators: their scan and write rates, not DynamoDB's, bound the store part of
# these figures (moto's Scan walks the whole table for every page: ~100 s for 100k tenants);
# the node's own part is in its log line ("load_ms", "validate_ms").
#
#   bash benches/fleet_startup.sh                      # 100000 tenants, dynalite
#   TENANTS=10000 STORE=moto bash benches/fleet_startup.sh
#
# Knobs: TENANTS=100000, STORE=dynalite|moto, SKIP_BUILD=1 (use the existing release binary),
# KEEP_TMP=1. Needs: the release binary (built unless SKIP_BUILD=1), the test peers
# (scripts/install-deps.sh test), curl, python3.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TENANTS="${TENANTS:-100000}"
STORE="${STORE:-dynalite}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
BIN="$TARGET_DIR/release/tenant-gateway"
MOTO="$ROOT/.venv-peers/bin/moto_server"
DYNALITE="$ROOT/tests/peers/node_modules/.bin/dynalite"
TMP="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

[[ -x "$MOTO" && -x "$DYNALITE" ]] || { echo "moto or dynalite missing: run scripts/install-deps.sh test" >&2; exit 1; }
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --bin tenant-gateway)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

STORE_PORT=$(free_port)
case "$STORE" in
  moto) "$MOTO" -H 127.0.0.1 -p "$STORE_PORT" >"$TMP/store.log" 2>&1 & ;;
  dynalite) "$DYNALITE" --host 127.0.0.1 --port "$STORE_PORT" --createTableMs 0 \
              >"$TMP/store.log" 2>&1 & ;;
  *) echo "STORE must be dynalite or moto" >&2; exit 1 ;;
esac
PIDS+=($!)
for _ in $(seq 100); do curl -s "http://127.0.0.1:$STORE_PORT" >/dev/null && break; sleep 0.1; done

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export BENCH_ADMIN_TOKEN=bench-admin-token-0123456789

write_config() { # name http admin
  cat >"$TMP/$1.yaml" <<EOF
listeners:
  http: ["127.0.0.1:$2"]
  admin: "127.0.0.1:$3"
server:
  threads: 1
base_domains:
  - domain: bench.test
pools:
  web:
    backends: ["127.0.0.1:9"]
default_routes:
  - prefix: /
    pool: web
tenants:
  source: dynamodb
  table_prefix: bench
  endpoint: http://127.0.0.1:$STORE_PORT
admin:
  token_env: BENCH_ADMIN_TOKEN
logging:
  access_log: "off"
EOF
}

HTTP_A=$(free_port); ADMIN_A=$(free_port); HTTP_B=$(free_port); ADMIN_B=$(free_port)
write_config a "$HTTP_A" "$ADMIN_A"
write_config b "$HTTP_B" "$ADMIN_B"

python3 - "$TENANTS" >"$TMP/tenants.yaml" <<'EOF'
import sys, uuid
n = int(sys.argv[1])
print("tenants:")
for i in range(n):
    print(f"  - id: {uuid.UUID(int=i + 1, version=4)}\n    name: Tenant {i}\n    subdomain: t{i}")
EOF

"$BIN" dynamodb init -c "$TMP/a.yaml"
t0=$(now_ms)
"$BIN" dynamodb import -c "$TMP/a.yaml" "$TMP/tenants.yaml"
import_ms=$(( $(now_ms) - t0 ))

start_node() { # name admin-port; sets READY_MS: start -> ready with all tenants
  local name=$1 admin=$2 t0 ready
  t0=$(now_ms)
  "$BIN" run -c "$TMP/$name.yaml" --no-watch 2>"$TMP/$name.log" &
  PIDS+=($!)
  for _ in $(seq 6000); do
    ready=$(curl -s "http://127.0.0.1:$admin/readyz" || true)
    if [[ "$ready" == *"\"tenants\":$TENANTS"* ]]; then
      READY_MS=$(( $(now_ms) - t0 ))
      return
    fi
    sleep 0.05
  done
  echo "node $name did not become ready; log:" >&2; tail -5 "$TMP/$name.log" >&2; exit 1
}

start_node a "$ADMIN_A"; ready_a=$READY_MS
start_node b "$ADMIN_B"; ready_b=$READY_MS
breakdown() { grep -o '"message":"tenants loaded from DynamoDB"[^}]*' "$TMP/$1.log" | head -1; }

# Propagation: onboard through A, time until B routes the new host (502: routed, the bench
# backend address is closed on purpose; 404 means "unknown host" still).
written="n/a (STORE=moto measures it)"; routed="n/a"
if [[ "$STORE" == moto ]]; then
t0=$(now_ms)
curl -s -o /dev/null -X POST -H "Authorization: Bearer $BENCH_ADMIN_TOKEN" \
  "http://127.0.0.1:$ADMIN_A/tenants" -d '{"tenantName":"Late","tenantSubDomain":"late-one"}'
written="$(( $(now_ms) - t0 )) ms"
routed="not within 10 s"
for _ in $(seq 400); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: late-one.bench.test" "http://127.0.0.1:$HTTP_B/")
  if [[ "$code" != 404 ]]; then routed="$(( $(now_ms) - t0 )) ms"; break; fi
  sleep 0.025
done
fi

last_reload() { # admin-port trigger: the newest applied reload with that trigger
  curl -s -H "Authorization: Bearer $BENCH_ADMIN_TOKEN" "http://127.0.0.1:$1/reloads" |
    python3 -c 'import json, sys
t = sys.argv[1]
e = [r for r in json.load(sys.stdin)["reloads"] if r["trigger"] == t and r["result"] == "applied"]
print("none" if not e else "%s, %.1f ms" % (e[0].get("detail", "validated and rebuilt in full"), e[0]["duration_ms"]))' "$2"
}

mkdir -p "$ROOT/bench-results"
OUT="$ROOT/bench-results/fleet-startup-$(date +%Y%m%d-%H%M%S).txt"
{
  echo "fleet start-up, $TENANTS tenants, store: $STORE on loopback, $(nproc) cores"
  echo "import (dynamodb import, batch writes):     ${import_ms} ms"
  echo "node A start -> ready with all tenants:     ${ready_a} ms"
  echo "  $(breakdown a)"
  echo "node B start -> ready with all tenants:     ${ready_b} ms"
  echo "  $(breakdown b)"
  echo "onboarding through A answered in:           $written"
  echo "routed by B after:                          $routed"
  if [[ "$STORE" == moto ]]; then
    echo "A applied its write (admin-api):            $(last_reload "$ADMIN_A" admin-api)"
    echo "B applied the polled change (dynamodb):     $(last_reload "$ADMIN_B" dynamodb)"
    echo "B's failed store calls (gateway_store_errors_total):" \
      "$(curl -s "http://127.0.0.1:$ADMIN_B/metrics" | grep '^gateway_store_errors_total' | tr '\n' ' ')"
  fi
} | tee "$OUT"
