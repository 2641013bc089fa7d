//! Frees large retired values on a background thread. A configuration version at 100,000
//! tenants holds hundreds of thousands of shared allocations; the last request still holding a
//! retired version would otherwise free them all on a proxy worker, between two requests.

use std::sync::mpsc::{self, Sender};
use std::sync::OnceLock;

type Retired = Box<dyn Send>;

/// The background thread's inbox (`None` when the thread could not be started).
static INBOX: OnceLock<Option<Sender<Retired>>> = OnceLock::new();

fn inbox() -> Option<&'static Sender<Retired>> {
    INBOX
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Retired>();
            std::thread::Builder::new()
                .name("reclaim".into())
                .spawn(move || {
                    crate::priority::background();
                    rx.into_iter().for_each(drop)
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Drops `value` on the background thread (here, when that thread is not running).
pub fn later<T: Send + 'static>(value: T) {
    let Some(inbox) = inbox() else {
        return;
    };
    // If the thread is gone, the value comes back in the error and is dropped here.
    drop(inbox.send(Box::new(value)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    struct Flag(Arc<AtomicBool>, std::thread::ThreadId);
    impl Drop for Flag {
        fn drop(&mut self) {
            // Records whether the drop ran on another thread than the one that retired it.
            self.0
                .store(std::thread::current().id() != self.1, Ordering::SeqCst);
        }
    }

    #[test]
    fn values_are_dropped_on_the_background_thread() {
        let off_thread = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = mpsc::channel();
        later(Flag(off_thread.clone(), std::thread::current().id()));
        // The channel is in order: once this is dropped, the flag was dropped before it.
        later(Notify(done_tx));
        done_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the reclaim thread drops what it is given");
        assert!(off_thread.load(Ordering::SeqCst));
    }

    struct Notify(mpsc::Sender<()>);
    impl Drop for Notify {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
}
