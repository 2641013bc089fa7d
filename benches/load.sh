#!/usr/bin/env bash
# Load comparison: what does tenant-gateway cost per request, next to other proxies?
#
# On one machine, against the SAME backend (nginx answering `200 ok`, 1 worker), it runs
# wrk against each target in turn, alternating targets over several rounds so drift (thermal,
# noisy neighbours, the other CPU user) spreads evenly:
#
#   backend       nginx itself, no proxy in between (the ceiling)
#   nginx-proxy   nginx reverse proxy, 1 worker, upstream keepalive, adds one header
#   haproxy       haproxy, nbthread 1, http-reuse always, adds one header (if installed)
#   bare-pingora  examples/bare_proxy.rs: Pingora forwarding to one peer, adds one header
#   gateway       tenant-gateway, 1 thread, access log off, Host: bench.bench.test
#   gateway-log   the same with the access log written to a file
#
# Every proxy gets one worker thread and keeps upstream connections alive. wrk uses one
# thread and keep-alive connections. Medians over the rounds are printed, with the ratios
# gateway/nginx-proxy, gateway/bare-pingora and bare-pingora/nginx-proxy, and written to
# bench-results/load-<timestamp>.txt. All traffic stays on loopback (ports 18080-18099).
#
# Run from anywhere in the repository (needs cargo, wrk, nginx, curl; haproxy optional):
#
#   bash benches/load.sh                            # 5 rounds of 8s at 64 connections
#   ROUNDS=1 DURATION=2s bash benches/load.sh       # smoke run
#
# Knobs (environment):
#   ROUNDS=5  DURATION=8s  CONNECTIONS=64  WARMUP=2s   per-target wrk settings
#   TARGETS="backend nginx-proxy ..."   only these targets (default: all available)
#   SKIP_BUILD=1      use the existing release binaries
#   KEEP_TMP=1        keep the temp dir (configs, logs) and print where it is
#
# The numbers are only comparable within one run: wrk, the backend and the proxy share the
# machine's cores. On a 2-core box the proxy under test competes with wrk and the backend,
# so read the ratios, not the absolute req/s.
#
# Adding a round type (e.g. an authenticated route, or HTTPS): start its process in
# start_targets with start_bg, then register it with
#     add_target <name> <url> [header ...]
# (an https:// URL works for wrk and for the readiness check). Ratios are listed in RATIOS.

set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-64}
WARMUP=${WARMUP:-2s}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}

# Ports: one per process, all on 127.0.0.1.
BACKEND_PORT=18080
NGINX_PROXY_PORT=18081
BARE_PINGORA_PORT=18082
GATEWAY_PORT=18083
GATEWAY_ADMIN_PORT=18093
GATEWAY_LOG_PORT=18084
GATEWAY_LOG_ADMIN_PORT=18094
HAPROXY_PORT=18085

BENCH_HOST=bench.bench.test # tenant "bench" under base domain "bench.test"

# ratio lines printed after the table: "numerator denominator"
RATIOS=(
    "gateway nginx-proxy"
    "gateway bare-pingora"
    "bare-pingora nginx-proxy"
    "gateway-log gateway"
)

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}

log() { printf '[load] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for tool in wrk nginx curl cargo; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

# ---- process bookkeeping ------------------------------------------------------------------

TMP=$(mktemp -d -t tenant-gateway-load.XXXXXX)
PIDS=()    # every process this script started
SIGNALS=() # the signal that stops each one quickly
NAMES=()

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    local i
    for i in "${!PIDS[@]}"; do
        kill "-${SIGNALS[$i]}" "${PIDS[$i]}" 2>/dev/null || true
    done
    for i in "${!PIDS[@]}"; do
        # Give each a moment, then insist.
        local n=0
        while kill -0 "${PIDS[$i]}" 2>/dev/null && ((n < 30)); do
            sleep 0.1
            n=$((n + 1))
        done
        kill -KILL "${PIDS[$i]}" 2>/dev/null || true
        wait "${PIDS[$i]}" 2>/dev/null || true
    done
    if [[ $KEEP_TMP == 1 ]]; then
        log "kept temp dir: $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_bg <name> <stop signal> <command...>: runs the command in the background with its
# output in $TMP/<name>.log.
start_bg() {
    local name=$1 sig=$2
    shift 2
    "$@" >"$TMP/$name.log" 2>&1 &
    PIDS+=("$!")
    SIGNALS+=("$sig")
    NAMES+=("$name")
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---- targets registry ---------------------------------------------------------------------

TARGET_ORDER=()
declare -A TARGET_URL=()
declare -A TARGET_HEADERS=() # newline-separated "Name: value" lines

# add_target <name> <url> [header ...]
add_target() {
    local name=$1 url=$2
    shift 2
    TARGET_ORDER+=("$name")
    TARGET_URL[$name]=$url
    local IFS=$'\n'
    TARGET_HEADERS[$name]="$*"
}

# Sets HDR_ARGS to `-H h1 -H h2 ...` for a target (both curl and wrk take -H).
header_args() {
    HDR_ARGS=()
    local h
    while IFS= read -r h; do
        [[ -n $h ]] && HDR_ARGS+=(-H "$h")
    done <<<"${TARGET_HEADERS[$1]}"
    return 0
}

wanted() {
    [[ -z ${TARGETS:-} ]] || [[ " $TARGETS " == *" $1 "* ]]
}

# ---- configuration files ------------------------------------------------------------------

# nginx_conf <dir> <server block>: a 1-worker nginx with everything under <dir>.
nginx_conf() {
    local dir=$1 server=$2 user_line=""
    mkdir -p "$dir/logs"
    # As root, run the worker as root too: the temp dir is private to this user.
    [[ $EUID -eq 0 ]] && user_line="user root;"
    cat >"$dir/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
$server
}
EOF
}

write_configs() {
    nginx_conf "$TMP/nginx-backend" "
    server {
        listen 127.0.0.1:$BACKEND_PORT;
        location / {
            return 200 \"ok\";
        }
    }"

    nginx_conf "$TMP/nginx-proxy" "
    upstream backend {
        server 127.0.0.1:$BACKEND_PORT;
        keepalive 256;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PROXY_PORT;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header X-Forwarded-Proto http;
        }
    }"

    cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    http-reuse always

frontend bench
    bind 127.0.0.1:$HAPROXY_PORT
    http-request set-header X-Forwarded-Proto http
    default_backend backend

backend backend
    server s1 127.0.0.1:$BACKEND_PORT
EOF

    # One tenant, one pool at the backend, default route "/" for every tenant.
    cat >"$TMP/tenants.yaml" <<EOF
tenants:
  - id: 5b0e7c1a-2d3f-4e5a-8b6c-7d8e9f0a1b2c
    name: Bench Tenant
    subdomain: bench
    tier: basic
EOF
    gateway_yaml "$TMP/gateway.yaml" "$GATEWAY_PORT" "$GATEWAY_ADMIN_PORT" '"off"'
    gateway_yaml "$TMP/gateway-log.yaml" "$GATEWAY_LOG_PORT" "$GATEWAY_LOG_ADMIN_PORT" \
        "\"$TMP/gateway-access.log\""
}

# gateway_yaml <file> <port> <admin port> <access_log value>
gateway_yaml() {
    cat >"$1" <<EOF
listeners:
  http: ["127.0.0.1:$2"]
  admin: "127.0.0.1:$3"
server:
  threads: 1
  grace_period: 0s
  graceful_shutdown_timeout: 1s
base_domains:
  - domain: bench.test
pools:
  backend:
    backends: ["127.0.0.1:$BACKEND_PORT"]
default_routes:
  - prefix: /
    pool: backend
tenants:
  source: file
  path: tenants.yaml
logging:
  level: warn
  access_log: $4
limits:
  upstream_keepalive_pool_size: 1024
EOF
}

# ---- start everything -----------------------------------------------------------------------

start_nginx() { # <name> <dir>
    start_bg "$1" TERM nginx -p "$2" -e "$2/logs/error.log" -c "$2/nginx.conf" -g 'daemon off;'
}

start_targets() {
    local p
    for p in $BACKEND_PORT $NGINX_PROXY_PORT $BARE_PINGORA_PORT $GATEWAY_PORT \
        $GATEWAY_ADMIN_PORT $GATEWAY_LOG_PORT $GATEWAY_LOG_ADMIN_PORT $HAPROXY_PORT; do
        port_free "$p" || die "port $p is already in use"
    done

    # The backend always runs: every proxy forwards to it.
    start_nginx backend "$TMP/nginx-backend"
    add_target backend "http://127.0.0.1:$BACKEND_PORT/"

    if wanted nginx-proxy; then
        start_nginx nginx-proxy "$TMP/nginx-proxy"
        add_target nginx-proxy "http://127.0.0.1:$NGINX_PROXY_PORT/"
    fi
    if wanted haproxy; then
        if command -v haproxy >/dev/null; then
            start_bg haproxy TERM haproxy -db -f "$TMP/haproxy.cfg"
            add_target haproxy "http://127.0.0.1:$HAPROXY_PORT/"
        else
            log "haproxy not installed: skipping it"
        fi
    fi
    if wanted bare-pingora; then
        start_bg bare-pingora INT "$TARGET_DIR/release/examples/bare_proxy" \
            --listen "127.0.0.1:$BARE_PINGORA_PORT" \
            --upstream "127.0.0.1:$BACKEND_PORT" --threads 1 --keepalive-pool 1024
        add_target bare-pingora "http://127.0.0.1:$BARE_PINGORA_PORT/"
    fi
    if wanted gateway; then
        start_bg gateway INT env -u RUST_LOG "$TARGET_DIR/release/tenant-gateway" \
            run -c "$TMP/gateway.yaml" --no-watch
        add_target gateway "http://127.0.0.1:$GATEWAY_PORT/" "Host: $BENCH_HOST"
    fi
    if wanted gateway-log; then
        start_bg gateway-log INT env -u RUST_LOG "$TARGET_DIR/release/tenant-gateway" \
            run -c "$TMP/gateway-log.yaml" --no-watch
        add_target gateway-log "http://127.0.0.1:$GATEWAY_LOG_PORT/" "Host: $BENCH_HOST"
    fi
    if [[ -n ${TARGETS:-} ]] && ! wanted backend; then
        # Started because the proxies need it, but not measured.
        TARGET_ORDER=("${TARGET_ORDER[@]:1}")
    fi
}

# Waits until a target answers 200 with the backend's "ok" (10s at most), so a proxy that
# answers by itself does not count; shows the process log if it never does.
wait_ready() {
    local name=$1 url=${TARGET_URL[$1]} answer="" i
    header_args "$name"
    for ((i = 0; i < 100; i++)); do
        answer=$(curl -sk --max-time 1 -w ' %{http_code}' "${HDR_ARGS[@]}" "$url" || true)
        [[ $answer == "ok 200" ]] && return 0
        sleep 0.1
    done
    log "$name did not answer 200 ok at $url (last answer: ${answer:-none})"
    [[ -f $TMP/$name.log ]] && tail -n 20 "$TMP/$name.log" >&2
    die "$name is not ready"
}

# ---- measuring ----------------------------------------------------------------------------

# wrk latency ("812.00us", "1.23ms", "2.00s", "1.00m") in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n
    }'
}

declare -A RPS=() P99=() ERRORS=()
LAST_REQUESTS=0
RESULTS=/dev/null # set to the results file once the runs start

# run_wrk <name> <duration> <record: 1|0>
run_wrk() {
    local name=$1 duration=$2 record=$3 out
    header_args "$name"
    out=$(wrk -t1 -c"$CONNECTIONS" -d"$duration" --latency "${HDR_ARGS[@]}" "${TARGET_URL[$name]}")
    [[ $record == 1 ]] || return 0

    local rps p99 non2xx sock errors
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    LAST_REQUESTS=$(awk '/ requests in / {print $1}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    # "Socket errors: connect 0, read 0, write 0, timeout 0"
    sock=$(awk '/Socket errors:/ {
        s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s }' <<<"$out")
    errors=$((${non2xx:-0} + ${sock:-0}))
    [[ -n $rps && -n $p99 ]] || die "could not parse wrk output for $name:"$'\n'"$out"
    p99=$(to_ms "$p99")

    RPS[$name]+="$rps "
    P99[$name]+="$p99 "
    ERRORS[$name]=$((${ERRORS[$name]:-0} + errors))
    printf '  %-14s %12s req/s   p99 %9s ms   errors %s\n' "$name" "$rps" "$p99" "$errors" |
        tee -a "$RESULTS"
    if ((errors > 0)); then
        log "$name: $errors non-2xx responses or socket errors in this run"
    fi
}

median() {
    printf '%s\n' "$@" | sort -g | awk '
        { a[NR] = $1 }
        END {
            if (NR == 0) { print "nan"; exit }
            if (NR % 2) printf "%.3f\n", a[(NR + 1) / 2]
            else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2
        }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.3f", a / b }'
}

# ---- main ---------------------------------------------------------------------------------

if [[ $SKIP_BUILD != 1 ]]; then
    log "building release binaries (tenant-gateway, examples/bare_proxy)"
    cargo build --release --bin tenant-gateway --example bare_proxy
fi
[[ -x $TARGET_DIR/release/tenant-gateway ]] || die "no release tenant-gateway binary"
[[ -x $TARGET_DIR/release/examples/bare_proxy ]] || die "no release bare_proxy binary"

write_configs
start_targets
for t in "${TARGET_ORDER[@]}"; do
    wait_ready "$t"
done
log "all targets answer 200: ${TARGET_ORDER[*]}"

mkdir -p bench-results
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=bench-results/load-$STAMP.txt

{
    echo "tenant-gateway load comparison, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "cpus: $(nproc)  kernel: $(uname -r)"
    echo "wrk -t1 -c$CONNECTIONS -d$DURATION --latency; rounds: $ROUNDS; warm-up: $WARMUP"
    echo "$(nginx -v 2>&1)"
    command -v haproxy >/dev/null && haproxy -v 2>/dev/null | head -n 1
    echo
} | tee "$RESULTS"

log "warm-up: $WARMUP per target"
for t in "${TARGET_ORDER[@]}"; do
    run_wrk "$t" "$WARMUP" 0
done

n=${#TARGET_ORDER[@]}
for ((r = 0; r < ROUNDS; r++)); do
    echo "round $((r + 1))/$ROUNDS" | tee -a "$RESULTS"
    # Rotate the start so no target is always first (or always right after the backend).
    for ((k = 0; k < n; k++)); do
        t=${TARGET_ORDER[$(((r + k) % n))]}
        if [[ $t == gateway-log ]]; then
            : >"$TMP/gateway-access.log" # keep the file small between runs
        fi
        run_wrk "$t" "$DURATION" 1
        if [[ $t == gateway-log ]]; then
            # The access log drops lines rather than wait when its writer falls behind.
            sleep 0.5
            lines=$(wc -l <"$TMP/gateway-access.log")
            echo "  (gateway-log: $lines access-log lines for $LAST_REQUESTS requests)" |
                tee -a "$RESULTS"
        fi
    done
done

{
    echo
    echo "medians over $ROUNDS round(s), $CONNECTIONS connections:"
    printf '%-14s %14s %14s %8s\n' target "req/s" "p99 (ms)" errors
    declare -A MED_RPS=() MED_P99=()
    for t in "${TARGET_ORDER[@]}"; do
        # shellcheck disable=SC2086 # word splitting of the value lists is intended
        MED_RPS[$t]=$(median ${RPS[$t]})
        # shellcheck disable=SC2086
        MED_P99[$t]=$(median ${P99[$t]})
        printf '%-14s %14s %14s %8s\n' "$t" "${MED_RPS[$t]}" "${MED_P99[$t]}" "${ERRORS[$t]:-0}"
    done
    echo
    echo "ratios (req/s: higher is better for the first; p99: lower is better):"
    for pair in "${RATIOS[@]}"; do
        read -r a b <<<"$pair"
        [[ -n ${MED_RPS[$a]:-} && -n ${MED_RPS[$b]:-} ]] || continue
        printf '  %-26s req/s %6sx   p99 %6sx\n' "$a/$b" \
            "$(ratio "${MED_RPS[$a]}" "${MED_RPS[$b]}")" \
            "$(ratio "${MED_P99[$a]}" "${MED_P99[$b]}")"
    done
} | tee -a "$RESULTS"

# Anything the gateways logged at warn or above is worth a look. Requests in flight when wrk
# stops are cut off by the client; Pingora logs each as "Downstream ConnectionClosed", so
# those are counted apart from everything else.
for g in gateway gateway-log; do
    [[ -f $TMP/$g.log ]] || continue
    total=$(grep -c . "$TMP/$g.log" || true)
    ((total > 0)) || continue
    closed=$(grep -c 'Downstream ConnectionClosed' "$TMP/$g.log" || true)
    {
        echo
        echo "$g log: $total line(s) at warn or above, $closed of them client disconnects" \
            "(requests cut off when wrk stops)"
        if ((total > closed)); then
            echo "other lines (first 5):"
            grep -v 'Downstream ConnectionClosed' "$TMP/$g.log" | head -n 5 | cut -c1-300
        fi
    } | tee -a "$RESULTS"
done

log "results written to $RESULTS"
