//! Certificates over ACME (instant-acme, HTTP-01 answered by the gateway's own HTTP
//! listener, or TLS-ALPN-01 by its HTTPS listener, see `tls::gate`). A background task compares the hosts active tenants are served at with the
//! certificates the resolver has, orders what is missing or due for renewal, stores the result
//! and swaps it into the resolver: served from the moment it is issued, no restart. Failures
//! back off exponentially per host (capped) and never disturb the certificate being served.

use super::alpn::AlpnChallenges;
use super::certs::{unix_secs, LoadedCert, Source};
use super::challenges::Http01Challenges;
use super::resolver::CertResolver;
use super::storage::{CertStorage, StoredCert};
use crate::config::{AcmeChallenge, AcmeConfig};
use crate::metrics::METRICS;
use async_trait::async_trait;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// What the ACME task knows about one host.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HostState {
    pub failures: u32,
    pub last_error: Option<String>,
    /// Unix seconds of the last issuance by this process.
    pub last_issued: Option<u64>,
    #[serde(skip)]
    pub next_attempt: Option<Instant>,
}

/// Supplies the hosts that should have certificates (active tenants, current configuration).
pub type HostSource = Box<dyn Fn() -> Vec<String> + Send + Sync>;

pub struct AcmeManager {
    cfg: AcmeConfig,
    storage: Arc<dyn CertStorage>,
    resolver: Arc<CertResolver>,
    challenges: Arc<Http01Challenges>,
    /// TLS-ALPN-01 answers (see [`Self::with_alpn`]).
    alpn: Option<Arc<AlpnChallenges>>,
    hosts: HostSource,
    account: tokio::sync::Mutex<Option<Account>>,
    state: Mutex<HashMap<String, HostState>>,
}

impl AcmeManager {
    pub fn new(
        cfg: AcmeConfig,
        storage: Arc<dyn CertStorage>,
        resolver: Arc<CertResolver>,
        challenges: Arc<Http01Challenges>,
        hosts: HostSource,
    ) -> Self {
        Self {
            cfg,
            storage,
            resolver,
            challenges,
            alpn: None,
            hosts,
            account: tokio::sync::Mutex::new(None),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Where TLS-ALPN-01 answers go (read by the HTTPS listener), for hosts whose configured
    /// challenge is `tls-alpn-01`.
    pub fn with_alpn(mut self, alpn: Arc<AlpnChallenges>) -> Self {
        self.alpn = Some(alpn);
        self
    }

    /// Per-host ACME state, for the admin API.
    pub fn states(&self) -> HashMap<String, HostState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The hosts wanted now (for the admin API).
    pub fn wanted_hosts(&self) -> Vec<String> {
        (self.hosts)()
    }

    /// The account, created once and persisted, or restored from storage.
    async fn account(&self) -> Result<Account, String> {
        let mut slot = self.account.lock().await;
        if let Some(a) = slot.as_ref() {
            return Ok(a.clone());
        }
        let builder = || match &self.cfg.ca_file {
            Some(ca) => Account::builder_with_root(ca),
            None => Account::builder(),
        };
        let stored = self
            .storage
            .load_account()
            .await
            .map_err(|e| format!("account storage: {e}"))?;
        let account =
            match stored.and_then(|b| serde_json::from_slice::<AccountCredentials>(&b).ok()) {
                Some(creds) => builder()
                    .map_err(|e| e.to_string())?
                    .from_credentials(creds)
                    .await
                    .map_err(|e| format!("restoring the ACME account: {e}"))?,
                None => {
                    let contact: Vec<&str> = self.cfg.contact.iter().map(String::as_str).collect();
                    let (account, creds) = builder()
                        .map_err(|e| e.to_string())?
                        .create(
                            &NewAccount {
                                contact: &contact,
                                terms_of_service_agreed: true,
                                only_return_existing: false,
                            },
                            self.cfg.directory_url.clone(),
                            None,
                        )
                        .await
                        .map_err(|e| format!("creating the ACME account: {e}"))?;
                    let json = serde_json::to_vec(&creds).map_err(|e| e.to_string())?;
                    self.storage
                        .save_account(&json)
                        .await
                        .map_err(|e| format!("saving the ACME account: {e}"))?;
                    tracing::info!(directory = %self.cfg.directory_url, "ACME account created");
                    account
                }
            };
        *slot = Some(account.clone());
        Ok(account)
    }

    /// Does `host` need an order now?
    fn needs_order(&self, host: &str, now: SystemTime) -> bool {
        let index = self.resolver.index();
        match index.lookup(host, now) {
            Some(c) if c.source == Source::Static => false,
            Some(c) => c.due_for_renewal(now, self.cfg.renew_when_remaining),
            // A stored certificate not loaded yet: its metadata decides, no file is read.
            None => match self.resolver.stored_meta(host) {
                Some(m) if m.is_valid_at(now) => {
                    m.due_for_renewal(now, self.cfg.renew_when_remaining)
                }
                _ => true,
            },
        }
    }

    /// One pass: order certificates for hosts that need one and are not backing off.
    pub async fn tick(&self) {
        let now = SystemTime::now();
        let hosts = (self.hosts)();
        for host in hosts {
            if !self.needs_order(&host, now) {
                continue;
            }
            let waiting = self
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&host)
                .and_then(|s| s.next_attempt)
                .is_some_and(|t| Instant::now() < t);
            if waiting {
                continue;
            }
            if self.storage.is_shared() {
                // Now, not the tick's start: an order earlier in this tick can take seconds,
                // and a certificate another node just stored is not valid before its notBefore.
                if self.adopt_stored(&host, SystemTime::now()).await {
                    continue;
                }
                match self.storage.acquire_lease(&host).await {
                    Ok(true) => METRICS.acme_leases.with_label_values(&["acquired"]).inc(),
                    Ok(false) => {
                        // Another node is ordering; its certificate is loaded on a later tick.
                        METRICS
                            .acme_leases
                            .with_label_values(&["held_elsewhere"])
                            .inc();
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(host = %host, error = %e, "cannot take the order lease");
                        continue;
                    }
                }
            }
            let started = Instant::now();
            let result = self.order(&host).await;
            if self.storage.is_shared() {
                if let Err(e) = self.storage.release_lease(&host).await {
                    tracing::warn!(host = %host, error = %e, "cannot release the order lease (it expires by itself)");
                }
            }
            let mut states = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let st = states.entry(host.clone()).or_default();
            match result {
                Ok(cert) => {
                    METRICS.acme_orders.with_label_values(&["ok"]).inc();
                    METRICS
                        .acme_issue_seconds
                        .observe(started.elapsed().as_secs_f64());
                    METRICS
                        .cert_expiry
                        .with_label_values(&[&host])
                        .set(unix_secs(cert.not_after) as i64);
                    tracing::info!(host = %host, seconds = started.elapsed().as_secs_f64(), "certificate issued");
                    *st = HostState {
                        last_issued: Some(unix_secs(SystemTime::now())),
                        ..Default::default()
                    };
                }
                Err(e) => {
                    METRICS.acme_orders.with_label_values(&["error"]).inc();
                    st.failures += 1;
                    let backoff = self
                        .cfg
                        .retry_min
                        .saturating_mul(1u32 << st.failures.min(16).saturating_sub(1))
                        .min(self.cfg.retry_max);
                    st.next_attempt = Some(Instant::now() + backoff);
                    tracing::warn!(host = %host, error = %e, retry_in = ?backoff, "certificate order failed");
                    st.last_error = Some(e);
                }
            }
        }
    }

    /// Serves a certificate another node stored for `host`, if it is valid and not due for
    /// renewal. `true`: nothing to order.
    async fn adopt_stored(&self, host: &str, now: SystemTime) -> bool {
        let stored = match self.storage.load_cert(host).await {
            Ok(Some(s)) => s,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(host = %host, error = %e, "cannot read the stored certificate");
                return false;
            }
        };
        match LoadedCert::from_pem(&stored.chain_pem, &stored.key_pem, Source::Acme) {
            Ok(c)
                if c.is_valid_at(now) && !c.due_for_renewal(now, self.cfg.renew_when_remaining) =>
            {
                METRICS
                    .cert_expiry
                    .with_label_values(&[host])
                    .set(unix_secs(c.not_after) as i64);
                tracing::info!(host = %host, "serving a certificate stored by another node");
                self.resolver.adopt(Arc::new(c));
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(host = %host, error = %e, "the stored certificate is unusable");
                false
            }
        }
    }

    /// Reads the index of the fleet's stored certificates (metadata only: each is loaded at
    /// its first handshake), retrying until the store answers.
    async fn index_stored(&self, shutdown: &mut ShutdownWatch) {
        let mut wait = Duration::from_millis(200);
        loop {
            let started = Instant::now();
            match self.storage.list_meta().await {
                Ok(known) => {
                    super::record_stored(&known, started);
                    self.resolver.set_stored_index(known);
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "cannot index the stored certificates yet"),
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            wait = (wait * 2).min(Duration::from_secs(10));
        }
    }

    async fn order(&self, host: &str) -> Result<Arc<LoadedCert>, String> {
        let account = self.account().await?;
        let ids = [Identifier::Dns(host.to_string())];
        let mut order = match account.new_order(&NewOrder::new(&ids)).await {
            Ok(o) => o,
            Err(e) => {
                let msg = format!("new order: {e}");
                if msg.contains("accountDoesNotExist") || msg.contains("unauthorized") {
                    // The CA forgot the account (e.g. a reset test CA): make a new one next time.
                    *self.account.lock().await = None;
                    let _ = self.storage.save_account(b"").await;
                }
                return Err(msg);
            }
        };
        let mut tokens = Vec::new();
        let kind = self.cfg.challenge_for(host);
        let alpn = match kind {
            AcmeChallenge::Http01 => None,
            AcmeChallenge::TlsAlpn01 => Some(
                self.alpn
                    .clone()
                    .ok_or("tls-alpn-01 needs the HTTPS listener")?,
            ),
        };
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
            if authz.status == AuthorizationStatus::Valid {
                continue;
            }
            let (kind_name, kind_type) = match kind {
                AcmeChallenge::Http01 => ("http-01", ChallengeType::Http01),
                AcmeChallenge::TlsAlpn01 => ("tls-alpn-01", ChallengeType::TlsAlpn01),
            };
            let mut challenge = authz
                .challenge(kind_type)
                .ok_or(format!("the CA offers no {kind_name} challenge"))?;
            let answer = challenge.key_authorization();
            // TLS-ALPN-01: the challenge certificate for `host`, its digest shared in a fleet
            // under a per-host token.
            let (token, published) = match &alpn {
                None => {
                    self.challenges.insert(&challenge.token, answer.as_str());
                    (challenge.token.clone(), answer.as_str().to_string())
                }
                Some(a) => {
                    let digest = answer.digest();
                    a.insert(host, digest.as_ref())?;
                    (
                        super::alpn::shared_token(host),
                        super::alpn::to_hex(digest.as_ref()),
                    )
                }
            };
            tokens.push(token.clone());
            if let Err(e) = self.storage.put_challenge(&token, &published).await {
                self.forget_answers(&tokens, alpn.as_deref(), host);
                return Err(format!("publishing the challenge answer: {e}"));
            }
            challenge
                .set_ready()
                .await
                .map_err(|e| format!("challenge: {e}"))?;
        }
        let policy = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .timeout(Duration::from_secs(60));
        let status = order.poll_ready(&policy).await;
        self.forget_answers(&tokens, alpn.as_deref(), host);
        for t in &tokens {
            if let Err(e) = self.storage.remove_challenge(t).await {
                tracing::debug!(error = %e, "cannot remove a published challenge answer");
            }
        }
        match status.map_err(|e| format!("validation: {e}"))? {
            OrderStatus::Ready => {}
            other => return Err(format!("order not ready after validation: {other:?}")),
        }
        let key_pem = order
            .finalize()
            .await
            .map_err(|e| format!("finalize: {e}"))?;
        let chain_pem = order
            .poll_certificate(&policy)
            .await
            .map_err(|e| format!("certificate: {e}"))?;
        let cert = Arc::new(LoadedCert::from_pem(
            chain_pem.as_bytes(),
            key_pem.as_bytes(),
            Source::Acme,
        )?);
        self.storage
            .save_cert(&StoredCert {
                host: host.to_string(),
                chain_pem: chain_pem.into_bytes(),
                key_pem: key_pem.into_bytes(),
            })
            .await
            .map_err(|e| format!("storing the certificate: {e}"))?;
        self.resolver.adopt(cert.clone());
        Ok(cert)
    }

    /// Stops answering this node's challenges of an order (shared copies are removed apart).
    fn forget_answers(&self, tokens: &[String], alpn: Option<&AlpnChallenges>, host: &str) {
        match alpn {
            Some(a) => a.remove(host),
            None => {
                for t in tokens {
                    self.challenges.remove(t);
                }
            }
        }
    }
}

#[async_trait]
impl BackgroundService for AcmeManager {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        if self.storage.is_shared() {
            self.index_stored(&mut shutdown).await;
        }
        let mut tick = tokio::time::interval(self.cfg.check_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.tick().await,
                _ = shutdown.changed() => return,
            }
        }
    }
}
