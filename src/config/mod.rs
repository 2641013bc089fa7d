//! Configuration: the file format ([`file`]), validation ([`validate`]) and the validated
//! model ([`model`]). [`load`] is the one entry point, used alike by `check`, start-up and
//! every reload.

mod change;
pub mod error;
pub mod file;
pub mod model;
mod record_text;
mod tenant_items;
pub(crate) mod tenants_parse;
mod validate;
mod validate_auth;
mod validate_provisioning;
mod validate_store;
mod validate_tls;

pub use change::{common_ends, load_change, RecordEdit, TenantNames, EDIT_MAX};
pub use error::{ConfigError, Issue};
pub use model::*;
pub use record_text::RecordText;
pub use tenant_items::TenantItems;
pub use validate::valid_token;
pub use validate_auth::client_secret_aad;

use std::path::{Path, PathBuf};

impl Default for AuthSettings {
    /// The defaults of an empty `auth` block, without a session key.
    fn default() -> Self {
        validate_auth::from_file(&file::AuthFile::default(), None)
    }
}

/// Reads, parses and validates `gateway.yaml` and the tenant files it names.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, None)
}

/// `tenant-gateway check` on any configuration file: a gateway file is loaded with its
/// tenants; a tenants file is validated through every gateway file beside it that names it
/// (or, when none does, parsed strictly on its own). Returns a one-line summary.
pub fn check_file(path: &Path) -> Result<String, ConfigError> {
    let text = read(path)?;
    let value: serde_norway::Value = parse(path, &text)?;
    if value.get("base_domains").is_some() {
        let c = load(path)?;
        if let TenantSource::Dynamodb(d) = &c.tenant_source {
            return Ok(format!(
                "ok: {} ({} pools; tenants in DynamoDB table {}, not read by check)",
                path.display(),
                c.routing.pools.len(),
                d.tenants_table()
            ));
        }
        return Ok(format!(
            "ok: {} ({} tenants, {} pools)",
            path.display(),
            c.routing.tenants.len(),
            c.routing.pools.len()
        ));
    }
    let records = tenants_parse::parse_tenants(path, &text)?;
    let me = std::fs::canonicalize(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut via = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let g = entry.path();
        if g == path || !matches!(g.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            continue;
        }
        let Ok(Some(source)) = tenant_source(&g) else {
            continue;
        };
        let Ok(source) = std::fs::canonicalize(source) else {
            continue;
        };
        if source == me || me.parent() == Some(source.as_path()) {
            load(&g)?;
            via.push(g.display().to_string());
        }
    }
    Ok(if via.is_empty() {
        format!(
            "ok: {} ({} tenants; parsed only: no gateway file beside it names it)",
            path.display(),
            records.tenants.len()
        )
    } else {
        format!(
            "ok: {} ({} tenants, validated with {})",
            path.display(),
            records.tenants.len(),
            via.join(", ")
        )
    })
}

/// The tenant file or directory of a `gateway.yaml`; `None` when tenants live in DynamoDB.
pub fn tenant_source(path: &Path) -> Result<Option<PathBuf>, ConfigError> {
    let gateway: file::GatewayFile = parse(path, &read(path)?)?;
    Ok(match &gateway.tenants {
        file::TenantSourceFile::File { path: p } => Some(validate::relative_to(path, p)),
        file::TenantSourceFile::Dynamodb(_) => None,
    })
}

/// Like [`load`], with the tenant records given instead of read: validates a change before
/// anything is written (the admin API), and builds each version of a DynamoDB-backed fleet.
/// With the DynamoDB source and no records given, the gateway file is validated with no
/// tenants (what `check` and start-up do before the store is read).
pub fn load_with(
    path: &Path,
    tenants: Option<(PathBuf, file::TenantsFile)>,
) -> Result<Config, ConfigError> {
    let mut issues = Vec::new();
    let (mut parts, source) = gateway_parts(path, &read(path)?, &mut issues)?;
    let mut items = None;
    let tenant_files = match (tenants, &source) {
        (Some(given), _) => vec![given],
        (None, TenantSource::File(p)) => read_tenant_files(p, &mut items)?,
        (None, TenantSource::Dynamodb(_)) => vec![],
    };
    let tenants = validate::tenants(&mut parts, tenant_files, &mut issues);
    let all = 0..tenants.len();
    let mut config = assemble(path, source, parts, tenants, all, issues)?;
    config.tenant_items = items;
    Ok(config)
}

/// Parses and validates `gateway.yaml` (its text is `text`) on its own: everything but the
/// tenants.
fn gateway_parts(
    path: &Path,
    text: &str,
    issues: &mut Vec<Issue>,
) -> Result<(validate::GatewayParts, TenantSource), ConfigError> {
    let gateway: file::GatewayFile = parse(path, text)?;
    // These keep private keys or app-client secrets in a fleet's tables, sealed with the
    // store key.
    let sealed =
        gateway.tls.acme.is_some() || gateway.assertion.is_some() || gateway.provisioning.is_some();
    let source = validate_store::source(path, &gateway.tenants, sealed, issues);
    let mut parts = validate::gateway(path, gateway, issues);
    if let TenantSource::Dynamodb(d) = &source {
        parts.sealer = d
            .encryption_key
            .as_deref()
            .map(|k| std::sync::Arc::new(crate::seal::Sealer::new(k)));
    }
    Ok((parts, source))
}

/// The configuration of `parts` with `tenants` (validated), or every issue found.
/// `unchecked` are the tenants not yet checked for the session key their routes need: all of
/// them, or a change's added ones (the others passed under the same settings).
fn assemble(
    path: &Path,
    source: TenantSource,
    mut parts: validate::GatewayParts,
    tenants: Vec<std::sync::Arc<TenantSpec>>,
    unchecked: std::ops::Range<usize>,
    mut issues: Vec<Issue>,
) -> Result<Config, ConfigError> {
    let token_env = parts.admin_token_env.take();
    let token_file = parts.admin_token_file.take();
    let unchecked = tenants.get(unchecked).unwrap_or(&tenants);
    if validate::session_key_needed(&parts, unchecked) {
        issues.push(Issue {
            file: path.to_path_buf(),
            tenant: None,
            field: "auth.session_key".to_string(),
            message: "tenants use browser login (`oidc` routes): set a session key".to_string(),
        });
    }
    let token = admin_token(path, token_env, token_file, &mut issues);
    if !issues.is_empty() {
        return Err(ConfigError::Invalid(issues));
    }
    Ok(Config {
        source: path.to_path_buf(),
        tenant_source: source,
        listeners: parts.listeners,
        server: parts.server,
        admin: AdminSettings { token },
        logging: parts.logging,
        upstream_keepalive_pool_size: parts.upstream_keepalive_pool_size,
        tls: parts.tls,
        assertion: parts.assertion.clone(),
        provisioning: parts.provisioning.clone(),
        tenant_items: None,
        routing: RoutingConfig {
            base_domains: parts.base_domains,
            path_tenants: parts.path_tenants,
            pools: parts.pools,
            default_routes: parts.default_routes,
            tenants,
            max_tenant_labels: parts.max_tenant_labels,
            max_request_body_bytes: parts.max_request_body_bytes,
            request: parts.request,
            limits: parts.limits,
            auth: AuthSettings {
                copy_claims: parts
                    .assertion
                    .as_ref()
                    .map(|a| a.copy_claims.clone())
                    .unwrap_or_default(),
                ..parts.auth
            },
            https_redirect: parts.https_redirect,
            domain_verification: parts.domain_verification,
        },
    })
}

/// The files a reload must watch: `gateway.yaml` and the tenant source.
pub fn watched_paths(config: &Config) -> Vec<PathBuf> {
    let mut v = vec![config.source.clone()];
    if let Ok(text) = std::fs::read_to_string(&config.source) {
        if let Ok(g) = serde_norway::from_str::<file::GatewayFile>(&text) {
            if let file::TenantSourceFile::File { path } = g.tenants {
                v.push(validate::relative_to(&config.source, &path));
            }
        }
    }
    v
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

pub use tenants_parse::{
    join_record_texts, parse_tenants, record_text, record_texts, tenants_yaml, write_all_vectored,
    write_record_texts,
};

pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, ConfigError> {
    serde_norway::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: with_tenant_hint(text, &e.to_string()),
    })
}

/// serde reports `tenants[3].status: ...`; add that tenant's name and id so the operator
/// knows which record to fix.
fn with_tenant_hint(text: &str, message: &str) -> String {
    let Some(idx) = message
        .strip_prefix("tenants[")
        .and_then(|r| r.split(']').next())
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return message.to_string();
    };
    let Ok(v) = serde_norway::from_str::<serde_norway::Value>(text) else {
        return message.to_string();
    };
    let t = &v["tenants"][idx];
    match (t["name"].as_str(), t["id"].as_str()) {
        (Some(name), Some(id)) => format!("tenant {name:?} (id {id}): {message}"),
        (Some(name), None) => format!("tenant {name:?}: {message}"),
        _ => message.to_string(),
    }
}

/// A tenant source is one YAML file or a directory of them (read in name order). A single
/// file's items are indexed into `items` (see [`TenantItems`]).
fn read_tenant_files(
    path: &Path,
    items: &mut Option<TenantItems>,
) -> Result<Vec<(PathBuf, file::TenantsFile)>, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut files = if meta.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut v: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        v.sort();
        v
    } else {
        let text = read(path)?;
        let parsed = tenants_parse::parse_tenants(path, &text)?;
        // An index whose items are not the records one for one would mislead every diff.
        *items = TenantItems::of(path, &text).filter(|i| i.len() == parsed.tenants.len());
        return Ok(vec![(path.to_path_buf(), parsed)]);
    };
    files
        .drain(..)
        .map(|p| {
            let parsed = tenants_parse::parse_tenants(&p, &read(&p)?)?;
            Ok((p, parsed))
        })
        .collect()
}

fn admin_token(
    file: &Path,
    env: Option<String>,
    token_file: Option<PathBuf>,
    issues: &mut Vec<Issue>,
) -> Option<String> {
    let mut fail = |field: &str, message: String| {
        issues.push(Issue {
            file: file.to_path_buf(),
            tenant: None,
            field: field.to_string(),
            message,
        })
    };
    let token = if let Some(var) = env {
        match std::env::var(&var) {
            Ok(v) => Some(v),
            Err(_) => {
                tracing::warn!(variable = %var, "admin token variable is not set: admin writes are disabled");
                None
            }
        }
    } else if let Some(p) = token_file {
        match std::fs::read_to_string(&p) {
            Ok(v) => Some(v),
            Err(e) => {
                fail("admin.token_file", format!("{}: {e}", p.display()));
                None
            }
        }
    } else {
        None
    };
    let token = token.map(|t| t.trim().to_string());
    if let Some(t) = &token {
        if t.len() < 16 {
            fail(
                "admin",
                "the admin token must be at least 16 characters".to_string(),
            );
        }
    }
    token
}
