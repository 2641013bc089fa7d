//! Test harness: starts the real `tenant-gateway` binary and real echo backends (the binary's
//! `demo-backend` command) as separate processes on free loopback ports, and talks to them
//! over HTTP like any client would.
#![allow(dead_code)]

pub mod fleet;
pub mod forward;
pub mod hostile;
pub mod pebble;
pub mod peers;
pub mod poll;

// Not every test binary polls.
#[allow(unused_imports)]
pub use poll::{
    eventually, eventually_blocking, eventually_blocking_with_log, eventually_with_log,
};

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_tenant-gateway");
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// A loopback port nothing listens on now, never one this test process handed out before:
/// the tests of one binary run in parallel, and a port picked and released by one test could
/// otherwise be picked again by another before the first test's gateway binds it (a gateway's
/// HTTP port once turned out to be another gateway's admin port).
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<std::collections::HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(Mutex::default);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        if given.lock().unwrap().insert(port) {
            return port;
        }
    }
}

pub fn wait_for_port(addr: SocketAddr, what: &str) {
    eventually_blocking(
        &format!("{what} listening on {addr}"),
        Duration::from_secs(20),
        || TcpStream::connect_timeout(&addr, Duration::from_millis(200)),
    );
}

/// Waits until `addr` accepts connections, failing early (with the process's log) if the
/// process exits first. The deadline is generous: on a loaded 2-core CI machine (browser
/// tests running beside it) a Node.js peer took over 20 s to start.
pub fn wait_until_listening(proc: &mut Proc, addr: SocketAddr, what: &str, log: &Path) {
    if let Err(e) = listening_within(proc, addr, what, log, Duration::from_secs(60)) {
        panic!("{e}");
    }
}

/// [`wait_until_listening`] that answers instead of panicking when `within` passes (a process
/// that exits still panics: starting it again would not help).
pub fn listening_within(
    proc: &mut Proc,
    addr: SocketAddr,
    what: &str,
    log: &Path,
    within: Duration,
) -> Result<(), String> {
    let read_log = || std::fs::read_to_string(log).unwrap_or_default();
    let start = std::time::Instant::now();
    loop {
        let refused = match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if let Ok(Some(status)) = proc.0.try_wait() {
            panic!(
                "{what} exited ({status}) before listening on {addr}:\n{}",
                read_log()
            );
        }
        if start.elapsed() >= within {
            return Err(format!(
                "{what} listening on {addr}: not within {within:?}; last seen: {refused}\n{}",
                read_log()
            ));
        }
        std::thread::sleep(poll::POLL_EVERY_BLOCKING);
    }
}

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Proc {
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An echo backend: answers with JSON describing the request it received.
pub struct Backend {
    pub addr: SocketAddr,
    pub name: String,
    proc: Proc,
}

impl Backend {
    pub fn start(name: &str) -> Self {
        Self::start_on(name, free_port())
    }

    pub fn start_on(name: &str, port: u16) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(BIN)
            .args([
                "demo-backend",
                "--listen",
                &addr.to_string(),
                "--name",
                name,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn demo backend");
        wait_for_port(addr, "backend");
        Backend {
            addr,
            name: name.to_string(),
            proc: Proc(child),
        }
    }

    pub fn kill(&mut self) {
        self.proc.kill();
    }
}

/// A running gateway with its configuration directory.
pub struct Gateway {
    pub http: SocketAddr,
    /// Where `{https}` points (listening only when the template uses it).
    pub https: SocketAddr,
    pub admin: SocketAddr,
    pub dir: tempfile::TempDir,
    pub access_log: PathBuf,
    proc: Proc,
}

/// Replaces `{http}`, `{admin}` and `{access_log}` in a gateway.yaml template.
pub struct GatewayBuilder {
    gateway_yaml: String,
    tenants_yaml: String,
    watch: bool,
    http_port: Option<u16>,
    https_port: Option<u16>,
    env: Vec<(String, String)>,
    dir: Option<tempfile::TempDir>,
}

impl GatewayBuilder {
    pub fn new(gateway_yaml: &str, tenants_yaml: &str) -> Self {
        Self {
            gateway_yaml: gateway_yaml.to_string(),
            tenants_yaml: tenants_yaml.to_string(),
            watch: true,
            http_port: None,
            https_port: None,
            env: Vec::new(),
            dir: None,
        }
    }

    /// Port for `{https}` in the template (an HTTPS listener).
    pub fn https_port(mut self, port: u16) -> Self {
        self.https_port = Some(port);
        self
    }

    /// Start in an existing configuration directory (a restart keeps its files).
    pub fn in_dir(mut self, dir: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    /// Use this tenant port (e.g. one already registered as a redirect URI at an IdP).
    pub fn http_port(mut self, port: u16) -> Self {
        self.http_port = Some(port);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn no_watch(mut self) -> Self {
        self.watch = false;
        self
    }

    pub fn start(self) -> Gateway {
        let dir = self.dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let https = self.https_port.unwrap_or_else(free_port);
        let http: SocketAddr = format!("127.0.0.1:{}", self.http_port.unwrap_or_else(free_port))
            .parse()
            .unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let access_log = dir.path().join("access.log");
        let yaml = self
            .gateway_yaml
            .replace("{http}", &http.to_string())
            .replace("{admin}", &admin.to_string())
            .replace("{https}", &format!("127.0.0.1:{https}"))
            .replace("{access_log}", &access_log.display().to_string());
        std::fs::write(dir.path().join("gateway.yaml"), yaml).unwrap();
        std::fs::write(dir.path().join("tenants.yaml"), self.tenants_yaml).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .arg("-c")
            .arg(dir.path().join("gateway.yaml"))
            .env("TEST_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn,tenant_gateway=info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("gateway.err")).unwrap());
        if !self.watch {
            cmd.arg("--no-watch");
        }
        let child = cmd.spawn().expect("spawn gateway");
        let gw = Gateway {
            http,
            https: format!("127.0.0.1:{https}").parse().unwrap(),
            admin,
            dir,
            access_log,
            proc: Proc(child),
        };
        wait_for_port(admin, "gateway admin");
        wait_for_port(http, "gateway");
        gw
    }
}

impl Gateway {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// The exit status once the process has exited (it is not killed).
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.proc.0.try_wait().expect("wait for the gateway")
    }

    /// Stops the process and hands back its configuration directory (to start it again).
    pub fn stop(mut self) -> tempfile::TempDir {
        self.proc.kill();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.path("gateway.err")).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{}", self.admin, path)
    }

    /// Writes a file in the config dir atomically (temp + rename), as editors and tools do.
    pub fn write_config(&self, name: &str, content: &str) {
        let tmp = self.path(&format!(".{name}.tmp"));
        std::fs::write(&tmp, content).unwrap();
        std::fs::rename(&tmp, self.path(name)).unwrap();
    }

    pub async fn get(&self, host: &str, path: &str) -> Reply {
        send(client().get(self.url(path)).header("host", host)).await
    }

    pub async fn reload(&self) -> Reply {
        send(
            client()
                .post(self.admin_url("/reload"))
                .bearer_auth(ADMIN_TOKEN),
        )
        .await
    }

    pub async fn metrics(&self) -> String {
        client()
            .get(self.admin_url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Polls until `host` answers `status` at `path`, or panics after `within`.
    pub async fn wait_for_status(
        &self,
        host: &str,
        path: &str,
        status: u16,
        within: Duration,
    ) -> Reply {
        eventually_with_log(
            &format!("{host}{path} answers {status}"),
            within,
            || format!("--- gateway log ---\n{}", self.stderr()),
            || async {
                let r = self.get(host, path).await;
                if r.status == status {
                    Ok(r)
                } else {
                    Err(format!("{} {}", r.status, r.text))
                }
            },
        )
        .await
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
}

/// A response reduced to what the tests look at.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// For echo-backend answers: a header the backend received.
    pub fn upstream_header(&self, name: &str) -> Option<String> {
        self.json()["headers"][name].as_str().map(str::to_string)
    }

    pub fn backend(&self) -> String {
        self.json()["backend"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// The string at `key` of a JSON object; panics with the object when it is not one.
pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key}: {v:#}"))
}

/// An admin API request with the admin token, and a JSON body when given.
pub async fn admin(
    gw: &Gateway,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let mut req = client()
        .request(method, gw.admin_url(path))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    send(req).await
}

pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request failed");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        text,
    }
}

/// Sends raw bytes and returns the raw response head and body (for malformed requests).
pub fn raw_request(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if response_complete(&out) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn response_complete(buf: &[u8]) -> bool {
    let text = String::from_utf8_lossy(buf);
    let Some(head_end) = text.find("\r\n\r\n") else {
        return false;
    };
    let len = text[..head_end]
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    buf.len() >= head_end + 4 + len
}

/// Runs the binary's `check` command on a config file.
/// The session key the shipped conf/ reads from the environment (`scripts/demo.sh` sets one).
pub const DEMO_SESSION_KEY: (&str, &str) = (
    "TENANT_GATEWAY_SESSION_KEY",
    "test-only-session-key-0123456789abcdef",
);

pub fn check(config: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("check")
        .arg("-c")
        .arg(config)
        .env(DEMO_SESSION_KEY.0, DEMO_SESSION_KEY.1)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A gateway.yaml with one `web` pool over `backends` and the given extra YAML appended.
pub fn gateway_yaml(backends: &[&Backend], extra: &str) -> String {
    let list: Vec<String> = backends.iter().map(|b| format!("\"{}\"", b.addr)).collect();
    format!(
        r#"listeners:
  http: ["{{http}}"]
  admin: "{{admin}}"
server:
  threads: 2
  grace_period: 2s
  graceful_shutdown_timeout: 1s
base_domains:
  - domain: example.com
  - domain: saas.test
pools:
  web:
    backends: [{}]
    connect_timeout: 500ms
    read_timeout: 2s
    health_check:
      path: /healthz
      interval: 200ms
      unhealthy_after: 1
default_routes:
  - prefix: /
    pool: web
tenants:
  source: file
  path: tenants.yaml
admin:
  token_env: TEST_ADMIN_TOKEN
logging:
  access_log: "{{access_log}}"
{extra}"#,
        list.join(", ")
    )
}

pub const TENANT_A: &str = "11111111-1111-4111-8111-111111111111";
pub const TENANT_B: &str = "22222222-2222-4222-8222-222222222222";
pub const TENANT_OFF: &str = "33333333-3333-4333-8333-333333333333";

/// Two active tenants (one with a custom domain) and a disabled one.
pub fn basic_tenants() -> String {
    format!(
        r#"tenants:
  - id: {TENANT_A}
    name: Tenant A
    subdomain: tenant-a
    custom_domains: [www.tenant-a.test]
    tier: premium
  - id: {TENANT_B}
    name: Tenant B
    subdomain: tenant-b
  - id: {TENANT_OFF}
    name: Gone
    subdomain: gone
    status: disabled
"#
    )
}

/// An Argon2 hash of `password` from the binary's `hash-password` (cached per process: the
/// debug build takes a while per hash).
pub fn hash_password(password: &str) -> String {
    static CACHE: OnceLock<Mutex<Vec<(String, String)>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some((_, h)) = cache.lock().unwrap().iter().find(|(p, _)| p == password) {
        return h.clone();
    }
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run hash-password");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "hash-password failed");
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    cache
        .lock()
        .unwrap()
        .push((password.to_string(), hash.clone()));
    hash
}
