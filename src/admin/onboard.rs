//! Onboarding, host changes and removal of a tenant, with its identity side when
//! `provisioning:` is configured: nothing is created in the user pool for a record the store
//! would refuse, and a step that fails leaves nothing behind (see `crate::provision`).
//! An `Idempotency-Key` makes onboarding safe to retry: the tenant id is derived from it.

use super::json_response;
use super::tenants::{parse, record, refused, Patch, TenantsApi};
use crate::config::file::{TenantFile, TenantStatusFile};
use crate::provision::{tenant_hosts, Failure};
use crate::store::{ChangeError, Records};
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// The onboarding payload of the Hybrid SaaS Identity guide, plus a tier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Onboard {
    tenant_name: String,
    tenant_sub_domain: String,
    tenant_email_domain: Option<String>,
    email_id: Option<String>,
    tier: Option<String>,
}

/// Tenant ids derived from idempotency keys live in their own UUID namespace.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x5d7c_42f1_0b7e_4d0e_9a53_1f2e_8c4b_6a90);

/// Longest idempotency key accepted (a UUID or a client's request id fits easily).
const MAX_KEY_BYTES: usize = 255;

fn failed(status: StatusCode, f: &Failure) -> Response<Vec<u8>> {
    failed_as(status, "provisioning_failed", f)
}

/// A failure answer with another error code (the record was refused after provisioning).
fn failed_as(status: StatusCode, code: &str, f: &Failure) -> Response<Vec<u8>> {
    json_response(
        status,
        json!({
            "error": code,
            "step": f.step,
            "message": f.message,
            "rolled_back": f.rolled_back,
            "left_behind": f.left_behind,
        }),
    )
}

/// The same onboarding as `candidate`: what a replay must match.
fn same_onboarding(stored: &TenantFile, candidate: &TenantFile) -> bool {
    stored.name == candidate.name
        && stored.subdomain.eq_ignore_ascii_case(&candidate.subdomain)
        && stored.email_domain == candidate.email_domain
        && stored.admin_email == candidate.admin_email
        && stored.tier == candidate.tier
}

pub(super) async fn onboard(
    api: &TenantsApi<'_>,
    body: &[u8],
    idempotency_key: Option<&str>,
) -> Response<Vec<u8>> {
    let o: Onboard = match parse(body) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    if let Some(k) = idempotency_key {
        if k.is_empty() || k.len() > MAX_KEY_BYTES || k.bytes().any(|b| !(0x21..0x7f).contains(&b))
        {
            return super::error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            );
        }
    }
    let id = match idempotency_key {
        Some(k) => Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, k.as_bytes()),
        None => Uuid::new_v4(),
    }
    .to_string();
    let mut candidate = TenantFile {
        id: id.clone(),
        name: o.tenant_name,
        subdomain: o.tenant_sub_domain,
        custom_domains: vec![],
        status: TenantStatusFile::Active,
        tier: o.tier.unwrap_or_else(|| "basic".to_string()),
        email_domain: o.tenant_email_domain,
        admin_email: o.email_id,
        routes: None,
        pools: Default::default(),
        idp: None,
        limits: None,
        basic_auth: vec![],
        verification: Default::default(),
    };
    if idempotency_key.is_some() {
        let records = match api.writer.records().await {
            Ok(r) => r,
            Err(e) => return refused(e),
        };
        let stored = match records.find(&id) {
            Ok(stored) => Some(stored),
            Err(ChangeError::NotFound(_)) => None,
            Err(e) => return refused(e),
        };
        if let Some(stored) = stored {
            if !same_onboarding(stored, &candidate) {
                return super::error(
                    StatusCode::CONFLICT,
                    "conflict",
                    "this Idempotency-Key was used for another onboarding",
                );
            }
            let mut body = record(stored);
            if let Some(p) = api
                .provisioner
                .and_then(|p| p.summary_of(stored, api.routing))
            {
                body["provisioned"] = p;
            }
            let mut resp = json_response(StatusCode::OK, body);
            resp.headers_mut().insert(
                "idempotent-replayed",
                http::HeaderValue::from_static("true"),
            );
            return resp;
        }
    }
    let Some(p) = api.provisioner else {
        return write_new(api, candidate).await;
    };
    // Would the store take this tenant (subdomain free, fields valid)? Asked with a
    // placeholder client before anything is created in the user pool.
    let mut trial = candidate.clone();
    trial.idp = Some(p.idp_block(&format!("pending-{id}"), None, None));
    if let Err(e) = api.writer.check(|records| add(records, trial)).await {
        return refused(e);
    }
    let started = std::time::Instant::now();
    let hosts = tenant_hosts(api.routing, &candidate);
    let callback = &api.routing.auth.callback_path;
    let made = match p
        .create(
            &id,
            candidate.admin_email.as_deref(),
            &hosts,
            callback,
            idempotency_key.is_some(),
        )
        .await
    {
        Ok(m) => m,
        Err(f) => return failed(StatusCode::SERVICE_UNAVAILABLE, &f),
    };
    candidate.idp = Some(made.idp.clone());
    let summary = made.summary();
    let written = candidate.clone();
    match api
        .writer
        .apply(move |records| add(records, written.clone()))
        .await
    {
        Ok(_) => {
            tracing::info!(
                tenant = %id,
                client_id = %made.client_id,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "tenant onboarded with its identity provider"
            );
            let mut body = record(&candidate);
            body["provisioned"] = summary;
            json_response(StatusCode::CREATED, body)
        }
        Err(e) => {
            // Taken or invalid since the check (another writer was faster): the store's
            // answer; anything else is the store failing.
            let (status, code) = match &e {
                ChangeError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
                ChangeError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_tenant"),
                _ => (StatusCode::SERVICE_UNAVAILABLE, "provisioning_failed"),
            };
            let f = p.undo(made, "write_tenant", e.to_string()).await;
            failed_as(status, code, &f)
        }
    }
}

fn add(records: &mut Records, t: TenantFile) -> Result<(), ChangeError> {
    if records.has_subdomain(&t.subdomain) {
        return Err(ChangeError::Conflict(format!(
            "subdomain {:?} is taken",
            t.subdomain
        )));
    }
    if records.has_id(&t.id)? {
        return Err(ChangeError::Conflict(format!("tenant {} exists", t.id)));
    }
    records.push(t);
    Ok(())
}

/// Onboarding without provisioning: the record alone.
async fn write_new(api: &TenantsApi<'_>, t: TenantFile) -> Response<Vec<u8>> {
    let written = api
        .writer
        .apply(move |records| add(records, t.clone()).map(|()| t.clone()))
        .await;
    match written {
        Ok((t, _)) => json_response(StatusCode::CREATED, record(&t)),
        Err(e) => refused(e),
    }
}

/// A PATCH; when the tenant's app client is managed and its hosts change, the client's URLs
/// change first, and are put back if the record cannot be written.
pub(super) async fn patch(api: &TenantsApi<'_>, id: &str, patch: Patch) -> Response<Vec<u8>> {
    let verification_on = api.routing.domain_verification.is_some();
    // Only a provisioner needs the current record first (reading it is not free at scale).
    let current = match api.provisioner {
        Some(p) => Some((p, api.writer.records().await)),
        None => None,
    };
    let managed = match current {
        Some((p, Ok(records))) => match records.find(id) {
            Ok(current) if current.idp.as_ref().is_some_and(|i| i.managed.is_some()) => {
                let mut next = current.clone();
                patch.apply(&mut next, verification_on);
                let before = tenant_hosts(api.routing, current);
                let after = tenant_hosts(api.routing, &next);
                let client = current.idp.as_ref().map(|i| i.client_id.clone());
                (before != after).then_some((p, client.unwrap_or_default(), before, after))
            }
            _ => None,
        },
        _ => None,
    };
    let callback = &api.routing.auth.callback_path;
    if let Some((p, client, _, after)) = &managed {
        if let Err(f) = p.set_hosts(client, after, callback).await {
            return failed(StatusCode::SERVICE_UNAVAILABLE, &f);
        }
    }
    let id = id.to_string();
    let result = api
        .writer
        .apply(move |records| {
            let t = records.find_mut(&id)?;
            patch.apply(t, verification_on);
            Ok(t.clone())
        })
        .await;
    match result {
        Ok((t, _)) => json_response(StatusCode::OK, record(&t)),
        Err(e) => {
            if let Some((p, client, before, _)) = &managed {
                if let Err(f) = p.set_hosts(client, before, callback).await {
                    tracing::error!(client = %client, error = %f.message, "could not put the app client's URLs back after a refused change");
                }
            }
            refused(e)
        }
    }
}

/// Removes a tenant: its managed identity resources first (a retry finishes a partial
/// removal), then the record, then the record's stored client secret.
pub(super) async fn delete(api: &TenantsApi<'_>, id: &str) -> Response<Vec<u8>> {
    let mut stored_secret = None;
    if let Some(p) = api.provisioner {
        let records = match api.writer.records().await {
            Ok(r) => r,
            Err(e) => return refused(e),
        };
        if let Ok(t) = records.find(id) {
            if let Some(idp) = &t.idp {
                if let Err(f) = p.remove(idp).await {
                    return failed(StatusCode::SERVICE_UNAVAILABLE, &f);
                }
                if idp.managed.is_some() {
                    stored_secret = Some((p, t.id.clone()));
                }
            }
        }
    }
    let id = id.to_string();
    match api
        .writer
        .apply(move |records| {
            if !records.remove(&id)? {
                return Err(ChangeError::NotFound(id.clone()));
            }
            Ok(())
        })
        .await
    {
        Ok(_) => {
            if let Some((p, tenant)) = stored_secret {
                p.forget_secret(&tenant);
            }
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Vec::new())
                .unwrap_or_default()
        }
        Err(e) => refused(e),
    }
}

/// Marks a pending custom domain verified without a DNS check (the operator vouches for it):
/// logged as an audit event. A managed app client gets the host's URLs first.
pub(super) async fn verify_by_hand(
    api: &TenantsApi<'_>,
    id: &str,
    domain: &str,
) -> Response<Vec<u8>> {
    let records = match api.writer.records().await {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    let current = match records.find(id) {
        Ok(t) => t.clone(),
        Err(e) => return refused(e),
    };
    let mut next = current.clone();
    if !crate::domains::mark_verified(&mut next, domain, "admin") {
        return super::error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("{domain} is not one of the tenant's custom domains"),
        );
    }
    if let (Some(p), Some(idp)) = (api.provisioner, &current.idp) {
        if idp.managed.is_some() {
            let hosts = tenant_hosts(api.routing, &next);
            if let Err(f) = p
                .set_hosts(&idp.client_id, &hosts, &api.routing.auth.callback_path)
                .await
            {
                return failed(StatusCode::SERVICE_UNAVAILABLE, &f);
            }
        }
    }
    let (tid, d) = (current.id.clone(), domain.to_string());
    match api
        .writer
        .apply(move |records| {
            let t = records.find_mut(&tid)?;
            crate::domains::mark_verified(t, &d, "admin");
            Ok(t.clone())
        })
        .await
    {
        Ok((t, _)) => {
            tracing::warn!(
                target: "audit",
                tenant = %t.id,
                domain,
                "custom domain marked verified by hand through the admin API"
            );
            json_response(StatusCode::OK, record(&t))
        }
        Err(e) => refused(e),
    }
}
