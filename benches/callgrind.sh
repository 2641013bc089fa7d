#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind's callgrind: stable on a noisy machine
# (the same binary and inputs give the same counts whatever else runs), so small changes to the
# request path show where wall-clock load runs only show noise.
#
# For each target (bare Pingora, `examples/bare_proxy.rs`, and the gateway with one tenant, the
# access log off: the configuration of benches/load.sh's `gateway` target) it starts the proxy
# under callgrind in front of one nginx backend, sends N and then 3N keep-alive requests over
# one connection in two runs, and reports (count(3N) - count(N)) / 2N: the per-request cost
# without start-up and shutdown. Then the functions whose own cost differs most per request
# between the two, so the gateway's extra work has names.
#
#   bash benches/callgrind.sh                     # N=1000
#   N=2000 SKIP_BUILD=1 bash benches/callgrind.sh
#
# Knobs: N=1000, SKIP_BUILD=1 (use the existing release binaries), TOP=25 (functions listed),
# LOG=1 (also the gateway with its access log to a file), KEEP_TMP=1, PORT_BASE=18400
# (backend, proxy, admin; needs the three ports free).
# Needs valgrind (callgrind_annotate), nginx, python3 and curl.
set -euo pipefail

BENCH_TAG=callgrind
# shellcheck source=load/procs.sh
. "$(dirname "${BASH_SOURCE[0]}")/load/procs.sh" # REPO_ROOT (the working directory), TARGET_DIR
N=${N:-1000}
TOP=${TOP:-25}
SKIP_BUILD=${SKIP_BUILD:-0}
LOG=${LOG:-0}
KEEP_TMP=${KEEP_TMP:-0}
PORT_BASE=${PORT_BASE:-18400}
BACKEND_PORT=$PORT_BASE
PROXY_PORT=$((PORT_BASE + 1))
ADMIN_PORT=$((PORT_BASE + 2))
HOST=bench.bench.test
THREADS=1

# shellcheck source=load/configs.sh
. "$REPO_ROOT/benches/load/configs.sh"

for tool in valgrind callgrind_annotate nginx python3 curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
for p in $BACKEND_PORT $PROXY_PORT $ADMIN_PORT; do
    port_free "$p" || die "port $p is already in use"
done
if [[ $SKIP_BUILD != 1 ]]; then
    log "building release binaries (tenant-gateway, examples/bare_proxy)"
    cargo build --release --bin tenant-gateway --example bare_proxy
fi

nginx_conf "$TMP/backend" "
    server {
        listen 127.0.0.1:$BACKEND_PORT;
        location / { return 200 \"ok\"; }
    }"
start_bg backend TERM nginx -p "$TMP/backend" -e "$TMP/backend/logs/error.log" \
    -c "$TMP/backend/nginx.conf" -g 'daemon off;'
gateway_yaml "$TMP/gateway.yaml" "$PROXY_PORT" "$ADMIN_PORT" '"off"'
cat >"$TMP/tenants.yaml" <<YAML
tenants:
  - id: 6f1c1a52-0c4e-4b8e-9d2a-6f1c1a520c4e
    name: Bench
    subdomain: bench
YAML
"$TARGET_DIR/release/tenant-gateway" check -c "$TMP/gateway.yaml" >/dev/null

# profile <name> <requests> <command...>: the program's total instruction count after
# <requests> requests (and 200 warm-up requests before them).
profile() {
    local name=$1 n=$2 out
    shift 2
    out="$TMP/$name.$n.callgrind"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >"$TMP/$name.$n.log" 2>&1 &
    local pid=$! tries=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$PROXY_PORT") 2>/dev/null; do
        ((tries++ < 600)) || die "$name did not listen: $(tail -5 "$TMP/$name.$n.log")"
        sleep 0.1
    done
    python3 benches/callgrind/drive.py "$PROXY_PORT" 200 "$HOST" >/dev/null
    local ok
    ok=$(python3 benches/callgrind/drive.py "$PROXY_PORT" "$n" "$HOST")
    [[ $ok == "ok $n of $n" ]] || die "$name: $ok"
    kill -INT "$pid"
    wait "$pid" || true
    awk '/^summary:/ { print $2 }' "$out"
}

# own <file>: "function instructions" per line, self cost.
own() {
    callgrind_annotate --inclusive=no --threshold=100 --auto=no "$1" 2>/dev/null |
        sed -nE 's/^ *([0-9,]+) +\([^)]*\) +(.*)$/\1\t\2/p' |
        sed -E 's/ \[[^]]*\]$//; s/\t([^\t]*\.(rs|c|h|S)|\?\?\?):/\t/; s/^([0-9]+),?/\1/' |
        awk -F'\t' '{ n = $1; gsub(",", "", n); print n "\t" $2 }'
}

declare -A PER
declare -A FILES
run_target() {
    local name=$1 small big
    shift
    small=$(profile "$name" "$N" "$@")
    big=$(profile "$name" $((3 * N)) "$@")
    PER[$name]=$(((big - small) / (2 * N)))
    FILES[$name]="$TMP/$name.$N.callgrind $TMP/$name.$((3 * N)).callgrind"
    log "$name: ${PER[$name]} instructions per request"
}

run_target bare-pingora "$TARGET_DIR/release/examples/bare_proxy" --listen "127.0.0.1:$PROXY_PORT" \
    --upstream "127.0.0.1:$BACKEND_PORT" --threads 1 --keepalive-pool 1024
unset RUST_LOG # (not through `env`: callgrind would count env, not the gateway it runs)
run_target gateway "$TARGET_DIR/release/tenant-gateway" run -c "$TMP/gateway.yaml" --no-watch
if [[ $LOG == 1 ]]; then
    gateway_yaml "$TMP/gateway-log.yaml" "$PROXY_PORT" "$ADMIN_PORT" "\"$TMP/access.log\""
    run_target gateway-log "$TARGET_DIR/release/tenant-gateway" run -c "$TMP/gateway-log.yaml" \
        --no-watch
fi

# Per-request self cost of each function, gateway minus bare Pingora.
per_request() {
    local small big
    read -r small big <<<"${FILES[$1]}"
    join -t $'\t' -a 1 -a 2 -e 0 -o 0,1.2,2.2 \
        <(own "$small" | awk -F'\t' '{ a[$2] += $1 } END { for (k in a) print k "\t" a[k] }' | sort) \
        <(own "$big" | awk -F'\t' '{ a[$2] += $1 } END { for (k in a) print k "\t" a[k] }' | sort) |
        awk -F'\t' -v n="$N" '{ printf "%s\t%.0f\n", $1, ($3 - $2) / (2 * n) }' | sort
}

mkdir -p bench-results
RESULTS=bench-results/callgrind-$(date +%Y%m%d-%H%M%S).txt
{
    echo "instructions per request (callgrind, N=$N and 3N keep-alive requests, one connection)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    for t in "${!PER[@]}"; do printf '  %-14s %10s\n' "$t" "${PER[$t]}"; done | sort
    awk -v b="${PER[bare-pingora]}" -v g="${PER[gateway]}" \
        'BEGIN { printf "  gateway / bare-pingora   %.3fx instructions (the gateway own work: %d per request)\n", g / b, g - b }'
    if [[ $LOG == 1 ]]; then
        awk -v g="${PER[gateway]}" -v l="${PER[gateway-log]}" \
            'BEGIN { printf "  gateway-log / gateway    %.3fx instructions (the access log: %d per request)\n", l / g, l - g }'
    fi
    echo
    echo "functions by extra self cost per request (gateway - bare-pingora), top $TOP:"
    join -t $'\t' -a 1 -a 2 -e 0 -o 0,1.2,2.2 <(per_request gateway) <(per_request bare-pingora) |
        awk -F'\t' '{ d = $2 - $3; if (d != 0) printf "%8d  %s\n", d, substr($1, 1, 150) }' |
        sort -rn | head -n "$TOP"
} | tee "$RESULTS"
log "results written to $RESULTS"
