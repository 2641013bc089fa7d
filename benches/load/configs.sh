# benches/load/configs.sh: the configuration files of every target, written into $TMP
# (sourced by benches/load.sh): the backend and proxy nginx, haproxy, the wrk loopback
# script and each tenant-gateway configuration with its tenants file. Worker counts follow
# THREADS.

# nginx_conf <dir> <server block>: a THREADS-worker nginx with everything under <dir>.
nginx_conf() {
    local dir=$1 server=$2 user_line=""
    mkdir -p "$dir/logs"
    # As root, run the worker as root too: the temp dir is private to this user.
    [[ $EUID -eq 0 ]] && user_line="user root;"
    cat >"$dir/nginx.conf" <<EOF
$user_line
worker_processes $THREADS;
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
    # defaults (session tickets on, no session cache), the certificate the gateway serves; h2
    # by ALPN like the gateway (wrk offers no ALPN, so its targets stay on HTTP/1.1).
    nginx_conf "$TMP/nginx-tls" "
    upstream backend {
        server 127.0.0.1:$BACKEND_PORT;
        keepalive 256;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_TLS_PORT ssl http2;
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
    nbthread $THREADS
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
    # gateway-jwt-many: gateway-jwt's configuration in its own process, so its
    # validated-token cache holds only the rotating tokens (and the readiness token). The
    # default auth.claims_cache_size (100000) holds JWT_TOKENS=10000; a larger JWT_TOKENS
    # raises it so every token still fits.
    gateway_yaml "$TMP/gateway-jwt-many.yaml" "$GATEWAY_JWTM_PORT" "$GATEWAY_JWTM_ADMIN_PORT" \
        '"off"' tenants-jwt.yaml
    if ((JWT_TOKENS + 1 > 100000)); then
        printf 'auth:\n  claims_cache_size: %s\n' "$((JWT_TOKENS + 1))" \
            >>"$TMP/gateway-jwt-many.yaml"
    fi
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
  threads: $THREADS
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
