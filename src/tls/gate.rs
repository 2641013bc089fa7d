//! The HTTPS listener's first step. Pingora's TLS listener negotiates one ALPN list (h2,
//! http/1.1), and rustls refuses a ClientHello whose ALPN offers nothing the server lists, so
//! it could never answer a TLS-ALPN-01 validation (`acme-tls/1`). The HTTPS listeners are
//! therefore plain TCP listeners served by [`TlsGate`]: it reads the ClientHello (bounded, with
//! a deadline) without consuming it, puts the bytes back, and then either
//! * completes an `acme-tls/1`-only handshake with the challenge certificate of a pending
//!   order for the SNI, and closes (no pending challenge: closed without a handshake), or
//! * runs the listener's usual handshake (certificate by SNI, h2/http1.1 by ALPN, the SNI kept
//!   for the Host check) and hands the TLS stream to the HTTP proxy, as Pingora's TLS listener
//!   would.

use super::alpn::{AlpnChallenges, ACME_TLS_ALPN};
use super::resolver::CertResolver;
use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::listeners::tls::Acceptor;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The most ClientHello bytes read before giving up (a real one is well under 4 KiB, even with
/// post-quantum key shares).
pub const MAX_HELLO_BYTES: usize = 16 * 1024;
/// How long a new connection may take to send its ClientHello.
const HELLO_DEADLINE: Duration = Duration::from_secs(10);
/// How long the handshake may take after that (Pingora's own TLS listener allows 60 s).
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(60);

/// What the first bytes of a connection say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hello {
    /// A complete ClientHello offering exactly `acme-tls/1`: a TLS-ALPN-01 validation for
    /// this SNI (None without one).
    AcmeTlsAlpn(Option<String>),
    /// Any other complete ClientHello, with its SNI: the usual handshake.
    Regular(Option<String>),
    /// Not a ClientHello, or one that is malformed or too large: close.
    Refuse,
}

/// Decides from what has been read so far; `None` while more bytes are needed. Never
/// consumes anything: the caller keeps the bytes for the handshake.
pub fn inspect(seen: &[u8]) -> Option<Hello> {
    // A TLS handshake record first (rustls would also take nothing else).
    if let Some(&t) = seen.first() {
        if t != 0x16 {
            return Some(Hello::Refuse);
        }
    }
    if seen.len() > MAX_HELLO_BYTES {
        return Some(Hello::Refuse);
    }
    let mut acceptor = rustls::server::Acceptor::default();
    let mut rest = seen;
    while !rest.is_empty() {
        match acceptor.read_tls(&mut rest) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => return Some(Hello::Refuse),
        }
        match acceptor.accept() {
            Ok(Some(accepted)) => {
                let hello = accepted.client_hello();
                let offers_acme = hello
                    .alpn()
                    .map(|mut protos| {
                        protos.next() == Some(ACME_TLS_ALPN) && protos.next().is_none()
                    })
                    .unwrap_or(false);
                let sni = hello.server_name().map(str::to_ascii_lowercase);
                return Some(if offers_acme {
                    Hello::AcmeTlsAlpn(sni)
                } else {
                    Hello::Regular(sni)
                });
            }
            Ok(None) => {}
            Err(_) => return Some(Hello::Refuse),
        }
    }
    (seen.len() >= MAX_HELLO_BYTES).then_some(Hello::Refuse)
}

/// A [`ServerApp`] for the HTTPS listeners, in front of the HTTP proxy app `A`.
pub struct TlsGate<A> {
    app: Arc<A>,
    resolver: Arc<CertResolver>,
    /// The listener's handshake: certificate resolver, SNI capture, h2/http1.1 by ALPN.
    acceptor: Acceptor,
    challenges: Arc<AlpnChallenges>,
    /// How long idle keep-alive connections stay open once the listener drains.
    keepalive_drain: Duration,
}

impl<A> TlsGate<A> {
    pub fn new(
        app: A,
        acceptor: Acceptor,
        challenges: Arc<AlpnChallenges>,
        resolver: Arc<CertResolver>,
    ) -> Self {
        Self {
            app: Arc::new(app),
            resolver,
            acceptor,
            challenges,
            keepalive_drain: Duration::ZERO,
        }
    }

    /// See [`crate::proxy::gate::ConnectionGate::with_keepalive_drain`].
    pub fn with_keepalive_drain(mut self, d: Duration) -> Self {
        self.keepalive_drain = d;
        self
    }
}

async fn read_hello(stream: &mut L4Stream) -> Hello {
    let mut buf = bytes::BytesMut::with_capacity(2048);
    let read_all = async {
        loop {
            if buf.len() == buf.capacity() {
                buf.reserve(4096);
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return Hello::Refuse,
                Ok(_) => {}
            }
            if let Some(h) = inspect(&buf) {
                return h;
            }
        }
    };
    let verdict = tokio::time::timeout(HELLO_DEADLINE, read_all)
        .await
        .unwrap_or(Hello::Refuse);
    stream.rewind(&buf);
    verdict
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for TlsGate<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // Only the plain TCP/UDS streams of this service's own listeners arrive here.
        let mut l4: Box<L4Stream> = stream.into_any().downcast().ok()?;
        match read_hello(&mut l4).await {
            Hello::Refuse => {
                tracing::debug!("closed a TLS connection: no valid ClientHello");
                None
            }
            Hello::AcmeTlsAlpn(sni) => {
                let config = match &sni {
                    Some(host) => self.challenges.config_for(host).await,
                    None => None,
                };
                let Some(config) = config else {
                    tracing::debug!(sni = ?sni, "acme-tls/1 without a pending challenge: closed");
                    return None;
                };
                let acceptor = Acceptor::from_server_config(config);
                match tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.tls_handshake(*l4)).await {
                    Ok(Ok(mut tls)) => {
                        tracing::info!(sni = ?sni, "answered a TLS-ALPN-01 validation");
                        let _ = tls.flush().await;
                        let _ = tls.shutdown().await;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(sni = ?sni, error = %e, "TLS-ALPN-01 handshake failed")
                    }
                    Err(_) => tracing::debug!(sni = ?sni, "TLS-ALPN-01 handshake timed out"),
                }
                None
            }
            Hello::Regular(sni) => {
                // A stored certificate is loaded before rustls asks for it, within the
                // handshake's deadline.
                let handshake = async {
                    let prepared = match &sni {
                        Some(sni) => self.resolver.prepare(sni).await,
                        None => None,
                    };
                    CertResolver::with_prepared(prepared, self.acceptor.tls_handshake(*l4)).await
                };
                let tls = match tokio::time::timeout(HANDSHAKE_DEADLINE, handshake).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        return None;
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake timed out");
                        return None;
                    }
                };
                self.app.process_new(Box::new(tls), shutdown).await
            }
        }
    }

    async fn cleanup(&self) {
        crate::proxy::gate::drain_keepalive(self.keepalive_drain).await;
        self.app.cleanup().await;
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
