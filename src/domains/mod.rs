//! Verified custom domains: with `domain_verification:` on, a custom domain added to a tenant
//! starts `pending` with a token, and is routed and certified only once the tenant has
//! published the token as a DNS TXT record at `_tenant-gateway-challenge.<domain>` (or served
//! it from the domain's current origin over HTTP, see [`http_check`]). The
//! [`Verifier`] checks pending domains in the background with backoff and records the result
//! in the tenant record; an operator may also mark a domain verified by hand (audited).

pub mod http_check;
mod verify;

pub use verify::{CheckStatus, Verifier};

use crate::config::file::{DomainStateFile, DomainStatusFile, TenantFile};
use base64::Engine;
use rand::RngCore;

/// The DNS name whose TXT record proves control of `domain`.
pub fn challenge_name(domain: &str) -> String {
    format!(
        "_tenant-gateway-challenge.{}.",
        domain.trim_end_matches('.')
    )
}

/// A fresh verification token (32 characters of base64url).
pub fn new_token() -> String {
    let mut b = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A pending state with a fresh token.
pub fn pending_state() -> DomainStateFile {
    DomainStateFile {
        status: DomainStatusFile::Pending,
        token: Some(new_token()),
        verified_at: None,
        verified_by: None,
    }
}

/// Keeps a record's `verification` in step with its `custom_domains`: entries of removed
/// domains go; with verification on, each new domain gets a pending entry with a token.
pub fn sync_states(t: &mut TenantFile, verification_on: bool) {
    let domains: Vec<String> = t
        .custom_domains
        .iter()
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    t.verification
        .retain(|d, _| domains.iter().any(|x| x.eq_ignore_ascii_case(d)));
    if !verification_on {
        return;
    }
    for d in domains {
        if !t.verification.keys().any(|k| k.eq_ignore_ascii_case(&d)) {
            t.verification.insert(d, pending_state());
        }
    }
}

/// Marks `domain` of `t` verified (`by`: `dns` or `admin`); `false` when it is not one of its
/// custom domains.
pub fn mark_verified(t: &mut TenantFile, domain: &str, by: &str) -> bool {
    let Some(d) = t
        .custom_domains
        .iter()
        .find(|d| d.trim_end_matches('.').eq_ignore_ascii_case(domain))
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
    else {
        return false;
    };
    let token = t
        .verification
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&d))
        .and_then(|(_, s)| s.token.clone());
    t.verification.retain(|k, _| !k.eq_ignore_ascii_case(&d));
    t.verification.insert(
        d,
        DomainStateFile {
            status: DomainStatusFile::Verified,
            token,
            verified_at: Some(
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            ),
            verified_by: Some(by.to_string()),
        },
    );
    true
}

/// Whether `domain` of `t` is served: verified, or verification is off.
pub fn is_served(t: &TenantFile, domain: &str, verification_on: bool) -> bool {
    !verification_on
        || t.verification
            .iter()
            .any(|(k, s)| k.eq_ignore_ascii_case(domain) && s.status == DomainStatusFile::Verified)
}

#[cfg(test)]
#[path = "domains_tests.rs"]
mod tests;
