//! Validation of TLS settings: HTTPS listeners, certificate files, ACME, and which hosts are
//! redirected from HTTP to HTTPS.

use super::file::{BaseDomainFile, TlsFile, UnknownSniFile};
use super::model::{AcmeChallenge, AcmeConfig, HttpsRedirect, TlsConfig};
use super::validate::relative_to;
use super::validate_auth::Scope;
use std::net::SocketAddr;

/// `None` when there is no HTTPS listener (then `tls` settings other than defaults are an error).
pub(super) fn tls(
    s: &mut Scope,
    https: &[String],
    t: &TlsFile,
    bases: &[BaseDomainFile],
) -> Option<TlsConfig> {
    for (i, l) in https.iter().enumerate() {
        if l.parse::<SocketAddr>().is_err() {
            s.err(
                format!("listeners.https[{i}]"),
                format!("{l:?} is not an ip:port address"),
            );
        }
    }
    for (i, b) in bases.iter().enumerate() {
        if b.acme_challenge.is_some() && t.acme.is_none() {
            s.err(
                format!("base_domains[{i}].acme_challenge"),
                "set without tls.acme",
            );
        }
    }
    if https.is_empty() {
        let alpn = t
            .acme
            .as_ref()
            .is_some_and(|a| a.challenge == AcmeChallenge::TlsAlpn01)
            || bases
                .iter()
                .any(|b| b.acme_challenge == Some(AcmeChallenge::TlsAlpn01));
        if alpn {
            s.err(
                "tls.acme.challenge",
                "tls-alpn-01 is answered on the HTTPS listener: listeners.https is empty",
            );
        } else if !t.certificates.is_empty() || t.acme.is_some() {
            s.err(
                "tls",
                "certificates or acme are set but listeners.https is empty",
            );
        }
        return None;
    }
    let Some(dir) = &t.certs_dir else {
        s.err(
            "tls.certs_dir",
            "required with HTTPS listeners (where issued certificates are kept)",
        );
        return None;
    };
    let mut certificates = Vec::new();
    for (i, c) in t.certificates.iter().enumerate() {
        let (cert, key) = (relative_to(s.file, &c.cert), relative_to(s.file, &c.key));
        for (what, p) in [("cert", &cert), ("key", &key)] {
            if !p.is_file() {
                s.err(
                    format!("tls.certificates[{i}].{what}"),
                    format!("{} does not exist", p.display()),
                );
            }
        }
        certificates.push((cert, key));
    }
    if t.unknown_sni == UnknownSniFile::Default && certificates.is_empty() {
        s.err(
            "tls.unknown_sni",
            "`default` needs at least one entry in tls.certificates",
        );
    }
    let acme = t.acme.as_ref().map(|a| {
        if url::Url::parse(&a.directory_url).map_or(true, |u| u.scheme() != "https") {
            s.err(
                "tls.acme.directory_url",
                format!("{:?} is not an https URL", a.directory_url),
            );
        }
        if !(0.0..1.0).contains(&a.renew_when_remaining) || a.renew_when_remaining == 0.0 {
            s.err(
                "tls.acme.renew_when_remaining",
                "a fraction of the lifetime, between 0 and 1",
            );
        }
        for (i, c) in a.contact.iter().enumerate() {
            if !c.starts_with("mailto:") {
                s.err(
                    format!("tls.acme.contact[{i}]"),
                    "contacts are mailto: URLs",
                );
            }
        }
        let ca_file = a.ca_file.as_ref().map(|p| relative_to(s.file, p));
        if let Some(p) = &ca_file {
            if !p.is_file() {
                s.err(
                    "tls.acme.ca_file",
                    format!("{} does not exist", p.display()),
                );
            }
        }
        if a.retry_min.is_zero() || a.retry_max < a.retry_min {
            s.err(
                "tls.acme.retry_min",
                "retry_min must be > 0 and not above retry_max",
            );
        }
        AcmeConfig {
            directory_url: a.directory_url.clone(),
            contact: a.contact.clone(),
            ca_file,
            renew_when_remaining: a.renew_when_remaining,
            retry_min: a.retry_min,
            retry_max: a.retry_max,
            check_interval: a.check_interval,
            challenge: a.challenge,
            base_domain_challenges: bases
                .iter()
                .filter_map(|b| Some((b.domain.to_ascii_lowercase(), b.acme_challenge?)))
                .collect(),
        }
    });
    Some(TlsConfig {
        certs_dir: relative_to(s.file, dir),
        certificates,
        unknown_sni_default: t.unknown_sni == UnknownSniFile::Default,
        acme,
        certificate_cache_bytes: t.certificate_cache_mib.max(1) << 20,
    })
}

/// Which hosts redirect to HTTPS: by default all of them once an HTTPS listener exists.
pub(super) fn redirect(
    https: &[String],
    t: &TlsFile,
    bases: &[BaseDomainFile],
) -> Option<HttpsRedirect> {
    let first = https.first()?.parse::<SocketAddr>().ok()?;
    let global = t.redirect_http.unwrap_or(true);
    let base_domains: Vec<bool> = bases
        .iter()
        .map(|b| b.redirect_http.unwrap_or(global))
        .collect();
    if !global && !base_domains.iter().any(|b| *b) {
        return None;
    }
    Some(HttpsRedirect {
        port: t.https_port.unwrap_or(first.port()),
        base_domains,
        custom_domains: global,
    })
}
