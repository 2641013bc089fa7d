//! TLS-related answers on the request path: HTTP-01 challenges and HTTPS redirects on the
//! plain listener, and the Host/SNI check (421) on the TLS listener.

use super::{Answer, GatewayProxy, Reject, RequestCtx};
use crate::tenant::{Snapshot, Tenant};
use crate::tls::challenges::CHALLENGE_PREFIX;
use crate::tls::sni::Sni;
use pingora::proxy::Session;

/// The answer to `/.well-known/acme-challenge/<token>` on the plain listener, if that is what
/// the request asks for.
pub(super) async fn acme_challenge(
    gw: &GatewayProxy,
    session: &Session,
    ctx: &RequestCtx,
) -> Option<Answer> {
    let challenges = gw.challenges.as_ref()?;
    let path = ctx.target.path(session.req_header());
    if !path.starts_with(CHALLENGE_PREFIX) {
        return None;
    }
    Some(match challenges.answer_any(path).await {
        Some(key_auth) => Answer::text(200, "acme_challenge", key_auth),
        None => Reject::UnknownChallenge.into(),
    })
}

/// 308 to the same (canonical) URL on HTTPS.
pub(super) fn redirect_to_https(session: &Session, ctx: &RequestCtx, port: u16) -> Answer {
    let req = session.req_header();
    let host = crate::host::normalize(super::raw_host(req))
        .map(|h| h.into_owned())
        .unwrap_or_default();
    let path = ctx.target.path(req);
    let query = ctx
        .target
        .query(req)
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let location = if port == 443 {
        format!("https://{host}{path}{query}")
    } else {
        format!("https://{host}:{port}{path}{query}")
    };
    Answer::redirect(308, "https_redirect", &location)
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
