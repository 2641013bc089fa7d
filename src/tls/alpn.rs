//! TLS-ALPN-01 challenge answers (RFC 8737): host → a rustls configuration that offers only
//! `acme-tls/1` and serves the challenge certificate (self-signed, the host as its only SAN,
//! the critical id-pe-acmeIdentifier extension holding the SHA-256 of the key authorization).
//! Set by the ACME task while an order is pending, read by the TLS gate (`tls::gate`) when a
//! ClientHello offers `acme-tls/1`. In a fleet the digest is also published in the shared
//! storage, so the node the CA happens to reach can answer too.

use super::storage::CertStorage;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The ALPN protocol ID of TLS-ALPN-01.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Concurrent shared-storage lookups (any client can send an `acme-tls/1` hello).
const MAX_CONCURRENT_LOOKUPS: usize = 4;

pub struct AlpnChallenges {
    configs: RwLock<HashMap<String, Arc<ServerConfig>>>,
    shared: Option<Arc<dyn CertStorage>>,
    lookups: tokio::sync::Semaphore,
}

impl Default for AlpnChallenges {
    fn default() -> Self {
        Self {
            configs: RwLock::default(),
            shared: None,
            lookups: tokio::sync::Semaphore::new(MAX_CONCURRENT_LOOKUPS),
        }
    }
}

impl AlpnChallenges {
    /// Also answers challenges other nodes published in `storage` (when it is shared).
    pub fn shared(storage: Arc<dyn CertStorage>) -> Self {
        Self {
            shared: storage.is_shared().then_some(storage),
            ..Self::default()
        }
    }

    /// Starts answering for `host` with the key authorization's SHA-256 `digest`.
    pub fn insert(&self, host: &str, digest: &[u8]) -> Result<(), String> {
        let config = challenge_config(host, digest)?;
        self.configs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_ascii_lowercase(), config);
        Ok(())
    }

    pub fn remove(&self, host: &str) {
        self.configs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&host.to_ascii_lowercase());
    }

    /// The handshake configuration for a pending challenge of `host` (this node's first, then
    /// the fleet's), or None: the connection is closed without a handshake.
    pub async fn config_for(&self, host: &str) -> Option<Arc<ServerConfig>> {
        let host = host.to_ascii_lowercase();
        if let Some(c) = self
            .configs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&host)
        {
            return Some(c.clone());
        }
        let shared = self.shared.as_ref()?;
        if host.is_empty() || host.len() > 253 {
            return None;
        }
        let _permit = self.lookups.try_acquire().ok()?;
        let digest = match shared.get_challenge(&shared_token(&host)).await {
            Ok(Some(hex)) => from_hex(&hex)?,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read shared challenge answers");
                return None;
            }
        };
        challenge_config(&host, &digest).ok()
    }
}

/// The shared-storage key of `host`'s TLS-ALPN-01 answer (the hex of the name keeps it to the
/// characters HTTP-01 tokens use).
pub fn shared_token(host: &str) -> String {
    format!(
        "tls-alpn-01-{}",
        to_hex(host.to_ascii_lowercase().as_bytes())
    )
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// The RFC 8737 challenge certificate for `host`: self-signed, `host` as its only SAN, the
/// critical acmeIdentifier extension with `digest` (32 bytes).
pub fn challenge_cert(
    host: &str,
    digest: &[u8],
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), String> {
    if digest.len() != 32 {
        return Err(format!(
            "the key authorization digest has {} bytes",
            digest.len()
        ));
    }
    let mut params = rcgen::CertificateParams::new(vec![host.to_ascii_lowercase()])
        .map_err(|e| format!("challenge certificate for {host}: {e}"))?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key = rcgen::KeyPair::generate().map_err(|e| format!("challenge key: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("challenge certificate for {host}: {e}"))?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key_der))
}

/// A server configuration that negotiates only `acme-tls/1` with the challenge certificate.
fn challenge_config(host: &str, digest: &[u8]) -> Result<Arc<ServerConfig>, String> {
    let (cert, key) = challenge_cert(host, digest)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Not `with_single_cert`: its consistency check parses the certificate with webpki, which
    // refuses the critical acmeIdentifier extension.
    let signer = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("challenge key: {e}"))?;
    let certified = rustls::sign::CertifiedKey::new(vec![cert], signer);
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_certificate_follows_rfc_8737() {
        let digest = [7u8; 32];
        let (cert, _) = challenge_cert("Tenant-A.example.com", &digest).unwrap();
        let (_, x509) = x509_parser::parse_x509_certificate(cert.as_ref()).unwrap();
        let sans: Vec<String> = x509
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(sans, ["DNSName(tenant-a.example.com)"]);
        let ext = x509
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier extension");
        assert!(ext.critical);
        // An OCTET STRING of the 32-byte digest.
        assert_eq!(&ext.value[..2], &[0x04, 32]);
        assert_eq!(&ext.value[2..], &digest);
        assert!(challenge_cert("a.example.com", &[0u8; 31]).is_err());
    }

    #[tokio::test]
    async fn answers_only_pending_hosts() {
        let c = AlpnChallenges::default();
        c.insert("a.example.com", &[1u8; 32]).unwrap();
        let config = c.config_for("A.example.com").await.unwrap();
        assert_eq!(config.alpn_protocols, vec![ACME_TLS_ALPN.to_vec()]);
        assert!(c.config_for("b.example.com").await.is_none());
        c.remove("a.example.com");
        assert!(c.config_for("a.example.com").await.is_none());
    }

    /// A fleet's storage holding one published answer.
    struct Shared(String, String);

    #[async_trait::async_trait]
    impl CertStorage for Shared {
        async fn list_meta(
            &self,
        ) -> std::io::Result<Vec<(String, super::super::storage::CertMeta)>> {
            Ok(Vec::new())
        }
        async fn load_cert(
            &self,
            _: &str,
        ) -> std::io::Result<Option<super::super::storage::StoredCert>> {
            Ok(None)
        }
        async fn save_cert(&self, _: &super::super::storage::StoredCert) -> std::io::Result<()> {
            Ok(())
        }
        async fn load_account(&self) -> std::io::Result<Option<Vec<u8>>> {
            Ok(None)
        }
        async fn save_account(&self, _: &[u8]) -> std::io::Result<()> {
            Ok(())
        }
        fn is_shared(&self) -> bool {
            true
        }
        async fn get_challenge(&self, token: &str) -> std::io::Result<Option<String>> {
            Ok((token == self.0).then(|| self.1.clone()))
        }
    }

    #[tokio::test]
    async fn answers_challenges_published_by_other_nodes() {
        let shared = Shared(shared_token("b.example.com"), to_hex(&[2u8; 32]));
        let c = AlpnChallenges::shared(Arc::new(shared));
        assert!(c.config_for("B.example.com").await.is_some());
        assert!(c.config_for("c.example.com").await.is_none());
        // A malformed published digest is no answer.
        let c =
            AlpnChallenges::shared(Arc::new(Shared(shared_token("b.example.com"), "ab".into())));
        assert!(c.config_for("b.example.com").await.is_none());
    }

    #[test]
    fn hex_round_trip() {
        let d = [0xabu8; 32];
        assert_eq!(from_hex(&to_hex(&d)).unwrap(), d);
        assert!(from_hex("zz").is_none());
        assert!(from_hex(&"é".repeat(32)).is_none());
        assert_eq!(shared_token("A.b"), "tls-alpn-01-612e62");
    }
}
