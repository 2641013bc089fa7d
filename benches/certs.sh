#!/usr/bin/env bash
# Many stored certificates: what do start time, memory and first-handshake latency cost when
# the gateway's certs_dir holds N ACME certificates (default 100000)?
#
# 1. examples/gen_certs.rs makes a throwaway CA (P-256) and N leaves for t<i>.bench.test,
#    each with its own P-256 key, in the file storage's layout:
#    <certs_dir>/acme/<host>/{fullchain.pem,privkey.pem,meta.json}. The set is cached in
#    $CARGO_TARGET_DIR/certs-<N>/ (regenerated when older than 30 days: the leaves are valid
#    for 60 days from the day before generation), so reruns skip it.
# 2. One gateway: an https listener, the admin listener, `tls.certs_dir` at that set, no
#    static certificate, no `tls.acme` block, and ONE tenant. A handshake's certificate depends
#    only on the SNI (src/tls/resolver.rs: the index of stored certificates by name, and the
#    TLS gate loads the SNI's certificate before the handshake), not on tenants; tenants only
#    decide what ACME orders, and without `tls.acme` nothing is ordered or renewed. Stored
#    certificates are read from certs_dir whenever `tls` is configured (TlsState::load), so N
#    tenants are not needed (TENANTS=all makes one tenant t<i> per certificate anyway, to see
#    the combined memory). The configuration passes `tenant-gateway check` first.
# 3. Measures:
#    (a) start: from spawning the process until the admin /readyz answers 200;
#    (b) RSS (VmRSS, and the peak VmHWM) after start;
#    (c) first-handshake latency of SAMPLE random hosts (fixed SEED), each a fresh TLS
#        connection (python3 ssl, TLS 1.3, no session reuse) with that host as SNI: TCP
#        connect + handshake, median / p99 / max;
#    (d) "all used once": a handshake for every host (or COUNT_USED of them) from PROCS
#        client processes, then RSS again;
#    (e) the same sample as (c) again (now cached, or evicted by (d)).
#    Every handshake verifies the chain against the bench CA and that the certificate names
#    the SNI (subjectAltName and subject CN); a wrong certificate counts as a failed
#    handshake. The summary is printed and written to bench-results/certs-<timestamp>.txt.
#
# Run from anywhere in the repository (needs cargo, curl, python3 (standard library only)):
#
#   CARGO_TARGET_DIR=target-bench bash benches/certs.sh            # 100000 certificates
#   CARGO_TARGET_DIR=target-bench STORE=dynalite bash benches/certs.sh   # a fleet's table
#   COUNT=20000 bash benches/certs.sh
#   GATEWAY_BIN=/path/to/old/tenant-gateway SKIP_BUILD=1 bash benches/certs.sh   # "before"
#
# Knobs (environment):
#   COUNT=100000      stored certificates (hosts t0..t<COUNT-1>.bench.test)
#   STORE=files       files: the certs_dir; dynalite: a fleet node whose certificates are in
#                     the certs table of a dynalite server on loopback (the set is copied there
#                     with `tenant-gateway dynamodb import-certs`, timed; tenants from the
#                     table; a `tls.acme` block whose CA is unreachable, so nothing is ordered
#                     and the stored certificates are what is served)
#   SAMPLE=200        cold hosts measured in (c) and (e)
#   SEED=1            the sample's random seed
#   COUNT_USED=COUNT  hosts handshaken in (d) (the sample's hosts are always among them)
#   PROCS=4           client processes for (d)
#   THREADS=2         gateway worker threads (server.threads)
#   TENANTS=1         1: one tenant; all: one tenant t<i> per certificate
#   CACHE_MIB=        tls.certificate_cache_mib, when set (only binaries that know it)
#   START_TIMEOUT=900 seconds to wait for /readyz
#   GATEWAY_BIN=      the tenant-gateway binary to measure (default: the release build)
#   SKIP_BUILD=1      use the existing release binaries
#   KEEP_TMP=1        keep the temp dir (configs, gateway log) and print where it is
#
# The client and the gateway share the machine's cores: latencies include the Python
# client's own TLS work (~1 ms). The certificate files are usually in the page cache (they
# were just generated or read by a previous run), so "cold" means not yet loaded by the
# gateway, not read from the disk.

set -euo pipefail

COUNT=${COUNT:-100000}
SAMPLE=${SAMPLE:-200}
SEED=${SEED:-1}
COUNT_USED=${COUNT_USED:-$COUNT}
PROCS=${PROCS:-4}
THREADS=${THREADS:-2}
TENANTS=${TENANTS:-1}
STORE=${STORE:-files}
CACHE_MIB=${CACHE_MIB:-}
START_TIMEOUT=${START_TIMEOUT:-900}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
BASE_DOMAIN=bench.test

BENCH_TAG=certs
# shellcheck source=load/procs.sh
. "$(dirname "${BASH_SOURCE[0]}")/load/procs.sh" # REPO_ROOT (the working directory), TARGET_DIR
GATEWAY_BIN=${GATEWAY_BIN:-$TARGET_DIR/release/tenant-gateway}
GEN_BIN=$TARGET_DIR/release/examples/gen_certs


for tool in cargo curl python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ $COUNT =~ ^[0-9]+$ && $COUNT -gt 0 ]] || die "COUNT must be a positive integer"
((SAMPLE <= COUNT)) || SAMPLE=$COUNT
((COUNT_USED <= COUNT)) || COUNT_USED=$COUNT

# ---- helpers ------------------------------------------------------------------------------

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# rss <pid>: "VmRSS VmHWM" in MiB.
rss() {
    awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 }
        END { printf "%.1f %.1f\n", r / 1024, h / 1024 }' "/proc/$1/status"
}

# ---- the handshake client (python3, standard library) -------------------------------------

cat >"$TMP/hs.py" <<'PYEOF'
"""Handshake timing for benches/certs.sh.

  hs.py sample <port> <ca> <hosts file> <out>    one fresh connection per host, in order
  hs.py all <port> <ca> <hosts file> <procs>     every host once from <procs> processes
Each line of <out>: "<host> <ms> ok" or "<host> <ms> FAIL <reason>". `all` prints a summary.
"""
import multiprocessing
import socket
import ssl
import sys
import time


def context(ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.check_hostname = True
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def handshake(ctx, port, host, src):
    """(ms, None) or (ms, reason): TCP connect + TLS handshake with `host` as SNI, then
    checks that the certificate names `host` (subjectAltName and subject CN)."""
    t = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60, source_address=(src, 0)) as s:
            with ctx.wrap_socket(s, server_hostname=host) as tls:
                ms = (time.perf_counter() - t) * 1000
                cert = tls.getpeercert()
        sans = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
        cn = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
        if host not in sans or cn != [host]:
            return ms, "wrong certificate: CN=%s SAN=%s" % (cn, sans)
        return ms, None
    except ssl.SSLCertVerificationError as e:
        return (time.perf_counter() - t) * 1000, "wrong certificate: %s" % e.verify_message
    except Exception as e:  # noqa: BLE001 (any failure is a failed handshake)
        return (time.perf_counter() - t) * 1000, "%s: %s" % (type(e).__name__, e)


def source(i):
    # Spread client addresses over 127.0.0.0/8 so 100k connections never run out of
    # ephemeral ports (the client closes first and keeps TIME_WAIT).
    return "127.0.%d.%d" % ((i // 250) % 250 + 1, i % 250 + 2)


def sample(port, ca, hosts_file, out):
    ctx = context(ca)
    hosts = open(hosts_file).read().split()
    with open(out, "w") as f:
        for i, h in enumerate(hosts):
            ms, err = handshake(ctx, port, h, source(i))
            f.write("%s %.3f %s\n" % (h, ms, "ok" if err is None else "FAIL " + err))
    return 0


def worker(args):
    port, ca, hosts, k = args
    ctx = context(ca)
    ok, fails, lat = 0, [], []
    for i, h in enumerate(hosts):
        ms, err = handshake(ctx, port, h, source(i * 7 + k))
        lat.append(ms)
        if err is None:
            ok += 1
        else:
            fails.append("%s %s" % (h, err))
    return ok, fails, lat


def pct(sorted_ms, p):
    if not sorted_ms:
        return float("nan")
    return sorted_ms[min(len(sorted_ms) - 1, int(round(p / 100 * (len(sorted_ms) - 1))))]


def all_hosts(port, ca, hosts_file, procs):
    hosts = open(hosts_file).read().split()
    t = time.perf_counter()
    with multiprocessing.Pool(procs) as pool:
        parts = pool.map(worker, [(port, ca, hosts[k::procs], k) for k in range(procs)])
    secs = time.perf_counter() - t
    ok = sum(p[0] for p in parts)
    fails = [f for p in parts for f in p[1]]
    lat = sorted(ms for p in parts for ms in p[2])
    print("handshakes %d ok %d failed %d seconds %.1f rate %.0f median %.2f p99 %.2f max %.2f"
          % (len(hosts), ok, len(fails), secs, len(hosts) / secs, pct(lat, 50), pct(lat, 99),
             lat[-1] if lat else float("nan")))
    for f in fails[:5]:
        print("  failed: " + f)
    return 0


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sample":
        sys.exit(sample(int(args[0]), args[1], args[2], args[3]))
    if cmd == "all":
        sys.exit(all_hosts(int(args[0]), args[1], args[2], int(args[3])))
    sys.exit("unknown command " + cmd)
PYEOF

# summarize <sample out>: "ok/total median p99 max failures"
summarize() {
    python3 - "$1" <<'PYEOF'
import sys
rows = [l.split(None, 3) for l in open(sys.argv[1]) if l.strip()]
ms = sorted(float(r[1]) for r in rows)
ok = sum(1 for r in rows if r[2] == "ok")
def pct(p):
    return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))]
print("%d/%d %.2f %.2f %.2f %d" % (ok, len(rows), pct(50), pct(99), ms[-1], len(rows) - ok))
PYEOF
}

# ---- build, certificates, configuration ---------------------------------------------------

if [[ $SKIP_BUILD != 1 ]]; then
    log "building release binaries (tenant-gateway, examples/gen_certs) in $TARGET_DIR"
    cargo build --release --bin tenant-gateway --example gen_certs
fi
[[ -x $GATEWAY_BIN ]] || die "no tenant-gateway binary at $GATEWAY_BIN"
[[ -x $GEN_BIN ]] || die "no gen_certs binary at $GEN_BIN (build it: cargo build --release --example gen_certs)"

CERTS=$TARGET_DIR/certs-$COUNT
if [[ -f $CERTS/.complete && -n $(find "$CERTS/.complete" -mtime -30) ]]; then
    log "using the cached certificates in $CERTS"
else
    log "generating $COUNT certificates into $CERTS"
    rm -rf "$CERTS" "$CERTS.tmp"
    "$GEN_BIN" "$CERTS.tmp" "$COUNT" "$BASE_DOMAIN"
    touch "$CERTS.tmp/.complete"
    mv "$CERTS.tmp" "$CERTS"
fi
CA=$CERTS/bench-ca.pem

HTTP_PORT=$(free_port)
HTTPS_PORT=$(free_port)
ADMIN_PORT=$(free_port)
while [[ $HTTPS_PORT == "$HTTP_PORT" ]]; do HTTPS_PORT=$(free_port); done
while [[ $ADMIN_PORT == "$HTTP_PORT" || $ADMIN_PORT == "$HTTPS_PORT" ]]; do ADMIN_PORT=$(free_port); done

if [[ $TENANTS == all ]]; then
    python3 - "$COUNT" >"$TMP/tenants.yaml" <<'PYEOF'
import sys, uuid
print("tenants:")
ns = uuid.UUID("6f1b7a52-3c1d-4e0f-9a57-2b0c8d4e5f60")
for i in range(int(sys.argv[1])):
    print("  - id: %s\n    name: Tenant %d\n    subdomain: t%d" % (uuid.uuid5(ns, str(i)), i, i))
PYEOF
else
    cat >"$TMP/tenants.yaml" <<EOF
tenants:
  - id: 5b0e7c1a-2d3f-4e5a-8b6c-7d8e9f0a1b2c
    name: Bench Tenant
    subdomain: bench
EOF
fi

tenant_source=$'tenants:\n  source: file\n  path: tenants.yaml'
acme_block=""
IMPORT_MS=""
if [[ $STORE == dynalite ]]; then
    DYNALITE=$REPO_ROOT/tests/peers/node_modules/.bin/dynalite
    [[ -x $DYNALITE ]] || die "dynalite is missing: run scripts/install-deps.sh test"
    STORE_PORT=$(free_port)
    start_bg dynalite TERM "$DYNALITE" --host 127.0.0.1 --port "$STORE_PORT" --createTableMs 0
    for _ in $(seq 100); do curl -s "http://127.0.0.1:$STORE_PORT" >/dev/null && break; sleep 0.1; done
    export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
    export BENCH_STORE_KEY=bench-certs-store-key-0123456789abcdef
    tenant_source="tenants:
  source: dynamodb
  table_prefix: bench-certs
  endpoint: http://127.0.0.1:$STORE_PORT
  encryption_key_env: BENCH_STORE_KEY"
    # Nothing is ordered: the CA is unreachable (the one tenant's own host backs off).
    acme_block="
  acme:
    directory_url: https://127.0.0.1:9/directory
    retry_min: 60s
    retry_max: 600s"
elif [[ $STORE != files ]]; then
    die "STORE must be files or dynalite"
fi
cache_line=""
[[ -n $CACHE_MIB ]] && cache_line=$'\n'"  certificate_cache_mib: $CACHE_MIB"
# The backend is never reached: only handshakes are made.
cat >"$TMP/gateway.yaml" <<EOF
listeners:
  http: ["127.0.0.1:$HTTP_PORT"]
  https: ["127.0.0.1:$HTTPS_PORT"]
  admin: "127.0.0.1:$ADMIN_PORT"
server:
  threads: $THREADS
  grace_period: 0s
  graceful_shutdown_timeout: 1s
base_domains:
  - domain: $BASE_DOMAIN
pools:
  backend:
    backends: ["127.0.0.1:9"]
default_routes:
  - prefix: /
    pool: backend
$tenant_source
logging:
  level: info
  access_log: "off"
tls:
  certs_dir: $CERTS$cache_line$acme_block
EOF

log "checking the configuration"
t0=$(date +%s%N)
if ! out=$("$GATEWAY_BIN" check -c "$TMP/gateway.yaml" 2>&1); then
    printf '%s\n' "$out" >&2
    sed 's/^/    /' "$TMP/gateway.yaml" >&2
    die "tenant-gateway check failed"
fi
CHECK_MS=$((($(date +%s%N) - t0) / 1000000))

if [[ $STORE == dynalite ]]; then
    log "creating the tables and importing the tenant and $COUNT certificates into dynalite"
    "$GATEWAY_BIN" dynamodb init -c "$TMP/gateway.yaml" >&2
    "$GATEWAY_BIN" dynamodb import -c "$TMP/gateway.yaml" "$TMP/tenants.yaml" >&2
    t0=$(date +%s%N)
    "$GATEWAY_BIN" dynamodb import-certs -c "$TMP/gateway.yaml" >&2
    IMPORT_MS=$((($(date +%s%N) - t0) / 1000000))
fi

# Hosts: the cold sample (SEED), and the hosts used once (the sample among them).
python3 - "$COUNT" "$SAMPLE" "$SEED" "$COUNT_USED" "$BASE_DOMAIN" "$TMP" <<'PYEOF'
import random, sys
count, sample, seed, used, base, tmp = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                        int(sys.argv[4]), sys.argv[5], sys.argv[6])
rng = random.Random(seed)
s = rng.sample(range(count), sample)
ss = set(s)
rest = [i for i in rng.sample(range(count), used) if i not in ss][: max(0, used - sample)]
u = s + rest
rng.shuffle(u)
open(tmp + "/sample.txt", "w").write("".join("t%d.%s\n" % (i, base) for i in s))
open(tmp + "/used.txt", "w").write("".join("t%d.%s\n" % (i, base) for i in u))
PYEOF

# ---- run ----------------------------------------------------------------------------------

log "starting the gateway ($GATEWAY_BIN) with $COUNT stored certificates"
t0=$(date +%s%N)
start_bg gateway INT env -u RUST_LOG "$GATEWAY_BIN" run -c "$TMP/gateway.yaml" --no-watch
GW_PID=${PIDS[-1]}
START_MS=$(python3 benches/scale/driver.py ready "http://127.0.0.1:$ADMIN_PORT/readyz" "$t0" "$START_TIMEOUT")
if [[ $START_MS == timeout ]] || ! kill -0 "$GW_PID" 2>/dev/null; then
    tail -n 20 "$TMP/gateway.log" >&2
    die "the gateway did not become ready"
fi
sleep 1 # let start-up allocations settle
read -r RSS_START HWM_START <<<"$(rss "$GW_PID")"
log "ready after $START_MS ms; RSS $RSS_START MiB (peak $HWM_START)"

log "(c) $SAMPLE cold hosts, one handshake each"
python3 "$TMP/hs.py" sample "$HTTPS_PORT" "$CA" "$TMP/sample.txt" "$TMP/cold.txt"
read -r COLD_OK COLD_MED COLD_P99 COLD_MAX COLD_FAIL <<<"$(summarize "$TMP/cold.txt")"
read -r RSS_COLD HWM_COLD <<<"$(rss "$GW_PID")"

log "(d) $COUNT_USED hosts once each ($PROCS client processes)"
ALL_OUT=$(python3 "$TMP/hs.py" all "$HTTPS_PORT" "$CA" "$TMP/used.txt" "$PROCS")
sleep 1
read -r RSS_ALL HWM_ALL <<<"$(rss "$GW_PID")"
read -r _ ALL_N _ ALL_OK _ ALL_FAIL _ ALL_SECS _ ALL_RATE _ ALL_MED _ ALL_P99 _ ALL_MAX \
    <<<"$(head -n 1 <<<"$ALL_OUT")"

log "(e) the same $SAMPLE hosts again"
python3 "$TMP/hs.py" sample "$HTTPS_PORT" "$CA" "$TMP/sample.txt" "$TMP/again.txt"
read -r AGAIN_OK AGAIN_MED AGAIN_P99 AGAIN_MAX AGAIN_FAIL <<<"$(summarize "$TMP/again.txt")"
read -r RSS_END HWM_END <<<"$(rss "$GW_PID")"

METRICS_BYTES=$(curl -s --max-time 10 "http://127.0.0.1:$ADMIN_PORT/metrics" | tee "$TMP/metrics.txt" | wc -c)
EXPIRY_SERIES=$(grep -c '^gateway_cert[a-z_]*expiry' "$TMP/metrics.txt" || true)

# ---- report -------------------------------------------------------------------------------

mkdir -p bench-results
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=bench-results/certs-$STAMP.txt
{
    echo "tenant-gateway with many stored certificates, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "binary: $GATEWAY_BIN ($(stat -c %y "$GATEWAY_BIN" | cut -d. -f1))"
    echo "cpus: $(nproc)  kernel: $(uname -r)  python: $(python3 -c 'import ssl, sys; print(sys.version.split()[0], ssl.OPENSSL_VERSION)')"
    echo "stored certificates: $COUNT (P-256, t<i>.$BASE_DOMAIN) in $CERTS"
    echo "store: $STORE${IMPORT_MS:+ (dynamodb import-certs took $IMPORT_MS ms)}"
    echo "tenants: $TENANTS  server.threads: $THREADS  certificate_cache_mib: ${CACHE_MIB:-default}"
    echo
    printf '%-44s %s\n' "tenant-gateway check" "$CHECK_MS ms"
    printf '%-44s %s\n' "(a) start (spawn -> /readyz 200)" "$START_MS ms"
    printf '%-44s %s\n' "(b) RSS after start" "$RSS_START MiB (peak $HWM_START MiB)"
    printf '%-44s %s\n' "(c) cold handshakes ok" "$COLD_OK"
    printf '%-44s %s\n' "    connect+handshake median / p99 / max" "$COLD_MED / $COLD_P99 / $COLD_MAX ms"
    printf '%-44s %s\n' "    RSS after" "$RSS_COLD MiB (peak $HWM_COLD MiB)"
    printf '%-44s %s\n' "(d) all used once: handshakes ok" "$ALL_OK/$ALL_N in $ALL_SECS s ($ALL_RATE/s, $PROCS clients)"
    printf '%-44s %s\n' "    connect+handshake median / p99 / max" "$ALL_MED / $ALL_P99 / $ALL_MAX ms"
    printf '%-44s %s\n' "    RSS after" "$RSS_ALL MiB (peak $HWM_ALL MiB)"
    printf '%-44s %s\n' "(e) same sample again: handshakes ok" "$AGAIN_OK"
    printf '%-44s %s\n' "    connect+handshake median / p99 / max" "$AGAIN_MED / $AGAIN_P99 / $AGAIN_MAX ms"
    printf '%-44s %s\n' "    RSS at the end" "$RSS_END MiB (peak $HWM_END MiB)"
    printf '%-44s %s\n' "/metrics" "$METRICS_BYTES bytes, $EXPIRY_SERIES certificate expiry series"
    failed=$((COLD_FAIL + ALL_FAIL + AGAIN_FAIL))
    if ((failed > 0)); then
        echo
        echo "FAILED handshakes: $failed (first ones):"
        { grep -h FAIL "$TMP/cold.txt" "$TMP/again.txt" || true; } | head -n 5 | sed 's/^/  /'
        tail -n +2 <<<"$ALL_OUT"
    fi
    echo
    echo "gateway log (certificate lines, warn and above; first 10):"
    { grep -iE 'certificat|"level":"(WARN|ERROR)"' "$TMP/gateway.log" || echo "(none)"; } |
        head -n 10 | cut -c1-300 | sed 's/^/  /'
    echo "gateway log: $(grep -c '"level":"WARN"' "$TMP/gateway.log" || true) warn," \
        "$(grep -c '"level":"ERROR"' "$TMP/gateway.log" || true) error lines"
} | tee "$RESULTS"
log "results written to $RESULTS"
((COLD_FAIL + ALL_FAIL + AGAIN_FAIL == 0)) || die "some handshakes failed"
