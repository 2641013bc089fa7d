#!/usr/bin/env bash
# Builds the container image's `runtime` stage from the host-built binary and checks it:
# readiness, tenant traffic through the gateway port, the non-root user, and a graceful
# `docker stop` (exit code 0, in-flight request finished, shutdown in the logs).
#
# Works without any image registry: the base image local/debian:bookworm-slim is made once
# with `debootstrap --variant=minbase` from the Debian mirror apt uses (the rootfs tarball is
# cached in target/container-test/), and dockerd is started if it is not running.
# Idempotent; reruns reuse the daemon, the base image and the build cache.
#
#   scripts/container-test.sh               # binary: target/debug/tenant-gateway
# Environment:
#   CONTAINER_TEST_BINARY=path   another binary (default target/debug/tenant-gateway, built
#                                if missing)
#   CONTAINER_TEST_STOP_TIMEOUT  `docker stop -t` seconds (default 10)
#   DEBIAN_MIRROR=url            mirror for debootstrap (default: the one apt uses)
# Needs root (or sudo) for dockerd and debootstrap; scripts/install-deps.sh test installs
# docker.io and debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
work=target/container-test
mkdir -p "$work" target/image
base_image=local/debian:bookworm-slim
image=tenant-gateway:container-test
label=tenant-gateway.container-test=1
token=container-test-admin-token-0123456789
# The shipped conf reads the cookie key from TENANT_GATEWAY_SESSION_KEY (its tenants have
# browser-login routes).
session_key=container-test-session-key-0123456789abcdef
stop_timeout=${CONTAINER_TEST_STOP_TIMEOUT:-10}
binary=${CONTAINER_TEST_BINARY:-target/debug/tenant-gateway}
cid=
inflight_pid=

say() { echo "== container-test: $*"; }
elapsed() { echo "$(($(date +%s) - started))s"; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) for: $*" >&2; exit 1; fi
}
fail() {
  echo "container-test: FAIL: $*" >&2
  if [ -n "$cid" ]; then
    echo "---- docker inspect (state)" >&2
    docker inspect -f '{{json .State}}' "$cid" >&2 || true
    echo "---- docker logs (last 80 lines)" >&2
    docker logs --tail 80 "$cid" >&2 || true
    echo "container-test: FAIL: $*" >&2
  fi
  exit 1
}
cleanup() {
  [ -z "$inflight_pid" ] || kill "$inflight_pid" 2>/dev/null || true
  [ -z "$cid" ] || docker rm -f "$cid" >/dev/null 2>&1 || true
}
trap cleanup EXIT

for cmd in docker curl; do
  command -v "$cmd" >/dev/null || { echo "container-test: $cmd is missing (scripts/install-deps.sh test)" >&2; exit 1; }
done
# Debian's docker.io has no buildx: use the classic builder then (it builds the stages up to
# --target in order, which is why the Dockerfile's `runtime` stage comes before the Rust one).
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0

# ---- 1. the daemon
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: $work/dockerd.log)"
  # setsid + nohup: the daemon outlives this script (reruns reuse it).
  as_root setsid nohup dockerd >"$work/dockerd.log" 2>&1 </dev/null &
  deadline=$(($(date +%s) + 60))
  until docker info >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 40 "$work/dockerd.log" >&2 || true
      fail "dockerd did not answer within 60s"
    fi
    sleep 0.5
  done
fi
say "dockerd ready ($(docker version -f '{{.Server.Version}}'), $(elapsed))"

# ---- 2. the base image
debian_mirror() {
  local m=${DEBIAN_MIRROR:-}
  if [ -z "$m" ]; then # one-line format: deb [opts] URL bookworm main
    m=$(grep -hsE '^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[a-z]+://[^[:space:]]+[[:space:]]+bookworm[[:space:]]' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list | head -n 1 \
      | sed -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/') || true
  fi
  if [ -z "$m" ]; then # deb822 format: the stanza whose Suites has bookworm
    m=$(awk 'BEGIN { RS = "" }
      /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t\n]|$)/ {
        if (match($0, /URIs:[ \t]*[^ \t\n]+/)) {
          u = substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", u); print u; exit
        }
      }' /etc/apt/sources.list.d/*.sources 2>/dev/null) || true
  fi
  echo "${m:-http://deb.debian.org/debian}"
}
if docker image inspect "$base_image" >/dev/null 2>&1; then
  say "base image $base_image present"
else
  tarball=$work/debian-bookworm-minbase.tar
  if [ ! -s "$tarball" ]; then
    [ -x /usr/sbin/debootstrap ] || command -v debootstrap >/dev/null \
      || { echo "container-test: debootstrap is missing (scripts/install-deps.sh test)" >&2; exit 1; }
    mirror=$(debian_mirror)
    rootfs=$work/rootfs
    say "debootstrap --variant=minbase bookworm from $mirror (about 90s, once)"
    as_root rm -rf "$rootfs"
    # ca-certificates: the Dockerfile then needs no apt (and no network) on this base.
    if ! as_root timeout 300 debootstrap --variant=minbase --include=ca-certificates \
      bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
      tail -n 30 "$work/debootstrap.log" >&2
      fail "debootstrap failed (log: $work/debootstrap.log)"
    fi
    as_root sh -c "rm -rf '$rootfs'/var/cache/apt/archives/*.deb '$rootfs'/var/lib/apt/lists/* \
      && tar -C '$rootfs' --numeric-owner -cf '$tarball.tmp' . && mv '$tarball.tmp' '$tarball'"
    as_root rm -rf "$rootfs"
  fi
  say "docker import $tarball -> $base_image"
  docker import "$tarball" "$base_image" >/dev/null || fail "docker import failed"
fi

# ---- 3. the image, from the host binary
if [ ! -x "$binary" ]; then
  say "building $binary"
  cargo build --locked --bin tenant-gateway
fi
# Debug info is most of a debug binary (~480 MB); the image gets a copy without it (symbols
# stay, so backtraces still have names).
stage() { # stage SRC NAME: a copy without debug info at target/image/NAME, unless current
  local src=$1 dst=target/image/$2 id
  id=$(stat -L -c '%n %s %Y' "$src")
  if [ ! -s "$dst" ] || [ "$(cat "$dst.source" 2>/dev/null)" != "$id" ]; then
    if command -v strip >/dev/null; then strip --strip-debug -o "$dst.tmp" "$src"; else
      cp "$src" "$dst.tmp"; fi
    mv "$dst.tmp" "$dst"
    echo "$id" >"$dst.source"
  fi
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
build() { # build BINARY_IN_CONTEXT TAG
  if ! timeout 300 docker build -q --target runtime --label "$label" \
    --build-arg BASE_IMAGE="$base_image" --build-arg BINARY="$1" -t "$2" . \
    >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    fail "docker build of $2 failed"
  fi
}
stage "$binary" tenant-gateway-test
say "docker build --target runtime ($binary: $(mib "$(stat -c %s "$binary")"), in the image $(mib "$(stat -c %s target/image/tenant-gateway-test)"))"
build target/image/tenant-gateway-test "$image"
size=$(docker image inspect -f '{{.Size}}' "$image")
say "image $image: $(mib "$size") (base $(mib "$(docker image inspect -f '{{.Size}}' "$base_image")"), $(elapsed))"
if [ -x target/release/tenant-gateway ]; then
  stage target/release/tenant-gateway tenant-gateway-release
  build target/image/tenant-gateway-release tenant-gateway:container-test-release
  say "image with target/release/tenant-gateway: $(mib "$(docker image inspect -f '{{.Size}}' tenant-gateway:container-test-release)")"
fi
# Earlier builds of these tags, now untagged.
docker image prune -f --filter "label=$label" >/dev/null || true

# ---- 4. run it: the shipped conf/, with its demo backends inside the container
cid=$(docker run -d --label "$label" -p 127.0.0.1::8080 -p 127.0.0.1::9090 \
  -e TENANT_GATEWAY_ADMIN_TOKEN="$token" -e TENANT_GATEWAY_SESSION_KEY="$session_key" "$image" \
  run -c /etc/tenant-gateway/gateway.yaml --listen 0.0.0.0:8080 --admin-listen 0.0.0.0:9090 \
  --demo-backends) || fail "docker run failed"
# The published ports (docker picks free ones), once the container runs.
port_of() { docker port "$cid" "$1" 2>/dev/null | head -n 1; }
deadline=$(($(date +%s) + 10))
until http=$(port_of 8080/tcp) && admin=$(port_of 9090/tcp) && [ -n "$http" ] && [ -n "$admin" ]; do
  [ "$(docker inspect -f '{{.State.Running}}' "$cid")" = true ] || fail "container exited at start"
  [ "$(date +%s)" -lt "$deadline" ] || fail "no published ports after 10s"
  sleep 0.2
done
say "container ${cid:0:12}: tenant port $http, admin port $admin"

deadline=$(($(date +%s) + 30))
until curl -fsS --max-time 2 "http://$admin/readyz" 2>/dev/null | grep -q '"status": *"ready"'; do
  [ "$(docker inspect -f '{{.State.Running}}' "$cid")" = true ] || fail "container exited before it was ready"
  [ "$(date +%s)" -lt "$deadline" ] || fail "/readyz did not answer ready within 30s"
  sleep 0.2
done
say "/readyz: ready ($(elapsed))"

# Demo backends report themselves as <pool>@<addr>; the health checker needs a round to see
# them, so allow a few tries.
expect_tenant() {
  local out=$work/tenant.out code deadline=$(($(date +%s) + 15))
  while :; do
    code=$(curl -sS --max-time 5 -o "$out" -w '%{http_code}' -H 'Host: tenant-1.localhost' \
      "http://$http/hello?x=1") || code=000
    if [ "$code" = 200 ] && grep -q '"backend": *"web@127.0.0.1:910[12]"' "$out" \
      && grep -q '"x-tenant-id": *"6f1c2a4e-8d7b-4c55-9a1e-2b3c4d5e6f70"' "$out" \
      && grep -q '"path": *"/hello?x=1"' "$out"; then
      return 0
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { cat "$out" >&2; fail "tenant-1.localhost/hello answered $code"; }
    sleep 0.2
  done
}
expect_tenant
say "tenant-1.localhost/hello: 200 from the web pool with the tenant's headers"

code=$(curl -sS --max-time 5 -o "$work/unknown.out" -w '%{http_code}' -H 'Host: nobody.invalid' "http://$http/") || code=000
[ "$code" = 404 ] && grep -q '"error"' "$work/unknown.out" \
  || { cat "$work/unknown.out" >&2; fail "unknown host answered $code, not a JSON 404"; }
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H 'Host: former.localhost' "http://$http/") || code=000
[ "$code" = 403 ] || fail "disabled tenant former.localhost answered $code, not 403"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://$admin/status") || code=000
[ "$code" = 200 ] || fail "admin /status with the token from the environment answered $code"
say "unknown host: JSON 404; disabled tenant: 403; admin token from the environment: /status 200"

# ---- 5. non-root
user=$(docker inspect -f '{{.Config.User}}' "$cid")
exec_uid=$(docker exec "$cid" id -u) || fail "docker exec id -u failed"
pid1_uid=$(docker exec "$cid" sh -c 'grep "^Uid:" /proc/1/status' | awk '{ print $2 }')
pid1=$(docker exec "$cid" sh -c 'tr "\0" " " </proc/1/cmdline' | sed 's/ $//')
[ "$user" = 10001:10001 ] && [ "$exec_uid" = 10001 ] && [ "$pid1_uid" = 10001 ] \
  || fail "not running as uid 10001 (Config.User=$user, exec uid=$exec_uid, PID 1 uid=$pid1_uid)"
say "runs as uid 10001 (PID 1: $pid1)"

# ---- 6. graceful stop, with a request in flight
curl -sS --max-time 20 -o "$work/inflight.out" -w '%{http_code}' -H 'Host: tenant-1.localhost' \
  "http://$http/slow?sleep_ms=2000" >"$work/inflight.code" 2>"$work/inflight.err" &
inflight_pid=$!
# Give the request a head start to reach the backend (the check is its answer, below).
sleep 0.5
t0=$(date +%s.%N)
docker stop -t "$stop_timeout" "$cid" >/dev/null || fail "docker stop failed"
t1=$(date +%s.%N)
wait "$inflight_pid" || true
inflight_pid=
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$cid")
logs=$(docker logs "$cid" 2>&1)
[ "$exit_code" = 0 ] || fail "exit code $exit_code after docker stop -t $stop_timeout (${took}s; 137 = killed)"
awk -v t="$took" -v m="$stop_timeout" 'BEGIN { exit !(t < m) }' \
  || fail "docker stop took ${took}s, the whole -t $stop_timeout budget"
grep -q 'SIGTERM received' <<<"$logs" && grep -q 'Graceful shutdown: grace period ends' <<<"$logs" \
  || fail "the logs do not show the graceful shutdown"
[ "$(cat "$work/inflight.code")" = 200 ] \
  || { cat "$work/inflight.err" >&2; fail "the in-flight request got $(cat "$work/inflight.code") during the shutdown"; }
say "docker stop -t $stop_timeout: exit code 0 after ${took}s; in-flight request answered 200; logs show SIGTERM and the grace period"

docker rm "$cid" >/dev/null
cid=
say "passed in $(elapsed); image $image $(mib "$size")"
