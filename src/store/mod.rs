//! Where tenants come from and how a new version goes live. Every change (file watch,
//! SIGHUP, admin API, the DynamoDB follower) goes through [`Reloader::reload`]: load →
//! validate → build a [`crate::runtime::Runtime`] → publish it, or reject and keep the
//! running one. A change of a few tenant records from the admin API goes through
//! [`Reloader::apply_change`], which rebuilds only those tenants.

pub mod dynamodb;
mod records;
pub mod reload;
mod reload_items;
mod reload_written;
pub mod stamp;
mod tenant_writes;
mod tenants_held;
mod tenants_written;
mod watch;

pub use records::Records;
pub use reload::{ReloadOutcome, Reloader, Validated};
pub use tenant_writes::{ChangeError, TenantWriter};
pub use watch::ConfigWatcher;
