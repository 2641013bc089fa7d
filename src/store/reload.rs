//! The one path by which a configuration change goes live.

use crate::config::file::TenantsFile;
use crate::config::{self, Config, ConfigError};
use crate::metrics::METRICS;
use crate::runtime::{publish, Runtime, RuntimeHandle};
use std::path::PathBuf;

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ReloadOutcome {
    Applied { generation: u64, tenants: usize },
    Unchanged { generation: u64 },
}

/// What a reload did, and the settings it could not apply (the admin API's answer).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReloadReport {
    #[serde(flatten)]
    pub outcome: ReloadOutcome,
    /// Settings, named as in `gateway.yaml`, that differ from the ones the process started
    /// with: they apply at the next restart.
    pub restart_required: Vec<&'static str>,
}

/// One reload, as the console's "recent reloads" shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadEvent {
    #[serde(with = "humantime_serde")]
    pub at: std::time::SystemTime,
    pub trigger: String,
    /// `applied`, `unchanged` or `rejected`.
    pub result: &'static str,
    /// The generation in service after it.
    pub generation: u64,
    /// Why it was rejected (file, tenant, field, message).
    pub issues: Vec<String>,
    /// How long it took, from reading the sources to the swap (milliseconds).
    pub duration_ms: f64,
}

/// How many reloads [`Reloader::history`] keeps.
const HISTORY: usize = 50;

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
    history: std::sync::Mutex<std::collections::VecDeque<ReloadEvent>>,
}

impl Reloader {
    pub fn new(mut started_with: Config, handle: RuntimeHandle) -> Self {
        // Only the start-only settings are compared later; the tenants (the bulk of a
        // large configuration) are not kept twice.
        started_with.routing.tenants = Vec::new();
        Self {
            path: started_with.source.clone(),
            records: None,
            handle,
            started_with,
            lock: tokio::sync::Mutex::new(()),
            history: Default::default(),
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
        self.reload_report(trigger).await.map(|r| r.outcome)
    }

    /// [`Reloader::reload`], also naming the settings that apply only at the next restart.
    pub async fn reload_report(&self, trigger: &str) -> Result<ReloadReport, ConfigError> {
        self.reload_inner(trigger, None).await
    }

    /// Like [`Reloader::reload`]; `validated` is a configuration the caller has just loaded
    /// from the same sources (a DynamoDB write validates before it commits), used instead
    /// of loading and validating everything a second time.
    pub async fn reload_with(
        &self,
        trigger: &str,
        validated: Option<Config>,
    ) -> Result<ReloadOutcome, ConfigError> {
        self.reload_inner(trigger, validated)
            .await
            .map(|r| r.outcome)
    }

    /// The last reloads, newest first.
    pub fn history(&self) -> Vec<ReloadEvent> {
        self.history
            .lock()
            .map(|h| h.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    fn remember(
        &self,
        trigger: &str,
        result: &Result<ReloadReport, ConfigError>,
        took: std::time::Duration,
    ) {
        let (result, issues) = match result {
            Ok(r) => match r.outcome {
                ReloadOutcome::Applied { .. } => ("applied", vec![]),
                ReloadOutcome::Unchanged { .. } => ("unchanged", vec![]),
            },
            Err(e) => (
                "rejected",
                e.issues().iter().map(|i| i.to_string()).collect(),
            ),
        };
        let event = ReloadEvent {
            at: std::time::SystemTime::now(),
            trigger: trigger.to_string(),
            result,
            generation: self.generation(),
            issues,
            duration_ms: took.as_secs_f64() * 1000.0,
        };
        if let Ok(mut h) = self.history.lock() {
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(event);
        }
    }

    async fn reload_inner(
        &self,
        trigger: &str,
        validated: Option<Config>,
    ) -> Result<ReloadReport, ConfigError> {
        let _one_at_a_time = self.lock.lock().await;
        let started = std::time::Instant::now();
        let result = self.load_and_apply(trigger, validated).await;
        self.remember(trigger, &result, started.elapsed());
        result
    }

    async fn load_and_apply(
        &self,
        trigger: &str,
        validated: Option<Config>,
    ) -> Result<ReloadReport, ConfigError> {
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

    /// Swaps a validated configuration in (or reports it unchanged), naming the settings
    /// that wait for a restart.
    fn apply(&self, new: Config, trigger: &str) -> ReloadReport {
        let restart_required = self.restart_required(&new);
        let outcome = self.swap(new, trigger);
        ReloadReport {
            outcome,
            restart_required,
        }
    }

    fn swap(&self, new: Config, trigger: &str) -> ReloadOutcome {
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

    /// The settings in `new` that differ from those the process started with but apply only
    /// at the next restart (listeners, threads, the authenticator's client...), named as in
    /// `gateway.yaml`; each is logged as a warning.
    fn restart_required(&self, new: &Config) -> Vec<&'static str> {
        let old = &self.started_with;
        let mut changed: Vec<&'static str> = [
            ("listeners", old.listeners != new.listeners),
            ("server", old.server != new.server),
            ("logging", old.logging != new.logging),
            ("admin.token", old.admin.token != new.admin.token),
            (
                "limits.upstream_keepalive_pool_size",
                old.upstream_keepalive_pool_size != new.upstream_keepalive_pool_size,
            ),
            ("tls", old.tls != new.tls),
            ("assertion", old.assertion != new.assertion),
            ("provisioning", old.provisioning != new.provisioning),
            ("tenants", old.tenant_source != new.tenant_source),
        ]
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect();
        changed.extend(old.routing.auth.start_only_changes(&new.routing.auth));
        for &setting in &changed {
            tracing::warn!(setting, "{setting} changed: applies at the next restart");
        }
        changed
    }
}
