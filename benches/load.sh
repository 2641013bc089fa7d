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
#   gateway-jwt   the gateway's configuration with a second route for the bench tenant, /api
#                 with `auth: jwt`; the tenant's IdP is a Cognito pool (issuer
#                 https://bench-idp.test/pool, client bench-client) whose JWKS the backend
#                 nginx serves. wrk sends one RS256 id token (minted here, offline), so every
#                 request after the first is answered from the validated-token cache
#   nginx-tls     nginx terminating TLS (self-signed EC P-256 certificate for
#                 bench.bench.test), 1 worker, upstream keepalive, adds one header
#   gateway-tls   tenant-gateway with an https listener serving the same certificate (static)
#   nginx-tls-hs, gateway-tls-hs
#                 the two TLS targets with `Connection: close`: every request on a new TLS
#                 connection. wrk (OpenSSL) offers the last session on reconnect and both
#                 servers resume it by default (the results header shows "reconnect:
#                 Reused"), so these are mostly abbreviated TLS 1.3 handshakes (PSK with
#                 ECDHE, no certificate or signature), plus a TCP connect each
#
# Every proxy gets one worker thread and keeps upstream connections alive. wrk uses one
# thread and keep-alive connections (except the *-hs targets). HTTPS targets are addressed as
# https://bench.bench.test:<port>/ so wrk sends the bench host as SNI; a small wrk Lua
# script (and curl's --resolve) connects them to 127.0.0.1 without any name lookup. wrk does
# not verify certificates and speaks HTTP/1.1 (no ALPN). Medians over the rounds are
# printed, with the ratios gateway/nginx-proxy, gateway/bare-pingora,
# bare-pingora/nginx-proxy, gateway-log/gateway, gateway-jwt/gateway, gateway-tls/nginx-tls,
# gateway-tls-hs/nginx-tls-hs, gateway-tls/gateway and nginx-tls/nginx-proxy, and written to
# bench-results/load-<timestamp>.txt. All traffic stays on loopback (ports 18080-18099).
# Every gateway configuration is validated with `tenant-gateway check` before it starts.
#
# Run from anywhere in the repository (needs cargo, wrk, nginx, curl, openssl, python3 for
# the JWT target (standard library only); haproxy optional):
#
#   bash benches/load.sh                            # 5 rounds of 8s at 64 connections
#   ROUNDS=1 DURATION=2s bash benches/load.sh       # smoke run
#
# Knobs (environment):
#   ROUNDS=5  DURATION=8s  CONNECTIONS=64  WARMUP=2s   per-target wrk settings
#   TARGETS="backend nginx-proxy ..."   only these targets (default: all available):
#                     backend nginx-proxy haproxy bare-pingora gateway gateway-log
#                     gateway-jwt gateway-jwt-assert gateway-limited nginx-tls gateway-tls
#                     nginx-tls-hs gateway-tls-hs
#                     (a ratio is printed when both of its targets ran)
#   SKIP_BUILD=1      use the existing release binaries
#   KEEP_TMP=1        keep the temp dir (configs, logs) and print where it is
#
# The numbers are only comparable within one run: wrk, the backend and the proxy share the
# machine's cores. On a 2-core box the proxy under test competes with wrk and the backend,
# so read the ratios, not the absolute req/s.
#
# Adding a round type: start its process in start_targets with start_bg (or start_gateway
# for a tenant-gateway, which runs `tenant-gateway check` first), then register it with
#     add_target <name> <url> [header ...]
# (an https:// URL works for wrk and for the readiness check; use https://$BENCH_HOST:<port>/
# to send the bench host as SNI). Ratios are listed in RATIOS.

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
GATEWAY_JWT_PORT=18086
GATEWAY_JWT_ADMIN_PORT=18096
GATEWAY_JWTA_PORT=18090       # gateway-jwt-assert: gateway-jwt with the tenant assertion on
GATEWAY_JWTA_ADMIN_PORT=18091
GATEWAY_LIM_PORT=18092        # gateway-limited: the plain gateway under a tier limit never hit
GATEWAY_LIM_ADMIN_PORT=18095
NGINX_TLS_PORT=18087
GATEWAY_TLS_PORT=18088      # https
GATEWAY_TLS_HTTP_PORT=18089 # its plain listener (redirects to https; not measured)
GATEWAY_TLS_ADMIN_PORT=18098

BENCH_HOST=bench.bench.test # tenant "bench" under base domain "bench.test"
BENCH_TENANT_ID=5b0e7c1a-2d3f-4e5a-8b6c-7d8e9f0a1b2c

# The bench tenant's identity provider for gateway-jwt (nothing listens at the issuer: the
# gateway only fetches the JWKS, from the backend nginx).
JWT_ISSUER=https://bench-idp.test/pool
JWT_CLIENT_ID=bench-client
JWT_KID=bench-key-1

# ratio lines printed after the table: "numerator denominator"
RATIOS=(
    "gateway nginx-proxy"
    "gateway bare-pingora"
    "bare-pingora nginx-proxy"
    "gateway-log gateway"
    "gateway-jwt gateway"
    "gateway-jwt-assert gateway-jwt"
    "gateway-limited gateway"
    "gateway-tls nginx-tls"
    "gateway-tls-hs nginx-tls-hs"
    "gateway-tls gateway"
    "nginx-tls nginx-proxy"
)

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}

log() { printf '[load] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for tool in wrk nginx curl cargo openssl; do
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

# Targets at https://$BENCH_HOST:<port>/ are reached on 127.0.0.1 with the bench host as
# SNI (and Host): curl gets --resolve, wrk a Lua script that replaces its name lookup (it
# defines no request/response hooks, so wrk keeps its static request). Sets CURL_ARGS and
# WRK_ARGS for a target.
connect_args() {
    local url=${TARGET_URL[$1]} hostport
    CURL_ARGS=()
    WRK_ARGS=()
    hostport=${url#*://}
    hostport=${hostport%%/*}
    if [[ $hostport == "$BENCH_HOST":* ]]; then
        CURL_ARGS=(--resolve "$BENCH_HOST:${hostport##*:}:127.0.0.1")
        WRK_ARGS=(-s "$TMP/loopback.lua")
    fi
    return 0
}

wanted() {
    [[ -z ${TARGETS:-} ]] || [[ " $TARGETS " == *" $1 "* ]]
}

# wanted_any <target...>: one of them is wanted.
wanted_any() {
    local t
    for t in "$@"; do
        wanted "$t" && return 0
    done
    return 1
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

# ---- key material (made fresh in $TMP, offline) -------------------------------------------

# base64url without padding of stdin (python3 standard library only).
b64url() {
    python3 -c 'import base64, sys
sys.stdout.write(base64.urlsafe_b64encode(sys.stdin.buffer.read()).rstrip(b"=").decode())'
}

# A self-signed EC P-256 certificate for the bench host, shared by nginx-tls and gateway-tls.
make_cert() {
    mkdir -p "$TMP/certs"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=$BENCH_HOST" -addext "subjectAltName=DNS:$BENCH_HOST" \
        -keyout "$TMP/certs/bench.key" -out "$TMP/certs/bench.crt" 2>"$TMP/openssl.log" ||
        die "openssl could not make the certificate: $(cat "$TMP/openssl.log")"
}

# An RS256 key pair, its JWKS ($TMP/jwt/jwks.json, served by the backend nginx) and one id
# token of the bench tenant in JWT_TOKEN, valid for a day: openssl makes the key and the
# signature, python3 (standard library) only encodes base64url and JSON.
make_jwt() {
    local dir=$TMP/jwt modulus exponent
    mkdir -p "$dir"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/key.pem" \
        2>"$TMP/openssl.log" || die "openssl could not make the RSA key: $(cat "$TMP/openssl.log")"
    modulus=$(openssl rsa -in "$dir/key.pem" -noout -modulus 2>/dev/null) # Modulus=<hex>
    exponent=$(openssl rsa -in "$dir/key.pem" -noout -text 2>/dev/null |
        awk '/^publicExponent:/ {print $2}')
    [[ $modulus == Modulus=* && -n $exponent ]] || die "could not read the RSA public key"
    python3 -c '
import base64, json, sys

def b64url_uint(v):
    raw = v.to_bytes((v.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

n, e, kid = int(sys.argv[1], 16), int(sys.argv[2]), sys.argv[3]
jwk = {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
       "n": b64url_uint(n), "e": b64url_uint(e)}
print(json.dumps({"keys": [jwk]}))
' "${modulus#Modulus=}" "$exponent" "$JWT_KID" >"$dir/jwks.json"
    python3 -c '
import base64, json, sys, time

kid, iss, aud, tenant = sys.argv[1:5]
now = int(time.time())

def part(obj):
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

header = {"alg": "RS256", "typ": "JWT", "kid": kid}
claims = {"sub": "bench-user", "iss": iss, "aud": aud, "token_use": "id",
          "iat": now, "exp": now + 86400, "custom:tenantid": tenant}
sys.stdout.write(part(header) + "." + part(claims))
' "$JWT_KID" "$JWT_ISSUER" "$JWT_CLIENT_ID" "$BENCH_TENANT_ID" >"$dir/signing-input"
    openssl dgst -sha256 -sign "$dir/key.pem" -out "$dir/signature" "$dir/signing-input" ||
        die "openssl could not sign the token"
    JWT_TOKEN="$(cat "$dir/signing-input").$(b64url <"$dir/signature")"
}

write_configs() {
    # The backend also serves the bench IdP's JWKS (for gateway-jwt).
    nginx_conf "$TMP/nginx-backend" "
    server {
        listen 127.0.0.1:$BACKEND_PORT;
        location / {
            return 200 \"ok\";
        }
        location = /jwks.json {
            root $TMP/jwt;
            default_type application/json;
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

    # The gateway's protocols (nginx 1.22 would otherwise stop at TLS 1.2), nginx's other TLS
    # defaults (session tickets on, no session cache), the certificate the gateway serves.
    nginx_conf "$TMP/nginx-tls" "
    upstream backend {
        server 127.0.0.1:$BACKEND_PORT;
        keepalive 256;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_TLS_PORT ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TMP/certs/bench.crt;
        ssl_certificate_key $TMP/certs/bench.key;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header X-Forwarded-Proto https;
        }
    }"

    # wrk: connect to loopback whatever the URL's host (which stays the SNI and Host).
    cat >"$TMP/loopback.lua" <<'EOF'
function wrk.resolve(host, service)
   wrk.addrs = wrk.lookup("127.0.0.1", service)
end
EOF

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
  - id: $BENCH_TENANT_ID
    name: Bench Tenant
    subdomain: bench
    tier: basic
EOF
    # gateway-jwt: the same tenant with its IdP; "/" stays open, "/api" takes bearer tokens.
    cat >"$TMP/tenants-jwt.yaml" <<EOF
tenants:
  - id: $BENCH_TENANT_ID
    name: Bench Tenant
    subdomain: bench
    tier: basic
    routes:
      - prefix: /
        pool: backend
        auth: none
      - prefix: /api
        pool: backend
        name: api
        auth: jwt
    idp:
      kind: cognito
      issuer: $JWT_ISSUER
      client_id: $JWT_CLIENT_ID
      jwks_uri: http://127.0.0.1:$BACKEND_PORT/jwks.json
EOF
    gateway_yaml "$TMP/gateway.yaml" "$GATEWAY_PORT" "$GATEWAY_ADMIN_PORT" '"off"'
    gateway_yaml "$TMP/gateway-log.yaml" "$GATEWAY_LOG_PORT" "$GATEWAY_LOG_ADMIN_PORT" \
        "\"$TMP/gateway-access.log\""
    gateway_yaml "$TMP/gateway-jwt.yaml" "$GATEWAY_JWT_PORT" "$GATEWAY_JWT_ADMIN_PORT" '"off"' \
        tenants-jwt.yaml
    gateway_yaml "$TMP/gateway-jwt-assert.yaml" "$GATEWAY_JWTA_PORT" "$GATEWAY_JWTA_ADMIN_PORT" \
        '"off"' tenants-jwt.yaml
    # The same, and every authenticated request gets a signed tenant assertion (cached per
    # identity, so this measures the cache and the header, plus a signature per 90 s).
    cat >>"$TMP/gateway-jwt-assert.yaml" <<EOF
assertion:
  issuer: https://gateway.bench.test
  key_file: $TMP/assertion-keys.json
EOF
    # gateway-limited: the plain gateway with the bench tenant's tier under rate and
    # concurrency limits far above what wrk sends, so every request pays for the check and
    # none is refused.
    gateway_yaml "$TMP/gateway-limited.yaml" "$GATEWAY_LIM_PORT" "$GATEWAY_LIM_ADMIN_PORT" '"off"'
    cat >>"$TMP/gateway-limited.yaml" <<EOF
tiers:
  basic:
    rate_per_second: 100000000
    burst: 100000000
    max_in_flight: 1000000
EOF
    gateway_yaml "$TMP/gateway-tls.yaml" "$GATEWAY_TLS_HTTP_PORT" "$GATEWAY_TLS_ADMIN_PORT" \
        '"off"' tenants.yaml "$GATEWAY_TLS_PORT"
}

# gateway_yaml <file> <port> <admin port> <access_log value> [tenants file] [https port]
# With an https port: an HTTPS listener serving the bench certificate as a static one
# (certs_dir is where ACME would keep its own). The plain listener then redirects to HTTPS,
# as in production; it is not measured.
gateway_yaml() {
    local https_listener="" tls_block=""
    if [[ -n ${6:-} ]]; then
        https_listener=$'\n'"  https: [\"127.0.0.1:$6\"]"
        tls_block=$'\n'"tls:
  certs_dir: $TMP/certs
  certificates:
    - cert: $TMP/certs/bench.crt
      key: $TMP/certs/bench.key"
    fi
    cat >"$1" <<EOF
listeners:
  http: ["127.0.0.1:$2"]$https_listener
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
  path: ${5:-tenants.yaml}
logging:
  level: warn
  access_log: $4
limits:
  upstream_keepalive_pool_size: 1024$tls_block
EOF
}

# ---- start everything -----------------------------------------------------------------------

start_nginx() { # <name> <dir>
    start_bg "$1" TERM nginx -p "$2" -e "$2/logs/error.log" -c "$2/nginx.conf" -g 'daemon off;'
}

# start_gateway <name> <config>: validates the configuration with `tenant-gateway check`
# (stopping here with its messages and the files if it fails), then starts a gateway on it.
start_gateway() {
    local name=$1 conf=$2 out f
    if ! out=$("$TARGET_DIR/release/tenant-gateway" check -c "$conf" 2>&1); then
        log "tenant-gateway check -c $conf failed for $name:"
        printf '%s\n' "$out" >&2
        for f in "$conf" "$TMP/$(awk '$1 == "path:" { print $2; exit }' "$conf")"; do
            log "$f:"
            sed 's/^/    /' "$f" >&2
        done
        die "invalid $name configuration"
    fi
    start_bg "$name" INT env -u RUST_LOG "$TARGET_DIR/release/tenant-gateway" \
        run -c "$conf" --no-watch
}

start_targets() {
    local p
    for p in $BACKEND_PORT $NGINX_PROXY_PORT $BARE_PINGORA_PORT $GATEWAY_PORT \
        $GATEWAY_ADMIN_PORT $GATEWAY_LOG_PORT $GATEWAY_LOG_ADMIN_PORT $HAPROXY_PORT \
        $GATEWAY_JWT_PORT $GATEWAY_JWT_ADMIN_PORT $GATEWAY_JWTA_PORT $GATEWAY_JWTA_ADMIN_PORT \
        $GATEWAY_LIM_PORT $GATEWAY_LIM_ADMIN_PORT \
        $NGINX_TLS_PORT $GATEWAY_TLS_PORT \
        $GATEWAY_TLS_HTTP_PORT $GATEWAY_TLS_ADMIN_PORT; do
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
        start_gateway gateway "$TMP/gateway.yaml"
        add_target gateway "http://127.0.0.1:$GATEWAY_PORT/" "Host: $BENCH_HOST"
    fi
    if wanted gateway-log; then
        start_gateway gateway-log "$TMP/gateway-log.yaml"
        add_target gateway-log "http://127.0.0.1:$GATEWAY_LOG_PORT/" "Host: $BENCH_HOST"
    fi
    if wanted gateway-jwt; then
        start_gateway gateway-jwt "$TMP/gateway-jwt.yaml"
        add_target gateway-jwt "http://127.0.0.1:$GATEWAY_JWT_PORT/api" "Host: $BENCH_HOST" \
            "Authorization: Bearer $JWT_TOKEN"
    fi
    if wanted gateway-jwt-assert; then
        start_gateway gateway-jwt-assert "$TMP/gateway-jwt-assert.yaml"
        add_target gateway-jwt-assert "http://127.0.0.1:$GATEWAY_JWTA_PORT/api" \
            "Host: $BENCH_HOST" "Authorization: Bearer $JWT_TOKEN"
    fi
    if wanted gateway-limited; then
        start_gateway gateway-limited "$TMP/gateway-limited.yaml"
        add_target gateway-limited "http://127.0.0.1:$GATEWAY_LIM_PORT/" "Host: $BENCH_HOST"
    fi
    # The TLS servers: one process each for the keep-alive and the handshake targets.
    local nginx_tls_url="https://$BENCH_HOST:$NGINX_TLS_PORT/"
    local gateway_tls_url="https://$BENCH_HOST:$GATEWAY_TLS_PORT/"
    if wanted_any nginx-tls nginx-tls-hs; then
        start_nginx nginx-tls "$TMP/nginx-tls"
    fi
    if wanted nginx-tls; then
        add_target nginx-tls "$nginx_tls_url" "Host: $BENCH_HOST"
    fi
    if wanted_any gateway-tls gateway-tls-hs; then
        start_gateway gateway-tls "$TMP/gateway-tls.yaml"
    fi
    if wanted gateway-tls; then
        add_target gateway-tls "$gateway_tls_url" "Host: $BENCH_HOST"
    fi
    if wanted nginx-tls-hs; then
        add_target nginx-tls-hs "$nginx_tls_url" "Host: $BENCH_HOST" "Connection: close"
    fi
    if wanted gateway-tls-hs; then
        add_target gateway-tls-hs "$gateway_tls_url" "Host: $BENCH_HOST" "Connection: close"
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
    connect_args "$name"
    for ((i = 0; i < 100; i++)); do
        answer=$(curl -sk --max-time 1 -w ' %{http_code}' "${CURL_ARGS[@]}" "${HDR_ARGS[@]}" \
            "$url" || true)
        [[ $answer == "ok 200" ]] && return 0
        sleep 0.1
    done
    log "$name did not answer 200 ok at $url (last answer: ${answer:-none})"
    local proc=${name%-hs}
    [[ -f $TMP/$proc.log ]] && tail -n 20 "$TMP/$proc.log" >&2
    die "$name is not ready"
}

# gateway-jwt answers 200 with the token (wait_ready); here: 401 without a token and with a
# tampered signature, so the route really checks the token.
check_jwt_route() {
    local url=${TARGET_URL[gateway-jwt]} sig=${JWT_TOKEN##*.} code flip=A bad
    code=$(curl -s -o "$TMP/jwt-check.txt" -w '%{http_code}' --max-time 2 \
        -H "Host: $BENCH_HOST" "$url" || true)
    [[ $code == 401 ]] ||
        die "gateway-jwt answered ${code:-nothing} without a token, not 401: $(cat "$TMP/jwt-check.txt")"
    # One character changed in the middle of the signature.
    [[ ${sig:20:1} == A ]] && flip=B
    bad="${JWT_TOKEN%.*}.${sig:0:20}$flip${sig:21}"
    code=$(curl -s -o "$TMP/jwt-check.txt" -w '%{http_code}' --max-time 2 \
        -H "Host: $BENCH_HOST" -H "Authorization: Bearer $bad" "$url" || true)
    [[ $code == 401 ]] ||
        die "gateway-jwt answered ${code:-nothing} to a tampered token, not 401: $(cat "$TMP/jwt-check.txt")"
    log "gateway-jwt: 200 with the token; 401 without it and with a tampered signature"
}

# tls_info <port>: the protocol and cipher a fresh connection negotiates, and whether a second
# connection resumes the first one's session (what the *-hs targets mostly do).
tls_info() {
    local port=$1 first second
    first=$(printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$BENCH_HOST" |
        timeout 5 openssl s_client -connect "127.0.0.1:$port" -servername "$BENCH_HOST" \
            -sess_out "$TMP/tls-session-$port" -ign_eof 2>/dev/null |
        awk '/^New, / { sub(/^New, /, ""); print; exit }' || true)
    second=$(timeout 5 openssl s_client -connect "127.0.0.1:$port" -servername "$BENCH_HOST" \
        -sess_in "$TMP/tls-session-$port" </dev/null 2>/dev/null |
        awk '/^(New|Reused), / { print $1; exit }' || true)
    printf '%s; reconnect: %s\n' "${first:-handshake failed}" "${second%,}"
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
    connect_args "$name"
    out=$(wrk -t1 -c"$CONNECTIONS" -d"$duration" --latency "${WRK_ARGS[@]}" "${HDR_ARGS[@]}" \
        "${TARGET_URL[$name]}")
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

if wanted_any nginx-tls gateway-tls nginx-tls-hs gateway-tls-hs; then
    make_cert
fi
if wanted_any gateway-jwt gateway-jwt-assert; then
    command -v python3 >/dev/null || die "python3 is not installed (needed for gateway-jwt)"
    make_jwt
fi
write_configs
start_targets
for t in "${TARGET_ORDER[@]}"; do
    wait_ready "$t"
done
if wanted gateway-jwt; then
    check_jwt_route
fi
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
    if wanted_any nginx-tls nginx-tls-hs; then
        echo "nginx-tls TLS: $(tls_info "$NGINX_TLS_PORT")"
    fi
    if wanted_any gateway-tls gateway-tls-hs; then
        echo "gateway-tls TLS: $(tls_info "$GATEWAY_TLS_PORT")"
    fi
    if wanted_any nginx-tls-hs gateway-tls-hs; then
        echo "*-tls-hs: Connection: close, one TLS connection per request"
    fi
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
        printf '  %-28s req/s %6sx   p99 %6sx\n' "$a/$b" \
            "$(ratio "${MED_RPS[$a]}" "${MED_RPS[$b]}")" \
            "$(ratio "${MED_P99[$a]}" "${MED_P99[$b]}")"
    done
} | tee -a "$RESULTS"

# gateway-jwt: one JWKS fetch for the whole run, and every request authenticated.
if [[ -n ${TARGET_URL[gateway-jwt]:-} ]]; then
    metrics=$(curl -s --max-time 2 "http://127.0.0.1:$GATEWAY_JWT_ADMIN_PORT/metrics" || true)
    {
        echo
        echo "gateway-jwt metrics:"
        grep -E '^gateway_(jwks_fetches|auth)_total' <<<"$metrics" | sed 's/^/  /' ||
            echo "  (none found)"
    } | tee -a "$RESULTS"
fi

# Anything the gateways logged at warn or above is worth a look. Requests in flight when wrk
# stops are cut off by the client; Pingora logs each as "Downstream ConnectionClosed", and
# each TLS handshake cut off the same way as "Downstream handshake error" with "Connection
# reset by peer" or "tls handshake eof". Those are counted apart from everything else.
CUT_OFF='Downstream ConnectionClosed|Downstream handshake error.*(Connection reset by peer|tls handshake eof)'
for g in gateway gateway-log gateway-jwt gateway-jwt-assert gateway-tls; do
    [[ -f $TMP/$g.log ]] || continue
    total=$(grep -c . "$TMP/$g.log" || true)
    ((total > 0)) || continue
    closed=$(grep -c 'Downstream ConnectionClosed' "$TMP/$g.log" || true)
    handshakes=$(grep -cE "${CUT_OFF#*|}" "$TMP/$g.log" || true)
    {
        echo
        echo "$g log: $total line(s) at warn or above, $closed of them requests and" \
            "$handshakes TLS handshakes cut off by the client (when wrk stops)"
        if ((total > closed + handshakes)); then
            echo "other lines (first 5):"
            grep -vE "$CUT_OFF" "$TMP/$g.log" | head -n 5 | cut -c1-300
        fi
    } | tee -a "$RESULTS"
done

log "results written to $RESULTS"
