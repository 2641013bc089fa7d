#!/usr/bin/env bash
# Load comparison: what does tenant-gateway cost per request, next to other proxies?
#
# On one machine, against the SAME backend (nginx answering `200 ok`, THREADS workers), it
# runs wrk against each target in turn, alternating targets over several rounds so drift
# (thermal, noisy neighbours, the other CPU user) spreads evenly:
#
#   backend       nginx itself, no proxy in between (the ceiling)
#   nginx-proxy   nginx reverse proxy, upstream keepalive, adds one header
#   haproxy       haproxy, http-reuse always, adds one header (if installed)
#   bare-pingora  examples/bare_proxy.rs: Pingora forwarding to one peer, adds one header
#   gateway       tenant-gateway, access log off, Host: bench.bench.test
#   gateway-log   the same with the access log written to a file
#   gateway-jwt   the gateway's configuration with a second route for the bench tenant, /api
#                 with `auth: jwt`; the tenant's IdP is a Cognito pool (issuer
#                 https://bench-idp.test/pool, client bench-client) whose JWKS the backend
#                 nginx serves. wrk sends one RS256 id token (minted here, offline), so every
#                 request after the first is answered from the validated-token cache
#   gateway-jwt-assert  gateway-jwt with the signed tenant assertion on
#   gateway-jwt-many    gateway-jwt's configuration in its own process; wrk sends JWT_TOKENS
#                 (10,000) distinct valid tokens of the bench tenant (sub bench-user-<i>),
#                 each request the next one (benches/load/jwt-rotate.lua), so the cache answers
#                 from 10,000 entries (the default auth.claims_cache_size, 100000, holds them).
#                 Before any warm-up, its COLD FIRST PASS is measured: wrk with the same
#                 connections sends each token exactly once (each wrk thread its slice,
#                 timed by the wall clock from its first request to its last response,
#                 benches/load/jwt-rotate-once.lua), so every request pays for an RS256
#                 signature check and a cache insert; printed as req/s and against gateway
#   gateway-limited     the plain gateway under a tier limit never hit
#   nginx-tls     nginx terminating TLS (self-signed EC P-256 certificate for
#                 bench.bench.test), upstream keepalive, adds one header
#   gateway-tls   tenant-gateway with an https listener serving the same certificate (static)
#   nginx-tls-hs, gateway-tls-hs
#                 the two TLS targets with `Connection: close`: every request on a new TLS
#                 connection. wrk (OpenSSL) offers the last session on reconnect and both
#                 servers resume it by default (the results header shows "reconnect:
#                 Reused"), so these are mostly abbreviated TLS 1.3 handshakes (PSK with
#                 ECDHE, no certificate or signature), plus a TCP connect each
#   nginx-tls-full, gateway-tls-full
#                 full handshakes per second, no resumption (ECDHE and the certificate's
#                 signature every time), no request: benches/load/handshakes.py with
#                 TLS_CLIENTS client processes, SNI bench.bench.test; the p99 column is "-"
#   nginx-h2, gateway-h2
#                 HTTP/2 over TLS (h2 by ALPN) on the two TLS servers: h2load with CONNECTIONS
#                 clients, H2_STREAMS (10) concurrent streams each, THREADS threads (if
#                 installed: nghttp2-client); the p99 column holds h2load's mean request time
#
# Every proxy gets THREADS worker threads (gateway server.threads, bare_proxy --threads,
# nginx worker_processes, haproxy nbthread; the backend nginx THREADS workers too) and keeps
# upstream connections alive. wrk uses THREADS threads and keep-alive connections (except
# the *-hs targets). HTTPS targets are addressed as https://bench.bench.test:<port>/ so wrk
# sends the bench host as SNI; a small wrk Lua script (and curl's --resolve) connects them to
# 127.0.0.1 without any name lookup. wrk does not verify certificates and speaks HTTP/1.1 (no
# ALPN). Medians over the rounds are printed, with the ratios in RATIOS
# (benches/load/targets.sh), and written to bench-results/load-<timestamp>.txt. All traffic
# stays on loopback (ports 18080-18099; PORT_BASE moves them). Every gateway configuration
# is validated with `tenant-gateway check` before it starts.
#
# With RATE_ROUND=1 (or RATE set), a fixed-rate latency round follows the saturation rounds:
# nginx-proxy, bare-pingora and gateway (those that ran) each get a constant offered load,
# RATE req/s (default: half the gateway's median saturation req/s of this run) for
# RATE_DURATION, from oha with --latency-correction; p50/p99/p99.9 are printed per target with
# the ratio gateway p99 / nginx-proxy p99. Without oha on PATH the round is skipped with a
# message (`cargo install oha --locked`).
#
# Run from anywhere in the repository (needs cargo, wrk, nginx, curl, openssl, python3 for
# the JWT and TLS-full targets (standard library; the `cryptography` package, if importable,
# mints gateway-jwt-many's tokens in seconds instead of a minute); haproxy and oha optional):
#
#   bash benches/load.sh                            # 5 rounds of 8s at 64 connections
#   ROUNDS=1 DURATION=2s bash benches/load.sh       # smoke run
#   THREADS=4 RATE_ROUND=1 bash benches/load.sh     # 4 threads, 256 connections, fixed rate
#
# Knobs (environment):
#   ROUNDS=5  DURATION=8s  WARMUP=2s   per-target wrk settings
#   THREADS=1         worker threads of every proxy and the backend nginx, wrk -t
#   CONNECTIONS=64    wrk (and oha) connections; default 64 x THREADS when THREADS > 1
#   TARGETS="backend nginx-proxy ..."   only these targets (default: all available):
#                     backend nginx-proxy haproxy bare-pingora gateway gateway-log
#                     gateway-jwt gateway-jwt-assert gateway-jwt-many gateway-limited
#                     nginx-tls gateway-tls nginx-tls-hs gateway-tls-hs nginx-tls-full
#                     gateway-tls-full nginx-h2 gateway-h2
#                     (a ratio is printed when both of its targets ran)
#   JWT_TOKENS=10000  gateway-jwt-many's distinct tokens
#   H2_STREAMS=10     concurrent streams per h2load client of the *-h2 targets
#   TLS_CLIENTS=2xTHREADS  handshake client processes of the *-tls-full targets (two per
#                     server thread, so the server has the next handshake waiting while a
#                     client works on its half)
#   RATE_ROUND=0      1: run the fixed-rate latency round
#   RATE=             its offered load in req/s (setting it implies RATE_ROUND=1)
#   RATE_DURATION=10s  RATE_ROUNDS=ROUNDS   its length per target and its rounds
#   SKIP_BUILD=1      use the existing release binaries
#   KEEP_TMP=1        keep the temp dir (configs, logs) and print where it is
#   PORT_BASE=18080   the 20 loopback ports used are PORT_BASE..PORT_BASE+19
#
# The numbers are only comparable within one run: wrk, the backend and the proxy share the
# machine's cores. On a 2-core box the proxy under test competes with wrk and the backend,
# so read the ratios, not the absolute req/s.
#
# The pieces, under benches/load/:
#   procs.sh     logging, the temp dir, background processes and their cleanup, ports
#   targets.sh   ports, the bench tenant and IdP, RATIOS, the target registry, starting
#                every target and checking that it answers
#   configs.sh   nginx, haproxy and tenant-gateway configuration files
#   keys.sh      the TLS certificate, the IdP key, JWKS and tokens (with jwt.py)
#   measure.sh   one wrk run, handshakes, the cold first pass, the fixed-rate round (oha)
#   report.sh    medians, ratios, the tables, metrics and gateway logs
#   jwt.py, jwt-rotate.lua, jwt-rotate-once.lua, handshakes.py   helpers of the above
#
# Adding a round type: start its process in start_targets (targets.sh) with start_bg (or
# start_gateway for a tenant-gateway, which runs `tenant-gateway check` first), write its
# configuration in write_configs (configs.sh), then register it with
#     add_target <name> <url> [header ...]
# (an https:// URL works for wrk and for the readiness check; use https://$BENCH_HOST:<port>/
# to send the bench host as SNI; TARGET_SCRIPT/TARGET_SCRIPT_ARGS give it its own wrk Lua
# script). Ratios are listed in RATIOS.

set -euo pipefail

THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8s}
if ((THREADS > 1)); then
    CONNECTIONS=${CONNECTIONS:-$((64 * THREADS))}
else
    CONNECTIONS=${CONNECTIONS:-64}
fi
WARMUP=${WARMUP:-2s}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
PORT_BASE=${PORT_BASE:-18080}
JWT_TOKENS=${JWT_TOKENS:-10000}
TLS_CLIENTS=${TLS_CLIENTS:-$((2 * THREADS))}
RATE=${RATE:-}
RATE_ROUND=${RATE_ROUND:-0}
[[ -n $RATE ]] && RATE_ROUND=1
RATE_DURATION=${RATE_DURATION:-10s}
RATE_ROUNDS=${RATE_ROUNDS:-$ROUNDS}

# shellcheck source=load/procs.sh
. "$(dirname "${BASH_SOURCE[0]}")/load/procs.sh" # REPO_ROOT (the working directory), TARGET_DIR
for piece in targets configs keys measure report; do
    # shellcheck source=/dev/null
    source "$REPO_ROOT/benches/load/$piece.sh"
done

for tool in wrk nginx curl cargo openssl; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer, not $THREADS"

# ---- main ---------------------------------------------------------------------------------

if [[ $SKIP_BUILD != 1 ]]; then
    log "building release binaries (tenant-gateway, examples/bare_proxy)"
    cargo build --release --bin tenant-gateway --example bare_proxy
fi
[[ -x $TARGET_DIR/release/tenant-gateway ]] || die "no release tenant-gateway binary"
[[ -x $TARGET_DIR/release/examples/bare_proxy ]] || die "no release bare_proxy binary"

if wanted_any nginx-tls-full gateway-tls-full; then
    command -v python3 >/dev/null || die "python3 is not installed (needed for *-tls-full)"
fi
if wanted_any nginx-tls gateway-tls nginx-tls-hs gateway-tls-hs nginx-tls-full gateway-tls-full \
    nginx-h2 gateway-h2; then
    make_cert
fi
if wanted_any gateway-jwt gateway-jwt-assert gateway-jwt-many; then
    command -v python3 >/dev/null || die "python3 is not installed (needed for gateway-jwt)"
    if wanted gateway-jwt-many; then
        make_jwt many
    else
        make_jwt
    fi
fi
write_configs
start_targets
for t in "${TARGET_ORDER[@]}"; do
    wait_ready "$t"
done
for t in gateway-jwt gateway-jwt-many; do
    if [[ -n ${TARGET_URL[$t]:-} ]]; then
        check_jwt_route "$t"
    fi
done
log "all targets answer 200: ${TARGET_ORDER[*]}"

mkdir -p bench-results
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=bench-results/load-$STAMP.txt

{
    echo "tenant-gateway load comparison, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "cpus: $(nproc)  kernel: $(uname -r)"
    echo "threads: $THREADS (each proxy, the backend nginx, wrk -t)"
    echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency; rounds: $ROUNDS; warm-up: $WARMUP"
    echo "$(nginx -v 2>&1)"
    command -v haproxy >/dev/null && haproxy -v 2>/dev/null | head -n 1
    if wanted_any nginx-tls nginx-tls-hs nginx-tls-full; then
        echo "nginx-tls TLS: $(tls_info "$NGINX_TLS_PORT")"
    fi
    if wanted_any gateway-tls gateway-tls-hs gateway-tls-full; then
        echo "gateway-tls TLS: $(tls_info "$GATEWAY_TLS_PORT")"
    fi
    if wanted_any nginx-tls-hs gateway-tls-hs; then
        echo "*-tls-hs: Connection: close, one TLS connection per request"
    fi
    if wanted_any nginx-tls-full gateway-tls-full; then
        echo "*-tls-full: full handshakes/s (no resumption, SNI $BENCH_HOST), $TLS_CLIENTS client process(es)"
    fi
    if wanted_any nginx-h2 gateway-h2; then
        echo "*-h2: h2load -c$CONNECTIONS -t$THREADS -m${H2_STREAMS:-10}, HTTP/2 over TLS; p99 column: mean request time"
    fi
    if wanted gateway-jwt-many; then
        echo "gateway-jwt-many: $JWT_TOKENS distinct tokens in rotation"
    fi
    echo
} | tee "$RESULTS"

if [[ -n ${TARGET_URL[gateway-jwt-many]:-} ]]; then
    log "gateway-jwt-many: cold first pass through $JWT_TOKENS tokens"
    jwt_cold_pass
    echo "gateway-jwt-many cold first pass: $COLD_LINE" | tee -a "$RESULTS"
fi

log "warm-up: $WARMUP per target"
for t in "${TARGET_ORDER[@]}"; do
    run_target "$t" "$WARMUP" 0
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
        run_target "$t" "$DURATION" 1
        if [[ $t == gateway-log ]]; then
            # The access log drops lines rather than wait when its writer falls behind.
            sleep 0.5
            lines=$(wc -l <"$TMP/gateway-access.log")
            echo "  (gateway-log: $lines access-log lines for $LAST_REQUESTS requests)" |
                tee -a "$RESULTS"
        fi
    done
done

compute_medians
print_summary | tee -a "$RESULTS"

if [[ $RATE_ROUND == 1 ]]; then
    if rate_round; then
        print_rate_summary | tee -a "$RESULTS"
    else
        printf '\nfixed-rate round skipped: %s\n' "$RATE_SKIPPED" | tee -a "$RESULTS"
    fi
fi

print_after | tee -a "$RESULTS"

log "results written to $RESULTS"
