//! Reload work yields the CPU to requests: the threads that parse, validate, write and free
//! configuration versions run at a lower scheduling priority (a higher nice value) than the
//! proxy workers. On Linux the nice value is a thread's own, and threads these threads start
//! inherit it.

use std::cell::Cell;

/// How much nicer than the process (its main thread) a background thread is.
const NICER_BY: i32 = 10;

thread_local! {
    static LOWERED: Cell<bool> = const { Cell::new(false) };
}

/// Lowers the calling thread's priority (once per thread; never raises it). Call it first
/// in a blocking task or thread that does reload work.
pub fn background() {
    if LOWERED.with(|l| l.replace(true)) {
        return;
    }
    // Relative to the main thread, not to the caller: a background thread started by another
    // is as nice as it, no nicer. `None`: the calling thread. Raising a nice value needs no
    // privilege.
    use rustix::process::{getpid, getpriority_process, setpriority_process};
    let lowered = getpriority_process(Some(getpid())).and_then(|base| {
        let target = (base + NICER_BY).min(19);
        match getpriority_process(None)? {
            now if now < target => setpriority_process(None, target),
            _ => Ok(()),
        }
    });
    if let Err(e) = lowered {
        tracing::debug!(error = %e, "cannot lower a background thread's priority");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_background_thread_is_nicer_and_its_caller_is_not() {
        let nice = || rustix::process::getpriority_process(None).unwrap();
        let before = nice();
        let (inside, started, lowered_again) = std::thread::spawn(move || {
            super::background();
            super::background();
            let inside = nice();
            let started = std::thread::spawn(nice).join().unwrap();
            let again = std::thread::spawn(move || {
                super::background();
                nice()
            });
            (inside, started, again.join().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(inside, (before + super::NICER_BY).min(19));
        assert_eq!(started, inside, "threads it starts inherit it");
        assert_eq!(
            lowered_again, inside,
            "and lowering them again changes nothing"
        );
        assert_eq!(nice(), before, "other threads keep theirs");
    }
}
