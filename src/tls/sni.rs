//! Keeps the SNI of each TLS connection so the proxy can compare it with the request's Host
//! (a request for another tenant than the certificate was chosen for gets 421).

use async_trait::async_trait;
use pingora::listeners::TlsAccept;
use pingora::protocols::tls::TlsRef;
use std::any::Any;
use std::sync::Arc;

/// The server name a client asked for in its ClientHello.
#[derive(Debug, Clone)]
pub struct Sni(pub String);

/// Stores the SNI in the connection's TLS digest after every handshake.
pub struct SniCapture;

#[async_trait]
impl TlsAccept for SniCapture {
    async fn handshake_complete_callback(
        &self,
        tls: &TlsRef,
    ) -> Option<Arc<dyn Any + Send + Sync>> {
        tls.server_name()
            .map(|s| Arc::new(Sni(s.to_ascii_lowercase())) as Arc<dyn Any + Send + Sync>)
    }
}
