//! The background check of pending custom domains: each gets a token (written into its
//! tenant record), then its TXT record (and, when on, its origin's HTTP answer) is looked up
//! with backoff (`min_interval`, doubling to
//! `max_interval`); a match marks it verified in the record, after the tenant's managed app
//! client has been given the new host's callback URLs. A verified domain is never checked
//! again: a DNS record removed later does not take a live domain away (removing the domain
//! from the tenant does, at once).

use super::{challenge_name, mark_verified};
use crate::config::file::{DomainStatusFile, TenantFile};
use crate::config::DomainVerification;
use crate::provision::Provisioner;
use crate::runtime::RuntimeHandle;
use crate::store::{ChangeError, TenantWriter};
use async_trait::async_trait;
use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Where the check of one pending domain stands (shown by the admin API).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckStatus {
    pub tenant: String,
    pub checks: u32,
    #[serde(with = "humantime_serde")]
    pub last_check: Option<SystemTime>,
    pub last_result: Option<String>,
    pub next_check_in_seconds: u64,
}

struct Pending {
    tenant: String,
    checks: u32,
    next_at: Instant,
    last_check: Option<SystemTime>,
    last_result: Option<String>,
}

/// Checks pending custom domains; one per process (every node of a fleet runs one: the
/// store's conditional writes make the second "verified" a no-op).
pub struct Verifier {
    runtime: RuntimeHandle,
    writer: Arc<TenantWriter>,
    provisioner: Option<Arc<Provisioner>>,
    pending: Mutex<HashMap<String, Pending>>,
    resolver: Mutex<Option<(Vec<std::net::SocketAddr>, TokioResolver)>>,
}

impl Verifier {
    pub fn new(
        runtime: RuntimeHandle,
        writer: Arc<TenantWriter>,
        provisioner: Option<Arc<Provisioner>>,
    ) -> Self {
        Self {
            runtime,
            writer,
            provisioner,
            pending: Mutex::default(),
            resolver: Mutex::default(),
        }
    }

    /// The check state of every pending domain, by domain.
    pub fn status(&self) -> HashMap<String, CheckStatus> {
        let now = Instant::now();
        self.pending
            .lock()
            .map(|p| {
                p.iter()
                    .map(|(d, s)| {
                        (
                            d.clone(),
                            CheckStatus {
                                tenant: s.tenant.clone(),
                                checks: s.checks,
                                last_check: s.last_check,
                                last_result: s.last_result.clone(),
                                next_check_in_seconds: s
                                    .next_at
                                    .saturating_duration_since(now)
                                    .as_secs(),
                            },
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A resolver for the configured nameservers (rebuilt when they change), without a
    /// cache: every check asks the nameserver.
    fn resolver(&self, s: &DomainVerification) -> Result<TokioResolver, String> {
        let mut held = self
            .resolver
            .lock()
            .map_err(|_| "resolver lock".to_string())?;
        if let Some((ns, r)) = held.as_ref() {
            if *ns == s.nameservers {
                return Ok(r.clone());
            }
        }
        let mut builder = if s.nameservers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| e.to_string())?
        } else {
            let mut group = NameServerConfigGroup::new();
            for a in &s.nameservers {
                group.merge(NameServerConfigGroup::from_ips_clear(
                    &[a.ip()],
                    a.port(),
                    true,
                ));
            }
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], group),
                TokioConnectionProvider::default(),
            )
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.cache_size = 0;
        opts.timeout = Duration::from_secs(3);
        opts.attempts = 1;
        let r = builder.build();
        *held = Some((s.nameservers.clone(), r.clone()));
        Ok(r)
    }

    /// Looks for `token` among the TXT records of the domain's challenge name, then (when on)
    /// at the domain's origin over HTTP; answers how it was proved.
    async fn check(
        &self,
        s: &DomainVerification,
        domain: &str,
        token: &str,
    ) -> Result<&'static str, String> {
        let resolver = self.resolver(s)?;
        let name = challenge_name(domain);
        let dns = match resolver.txt_lookup(name.as_str()).await {
            Ok(found) => {
                let matches = found.iter().any(|txt| {
                    let value: Vec<u8> = txt.iter().flat_map(|part| part.iter().copied()).collect();
                    value == token.as_bytes()
                });
                if matches {
                    return Ok("dns");
                }
                format!("TXT {name}: no record holds the token")
            }
            Err(e) => format!("TXT {name}: {e}"),
        };
        let Some(port) = s.http_port else {
            return Err(dns);
        };
        match super::http_check::check(&resolver, domain, port, token, s.allow_private_addresses)
            .await
        {
            Ok(()) => Ok("http"),
            Err(http) => Err(format!("{dns}; {http}")),
        }
    }

    /// One pass: tokens for pending domains without one, then the due checks.
    async fn tick(&self) {
        let rt = self.runtime.load_full();
        let Some(settings) = rt.routing.domain_verification.clone() else {
            return;
        };
        let now = Instant::now();
        let mut tokenless = Vec::new();
        let mut due = Vec::new();
        {
            let Ok(mut pending) = self.pending.lock() else {
                return;
            };
            let mut seen = std::collections::HashSet::new();
            for t in &rt.routing.tenants {
                for p in &t.pending_domains {
                    let domain = p.host.as_str().to_string();
                    seen.insert(domain.clone());
                    let entry = pending.entry(domain.clone()).or_insert(Pending {
                        tenant: t.id.to_string(),
                        checks: 0,
                        next_at: now,
                        last_check: None,
                        last_result: None,
                    });
                    match &p.token {
                        None => tokenless.push((t.id.to_string(), domain)),
                        Some(token) if entry.next_at <= now => {
                            due.push((t.id.to_string(), domain, token.clone()))
                        }
                        Some(_) => {}
                    }
                }
            }
            pending.retain(|d, _| seen.contains(d));
        }
        if !tokenless.is_empty() {
            self.give_tokens(tokenless).await;
        }
        for (tenant, domain, token) in due {
            let result = self.check(&settings, &domain, &token).await;
            let verified = match &result {
                Ok(by) => self.verify(&tenant, &domain, by).await.map(|()| *by),
                Err(e) => Err(e.clone()),
            };
            let Ok(mut pending) = self.pending.lock() else {
                return;
            };
            if let Some(p) = pending.get_mut(&domain) {
                p.checks += 1;
                p.last_check = Some(SystemTime::now());
                let backoff = settings
                    .min_interval
                    .saturating_mul(1u32 << p.checks.saturating_sub(1).min(16))
                    .min(settings.max_interval);
                p.next_at = Instant::now() + backoff;
                p.last_result = Some(match &verified {
                    Ok(by) => format!("verified ({by})"),
                    Err(e) => e.clone(),
                });
            }
            match verified {
                Ok(by) => tracing::info!(tenant, domain, by, "custom domain verified"),
                Err(e) => {
                    tracing::debug!(tenant, domain, error = %e, "custom domain still pending")
                }
            }
        }
    }

    /// Writes a token for each pending domain that has none (one change).
    async fn give_tokens(&self, tokenless: Vec<(String, String)>) {
        let result = self
            .writer
            .apply(move |records| {
                for (tenant, domain) in &tokenless {
                    if let Ok(t) = records.find_mut(tenant) {
                        // Another node (or an earlier pass) may have given it one already.
                        let has_one = t.verification.iter().any(|(k, s)| {
                            k.eq_ignore_ascii_case(domain)
                                && (s.token.is_some() || s.status == DomainStatusFile::Verified)
                        });
                        if has_one
                            || !t
                                .custom_domains
                                .iter()
                                .any(|d| d.eq_ignore_ascii_case(domain))
                        {
                            continue;
                        }
                        t.verification
                            .retain(|k, _| !k.eq_ignore_ascii_case(domain));
                        t.verification
                            .insert(domain.clone(), super::pending_state());
                    }
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not write verification tokens");
        }
    }

    /// Records `domain` of `tenant` as verified (`by`: dns or http); a managed app client gets
    /// its URLs first.
    async fn verify(&self, tenant: &str, domain: &str, by: &'static str) -> Result<(), String> {
        let records = self.writer.records().await.map_err(|e| e.to_string())?;
        let current = match records.find(tenant) {
            Ok(current) => current,
            Err(ChangeError::NotFound(_)) => return Err("the tenant is gone".into()),
            Err(e) => return Err(e.to_string()),
        };
        let mut next = TenantFile::clone(current);
        if !mark_verified(&mut next, domain, by) {
            return Err("the domain is no longer the tenant's".into());
        }
        if let (Some(p), Some(idp)) = (&self.provisioner, &current.idp) {
            if idp.managed.is_some() {
                let rt = self.runtime.load_full();
                let hosts = crate::provision::tenant_hosts(&rt.routing, &next);
                p.set_hosts(&idp.client_id, &hosts, &rt.routing.auth.callback_path)
                    .await
                    .map_err(|f| format!("{}: {}", f.step, f.message))?;
            }
        }
        let (tenant, domain) = (tenant.to_string(), domain.to_string());
        self.writer
            .apply(move |records| {
                let t = records.find_mut(&tenant)?;
                mark_verified(t, &domain, by);
                Ok(())
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl BackgroundService for Verifier {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.tick().await,
                _ = shutdown.changed() => return,
            }
        }
    }
}
