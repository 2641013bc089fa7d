//! The one path by which a configuration change goes live.

use super::reload_written::Written;
use crate::config::file::{TenantFile, TenantsFile};
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

impl ReloadOutcome {
    /// The generation in service after it.
    pub fn generation(&self) -> u64 {
        match self {
            ReloadOutcome::Applied { generation, .. } | ReloadOutcome::Unchanged { generation } => {
                *generation
            }
        }
    }
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
    /// How it was done, when not by loading and validating everything: `rebuilt N of M
    /// tenants` (an admin API change), or `as written` (a file watch that found the files as
    /// the admin API wrote them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How many reloads [`Reloader::history`] keeps.
const HISTORY: usize = 50;

/// Supplies the tenant records when they do not come from files (the DynamoDB store): the
/// name validation issues use for the source, and the records.
pub type RecordsProvider = Box<dyn Fn() -> (PathBuf, SharedRecords) + Send + Sync>;

/// Re-reads the configuration and swaps it in; serialises concurrent reloads.
pub struct Reloader {
    pub(super) path: PathBuf,
    records: Option<RecordsProvider>,
    handle: RuntimeHandle,
    /// Settings fixed at start (listeners, threads): a change is reported, not applied.
    started_with: Config,
    pub(super) lock: tokio::sync::Mutex<()>,
    history: std::sync::Mutex<std::collections::VecDeque<ReloadEvent>>,
    /// The files as the admin API last wrote them, and the generation that serves them: the
    /// file watch that write causes finds nothing to do without parsing them again.
    pub(super) written: std::sync::Mutex<Option<Written>>,
    /// What the version in service was loaded from, with its generation: the next change
    /// is compared with it (see `reload_items`).
    pub(super) served: std::sync::Mutex<Option<Served>>,
}

/// The tenant records a generation was loaded from, as the next change is compared with them.
#[derive(Clone)]
pub(super) struct Served {
    pub(super) from: ServedFrom,
    pub(super) generation: u64,
}

#[derive(Clone)]
pub(super) enum ServedFrom {
    /// The tenants file's items.
    Items(std::sync::Arc<config::TenantItems>),
    /// The records a provider gave (the DynamoDB store), in order.
    Records(SharedRecords),
}

/// Tenant records, each shared: a change leaves the others the same allocations.
pub type SharedRecords = std::sync::Arc<Vec<std::sync::Arc<TenantFile>>>;

/// What an admin API change validated: only the changed tenants, against the version in
/// service at `base_generation` ([`config::load_change`]), or the whole configuration.
pub enum Validated {
    Change {
        config: Config,
        changed: std::collections::HashSet<uuid::Uuid>,
        base_generation: u64,
    },
    Full(Config),
}

impl Reloader {
    pub fn new(mut started_with: Config, handle: RuntimeHandle) -> Self {
        // Only the start-only settings are compared later; the tenants (the bulk of a
        // large configuration) are not kept twice.
        started_with.routing.tenants = Vec::new();
        let served = started_with.tenant_items.take().map(|items| Served {
            from: ServedFrom::Items(std::sync::Arc::new(items)),
            generation: handle.load().generation,
        });
        Self {
            path: started_with.source.clone(),
            records: None,
            handle,
            started_with,
            lock: tokio::sync::Mutex::new(()),
            history: Default::default(),
            written: Default::default(),
            served: std::sync::Mutex::new(served),
        }
    }

    /// Takes tenant records from `provider` instead of the tenant files; the version in
    /// service was loaded from the records it gives now.
    pub fn with_records(mut self, provider: RecordsProvider) -> Self {
        let (_, records) = provider();
        self.serve(Some(ServedFrom::Records(records)), self.generation());
        self.records = Some(provider);
        self
    }

    /// The tenant records, when they come from a provider (the DynamoDB store), not files.
    pub(super) fn provided_records(&self) -> Option<(PathBuf, SharedRecords)> {
        self.records.as_ref().map(|p| p())
    }

    /// The generation of the version in service.
    pub fn generation(&self) -> u64 {
        self.handle.load().generation
    }

    /// The version in service.
    pub fn current(&self) -> std::sync::Arc<Runtime> {
        self.handle.load_full()
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

    /// Like [`Reloader::reload`]; `validated` is what the caller has just validated from the
    /// same sources (a DynamoDB write validates before it commits, see
    /// [`Reloader::validate_records`]), used instead of loading and validating everything a
    /// second time.
    pub async fn reload_with(
        &self,
        trigger: &str,
        validated: Option<Validated>,
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

    pub(super) fn remember(
        &self,
        trigger: &str,
        result: &Result<ReloadReport, ConfigError>,
        took: std::time::Duration,
        detail: Option<String>,
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
            detail,
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
        validated: Option<Validated>,
    ) -> Result<ReloadReport, ConfigError> {
        let _one_at_a_time = self.lock.lock().await;
        let started = std::time::Instant::now();
        let (result, detail) = match self.as_written(trigger) {
            Some(generation) => {
                tracing::debug!(trigger, generation, "files as the admin API wrote them");
                let report = ReloadReport {
                    outcome: ReloadOutcome::Unchanged { generation },
                    restart_required: Vec::new(),
                };
                (Ok(report), Some("as written".to_string()))
            }
            None => match validated {
                Some(validated) => {
                    // A provider's records are what the caller validated (the DynamoDB
                    // store hands them over before it reloads).
                    let from = self
                        .provided_records()
                        .map(|(_, records)| ServedFrom::Records(records));
                    self.apply_validated(trigger, validated, from).await
                }
                None => match self.changed_only(trigger).await {
                    Some(changed) => changed,
                    None => (self.load_and_apply(trigger).await, None),
                },
            },
        };
        self.remember(trigger, &result, started.elapsed(), detail);
        result
    }

    /// Swaps in what a caller validated; returns the result and its detail.
    /// `from` is what it was validated from (the records a provider gave, the items of the
    /// file the admin API wrote): the next change is compared with it.
    pub(super) async fn apply_validated(
        &self,
        trigger: &str,
        validated: Validated,
        from: Option<ServedFrom>,
    ) -> (Result<ReloadReport, ConfigError>, Option<String>) {
        let (result, detail, as_validated) = match validated {
            Validated::Full(config) => (Ok(self.apply(config, trigger)), None, true),
            Validated::Change {
                config,
                changed,
                base_generation,
            } => {
                let (result, detail) = self
                    .apply_change(trigger, config, &changed, base_generation)
                    .await;
                // Without a detail another version went live meanwhile, and a full load,
                // which records what it read, took the change's place.
                let as_validated = detail.is_some();
                (result, detail, as_validated)
            }
        };
        if let (Ok(report), true) = (&result, as_validated) {
            self.serve(from, report.outcome.generation());
        }
        (result, detail)
    }

    /// Swaps in `new`: the configuration [`config::load_change`] made from the one in service
    /// at `base_generation` by changing the tenants in `changed`. Only those tenants are
    /// rebuilt. If another version went live meanwhile, the files (which hold the change by
    /// now) are loaded and validated in full instead. Returns the result and its detail.
    pub(super) async fn apply_change(
        &self,
        trigger: &str,
        new: Config,
        changed: &std::collections::HashSet<uuid::Uuid>,
        base_generation: u64,
    ) -> (Result<ReloadReport, ConfigError>, Option<String>) {
        let current = self.handle.load_full();
        if current.generation != base_generation {
            return (self.load_and_apply(trigger).await, None);
        }
        let restart_required = self.restart_required(&new);
        let detail = if Runtime::can_update(&new.routing, &current) {
            format!(
                "rebuilt {} of {} tenants",
                changed.len(),
                new.routing.tenants.len()
            )
        } else {
            "validated the changed tenants, rebuilt all".to_string()
        };
        let outcome = self.swap_changed(new, current, changed, trigger).await;
        let report = ReloadReport {
            outcome,
            restart_required,
        };
        (Ok(report), Some(detail))
    }

    async fn swap_changed(
        &self,
        new: Config,
        current: std::sync::Arc<Runtime>,
        changed: &std::collections::HashSet<uuid::Uuid>,
        trigger: &str,
    ) -> ReloadOutcome {
        // Comparing and rebuilding walk every tenant: background work, like the validation.
        let rebuilt_ids = changed.clone();
        let rebuilt = tokio::task::spawn_blocking(move || {
            crate::priority::background();
            // Unchanged tenants are the same allocations: compared by pointer, in one pass.
            let same = new.routing.tenants.len() == current.routing.tenants.len()
                && new.routing.same_settings(&current.routing)
                && new.routing.pools == current.routing.pools
                && (new.routing.tenants.iter())
                    .zip(&current.routing.tenants)
                    .all(|(a, b)| std::sync::Arc::ptr_eq(a, b) || a == b);
            if same {
                return Err(current.generation);
            }
            let generation = current.generation + 1;
            Ok(Runtime::update(
                new.routing,
                &current,
                generation,
                &rebuilt_ids,
            ))
        })
        .await;
        let runtime = match rebuilt {
            Ok(Ok(runtime)) => runtime,
            Ok(Err(generation)) => {
                METRICS.reloads.with_label_values(&["unchanged"]).inc();
                return ReloadOutcome::Unchanged { generation };
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime is shutting down: the version in service stays.
            Err(_) => {
                return ReloadOutcome::Unchanged {
                    generation: self.generation(),
                }
            }
        };
        let (generation, tenants) = (runtime.generation, runtime.routing.tenants.len());
        publish(&self.handle, runtime);
        METRICS.reloads.with_label_values(&["ok"]).inc();
        tracing::info!(
            trigger,
            generation,
            tenants,
            changed = changed.len(),
            "configuration applied"
        );
        ReloadOutcome::Applied {
            generation,
            tenants,
        }
    }

    async fn load_and_apply(&self, trigger: &str) -> Result<ReloadReport, ConfigError> {
        let provided = self.provided_records();
        let path = self.path.clone();
        let served_records = provided.as_ref().map(|(_, r)| r.clone());
        let given = provided.map(|(label, records)| {
            let tenants = records.iter().map(|r| TenantFile::clone(r)).collect();
            (label, TenantsFile { tenants })
        });
        let loaded = tokio::task::spawn_blocking(move || {
            crate::priority::background();
            config::load_with(&path, given)
        })
        .await
        .unwrap_or_else(|e| {
            Err(ConfigError::Parse {
                path: self.path.clone(),
                message: format!("reload task failed: {e}"),
            })
        });
        let mut new = match loaded {
            Ok(c) => c,
            Err(e) => {
                METRICS.reloads.with_label_values(&["rejected"]).inc();
                tracing::error!(trigger, error = %e, "configuration rejected; the running configuration stays");
                return Err(e);
            }
        };
        let from = match served_records {
            Some(records) => Some(ServedFrom::Records(records)),
            None => new.tenant_items.take().map(|i| ServedFrom::Items(i.into())),
        };
        let report = self.apply(new, trigger);
        self.serve(from, report.outcome.generation());
        Ok(report)
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
