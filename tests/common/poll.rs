//! Waiting for a condition: poll a probe until it holds, up to a deadline. A probe answers
//! `Ok(value)` once the condition holds, or `Err(observation)`: what it saw instead, which the
//! panic at the deadline shows (JSON values pretty-printed). A probe may also panic itself to
//! fail early (a process that exited will never start listening).

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// Pause between two probes of [`eventually`] (HTTP requests to the processes under test).
pub const POLL_EVERY: Duration = Duration::from_millis(100);
/// Pause between two probes of [`eventually_blocking`] (cheap local checks).
pub const POLL_EVERY_BLOCKING: Duration = Duration::from_millis(50);

/// Polls `probe` until it answers `Ok`, and returns the value; panics with `what` and the last
/// observation when `within` has passed.
pub async fn eventually<T, E, Fut>(what: &str, within: Duration, probe: impl FnMut() -> Fut) -> T
where
    E: Display,
    Fut: Future<Output = Result<T, E>>,
{
    eventually_with_log(what, within, String::new, probe).await
}

/// [`eventually`], with `log()` (the processes' logs) appended to the panic message.
pub async fn eventually_with_log<T, E, Fut>(
    what: &str,
    within: Duration,
    log: impl FnOnce() -> String,
    mut probe: impl FnMut() -> Fut,
) -> T
where
    E: Display,
    Fut: Future<Output = Result<T, E>>,
{
    let start = Instant::now();
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(seen) if start.elapsed() >= within => timed_out(what, within, seen, log()),
            Err(_) => tokio::time::sleep(POLL_EVERY).await,
        }
    }
}

/// The blocking twin of [`eventually`], for code outside an async runtime.
pub fn eventually_blocking<T, E: Display>(
    what: &str,
    within: Duration,
    probe: impl FnMut() -> Result<T, E>,
) -> T {
    eventually_blocking_with_log(what, within, String::new, probe)
}

/// The blocking twin of [`eventually_with_log`].
pub fn eventually_blocking_with_log<T, E: Display>(
    what: &str,
    within: Duration,
    log: impl FnOnce() -> String,
    mut probe: impl FnMut() -> Result<T, E>,
) -> T {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(v) => return v,
            Err(seen) if start.elapsed() >= within => timed_out(what, within, seen, log()),
            Err(_) => std::thread::sleep(POLL_EVERY_BLOCKING),
        }
    }
}

fn timed_out(what: &str, within: Duration, seen: impl Display, log: String) -> ! {
    let log = if log.is_empty() {
        log
    } else {
        format!("\n{log}")
    };
    panic!("{what}: not within {within:?}; last seen: {seen:#}{log}")
}
