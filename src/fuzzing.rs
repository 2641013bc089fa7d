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

/// A tenant file's text cut at its items and parsed piece by piece, as large files are;
/// `None` when the cutter declines it or a piece fails.
pub fn parse_tenants_in_pieces(text: &str) -> Option<Vec<file::TenantFile>> {
    crate::config::tenants_parse::parse_in_pieces(text)
}

/// Tenants written one per piece and joined, as large files are written.
pub fn tenants_yaml_in_pieces(tenants: &[file::TenantFile]) -> Result<String, serde_norway::Error> {
    crate::config::tenants_parse::emit_in_pieces(tenants, 1)
}
