//! Structured access log: one JSON line per request. Like nginx's `access_log ... buffer=
//! flush=`, request threads append formatted lines to one shared buffer (a short lock, no
//! allocation once warm) and a writer thread writes it out in batches: when 64 KiB are
//! waiting or every 100 ms. Lines are dropped, never waited for, if the writer falls behind by
//! more than 8 MiB. Paths are logged without their query string, which can carry codes and
//! tokens.

use crate::config::AccessLogTarget;
use serde::Serialize;
use std::cell::RefCell;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Lines waiting past this wake the writer at once.
const BATCH: usize = 64 * 1024;
/// The longest a line waits in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Past this much waiting, new lines are dropped (and counted) instead of growing memory.
const MAX_PENDING: usize = 8 * 1024 * 1024;

/// One access-log line.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub ts: &'a str,
    pub request_id: &'a str,
    pub tenant_id: Option<&'a str>,
    pub tenant: Option<&'a str>,
    pub route: Option<&'a str>,
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub proto: &'static str,
    pub status: u16,
    pub latency_ms: f64,
    pub upstream: Option<SocketAddr>,
    pub attempts: usize,
    pub client_ip: Option<IpAddr>,
    pub error: Option<&'static str>,
}

/// The lines waiting for the writer thread.
struct Pending {
    lines: Mutex<Vec<u8>>,
    /// Signalled when a batch is full.
    full: Condvar,
}

/// Where access-log lines go; cheap to clone.
#[derive(Clone)]
pub struct AccessLog {
    pending: Option<Arc<Pending>>,
}

thread_local! {
    /// Each request thread formats into its own reused buffer before taking the lock.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
}

impl AccessLog {
    pub fn open(target: &AccessLogTarget) -> std::io::Result<Self> {
        let out: Box<dyn Write + Send> = match target {
            AccessLogTarget::Off => return Ok(Self::off()),
            AccessLogTarget::Stdout => Box::new(std::io::stdout()),
            AccessLogTarget::File(path) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
        };
        let pending = Arc::new(Pending {
            lines: Mutex::new(Vec::with_capacity(2 * BATCH)),
            full: Condvar::new(),
        });
        let theirs = pending.clone();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_batches(&theirs, out))?;
        Ok(Self {
            pending: Some(pending),
        })
    }

    pub fn off() -> Self {
        Self { pending: None }
    }

    pub fn enabled(&self) -> bool {
        self.pending.is_some()
    }

    pub fn write(&self, entry: &Entry<'_>) {
        let Some(p) = &self.pending else { return };
        SCRATCH.with(|scratch| {
            let mut line = scratch.borrow_mut();
            line.clear();
            if serde_json::to_writer(&mut *line, entry).is_err() {
                return;
            }
            line.push(b'\n');
            let Ok(mut lines) = p.lines.lock() else {
                return;
            };
            if lines.len() + line.len() > MAX_PENDING {
                crate::metrics::METRICS.access_log_dropped.inc();
                return;
            }
            lines.extend_from_slice(&line);
            if lines.len() >= BATCH {
                p.full.notify_one();
            }
        });
    }
}

/// The writer thread: every `FLUSH_EVERY`, or sooner when a batch is full, takes what is
/// waiting and writes it in one go.
fn write_batches(p: &Pending, mut out: Box<dyn Write + Send>) {
    let mut batch = Vec::with_capacity(2 * BATCH);
    loop {
        {
            let Ok(mut lines) = p.lines.lock() else {
                return;
            };
            if lines.len() < BATCH {
                lines = match p.full.wait_timeout(lines, FLUSH_EVERY) {
                    Ok((l, _)) => l,
                    Err(_) => return,
                };
            }
            std::mem::swap(&mut *lines, &mut batch);
        }
        if !batch.is_empty() {
            if let Err(e) = out.write_all(&batch).and_then(|()| out.flush()) {
                tracing::warn!(error = %e, "cannot write the access log");
            }
            batch.clear();
        }
    }
}

thread_local! {
    /// The last timestamp this thread formatted and its millisecond: a busy thread formats
    /// once per millisecond, not once per request.
    static LAST_TS: RefCell<(u128, Arc<str>)> = RefCell::new((u128::MAX, Arc::from("")));
}

/// Now, RFC 3339 with milliseconds (UTC).
pub fn now_rfc3339() -> Arc<str> {
    let now = std::time::SystemTime::now();
    let millis = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    LAST_TS.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != millis {
            *last = (
                millis,
                Arc::from(humantime::format_rfc3339_millis(now).to_string()),
            );
        }
        last.1.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_millis_and_current() {
        let before = std::time::SystemTime::now();
        let ts = now_rfc3339();
        let parsed = humantime::parse_rfc3339(&ts).expect("RFC 3339");
        assert_eq!(ts.len(), "2026-11-30T03:17:54.123Z".len(), "{ts}");
        let skew = parsed
            .duration_since(before)
            .unwrap_or_else(|e| e.duration());
        assert!(skew < Duration::from_millis(5), "{ts}");
        // A later millisecond gets a new value.
        std::thread::sleep(Duration::from_millis(3));
        assert_ne!(now_rfc3339(), ts);
    }
}
