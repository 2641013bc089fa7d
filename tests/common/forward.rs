//! A TCP forwarder for outage tests: listens on a loopback port and forwards every connection
//! to a target address. `stop` closes the listener and every live connection (new connects
//! are refused, as when the peer is down); `hang` cuts live connections too but accepts new
//! ones and never answers (a peer behind a network partition); `restart` forwards again on
//! the same port.
//!
//! It runs on its own threads, so it keeps forwarding while the test blocks (e.g. while a
//! gateway starts and loads its tenants through it).
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Forwarder {
    /// Where clients connect.
    pub addr: SocketAddr,
    pub target: SocketAddr,
    accepted: Arc<AtomicU64>,
    running: Option<Running>,
}

struct Running {
    stop: Arc<AtomicBool>,
    forwarding: bool,
    /// Both sides of every connection accepted so far (shut down on stop).
    conns: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: JoinHandle<()>,
}

impl Forwarder {
    /// Starts forwarding from a free loopback port to `target`.
    pub fn start(target: SocketAddr) -> Self {
        let mut f = Forwarder {
            addr: format!("127.0.0.1:{}", super::free_port()).parse().unwrap(),
            target,
            accepted: Arc::new(AtomicU64::new(0)),
            running: None,
        };
        f.listen(true);
        f
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// How many connections were accepted since the forwarder was created.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Forwards again on the same port (after `stop` or `hang`); a no-op while forwarding.
    pub fn restart(&mut self) {
        if self.running.as_ref().is_some_and(|r| r.forwarding) {
            return;
        }
        self.stop();
        self.listen(true);
    }

    /// Cuts every live connection, then accepts new ones but neither forwards nor answers
    /// nor closes them (until `stop` or `restart`).
    pub fn hang(&mut self) {
        self.stop();
        self.listen(false);
    }

    fn listen(&mut self, forwarding: bool) {
        // The port was ours a moment ago; retry briefly in case the kernel is slow to free it.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(_) if tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("forwarder cannot listen on {} again: {e}", self.addr),
            }
        };
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let acceptor = {
            let (stop, conns, accepted, target) = (
                stop.clone(),
                conns.clone(),
                self.accepted.clone(),
                forwarding.then_some(self.target),
            );
            std::thread::spawn(move || accept_loop(listener, target, stop, conns, accepted))
        };
        self.running = Some(Running {
            stop,
            forwarding,
            conns,
            acceptor,
        });
    }

    /// Closes the listener and every live connection: from now on connects are refused and
    /// whatever was in flight is cut.
    pub fn stop(&mut self) {
        let Some(r) = self.running.take() else {
            return;
        };
        r.stop.store(true, Ordering::SeqCst);
        // The acceptor owns the listener: once joined, the port is closed.
        let _ = r.acceptor.join();
        for s in r.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Accepts until stopped; forwards to `target`, or holds connections silently without one.
fn accept_loop(
    listener: TcpListener,
    target: Option<SocketAddr>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accepted: Arc<AtomicU64>,
) {
    while !stop.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(_) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        accepted.fetch_add(1, Ordering::SeqCst);
        let _ = client.set_nonblocking(false);
        let _ = client.set_nodelay(true);
        let Some(target) = target else {
            conns.lock().unwrap().push(client);
            continue;
        };
        let Ok(upstream) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = upstream.set_nodelay(true);
        let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
            continue;
        };
        {
            let mut list = conns.lock().unwrap();
            // Registered under the lock `stop` drains, so no connection escapes the shutdown;
            // one accepted after `stop` was set is closed here.
            if stop.load(Ordering::SeqCst) {
                let _ = client.shutdown(Shutdown::Both);
                let _ = upstream.shutdown(Shutdown::Both);
                return;
            }
            if let (Ok(a), Ok(b)) = (client.try_clone(), upstream.try_clone()) {
                list.push(a);
                list.push(b);
            }
        }
        std::thread::spawn(move || pipe(client, upstream));
        std::thread::spawn(move || pipe(u2, c2));
    }
    // `listener` is dropped here: the port stops accepting.
}

/// Copies `from` → `to` until EOF or an error, then ends both directions of the pair.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
