//! IdP endpoints: explicit settings win; whatever is missing comes from the provider's
//! discovery document, fetched on first use and cached (one fetch shared by concurrent
//! requests). Cognito's JWKS location is derived from the issuer without discovery.

use super::http_body::IdpHttp;
use super::AuthError;
use crate::config::{IdpKind, IdpSpec};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
struct ProviderMetadata {
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    jwks_uri: Option<String>,
    end_session_endpoint: Option<String>,
}

/// The endpoints a browser login needs.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub end_session: Option<String>,
}

pub struct Discovery {
    http: IdpHttp,
    cache: moka::future::Cache<String, Arc<ProviderMetadata>>,
}

impl Discovery {
    pub fn new(http: IdpHttp, ttl: Duration) -> Self {
        Self {
            http,
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    async fn metadata(&self, idp: &IdpSpec) -> Result<Arc<ProviderMetadata>, AuthError> {
        let url = idp.discovery_url.clone();
        let http = self.http.clone();
        self.cache
            .try_get_with(url.clone(), async move {
                let resp = http
                    .client
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !resp.status().is_success() {
                    return Err(format!("HTTP {}", resp.status()));
                }
                let body = http.body(resp).await.map_err(|e| e.to_string())?;
                serde_json::from_slice::<ProviderMetadata>(&body)
                    .map(Arc::new)
                    .map_err(|e| format!("bad discovery document: {e}"))
            })
            .await
            .map_err(|e: Arc<String>| {
                tracing::warn!(discovery = %idp.discovery_url, error = %e, "IdP discovery failed");
                AuthError::IdpUnavailable(format!("discovery: {e}"))
            })
    }

    pub async fn jwks_uri(&self, idp: &IdpSpec) -> Result<String, AuthError> {
        if let Some(u) = &idp.jwks_uri {
            return Ok(u.clone());
        }
        if idp.kind == IdpKind::Cognito {
            return Ok(format!(
                "{}/.well-known/jwks.json",
                idp.issuer.trim_end_matches('/')
            ));
        }
        self.metadata(idp)
            .await?
            .jwks_uri
            .clone()
            .ok_or_else(|| AuthError::IdpUnavailable("discovery document has no jwks_uri".into()))
    }

    pub async fn endpoints(&self, idp: &IdpSpec) -> Result<Endpoints, AuthError> {
        if let (Some(a), Some(t)) = (&idp.authorization_endpoint, &idp.token_endpoint) {
            return Ok(Endpoints {
                authorization: a.clone(),
                token: t.clone(),
                end_session: idp.end_session_endpoint.clone(),
            });
        }
        let m = self.metadata(idp).await?;
        let missing =
            |what: &str| AuthError::IdpUnavailable(format!("discovery document has no {what}"));
        Ok(Endpoints {
            authorization: idp
                .authorization_endpoint
                .clone()
                .or_else(|| m.authorization_endpoint.clone())
                .ok_or_else(|| missing("authorization_endpoint"))?,
            token: idp
                .token_endpoint
                .clone()
                .or_else(|| m.token_endpoint.clone())
                .ok_or_else(|| missing("token_endpoint"))?,
            end_session: idp
                .end_session_endpoint
                .clone()
                .or_else(|| m.end_session_endpoint.clone()),
        })
    }
}
