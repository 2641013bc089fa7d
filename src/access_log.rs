//! Structured access log: one JSON line per request, written by a background thread so the
//! request path only formats and enqueues (lines are dropped, not waited for, if it falls
//! behind). Paths are logged without their query string, which can carry codes and tokens.

use crate::config::AccessLogTarget;
use serde::Serialize;
use std::io::Write;
use std::sync::Arc;
use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};

/// One access-log line.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub ts: String,
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
    pub upstream: Option<String>,
    pub attempts: usize,
    pub client_ip: Option<String>,
    pub error: Option<&'static str>,
}

/// Where access-log lines go; cheap to clone.
#[derive(Clone)]
pub struct AccessLog {
    writer: Option<NonBlocking>,
    _guard: Option<Arc<WorkerGuard>>,
}

impl AccessLog {
    pub fn open(target: &AccessLogTarget) -> std::io::Result<Self> {
        let (writer, guard) = match target {
            AccessLogTarget::Off => return Ok(Self::off()),
            // Buffered: the writer thread drains a batch of lines, then flushes once.
            AccessLogTarget::Stdout => tracing_appender::non_blocking(
                std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
            ),
            AccessLogTarget::File(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                tracing_appender::non_blocking(std::io::BufWriter::with_capacity(64 * 1024, file))
            }
        };
        Ok(Self {
            writer: Some(writer),
            _guard: Some(Arc::new(guard)),
        })
    }

    pub fn off() -> Self {
        Self {
            writer: None,
            _guard: None,
        }
    }

    pub fn enabled(&self) -> bool {
        self.writer.is_some()
    }

    pub fn write(&self, entry: &Entry<'_>) {
        let Some(w) = &self.writer else { return };
        let Ok(mut line) = serde_json::to_vec(entry) else {
            return;
        };
        line.push(b'\n');
        let _ = w.clone().write_all(&line);
    }
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
