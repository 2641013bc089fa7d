//! Headers the gateway owns: client copies of tenant/identity headers (and every header name
//! with `_`, which CGI-style servers read as the same variable as its `-` twin) are dropped,
//! and the tenant, identity, request-id and forwarding headers are set from what the gateway
//! knows. Multi-valued identity data travels as RFC 8941 structured-field lists.

use crate::auth::{is_gateway_cookie, ClaimValue, Identity};
use crate::tenant::Tenant;
use http::{HeaderName, HeaderValue};
use pingora::http::RequestHeader;
use pingora::prelude::*;
use std::net::IpAddr;

/// Prefixes of headers only the gateway may set (`x-forwarded-` covers `-for`, `-proto`,
/// `-host` and every variant backends read: `-port`, `-prefix`, `-ssl`, `-server`, ...).
const RESERVED_PREFIXES: [&str; 3] = ["x-tenant-", "x-user-", "x-forwarded-"];
/// Other headers some backends trust for the client's address or the request's real path
/// (`X-Original-URL` and `X-Rewrite-URL` override the path in IIS and Symfony): a client
/// never gets to set them.
const TRUSTED_ELSEWHERE: [&str; 7] = [
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "x-original-url",
    "x-rewrite-url",
    "x-original-uri",
];

/// Removes every client-sent header the upstream must be able to trust, and every header
/// whose name has `_` (`X_Tenant_Id` is `HTTP_X_TENANT_ID` to CGI, WSGI, PHP and Rack).
pub fn strip_spoofed(req: &mut RequestHeader) {
    let doomed = |k: &str| {
        RESERVED_PREFIXES.iter().any(|p| k.starts_with(p))
            || TRUSTED_ELSEWHERE.contains(&k)
            || k.contains('_')
    };
    if !req.headers.keys().any(|k| doomed(k.as_str())) {
        return;
    }
    let names: Vec<HeaderName> = req
        .headers
        .keys()
        .filter(|k| doomed(k.as_str()))
        .cloned()
        .collect();
    for name in names {
        req.remove_header(&name);
    }
}

/// What the gateway tells the upstream about the request.
pub struct Forwarded<'a> {
    pub tenant: &'a Tenant,
    pub request_id: &'a HeaderValue,
    pub client_ip: Option<IpAddr>,
    pub proto: &'static str,
    pub host: Option<HeaderValue>,
}

pub fn add_gateway_headers(req: &mut RequestHeader, f: Forwarded<'_>) -> Result<()> {
    req.insert_header("x-tenant-id", f.tenant.headers.id.clone())?;
    req.insert_header("x-tenant-name", f.tenant.headers.name.clone())?;
    req.insert_header("x-tenant-tier", f.tenant.headers.tier.clone())?;
    req.insert_header("x-request-id", f.request_id.clone())?;
    if let Some(ip) = f.client_ip {
        req.insert_header("x-forwarded-for", ip_value(ip))?;
    }
    req.insert_header("x-forwarded-proto", f.proto)?;
    if let Some(host) = f.host {
        if req.headers.get(http::header::HOST).is_none() {
            // HTTP/2 carries the host in :authority; HTTP/1 backends need a Host header.
            req.insert_header(http::header::HOST, host.clone())?;
        }
        req.insert_header("x-forwarded-host", host)?;
    }
    Ok(())
}

/// An address as a header value; IPv4 (the common case) without the formatting machinery.
pub fn ip_value(ip: IpAddr) -> HeaderValue {
    let IpAddr::V4(v4) = ip else {
        return HeaderValue::from_str(&ip.to_string()).unwrap_or(HeaderValue::from_static("-"));
    };
    let mut buf = [0u8; 15];
    let mut n = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if octet >= 100 {
            buf[n] = b'0' + octet / 100;
            n += 1;
        }
        if octet >= 10 {
            buf[n] = b'0' + octet / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + octet % 10;
        n += 1;
    }
    HeaderValue::from_bytes(&buf[..n]).unwrap_or(HeaderValue::from_static("-"))
}

/// Tells the upstream who the user is; values come only from validated credentials (which
/// carry no control characters in single values: see `auth::jwt`).
pub fn add_identity_headers(req: &mut RequestHeader, id: &Identity) -> Result<()> {
    if let Ok(v) = HeaderValue::from_str(&id.sub) {
        req.insert_header("x-user-sub", v)?;
    }
    if let Some(Ok(v)) = id.email.as_deref().map(HeaderValue::from_str) {
        req.insert_header("x-user-email", v)?;
    }
    if !id.groups.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&structured_list(&id.groups)) {
            req.insert_header("x-user-groups", v)?;
        }
    }
    for (name, value) in &id.extra_headers {
        let v = match value {
            ClaimValue::One(s) => HeaderValue::from_str(s),
            ClaimValue::List(items) => HeaderValue::from_str(&structured_list(items)),
        };
        if let Ok(v) = v {
            req.insert_header(name.clone(), v)?;
        }
    }
    Ok(())
}

/// An RFC 8941 List of Strings (`"admins", "a,b"`): quotes and backslashes escaped, so no
/// item can forge another. Items outside printable ASCII become RFC 9651 Display Strings
/// (`%"caf%c3%a9"`).
pub fn structured_list(items: &[String]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(items.iter().map(|i| i.len() + 4).sum());
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        let printable = |b: u8| (0x20..=0x7e).contains(&b);
        if item.bytes().all(printable) {
            out.push('"');
            for c in item.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str("%\"");
            for b in item.bytes() {
                if b == b'%' || b == b'"' || !printable(b) {
                    let _ = write!(out, "%{b:02x}");
                } else {
                    out.push(b as char);
                }
            }
            out.push('"');
        }
    }
    out
}

/// Removes the gateway's own cookies (session, login flow) from what the upstream sees.
pub fn strip_gateway_cookies(req: &mut RequestHeader) -> Result<()> {
    let values: Vec<HeaderValue> = req
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .cloned()
        .collect();
    if values.is_empty() {
        return Ok(());
    }
    let mut kept = Vec::new();
    let mut changed = false;
    for v in &values {
        let Ok(s) = v.to_str() else {
            kept.push(v.as_bytes().to_vec());
            continue;
        };
        for pair in s.split(';') {
            let name = pair.trim().split('=').next().unwrap_or("");
            if is_gateway_cookie(name) {
                changed = true;
            } else if !pair.trim().is_empty() {
                kept.push(pair.trim().as_bytes().to_vec());
            }
        }
    }
    if !changed {
        return Ok(());
    }
    req.remove_header(&http::header::COOKIE);
    if !kept.is_empty() {
        let joined = kept.join(&b"; "[..]);
        if let Ok(v) = HeaderValue::from_bytes(&joined) {
            req.insert_header(http::header::COOKIE, v)?;
        }
    }
    Ok(())
}

/// Keeps a client's `X-Request-Id` when it is short and plain; otherwise makes a new one.
pub fn request_id(req: &RequestHeader) -> HeaderValue {
    if let Some(v) = req.headers.get("x-request-id") {
        let b = v.as_bytes();
        if !b.is_empty()
            && b.len() <= 128
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
        {
            return v.clone();
        }
    }
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("invalid"))
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
