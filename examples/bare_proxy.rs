//! The "bare Pingora" floor for load tests: a `ProxyHttp` that forwards every request to one
//! upstream and adds a single request header, nothing else. No tenant resolution, routing,
//! metrics or access log. Comparing it with `tenant-gateway` under the same load isolates the
//! gateway's own per-request cost (see `benches/load.sh`).
//!
//! ```text
//! cargo run --release --example bare_proxy -- \
//!     --listen 127.0.0.1:6190 --upstream 127.0.0.1:6180 --threads 1
//! ```

use async_trait::async_trait;
use clap::Parser;
use pingora::http::RequestHeader;
use pingora::prelude::*;
use pingora::proxy::{ProxyHttp, Session};
use pingora::server::configuration::ServerConf;
use pingora::upstreams::peer::HttpPeer;
use std::net::SocketAddr;
use std::time::Duration;

// The same allocator as the gateway binary, so the comparison is like for like.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(about = "Minimal Pingora reverse proxy to one upstream (load-test baseline)")]
struct Args {
    /// Address to accept HTTP/1.1 on.
    #[arg(long, default_value = "127.0.0.1:6190")]
    listen: String,
    /// The one upstream every request goes to (ip:port, plain HTTP).
    #[arg(long)]
    upstream: SocketAddr,
    /// Worker threads of the proxy service.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Idle upstream connections kept for reuse.
    #[arg(long, default_value_t = 1024)]
    keepalive_pool: usize,
    /// Give the peer the gateway's default connect/read/write/idle timeouts (2s/30s/30s/60s),
    /// to measure what per-I/O timeouts cost on their own.
    #[arg(long)]
    timeouts: bool,
    /// Turn off Tokio work stealing between the worker threads (Pingora's `work_stealing`).
    #[arg(long)]
    no_work_stealing: bool,
}

struct BareProxy {
    upstream: SocketAddr,
    timeouts: bool,
}

#[async_trait]
impl ProxyHttp for BareProxy {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        let mut peer = HttpPeer::new(self.upstream, false, String::new());
        if self.timeouts {
            let o = &mut peer.options;
            o.connection_timeout = Some(Duration::from_secs(2));
            o.read_timeout = Some(Duration::from_secs(30));
            o.write_timeout = Some(Duration::from_secs(30));
            o.idle_timeout = Some(Duration::from_secs(60));
        }
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        _ctx: &mut Self::CTX,
    ) -> Result<()> {
        // One header, as the least any real proxy adds (the gateway adds several).
        upstream.insert_header("x-forwarded-proto", "http")
    }
}

fn main() {
    let args = Args::parse();
    let conf = ServerConf {
        threads: args.threads,
        upstream_keepalive_pool_size: args.keepalive_pool,
        work_stealing: !args.no_work_stealing,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let mut proxy = pingora::proxy::http_proxy_service(
        &server.configuration,
        BareProxy {
            upstream: args.upstream,
            timeouts: args.timeouts,
        },
    );
    proxy.add_tcp(&args.listen);
    server.add_service(proxy);
    eprintln!(
        "bare_proxy: {} -> {} ({} thread(s))",
        args.listen, args.upstream, args.threads
    );
    server.run_forever()
}
