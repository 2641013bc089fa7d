//! Entry points for the cargo-fuzz targets in fuzz/; not a stable API.

use crate::config::{file, ConfigError};
use std::path::Path;

pub use crate::auth::session::{FlowData, SessionData};

/// `(user, password)` from an `Authorization: Basic ...` value, as the proxy reads it.
pub fn basic_parse(authorization: &[u8]) -> Option<(String, String)> {
    crate::auth::basic::parse(authorization)
}

/// `gateway.yaml` text parsed (not validated) exactly as `config::load` parses it; `path` only
/// names the file in errors. Touches no file.
pub fn parse_gateway(path: &Path, text: &str) -> Result<file::GatewayFile, ConfigError> {
    crate::config::parse(path, text)
}

/// A tenant file's text parsed (not validated) exactly as `config::load` parses it; `path`
/// only names the file in errors. Touches no file.
pub fn parse_tenants(path: &Path, text: &str) -> Result<file::TenantsFile, ConfigError> {
    crate::config::parse(path, text)
}
