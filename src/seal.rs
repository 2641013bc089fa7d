//! Encryption at rest for secrets kept in DynamoDB (ACME private keys and account, tenant
//! app-client secrets): AES-256-GCM with a key derived from the configured secret, a random
//! nonce per value, and the item key as associated data so a value cannot be moved elsewhere.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub struct Sealer {
    cipher: Aes256Gcm,
}

impl Sealer {
    pub fn new(secret: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"tenant-gateway certs v1\0");
        h.update(secret.as_bytes());
        let key = h.finalize();
        Self {
            cipher: Aes256Gcm::new(&key),
        }
    }

    /// `v1.<base64(nonce || ciphertext)>`.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Result<String, String> {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| "encryption failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("v1.{}", B64.encode(out)))
    }

    pub fn open(&self, aad: &str, sealed: &str) -> Result<Vec<u8>, String> {
        let raw = sealed
            .strip_prefix("v1.")
            .and_then(|b| B64.decode(b).ok())
            .filter(|r| r.len() > 12)
            .ok_or("not a sealed value")?;
        let (nonce, ct) = raw.split_at(12);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| {
                "cannot decrypt (wrong encryption key, or the value was moved)".to_string()
            })
    }
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
