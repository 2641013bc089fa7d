//! The request head as the gateway accepts it, checked once before anything routes on it:
//! size limits (414/431), at most one `Authorization` header, the header-name policy, and the
//! request target brought to one canonical origin-form path ([`crate::path`]). The result, a
//! [`Target`], is what routing, authorization, the access log and the upstream request use.

use super::Reject;
use crate::config::RequestPolicy;
use crate::path;
use pingora::http::RequestHeader;

/// The request's path and query as the gateway uses them from here on.
#[derive(Debug, Default)]
pub struct Target {
    /// The canonical path when it differs from the raw one (`None`: the raw path is it).
    canonical: Option<Box<str>>,
    /// The query, when the target was rewritten (absolute-form or a changed path).
    query: Option<Box<str>>,
    /// The upstream must get a rebuilt origin-form target.
    rewrite: bool,
}

impl Target {
    /// The canonical path (no query).
    pub fn path<'a>(&'a self, req: &'a RequestHeader) -> &'a str {
        match &self.canonical {
            Some(p) => p,
            None => req.uri.path(),
        }
    }

    /// The query string, if any.
    pub fn query<'a>(&'a self, req: &'a RequestHeader) -> Option<&'a str> {
        if self.rewrite {
            self.query.as_deref()
        } else {
            req.uri.query()
        }
    }

    /// True when what the client sent is not what the upstream must receive.
    pub fn needs_rewrite(&self) -> bool {
        self.rewrite
    }
}

/// Checks the head of `req` against `policy` and computes its canonical target.
pub fn check(req: &RequestHeader, policy: &RequestPolicy) -> Result<Target, Reject> {
    let raw = req.raw_path();
    // `METHOD SP target SP HTTP/1.1`, without its CRLF.
    let line = req.method.as_str().len() + raw.len() + 10;
    if line > policy.max_request_line_bytes {
        return Err(Reject::UriTooLong);
    }
    check_headers(req, policy)?;
    target(raw, &policy.paths)
}

fn check_headers(req: &RequestHeader, policy: &RequestPolicy) -> Result<(), Reject> {
    if req.headers.len() > policy.max_headers {
        return Err(Reject::HeadersTooLarge("too_many_headers"));
    }
    let mut total = 0usize;
    for (name, value) in &req.headers {
        // The header line as on the wire, without its CRLF: `name: value`.
        let size = name.as_str().len() + value.len() + 2;
        if size > policy.max_header_bytes {
            return Err(Reject::HeadersTooLarge("header_too_large"));
        }
        total += size;
        if policy.reject_underscores && name.as_str().contains('_') {
            return Err(Reject::InvalidRequest("underscore_header"));
        }
    }
    if total > policy.max_header_list_bytes {
        return Err(Reject::HeadersTooLarge("header_list_too_large"));
    }
    if req
        .headers
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return Err(Reject::InvalidRequest("duplicate_authorization"));
    }
    Ok(())
}

/// Origin-form (`/p?q`) as is; absolute-form (`http://host/p?q`) reduced to origin-form (its
/// authority was already checked against `Host` by the HTTP/1 parser); anything else refused.
fn target(raw: &[u8], opts: &path::PathOptions) -> Result<Target, Reject> {
    let (origin, absolute) = if raw.first() == Some(&b'/') {
        (raw, false)
    } else {
        (strip_scheme_and_authority(raw)?, true)
    };
    let (raw_path, raw_query) = match origin.iter().position(|&b| b == b'?') {
        Some(i) => (&origin[..i], Some(&origin[i + 1..])),
        None => (origin, None),
    };
    let raw_path: &[u8] = if raw_path.is_empty() { b"/" } else { raw_path };
    let canonical = path::canonicalize(raw_path, opts).map_err(Reject::InvalidPath)?;
    let changed = matches!(canonical, std::borrow::Cow::Owned(_)) || absolute;
    if !changed {
        return Ok(Target::default());
    }
    let query = match raw_query {
        Some(q) => Some(
            std::str::from_utf8(q)
                .map_err(|_| Reject::InvalidRequest("bad_query"))?
                .into(),
        ),
        None => None,
    };
    Ok(Target {
        canonical: Some(canonical.into_owned().into_boxed_str()),
        query,
        rewrite: true,
    })
}

/// `http://authority/rest` → `/rest` (or `""` when nothing follows the authority).
fn strip_scheme_and_authority(raw: &[u8]) -> Result<&[u8], Reject> {
    let lower: Vec<u8> = raw.iter().take(8).map(u8::to_ascii_lowercase).collect();
    let rest = if lower.starts_with(b"http://") {
        &raw[7..]
    } else if lower.starts_with(b"https://") {
        &raw[8..]
    } else if raw.windows(3).any(|w| w == b"://") {
        return Err(Reject::InvalidRequest("unsupported_scheme"));
    } else {
        return Err(Reject::InvalidPath(path::PathError::NotOriginForm));
    };
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    Ok(&rest[end..])
}

/// The origin-form target to send upstream: `path` plus the query, if any.
pub fn origin_form(path: &str, query: Option<&str>) -> Option<http::Uri> {
    let pq = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    pq.parse().ok()
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
