//! A real ACME server for the TLS tests: Let's Encrypt's pebble (Debian package `pebble`,
//! which also ships `pebble-challtestsrv`), started as separate processes on free loopback
//! ports and killed when dropped, plus `openssl`-based helpers to look at the certificates a
//! TLS server presents.
//!
//! * `pebble-challtestsrv` is only the DNS server pebble's validator asks: it answers every A
//!   query with 127.0.0.1 (no AAAA), so every name an order asks for resolves to loopback.
//!   Its own HTTP-01 / TLS-ALPN-01 responders are disabled: the gateway answers challenges.
//! * pebble validates HTTP-01 at `http://<name>:<http_port>/.well-known/acme-challenge/<token>`
//!   on 127.0.0.1 (the request carries `Host: <name>:<http_port>`) and TLS-ALPN-01 at
//!   127.0.0.1:<tls_port>, so point `http_port` / `tls_port` at the gateway's listeners.
//! * pebble's own HTTPS (ACME directory and management API) uses a self-signed certificate
//!   made here, `ca_cert`, for `localhost` and `127.0.0.1`; trust it in the ACME client
//!   (instant-acme: `Account::builder_with_root(&pebble.ca_cert)`).
//! * The issuing root and intermediate are new at every pebble start: fetch them with
//!   `root_pem()` / `intermediate_pem()` after each (re)start.
//!
//! `scripts/install-deps.sh test` installs Debian's `pebble` and `openssl`.
#![allow(dead_code)]

use super::{free_port, wait_until_listening, Proc};
use std::fs::OpenOptions;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Pebble and its DNS server (pebble-challtestsrv).
pub struct Pebble {
    /// The ACME directory, `https://127.0.0.1:<port>/dir`.
    pub dir_url: String,
    /// Pebble's management API, `https://127.0.0.1:<port>` (`/roots/0`, `/intermediates/0`, ...).
    pub mgmt_url: String,
    /// PEM of pebble's own HTTPS certificate (self-signed, SANs localhost and 127.0.0.1): the
    /// one root to trust for `dir_url` and `mgmt_url`. Not the issuing root: see `root_pem()`.
    pub ca_cert: PathBuf,
    /// pebble's ACME listener (`listenAddress`).
    pub listen: SocketAddr,
    /// pebble's management listener (`managementListenAddress`).
    pub mgmt: SocketAddr,
    /// challtestsrv's DNS server (TCP and UDP), which pebble uses as resolver.
    pub dns: SocketAddr,
    /// challtestsrv's management API, `http://127.0.0.1:<port>` (see `add_a`, `set_default_ipv4`).
    pub chall_mgmt_url: String,
    /// Port pebble's validator connects to on 127.0.0.1 for HTTP-01.
    pub http_port: u16,
    /// Port pebble's validator connects to on 127.0.0.1 for TLS-ALPN-01.
    pub tls_port: u16,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    pebble: Option<Proc>,
    challtestsrv: Proc,
}

impl Pebble {
    /// Starts challtestsrv and pebble, with HTTP-01 validated at 127.0.0.1:`http_port` and
    /// TLS-ALPN-01 at 127.0.0.1:`tls_port`, no validation delay, no nonce rejection, no authz
    /// reuse. Returns once the ACME directory answers.
    pub fn start(http_port: u16, tls_port: u16) -> Pebble {
        Self::start_with(http_port, tls_port, &[], &[])
    }

    /// Like `start`, with more (or overriding) environment for pebble, e.g.
    /// `PEBBLE_WFE_NONCEREJECT=50` (reject half the good nonces with `badNonce`),
    /// `PEBBLE_AUTHZREUSE=100`, `PEBBLE_CHAIN_LENGTH=2`, `PEBBLE_VA_SLEEPTIME=<s>` with
    /// `PEBBLE_VA_NOSLEEP=0`. Never `PEBBLE_VA_ALWAYS_VALID` in a test that claims issuance works.
    pub fn start_with_env(http_port: u16, tls_port: u16, env: &[(&str, &str)]) -> Pebble {
        Self::start_with(http_port, tls_port, env, &[])
    }

    /// Like `start_with_env`, with more keys for the `"pebble"` object of pebble-config.json,
    /// e.g. `("certificateValidityPeriod", json!(120))` (seconds; default about 5 years) to
    /// get short-lived certificates for renewal tests.
    pub fn start_with(
        http_port: u16,
        tls_port: u16,
        env: &[(&str, &str)],
        config: &[(&str, serde_json::Value)],
    ) -> Pebble {
        for tool in ["pebble", "pebble-challtestsrv", "openssl"] {
            assert!(
                Command::new(tool)
                    .arg("-h")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok(),
                "{tool} is missing: run scripts/install-deps.sh test"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let ca_cert = dir.path().join("pebble-cert.pem");
        let ca_key = dir.path().join("pebble-key.pem");
        // pebble's own HTTPS certificate, trusted as its own root.
        self_signed(
            &ca_cert,
            &ca_key,
            "pebble-localhost",
            "DNS:localhost,IP:127.0.0.1",
        );

        let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mgmt: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let dns: SocketAddr = format!("127.0.0.1:{}", free_tcp_udp_port())
            .parse()
            .unwrap();
        let chall_mgmt: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();

        let mut pebble_cfg = serde_json::json!({
            "listenAddress": listen.to_string(),
            "managementListenAddress": mgmt.to_string(),
            "certificate": ca_cert.display().to_string(),
            "privateKey": ca_key.display().to_string(),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        });
        for (k, v) in config {
            pebble_cfg[*k] = v.clone();
        }
        let cfg = serde_json::json!({ "pebble": pebble_cfg });
        std::fs::write(
            dir.path().join("pebble-config.json"),
            serde_json::to_string_pretty(&cfg).unwrap(),
        )
        .unwrap();

        let chall_log = dir.path().join("challtestsrv.log");
        let child = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &dns.to_string()])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &chall_mgmt.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file(&chall_log))
            .stderr(log_file(&chall_log))
            .spawn()
            .expect("spawn pebble-challtestsrv");
        let mut challtestsrv = Proc(child);
        wait_until_listening(
            &mut challtestsrv,
            dns,
            "pebble-challtestsrv (DNS)",
            &chall_log,
        );
        wait_until_listening(
            &mut challtestsrv,
            chall_mgmt,
            "pebble-challtestsrv (management)",
            &chall_log,
        );

        let mut p = Pebble {
            dir_url: format!("https://{listen}/dir"),
            mgmt_url: format!("https://{mgmt}"),
            ca_cert,
            listen,
            mgmt,
            dns,
            chall_mgmt_url: format!("http://{chall_mgmt}"),
            http_port,
            tls_port,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            dir,
            pebble: None,
            challtestsrv,
        };
        p.start_again();
        p
    }

    /// Kills pebble (challtestsrv keeps running). Its orders, accounts and CA die with it.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.pebble.take() {
            p.kill();
        }
    }

    /// (Re)starts pebble on the same ports with the same configuration (stopping it first if
    /// it runs). Pebble forgets every account and order and generates a NEW issuing root and
    /// intermediate: fetch `root_pem()` again afterwards.
    pub fn start_again(&mut self) {
        self.stop();
        let log = self.path("pebble.log");
        let child = Command::new("pebble")
            .arg("-config")
            .arg(self.path("pebble-config.json"))
            .args(["-dnsserver", &self.dns.to_string()])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .env_remove("PEBBLE_VA_ALWAYS_VALID")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log_file(&log))
            .stderr(log_file(&log))
            .spawn()
            .expect("spawn pebble");
        let mut proc = Proc(child);
        // The management listener comes up first, the ACME listener last (after the CA
        // is generated): once both accept, the directory answers.
        wait_until_listening(&mut proc, self.mgmt, "pebble (management)", &log);
        wait_until_listening(&mut proc, self.listen, "pebble (ACME)", &log);
        self.pebble = Some(proc);
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.pebble {
            Some(p) => matches!(p.0.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// pebble's output (every start, appended) then challtestsrv's.
    pub fn log(&self) -> String {
        format!(
            "--- pebble ---\n{}\n--- pebble-challtestsrv ---\n{}",
            std::fs::read_to_string(self.path("pebble.log")).unwrap_or_default(),
            std::fs::read_to_string(self.path("challtestsrv.log")).unwrap_or_default()
        )
    }

    /// PEM of `ca_cert`.
    pub fn ca_cert_pem(&self) -> String {
        std::fs::read_to_string(&self.ca_cert).unwrap()
    }

    /// A reqwest client that trusts pebble's own HTTPS certificate (and nothing else).
    pub fn client(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.ca_cert_pem().as_bytes()).unwrap();
        reqwest::Client::builder()
            .no_proxy()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    /// The ACME directory as JSON (`newNonce`, `newAccount`, `newOrder`, ...).
    pub async fn directory(&self) -> serde_json::Value {
        self.get_json(&self.dir_url).await
    }

    /// The current issuing root (PEM), from the management API. New at every pebble start.
    pub async fn root_pem(&self) -> String {
        self.mgmt_get("/roots/0").await
    }

    /// The current intermediate (PEM) that signs leaf certificates. New at every pebble start.
    pub async fn intermediate_pem(&self) -> String {
        self.mgmt_get("/intermediates/0").await
    }

    /// `GET <mgmt_url><path>` as text, panicking (with the logs) unless 200.
    pub async fn mgmt_get(&self, path: &str) -> String {
        let url = format!("{}{path}", self.mgmt_url);
        let resp = self
            .client()
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.log()));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "GET {url}: {status} {text}\n{}",
            self.log()
        );
        text
    }

    async fn get_json(&self, url: &str) -> serde_json::Value {
        let resp = self
            .client()
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.log()));
        resp.json()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: not JSON ({e})\n{}", self.log()))
    }

    /// Makes challtestsrv answer A queries for `host` with `ip` (e.g. an address where nothing
    /// listens, to make validation fail).
    pub async fn add_a(&self, host: &str, ip: &str) {
        let host = if host.ends_with('.') {
            host.to_string()
        } else {
            format!("{host}.")
        };
        self.chall_post(
            "/add-a",
            serde_json::json!({"host": host, "addresses": [ip]}),
        )
        .await;
    }

    /// Undoes `add_a`.
    pub async fn clear_a(&self, host: &str) {
        let host = if host.ends_with('.') {
            host.to_string()
        } else {
            format!("{host}.")
        };
        self.chall_post("/clear-a", serde_json::json!({"host": host}))
            .await;
    }

    /// Makes challtestsrv's DNS answer TXT queries for `name` with `value` (added to any
    /// value already there).
    pub async fn set_txt(&self, name: &str, value: &str) {
        let host = format!("{}.", name.trim_end_matches('.'));
        self.chall_post(
            "/set-txt",
            serde_json::json!({"host": host, "value": value}),
        )
        .await;
    }

    /// Removes every TXT value of `name`.
    pub async fn clear_txt(&self, name: &str) {
        let host = format!("{}.", name.trim_end_matches('.'));
        self.chall_post("/clear-txt", serde_json::json!({"host": host}))
            .await;
    }

    /// Changes the answer for every A query without an `add_a` entry (127.0.0.1 at start).
    pub async fn set_default_ipv4(&self, ip: &str) {
        self.chall_post("/set-default-ipv4", serde_json::json!({"ip": ip}))
            .await;
    }

    async fn chall_post(&self, path: &str, body: serde_json::Value) {
        let url = format!("{}{path}", self.chall_mgmt_url);
        let resp = super::client()
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        assert!(
            resp.status().is_success(),
            "POST {url} {body}: {}",
            resp.status()
        );
    }
}

/// A self-signed EC certificate (not a CA, so rustls accepts it as a server certificate)
/// with the given subject and subjectAltName (e.g. `DNS:localhost,IP:127.0.0.1`).
pub fn self_signed(cert: &Path, key: &Path, cn: &str, san: &str) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "30", "-subj", &format!("/CN={cn}")])
        .args(["-addext", &format!("subjectAltName={san}")])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "keyUsage=critical,digitalSignature"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl req");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn log_file(path: &Path) -> std::fs::File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// A port free for both TCP and UDP on 127.0.0.1 (challtestsrv's DNS binds both).
fn free_tcp_udp_port() -> u16 {
    for _ in 0..50 {
        let port = free_port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both TCP and UDP");
}

// ---------------------------------------------------------------------------------------
// Certificate helpers (openssl)

/// Runs a command with stdin closed, killing it after `timeout`. Output goes through files,
/// so a chatty command cannot block on a full pipe.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Output, String> {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{cmd:?} did not finish within {timeout:?}: {}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Output {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    })
}

/// The PEM certificates in `text`, in order (each `-----BEGIN CERTIFICATE-----` ...
/// `-----END CERTIFICATE-----\n`).
pub fn split_pem(text: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let end = start + len + END.len();
        certs.push(format!("{}\n", &rest[start..end]));
        rest = &rest[end..];
    }
    certs
}

fn s_client(addr: SocketAddr, sni: &str, extra: &[&str]) -> Result<Output, String> {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &addr.to_string()]);
    if sni.is_empty() {
        cmd.arg("-noservername");
    } else {
        cmd.args(["-servername", sni]);
    }
    cmd.args(extra);
    run_with_timeout(&mut cmd, Duration::from_secs(10))
}

/// The certificates (PEM, leaf first, as sent) a TLS server at `addr` presents for `sni`
/// (`""`: send no SNI at all). Err (with openssl's output) when it presented none, e.g. the
/// handshake was refused. No verification here: see `verify_chain`.
pub fn fetch_served_chain(addr: SocketAddr, sni: &str) -> Result<Vec<String>, String> {
    let out = s_client(addr, sni, &["-showcerts"])?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let certs = split_pem(&stdout);
    if certs.is_empty() {
        return Err(format!(
            "no certificate from {addr} (SNI {sni:?}), openssl s_client {}:\n{}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(certs)
}

/// The ALPN protocol a TLS server at `addr` picks for `sni` when offered `alpn_list`
/// (comma-separated, e.g. `"h2,http/1.1"` or `"acme-tls/1"`); None if none was negotiated or
/// the handshake failed.
pub fn served_alpn(addr: SocketAddr, sni: &str, alpn_list: &str) -> Option<String> {
    let out = s_client(addr, sni, &["-alpn", alpn_list]).ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("ALPN protocol: "))
        .map(|p| p.trim().to_string())
}

/// Verifies a chain as a client connecting to `host` would: the first certificate of
/// `chain_pem` (PEM, leaf first, any intermediates after it) must chain up to `root_pem` for
/// TLS server use and be valid now, and its subjectAltName must cover `host` (a DNS name or
/// an IP address; wildcards are matched as TLS clients do). Err carries openssl's reason.
pub fn verify_chain(chain_pem: &str, root_pem: &str, host: &str) -> Result<(), String> {
    let certs = split_pem(chain_pem);
    let Some(leaf) = certs.first() else {
        return Err("no certificate in the chain".into());
    };
    if split_pem(root_pem).is_empty() {
        return Err("no certificate in the root PEM".into());
    }
    let dir = tempfile::tempdir().unwrap();
    let leaf_path = dir.path().join("leaf.pem");
    let root_path = dir.path().join("root.pem");
    let inter_path = dir.path().join("intermediates.pem");
    std::fs::write(&leaf_path, leaf).unwrap();
    std::fs::write(&root_path, root_pem).unwrap();
    std::fs::write(&inter_path, certs[1..].concat()).unwrap();

    let sans = cert_sans(leaf)?;
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    let covered = sans.iter().any(|san| {
        if is_ip {
            san.strip_prefix("IP:") == Some(host)
        } else {
            san.strip_prefix("DNS:")
                .is_some_and(|name| dns_name_matches(name, host))
        }
    });
    if !covered {
        return Err(format!("subjectAltName {sans:?} does not cover {host}"));
    }

    let mut cmd = Command::new("openssl");
    cmd.arg("verify")
        .arg("-CAfile")
        .arg(&root_path)
        .args(["-purpose", "sslserver"]);
    if certs.len() > 1 {
        cmd.arg("-untrusted").arg(&inter_path);
    }
    if is_ip {
        cmd.args(["-verify_ip", host]);
    } else {
        cmd.args(["-verify_hostname", host]);
    }
    cmd.arg(&leaf_path);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(10))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.contains(": OK") {
        Ok(())
    } else {
        Err(format!("openssl verify: {}", text.trim()))
    }
}

fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if let Some(suffix) = pattern.strip_prefix("*.") {
        match host.split_once('.') {
            Some((label, rest)) => !label.is_empty() && rest == suffix,
            None => false,
        }
    } else {
        pattern == host
    }
}

/// The subjectAltName entries of a PEM certificate, as openssl prints them
/// (`DNS:a.example.com`, `IP:127.0.0.1`; IPv6 as `IP:0:0:...`).
pub fn cert_sans(cert_pem: &str) -> Result<Vec<String>, String> {
    let text = openssl_x509(cert_pem, &["-ext", "subjectAltName"])?;
    Ok(text
        .lines()
        .skip_while(|l| !l.contains("Subject Alternative Name"))
        .skip(1)
        .flat_map(|l| l.split(','))
        .map(|s| s.trim().replace("IP Address:", "IP:"))
        .filter(|s| !s.is_empty())
        .collect())
}

/// What the tests look at in a certificate, from `openssl x509`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// e.g. `CN = Pebble Intermediate CA 0f1d08`
    pub subject: String,
    pub issuer: String,
    /// Hex, uppercase, as openssl prints it.
    pub serial: String,
    /// e.g. `Nov 22 11:42:17 2026 GMT`
    pub not_before: String,
    pub not_after: String,
    /// SHA-256 fingerprint, `AB:CD:...`: equal iff the certificates are the same.
    pub fingerprint: String,
    pub sans: Vec<String>,
}

pub fn cert_info(cert_pem: &str) -> Result<CertInfo, String> {
    let text = openssl_x509(
        cert_pem,
        &[
            "-subject",
            "-issuer",
            "-serial",
            "-dates",
            "-fingerprint",
            "-sha256",
            "-nameopt",
            "oneline",
        ],
    )?;
    let field = |prefix: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    Ok(CertInfo {
        subject: field("subject="),
        issuer: field("issuer="),
        serial: field("serial="),
        not_before: field("notBefore="),
        not_after: field("notAfter="),
        fingerprint: text
            .lines()
            .find_map(|l| {
                l.split_once("Fingerprint=")
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default(),
        sans: cert_sans(cert_pem)?,
    })
}

fn openssl_x509(cert_pem: &str, args: &[&str]) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cert.pem");
    std::fs::write(&path, cert_pem).unwrap();
    let mut cmd = Command::new("openssl");
    cmd.args(["x509", "-noout", "-in"]).arg(&path).args(args);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(10))?;
    if !out.status.success() {
        return Err(format!(
            "openssl x509: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

// ---------------------------------------------------------------------------------------
// A stand-in TLS server

/// `openssl s_server` presenting a given chain (leaf first) and key on a free loopback port,
/// answering any HTTP request with a status page (`-www`). For checking certificates without
/// a gateway; killed when dropped.
pub struct OpensslServer {
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    proc: Proc,
}

impl OpensslServer {
    /// `alpn`: protocols to accept, comma-separated (e.g. `"h2,http/1.1"`), or `""` for none.
    pub fn start(chain_pem: &str, key_pem: &str, alpn: &str) -> OpensslServer {
        let certs = split_pem(chain_pem);
        assert!(!certs.is_empty(), "no certificate to serve");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("leaf.pem"), &certs[0]).unwrap();
        std::fs::write(dir.path().join("chain.pem"), certs[1..].concat()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key_pem).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = dir.path().join("s_server.log");
        let mut cmd = Command::new("openssl");
        cmd.args(["s_server", "-www", "-accept", &addr.to_string()])
            .args(["-cert", "leaf.pem", "-key", "key.pem"]);
        if certs.len() > 1 {
            cmd.args(["-cert_chain", "chain.pem"]);
        }
        if !alpn.is_empty() {
            cmd.args(["-alpn", alpn]);
        }
        let child = cmd
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log_file(&log))
            .stderr(log_file(&log))
            .spawn()
            .expect("spawn openssl s_server");
        let mut proc = Proc(child);
        wait_until_listening(&mut proc, addr, "openssl s_server", &log);
        OpensslServer { addr, dir, proc }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("s_server.log")).unwrap_or_default()
    }
}

/// A gateway.yaml (see `gateway_yaml`) with an HTTPS listener and ACME against `pebble`,
/// with short retry and check intervals; `extra_acme` is appended inside `tls.acme`.
pub fn acme_gateway_yaml(web: &super::Backend, pebble: &Pebble, extra_acme: &str) -> String {
    super::gateway_yaml(
        &[web],
        &format!(
            r#"tls:
  certs_dir: certs
  acme:
    directory_url: {dir}
    ca_file: {ca}
    retry_min: 500ms
    retry_max: 2s
    check_interval: 300ms
{extra_acme}"#,
            dir = pebble.dir_url,
            ca = pebble.ca_cert.display(),
        ),
    )
    .replace(
        "  http: [\"{http}\"]\n",
        "  http: [\"{http}\"]\n  https: [\"{https}\"]\n",
    )
}

/// `GET /certs` of a gateway's admin API.
pub async fn certs(gw: &super::Gateway) -> serde_json::Value {
    super::admin(gw, reqwest::Method::GET, "/certs", None)
        .await
        .json()
}

/// Waits until the admin API reports `host` with `status` (`valid`, `failing`), and answers
/// that host's entry.
pub async fn wait_for_status(
    gw: &super::Gateway,
    host: &str,
    status: &str,
    within: Duration,
) -> serde_json::Value {
    super::eventually_with_log(
        &format!("{host} {status}"),
        within,
        || format!("--- gateway ---\n{}", gw.stderr()),
        || async {
            let c = certs(gw).await;
            let found = c["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|h| h["host"] == host && h["status"] == status)
                .cloned();
            found.ok_or(c)
        },
    )
    .await
}

/// Waits until the admin API reports a valid certificate for `host`.
pub async fn wait_for_cert(gw: &super::Gateway, host: &str, within: Duration) -> serde_json::Value {
    wait_for_status(gw, host, "valid", within).await
}
