//! The admin listener (loopback by default, separate from tenant traffic): health and
//! readiness probes, Prometheus metrics, configuration status and live reload. Probes and
//! metrics are open; everything else needs the admin bearer token.

mod auth;
mod console;
mod onboard;
mod tenants;

use crate::metrics;
use crate::runtime::RuntimeHandle;
use crate::store::dynamodb::Follower;
use crate::store::{Reloader, TenantWriter};
use crate::tls::acme::AcmeManager;
use crate::tls::resolver::CertResolver;
use async_trait::async_trait;
use http::{Method, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::json;
use std::sync::Arc;

/// The admin HTTP application.
pub struct AdminApp {
    runtime: RuntimeHandle,
    reloader: Arc<Reloader>,
    token: Option<String>,
    certs: Option<Arc<CertResolver>>,
    acme: Option<Arc<AcmeManager>>,
    writer: Arc<TenantWriter>,
    assertions: Option<Arc<crate::assertion::Assertions>>,
    provisioner: Option<Arc<crate::provision::Provisioner>>,
    verifier: Option<Arc<crate::domains::Verifier>>,
    console: console::Console,
}

impl AdminApp {
    pub fn new(runtime: RuntimeHandle, reloader: Arc<Reloader>, token: Option<String>) -> Self {
        Self {
            assertions: None,
            provisioner: None,
            verifier: None,
            console: console::Console::default(),
            runtime,
            writer: Arc::new(TenantWriter::new(reloader.clone())),
            reloader,
            token,
            certs: None,
            acme: None,
        }
    }

    /// Serves the tenant assertion's JWKS (unauthenticated, like on tenant hosts).
    pub fn with_assertions(mut self, a: Option<Arc<crate::assertion::Assertions>>) -> Self {
        self.assertions = a;
        self
    }

    /// The tenant writer (shared with the domain verifier: one change at a time).
    pub fn writer(&self) -> Arc<TenantWriter> {
        self.writer.clone()
    }

    /// Pending custom domains' check state, in `GET /tenants/{id}` and `/certs`.
    pub fn with_verifier(mut self, v: Arc<crate::domains::Verifier>) -> Self {
        self.verifier = Some(v);
        self
    }

    /// Onboarding also creates the tenant's identity side (`provisioning:`).
    pub fn with_provisioner(mut self, p: Option<Arc<crate::provision::Provisioner>>) -> Self {
        self.provisioner = p;
        self
    }

    /// Tenant writes go to DynamoDB and `/readyz` reports the store's health.
    pub fn with_fleet(mut self, fleet: Option<Arc<Follower>>) -> Self {
        if let Some(f) = fleet {
            self.writer = Arc::new(TenantWriter::dynamodb(self.reloader.clone(), f));
        }
        self
    }

    pub fn with_tls(
        mut self,
        certs: Option<Arc<CertResolver>>,
        acme: Option<Arc<AcmeManager>>,
    ) -> Self {
        self.certs = certs;
        self.acme = acme;
        self
    }

    /// Every certificate served and every host the ACME task looks after.
    fn certs(&self) -> serde_json::Value {
        let now = std::time::SystemTime::now();
        let served: Vec<_> = self
            .certs
            .as_ref()
            .map(|r| {
                r.index()
                    .all()
                    .iter()
                    .map(|c| {
                        json!({
                            "names": c.names,
                            "source": c.source,
                            "issuer": c.issuer,
                            "not_before": humantime::format_rfc3339_seconds(c.not_before).to_string(),
                            "not_after": humantime::format_rfc3339_seconds(c.not_after).to_string(),
                            "valid": c.is_valid_at(now),
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        // Stored certificates known by their metadata, loaded at their first handshake.
        let mut served = served;
        if let Some(r) = &self.certs {
            for (host, m, loaded) in r.stored_all() {
                let at = |s: u64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s);
                served.push(json!({
                    "names": m.names,
                    "source": "acme",
                    "issuer": m.issuer,
                    "not_before": humantime::format_rfc3339_seconds(at(m.not_before)).to_string(),
                    "not_after": humantime::format_rfc3339_seconds(at(m.not_after)).to_string(),
                    "valid": m.is_valid_at(now),
                    "stored_for": host,
                    "loaded": loaded,
                }));
            }
        }
        let hosts: Vec<_> = self
            .acme
            .as_ref()
            .map(|a| {
                let states = a.states();
                let index = self.certs.as_ref().map(|r| r.index());
                a.wanted_hosts()
                    .into_iter()
                    .map(|h| {
                        let cert = index.as_ref().and_then(|i| i.lookup(&h, now).cloned());
                        let stored = self
                            .certs
                            .as_ref()
                            .and_then(|r| r.stored_meta(&h))
                            .filter(|m| m.is_valid_at(now));
                        let st = states.get(&h).cloned().unwrap_or_default();
                        let not_after = cert.as_ref().map(|c| c.not_after).or(stored.as_ref().map(|m| {
                            std::time::UNIX_EPOCH + std::time::Duration::from_secs(m.not_after)
                        }));
                        let valid = cert.is_some() || stored.is_some();
                        json!({
                            "host": h,
                            "status": if valid { "valid" } else if st.last_error.is_some() { "failing" } else { "pending" },
                            "source": cert.as_ref().map(|c| c.source).or(stored.as_ref().map(|_| crate::tls::certs::Source::Acme)),
                            "issuer": cert.as_ref().map(|c| c.issuer.clone()).or(stored.as_ref().map(|m| m.issuer.clone())),
                            "not_after": not_after.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                            "failures": st.failures,
                            "last_error": st.last_error,
                            "retry_in_seconds": st.next_attempt.map(|t| t.saturating_duration_since(std::time::Instant::now()).as_secs()),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Custom domains not served (nor certified) until verified.
        let checks = self
            .verifier
            .as_ref()
            .map(|v| v.status())
            .unwrap_or_default();
        let rt = self.runtime.load();
        let pending: Vec<_> = rt
            .routing
            .tenants
            .iter()
            .flat_map(|t| t.pending_domains.iter().map(move |p| (t, p)))
            .map(|(t, p)| {
                json!({
                    "host": p.host.as_str(),
                    "tenant": t.id,
                    "status": "pending_verification",
                    "token": p.token,
                    "check": checks.get(p.host.as_str()),
                })
            })
            .collect();
        json!({ "certificates": served, "hosts": hosts, "pending_domains": pending })
    }

    /// A protected endpoint's caller: the admin bearer token, or a console session (with its
    /// CSRF token on writes).
    fn authorize(
        &self,
        req: &pingora::http::RequestHeader,
    ) -> Result<console::Caller, Box<Response<Vec<u8>>>> {
        if !req.headers.contains_key(http::header::AUTHORIZATION) {
            if let Some(r) = self.console.authorize(req) {
                return r.map_err(Box::new);
            }
        }
        auth::check(self.token.as_deref(), req).map(|()| console::Caller::Bearer)
    }

    fn status(&self) -> serde_json::Value {
        let rt = self.runtime.load();
        let pools: Vec<_> = rt
            .pools
            .iter()
            .map(|p| json!({ "name": p.name(), "backends": p.backends() }))
            .collect();
        let mut status = json!({
            "generation": rt.generation,
            "loaded_at": humantime::format_rfc3339_seconds(rt.loaded_at).to_string(),
            "config": self.reloader.path().display().to_string(),
            "tenants": rt.snapshot.counts(),
            "pools": pools,
        });
        if let Some(store) = self.writer.store_status() {
            status["store"] = json!(store);
        }
        status
    }
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Vec<u8>> {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("content-length", bytes.len())
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .body(bytes)
        .unwrap_or_default()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Vec<u8>> {
    json_response(status, json!({ "error": code, "message": message }))
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        // Admin bodies are small JSON documents; more than 1 MiB is refused.
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = session.read_request_body().await {
            body.extend_from_slice(&chunk);
            if body.len() > 1 << 20 {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "admin request bodies are limited to 1 MiB",
                );
            }
        }
        let req = session.req_header();
        let method = req.method.clone();
        let path = req.uri.path().to_string();
        let query = req.uri.query().unwrap_or("").to_string();
        if let Some(resp) = self
            .console
            .handle(self.token.as_deref(), session.req_header(), &body)
        {
            return resp;
        }
        if path == "/tenants" || path.starts_with("/tenants/") {
            if let Err(resp) = self.authorize(session.req_header()) {
                return *resp;
            }
            let idempotency_key = req
                .headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let rt = self.runtime.load_full();
            let api = tenants::TenantsApi {
                writer: &self.writer,
                routing: &rt.routing,
                runtime: &rt,
                provisioner: self.provisioner.as_deref(),
                verifier: self.verifier.as_deref(),
            };
            if let Some(resp) = tenants::handle(
                &api,
                &method,
                &path,
                &query,
                &body,
                idempotency_key.as_deref(),
            )
            .await
            {
                return resp;
            }
        }
        match (method, path.as_str()) {
            (Method::GET, "/healthz") => json_response(StatusCode::OK, json!({ "status": "ok" })),
            (Method::GET, "/readyz") => {
                // A node whose store is unreachable still serves its last known tenants, so
                // it stays in rotation (200) and says it is degraded.
                let rt = self.runtime.load();
                if self.certs.as_ref().is_some_and(|c| !c.is_indexed()) {
                    return error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "starting",
                        "the stored certificates' index is not read yet",
                    );
                }
                let store = self.writer.store_status();
                let status = match &store {
                    Some(s) if !s.healthy => "degraded",
                    _ => "ready",
                };
                let mut body = json!({ "status": status, "generation": rt.generation });
                if let Some(s) = store {
                    body["store"] = json!(s);
                }
                json_response(StatusCode::OK, body)
            }
            (Method::GET, crate::assertion::JWKS_PATH) => {
                let Some((body, max_age)) = self
                    .assertions
                    .as_ref()
                    .map(|a| (a.jwks(), a.jwks_max_age()))
                else {
                    return error(
                        StatusCode::NOT_FOUND,
                        "assertion_off",
                        "the tenant assertion is not configured (`assertion:` in gateway.yaml)",
                    );
                };
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/jwk-set+json")
                    .header("content-length", body.len())
                    .header("cache-control", format!("max-age={max_age}"))
                    .body(body.to_vec())
                    .unwrap_or_default()
            }
            (Method::GET, "/metrics") => {
                let body = metrics::render().into_bytes();
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "text/plain; version=0.0.4")
                    .header("content-length", body.len())
                    .body(body)
                    .unwrap_or_default()
            }
            (m, p @ ("/status" | "/reload" | "/certs" | "/reloads")) => {
                if let Err(resp) = self.authorize(session.req_header()) {
                    return *resp;
                }
                match (m, p) {
                    (Method::GET, "/status") => json_response(StatusCode::OK, self.status()),
                    (Method::GET, "/reloads") => json_response(
                        StatusCode::OK,
                        json!({ "reloads": self.reloader.history() }),
                    ),
                    (Method::GET, "/certs") => json_response(StatusCode::OK, self.certs()),
                    (Method::POST, "/reload") => {
                        match self.reloader.reload_report("admin-api").await {
                            Ok(report) => json_response(StatusCode::OK, json!(report)),
                            Err(e) => {
                                let issues: Vec<_> =
                                    e.issues().iter().map(|i| i.to_string()).collect();
                                json_response(
                                    StatusCode::BAD_REQUEST,
                                    json!({
                                        "error": "invalid_config",
                                        "message": "configuration rejected; the running configuration stays",
                                        "issues": issues,
                                    }),
                                )
                            }
                        }
                    }
                    _ => error(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method_not_allowed",
                        "method not allowed",
                    ),
                }
            }
            _ => error(StatusCode::NOT_FOUND, "not_found", "no such admin endpoint"),
        }
    }
}
