//! Validation of the tenant source block: a file path, or the DynamoDB settings of a fleet.

use super::error::Issue;
use super::file::{DynamoSourceFile, TenantSourceFile};
use super::model::{DynamoSettings, TenantSource};
use std::path::Path;
use std::time::Duration;

/// Validates `tenants:`; `sealed` says whether secrets will be kept in the store (ACME and
/// assertion keys, provisioned app-client secrets).
pub(super) fn source(
    file: &Path,
    src: &TenantSourceFile,
    sealed: bool,
    issues: &mut Vec<Issue>,
) -> TenantSource {
    match src {
        TenantSourceFile::File { path } => {
            TenantSource::File(super::validate::relative_to(file, path))
        }
        TenantSourceFile::Dynamodb(d) => TenantSource::Dynamodb(dynamodb(file, d, sealed, issues)),
    }
}

fn dynamodb(
    file: &Path,
    d: &DynamoSourceFile,
    sealed: bool,
    issues: &mut Vec<Issue>,
) -> DynamoSettings {
    let mut fail = |field: &str, message: String| {
        issues.push(Issue {
            file: file.to_path_buf(),
            tenant: None,
            field: format!("tenants.{field}"),
            message,
        })
    };
    let p = &d.table_prefix;
    if p.len() < 3
        || p.len() > 200
        || !p
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        fail(
            "table_prefix",
            format!("{p:?}: use 3-200 characters of A-Z, a-z, 0-9, '_', '-', '.'"),
        );
    }
    if let Some(e) = &d.endpoint {
        match url::Url::parse(e) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => fail("endpoint", format!("{e:?} is not an http(s) URL")),
        }
    }
    if d.poll_interval < Duration::from_millis(100) {
        fail("poll_interval", "must be at least 100ms".to_string());
    }
    if d.timeout < Duration::from_millis(100) {
        fail("timeout", "must be at least 100ms".to_string());
    }
    let encryption_key = match &d.encryption_key_env {
        Some(var) => match std::env::var(var) {
            Ok(v) if v.trim().len() >= 32 => Some(v.trim().to_string()),
            Ok(_) => {
                fail(
                    "encryption_key_env",
                    format!("the value of {var} must be at least 32 characters"),
                );
                None
            }
            Err(_) => {
                fail("encryption_key_env", format!("{var} is not set"));
                None
            }
        },
        None => None,
    };
    if sealed && d.encryption_key_env.is_none() {
        fail(
            "encryption_key_env",
            "required with tls.acme, assertion or provisioning: the certificate and assertion \
             keys and the app-client secrets in DynamoDB are encrypted with it"
                .to_string(),
        );
    }
    DynamoSettings {
        table_prefix: p.clone(),
        region: d.region.clone(),
        endpoint: d.endpoint.clone(),
        poll_interval: d.poll_interval,
        timeout: d.timeout,
        encryption_key,
    }
}

#[cfg(test)]
#[path = "validate_store_tests.rs"]
mod tests;
