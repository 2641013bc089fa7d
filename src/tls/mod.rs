//! TLS termination: rustls with a certificate chosen by SNI at every handshake from static PEM
//! pairs and ACME-issued certificates, HTTP-01 answers for the ACME task, and the SNI kept for
//! the Host/SNI check. [`TlsState::load`] builds it all at start from the configuration and the
//! certificates stored by earlier runs (so a restart does not re-order).

pub mod acme;
pub mod alpn;
pub mod certs;
pub mod challenges;
pub mod gate;
pub mod resolver;
pub mod sni;
pub mod storage;

use crate::config::TlsConfig;
use crate::metrics::METRICS;
use certs::{unix_secs, LoadedCert, Source};
use challenges::Http01Challenges;
use resolver::{CertIndex, CertResolver, StoredCerts};
use std::sync::Arc;
use storage::{CertStorage, FileStorage};

/// Everything TLS shares between the listeners, the ACME task and the admin API.
pub struct TlsState {
    pub resolver: Arc<CertResolver>,
    pub challenges: Arc<Http01Challenges>,
    /// TLS-ALPN-01 answers, read by the HTTPS listener's [`gate::TlsGate`].
    pub alpn: Arc<alpn::AlpnChallenges>,
    pub storage: Arc<dyn CertStorage>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    Certificate { path: String, message: String },
    #[error("certificate storage: {0}")]
    Storage(std::io::Error),
}

impl TlsState {
    /// Loads static certificates (an error names the file) and stored ACME certificates (a bad
    /// one is skipped with a warning: it will simply be ordered again). `shared` is a fleet's
    /// storage (DynamoDB); its certificates are loaded by the ACME task once running.
    pub fn load(cfg: &TlsConfig, shared: Option<Arc<dyn CertStorage>>) -> Result<Self, TlsError> {
        let mut certs = Vec::new();
        for (cert, key) in &cfg.certificates {
            let read = |p: &std::path::Path| {
                std::fs::read(p).map_err(|e| TlsError::Certificate {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })
            };
            let loaded = LoadedCert::from_pem(&read(cert)?, &read(key)?, Source::Static).map_err(
                |message| TlsError::Certificate {
                    path: cert.display().to_string(),
                    message,
                },
            )?;
            certs.push(Arc::new(loaded));
        }
        let default = if cfg.unknown_sni_default {
            certs.first().cloned()
        } else {
            None
        };
        // Stored ACME certificates are indexed by their metadata only and loaded at their
        // first handshake: from files, indexed here; from a fleet's table, indexed by the
        // ACME task when it starts (it runs where the store's client does).
        let (storage, known): (Arc<dyn CertStorage>, _) = match shared {
            Some(s) => (s, None),
            None => {
                let files = FileStorage::new(&cfg.certs_dir);
                let started = std::time::Instant::now();
                let known = files.read_index();
                record_stored(&known, started);
                (Arc::new(files), Some(known))
            }
        };
        let stored = StoredCerts::new(storage.clone(), known, cfg.certificate_cache_bytes);
        for c in &certs {
            for n in &c.names {
                METRICS
                    .cert_expiry
                    .with_label_values(&[n])
                    .set(unix_secs(c.not_after) as i64);
            }
        }
        tracing::info!(certificates = certs.len(), "static certificates loaded");
        let resolver = CertResolver::new(CertIndex::build(certs, default)).with_stored(stored);
        Ok(TlsState {
            resolver: Arc::new(resolver),
            challenges: Arc::new(Http01Challenges::shared(storage.clone())),
            alpn: Arc::new(alpn::AlpnChallenges::shared(storage.clone())),
            storage,
        })
    }
}

/// The expiry gauge of every stored certificate, and a log line for the index.
pub fn record_stored(known: &[(String, storage::CertMeta)], started: std::time::Instant) {
    for (host, m) in known {
        METRICS
            .cert_expiry
            .with_label_values(&[host.as_str()])
            .set(m.not_after as i64);
    }
    tracing::info!(
        stored = known.len(),
        ms = started.elapsed().as_millis() as u64,
        "stored certificates indexed (loaded at their first handshake)"
    );
}
