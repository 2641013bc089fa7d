# benches/load/targets.sh: the targets of benches/load.sh (sourced): their ports, the bench
# tenant and IdP, the ratio pairs, the registry (name -> URL, headers, wrk script), starting
# each target's process and checking that it answers before anything is measured.

# Ports: one per process, all on 127.0.0.1, PORT_BASE (18080) to PORT_BASE + 19; every
# offset is taken.
BACKEND_PORT=$((PORT_BASE + 0))
NGINX_PROXY_PORT=$((PORT_BASE + 1))
BARE_PINGORA_PORT=$((PORT_BASE + 2))
GATEWAY_PORT=$((PORT_BASE + 3))
GATEWAY_ADMIN_PORT=$((PORT_BASE + 13))
GATEWAY_LOG_PORT=$((PORT_BASE + 4))
GATEWAY_LOG_ADMIN_PORT=$((PORT_BASE + 14))
HAPROXY_PORT=$((PORT_BASE + 5))
GATEWAY_JWT_PORT=$((PORT_BASE + 6))
GATEWAY_JWT_ADMIN_PORT=$((PORT_BASE + 16))
GATEWAY_JWTA_PORT=$((PORT_BASE + 10)) # gateway-jwt-assert: the tenant assertion on
GATEWAY_JWTA_ADMIN_PORT=$((PORT_BASE + 11))
GATEWAY_LIM_PORT=$((PORT_BASE + 12)) # gateway-limited: under a tier limit never hit
GATEWAY_LIM_ADMIN_PORT=$((PORT_BASE + 15))
NGINX_TLS_PORT=$((PORT_BASE + 7))
GATEWAY_TLS_PORT=$((PORT_BASE + 8))      # https
GATEWAY_TLS_HTTP_PORT=$((PORT_BASE + 9)) # its plain listener (redirects to https; not measured)
GATEWAY_TLS_ADMIN_PORT=$((PORT_BASE + 18))
GATEWAY_JWTM_PORT=$((PORT_BASE + 17)) # gateway-jwt-many: gateway-jwt's, tokens rotating
GATEWAY_JWTM_ADMIN_PORT=$((PORT_BASE + 19))

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
    "gateway-jwt-many gateway"
    "gateway-jwt-many gateway-jwt"
    "gateway-limited gateway"
    "gateway-tls nginx-tls"
    "gateway-tls-hs nginx-tls-hs"
    "gateway-tls-full nginx-tls-full"
    "gateway-h2 nginx-h2"
    "gateway-tls gateway"
    "nginx-tls nginx-proxy"
)

# ---- targets registry ---------------------------------------------------------------------

TARGET_ORDER=()
declare -A TARGET_URL=()
declare -A TARGET_HEADERS=() # newline-separated "Name: value" lines
declare -A TARGET_SCRIPT=()  # a wrk Lua script, when the target has one
declare -A TARGET_SCRIPT_ARGS=() # its arguments, space-separated (no spaces inside one)

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
# defines no request/response hooks, so wrk keeps its static request). A target with its own
# wrk script gets it instead. Sets CURL_ARGS, WRK_ARGS (options) and WRK_TAIL (the script's
# arguments, after the URL) for a target.
connect_args() {
    local url=${TARGET_URL[$1]} hostport
    CURL_ARGS=()
    WRK_ARGS=()
    WRK_TAIL=()
    hostport=${url#*://}
    hostport=${hostport%%/*}
    if [[ $hostport == "$BENCH_HOST":* ]]; then
        CURL_ARGS=(--resolve "$BENCH_HOST:${hostport##*:}:127.0.0.1")
        WRK_ARGS=(-s "$TMP/loopback.lua")
    elif [[ -n ${TARGET_SCRIPT[$1]:-} ]]; then
        WRK_ARGS=(-s "${TARGET_SCRIPT[$1]}")
        # shellcheck disable=SC2206 # word splitting intended
        WRK_TAIL=(-- ${TARGET_SCRIPT_ARGS[$1]})
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
        $GATEWAY_LIM_PORT $GATEWAY_LIM_ADMIN_PORT $GATEWAY_JWTM_PORT $GATEWAY_JWTM_ADMIN_PORT \
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
            --upstream "127.0.0.1:$BACKEND_PORT" --threads "$THREADS" --keepalive-pool 1024
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
    if wanted gateway-jwt-many; then
        # Readiness and the 401 checks use JWT_TOKEN, which is not among the rotating tokens.
        start_gateway gateway-jwt-many "$TMP/gateway-jwt-many.yaml"
        add_target gateway-jwt-many "http://127.0.0.1:$GATEWAY_JWTM_PORT/api" \
            "Host: $BENCH_HOST" "Authorization: Bearer $JWT_TOKEN"
        TARGET_SCRIPT[gateway-jwt-many]=$REPO_ROOT/benches/load/jwt-rotate.lua
        TARGET_SCRIPT_ARGS[gateway-jwt-many]="$TMP/jwt/tokens.txt $THREADS"
    fi
    if wanted gateway-limited; then
        start_gateway gateway-limited "$TMP/gateway-limited.yaml"
        add_target gateway-limited "http://127.0.0.1:$GATEWAY_LIM_PORT/" "Host: $BENCH_HOST"
    fi
    # The TLS servers: one process each for the keep-alive and the handshake targets.
    local nginx_tls_url="https://$BENCH_HOST:$NGINX_TLS_PORT/"
    local gateway_tls_url="https://$BENCH_HOST:$GATEWAY_TLS_PORT/"
    if wanted_any nginx-tls nginx-tls-hs nginx-tls-full nginx-h2; then
        start_nginx nginx-tls "$TMP/nginx-tls"
    fi
    if wanted nginx-tls; then
        add_target nginx-tls "$nginx_tls_url" "Host: $BENCH_HOST"
    fi
    if wanted_any gateway-tls gateway-tls-hs gateway-tls-full gateway-h2; then
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
    # Full handshakes, no resumption: measured with benches/load/handshakes.py, not wrk (the
    # URL and headers serve the readiness check).
    if wanted nginx-tls-full; then
        add_target nginx-tls-full "$nginx_tls_url" "Host: $BENCH_HOST"
    fi
    if wanted gateway-tls-full; then
        add_target gateway-tls-full "$gateway_tls_url" "Host: $BENCH_HOST"
    fi
    # HTTP/2 over TLS (ALPN h2) on the same processes: measured with h2load, not wrk.
    local h2
    for h2 in nginx-h2 gateway-h2; do
        wanted "$h2" || continue
        if ! command -v h2load >/dev/null; then
            log "h2load not installed (nghttp2-client): skipping $h2"
        elif [[ $h2 == nginx-h2 ]]; then
            add_target nginx-h2 "$nginx_tls_url" "Host: $BENCH_HOST"
        else
            add_target gateway-h2 "$gateway_tls_url" "Host: $BENCH_HOST"
        fi
    done
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
    proc=${proc%-full}
    proc=${proc/%-h2/-tls}
    [[ -f $TMP/$proc.log ]] && tail -n 20 "$TMP/$proc.log" >&2
    die "$name is not ready"
}

# check_jwt_route <target>: gateway-jwt (or gateway-jwt-many) answers 200 with the token
# (wait_ready); here: 401 without a token and with a tampered signature, so the route really
# checks the token.
check_jwt_route() {
    local name=$1 url=${TARGET_URL[$1]} sig=${JWT_TOKEN##*.} code flip=A bad
    code=$(curl -s -o "$TMP/jwt-check.txt" -w '%{http_code}' --max-time 2 \
        -H "Host: $BENCH_HOST" "$url" || true)
    [[ $code == 401 ]] ||
        die "$name answered ${code:-nothing} without a token, not 401: $(cat "$TMP/jwt-check.txt")"
    # One character changed in the middle of the signature.
    [[ ${sig:20:1} == A ]] && flip=B
    bad="${JWT_TOKEN%.*}.${sig:0:20}$flip${sig:21}"
    code=$(curl -s -o "$TMP/jwt-check.txt" -w '%{http_code}' --max-time 2 \
        -H "Host: $BENCH_HOST" -H "Authorization: Bearer $bad" "$url" || true)
    [[ $code == 401 ]] ||
        die "$name answered ${code:-nothing} to a tampered token, not 401: $(cat "$TMP/jwt-check.txt")"
    log "$name: 200 with the token; 401 without it and with a tampered signature"
}

# tls_info <port>: the protocol and cipher a fresh connection negotiates, and whether a second
