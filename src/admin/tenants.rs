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
    /// The version in service (metric labels of tenants).
    pub runtime: &'a crate::runtime::Runtime,
    /// Set with `provisioning:`: onboarding also creates the tenant's identity side.
    pub provisioner: Option<&'a Provisioner>,
    pub verifier: Option<&'a crate::domains::Verifier>,
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
    /// Applies the patch; `verification_on`: new custom domains start pending.
    pub(super) fn apply(&self, t: &mut TenantFile, verification_on: bool) {
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
            crate::domains::sync_states(t, verification_on);
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
    let mut body = json!({ "error": code, "message": e.to_string(), "issues": issues });
    if let ChangeError::Invalid(c) = &e {
        // The same issues, structured: what a form shows next to each field.
        body["fields"] = c
            .issues()
            .iter()
            .map(|i| json!({ "tenant": i.tenant, "field": i.field, "message": i.message }))
            .collect();
    }
    json_response(status, body)
}

pub(super) fn record(t: &TenantFile) -> serde_json::Value {
    let mut v = serde_json::to_value(t).unwrap_or_default();
    // A record leaves its empty lists, empty maps and `false` flags out of the file; the API
    // shows every field.
    let fill = |v: &mut serde_json::Value, fields: &[(&str, serde_json::Value)]| {
        if let Some(o) = v.as_object_mut() {
            for (field, empty) in fields {
                o.entry(*field).or_insert_with(|| empty.clone());
            }
        }
    };
    fill(
        &mut v,
        &[
            ("custom_domains", json!([])),
            ("pools", json!({})),
            ("basic_auth", json!([])),
        ],
    );
    let route_fields = [
        ("strip_prefix", json!(false)),
        ("require_groups", json!([])),
        ("require_scopes", json!([])),
    ];
    if let Some(routes) = v.get_mut("routes").and_then(|r| r.as_array_mut()) {
        routes.iter_mut().for_each(|r| fill(r, &route_fields));
    }
    if let Some(idp) = v.get_mut("idp") {
        let idp_fields = [
            ("audiences", json!([])),
            ("claim_headers", json!({})),
            ("forward_token", json!(false)),
        ];
        fill(idp, &idp_fields);
    }
    v
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
        (&Method::GET, []) => list(writer, query).await,
        (&Method::POST, []) => super::onboard::onboard(api, body, idempotency_key).await,
        (&Method::GET, [id]) => match writer.records().await {
            Ok(r) => match r.find(id) {
                Ok(t) => {
                    let mut body = record(t);
                    body["effective_limits"] = effective_limits(limits, t);
                    body["hosts"] = json!(crate::provision::tenant_hosts(api.routing, t));
                    if let Some(v) = api.verifier {
                        let tenant = t.id.to_ascii_lowercase();
                        let checks: serde_json::Map<String, serde_json::Value> = v
                            .status()
                            .into_iter()
                            .filter(|(_, c)| c.tenant == tenant)
                            .map(|(d, c)| (d, json!(c)))
                            .collect();
                        body["domain_checks"] = json!(checks);
                    }
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
        (&Method::GET, [id, "metrics"]) => {
            let tenant = uuid::Uuid::parse_str(id)
                .ok()
                .and_then(|u| api.runtime.snapshot.by_id(&u).cloned());
            match tenant {
                Some(t) => {
                    let mut body = crate::metrics::tenant_counters(&t.metric_label);
                    body["at"] = json!(humantime::format_rfc3339_millis(
                        std::time::SystemTime::now()
                    )
                    .to_string());
                    json_response(StatusCode::OK, body)
                }
                None => refused(ChangeError::NotFound(id.to_string())),
            }
        }
        (&Method::POST, [id, "domains", domain, "verify"]) => {
            super::onboard::verify_by_hand(api, id, domain).await
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
            let t = records.find_mut(&id)?;
            edit(t);
            Ok(t.clone())
        })
        .await
    {
        Ok((t, _)) => json_response(StatusCode::OK, record(&t)),
        Err(e) => refused(e),
    }
}

/// Whether a record matches the list filters: `q` (a case-insensitive part of its id, name,
/// subdomain, custom domain or admin email), `status` and `tier`.
fn matches(t: &TenantFile, q: &std::collections::HashMap<String, String>) -> bool {
    let text = q.get("q").map(|v| v.trim().to_ascii_lowercase());
    let text_ok = text.filter(|v| !v.is_empty()).is_none_or(|v| {
        t.id.to_ascii_lowercase().contains(&v)
            || t.name.to_ascii_lowercase().contains(&v)
            || t.subdomain.contains(&v)
            || t.custom_domains
                .iter()
                .any(|d| d.to_ascii_lowercase().contains(&v))
            || t.admin_email
                .as_ref()
                .is_some_and(|e| e.to_ascii_lowercase().contains(&v))
    });
    let status_ok = q.get("status").filter(|v| !v.is_empty()).is_none_or(|v| {
        let s = match t.status {
            TenantStatusFile::Active => "active",
            TenantStatusFile::Disabled => "disabled",
        };
        s == v
    });
    let tier_ok = q
        .get("tier")
        .filter(|v| !v.is_empty())
        .is_none_or(|v| &t.tier == v);
    text_ok && status_ok && tier_ok
}

/// A page of the records matching the filters, after the one with id `after`; `next` is the
/// `after` of the following page and `total` the number of matches. Parsing every record of a
/// large file runs off the admin listener's worker.
async fn list(writer: &TenantWriter, query: &str) -> Response<Vec<u8>> {
    let records = match writer.records().await {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    let query = query.to_string();
    let page = tokio::task::spawn_blocking(move || {
        crate::priority::background();
        page(&records, &query)
    })
    .await
    .unwrap_or_else(|e| Err(ChangeError::Io(std::io::Error::other(e))));
    match page {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => refused(e),
    }
}

/// The body of [`list`].
fn page(records: &crate::store::Records, query: &str) -> Result<serde_json::Value, ChangeError> {
    let q: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let records = records.all()?;
    let matching: Vec<&TenantFile> = records
        .iter()
        .map(|t| &**t)
        .filter(|t| matches(t, &q))
        .collect();
    let start = match q.get("after") {
        Some(after) => matching
            .iter()
            .position(|t| t.id.eq_ignore_ascii_case(after))
            .map_or(matching.len(), |i| i + 1),
        None => 0,
    };
    let page: Vec<_> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|t| record(t))
        .collect();
    let next = (start + limit < matching.len()).then(|| matching[start + limit - 1].id.clone());
    Ok(json!({ "tenants": page, "next": next, "total": matching.len() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_leaves_out_empty_fields_and_the_api_shows_them() {
        let yaml = "id: 5b0e7c1a-2d3f-4e5a-8b6c-7d8e9f0a1b2c\nname: A\nsubdomain: a\n\
                    routes:\n  - prefix: /\n    pool: web\n\
                    idp:\n  kind: oidc\n  issuer: https://idp.test\n  client_id: c\n";
        let t: TenantFile = serde_norway::from_str(yaml).unwrap();
        let text = crate::config::record_text(&t).unwrap();
        for left_out in [
            "strip_prefix",
            "require_groups",
            "require_scopes",
            "audiences",
            "claim_headers",
            "forward_token",
            "custom_domains",
            "basic_auth",
        ] {
            assert!(!text.contains(left_out), "{left_out} in\n{}", &*text);
        }
        let back: Vec<TenantFile> = serde_norway::from_str(&text).unwrap();
        assert_eq!(back, vec![t.clone()], "the file reads back as the record");
        let shown = record(&t);
        let route = &shown["routes"][0];
        assert_eq!(
            (
                &route["strip_prefix"],
                &route["require_groups"],
                &route["require_scopes"]
            ),
            (&json!(false), &json!([]), &json!([]))
        );
        let idp = &shown["idp"];
        assert_eq!(
            (
                &idp["audiences"],
                &idp["claim_headers"],
                &idp["forward_token"]
            ),
            (&json!([]), &json!({}), &json!(false))
        );
        assert_eq!(shown["custom_domains"], json!([]));
        // Set values are shown as they are.
        let mut set = t;
        set.routes.as_mut().unwrap()[0].require_groups = vec!["admins".into()];
        set.idp.as_mut().unwrap().forward_token = true;
        let shown = record(&set);
        assert_eq!(shown["routes"][0]["require_groups"], json!(["admins"]));
        assert_eq!(shown["idp"]["forward_token"], json!(true));
    }
}
