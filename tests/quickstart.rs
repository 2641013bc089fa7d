//! The README quickstart, exactly as shown, on the shipped `conf/`: the demo IdP
//! (`demo-idp -c conf/gateway.yaml`) and the gateway (`run -c conf/gateway.yaml --demo-backends`)
//! as two processes from the repository root; a browser login at tenant-1's `/app/` (headless
//! Chromium, `tests/peers/quickstart_browser.mjs`), then the curl steps with reqwest: a demo
//! token on tenant-1's `/api` (200), the same token on acme's (403 `tenant_mismatch`), and no
//! token (401 with a Bearer challenge).
//!
//! The ports are the shipped configuration's (8080 tenant, 9090 admin, 9101-9104 demo backends,
//! 9400 IdP), so this is the only test of its binary: cargo runs test binaries one at a time and
//! the others use free ports.

mod common;
use common::peers::{jwt_claims, peers_dir, repo_root};
use common::*;
use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const TENANT_1_ID: &str = "6f1c2a4e-8d7b-4c55-9a1e-2b3c4d5e6f70";
const ACME_ID: &str = "0b7e9d2c-3f4a-4b1e-8c6d-5a4b3c2d1e0f";
const APP_URL: &str = "http://tenant-1.localhost:8080/app/";
const IDP: &str = "127.0.0.1:9400";
const TENANT_PORT: &str = "127.0.0.1:8080";
const ADMIN_PORT: &str = "127.0.0.1:9090";
const BACKEND_PORTS: [&str; 4] = [
    "127.0.0.1:9101",
    "127.0.0.1:9102",
    "127.0.0.1:9103",
    "127.0.0.1:9104",
];
const ADMIN_TOKEN_VALUE: &str = "quickstart-test-admin-token-0123456789";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Spawns the binary from the repository root with `args`, its output in `<dir>/<name>.out`
/// and `<dir>/<name>.err`.
fn spawn(dir: &Path, name: &str, args: &[&str]) -> Proc {
    let child = Command::new(BIN)
        .current_dir(repo_root())
        .args(args)
        .env(DEMO_SESSION_KEY.0, DEMO_SESSION_KEY.1)
        .env("TENANT_GATEWAY_ADMIN_TOKEN", ADMIN_TOKEN_VALUE)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join(format!("{name}.out"))).unwrap())
        .stderr(std::fs::File::create(dir.join(format!("{name}.err"))).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    Proc(child)
}

fn logs(dir: &Path) -> String {
    ["idp.err", "idp.out", "gateway.err", "gateway.out"]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("--- {f} (last 40 lines) ---\n{}", tail.join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `tests/peers/quickstart_browser.mjs` and returns its JSON report.
fn browser(shots: &Path, log_dir: &Path) -> Value {
    assert!(
        peers_dir().join("node_modules/playwright-core").exists()
            && Path::new("/usr/bin/chromium").exists(),
        "playwright-core or chromium is missing: run scripts/install-deps.sh test"
    );
    let run = Command::new("node")
        .arg("quickstart_browser.mjs")
        .current_dir(peers_dir())
        .env("START_URL", APP_URL)
        .env("AUTHORIZE_PREFIX", format!("http://{IDP}/authorize"))
        .env("BUTTON", "Sign in as alice@tenant-one.test")
        .env("OUT_DIR", shots)
        .stdin(Stdio::null())
        .output()
        .expect("run quickstart_browser.mjs");
    assert!(
        run.status.success(),
        "browser step failed ({}):\n{}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr),
        logs(log_dir)
    );
    serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "quickstart_browser.mjs printed no JSON ({e}): {}",
            String::from_utf8_lossy(&run.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_quickstart_on_the_shipped_conf() {
    // The shipped ports must be free (a running demo would answer in the test's place).
    for a in [IDP, TENANT_PORT, ADMIN_PORT]
        .iter()
        .chain(BACKEND_PORTS.iter())
    {
        if let Err(e) = TcpListener::bind(a) {
            panic!("{a} is in use ({e}): stop whatever runs there (scripts/demo.sh?) first");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let mut idp = spawn(d, "idp", &["demo-idp", "-c", "conf/gateway.yaml"]);
    wait_until_listening(&mut idp, addr(IDP), "demo IdP", &d.join("idp.err"));
    let mut gw = spawn(
        d,
        "gateway",
        &[
            "run",
            "-c",
            "conf/gateway.yaml",
            "--demo-backends",
            "--no-watch",
        ],
    );
    let gw_err = d.join("gateway.err");
    wait_until_listening(&mut gw, addr(ADMIN_PORT), "gateway admin", &gw_err);
    wait_until_listening(&mut gw, addr(TENANT_PORT), "gateway", &gw_err);
    for b in BACKEND_PORTS {
        wait_until_listening(&mut gw, addr(b), "demo backend", &gw_err);
    }

    // curl resolves *.localhost to loopback; reqwest (glibc) does not.
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .resolve("tenant-1.localhost", addr(TENANT_PORT))
        .resolve("acme.localhost", addr(TENANT_PORT))
        .build()
        .unwrap();

    // Ready: the public page of tenant-1 is served by the web pool.
    eventually_with_log(
        "tenant-1's public page answers 200",
        Duration::from_secs(30),
        || logs(d),
        || async {
            let r = send(http.get("http://tenant-1.localhost:8080/")).await;
            if r.status == 200 {
                Ok(())
            } else {
                Err(format!("{} {}", r.status, r.text))
            }
        },
    )
    .await;

    // 1. The browser login at /app/.
    // Screenshots outlive the test (its other files do not).
    let shots = tempfile::Builder::new()
        .prefix("quickstart-screenshots-")
        .tempdir()
        .unwrap()
        .keep();
    let log_dir = d.to_path_buf();
    let report = tokio::task::spawn_blocking(move || browser(&shots, &log_dir))
        .await
        .unwrap();
    for name in ["authorize", "app"] {
        eprintln!(
            "quickstart screenshot {name}: {}",
            report["screenshots"][name].as_str().unwrap_or("?")
        );
    }
    let authorize = &report["authorize"];
    let authorize_url = authorize["url"].as_str().unwrap();
    assert!(
        authorize_url.starts_with(&format!("http://{IDP}/authorize?")),
        "not the demo IdP's authorize page: {report:#}"
    );
    assert_eq!(authorize["status"], 200, "{report:#}");
    for (k, v) in [
        ("client_id", "demo-tenant-1"),
        ("response_type", "code"),
        ("redirect_uri", "http://tenant-1.localhost:8080/callback"),
        ("code_challenge_method", "S256"),
    ] {
        assert_eq!(
            common::peers::query_param(authorize_url, k).as_deref(),
            Some(v),
            "{k} of {authorize_url}"
        );
    }
    let buttons: Vec<&str> = authorize["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().trim())
        .collect();
    assert_eq!(
        buttons,
        [
            "Sign in as alice@tenant-one.test",
            "Sign in as bob@tenant-one.test"
        ],
        "{report:#}"
    );
    assert!(
        authorize["text"].as_str().unwrap().contains(TENANT_1_ID),
        "the authorize page names the tenant: {report:#}"
    );

    let fin = &report["final"];
    assert_eq!(fin["url"], APP_URL, "{report:#}");
    assert_eq!(fin["status"], 200, "{report:#}");
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        steps.first().copied(),
        Some(authorize_url),
        "the first page shown is the IdP's: {report:#}"
    );
    let body: Value = serde_json::from_str(fin["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("/app/ did not answer the echo JSON ({e}): {report:#}"));
    let h = &body["headers"];
    assert!(
        body["backend"]
            .as_str()
            .unwrap_or_default()
            .starts_with("web@"),
        "{body:#}"
    );
    assert_eq!(body["path"], "/app/", "{body:#}");
    assert_eq!(h["x-tenant-id"], TENANT_1_ID, "{body:#}");
    assert_eq!(h["x-tenant-name"], "tenant-one", "{body:#}");
    assert_eq!(h["x-user-sub"], "alice@tenant-one.test", "{body:#}");
    assert_eq!(h["x-user-groups"], r#""admins", "staff""#, "{body:#}");
    // The session cookie never reaches the upstream, nor page scripts.
    assert!(
        !h["cookie"]
            .as_str()
            .unwrap_or_default()
            .contains("tg_session"),
        "{body:#}"
    );
    let cookies = fin["cookies"].as_array().unwrap();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "tg_session")
        .unwrap_or_else(|| panic!("no tg_session cookie: {report:#}"));
    assert_eq!(session["httpOnly"], true, "{session:#}");
    assert_eq!(session["domain"], "tenant-1.localhost", "{session:#}");
    let doc_cookie = fin["document_cookie"].as_str().unwrap();
    assert!(
        !doc_cookie.contains("tg_session"),
        "document.cookie shows the session: {doc_cookie}"
    );

    // 2. TOKEN=$(curl -s 'http://127.0.0.1:9400/demo-token?client_id=demo-tenant-1&user=alice')
    let r = send(http.get(format!(
        "http://{IDP}/demo-token?client_id=demo-tenant-1&user=alice"
    )))
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    // $(...) drops trailing newlines and nothing else.
    let token = r.text.trim_end_matches('\n').to_string();
    assert!(
        token.split('.').count() == 3 && !token.contains(char::is_whitespace),
        "not a JWT: {:?}",
        r.text
    );
    let claims = jwt_claims(&token);
    assert_eq!(claims["custom:tenantid"], TENANT_1_ID, "{claims:#}");
    assert_eq!(claims["sub"], "alice@tenant-one.test", "{claims:#}");

    // curl -s -H "Authorization: Bearer $TOKEN" http://tenant-1.localhost:8080/api/orders
    let r = send(
        http.get("http://tenant-1.localhost:8080/api/orders")
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}\n{}", logs(d));
    let body = r.json();
    let h = &body["headers"];
    assert_eq!(body["backend"], "api@127.0.0.1:9103", "{body:#}");
    assert_eq!(body["path"], "/api/orders", "{body:#}");
    assert_eq!(h["host"], "tenant-1.localhost:8080", "{body:#}");
    assert_eq!(h["x-tenant-id"], TENANT_1_ID, "{body:#}");
    assert_eq!(h["x-user-sub"], "alice@tenant-one.test", "{body:#}");
    assert_eq!(h["x-user-email"], "alice@tenant-one.test", "{body:#}");
    assert_eq!(h["x-user-groups"], r#""admins", "staff""#, "{body:#}");
    // forward_token defaults to false: the token stays at the gateway.
    assert!(h.get("authorization").is_none(), "{body:#}");

    // 3. The same token on acme's host: another tenant's token.
    let r = send(
        http.get("http://acme.localhost:8080/api/orders")
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(
        r.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .starts_with("application/json"),
        "{r:?}"
    );
    let j = r.json();
    assert_eq!(j["reason"], "tenant_mismatch", "{j:#}");
    assert!(
        !r.text.contains(ACME_ID) && !r.text.contains(&token),
        "{j:#}"
    );

    // 4. No token on tenant-1's API: 401 with a Bearer challenge, never a login redirect.
    let r = send(http.get("http://tenant-1.localhost:8080/api/orders")).await;
    assert_eq!(r.status, 401, "{r:?}");
    let challenge = r
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{r:?}");
    assert!(r.headers.get("location").is_none(), "{r:?}");

    gw.kill();
    idp.kill();
}
