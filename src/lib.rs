//! tenant-gateway: a multi-tenant edge gateway on Pingora. Requests are resolved to a tenant
//! by host (or path), routed by longest path prefix to pooled backends, and forwarded with
//! tenant headers the client cannot spoof. See `README.md` for the request path.

pub mod access_log;
pub mod admin;
pub mod assertion;
pub mod auth;
pub mod config;
pub mod demo;
pub mod demo_idp;
pub mod domains;
#[doc(hidden)]
pub mod fuzzing;
pub mod host;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod metrics_handles;
pub mod path;
pub mod priority;
pub mod provision;
pub mod proxy;
pub mod reclaim;
pub mod runtime;
pub mod seal;
pub mod server;
pub mod store;
pub mod tenant;
pub mod tls;
pub mod upstream;
