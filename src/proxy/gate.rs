//! The first bytes of every plain connection (and of each request on it), read before Pingora
//! parses anything. Pingora's own h2c check reads exactly the 24 bytes of the HTTP/2 preface
//! with no timeout, so a client that sends fewer (an HTTP/0.9 line, a short garbage line)
//! holds its connection forever without an answer; and its HTTP/1 parser re-encodes a request
//! line with spaces or control characters in the target instead of refusing it. This gate
//! reads until it can decide (within a deadline), puts the bytes back, and hands the
//! connection to the HTTP/1 or HTTP/2 instance of the proxy, or answers a malformed or
//! oversized request line itself (400/414, JSON, connection closed).

use super::{Answer, Reject};
use crate::metrics::METRICS;
use crate::runtime::RuntimeHandle;
use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes of a connection or request say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// The HTTP/2 connection preface (h2c on).
    H2,
    /// A well-formed HTTP/1 request line.
    H1,
    /// Refused before parsing: answered here and closed.
    Refuse(Reject),
    /// Nothing arrived before the deadline, or the client closed: drop the connection.
    Nothing,
}

/// Decides from what has been read so far; `None` while more bytes are needed.
pub fn classify(seen: &[u8], h2c: bool, max_line: usize) -> Option<Sniffed> {
    if h2c {
        let n = seen.len().min(PREFACE.len());
        if seen[..n] == PREFACE[..n] {
            return (n == PREFACE.len()).then_some(Sniffed::H2);
        }
    }
    // Empty lines before a request line are allowed (RFC 9112 2.2).
    let start = seen
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(seen.len());
    let rest = &seen[start..];
    match rest.iter().position(|&b| b == b'\n') {
        // The line's length without its CRLF, as `limits.max_request_line_bytes` counts it.
        Some(end) if end - usize::from(end > 0 && rest[end - 1] == b'\r') > max_line => {
            Some(Sniffed::Refuse(Reject::UriTooLong))
        }
        Some(end) => Some(request_line(&rest[..end])),
        None if rest.len() > max_line + 1 => Some(Sniffed::Refuse(Reject::UriTooLong)),
        None => None,
    }
}

/// `METHOD SP request-target SP HTTP/1.x`, with nothing else: no HTTP/0.9 lines, no spaces
/// or control characters inside the target.
fn request_line(line: &[u8]) -> Sniffed {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Sniffed::Refuse(Reject::InvalidRequest("malformed_request_line"));
    };
    let method_ok = !method.is_empty()
        && method
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b));
    let target_ok = !target.is_empty() && target.iter().all(|&b| b > 0x20 && b != 0x7f);
    let version_ok = version == b"HTTP/1.1" || version == b"HTTP/1.0";
    if method_ok && target_ok && version_ok {
        Sniffed::H1
    } else {
        Sniffed::Refuse(Reject::InvalidRequest("malformed_request_line"))
    }
}

/// A [`ServerApp`] that sends each plain connection to `h1` or, when h2c is on, `h2`.
pub struct ConnectionGate<A> {
    h1: Arc<A>,
    h2: Option<Arc<A>>,
    /// Where the request-line limit comes from (it changes on reload).
    runtime: RuntimeHandle,
    /// How long a new (or idle keep-alive) connection may take to send its first line.
    deadline: Duration,
    /// How long idle keep-alive connections stay open once the listener drains.
    keepalive_drain: Duration,
}

impl<A> ConnectionGate<A> {
    /// `h2`: the instance for HTTP/2 by prior knowledge; `None` serves HTTP/1 only.
    pub fn new(h1: A, h2: Option<A>, runtime: RuntimeHandle, deadline: Duration) -> Self {
        Self {
            h1: Arc::new(h1),
            h2: h2.map(Arc::new),
            runtime,
            deadline,
            keepalive_drain: Duration::ZERO,
        }
    }

    /// Keeps idle keep-alive connections open for `d` once draining starts, so that a client
    /// sending on one meanwhile is answered (with `Connection: close`) rather than reset.
    pub fn with_keepalive_drain(mut self, d: Duration) -> Self {
        self.keepalive_drain = d;
        self
    }
}

/// Set once a listener starts draining (process-wide: a drain is the whole process's).
static DRAINING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process has started draining (its listeners are closed): every HTTP/1
/// response then ends its connection.
pub fn draining() -> bool {
    DRAINING.load(std::sync::atomic::Ordering::Acquire)
}

/// The end of a listener's drain: idle keep-alive connections stay open for `d` (a request
/// arriving on one is served and closes it: Pingora turns keep-alive off once shutdown is
/// signalled, and the proxy answers `Connection: close`), then the apps close what is left.
pub async fn drain_keepalive(d: Duration) {
    DRAINING.store(true, std::sync::atomic::Ordering::Release);
    if !d.is_zero() {
        tracing::info!(
            ms = d.as_millis() as u64,
            "draining: idle keep-alive connections stay open until they send one more request or the drain ends"
        );
        tokio::time::sleep(d).await;
    }
}

async fn sniff(stream: &mut L4Stream, h2c: bool, max_line: usize, deadline: Duration) -> Sniffed {
    // Room for the request line, its CRLF and a few leading empty lines; most requests fit
    // in the first allocation.
    let cap = max_line + 8;
    let mut buf = bytes::BytesMut::with_capacity(cap.min(2048));
    let read_all = async {
        loop {
            if buf.len() >= cap {
                return Some(Sniffed::Refuse(Reject::UriTooLong));
            }
            if buf.len() == buf.capacity() {
                buf.reserve((cap - buf.len()).min(buf.len().max(1024)));
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            if let Some(s) = classify(&buf, h2c, max_line) {
                return Some(s);
            }
        }
    };
    let verdict = match tokio::time::timeout(deadline, read_all).await {
        Ok(Some(s)) => s,
        // A partial line at the deadline or before the client closed: HTTP/1 answers it.
        Ok(None) | Err(_) if !buf.is_empty() => Sniffed::H1,
        Ok(None) | Err(_) => Sniffed::Nothing,
    };
    stream.rewind(&buf);
    verdict
}

/// Writes a refusal straight to the connection, which is then closed.
async fn refuse(stream: &mut L4Stream, r: Reject) {
    let answer = Answer::from(r);
    let id = uuid::Uuid::new_v4().to_string();
    let request_id =
        http::HeaderValue::from_str(&id).unwrap_or(http::HeaderValue::from_static("-"));
    let body = answer.json(&request_id);
    let reason = http::StatusCode::from_u16(r.status())
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Bad Request");
    let head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\nx-request-id: {id}\r\n\r\n",
        r.status(),
        body.len()
    );
    METRICS
        .rejected
        .with_label_values(&[r.reason().unwrap_or(r.code())])
        .inc();
    tracing::debug!(
        reason = r.reason().unwrap_or(r.code()),
        "refused a request line"
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for ConnectionGate<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        if !stream.as_any().is::<L4Stream>() {
            return self.h1.process_new(stream, shutdown).await;
        }
        let mut l4: Box<L4Stream> = stream.into_any().downcast().ok()?;
        let max_line = self.runtime.load().routing.request.max_request_line_bytes;
        match sniff(&mut l4, self.h2.is_some(), max_line, self.deadline).await {
            Sniffed::H2 => match &self.h2 {
                Some(h2) => h2.process_new(l4, shutdown).await,
                None => None,
            },
            Sniffed::H1 => self.h1.process_new(l4, shutdown).await,
            Sniffed::Refuse(r) => {
                refuse(&mut l4, r).await;
                None
            }
            Sniffed::Nothing => None,
        }
    }

    async fn cleanup(&self) {
        drain_keepalive(self.keepalive_drain).await;
        self.h1.cleanup().await;
        if let Some(h2) = &self.h2 {
            h2.cleanup().await;
        }
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
