//! Headers the gateway owns: client copies of tenant/identity headers are dropped, and the
//! tenant, request-id and forwarding headers are set from what the gateway knows.

use crate::auth::{is_gateway_cookie, Identity};
use crate::tenant::Tenant;
use http::{HeaderName, HeaderValue};
use pingora::http::RequestHeader;
use pingora::prelude::*;
use std::net::IpAddr;

/// Prefixes of headers only the gateway may set; any client copy is removed.
const RESERVED_PREFIXES: [&str; 2] = ["x-tenant-", "x-user-"];
/// Forwarding headers the gateway rewrites; client values are never passed on.
const FORWARDING: [&str; 4] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
];

/// Removes every client-sent header the upstream must be able to trust.
pub fn strip_spoofed(req: &mut RequestHeader) {
    let doomed: Vec<HeaderName> = req
        .headers
        .keys()
        .filter(|k| {
            let k = k.as_str();
            RESERVED_PREFIXES.iter().any(|p| k.starts_with(p)) || FORWARDING.contains(&k)
        })
        .cloned()
        .collect();
    for name in doomed {
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
        req.insert_header("x-forwarded-for", ip.to_string())?;
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

/// Tells the upstream who the user is; values come only from validated credentials.
pub fn add_identity_headers(
    req: &mut RequestHeader,
    id: &Identity,
    forward_token: Option<&str>,
) -> Result<()> {
    req.insert_header("x-user-sub", header_value(&id.sub))?;
    if let Some(email) = &id.email {
        req.insert_header("x-user-email", header_value(email))?;
    }
    if !id.groups.is_empty() {
        req.insert_header("x-user-groups", header_value(&id.groups.join(",")))?;
    }
    for (name, value) in &id.extra_headers {
        req.insert_header(name.clone(), header_value(value))?;
    }
    if let Some(token) = forward_token {
        req.insert_header(
            http::header::AUTHORIZATION,
            header_value(&format!("Bearer {token}")),
        )?;
    }
    Ok(())
}

fn header_value(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).unwrap_or_else(|_| {
        let clean: String = v
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .collect();
        HeaderValue::from_str(&clean).unwrap_or(HeaderValue::from_static(""))
    })
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
