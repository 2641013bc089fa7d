//! Support for the hostile-client suite (`tests/hostile.rs`):
//!
//! * a **recording backend**: a raw `std::net` HTTP/1.1 server (a thread per connection,
//!   keep-alive, Content-Length and chunked bodies) that keeps the exact bytes of every request
//!   head it received and answers 200 with a small JSON body;
//! * a **lenient backend**: the same server, which also normalises every received path the way
//!   permissive frameworks do (percent-decode until stable, `\` → `/`, `;params` stripped from
//!   each segment, slashes merged, dot segments resolved; never lowercased) and records every
//!   request whose normalised path is a protected one (`/api...`, `/hooks...`): what a spelling
//!   the gateway let through would mean to such a backend;
//! * a raw HTTP/1.1 client (bytes in, parsed responses out, and whether the server closed);
//! * a raw HTTP/2 cleartext client on the `h2` crate, so `:path` goes out byte for byte
//!   (reqwest parses URLs and would resolve `%2e%2e`, `\` and dot segments itself);
//! * Cognito helpers: put a moto user in extra groups and log in again; Argon2 hashes from the
//!   binary's `hash-password`.
#![allow(dead_code)]

use super::peers::{repo_root, Moto};

use serde_json::Value;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest request head a backend reads (far above any gateway limit, so an oversized head
/// that the gateway wrongly forwarded is still recorded, not cut).
const BACKEND_MAX_HEAD: usize = 8 << 20;

// ---------------------------------------------------------------------------------------
// HTTP/1.1 messages

/// A socket with a read buffer and an optional deadline for every read.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    deadline: Option<Instant>,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
            deadline: None,
        }
    }

    /// Reads more bytes into the buffer; `Ok(false)` at EOF.
    fn fill(&mut self) -> io::Result<bool> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        let mut chunk = [0u8; 16384];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Reads up to the end of a head (CRLFCRLF) and returns it without the final CRLFCRLF;
    /// `None` on EOF before any byte of a new message.
    fn read_head(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                let head = self.buf[..i].to_vec();
                self.buf.drain(..i + 4);
                return Ok(Some(head));
            }
            if self.buf.len() > max {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
            }
            if !self.fill()? {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "EOF inside a head",
                    ))
                };
            }
        }
    }

    fn read_exact_n(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "EOF inside a body",
                ));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// A line up to CRLF (not included).
    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = self.buf[..i].to_vec();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.buf.len() > 64 * 1024 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if !self.fill()? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "EOF inside a line",
                ));
            }
        }
    }

    /// A chunked body, decoded; trailers are read and dropped.
    fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let text = String::from_utf8_lossy(&line);
            let size = text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size {text:?}"),
                )
            })?;
            if size == 0 {
                while !self.read_line()?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.read_exact_n(size)?);
            if !self.read_line()?.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "no CRLF after a chunk",
                ));
            }
        }
    }

    fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
        while self.fill()? {}
        Ok(std::mem::take(&mut self.buf))
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The first line of a head and its header fields (name as sent, value without surrounding
/// whitespace).
pub fn parse_head(head: &[u8]) -> (String, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .map(|l| match l.split_once(':') {
            Some((k, v)) => (k.to_string(), v.trim_matches([' ', '\t']).to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect();
    (first, headers)
}

fn header_values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// How a request body is framed, and why the framing is ambiguous if it is (several
/// Content-Length values, Content-Length beside Transfer-Encoding, a Transfer-Encoding that
/// is not exactly `chunked`): a forwarded request must never be ambiguous.
fn request_framing(headers: &[(String, String)]) -> (Framing, Option<String>) {
    let te = header_values(headers, "transfer-encoding");
    let cl = header_values(headers, "content-length");
    let mut ambiguous = Vec::new();
    if !te.is_empty() && !cl.is_empty() {
        ambiguous.push("Content-Length and Transfer-Encoding".to_string());
    }
    if cl.len() > 1 || cl.iter().any(|v| v.contains(',')) {
        ambiguous.push(format!("several Content-Length values {cl:?}"));
    }
    if te.len() > 1
        || te
            .first()
            .is_some_and(|v| !v.eq_ignore_ascii_case("chunked"))
    {
        ambiguous.push(format!("Transfer-Encoding {te:?}"));
    }
    let ambiguous = (!ambiguous.is_empty()).then(|| ambiguous.join("; "));
    if te
        .iter()
        .any(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        return (Framing::Chunked, ambiguous);
    }
    match cl.first().map(|v| v.trim().parse::<usize>()) {
        Some(Ok(n)) => (Framing::Length(n), ambiguous),
        Some(Err(_)) => (
            Framing::Length(0),
            Some(ambiguous.unwrap_or_else(|| format!("bad Content-Length {cl:?}"))),
        ),
        None => (Framing::None, ambiguous),
    }
}

enum Framing {
    None,
    Length(usize),
    Chunked,
}

// ---------------------------------------------------------------------------------------
// Backends

/// One request as a backend received it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Order of arrival at this backend (0, 1, ...).
    pub seq: usize,
    /// Which upstream connection it came on (0, 1, ... in accept order).
    pub conn: usize,
    /// The exact head bytes, request line included, without the final CRLFCRLF.
    pub head: Vec<u8>,
    pub body: Vec<u8>,
    /// Why the framing was ambiguous, when it was.
    pub ambiguous: Option<String>,
    /// Why the body could not be read, when it could not (e.g. the sender gave up).
    pub incomplete: Option<String>,
}

impl Seen {
    pub fn head_text(&self) -> String {
        String::from_utf8_lossy(&self.head).into_owned()
    }

    pub fn request_line(&self) -> String {
        parse_head(&self.head).0
    }

    /// The request-target exactly as received (path and query).
    pub fn target(&self) -> String {
        let line = self.request_line();
        let mut parts = line.splitn(3, ' ');
        parts.next();
        parts.next().unwrap_or_default().to_string()
    }

    pub fn headers(&self) -> Vec<(String, String)> {
        parse_head(&self.head).1
    }

    /// Every value of a header (case-insensitive name), in order.
    pub fn header_all(&self, name: &str) -> Vec<String> {
        let headers = self.headers();
        header_values(&headers, name)
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// The only value of a header; panics when it was sent more than once.
    pub fn header(&self, name: &str) -> Option<String> {
        let all = self.header_all(name);
        assert!(
            all.len() <= 1,
            "{name} reached the backend {} times:\n{}",
            all.len(),
            self.head_text()
        );
        all.into_iter().next()
    }

    pub fn probe(&self) -> Option<String> {
        self.header_all(PROBE).into_iter().next()
    }
}

/// The header each test request carries so the backends' records can be matched to it.
pub const PROBE: &str = "x-probe";

type Hook = Arc<dyn Fn(&Seen) + Send + Sync>;

/// The server both backends are made of.
struct Core {
    name: String,
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Core {
    fn start(name: &str, hook: Option<Hook>) -> Core {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a backend port");
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (seen2, stop2, conns2, name2) =
            (seen.clone(), stop.clone(), conns.clone(), name.to_string());
        std::thread::spawn(move || {
            let next_conn = AtomicUsize::new(0);
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                if let Ok(clone) = stream.try_clone() {
                    conns2.lock().unwrap().push(clone);
                }
                let id = next_conn.fetch_add(1, Ordering::SeqCst);
                let (seen, hook, name) = (seen2.clone(), hook.clone(), name2.clone());
                std::thread::spawn(move || serve(stream, id, &name, &seen, hook.as_ref()));
            }
        });
        Core {
            name: name.to_string(),
            addr,
            seen,
            stop,
            conns,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        for c in self.conns.lock().unwrap().iter() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn serve(stream: TcpStream, conn: usize, name: &str, seen: &Mutex<Vec<Seen>>, hook: Option<&Hook>) {
    let mut c = Conn::new(stream);
    loop {
        let head = match c.read_head(BACKEND_MAX_HEAD) {
            Ok(Some(h)) => h,
            _ => return,
        };
        let (line, headers) = parse_head(&head);
        let (framing, ambiguous) = request_framing(&headers);
        let body = match framing {
            Framing::None => Ok(Vec::new()),
            Framing::Length(n) => c.read_exact_n(n),
            Framing::Chunked => c.read_chunked(),
        };
        let (body, broken) = match body {
            Ok(b) => (b, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        let record = {
            let mut all = seen.lock().unwrap();
            let s = Seen {
                seq: all.len(),
                conn,
                head,
                body,
                ambiguous: ambiguous.clone(),
                incomplete: broken.clone(),
            };
            all.push(s.clone());
            s
        };
        if let Some(hook) = hook {
            hook(&record);
        }
        if broken.is_some() {
            return;
        }
        let connection = header_values(&headers, "connection")
            .join(",")
            .to_ascii_lowercase();
        let close = ambiguous.is_some()
            || connection.contains("close")
            || (line.ends_with("HTTP/1.0") && !connection.contains("keep-alive"));
        let body = format!("{{\"backend\":\"{name}\",\"seq\":{}}}", record.seq);
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if c.stream.write_all(resp.as_bytes()).is_err() || close {
            let _ = c.stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Records the exact head of every request and answers `200 {"backend": name, "seq": n}`.
pub struct RecordingBackend {
    core: Core,
}

impl RecordingBackend {
    pub fn start(name: &str) -> Self {
        RecordingBackend {
            core: Core::start(name, None),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.core.addr
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.core.seen()
    }

    pub fn count(&self) -> usize {
        self.core.seen.lock().unwrap().len()
    }

    /// The requests that carried `x-probe: <probe>`.
    pub fn by_probe(&self, probe: &str) -> Vec<Seen> {
        by_probe(&self.seen(), probe)
    }

    /// The one request that carried `x-probe: <probe>`; panics if there is not exactly one.
    pub fn one(&self, probe: &str) -> Seen {
        one(&self.seen(), probe)
    }

    /// Polls until a recorded request matches `pred`, or panics after `within`.
    pub fn wait_for(&self, what: &str, within: Duration, pred: impl Fn(&Seen) -> bool) -> Seen {
        wait_for(&self.core, what, within, pred)
    }
}

fn by_probe(seen: &[Seen], probe: &str) -> Vec<Seen> {
    seen.iter()
        .filter(|s| s.probe().as_deref() == Some(probe))
        .cloned()
        .collect()
}

fn one(seen: &[Seen], probe: &str) -> Seen {
    let mut hits = by_probe(seen, probe);
    assert_eq!(
        hits.len(),
        1,
        "probe {probe}: wanted exactly one request at the backend, got {}: {:#?}",
        hits.len(),
        hits.iter().map(Seen::head_text).collect::<Vec<_>>()
    );
    hits.remove(0)
}

fn wait_for(core: &Core, what: &str, within: Duration, pred: impl Fn(&Seen) -> bool) -> Seen {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = core.seen().into_iter().find(|s| pred(s)) {
            return s;
        }
        if Instant::now() > deadline {
            panic!("{}: no request for {what} within {within:?}", core.name);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A request whose leniently normalised path is a protected one.
#[derive(Clone, Debug)]
pub struct LenientHit {
    pub normalised: String,
    pub seen: Seen,
}

/// A backend that reads paths the way permissive frameworks do (see `lenient_normalise`) and
/// records every request that, read that way, is for a protected path, with its raw head.
/// It cannot know whether the gateway checked credentials: the test matches each hit's probe
/// against the requests it sent with valid credentials.
pub struct LenientBackend {
    core: Core,
    hits: Arc<Mutex<Vec<LenientHit>>>,
}

impl LenientBackend {
    pub fn start(name: &str) -> Self {
        let hits: Arc<Mutex<Vec<LenientHit>>> = Arc::default();
        let sink = hits.clone();
        let hook: Hook = Arc::new(move |s: &Seen| {
            let normalised = lenient_normalise(&s.target());
            if is_protected(&normalised) {
                sink.lock().unwrap().push(LenientHit {
                    normalised,
                    seen: s.clone(),
                });
            }
        });
        LenientBackend {
            core: Core::start(name, Some(hook)),
            hits,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.core.addr
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.core.seen()
    }

    pub fn count(&self) -> usize {
        self.core.seen.lock().unwrap().len()
    }

    pub fn by_probe(&self, probe: &str) -> Vec<Seen> {
        by_probe(&self.seen(), probe)
    }

    pub fn one(&self, probe: &str) -> Seen {
        one(&self.seen(), probe)
    }

    pub fn protected_hits(&self) -> Vec<LenientHit> {
        self.hits.lock().unwrap().clone()
    }

    pub fn wait_for(&self, what: &str, within: Duration, pred: impl Fn(&Seen) -> bool) -> Seen {
        wait_for(&self.core, what, within, pred)
    }
}

/// The prefixes the hostile suite's tenants protect.
pub const PROTECTED_PREFIXES: [&str; 2] = ["/api", "/hooks"];

/// Whether `path` is under a protected prefix (at a segment boundary, case-sensitive).
pub fn is_protected(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    PROTECTED_PREFIXES.iter().any(|p| {
        path == *p
            || path
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// What a permissive framework makes of a request-target: the authority of an absolute-form
/// target dropped, the query cut at the first raw `?`, then percent-decoding repeated until
/// nothing changes, `\` read as `/`, `;params` stripped from every segment, empty segments
/// merged, `.` and `..` resolved (never above the root). Case is kept.
pub fn lenient_normalise(target: &str) -> String {
    let mut t = target;
    for scheme in ["http://", "https://", "HTTP://", "HTTPS://"] {
        if let Some(rest) = t.strip_prefix(scheme) {
            t = rest.find('/').map_or("/", |i| &rest[i..]);
        }
    }
    let path = t.split('?').next().unwrap_or_default();
    let mut bytes = path.as_bytes().to_vec();
    for _ in 0..16 {
        let next = percent_decode(&bytes);
        if next == bytes {
            break;
        }
        bytes = next;
    }
    let decoded = String::from_utf8_lossy(&bytes).replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        let seg = seg.split(';').next().unwrap_or_default();
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// Decodes every valid `%XX`; anything else is kept as it is.
pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------
// Raw HTTP/1.1 client

/// A response as read off the wire.
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_values(&self.headers, name).into_iter().next()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n\n{}", self.head, self.text()))
    }

    /// The response as text, for failure messages.
    pub fn show(&self) -> String {
        format!("{}\n\n{}", self.head, self.text())
    }
}

/// What came back on one connection.
#[derive(Debug)]
pub struct Exchange {
    pub responses: Vec<RawResponse>,
    /// The server closed the connection (EOF or reset) within the time given.
    pub closed: bool,
    /// When the first response was complete, and when the connection closed.
    pub first_response_after: Option<Duration>,
    pub closed_after: Option<Duration>,
    /// Bytes after the last complete response (a partial or unparsable answer).
    pub rest: Vec<u8>,
    pub write_error: Option<String>,
}

impl Exchange {
    pub fn first(&self) -> &RawResponse {
        self.responses.first().unwrap_or_else(|| {
            panic!(
                "no response (closed: {}, write error: {:?}, bytes: {:?})",
                self.closed,
                self.write_error,
                String::from_utf8_lossy(&self.rest)
            )
        })
    }
}

/// Sends `bytes` on a new connection and reads responses until the server closes it or
/// `within` passes.
pub fn exchange(addr: SocketAddr, bytes: &[u8], within: Duration) -> Exchange {
    let start = Instant::now();
    let stream = TcpStream::connect(addr).expect("connect to the gateway");
    stream.set_write_timeout(Some(within)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    // Written from another thread: a server that answers (and closes) before reading a huge
    // request must not block the reading side.
    let data = bytes.to_vec();
    let write = std::thread::spawn(move || writer.write_all(&data).map_err(|e| e.to_string()));
    let mut c = Conn::new(stream);
    c.deadline = Some(start + within);
    let mut ex = Exchange {
        responses: Vec::new(),
        closed: false,
        first_response_after: None,
        closed_after: None,
        rest: Vec::new(),
        write_error: None,
    };
    loop {
        match read_response(&mut c) {
            Ok(Some(r)) => {
                if ex.first_response_after.is_none() {
                    ex.first_response_after = Some(start.elapsed());
                }
                let close = r
                    .header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                ex.responses.push(r);
                if close {
                    // The server said it closes: wait for the EOF to say it did.
                    match c.read_to_end() {
                        Ok(rest) => {
                            ex.rest = rest;
                            ex.closed = true;
                            ex.closed_after = Some(start.elapsed());
                        }
                        Err(e) if is_reset(&e) => {
                            ex.closed = true;
                            ex.closed_after = Some(start.elapsed());
                        }
                        Err(_) => ex.rest = std::mem::take(&mut c.buf),
                    }
                    break;
                }
            }
            Ok(None) => {
                ex.closed = true;
                ex.closed_after = Some(start.elapsed());
                break;
            }
            Err(e) => {
                if is_reset(&e) || e.kind() == io::ErrorKind::UnexpectedEof {
                    ex.closed = true;
                    ex.closed_after = Some(start.elapsed());
                }
                ex.rest = std::mem::take(&mut c.buf);
                break;
            }
        }
    }
    let _ = c.stream.shutdown(Shutdown::Both);
    if let Ok(Err(e)) = write.join() {
        ex.write_error = Some(e);
    }
    ex
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// One response; `None` at EOF before any byte of it.
fn read_response(c: &mut Conn) -> io::Result<Option<RawResponse>> {
    let Some(head) = c.read_head(1 << 20)? else {
        return Ok(None);
    };
    let (line, headers) = parse_head(&head);
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {line:?}"),
            )
        })?;
    let chunked = header_values(&headers, "transfer-encoding")
        .iter()
        .any(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = header_values(&headers, "content-length")
        .first()
        .and_then(|v| v.parse::<usize>().ok());
    let body = if status < 200 || status == 204 || status == 304 {
        Vec::new()
    } else if chunked {
        c.read_chunked()?
    } else if let Some(n) = length {
        c.read_exact_n(n)?
    } else {
        c.read_to_end()?
    };
    Ok(Some(RawResponse {
        status,
        head: String::from_utf8_lossy(&head).into_owned(),
        headers,
        body,
    }))
}

/// A request with `Host`, the given header lines and `Connection: close`.
pub fn request(method: &str, target: &str, host: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// Sends one request (which should say `Connection: close`) and returns its response.
pub fn send_raw(addr: SocketAddr, bytes: &[u8]) -> RawResponse {
    let ex = exchange(addr, bytes, Duration::from_secs(15));
    ex.responses.first().cloned().unwrap_or_else(|| {
        panic!(
            "no response to {:?}: {ex:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        )
    })
}

// ---------------------------------------------------------------------------------------
// Raw HTTP/2 cleartext client

#[derive(Debug)]
pub struct H2Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl H2Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug)]
pub enum H2Error {
    /// The client side cannot express this request (e.g. `http::Uri` refuses the path).
    Unsendable(String),
    /// The server refused it at the protocol level (stream or connection reset, GOAWAY).
    Refused(String),
}

/// One request over a new HTTP/2 prior-knowledge connection, `:path` exactly as given.
pub async fn h2_request(
    addr: SocketAddr,
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<H2Response, H2Error> {
    h2_request_with_body(addr, authority, method, path, headers, None).await
}

/// `h2_request` with DATA frames carrying `body` (whatever `content-length` the headers say).
pub async fn h2_request_with_body(
    addr: SocketAddr,
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<H2Response, H2Error> {
    use H2Error::*;
    let pq = http::uri::PathAndQuery::try_from(path)
        .map_err(|e| Unsendable(format!("{path:?}: {e}")))?;
    let uri = http::Uri::builder()
        .scheme("http")
        .authority(authority)
        .path_and_query(pq)
        .build()
        .map_err(|e| Unsendable(format!("{path:?}: {e}")))?;
    let mut req = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(()).map_err(|e| Unsendable(e.to_string()))?;
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the gateway");
    let (client, conn) = h2::client::handshake(tcp)
        .await
        .map_err(|e| Refused(format!("handshake: {e}")))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = async {
        let mut client = client
            .ready()
            .await
            .map_err(|e| Refused(format!("not ready: {e}")))?;
        let (resp, mut send) = client
            .send_request(req, body.is_none())
            .map_err(|e| Unsendable(e.to_string()))?;
        if let Some(body) = body {
            send.send_data(bytes::Bytes::copy_from_slice(body), true)
                .map_err(|e| Unsendable(format!("body: {e}")))?;
        }
        let resp = tokio::time::timeout(Duration::from_secs(15), resp)
            .await
            .map_err(|_| Refused("no response within 15 s".into()))?
            .map_err(|e| Refused(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let mut stream = resp.into_body();
        let mut body = Vec::new();
        while let Some(chunk) = stream.data().await {
            let chunk = chunk.map_err(|e| Refused(format!("body: {e}")))?;
            let _ = stream.flow_control().release_capacity(chunk.len());
            body.extend_from_slice(&chunk);
        }
        Ok(H2Response {
            status,
            headers,
            body,
        })
    }
    .await;
    driver.abort();
    result
}

// ---------------------------------------------------------------------------------------
// Identity helpers

/// Puts the moto Cognito user `user` (a name from `cognito_tokens`) into `groups` (created
/// when missing; any name moto accepts, commas and quotes included) and logs it in again:
/// `{"id_token", "access_token"}` carrying the new groups.
pub fn cognito_join_groups(moto: &Moto, fx: &Value, user: &str, groups: &[&str]) -> Value {
    const SCRIPT: &str = r#"
import json, sys
import boto3
args = json.loads(sys.argv[1])
idp = boto3.client("cognito-idp", endpoint_url=args["url"], region_name=args["region"],
                   aws_access_key_id="testing", aws_secret_access_key="testing")
for g in args["groups"]:
    try:
        idp.create_group(UserPoolId=args["pool"], GroupName=g)
    except idp.exceptions.GroupExistsException:
        pass
    idp.admin_add_user_to_group(UserPoolId=args["pool"], Username=args["username"], GroupName=g)
auth = idp.initiate_auth(ClientId=args["client_id"], AuthFlow="USER_PASSWORD_AUTH",
    AuthParameters={"USERNAME": args["username"], "PASSWORD": args["password"]})["AuthenticationResult"]
json.dump({"id_token": auth["IdToken"], "access_token": auth["AccessToken"]}, sys.stdout)
"#;
    let args = serde_json::json!({
        "url": moto.url,
        "region": fx["region"],
        "pool": fx["pool_id"],
        "client_id": fx["client_id"],
        "username": fx["users"][user]["username"],
        "password": fx["users"][user]["password"],
        "groups": groups,
    });
    let out = Command::new(repo_root().join(".venv-peers/bin/python"))
        .args(["-c", SCRIPT, &args.to_string()])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .expect("run the .venv-peers python");
    assert!(
        out.status.success(),
        "joining groups {groups:?} failed:\n{}\n--- moto log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        moto.log()
    );
    serde_json::from_slice(&out.stdout).expect("tokens as JSON")
}

/// Parses an RFC 8941 List whose members are all Strings without parameters (what
/// `X-User-Groups` must be), e.g. `"admins", "team,a"`.
pub fn parse_sf_string_list(input: &str) -> Result<Vec<String>, String> {
    let b = input.as_bytes();
    let mut i = 0;
    let skip = |i: &mut usize, ows: bool| {
        while *i < b.len() && (b[*i] == b' ' || (ows && b[*i] == b'\t')) {
            *i += 1;
        }
    };
    skip(&mut i, false);
    let mut out = Vec::new();
    if i == b.len() {
        return Ok(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return Err(format!("member at {i} is not a String: {input:?}"));
        }
        i += 1;
        let mut s = String::new();
        loop {
            match b.get(i) {
                None => return Err(format!("unterminated String: {input:?}")),
                Some(b'\\') => match b.get(i + 1) {
                    Some(c @ (b'"' | b'\\')) => {
                        s.push(*c as char);
                        i += 2;
                    }
                    _ => return Err(format!("bad escape at {i}: {input:?}")),
                },
                Some(b'"') => {
                    i += 1;
                    break;
                }
                Some(c @ 0x20..=0x7e) => {
                    s.push(*c as char);
                    i += 1;
                }
                Some(c) => return Err(format!("byte {c:#x} not allowed in a String: {input:?}")),
            }
        }
        out.push(s);
        skip(&mut i, true);
        match b.get(i) {
            None => return Ok(out),
            Some(b',') => {
                i += 1;
                skip(&mut i, true);
                if i == b.len() {
                    return Err(format!("trailing comma: {input:?}"));
                }
            }
            Some(c) => {
                return Err(format!(
                    "unexpected {:?} at {i} (parameters or junk): {input:?}",
                    *c as char
                ))
            }
        }
    }
}
