//! Tenant management on the admin listener: onboarding (the seeds' payload), listing, reading,
//! changing, enabling/disabling and removing tenants, and setting a tenant's IdP (the
//! federation step) or routes. Every write goes through [`TenantWriter`]: validated like a
//! configuration file, written atomically, live when the answer is sent.

use super::{error, json_response};
use crate::config::file::{IdpFile, LimitValuesFile, RouteFile, TenantFile, TenantStatusFile};
use crate::config::{LimitsSettings, RoutingConfig};
use crate::provision::Provisioner;
use crate::store::{ChangeError, TenantWriter};
use http::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// What the tenant endpoints work with.
pub struct TenantsApi<'a> {
    pub writer: &'a TenantWriter,
    pub routing: &'a RoutingConfig,
    /// Set with `provisioning:`: onboarding also creates the tenant's identity side.
    pub provisioner: Option<&'a Provisioner>,
}

/// Fields a PATCH may change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Patch {
    subdomain: Option<String>,
    name: Option<String>,
    tier: Option<String>,
    status: Option<TenantStatusFile>,
    custom_domains: Option<Vec<String>>,
    email_domain: Option<String>,
    /// Replaces the tenant's overrides of its tier's limits.
    limits: Option<LimitValuesFile>,
}

impl Patch {
    pub(super) fn apply(&self, t: &mut TenantFile) {
        if let Some(v) = &self.subdomain {
            t.subdomain = v.clone();
        }
        if let Some(v) = &self.name {
            t.name = v.clone();
        }
        if let Some(v) = &self.tier {
            t.tier = v.clone();
        }
        if let Some(v) = self.status {
            t.status = v;
        }
        if let Some(v) = &self.custom_domains {
            t.custom_domains = v.clone();
        }
        if let Some(v) = &self.email_domain {
            t.email_domain = Some(v.clone());
        }
        if let Some(v) = self.limits {
            t.limits = Some(v);
        }
    }
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, Box<Response<Vec<u8>>>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(json_response(
            StatusCode::BAD_REQUEST,
            json!({ "error": "bad_request", "message": format!("invalid JSON body: {e}") }),
        ))
    })
}

pub(super) fn refused(e: ChangeError) -> Response<Vec<u8>> {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (code, issues): (&str, Vec<String>) = match &e {
        ChangeError::Invalid(c) => (
            "invalid_tenant",
            c.issues().iter().map(|i| i.to_string()).collect(),
        ),
        ChangeError::NotFound(_) => ("not_found", vec![]),
        ChangeError::Conflict(_) => ("conflict", vec![]),
        ChangeError::Unsupported(_) => ("unsupported", vec![]),
        ChangeError::Io(_) => ("internal_error", vec![]),
        ChangeError::Unavailable(_) => ("store_unavailable", vec![]),
    };
    if let ChangeError::Io(io) = &e {
        tracing::error!(error = %io, "tenant change could not be written");
    }
    json_response(
        status,
        json!({ "error": code, "message": e.to_string(), "issues": issues }),
    )
}

pub(super) fn find<'a>(
    records: &'a mut [TenantFile],
    id: &str,
) -> Result<&'a mut TenantFile, ChangeError> {
    records
        .iter_mut()
        .find(|t| t.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| ChangeError::NotFound(id.to_string()))
}

pub(super) fn record(t: &TenantFile) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

/// The limits a tenant's requests get: its tier's values merged with its overrides (`null`:
/// unlimited); routes may still override them or opt out.
fn effective_limits(settings: &LimitsSettings, t: &TenantFile) -> serde_json::Value {
    let v = crate::limits::effective(settings, &t.tier, t.limits.map(|l| l.to_values()));
    json!({
        "tier_configured": settings.tiers.contains_key(&t.tier),
        "rate_per_second": v.rate_per_second,
        "burst": v.rate_per_second.map(|_| v.burst.unwrap_or(1)),
        "max_in_flight": v.max_in_flight,
        "key": v.key.unwrap_or_default().as_str(),
    })
}

/// Handles `/tenants...`; `None` when the path is not a tenant endpoint.
/// `idempotency_key`: the `Idempotency-Key` header of an onboarding.
pub async fn handle(
    api: &TenantsApi<'_>,
    method: &Method,
    path: &str,
    query: &str,
    body: &[u8],
    idempotency_key: Option<&str>,
) -> Option<Response<Vec<u8>>> {
    let writer = api.writer;
    let limits = &api.routing.limits;
    let rest = path.strip_prefix("/tenants")?;
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let resp = match (method, parts.as_slice()) {
        (&Method::GET, []) => list(writer, query),
        (&Method::POST, []) => super::onboard::onboard(api, body, idempotency_key).await,
        (&Method::GET, [id]) => match writer.records() {
            Ok(mut r) => match find(&mut r, id) {
                Ok(t) => {
                    let mut body = record(t);
                    body["effective_limits"] = effective_limits(limits, t);
                    json_response(StatusCode::OK, body)
                }
                Err(e) => refused(e),
            },
            Err(e) => refused(e),
        },
        (&Method::PATCH, [id]) => {
            let patch: Patch = match parse(body) {
                Ok(p) => p,
                Err(r) => return Some(*r),
            };
            super::onboard::patch(api, id, patch).await
        }
        (&Method::DELETE, [id]) => super::onboard::delete(api, id).await,
        (&Method::POST, [id, action @ ("enable" | "disable")]) => {
            let status = if *action == "enable" {
                TenantStatusFile::Active
            } else {
                TenantStatusFile::Disabled
            };
            change(writer, id, move |t| t.status = status).await
        }
        (&Method::PUT, [id, "idp"]) => {
            let idp: IdpFile = match parse(body) {
                Ok(v) => v,
                Err(r) => return Some(*r),
            };
            change(writer, id, move |t| t.idp = Some(idp.clone())).await
        }
        (&Method::PUT, [id, "routes"]) => {
            let routes: Vec<RouteFile> = match parse(body) {
                Ok(v) => v,
                Err(r) => return Some(*r),
            };
            change(writer, id, move |t| t.routes = Some(routes.clone())).await
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such tenant endpoint or method",
        ),
    };
    Some(resp)
}

pub(super) async fn change(
    writer: &TenantWriter,
    id: &str,
    edit: impl Fn(&mut TenantFile) + Send + 'static,
) -> Response<Vec<u8>> {
    let id = id.to_string();
    match writer
        .apply(move |records| {
            let t = find(records, &id)?;
            edit(t);
            Ok(t.clone())
        })
        .await
    {
        Ok((t, _)) => json_response(StatusCode::OK, record(&t)),
        Err(e) => refused(e),
    }
}

fn list(writer: &TenantWriter, query: &str) -> Response<Vec<u8>> {
    let q: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let records = match writer.records() {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    let start = match q.get("after") {
        Some(after) => records
            .iter()
            .position(|t| t.id.eq_ignore_ascii_case(after))
            .map_or(records.len(), |i| i + 1),
        None => 0,
    };
    let page: Vec<_> = records.iter().skip(start).take(limit).map(record).collect();
    let next = (start + limit < records.len()).then(|| records[start + limit - 1].id.clone());
    json_response(StatusCode::OK, json!({ "tenants": page, "next": next }))
}
