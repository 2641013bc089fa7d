//! Real peers for the authentication tests, started as separate processes on free loopback
//! ports and killed when dropped: an OIDC identity provider (node-oidc-provider,
//! `tests/peers/oidc-provider.mjs`), a moto server (Cognito user pools and their tokens), a
//! backend that verifies the gateway's tenant assertion with PyJWT
//! (`tests/peers/assertion_backend.py`), and two login drivers: an HTTP client that follows
//! every redirect by hand, and headless Chromium (`tests/peers/browser_login.mjs`).
//!
//! `scripts/install-deps.sh test` installs what these need (node packages in
//! `tests/peers/node_modules`, moto and PyJWT in `.venv-peers`, Debian's chromium).
#![allow(dead_code)]

use super::{free_port, listening_within, wait_until_listening, Proc};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn peers_dir() -> PathBuf {
    repo_root().join("tests/peers")
}

fn need(path: &Path, what: &str) {
    assert!(
        path.exists(),
        "{what} is missing ({}): run scripts/install-deps.sh test",
        path.display()
    );
}

// ---------------------------------------------------------------------------------------
// OIDC provider

/// A node-oidc-provider IdP (see `tests/peers/oidc-provider.mjs` for every setting).
///
/// * `clients`: `[{"client_id", "client_secret"?, "redirect_uris": [...]}]`; with a secret a
///   confidential client (client_secret_basic or client_secret_post), without one a public
///   client that must use PKCE (S256).
/// * `accounts`: `{"<login>": {"tenant": "<uuid>", "groups": [...], "email"?}}`; other logins
///   get `default_tenant` (no `custom:tenantid` claim at all when `None`) and no groups.
/// * Any login and password is accepted at its login form; the login becomes `sub`.
/// * ID and access tokens (JWT, RS256, `aud` = `urn:tenant-gateway`) carry `sub`, `email`,
///   `custom:tenantid`, `groups`; access tokens also `scope` and `client_id`. The signing key
///   is new at every start and has kid `signing_kid`.
/// * Endpoints: `/auth`, `/token`, `/jwks`, `/me` (userinfo), `/session/end` (RP-initiated
///   logout to `<origin of a redirect URI>/`), `/.well-known/openid-configuration`.
pub struct OidcProvider {
    pub issuer: String,
    pub port: u16,
    pub kid: String,
    clients: Value,
    accounts: Value,
    default_tenant: Option<String>,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    proc: Option<Proc>,
}

impl OidcProvider {
    pub fn start(
        port: u16,
        clients: Value,
        accounts: Value,
        default_tenant: Option<&str>,
        signing_kid: &str,
    ) -> Self {
        Self::start_with_env(port, clients, accounts, default_tenant, signing_kid, &[])
    }

    /// Like `start`, with more environment for the script: `ISSUER` (another issuer URL, e.g.
    /// a name that Chromium maps to loopback), `TOKEN_TTL` (seconds), `API_AUDIENCE`.
    pub fn start_with_env(
        port: u16,
        clients: Value,
        accounts: Value,
        default_tenant: Option<&str>,
        signing_kid: &str,
        env: &[(&str, &str)],
    ) -> Self {
        need(
            &peers_dir().join("node_modules/oidc-provider"),
            "oidc-provider",
        );
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let issuer = env
            .iter()
            .find(|(k, _)| k == "ISSUER")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
        let mut idp = OidcProvider {
            issuer,
            port,
            kid: signing_kid.to_string(),
            clients,
            accounts,
            default_tenant: default_tenant.map(str::to_string),
            env,
            dir: tempfile::tempdir().unwrap(),
            proc: None,
        };
        idp.start_again();
        idp
    }

    /// Starts the provider on the same port with the same settings (a fresh signing key with
    /// the current kid; sessions, codes and refresh tokens of the last run are gone).
    pub fn start_again(&mut self) {
        self.stop();
        // Node.js sometimes stalls at start on a loaded CI machine (once for over 60 s after
        // loading oidc-provider, before building the provider, while its twins started in
        // seconds): a stalled start is abandoned and tried once more before the test fails.
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        let mut proc = self.spawn();
        if let Err(stalled) = listening_within(
            &mut proc,
            addr,
            "oidc-provider",
            &self.log_path(),
            Duration::from_secs(30),
        ) {
            proc.kill();
            eprintln!("starting oidc-provider again: {stalled}");
            proc = self.spawn();
            wait_until_listening(&mut proc, addr, "oidc-provider", &self.log_path());
        }
        self.proc = Some(proc);
    }

    fn spawn(&self) -> Proc {
        let log = self.log_path();
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new("node");
        cmd.arg("oidc-provider.mjs")
            .current_dir(peers_dir())
            .env("PORT", self.port.to_string())
            .env("CLIENTS", self.clients.to_string())
            .env("ACCOUNTS", self.accounts.to_string())
            .env("SIGNING_KID", &self.kid)
            .env_remove("DEFAULT_TENANT")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        if let Some(t) = &self.default_tenant {
            cmd.env("DEFAULT_TENANT", t);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        Proc(cmd.spawn().expect("spawn node (is Node.js installed?)"))
    }

    /// Kills the provider (the port stops answering).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    /// Restarts with a new signing key under `kid`: a key rotation as a relying party sees it
    /// (the JWKS now holds only the new key).
    pub fn restart_with_kid(&mut self, kid: &str) {
        self.kid = kid.to_string();
        self.start_again();
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.proc.as_mut().map(|p| p.0.try_wait()), Some(Ok(None)))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    pub fn discovery_url(&self) -> String {
        self.url("/.well-known/openid-configuration")
    }

    pub fn jwks_url(&self) -> String {
        self.url("/jwks")
    }

    /// Where to reach the provider from this process, whatever its issuer's host name is.
    pub fn addr(&self) -> SocketAddr {
        format!("127.0.0.1:{}", self.port).parse().unwrap()
    }

    /// What the provider printed (startup warnings, `authorization.error: ...` lines).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("oidc-provider.log")
    }
}

/// A free port and an `OidcProvider::start` in one.
pub fn start_oidc_provider(
    clients: Value,
    accounts: Value,
    default_tenant: Option<&str>,
    signing_kid: &str,
) -> OidcProvider {
    OidcProvider::start(free_port(), clients, accounts, default_tenant, signing_kid)
}

// ---------------------------------------------------------------------------------------
// moto (Cognito)

/// A `moto_server` from `.venv-peers`: Cognito user pools (see `cognito_tokens`), DynamoDB.
pub struct Moto {
    pub url: String,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    proc: Proc,
}

/// `moto_server` without threads: one request at a time, one per connection.
const MOTO_SERIAL: &str = "import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app)
run_simple('127.0.0.1', int(sys.argv[1]), DomainDispatcherApplication(create_backend_app),
           threaded=False, request_handler=MotoRequestHandler)
";

impl Moto {
    pub fn start() -> Self {
        let bin = repo_root().join(".venv-peers/bin/moto_server");
        need(&bin, "moto_server");
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        Self::spawn(cmd, port)
    }

    /// A moto server that handles one request at a time, for tests with concurrent DynamoDB
    /// writers. moto's `TransactWriteItems` is not isolated from concurrent requests: a
    /// transaction that fails restores copies of its tables taken when it began (erasing what
    /// another transaction committed meanwhile), and readers can see the items of one that is
    /// about to fail. One request at a time gives the atomicity DynamoDB guarantees.
    pub fn start_serial() -> Self {
        let python = repo_root().join(".venv-peers/bin/python");
        need(&python, "the .venv-peers python");
        let port = free_port();
        let mut cmd = Command::new(python);
        cmd.args(["-c", MOTO_SERIAL, &port.to_string()]);
        Self::spawn(cmd, port)
    }

    fn spawn(mut cmd: Command, port: u16) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("moto.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn moto_server");
        let mut proc = Proc(child);
        wait_until_listening(&mut proc, addr, "moto_server", &log);
        Moto {
            url: format!("http://{addr}"),
            addr,
            dir,
            proc,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }

    /// Stops the server (an IdP outage); its state is gone.
    pub fn stop(&mut self) {
        self.proc.kill();
    }
}

/// Signs a token with moto's Cognito key (`tests/peers/forge_token.py`). `mode`: `moto`
/// (a token moto-backed tenants trust), `none` (alg none), `hs256-public` (HS256 keyed with
/// the RSA public key), `other-key` (a fresh RSA key under `kid`).
pub fn forge_token(claims: &Value, mode: &str, kid: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(repo_root().join(".venv-peers/bin/python"))
        .arg(peers_dir().join("forge_token.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run forge_token.py");
    let input = serde_json::json!({ "claims": claims, "mode": mode, "kid": kid });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "forge_token.py failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Creates a Cognito user pool in `moto` with a user per `(name, tenant uuid)` and an
/// `orphan` user without tenant, and returns their tokens (`tests/peers/cognito_tokens.py`):
///
/// ```json
/// {"pool_id": "us-east-1_…", "client_id": "…", "region": "us-east-1",
///  "issuer": "https://cognito-idp.us-east-1.amazonaws.com/<pool_id>",
///  "jwks_url": "<moto url>/<pool_id>/.well-known/jwks.json",
///  "discovery_url": "<moto url>/<pool_id>/.well-known/openid-configuration",
///  "users": {"<name>": {"username": "<name>-user", "password", "sub", "tenant": "<uuid>",
///                       "groups": ["admins"] (first tenant only) | [],
///                       "id_token", "access_token", "refresh_token"},
///            "orphan": {…, "tenant": null}}}
/// ```
///
/// ID tokens: `aud` = client_id, `token_use` = `id`, `custom:tenantid`, `cognito:groups`,
/// `cognito:username`, `email`. Access tokens: `client_id` (no `aud`), `token_use` =
/// `access`, `scope`, `username`, `cognito:groups`. All signed RS256 with kid `dummy`.
pub fn cognito_tokens(moto: &Moto, tenants: &[(&str, &str)]) -> Value {
    let python = repo_root().join(".venv-peers/bin/python");
    need(&python, "the .venv-peers python");
    let mut cmd = Command::new(python);
    cmd.arg(peers_dir().join("cognito_tokens.py"))
        .arg(&moto.url);
    for (name, tenant) in tenants {
        cmd.arg("--tenant").arg(format!("{name}={tenant}"));
    }
    let out = cmd
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .expect("run cognito_tokens.py");
    assert!(
        out.status.success(),
        "cognito_tokens.py failed ({}):\n{}\n--- moto log ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        moto.log()
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "cognito_tokens.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

// ---------------------------------------------------------------------------------------
// A backend that verifies the gateway's tenant assertion (PyJWT)

/// `tests/peers/assertion_backend.py` from `.venv-peers`: answers every request with 200
/// `{"verified": true, "claims", "kid", "header", ...}` when its `X-Tenant-Assertion` verifies
/// (ES256 with a key of the gateway's JWKS, fetched from `jwks_url` with `Host: jwks_host`,
/// cached and refetched for an unknown kid; `iss` = `issuer`; `aud` = the request's host
/// without port, or the audience given for a path prefix; unexpired), else 401
/// `{"verified": false, "error"}` (`"missing"` without the header). Both carry `host`,
/// `path`, `headers`, `assertion_count` and `jwks_fetches`.
pub struct AssertionBackend {
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    proc: Proc,
}

impl AssertionBackend {
    /// `audiences`: `(path prefix, audience)` for routes with an `assertion_audience`.
    pub fn start(
        jwks_url: &str,
        jwks_host: &str,
        issuer: &str,
        audiences: &[(&str, &str)],
    ) -> Self {
        let python = repo_root().join(".venv-peers/bin/python");
        need(&python, "the .venv-peers python");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("assertion-backend.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(python);
        cmd.arg(peers_dir().join("assertion_backend.py"))
            .args(["--port", &port.to_string()])
            .args(["--jwks-url", jwks_url, "--jwks-host", jwks_host])
            .args(["--issuer", issuer]);
        for (prefix, aud) in audiences {
            cmd.arg("--audience").arg(format!("{prefix}={aud}"));
        }
        let child = cmd
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn assertion_backend.py");
        let mut proc = Proc(child);
        wait_until_listening(&mut proc, addr, "assertion backend", &log);
        AssertionBackend { addr, dir, proc }
    }

    /// Every request it received and what it answered.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("assertion-backend.log")).unwrap_or_default()
    }

    /// `{"requests": N, "jwks_fetches": N}`: requests verified or refused, JWKS fetches.
    pub async fn stats(&self) -> Value {
        let url = format!("http://{}/_backend/stats", self.addr);
        super::client()
            .get(url)
            .send()
            .await
            .expect("assertion backend stats")
            .json()
            .await
            .expect("stats are JSON")
    }

    /// Verifies `token` for `audience` against the JWKS fetched right now (see
    /// [`assertion_backend_verify`]).
    pub async fn verify_now(&self, token: &str, audience: &str) -> Value {
        assertion_backend_verify(self.addr, token, audience).await
    }
}

/// Asks the backend at `addr` to fetch the gateway's JWKS now and verify `token` (signature,
/// `iss`, `aud`; `exp` against the fetch time): `{"verified", "claims", "kid",
/// "jwks_fetched_at" (unix seconds, fractional), "jwks_kids"}` or `{"verified": false,
/// "error"}`. A free function so a spawned task can call it.
pub async fn assertion_backend_verify(addr: SocketAddr, token: &str, audience: &str) -> Value {
    super::client()
        .post(format!("http://{addr}/_backend/verify"))
        .json(&serde_json::json!({ "token": token, "audience": audience }))
        .send()
        .await
        .expect("assertion backend verify")
        .json()
        .await
        .expect("verify answers JSON")
}

// ---------------------------------------------------------------------------------------
// Login drivers

/// What `login_with_http_client` saw.
#[derive(Debug)]
pub struct LoginResult {
    /// Status and body of the last response (the first that is neither a redirect nor an IdP
    /// form: normally the echo backend's JSON behind the gateway).
    pub final_status: u16,
    pub final_body: String,
    pub final_url: String,
    pub final_headers: reqwest::header::HeaderMap,
    /// Every request in order: its status and URL (form posts: the form's action URL).
    pub hops: Vec<(u16, String)>,
    /// Cookies the client would send to `final_url` (name, value).
    pub cookies: Vec<(String, String)>,
    /// Every `Set-Cookie` received: (URL it came from, header value with its attributes).
    pub set_cookies: Vec<(String, String)>,
    /// The client with its cookie jar, to go on with the same session (no redirects followed,
    /// same `resolve` overrides).
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
}

impl LoginResult {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.final_body)
            .unwrap_or_else(|e| panic!("final body is not JSON ({e}): {}", self.final_body))
    }

    /// For an echo backend behind the gateway: a request header it received.
    pub fn upstream_header(&self, name: &str) -> Option<String> {
        self.json()["headers"][name].as_str().map(str::to_string)
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// The first hop whose URL contains `part` (e.g. "/callback", "/auth?").
    pub fn hop(&self, part: &str) -> Option<&(u16, String)> {
        self.hops.iter().find(|(_, u)| u.contains(part))
    }
}

/// A client like the login driver's: a cookie jar, no redirects followed, no proxy, and
/// `resolve` overrides (host → address; the port in the URL is the one used, so give the
/// gateway's port in URLs like `http://tenant-a.gw.test:<port>/`).
pub fn session_client(
    resolve: &[(&str, SocketAddr)],
) -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    // Like a browser: HTML first, so the gateway answers with a login redirect, not a 401.
    let mut accept = reqwest::header::HeaderMap::new();
    accept.insert(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"),
    );
    let mut builder = reqwest::Client::builder()
        .default_headers(accept)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .timeout(Duration::from_secs(15));
    for (host, addr) in resolve {
        builder = builder.resolve(host, *addr);
    }
    (builder.build().unwrap(), jar)
}

/// Drives a whole login with a plain HTTP client, one visible hop at a time: GET
/// `start_url` (the gateway) → 302 to the IdP `/auth` → 303 to its login form, posted with
/// `login` and any password → consent form, posted → 303 back to the gateway's callback →
/// the gateway's redirect to the original path → the final answer. Every 3xx with a
/// `Location` is followed with a GET; every 200 page holding an IdP form (oidc-provider's
/// devInteractions login or consent) is submitted; the first other answer ends the flow.
pub async fn login_with_http_client(
    start_url: &str,
    login: &str,
    resolve: &[(&str, SocketAddr)],
) -> LoginResult {
    let (client, jar) = session_client(resolve);
    login_with(client, jar, start_url, login).await
}

/// `login_with_http_client` with a client of your own (e.g. one that already holds a
/// session from `session_client`).
pub async fn login_with(
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    start_url: &str,
    login: &str,
) -> LoginResult {
    drive(client, jar, start_url, Some(login), None).await
}

/// Follows redirects and IdP forms from `start_url` like the login driver, but logs in
/// nobody (a login form is returned as the final page) and stops at the first response whose
/// URL starts with `stop_prefix`. For a logout: GET the gateway's logout URL, the IdP's
/// `/session/end` confirmation form is posted, and the flow stops at the
/// `post_logout_redirect_uri` (`stop_prefix`) instead of going on to a new login.
pub async fn follow_until(
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    start_url: &str,
    stop_prefix: &str,
) -> LoginResult {
    drive(client, jar, start_url, None, Some(stop_prefix)).await
}

async fn drive(
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    start_url: &str,
    login: Option<&str>,
    stop_prefix: Option<&str>,
) -> LoginResult {
    use reqwest::cookie::CookieStore;

    let mut hops: Vec<(u16, String)> = Vec::new();
    let mut set_cookies = Vec::new();
    let mut url = reqwest::Url::parse(start_url).expect("start_url");
    let mut post: Option<Vec<(String, String)>> = None;
    let (status, headers, body) = 'flow: {
        for _ in 0..30 {
            let req = match post.take() {
                Some(form) => client.post(url.clone()).form(&form),
                None => client.get(url.clone()),
            };
            let resp = req.send().await.unwrap_or_else(|e| {
                panic!("login: request to {url} failed: {e}\nhops so far: {hops:#?}")
            });
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            for v in headers.get_all(reqwest::header::SET_COOKIE) {
                set_cookies.push((url.to_string(), v.to_str().unwrap_or_default().to_string()));
            }
            let body = resp.text().await.unwrap_or_default();
            hops.push((status, url.to_string()));
            // The start URL itself never stops the flow (a logout URL is under the prefix).
            if hops.len() > 1 && stop_prefix.is_some_and(|p| url.as_str().starts_with(p)) {
                break 'flow (status, headers, body);
            }

            if (300..400).contains(&status) {
                if let Some(loc) = headers.get(reqwest::header::LOCATION) {
                    let loc = loc.to_str().expect("Location is text");
                    url = url
                        .join(loc)
                        .unwrap_or_else(|e| panic!("bad Location {loc:?} ({e})"));
                    continue;
                }
            }
            let Some((action, mut fields)) = idp_form(&body).filter(|_| status == 200) else {
                break 'flow (status, headers, body);
            };
            if fields.iter().any(|(n, _)| n == "login") {
                // A login form and nobody to log in: that is where this flow ends.
                let Some(login) = login else {
                    break 'flow (status, headers, body);
                };
                for (name, value) in fields.iter_mut() {
                    match name.as_str() {
                        "login" => *value = login.to_string(),
                        "password" => *value = "any-password".to_string(),
                        _ => {}
                    }
                }
                if !fields.iter().any(|(n, _)| n == "password") {
                    fields.push(("password".into(), "any-password".into()));
                }
            }
            url = url
                .join(&action)
                .unwrap_or_else(|e| panic!("bad form action {action:?} ({e})"));
            post = Some(fields);
        }
        panic!("login: more than 30 hops: {hops:#?}");
    };
    let cookies = jar
        .cookies(&url)
        .map(|v| parse_cookie_header(v.to_str().unwrap_or_default()))
        .unwrap_or_default();
    LoginResult {
        final_status: status,
        final_body: body,
        final_url: url.to_string(),
        final_headers: headers,
        hops,
        cookies,
        set_cookies,
        client,
        jar,
    }
}

fn parse_cookie_header(v: &str) -> Vec<(String, String)> {
    v.split(';')
        .filter_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// The first `<form>` of an oidc-provider interaction page (login: `prompt=login`, `login`,
/// `password`; consent: `prompt=consent`) or its logout confirmation: its action and named
/// inputs with their values.
fn idp_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let start = html.find("<form")?;
    let end = html[start..]
        .find("</form>")
        .map(|i| start + i)
        .unwrap_or(html.len());
    let form = &html[start..end];
    let tag_end = form.find('>')?;
    let action = attr(&form[..tag_end], "action")?;
    let mut fields = Vec::new();
    let mut rest = &form[tag_end..];
    while let Some(i) = rest.find("<input") {
        rest = &rest[i..];
        let close = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..close];
        if let Some(name) = attr(tag, "name") {
            fields.push((name, attr(tag, "value").unwrap_or_default()));
        }
        rest = &rest[close..];
    }
    let idp_like = fields
        .iter()
        .any(|(n, _)| n == "prompt" || n == "login" || n == "xsrf");
    idp_like.then_some((action, fields))
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let i = tag.find(&needle)? + needle.len();
    let len = tag[i..].find('"')?;
    Some(html_unescape(&tag[i..i + len]))
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&#x3D;", "=")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Logs in through headless Chromium (`tests/peers/browser_login.mjs`): opens `start_url`,
/// logs in at the IdP as `login`, and waits for a URL starting with `expect_prefix`.
/// `*.gw.test` resolves to 127.0.0.1 in the browser. Returns
///
/// ```json
/// {"url": "<final url>", "status": 200, "body": "<document.body.innerText>",
///  "steps": ["<main-frame URLs in order>"], "login_form_seen": true,
///  "cookies": [{"name", "value", "domain", "path", "httpOnly", "secure",
///               "sameSite": "Lax"|"Strict"|"None", "expires"}]}
/// ```
///
/// Blocking (a few seconds): from a tokio test whose runtime also serves something the browser
/// talks to, call it through `tokio::task::spawn_blocking`.
pub fn browser_login(start_url: &str, login: &str, expect_prefix: &str) -> Value {
    browser_login_with(start_url, login, expect_prefix, "")
}

/// `browser_login` with extra Chromium host resolver rules, e.g. `"MAP idp.test 127.0.0.1"`.
pub fn browser_login_with(
    start_url: &str,
    login: &str,
    expect_prefix: &str,
    host_rules: &str,
) -> Value {
    need(
        &peers_dir().join("node_modules/playwright-core"),
        "playwright-core",
    );
    need(Path::new("/usr/bin/chromium"), "chromium");
    let out = Command::new("node")
        .arg("browser_login.mjs")
        .current_dir(peers_dir())
        .env("START_URL", start_url)
        .env("LOGIN", login)
        .env("EXPECT_PREFIX", expect_prefix)
        .env("HOST_RULES", host_rules)
        .stdin(Stdio::null())
        .output()
        .expect("run browser_login.mjs");
    assert!(
        out.status.success(),
        "browser login failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "browser_login.mjs printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

// ---------------------------------------------------------------------------------------
// Tokens

/// The claims of a JWT, not verified (for asserting what a peer issued).
pub fn jwt_claims(token: &str) -> Value {
    jwt_part(token, 1)
}

/// The header of a JWT (`alg`, `kid`, `typ`).
pub fn jwt_header(token: &str) -> Value {
    jwt_part(token, 0)
}

fn jwt_part(token: &str, i: usize) -> Value {
    let part = token
        .split('.')
        .nth(i)
        .unwrap_or_else(|| panic!("not a JWT: {token}"));
    serde_json::from_slice(&base64url_decode(part)).unwrap_or_else(|e| panic!("not a JWT ({e})"))
}

pub fn base64url_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => panic!("not base64url: {s}"),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Exchanges an authorization code at the provider's token endpoint as a confidential client
/// (client_secret_basic) and returns the token response (`id_token`, `access_token`,
/// `refresh_token`, `expires_in`, `scope`, `token_type`).
pub async fn exchange_code(
    idp: &OidcProvider,
    client_id: &str,
    client_secret: &str,
    code: &str,
    redirect_uri: &str,
) -> Value {
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("http://{}/token", idp.addr()))
        .basic_auth(client_id, Some(client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ])
        .send()
        .await
        .expect("token request");
    let status = resp.status();
    let body: Value = resp.json().await.expect("token response is JSON");
    assert!(
        status.is_success(),
        "token endpoint answered {status}: {body}"
    );
    body
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

// ---------------------------------------------------------------------------------------
// Cognito administration (moto), for the provisioning tests

/// Runs `tests/peers/cognito_admin.py --endpoint <moto_url> <args...>` and returns the one
/// JSON object it prints; panics (with its stderr) when it fails. Subcommands: `create-pool`,
/// `describe-client --pool P --client C`, `list-clients --pool P`, `group --pool P --name G`,
/// `groups --pool P`, `user --pool P --username U`, `login ...` (see the script).
pub fn cognito_admin(moto_url: &str, args: &[&str]) -> Value {
    cognito_admin_result(moto_url, args).unwrap_or_else(|e| panic!("{e}"))
}

/// [`cognito_admin`] that answers the script's failure (its stderr) instead of panicking.
pub fn cognito_admin_result(moto_url: &str, args: &[&str]) -> Result<Value, String> {
    let python = repo_root().join(".venv-peers/bin/python");
    need(&python, "the .venv-peers python");
    let out = Command::new(python)
        .arg(peers_dir().join("cognito_admin.py"))
        .args(["--endpoint", moto_url])
        .args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .output()
        .expect("run cognito_admin.py");
    if !out.status.success() {
        return Err(format!(
            "cognito_admin.py {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "cognito_admin.py {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    }))
}

/// A user pool made in moto for provisioning (custom attribute `tenantid`).
#[derive(Clone, Debug)]
pub struct CognitoPool {
    /// The moto server (where the pool lives and the keys are served).
    pub moto_url: String,
    pub pool_id: String,
    /// What moto puts in `iss`: `https://cognito-idp.us-east-1.amazonaws.com/<pool_id>`.
    pub issuer: String,
    /// `<moto_url>/<pool_id>/.well-known/jwks.json`.
    pub jwks_url: String,
}

impl CognitoPool {
    pub fn create(moto_url: &str) -> Self {
        let v = cognito_admin(moto_url, &["create-pool"]);
        let s = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("no {k}: {v}"))
                .to_string()
        };
        CognitoPool {
            moto_url: moto_url.to_string(),
            pool_id: s("pool_id"),
            issuer: s("issuer"),
            jwks_url: s("jwks_url"),
        }
    }

    fn run(&self, sub: &str, args: &[&str]) -> Value {
        self.try_run(sub, args).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_run(&self, sub: &str, args: &[&str]) -> Result<Value, String> {
        let mut all = vec![sub, "--pool", self.pool_id.as_str()];
        all.extend_from_slice(args);
        cognito_admin_result(&self.moto_url, &all)
    }

    /// The same pool reached at another URL (e.g. through a [`FaultProxy`]).
    pub fn via(&self, url: &str) -> Self {
        CognitoPool {
            moto_url: url.to_string(),
            ..self.clone()
        }
    }

    /// A confidential app client (code flow, `openid email`) made outside the gateway:
    /// `{"client_id", "client_secret"}`.
    pub fn create_client(&self, name: &str) -> Value {
        self.run("create-client", &["--name", name])
    }

    /// Invites `username` (its email) with `custom:tenantid` = `tenant`, in `group`.
    pub fn invite_user(&self, username: &str, tenant: &str, group: &str) -> Result<Value, String> {
        self.try_run(
            "invite-user",
            &["--username", username, "--tenant", tenant, "--group", group],
        )
    }

    /// `{"exists": true, "ClientName", "ClientSecret", "CallbackURLs", "LogoutURLs",
    /// "AllowedOAuthFlows", "AllowedOAuthScopes", "AllowedOAuthFlowsUserPoolClient",
    /// "ExplicitAuthFlows"}` or `{"exists": false}`.
    pub fn describe_client(&self, client_id: &str) -> Value {
        self.run("describe-client", &["--client", client_id])
    }

    /// Every app client: `[{"ClientId", "ClientName"}]`, sorted by name.
    pub fn clients(&self) -> Vec<Value> {
        self.run("list-clients", &[])["clients"]
            .as_array()
            .expect("clients")
            .clone()
    }

    /// Names of every group, sorted.
    pub fn groups(&self) -> Vec<String> {
        self.run("groups", &[])["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| g.as_str().unwrap().to_string())
            .collect()
    }

    pub fn group_exists(&self, name: &str) -> bool {
        self.run("group", &["--name", name])["exists"] == true
    }

    /// `{"exists": true, "username", "status", "enabled", "attributes": {..}, "groups": [..]}`
    /// or `{"exists": false}`.
    pub fn user(&self, username: &str) -> Value {
        self.run("user", &["--username", username])
    }

    /// Logs `username` in through `client_id` as a user invited with a temporary password
    /// does (USER_PASSWORD_AUTH with SECRET_HASH, NEW_PASSWORD_REQUIRED answered, then one
    /// refresh with SECRET_HASH, which moto checks: a wrong `secret` fails here). Returns
    /// `{"id_token", "access_token", "refresh_token", ...}`.
    pub fn login(&self, client_id: &str, secret: &str, username: &str) -> Value {
        self.try_login(client_id, secret, username)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`CognitoPool::login`] that answers a refusal instead of panicking.
    pub fn try_login(
        &self,
        client_id: &str,
        secret: &str,
        username: &str,
    ) -> Result<Value, String> {
        self.try_run(
            "login",
            &[
                "--client",
                client_id,
                "--secret",
                secret,
                "--username",
                username,
                "--temp-password",
                "Temporary-Pass-1!",
                "--new-password",
                "Changed-Pass-2024!",
            ],
        )
    }
}

// ---------------------------------------------------------------------------------------
// A fault-injecting proxy in front of moto

/// `tests/peers/fault_proxy.py`: forwards every request to `upstream`; for an armed
/// operation (the end of `X-Amz-Target`, e.g. `AdminCreateUser`) it resets the connection
/// without answering, every time (so SDK retries fail too), until disarmed.
pub struct FaultProxy {
    pub url: String,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    proc: Proc,
}

impl FaultProxy {
    pub fn start(upstream: &str) -> Self {
        let python = repo_root().join(".venv-peers/bin/python");
        need(&python, "the .venv-peers python");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fault-proxy.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(python)
            .arg(peers_dir().join("fault_proxy.py"))
            .args(["--port", &port.to_string(), "--upstream", upstream])
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn fault_proxy.py");
        let mut proc = Proc(child);
        wait_until_listening(&mut proc, addr, "fault proxy", &log);
        FaultProxy {
            url: format!("http://{addr}"),
            addr,
            dir,
            proc,
        }
    }

    async fn control(&self, method: reqwest::Method, path: &str) -> Value {
        let resp = super::client()
            .request(method, format!("{}{path}", self.url))
            .send()
            .await
            .expect("fault proxy control");
        assert!(
            resp.status().is_success(),
            "fault proxy {path}: {}",
            resp.status()
        );
        resp.json().await.expect("fault proxy answers JSON")
    }

    /// From now on, requests for `operation` are reset without an answer.
    pub async fn arm(&self, operation: &str) {
        self.control(
            reqwest::Method::POST,
            &format!("/_fault/arm?op={operation}"),
        )
        .await;
    }

    /// Every operation is forwarded again.
    pub async fn disarm(&self) {
        self.control(reqwest::Method::POST, "/_fault/disarm").await;
    }

    /// `{"armed": [...], "aborted": {"<op>": n}, "forwarded": {"<op>": n}}`.
    pub async fn stats(&self) -> Value {
        self.control(reqwest::Method::GET, "/_fault/stats").await
    }

    /// The JSON body of the last forwarded request for `operation` (`null` if none).
    pub async fn last_request(&self, operation: &str) -> Value {
        self.control(
            reqwest::Method::GET,
            &format!("/_fault/last?op={operation}"),
        )
        .await
    }

    /// How many requests for `operation` were forwarded so far.
    pub async fn forwarded(&self, operation: &str) -> u64 {
        self.stats().await["forwarded"][operation]
            .as_u64()
            .unwrap_or(0)
    }

    /// How many requests for `operation` were reset so far.
    pub async fn aborted(&self, operation: &str) -> u64 {
        self.stats().await["aborted"][operation]
            .as_u64()
            .unwrap_or(0)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("fault-proxy.log")).unwrap_or_default()
    }
}
