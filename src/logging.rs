//! The gateway's own logs: JSON lines on stderr, filtered by `logging.level` or `RUST_LOG`.
//! Pingora reports a client that sends a broken request head, or resets its connection while
//! sending one, as an ERROR; those are the client's errors, not the gateway's, so they are
//! not logged at all (Pingora's own DEBUG lines for them remain; a head Pingora refuses gets
//! its 400 and the connection is closed).

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Installs the global subscriber.
pub fn init(level: &str) {
    init_with(level, None);
}

/// [`init`] in a chosen format: `json` `None` writes readable lines when stderr is a
/// terminal (someone is watching) and JSON otherwise (a log collector is).
pub fn init_with(level: &str, json: Option<bool>) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = json.unwrap_or_else(|| !std::io::stderr().is_terminal());
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(ClientErrors);
    if json {
        let fmt = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr);
        registry.with(fmt).init();
    } else {
        let fmt = tracing_subscriber::fmt::layer()
            .compact()
            .with_writer(std::io::stderr);
        registry.with(fmt).init();
    }
}

/// Messages Pingora logs at ERROR for what a client did before its request was read.
const CLIENT_CAUSED: [&str; 2] = [
    "Fail to proxy: Downstream",
    "failed to send error response to downstream",
];

/// True for an ERROR event from Pingora's proxy that a client caused.
pub fn is_client_caused(target: &str, message: &str) -> bool {
    target.starts_with("pingora_proxy") && CLIENT_CAUSED.iter().any(|p| message.starts_with(p))
}

/// Drops client-caused Pingora ERROR events.
struct ClientErrors;

#[derive(Default)]
struct Fields {
    message: String,
    target: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "log.target" => self.target = value.to_string(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "log.target" => self.target = format!("{value:?}"),
            _ => {}
        }
    }
}

impl<S: Subscriber> Layer<S> for ClientErrors {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        if *event.metadata().level() != Level::ERROR {
            return true;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let target = if f.target.is_empty() {
            event.metadata().target()
        } else {
            f.target.as_str()
        };
        !is_client_caused(target, &f.message)
    }
}

#[cfg(test)]
#[path = "logging_tests.rs"]
mod tests;
