//! Certificates as the resolver serves them: a PEM chain and key turned into a rustls
//! `CertifiedKey`, with the names and validity period read from the leaf.

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where a certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Static,
    Acme,
}

/// A servable certificate.
pub struct LoadedCert {
    pub key: Arc<CertifiedKey>,
    /// DNS names from the leaf's subjectAltName (lower case; may include `*.` wildcards).
    pub names: Vec<String>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    pub issuer: String,
    pub source: Source,
}

impl LoadedCert {
    /// Parses a PEM chain (leaf first) and its private key.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8], source: Source) -> Result<Self, String> {
        let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &chain_pem[..])
            .collect::<Result<_, _>>()
            .map_err(|e| format!("bad certificate PEM: {e}"))?;
        let leaf = chain.first().ok_or("no certificate in the chain file")?;
        let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key_pem[..])
            .map_err(|e| format!("bad key PEM: {e}"))?
            .ok_or("no private key in the key file")?;
        let signing = any_supported_type(&key).map_err(|e| format!("unsupported key: {e}"))?;
        let (_, x509) = x509_parser::parse_x509_certificate(leaf.as_ref())
            .map_err(|e| format!("bad certificate: {e}"))?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = x509.subject_alternative_name() {
            for n in &san.value.general_names {
                if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                    names.push(d.to_ascii_lowercase());
                }
            }
        }
        let ts = |t: i64| UNIX_EPOCH + Duration::from_secs(t.max(0) as u64);
        let not_before = ts(x509.validity().not_before.timestamp());
        let not_after = ts(x509.validity().not_after.timestamp());
        let issuer = x509.issuer().to_string();
        drop(x509);
        Ok(LoadedCert {
            key: Arc::new(CertifiedKey::new(chain, signing)),
            names,
            not_before,
            not_after,
            issuer,
            source,
        })
    }

    pub fn is_valid_at(&self, t: SystemTime) -> bool {
        self.not_before <= t && t < self.not_after
    }

    /// True when this certificate names `host` exactly or by a one-label wildcard.
    pub fn covers(&self, host: &str) -> bool {
        self.names
            .iter()
            .any(|n| n == host || wildcard_matches(n, host))
    }

    /// True once less than `fraction` of the lifetime remains.
    pub fn due_for_renewal(&self, now: SystemTime, fraction: f64) -> bool {
        let life = self
            .not_after
            .duration_since(self.not_before)
            .unwrap_or_default();
        let remaining = self.not_after.duration_since(now).unwrap_or_default();
        remaining.as_secs_f64() < life.as_secs_f64() * fraction
    }
}

/// `*.example.com` matches `a.example.com`, not `example.com` or `a.b.example.com`.
pub fn wildcard_matches(pattern: &str, host: &str) -> bool {
    match (pattern.strip_prefix("*."), host.split_once('.')) {
        (Some(base), Some((label, rest))) => !label.is_empty() && rest == base,
        _ => false,
    }
}

pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
#[path = "certs_tests.rs"]
mod tests;
