//! The one path by which a configuration change goes live.

use super::{publish, Runtime, RuntimeHandle};
use crate::config::file::TenantsFile;
use crate::config::{self, Config, ConfigError};
use crate::metrics::METRICS;
use std::path::PathBuf;

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ReloadOutcome {
    Applied { generation: u64, tenants: usize },
    Unchanged { generation: u64 },
}

/// Supplies the tenant records when they do not come from files (the DynamoDB store): the
/// name validation issues use for the source, and the records.
pub type RecordsProvider = Box<dyn Fn() -> (PathBuf, TenantsFile) + Send + Sync>;

/// Re-reads the configuration and swaps it in; serialises concurrent reloads.
pub struct Reloader {
    path: PathBuf,
    records: Option<RecordsProvider>,
    handle: RuntimeHandle,
    /// Settings fixed at start (listeners, threads): a change is reported, not applied.
    started_with: Config,
    lock: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub fn new(started_with: Config, handle: RuntimeHandle) -> Self {
        Self {
            path: started_with.source.clone(),
            records: None,
            handle,
            started_with,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Takes tenant records from `provider` instead of the tenant files.
    pub fn with_records(mut self, provider: RecordsProvider) -> Self {
        self.records = Some(provider);
        self
    }

    /// The generation of the version in service.
    pub fn generation(&self) -> u64 {
        self.handle.load().generation
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Loads and validates the files; on success swaps the new version in, on failure logs
    /// every issue, counts a rejected reload and leaves the running version untouched.
    pub async fn reload(&self, trigger: &str) -> Result<ReloadOutcome, ConfigError> {
        self.reload_with(trigger, None).await
    }

    /// Like [`Reloader::reload`]; `validated` is a configuration the caller has just loaded
    /// from the same sources (a DynamoDB write validates before it commits), used instead
    /// of loading and validating everything a second time.
    pub async fn reload_with(
        &self,
        trigger: &str,
        validated: Option<Config>,
    ) -> Result<ReloadOutcome, ConfigError> {
        let _one_at_a_time = self.lock.lock().await;
        if let Some(new) = validated {
            return Ok(self.apply(new, trigger));
        }
        let path = self.path.clone();
        let given = self.records.as_ref().map(|p| p());
        let loaded = tokio::task::spawn_blocking(move || config::load_with(&path, given))
            .await
            .unwrap_or_else(|e| {
                Err(ConfigError::Parse {
                    path: self.path.clone(),
                    message: format!("reload task failed: {e}"),
                })
            });
        let new = match loaded {
            Ok(c) => c,
            Err(e) => {
                METRICS.reloads.with_label_values(&["rejected"]).inc();
                tracing::error!(trigger, error = %e, "configuration rejected; the running configuration stays");
                return Err(e);
            }
        };
        Ok(self.apply(new, trigger))
    }

    /// Swaps a validated configuration in (or reports it unchanged).
    fn apply(&self, new: Config, trigger: &str) -> ReloadOutcome {
        self.warn_restart_only(&new);
        let current = self.handle.load_full();
        if current.routing == new.routing {
            METRICS.reloads.with_label_values(&["unchanged"]).inc();
            tracing::info!(
                trigger,
                generation = current.generation,
                "configuration unchanged"
            );
            return ReloadOutcome::Unchanged {
                generation: current.generation,
            };
        }
        let generation = current.generation + 1;
        let tenants = new.routing.tenants.len();
        let runtime = Runtime::build(new.routing, Some(&current), generation);
        publish(&self.handle, runtime);
        METRICS.reloads.with_label_values(&["ok"]).inc();
        tracing::info!(trigger, generation, tenants, "configuration applied");
        ReloadOutcome::Applied {
            generation,
            tenants,
        }
    }

    fn warn_restart_only(&self, new: &Config) {
        let old = &self.started_with;
        if old.listeners != new.listeners
            || old.server != new.server
            || old.logging != new.logging
            || old.admin.token != new.admin.token
            || old.upstream_keepalive_pool_size != new.upstream_keepalive_pool_size
            || old.tls != new.tls
            || old.tenant_source != new.tenant_source
        {
            tracing::warn!("listeners, server, logging, admin, keepalive, tls and tenant source settings apply at the next restart");
        }
    }
}
