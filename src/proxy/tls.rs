//! TLS-related answers on the request path: HTTP-01 challenges and HTTPS redirects on the
//! plain listener, and the Host/SNI check (421) on the TLS listener.

use super::{GatewayProxy, Reject, RequestCtx};
use crate::tenant::{Snapshot, Tenant};
use crate::tls::challenges::CHALLENGE_PREFIX;
use crate::tls::sni::Sni;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;

/// Answers `/.well-known/acme-challenge/<token>` on the plain listener. `Ok(true)`: answered.
pub(super) async fn acme_challenge(
    gw: &GatewayProxy,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> Result<bool> {
    let Some(challenges) = &gw.challenges else {
        return Ok(false);
    };
    let path = session.req_header().uri.path().to_string();
    if !path.starts_with(CHALLENGE_PREFIX) {
        return Ok(false);
    }
    match challenges.answer_any(&path).await {
        Some(key_auth) => {
            ctx.reject = Some("acme_challenge");
            let mut resp = ResponseHeader::build(200, Some(3))?;
            resp.insert_header(http::header::CONTENT_TYPE, "text/plain")?;
            resp.insert_header(http::header::CONTENT_LENGTH, key_auth.len().to_string())?;
            resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
            session.write_response_header(Box::new(resp), false).await?;
            session
                .write_response_body(Some(key_auth.into()), true)
                .await?;
            Ok(true)
        }
        None => gw.reject(session, ctx, Reject::UnknownChallenge).await,
    }
}

/// 308 to the same URL on HTTPS.
pub(super) async fn redirect_to_https(
    session: &mut Session,
    ctx: &mut RequestCtx,
    port: u16,
) -> Result<bool> {
    let req = session.req_header();
    let host = crate::host::normalize(super::raw_host(req))
        .map(|h| h.into_owned())
        .unwrap_or_default();
    let pq = req.uri.path_and_query().map_or("/", |p| p.as_str());
    let location = if port == 443 {
        format!("https://{host}{pq}")
    } else {
        format!("https://{host}:{port}{pq}")
    };
    ctx.reject = Some("https_redirect");
    let mut resp = ResponseHeader::build(308, Some(3))?;
    resp.insert_header(http::header::LOCATION, location)?;
    resp.insert_header(http::header::CONTENT_LENGTH, "0")?;
    resp.insert_header("x-request-id", ctx.request_id.clone())?;
    session.write_response_header(Box::new(resp), true).await?;
    Ok(true)
}

/// True when the connection's SNI names a host served for another tenant (or none) than the
/// request's Host: the certificate was chosen for someone else.
pub(super) fn misdirected(session: &Session, snapshot: &Snapshot, tenant: &Tenant) -> bool {
    let sni = session
        .digest()
        .and_then(|d| d.ssl_digest.as_ref())
        .and_then(|s| s.extension.get::<Sni>().cloned());
    let Some(Sni(sni)) = sni else { return false };
    let host = crate::host::normalize(super::raw_host(session.req_header()));
    if host.as_deref().is_ok_and(|h| h == sni) {
        return false;
    }
    match snapshot.resolve(sni.as_bytes(), "/") {
        Ok(r) => r.tenant.id != tenant.id,
        Err(_) => true,
    }
}
