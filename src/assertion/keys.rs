//! The assertion signing keys and their rotation schedule. A key is published from the moment
//! it is made, signs from one rotation interval later, and stays published for one interval
//! after its successor takes over, so every assertion verifies against the JWKS a backend
//! fetches at any time during its life. The schedule is pure (it takes the time), and the key
//! set serialises to the JSON that a key store keeps.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One ES256 key as stored: the private key (PKCS#8, base64) and its schedule.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pkcs8: String,
    /// Unix seconds: published from.
    pub created: u64,
    /// Unix seconds: signs from.
    pub signs_from: u64,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("created", &self.created)
            .field("signs_from", &self.signs_from)
            .finish_non_exhaustive()
    }
}

/// Every key the gateway publishes, oldest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeySet {
    pub keys: Vec<StoredKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot generate a key: {0}")]
    Generate(String),
    #[error("stored key {0} is not a valid P-256 PKCS#8 key")]
    Invalid(String),
}

impl StoredKey {
    /// A new P-256 key published at `created`, signing from `signs_from`.
    pub fn generate(created: u64, signs_from: u64) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let (x, y) = coordinates(pair.public_key().as_ref())
            .ok_or_else(|| KeyError::Generate("unexpected public key form".into()))?;
        Ok(Self {
            kid: thumbprint(&x, &y),
            pkcs8: STANDARD.encode(pkcs8.as_ref()),
            created,
            signs_from,
        })
    }

    /// The PKCS#8 DER of the private key.
    pub fn pkcs8(&self) -> Result<Vec<u8>, KeyError> {
        STANDARD
            .decode(&self.pkcs8)
            .map_err(|_| KeyError::Invalid(self.kid.clone()))
    }

    /// The public key as a JWK (`kty`, `crv`, `x`, `y`, `kid`, `alg`, `use`).
    pub fn jwk(&self) -> Result<serde_json::Value, KeyError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8()?, &rng)
            .map_err(|_| KeyError::Invalid(self.kid.clone()))?;
        let (x, y) = coordinates(pair.public_key().as_ref())
            .ok_or_else(|| KeyError::Invalid(self.kid.clone()))?;
        Ok(serde_json::json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": self.kid, "alg": "ES256", "use": "sig",
        }))
    }
}

/// A key is retired one interval after its successor (which started signing at
/// `successor_signs_from`) took over; the newest key has no successor.
fn retired(successor_signs_from: Option<u64>, now: u64, interval: u64) -> bool {
    successor_signs_from.is_some_and(|s| s <= now && now - s >= interval)
}

/// base64url `x` and `y` of an uncompressed P-256 point (`04 || X || Y`).
fn coordinates(point: &[u8]) -> Option<(String, String)> {
    if point.len() != 65 || point[0] != 4 {
        return None;
    }
    Some((
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..]),
    ))
}

/// The RFC 7638 JWK thumbprint, used as the `kid`.
fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

impl KeySet {
    /// The key that signs at `now`: the newest whose `signs_from` has come.
    pub fn signing(&self, now: u64) -> Option<&StoredKey> {
        self.keys
            .iter()
            .filter(|k| k.signs_from <= now)
            .max_by_key(|k| k.signs_from)
    }

    /// Brings the set up to date at `now` with rotation `interval` (seconds): a key that signs
    /// now, one published waiting to sign next, and none retired longer than an interval ago.
    /// Returns whether anything changed (the caller then stores the set).
    pub fn rotate(&mut self, now: u64, interval: u64) -> Result<bool, KeyError> {
        let mut changed = false;
        if self.signing(now).is_none() {
            // First start (or every key expired while the gateway was down): sign at once.
            self.keys.push(StoredKey::generate(now, now)?);
            changed = true;
        }
        if !self.keys.iter().any(|k| k.signs_from > now) {
            // The next key: published now, signing one interval from now.
            self.keys.push(StoredKey::generate(now, now + interval)?);
            changed = true;
        }
        self.keys.sort_by_key(|k| k.signs_from);
        let before = self.keys.len();
        let starts: Vec<u64> = self.keys.iter().map(|k| k.signs_from).collect();
        let mut i = 0;
        self.keys.retain(|_| {
            i += 1;
            !retired(starts.get(i).copied(), now, interval)
        });
        Ok(changed || self.keys.len() != before)
    }

    /// True when [`KeySet::rotate`] would change something: no key signs, none waits to sign
    /// next, or a key is past its retirement. Cheap: generates no key.
    pub fn is_due(&self, now: u64, interval: u64) -> bool {
        let mut starts: Vec<u64> = self.keys.iter().map(|k| k.signs_from).collect();
        starts.sort_unstable();
        self.signing(now).is_none()
            || !starts.iter().any(|s| *s > now)
            || starts
                .iter()
                .skip(1)
                .any(|s| retired(Some(*s), now, interval))
    }

    /// The JWKS document of every published key.
    pub fn jwks(&self, now: u64) -> Result<serde_json::Value, KeyError> {
        let keys = self
            .keys
            .iter()
            .filter(|k| k.created <= now)
            .map(StoredKey::jwk)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// When the set next needs attention (a key starts signing or retires), in Unix seconds.
    pub fn next_change(&self, now: u64, interval: u64) -> u64 {
        self.keys
            .iter()
            .flat_map(|k| [k.signs_from, k.signs_from + interval])
            .filter(|t| *t > now)
            .min()
            .unwrap_or(now + interval)
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
