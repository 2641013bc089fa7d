//! Graceful binary upgrade: a second process started with `run --upgrade` takes the HTTP, HTTPS
//! and admin listening sockets over from the running gateway on SIGQUIT while a bounded load
//! runs. No request fails, requests in flight when the old process starts draining finish there
//! with 200, requests sent after it are served by the new process, the admin listener answers
//! throughout, and the old process exits 0 after its grace period.

mod common;
use common::pebble::self_signed;
use common::*;
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Pingora's fixed pause between sending the sockets and closing the old listeners.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// `server.grace_period` and `graceful_shutdown_timeout` of [`gateway_yaml`].
const GRACE: Duration = Duration::from_secs(2);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);
/// `server.keepalive_drain` (its default: half the grace period).
const KEEPALIVE_DRAIN: Duration = Duration::from_secs(1);
/// How long the echo backend holds a slow request.
const SLOW_MS: u64 = 1500;
const HOST: &str = "tenant-a.example.com";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// HTTP/1.1 over pooled keep-alive connections.
    KeepAlive,
    /// HTTP/1.1, a new connection per request.
    NewConn,
    /// HTTPS (h2 by ALPN) over a pooled connection.
    Tls,
    /// HTTPS, a new connection (and handshake) per request.
    TlsNewConn,
    /// `?sleep_ms=1500` at the backend, over a keep-alive connection.
    Slow,
    /// The admin listener's `/healthz`, a new connection per request.
    Admin,
}

impl Kind {
    fn pooled(self) -> bool {
        matches!(self, Kind::KeepAlive | Kind::Tls | Kind::Slow)
    }
}

#[derive(Debug)]
struct Outcome {
    kind: Kind,
    path: String,
    start: SystemTime,
    end: SystemTime,
    result: Result<u16, String>,
    /// Sent again after the first attempt found its reused connection closed.
    retried: bool,
}

type Outcomes = Arc<Mutex<Vec<Outcome>>>;

fn http_client(pooled: bool) -> reqwest::Client {
    let b = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10));
    let b = if pooled {
        b
    } else {
        b.pool_max_idle_per_host(0)
    };
    b.build().unwrap()
}

fn https_client(gw: &Gateway, pooled: bool) -> reqwest::Client {
    let b = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        // A self-signed certificate: the test is about the sockets, not the chain.
        .danger_accept_invalid_certs(true)
        .resolve(HOST, gw.https);
    let b = if pooled {
        b
    } else {
        b.pool_max_idle_per_host(0)
    };
    b.build().unwrap()
}

/// One load task: requests in a loop until `stop`, each recorded with its path and times.
fn spawn_loop(
    kind: Kind,
    task: usize,
    client: reqwest::Client,
    base: String,
    pause: Duration,
    stop: Arc<AtomicBool>,
    outcomes: Outcomes,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let path = match kind {
                Kind::Admin => "/healthz".to_string(),
                Kind::Slow => format!("/slow/{task}-{n}"),
                _ => format!("/{kind:?}/{task}-{n}").to_lowercase(),
            };
            let query = if kind == Kind::Slow {
                format!("?sleep_ms={SLOW_MS}")
            } else {
                String::new()
            };
            let send = || async {
                let mut req = client.get(format!("{base}{path}{query}"));
                if matches!(kind, Kind::KeepAlive | Kind::NewConn | Kind::Slow) {
                    req = req.header("host", HOST);
                }
                match req.send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        match r.bytes().await {
                            Ok(_) => Ok(status),
                            Err(e) => Err(format!("{status}, body: {e:?}")),
                        }
                    }
                    Err(e) => Err(format!("{e:?}")),
                }
            };
            let start = SystemTime::now();
            let mut result = send().await;
            // A keep-alive connection the old process closes as it drains can race with the
            // next request on it (reset, no response). Like browsers and RFC 9112 9.3.1, a
            // client sends such an idempotent request again, once, on a new connection.
            let stale = |r: &Result<u16, String>| {
                r.as_ref().is_err_and(|e| {
                    e.contains("ConnectionReset") || e.contains("IncompleteMessage")
                })
            };
            let retried = kind.pooled() && stale(&result);
            if retried {
                result = send().await;
            }
            outcomes.lock().unwrap().push(Outcome {
                kind,
                path,
                start,
                end: SystemTime::now(),
                result,
                retried,
            });
            tokio::time::sleep(pause).await;
        }
    })
}

/// The request paths in an access log.
fn logged_paths(log: &Path) -> HashSet<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["path"].as_str().map(str::to_string))
        .collect()
}

/// When the old process broadcast its shutdown (its listeners stop accepting then), from
/// Pingora's own log line in the gateway's JSON log.
fn drain_started(stderr: &str) -> Option<SystemTime> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| {
            v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Broadcasting graceful shutdown"))
        })
        .and_then(|v| humantime::parse_rfc3339_weak(v["timestamp"].as_str()?).ok())
}

/// One request on a raw HTTP/1.1 keep-alive connection: the response head (lower case) and
/// whether the body arrived whole; `Err` when the connection was closed or reset instead.
async fn raw_get(conn: &mut tokio::net::TcpStream, path: &str) -> Result<(String, bool), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!("GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n");
    conn.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut chunk))
            .await
            .map_err(|_| "no answer within 5 s".to_string())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("closed after {} bytes", buf.len()));
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_string();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Ok((head, true));
            }
        }
    }
}

/// Answers per kind and the last failure, for messages.
fn summary(outcomes: &Outcomes) -> String {
    let o = outcomes.lock().unwrap();
    let mut per_kind = std::collections::BTreeMap::<String, (usize, usize)>::new();
    for x in o.iter() {
        let e = per_kind.entry(format!("{:?}", x.kind)).or_default();
        if x.result == Ok(200) {
            e.0 += 1
        } else {
            e.1 += 1
        }
    }
    let last = o.iter().rfind(|x| x.result != Ok(200));
    format!("(ok, failed) per kind: {per_kind:?}; last failure: {last:?}")
}

fn count(outcomes: &Outcomes, kind: Kind, after: SystemTime) -> usize {
    outcomes
        .lock()
        .unwrap()
        .iter()
        .filter(|o| o.kind == kind && o.start > after && o.result == Ok(200))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_binary_takes_the_listeners_over_without_a_failed_request() {
    let web = Backend::start("web");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    self_signed(&cert, &key, HOST, "DNS:*.example.com");
    let yaml = gateway_yaml(
        &[&web],
        &format!(
            "tls:\n  certs_dir: certs\n  certificates:\n    - {{ cert: {}, key: {} }}\n",
            cert.display(),
            key.display()
        ),
    )
    // Plain HTTP stays plain (no redirect to HTTPS) for the tenant host.
    .replace(
        "  - domain: example.com\n",
        "  - domain: example.com\n    redirect_http: false\n",
    )
    .replace(
        "  http: [\"{http}\"]\n",
        "  http: [\"{http}\"]\n  https: [\"{https}\"]\n",
    )
    // Relative to gateway.yaml, like the other paths of the file.
    .replace(
        "  graceful_shutdown_timeout: 1s\n",
        "  graceful_shutdown_timeout: 1s\n  upgrade_sock: upgrade.sock\n",
    );
    let upgrade_sock = dir.path().join("upgrade.sock");
    let mut old = GatewayBuilder::new(&yaml, &basic_tenants())
        .in_dir(dir)
        .no_watch()
        .env(
            "RUST_LOG",
            "warn,tenant_gateway=info,pingora_core::server=info",
        )
        .start();
    wait_for_port(old.https, "gateway HTTPS");

    // The load: ~300 req/s of short requests on reused and new connections (HTTP and HTTPS),
    // slow requests always in flight, and the admin listener.
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes: Outcomes = Arc::default();
    let http_base = format!("http://{}", old.http);
    let https_base = format!("https://{HOST}:{}", old.https.port());
    let admin_base = format!("http://{}", old.admin);
    let pause = Duration::from_millis(10);
    let pooled = http_client(true);
    let mut tasks = Vec::new();
    let mut spawn = |kind, task, client, base: &str, pause| {
        tasks.push(spawn_loop(
            kind,
            task,
            client,
            base.to_string(),
            pause,
            stop.clone(),
            outcomes.clone(),
        ));
    };
    for t in 0..3 {
        spawn(Kind::KeepAlive, t, pooled.clone(), &http_base, pause);
        // Each its own client: one connection, opened to the old process, kept alive.
        spawn(Kind::Slow, t, http_client(true), &http_base, Duration::ZERO);
    }
    for t in 0..2 {
        spawn(Kind::NewConn, t, http_client(false), &http_base, pause);
    }
    spawn(Kind::Tls, 0, https_client(&old, true), &https_base, pause);
    spawn(
        Kind::TlsNewConn,
        0,
        https_client(&old, false),
        &https_base,
        pause,
    );
    spawn(Kind::Admin, 0, http_client(false), &admin_base, pause);

    let begun = SystemTime::UNIX_EPOCH;
    eventually(
        "the old process serving every kind of load",
        Duration::from_secs(10),
        || async {
            let short = [
                Kind::KeepAlive,
                Kind::NewConn,
                Kind::Tls,
                Kind::TlsNewConn,
                Kind::Admin,
            ];
            match short.iter().find(|&&k| count(&outcomes, k, begun) < 20) {
                None if count(&outcomes, Kind::Slow, begun) >= 3 => Ok(()),
                kind => Err(format!(
                    "too few answers yet ({kind:?}); {}",
                    summary(&outcomes)
                )),
            }
        },
    )
    .await;

    // The new binary (a second configuration: the same listeners, its own access log, so the
    // logs tell which process served what) waits on the upgrade socket for the sockets...
    let new_yaml = std::fs::read_to_string(old.path("gateway.yaml"))
        .unwrap()
        .replace("access.log\"", "access-new.log\"");
    std::fs::write(old.path("gateway-new.yaml"), new_yaml).unwrap();
    let new_err = old.path("gateway-new.err");
    let mut new = Proc(
        std::process::Command::new(BIN)
            .args(["run", "--upgrade", "--no-watch", "-c"])
            .arg(old.path("gateway-new.yaml"))
            .env("TEST_ADMIN_TOKEN", ADMIN_TOKEN)
            .env(
                "RUST_LOG",
                "warn,tenant_gateway=info,pingora_core::server=info",
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&new_err).unwrap())
            .spawn()
            .expect("spawn the new gateway"),
    );
    let old_err = old.path("gateway.err");
    let logs = || {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- old ---\n{}\n--- new ---\n{}",
            read(&old_err),
            read(&new_err)
        )
    };
    eventually_blocking_with_log(
        "the new process listening on the upgrade socket",
        Duration::from_secs(20),
        logs,
        || {
            if let Some(status) = new.0.try_wait().unwrap() {
                panic!("the new process exited ({status})");
            }
            std::fs::metadata(&upgrade_sock).map(|_| ())
        },
    );
    // Idle keep-alive connections to the old process, each with one request answered.
    let mut idle = Vec::new();
    for i in 0..4 {
        let mut c = tokio::net::TcpStream::connect(old.http).await.unwrap();
        let (head, _) = raw_get(&mut c, &format!("/idle/{i}-before")).await.unwrap();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        idle.push(c);
    }
    // ...and the old one sends them on SIGQUIT.
    let quit = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-QUIT", &old.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());

    // Once it drains, each idle connection still answers its next request, and says it closes.
    eventually_blocking_with_log(
        "the old process draining",
        CLOSE_TIMEOUT + Duration::from_secs(5),
        logs,
        || drain_started(&old.stderr()).ok_or("not yet"),
    );
    for (i, c) in idle.iter_mut().enumerate() {
        let answer = raw_get(c, &format!("/idle/{i}-after")).await;
        let head = answer.unwrap_or_else(|e| {
            panic!(
                "idle keep-alive connection {i} at the drain: {e}\n{}",
                logs()
            )
        });
        assert!(
            head.0.starts_with("http/1.1 200") && head.0.contains("connection: close"),
            "{head:?}"
        );
    }
    let status = eventually_blocking_with_log(
        "the old process exiting",
        CLOSE_TIMEOUT + GRACE + SHUTDOWN_TIMEOUT + Duration::from_secs(5),
        logs,
        || old.try_wait().ok_or("still running"),
    );
    let exited_after = quit.elapsed();
    let exited = SystemTime::now();
    // Load on the new process alone for a moment, then stop.
    eventually(
        "the new process serving every kind of load",
        Duration::from_secs(10),
        || async {
            let all = [
                Kind::KeepAlive,
                Kind::NewConn,
                Kind::Tls,
                Kind::TlsNewConn,
                Kind::Admin,
            ];
            match all.iter().find(|&&k| count(&outcomes, k, exited) < 20) {
                None if count(&outcomes, Kind::Slow, exited) >= 3 => Ok(()),
                kind => Err(format!(
                    "too few answers yet ({kind:?}); {}",
                    summary(&outcomes)
                )),
            }
        },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());

    // Zero failed requests, of every kind.
    let failed: Vec<_> = outcomes.iter().filter(|o| o.result != Ok(200)).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed, e.g. {:#?}\n{}",
        failed.len(),
        outcomes.len(),
        &failed[..failed.len().min(5)],
        logs()
    );

    // The old process exits 0 after its grace period (plus Pingora's pause), not before.
    assert!(status.success(), "old process: {status}\n{}", logs());
    assert!(
        exited_after >= CLOSE_TIMEOUT + GRACE - Duration::from_millis(300)
            && exited_after <= CLOSE_TIMEOUT + GRACE + SHUTDOWN_TIMEOUT + Duration::from_secs(3),
        "the old process exited {exited_after:?} after SIGQUIT"
    );

    // Which process served what: each writes its own access log (paths are unique).
    let drain = drain_started(&old.stderr())
        .unwrap_or_else(|| panic!("no shutdown broadcast in the old log\n{}", logs()));
    // No retry was needed: idle keep-alive connections stay open for `keepalive_drain`, so
    // the next request on each is answered (with `Connection: close`) instead of reset.
    let retried: Vec<&Outcome> = outcomes.iter().filter(|o| o.retried).collect();
    assert!(
        retried.is_empty(),
        "requests sent again after a reset (drain at {drain:?}): {retried:#?}\n{}",
        logs()
    );
    let served_old = logged_paths(&old.access_log);
    let new_log = old.path("access-new.log");
    let must_be_new: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.kind != Kind::Admin && o.start > drain + Duration::from_millis(100))
        .collect();
    let served_new = eventually_blocking(
        "the new process's access log listing the requests sent after the drain",
        Duration::from_secs(5),
        || {
            let paths = logged_paths(&new_log);
            match must_be_new.iter().find(|o| !paths.contains(&o.path)) {
                None => Ok(paths),
                Some(o) => Err(format!("{} not in {}", o.path, new_log.display())),
            }
        },
    );
    // Nothing sent after the drain began reached the old process.
    assert!(
        must_be_new.len() > 100,
        "{} requests after the drain",
        must_be_new.len()
    );
    // Except, on a keep-alive connection opened before the drain, its next request (answered
    // with `Connection: close`): at most one per pooled connection (3 + 3 HTTP, 1 HTTPS),
    // within the keep-alive drain.
    let late_old: Vec<_> = must_be_new
        .iter()
        .filter(|o| served_old.contains(&o.path))
        .collect();
    assert!(
        late_old.len() <= 7
            && late_old
                .iter()
                .all(|o| o.kind.pooled() && o.start < drain + KEEPALIVE_DRAIN),
        "served by the old process after its drain: {late_old:#?}"
    );
    // And the new process served some of the load while both ran.
    assert!(
        outcomes
            .iter()
            .any(|o| o.end < drain && served_new.contains(&o.path)),
        "the new process served nothing before the old one drained"
    );

    // Slow requests in flight when the old process began draining finished there, with 200.
    let in_flight: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.kind == Kind::Slow && o.start < drain && o.end > drain)
        .collect();
    assert!(
        !in_flight.is_empty() && in_flight.iter().all(|o| served_old.contains(&o.path)),
        "slow requests across the drain at {drain:?}: {in_flight:#?}"
    );
    // Each slow connection had one in flight; the old process finished it after its listeners
    // closed, well inside the grace period.
    assert!(
        in_flight.len() >= 3,
        "slow requests in flight at the drain: {in_flight:#?}"
    );

    // The admin listener answered throughout: before, during the overlap and after the exit.
    let admin_gap = outcomes
        .iter()
        .filter(|o| o.kind == Kind::Admin)
        .map(|o| o.start)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).unwrap_or_default())
        .max()
        .unwrap();
    assert!(
        admin_gap < Duration::from_secs(1),
        "admin silent for {admin_gap:?}"
    );
    new.kill();
}
