# Multi-stage build: compile with the Rust toolchain, run on a slim image as a non-root user.
#   docker build -t tenant-gateway .
#   docker run --rm -p 8080:8080 -p 127.0.0.1:9090:9090 \
#     -e TENANT_GATEWAY_ADMIN_TOKEN=change-me-to-a-long-secret tenant-gateway
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

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin gateway
COPY --from=build /src/target/release/tenant-gateway /usr/local/bin/tenant-gateway
COPY conf /etc/tenant-gateway
COPY certs /etc/tenant-gateway/certs
USER gateway
EXPOSE 8080 9090
# The shipped conf listens on loopback; in a container listen on all interfaces.
ENTRYPOINT ["tenant-gateway"]
CMD ["run", "-c", "/etc/tenant-gateway/gateway.yaml", "--listen", "0.0.0.0:8080", "--admin-listen", "0.0.0.0:9090"]
