# tenant-gateway image: a slim Debian runtime, running as a non-root user (uid 10001).
#
# Two ways to build it:
#
# 1. Everything in Docker (needs a registry for rust:1-bookworm; the default, last stage):
#      docker build -t tenant-gateway .
#    This needs BuildKit (Docker's default builder since 23.0), which builds only the stages
#    the target uses. The classic builder (DOCKER_BUILDKIT=0, or Debian's docker.io without
#    buildx) builds every stage before the target, so it would also need the host binary of
#    the `runtime` stage below: use way 2 there.
#
# 2. From a binary built on the host (no Rust toolchain image needed; what
#    scripts/container-test.sh does). The binary must be built for a glibc no newer than
#    bookworm's (build on Debian 12, or in rust:1-bookworm). Put it in target/image/ (the only
#    part of target/ that .dockerignore lets into the context) and build the `runtime` stage:
#      cargo build --release --locked --bin tenant-gateway
#      mkdir -p target/image && cp target/release/tenant-gateway target/image/
#      docker build --target runtime -t tenant-gateway .
#    BINARY=<path in the context> names another file.
#
# BASE_IMAGE replaces debian:bookworm-slim, e.g. an image made offline with debootstrap:
#      docker build --target runtime --build-arg BASE_IMAGE=local/debian:bookworm-slim ...
# ca-certificates is installed with apt unless the base image already has
# /etc/ssl/certs/ca-certificates.crt (then the build needs no network). The gateway's own
# outbound TLS (IdPs, ACME) uses the roots compiled into it; the bundle is for anything else.
#
# Run (the shipped conf/ listens on loopback; the command below listens on all interfaces):
#   docker run --rm -p 8080:8080 -p 127.0.0.1:9090:9090 \
#     -e TENANT_GATEWAY_ADMIN_TOKEN=change-me-to-a-long-secret \
#     -e TENANT_GATEWAY_SESSION_KEY=change-me-to-32-or-more-random-characters tenant-gateway
# (admin.token_env and auth.session_key in conf/gateway.yaml name these variables.)
# Other configuration: mount it over /etc/tenant-gateway (gateway.yaml, tenants.yaml, certs/).
#
# Stopping: `docker stop` sends SIGTERM. The gateway handles it itself (Pingora's graceful
# terminate; it runs fine as PID 1, no --init needed): the listeners stop accepting at once,
# in-flight requests get server.grace_period (conf: 5s) to finish, the worker runtimes then get
# up to server.graceful_shutdown_timeout (5s), and the process exits with 0. Pingora sleeps the
# whole grace period even when nothing is in flight, so a stop takes about 5s here. Give
# `docker stop -t` (and Kubernetes' terminationGracePeriodSeconds) at least the sum, plus a
# margin: -t 15 for the shipped conf. SIGINT is a fast shutdown; SIGQUIT is Pingora's
# graceful upgrade (not useful in a container).
#
# No HEALTHCHECK: the image has no HTTP client. Probe the admin listener from outside:
# GET /healthz (liveness) and GET /readyz (readiness) on port 9090.

ARG BASE_IMAGE=debian:bookworm-slim

# The runtime without the binary: CA bundle, user, configuration.
FROM ${BASE_IMAGE} AS base
RUN if [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin gateway
COPY conf /etc/tenant-gateway
COPY certs /etc/tenant-gateway/certs
USER 10001:10001
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
ENTRYPOINT ["tenant-gateway"]
CMD ["run", "-c", "/etc/tenant-gateway/gateway.yaml", "--listen", "0.0.0.0:8080", "--admin-listen", "0.0.0.0:9090"]

# Way 2: the runtime with a binary built on the host. It comes before the Rust stage so that
# the legacy builder (docker without buildx), which builds every stage up to the target,
# never needs rust:1-bookworm for it.
FROM base AS runtime
ARG BINARY=target/image/tenant-gateway
COPY --chown=0:0 ${BINARY} /usr/local/bin/tenant-gateway

# Way 1: compile in Docker.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
COPY examples examples
RUN cargo build --release --locked --bin tenant-gateway

FROM base AS image
COPY --from=build /src/target/release/tenant-gateway /usr/local/bin/tenant-gateway
