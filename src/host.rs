//! Host names: normalising what clients send in `Host` / `:authority` and validating what
//! operators configure. A leaf module: both `config` and `tenant` build on it.

use std::borrow::Cow;
use std::fmt;

/// Why a client-supplied host could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    Missing,
    Malformed,
}

/// A validated, lowercase DNS name without port or trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hostname(Box<str>);

impl Hostname {
    /// Validates an operator-configured name (domain, custom domain, path-tenant host).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let lowered = raw.trim_end_matches('.').to_ascii_lowercase();
        if !is_dns_name(&lowered) {
            return Err(format!("{raw:?} is not a valid DNS name"));
        }
        Ok(Self(lowered.into_boxed_str()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True when `label` is a DNS label: 1..=63 of `[a-z0-9-]`, not starting or ending with `-`.
pub fn is_dns_label(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn is_dns_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// Normalises a request's host: strips the port and one trailing dot, lowercases, and checks
/// the characters. IP literals (`[::1]:8080`, `10.0.0.1`) pass and simply match no tenant.
/// Allocates only when the host has upper-case letters.
pub fn normalize(raw: &[u8]) -> Result<Cow<'_, str>, HostError> {
    if raw.is_empty() {
        return Err(HostError::Missing);
    }
    let s = std::str::from_utf8(raw).map_err(|_| HostError::Malformed)?;
    let name = if let Some(rest) = s.strip_prefix('[') {
        // IPv6 literal: keep the brackets' content only.
        let end = rest.find(']').ok_or(HostError::Malformed)?;
        let after = &rest[end + 1..];
        if !(after.is_empty() || valid_port(after.strip_prefix(':').unwrap_or("x"))) {
            return Err(HostError::Malformed);
        }
        let inner = &rest[..end];
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(HostError::Malformed);
        }
        inner
    } else {
        let name = match s.rsplit_once(':') {
            Some((name, port)) if valid_port(port) => name,
            Some(_) => return Err(HostError::Malformed),
            None => s,
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() || name.len() > 253 {
            return Err(HostError::Malformed);
        }
        for label in name.split('.') {
            let b = label.as_bytes();
            if b.is_empty()
                || b.len() > 63
                || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            {
                return Err(HostError::Malformed);
            }
        }
        name
    };
    if name.bytes().any(|c| c.is_ascii_uppercase()) {
        Ok(Cow::Owned(name.to_ascii_lowercase()))
    } else {
        Ok(Cow::Borrowed(name))
    }
}

fn valid_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
