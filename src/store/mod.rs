//! Where tenants come from and how a new version goes live. Every change (file watch,
//! SIGHUP, admin API, the DynamoDB follower) goes through [`Reloader::reload`]: load →
//! validate → build a [`crate::runtime::Runtime`] → publish it, or reject and keep the
//! running one.

pub mod dynamodb;
pub mod reload;
mod tenant_writes;
mod watch;

pub use reload::{ReloadOutcome, Reloader};
pub use tenant_writes::{ChangeError, TenantWriter};
pub use watch::ConfigWatcher;
