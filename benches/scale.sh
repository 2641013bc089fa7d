#!/usr/bin/env bash
# Many tenants on the file store (issue 14, goal 6): what do N tenants cost at start, in
# memory, per single-tenant change, and over a long series of reloads under load?
#
# 1. benches/scale/driver.py generates N tenants t0..t<N-1> (SHAPE=plain: id, name,
#    subdomain, tier; SHAPE=idp: also an OIDC `idp` block with a client_secret from the
#    environment and `tenant_binding: {claim: custom:tenantid}`, and one route of its own,
#    `auth: jwt`, except the probe tenant t<N/2>, whose route is `auth: none` so that plain
#    requests reach the backend). One gateway.yaml: a plain HTTP listener, the admin listener
#    with a token, one pool at a loopback nginx that answers 200 with the request's
#    X-Tenant-Name as its body, `access_log: off`, `server.threads: THREADS`. Every
#    configuration passes `tenant-gateway check` first.
# 2. Start: from spawning the process until the admin /readyz answers 200, for the empty
#    configuration (`tenants: []`) and for N tenants (once watching the files, once with
#    --no-watch).
# 3. RSS: VmRSS after one second of traffic and one of rest once ready (a serving gateway's
#    steady state: the allocator returns what the load freed when its threads next
#    allocate), empty and with N tenants; the delta per tenant.
#    Goal: <= 2 KB per plain tenant, <= 4 KB with idp.
# 4. One tenant's name changed, REPEAT times each way, median and max (goal <= 50 ms):
#    (a) file-watch    the tenants file rewritten (temp file + rename, as an editor saves)
#                      while the gateway watches it; includes the watcher's debounce
#                      (300 ms in src/store/watch.rs);
#    (b) admin-patch   PATCH /tenants/<id> {"name": ...}: time to the 200;
#    (c) admin-reload  the file rewritten, then POST /reload (--no-watch): time to the 200;
#    (d) admin-patch   again, after a restart on the file (b) wrote (the admin API's layout):
#                      the first change after a start, without parsing the whole file.
#    "visible" is always the time until a request to the probe tenant through the gateway
#    returns the new name (the backend echoes X-Tenant-Name). If the gateway's /reloads
#    history records a duration for the reload, it is shown too.
# 5. Reload soak (SOAK seconds): wrk -t1 -c16 (or oha at SOAK_RATE) on the probe tenant for
#    10 s without reloads, then for SOAK s while one PATCH per second renames the probe tenant
#    (a PATCH slower than a second delays the next; they never overlap) and VmRSS is sampled
#    every 10 s. Reports the RSS first/last/min/max, its band around the first sample (goal
#    ±10%), every sample, the load's errors (non-2xx/3xx responses and socket errors; goal 0)
#    and p99 during the soak against p99 without reloads (goal <= 1.2x).
#
# The summary is printed and written to bench-results/scale-<timestamp>.txt.
#
# Run from anywhere in the repository (needs cargo unless SKIP_BUILD=1, curl, python3
# (standard library only), nginx and wrk):
#
#   CARGO_TARGET_DIR=target-bench bash benches/scale.sh             # 100000 plain, 600 s soak
#   SHAPE=idp SOAK=0 bash benches/scale.sh                          # IdP + route per tenant
#   COUNT=2000 SOAK=10 REPEAT=3 bash benches/scale.sh               # smoke run, ~1 minute
#   GATEWAY_BIN=/path/to/old/tenant-gateway SKIP_BUILD=1 bash benches/scale.sh   # "before"
#
# Knobs (environment):
#   COUNT=100000      tenants
#   SHAPE=plain       plain | idp
#   REPEAT=5          changes per way in (4)
#   SOAK=600          soak seconds (one PATCH per second); 0 skips (5)
#   SOAK_BASELINE=10  seconds of wrk without reloads before the soak
#   RSS_EVERY=10      seconds between RSS samples in the soak
#   SOAK_CLIENT_IDLE=1  the soak's PATCH client runs under SCHED_IDLE; 0: as an ordinary process
#   SOAK_RATE=        requests/s: the soak's load (and its baseline) is oha at this fixed rate
#                     with --latency-correction, 16 connections, instead of wrk's closed loop
#                     (which keeps every core busy, so any reload work competes with it)
#   THREADS=1         gateway worker threads (server.threads)
#   PORT_BASE=18300   ports PORT_BASE (HTTP), +1 (admin), +2 (backend nginx); must be free
#   START_TIMEOUT=600 seconds to wait for /readyz
#   GATEWAY_BIN=      the tenant-gateway binary (default: the release build in
#                     CARGO_TARGET_DIR, built with `cargo build --release` unless SKIP_BUILD=1)
#   SKIP_BUILD=1      use the existing release binary
#   KEEP_TMP=1        keep the temp dir (configs, tenants file, gateway logs)
#
# Everything shares the machine's cores: during the soak wrk, nginx, the PATCH client and the
# gateway compete for them, and the polling client adds ~1 ms of resolution to "visible". The
# soak's PATCH client runs under SCHED_IDLE (`chrt --idle 0`): on two cores its own Python work
# (a few ms per PATCH, woken with a sleeper's priority) otherwise delays the proxy worker and
# counts as the gateway's reload cost. SOAK_CLIENT_IDLE=0 runs it as an ordinary process.

set -euo pipefail

COUNT=${COUNT:-100000}
SHAPE=${SHAPE:-plain}
REPEAT=${REPEAT:-5}
SOAK=${SOAK:-600}
SOAK_BASELINE=${SOAK_BASELINE:-10}
SOAK_RATE=${SOAK_RATE:-}
SOAK_CLIENT=(chrt --idle 0)
[[ ${SOAK_CLIENT_IDLE:-1} == 0 ]] && SOAK_CLIENT=()
RSS_EVERY=${RSS_EVERY:-10}
THREADS=${THREADS:-1}
PORT_BASE=${PORT_BASE:-18300}
START_TIMEOUT=${START_TIMEOUT:-600}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}

BENCH_TAG=scale
# shellcheck source=load/procs.sh
. "$(dirname "${BASH_SOURCE[0]}")/load/procs.sh" # REPO_ROOT (the working directory), TARGET_DIR
GATEWAY_BIN=${GATEWAY_BIN:-$TARGET_DIR/release/tenant-gateway}
DRIVER=$REPO_ROOT/benches/scale/driver.py

# shellcheck source=load/configs.sh
. "$REPO_ROOT/benches/load/configs.sh"

HTTP_PORT=$PORT_BASE
ADMIN_PORT=$((PORT_BASE + 1))
BACKEND_PORT=$((PORT_BASE + 2))
BASE_DOMAIN=bench.test
PROBE=$((COUNT / 2))
DEBOUNCE_MS=300 # the file watcher's debounce (src/store/watch.rs)
export SCALE_ADMIN_TOKEN=scale-bench-admin-token-0123456789
export SCALE_IDP_CLIENT_SECRET=scale-bench-client-secret

# ---- checks -------------------------------------------------------------------------------

check_tools() {
    local tool
    ((${#SOAK_CLIENT[@]} == 0)) || command -v chrt >/dev/null ||
        die "the soak's PATCH client needs chrt (util-linux), or SOAK_CLIENT_IDLE=0"
    for tool in curl python3 nginx wrk; do
        command -v "$tool" >/dev/null || die "$tool is not installed"
    done
    [[ $SKIP_BUILD == 1 ]] || command -v cargo >/dev/null || die "cargo is not installed"
    [[ $COUNT =~ ^[0-9]+$ && $COUNT -gt 0 ]] || die "COUNT must be a positive integer"
    [[ $SHAPE == plain || $SHAPE == idp ]] || die "SHAPE must be plain or idp"
    [[ $SOAK =~ ^[0-9]+$ ]] || die "SOAK must be a number of seconds"
    [[ -z $SOAK_RATE || $SOAK_RATE =~ ^[1-9][0-9]*$ ]] || die "SOAK_RATE must be requests per second"
    [[ -z $SOAK_RATE ]] || command -v oha >/dev/null ||
        die "SOAK_RATE needs oha (cargo install oha --locked)"
    local p
    for p in "$HTTP_PORT" "$ADMIN_PORT" "$BACKEND_PORT"; do
        port_free "$p" || die "port $p is in use (set PORT_BASE)"
    done
}

build() {
    if [[ $SKIP_BUILD != 1 ]]; then
        log "building the release binary in $TARGET_DIR"
        cargo build --release --bin tenant-gateway
    fi
    [[ -x $GATEWAY_BIN ]] || die "no tenant-gateway binary at $GATEWAY_BIN"
}

# ---- configuration ------------------------------------------------------------------------

# The backend: 200 with the tenant name the gateway sent (how a change is seen to apply).
write_backend() {
    nginx_conf "$TMP/nginx" "
    server {
        listen 127.0.0.1:$BACKEND_PORT;
        location / { return 200 \"\$http_x_tenant_name\"; }
    }"
}

# write_gateway <file> <tenants file name>: benches/load's bench configuration (one pool at
# the backend, base domain bench.test, access log off) with an admin token.
write_gateway() {
    gateway_yaml "$1" "$HTTP_PORT" "$ADMIN_PORT" '"off"' "$2"
    printf 'admin:\n  token_env: SCALE_ADMIN_TOKEN\n' >>"$1"
}

# check_config <gateway.yaml>: `tenant-gateway check`, stopping with its messages on failure.
check_config() {
    local out
    if ! out=$("$GATEWAY_BIN" check -c "$1" 2>&1); then
        printf '%s\n' "$out" | head -n 30 >&2
        die "tenant-gateway check -c $1 failed"
    fi
}

write_configs() {
    log "generating $COUNT $SHAPE tenants"
    python3 "$DRIVER" gen 0 "$SHAPE" 0 "$TMP/tenants-empty.yaml"
    python3 "$DRIVER" gen "$COUNT" "$SHAPE" "$PROBE" "$TMP/tenants.yaml"
    TENANTS_BYTES=$(stat -c %s "$TMP/tenants.yaml")
    write_gateway "$TMP/gateway-empty.yaml" tenants-empty.yaml
    write_gateway "$TMP/gateway.yaml" tenants.yaml
    write_backend
    log "checking the configurations"
    check_config "$TMP/gateway-empty.yaml"
    local t0
    t0=$(date +%s%N)
    check_config "$TMP/gateway.yaml"
    CHECK_MS=$((($(date +%s%N) - t0) / 1000000))
}

# ---- processes ----------------------------------------------------------------------------

start_backend() {
    start_bg nginx TERM nginx -p "$TMP/nginx" -e "$TMP/nginx/logs/error.log" \
        -c "$TMP/nginx/nginx.conf" -g 'daemon off;'
    local n=0
    until curl -s -o /dev/null "http://127.0.0.1:$BACKEND_PORT/"; do
        ((n++ < 100)) || die "nginx did not start: $(cat "$TMP/nginx.log")"
        sleep 0.05
    done
}

# start_gateway <name> <config> [--no-watch]: sets GW_PID, START_MS and RSS_KIB (VmRSS after
# a second of traffic and a second of rest, once /readyz answered 200).
start_gateway() {
    local name=$1 conf=$2 t0
    shift 2
    t0=$(date +%s%N)
    start_bg "$name" INT env -u RUST_LOG "$GATEWAY_BIN" run -c "$conf" "$@"
    GW_PID=${PIDS[-1]}
    START_MS=$(python3 "$DRIVER" ready "http://127.0.0.1:$ADMIN_PORT/readyz" "$t0" "$START_TIMEOUT")
    if [[ $START_MS == timeout ]] || ! kill -0 "$GW_PID" 2>/dev/null; then
        tail -n 20 "$TMP/$name.log" >&2
        die "$name did not become ready"
    fi
    # One second of traffic, then a second of rest: mimalloc returns the memory a load
    # freed when its threads next allocate, so an idle, just-started process still holds
    # what parsing and validation freed (about 3× what it keeps at 100,000 tenants).
    wrk -t1 -c4 -d1s -H "Host: $PROBE_HOST" "http://127.0.0.1:$HTTP_PORT/" >/dev/null 2>&1 || true
    sleep 1
    RSS_KIB=$(awk '/^VmRSS:/ { print $2 }' "/proc/$GW_PID/status")
    log "$name: ready after $START_MS ms, RSS $((RSS_KIB / 1024)) MiB"
}

# stop_gateway: SIGINT, then wait for the process to go (the ports are reused).
stop_gateway() {
    kill -INT "$GW_PID" 2>/dev/null || true
    local n=0
    while kill -0 "$GW_PID" 2>/dev/null && ((n++ < 100)); do sleep 0.1; done
    kill -KILL "$GW_PID" 2>/dev/null || true
    wait "$GW_PID" 2>/dev/null || true
    n=0
    while ! port_free "$ADMIN_PORT" && ((n++ < 100)); do sleep 0.1; done
}

# ---- measurements -------------------------------------------------------------------------

# measure_change <mode> <result var prefix>: sets <prefix>_VIS, _HTTP, _GW ("median / max"),
# _FIELD and _FIRST (the first change's HTTP time) from the driver's summary.
measure_change() {
    local mode=$1 prefix=$2 out _s vm vx hm hx gm gx field first
    log "($mode) $REPEAT single-tenant renames"
    out=$(python3 "$DRIVER" change "$mode" "$HTTP_PORT" "$ADMIN_PORT" "$SCALE_ADMIN_TOKEN" \
        "$TMP/tenants.yaml" "$PROBE_ID" "$PROBE_HOST" "$REPEAT" "$mode" 2> >(tee -a "$TMP/changes.log" >&2))
    read -r _s vm vx hm hx gm gx field first <<<"$(grep '^summary' <<<"$out")"
    printf -v "${prefix}_VIS" '%s / %s' "$vm" "$vx"
    printf -v "${prefix}_HTTP" '%s / %s' "$hm" "$hx"
    printf -v "${prefix}_GW" '%s / %s' "$gm" "$gx"
    printf -v "${prefix}_FIELD" '%s' "$field"
    printf -v "${prefix}_FIRST" '%s' "$first"
}

# run_wrk <seconds> <output file>
run_wrk() {
    wrk -t1 -c16 -d"$1"s --latency -H "Host: $PROBE_HOST" "http://127.0.0.1:$HTTP_PORT/" >"$2"
}

# wrk_figures <wrk output>: "<requests/s> <p99 ms> <errors>"
wrk_figures() {
    awk '
        /^Requests\/sec:/ { rps = $2 }
        $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); v += 0
            p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
        /Non-2xx or 3xx responses:/ { err += $NF }
        /Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) err += $i }
        END { printf "%s %.2f %d\n", rps, p99, err }' "$1"
}

# run_oha <seconds> <output file>: SOAK_RATE requests/s, latency from when each was due.
run_oha() {
    oha -z "$1"s -q "$SOAK_RATE" -c 16 --no-tui --output-format json --latency-correction \
        -H "Host: $PROBE_HOST" "http://127.0.0.1:$HTTP_PORT/" >"$2"
}

# oha_figures <oha JSON>: "<requests/s> <p99 ms> <errors>" (requests cut off by the end of
# the run are not errors; any other error or a non-2xx is).
oha_figures() {
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
codes = d.get("statusCodeDistribution") or {}
errs = d.get("errorDistribution") or {}
bad = sum(n for c, n in codes.items() if not str(c).startswith("2"))
bad += sum(n for e, n in errs.items() if "deadline" not in e)
print("%.2f %.2f %d" % (d["summary"]["requestsPerSec"], d["latencyPercentiles"]["p99"] * 1000, bad))
' "$1"
}

# run_load / load_figures / load_name: wrk's closed loop, or oha at SOAK_RATE.
run_load() { if [[ -n $SOAK_RATE ]]; then run_oha "$@"; else run_wrk "$@"; fi; }
load_figures() { if [[ -n $SOAK_RATE ]]; then oha_figures "$@"; else wrk_figures "$@"; fi; }
load_name() { if [[ -n $SOAK_RATE ]]; then echo "oha -c16 at $SOAK_RATE req/s"; else echo "wrk -t1 -c16"; fi; }

soak() {
    log "soak: ${SOAK_BASELINE}s of $(load_name) without reloads"
    run_load "$SOAK_BASELINE" "$TMP/load-baseline.txt"
    read -r BASE_RPS BASE_P99 BASE_ERR <<<"$(load_figures "$TMP/load-baseline.txt")"
    log "soak: ${SOAK}s of $(load_name) with one PATCH per second"
    run_load "$SOAK" "$TMP/load-soak.txt" &
    local load_pid=$!
    SOAK_OUT=$("${SOAK_CLIENT[@]}" python3 "$DRIVER" soak "$ADMIN_PORT" "$SCALE_ADMIN_TOKEN" "$PROBE_ID" "$SOAK" \
        "$GW_PID" "$RSS_EVERY" "$TMP/soak.txt")
    wait "$load_pid"
    read -r SOAK_RPS SOAK_P99 SOAK_ERR <<<"$(load_figures "$TMP/load-soak.txt")"
    read -r _ PATCHES _ PATCH_FAILED _ PATCH_MED _ PATCH_MAX _ RSS_FIRST _ RSS_LAST \
        _ RSS_MIN _ RSS_MAX _ BAND_LO _ BAND_HI _ RSS_SAMPLES <<<"$SOAK_OUT"
}

# ---- report -------------------------------------------------------------------------------

mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
row() { printf '%-48s %s\n' "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "n/a" }'; }

report() {
    local per_tenant goal
    per_tenant=$(((RSS_N - RSS_EMPTY) * 1024 / COUNT))
    goal=$([[ $SHAPE == idp ]] && echo 4096 || echo 2048)
    echo "tenant-gateway with many tenants (file store), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "binary: $GATEWAY_BIN ($(stat -c %y "$GATEWAY_BIN" | cut -d. -f1))"
    echo "cpus: $(nproc)  kernel: $(uname -r)  server.threads: $THREADS"
    echo "tenants: $COUNT, shape $SHAPE, file $((TENANTS_BYTES / 1024)) KiB; probe tenant t$PROBE"
    echo
    row "tenant-gateway check (N tenants)" "$CHECK_MS ms"
    row "start, empty (spawn -> /readyz 200)" "$START_EMPTY ms"
    row "start, N tenants, watching files" "$START_N ms"
    row "start, N tenants, --no-watch" "$START_N2 ms"
    row "RSS, empty" "$(mib "$RSS_EMPTY")"
    row "RSS, N tenants (watching / --no-watch)" "$(mib "$RSS_N") / $(mib "$RSS_N2")"
    row "RSS per tenant (N - empty) / N" "$per_tenant bytes (goal <= $goal)"
    echo
    echo "single-tenant rename at N tenants, $REPEAT each, median / max ms (goal <= 50):"
    row "(a) file edit, watcher: visible" "$A_VIS (includes the ${DEBOUNCE_MS} ms debounce)"
    row "    minus the debounce" "$(awk -v d="$DEBOUNCE_MS" '{ printf "%.1f / %.1f", $1 - d, $3 - d }' <<<"$A_VIS")"
    row "(b) PATCH /tenants/{id}: 200" "$B_HTTP"
    row "    visible" "$B_VIS"
    row "    the first (the generated file, parsed whole)" "$B_FIRST"
    row "(d) PATCH after a restart on the file (b) wrote" "$D_HTTP"
    row "    the first (records parsed as asked for)" "$D_FIRST"
    row "(c) file edit + POST /reload: 200" "$C_HTTP"
    row "    visible" "$C_VIS"
    if [[ $A_FIELD != - || $B_FIELD != - || $C_FIELD != - ]]; then
        row "gateway-recorded (a) / (b) / (c) ($A_FIELD)" "$A_GW | $B_GW | $C_GW"
    else
        row "gateway-recorded reload duration" "none (GET /reloads records no duration)"
    fi
    if ((SOAK > 0)); then
        echo
        echo "reload soak: $(load_name) on t$PROBE, ${SOAK}s, one PATCH per second:"
        row "PATCHes done (failed)" "$PATCHES ($PATCH_FAILED), median $PATCH_MED ms, max $PATCH_MAX ms"
        row "RSS first / last" "$(mib "$RSS_FIRST") / $(mib "$RSS_LAST") ($RSS_SAMPLES samples)"
        row "RSS min / max" "$(mib "$RSS_MIN") / $(mib "$RSS_MAX")"
        row "RSS band around the first sample" "$BAND_LO% .. +$BAND_HI% (goal ±10%)"
        row "RSS samples, MiB, every ${RSS_EVERY}s" \
            "$(awk '/^rss / { printf "%s%d", sep, $3 / 1024; sep = " " }' "$TMP/soak.txt")"
        row "load errors without / during reloads" "$BASE_ERR / $SOAK_ERR (goal 0)"
        row "requests/s without / during reloads" "$BASE_RPS / $SOAK_RPS"
        row "p99 without / during reloads" "$BASE_P99 ms / $SOAK_P99 ms ($(ratio "$SOAK_P99" "$BASE_P99"), goal <= 1.2x)"
        if ((PATCH_FAILED > 0)); then
            grep '^failed' "$TMP/soak.txt" | head -n 3 | sed 's/^/  /'
        fi
    fi
    echo
    echo "gateway logs: $(cat "$TMP"/gw-*.log | grep -c '"level":"WARN"' || true) warn," \
        "$(cat "$TMP"/gw-*.log | grep -c '"level":"ERROR"' || true) error lines"
    { cat "$TMP"/gw-*.log | grep -E '"level":"(WARN|ERROR)"' || true; } | head -n 5 | cut -c1-300 | sed 's/^/  /'
}

# ---- run ----------------------------------------------------------------------------------

main() {
    check_tools
    build
    write_configs
    PROBE_ID=$(python3 "$DRIVER" id "$PROBE")
    PROBE_HOST=t$PROBE.$BASE_DOMAIN
    start_backend

    start_gateway gw-empty "$TMP/gateway-empty.yaml" --no-watch
    START_EMPTY=$START_MS RSS_EMPTY=$RSS_KIB
    stop_gateway

    start_gateway gw-watch "$TMP/gateway.yaml"
    START_N=$START_MS RSS_N=$RSS_KIB
    measure_change file-watch A
    stop_gateway

    start_gateway gw-nowatch "$TMP/gateway.yaml" --no-watch
    START_N2=$START_MS RSS_N2=$RSS_KIB
    measure_change admin-reload C
    measure_change admin-patch B
    ((SOAK == 0)) || soak
    stop_gateway

    # Restarted on the file the admin API wrote: its first change no longer parses the file.
    start_gateway gw-restart "$TMP/gateway.yaml" --no-watch
    measure_change admin-patch D
    stop_gateway

    mkdir -p bench-results
    RESULTS=bench-results/scale-$(date +%Y%m%d-%H%M%S).txt
    report | tee "$RESULTS"
    log "results written to $RESULTS"
    if ((SOAK > 0)) && ((SOAK_ERR > 0 || PATCH_FAILED > 0)); then
        die "requests or PATCHes failed during the soak"
    fi
}

main
