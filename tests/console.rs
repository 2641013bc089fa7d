//! The operator console at `/ui/`: its session (cookie + CSRF token) from plain HTTP, then the
//! whole console in headless Chromium (`tests/peers/console.mjs`): sign-in, the tenants list,
//! onboarding with field errors, the new tenant live on the tenant port, disabling it through
//! the confirmation dialog, the other pages, 375 px, sign-out; with screenshots.

mod common;
use common::peers::{peers_dir, repo_root};
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `basic_tenants()` and enough others for two pages of 25.
fn many_tenants() -> (String, usize) {
    let mut yaml = basic_tenants();
    let extra = 27;
    for i in 0..extra {
        yaml.push_str(&format!(
            "  - id: 00000000-0000-4000-8000-{i:012}\n    name: Extra {i:02}\n    subdomain: extra-{i:02}\n"
        ));
    }
    (yaml, 3 + extra)
}

fn cookie_of(reply: &Reply) -> (String, String) {
    let set = reply
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Set-Cookie: {reply:?}"))
        .to_string();
    let pair = set.split(';').next().unwrap().trim().to_string();
    (pair, set)
}

/// Runs `tests/peers/console.mjs` against `gw` and returns its JSON report.
fn run_console(gw: &Gateway, out: &Path, total: usize) -> Value {
    assert!(
        peers_dir().join("node_modules/playwright-core").exists()
            && Path::new("/usr/bin/chromium").exists(),
        "playwright-core or chromium is missing: run scripts/install-deps.sh test"
    );
    let out = Command::new("node")
        .arg("console.mjs")
        .current_dir(peers_dir())
        .env("ADMIN_URL", format!("http://{}", gw.admin))
        .env("ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TENANT_PORT", gw.http.port().to_string())
        .env("OUT_DIR", out)
        .env("BASE_DOMAIN", "example.com")
        .env("TAKEN_SUB", "tenant-a")
        .env("NEW_SUB", "console-made")
        .env("TOTAL", total.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run console.mjs");
    assert!(
        out.status.success(),
        "console run failed ({}):\n{}\n--- gateway log ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        gw.stderr()
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "console.mjs printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn console_signs_in_onboards_disables_and_guards_writes() {
    let b = Backend::start("web");
    let (tenants, total) = many_tenants();
    // Static certificates, so the certificates page and the tenant's domains have some.
    let certs = tempfile::tempdir().unwrap();
    let pair = |name: &str, san: &str| {
        let (cert, key) = (
            certs.path().join(format!("{name}.crt")),
            certs.path().join(format!("{name}.key")),
        );
        common::pebble::self_signed(&cert, &key, name, san);
        format!("{{ cert: {}, key: {} }}", cert.display(), key.display())
    };
    let extra = format!(
        "auth:\n  session_key: {{ env: TEST_SESSION_KEY }}\ntls:\n  certs_dir: certs\n  redirect_http: false\n  certificates:\n    - {}\n    - {}\n",
        pair("wildcard", "DNS:*.example.com"),
        pair("tenant-a", "DNS:www.tenant-a.test"),
    );
    let yaml = gateway_yaml(&[&b], &extra).replace(
        "  http: [\"{http}\"]\n",
        "  http: [\"{http}\"]\n  https: [\"{https}\"]\n",
    );
    let gw = GatewayBuilder::new(&yaml, &tenants)
        .env(
            "TEST_SESSION_KEY",
            "console-test-session-key-0123456789abcdef",
        )
        .env("CONSOLE_IDP_SECRET", "console-idp-secret")
        .no_watch()
        .start();
    let c = client();

    // The pages carry the CSP; the script and style are same-origin files.
    let ui = send(c.get(gw.admin_url("/ui/"))).await;
    assert_eq!(ui.status, 200);
    let csp = ui
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "CSP {csp:?} lacks {part}");
    }
    assert!(
        !ui.text.contains("<script>") && !ui.text.contains(" style="),
        "no inline script or style: {}",
        ui.text
    );
    let js = send(c.get(gw.admin_url("/ui/app.js"))).await;
    assert_eq!(js.status, 200);
    assert!(!js.text.contains("localStorage") && !js.text.contains("innerHTML"));

    // Without a session: 401, reads and writes alike.
    let r = send(c.get(gw.admin_url("/tenants"))).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = send(c.post(gw.admin_url(&format!("/tenants/{TENANT_B}/disable")))).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = send(c.get(gw.admin_url("/ui/session"))).await;
    assert_eq!(r.status, 401);
    let r = send(
        c.post(gw.admin_url("/ui/session"))
            .json(&json!({"token": "wrong"})),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.headers.get("set-cookie").is_none());

    // Signed in: the cookie reads; a write needs the CSRF token too.
    let r = send(
        c.post(gw.admin_url("/ui/session"))
            .json(&json!({"token": ADMIN_TOKEN})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let csrf = r.json()["csrf"].as_str().unwrap().to_string();
    let (cookie, set_cookie) = cookie_of(&r);
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    let with_cookie =
        |m: reqwest::Method, p: &str| c.request(m, gw.admin_url(p)).header("cookie", &cookie);
    let r = send(with_cookie(reqwest::Method::GET, "/tenants?limit=1")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["total"], total);
    let r = send(with_cookie(reqwest::Method::GET, "/ui/session")).await;
    assert_eq!(
        r.json()["csrf"],
        csrf.as_str(),
        "a reload gets the CSRF token back"
    );
    let disable_b = format!("/tenants/{TENANT_B}/disable");
    let r = send(with_cookie(reqwest::Method::POST, &disable_b)).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.json()["error"], "csrf_failed");
    let r =
        send(with_cookie(reqwest::Method::POST, &disable_b).header("x-csrf-token", "forged")).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = send(
        with_cookie(reqwest::Method::POST, "/tenants")
            .json(&json!({"tenantName": "x", "tenantSubDomain": "csrf-less"})),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = send(with_cookie(reqwest::Method::DELETE, "/ui/session")).await;
    assert_eq!(r.status, 403, "signing out is a write too: {}", r.text);
    assert_eq!(
        gw.get("tenant-b.example.com", "/").await.status,
        200,
        "refused writes changed nothing"
    );
    assert!(!std::fs::read_to_string(gw.path("tenants.yaml"))
        .unwrap()
        .contains("csrf-less"));
    let r = send(
        with_cookie(
            reqwest::Method::POST,
            &format!("/tenants/{TENANT_B}/enable"),
        )
        .header("x-csrf-token", &csrf),
    )
    .await;
    assert_eq!(r.status, 200, "with the token: {}", r.text);
    let r = send(with_cookie(reqwest::Method::DELETE, "/ui/session").header("x-csrf-token", &csrf))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(with_cookie(reqwest::Method::GET, "/tenants")).await;
    assert_eq!(r.status, 401, "signed out: {}", r.text);

    // The browser.
    let shots = tempfile::Builder::new()
        .prefix("console-screenshots-")
        .tempdir()
        .unwrap()
        .keep();
    let started = std::time::Instant::now();
    let report = tokio::task::block_in_place(|| run_console(&gw, &shots, total));
    eprintln!("browser run: {:.1?}", started.elapsed());
    let checks = &report["checks"];
    let id = report["tenant_id"].as_str().unwrap().to_string();

    assert!(
        checks["csp_header"]
            .as_str()
            .unwrap_or_default()
            .contains("script-src 'self'"),
        "{checks:#}"
    );
    assert_eq!(checks["csp_violations"], json!([]), "{checks:#}");
    assert_eq!(checks["page_errors"], json!([]), "{checks:#}");
    assert!(
        checks["wrong_token_error"]
            .as_str()
            .unwrap()
            .contains("not the admin token"),
        "{checks:#}"
    );
    assert_eq!(checks["wrong_token_invalid"], "true");
    assert_eq!(
        checks["storage_after_sign_in"],
        json!({"local": 0, "session": 0, "document_cookie": ""}),
        "nothing stored in the page, and the cookie is not visible to scripts"
    );
    assert_eq!(checks["cookie"]["httpOnly"], true, "{checks:#}");
    assert_eq!(checks["cookie"]["sameSite"], "Strict", "{checks:#}");
    assert_eq!(checks["token_in_page"], false);
    assert_eq!(checks["first_page_rows"], 25, "{checks:#}");
    assert!(
        checks["second_page_range"]
            .as_str()
            .unwrap()
            .contains(&format!("26–{total}")),
        "{checks:#}"
    );
    assert_eq!(checks["search_rows"], 1, "{checks:#}");
    assert!(
        checks["disabled_total"]
            .as_str()
            .unwrap()
            .starts_with("1 tenant"),
        "{checks:#}"
    );
    assert!(
        !checks["bad_sub_error"].as_str().unwrap().is_empty(),
        "the subdomain's message: {checks:#}"
    );
    assert_eq!(
        checks["bad_sub_other_errors"], 1,
        "only the subdomain: {checks:#}"
    );
    assert_eq!(checks["bad_sub_focused"], "f-subdomain", "{checks:#}");
    assert!(
        checks["taken_sub_error"]
            .as_str()
            .unwrap()
            .contains("taken"),
        "{checks:#}"
    );
    assert_eq!(checks["tenant_page_name"], "Console Made");
    assert!(checks["tenant_page_status"]
        .as_str()
        .unwrap()
        .contains("active"));
    assert_eq!(checks["tenant_host_before"], 200, "{checks:#}");
    assert!(
        checks["taken_domain_error"]
            .as_str()
            .unwrap()
            .contains("www.tenant-a.test"),
        "{checks:#}"
    );
    let domains = checks["domains_table"].as_str().unwrap();
    assert!(
        domains.contains("console.example.net")
            && domains.contains("console-made.example.com")
            && domains.contains("*.example.com"),
        "the subdomain's host under the wildcard certificate: {checks:#}"
    );
    assert!(
        !checks["idp_issuer_error"].as_str().unwrap().is_empty(),
        "{checks:#}"
    );
    assert!(
        checks["idp_secret_error"]
            .as_str()
            .unwrap()
            .contains("not the secret"),
        "{checks:#}"
    );
    let facts = checks["idp_facts"].as_str().unwrap();
    assert!(
        facts.contains("env CONSOLE_IDP_SECRET") && facts.contains("group prefix tenant-"),
        "{checks:#}"
    );
    assert!(
        checks["first_tenant_domains"]
            .as_str()
            .unwrap()
            .contains("www.tenant-a.test"),
        "{checks:#}"
    );
    let certs_text = checks["certs_text"].as_str().unwrap();
    assert!(
        certs_text.contains("*.example.com") && certs_text.contains("www.tenant-a.test"),
        "{checks:#}"
    );
    assert_eq!(checks["tenant_host_backend_saw"], true, "{checks:#}");
    assert!(checks["metric_rate"].as_str().unwrap().ends_with("req/s"));
    assert!(checks["dialog_text"]
        .as_str()
        .unwrap()
        .contains("Console Made"));
    assert!(checks["status_after_cancel"]
        .as_str()
        .unwrap()
        .contains("active"));
    assert!(checks["status_after_disable"]
        .as_str()
        .unwrap()
        .contains("disabled"));
    assert_eq!(checks["tenant_host_after"], 403, "{checks:#}");
    assert!(
        checks["pools_text"]
            .as_str()
            .unwrap()
            .contains(&b.addr.to_string()),
        "{checks:#}"
    );
    assert!(
        checks["fleet_text"]
            .as_str()
            .unwrap()
            .contains("File store"),
        "{checks:#}"
    );
    assert!(
        checks["tab_stops"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().starts_with("a:Onboard")),
        "{checks:#}"
    );
    assert_ne!(checks["focus_outline"], "none", "{checks:#}");
    assert_eq!(checks["keyboard_opened"], true);
    assert!(
        checks["narrow_overflow"].as_i64().unwrap() <= 0,
        "no horizontal scrolling at 375 px: {checks:#}"
    );
    assert_eq!(checks["session_after_sign_out"], 401);

    // The tenant the browser onboarded and disabled, seen from here.
    gw.wait_for_status("console-made.example.com", "/", 403, Duration::from_secs(5))
        .await;
    let r = send(
        c.get(gw.admin_url(&format!("/tenants/{id}")))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    let rec = r.json();
    assert_eq!(rec["subdomain"], "console-made");
    assert_eq!(rec["status"], "disabled");
    assert_eq!(rec["admin_email"], "admin@console.test");
    assert_eq!(rec["tier"], "premium");
    assert_eq!(rec["custom_domains"], json!(["console.example.net"]));
    assert_eq!(rec["idp"]["issuer"], "http://127.0.0.1:9/console");
    assert_eq!(
        rec["idp"]["client_secret"],
        json!({"env": "CONSOLE_IDP_SECRET"}),
        "a reference, never the secret"
    );
    assert_eq!(rec["idp"]["tenant_binding"], json!({"group": "tenant-"}));

    let mut names: Vec<_> = report["screenshots"].as_object().unwrap().iter().collect();
    names.sort_by_key(|(k, _)| k.as_str());
    for (name, path) in names {
        let path = path.as_str().unwrap();
        assert!(Path::new(path).exists(), "{path}");
        eprintln!("screenshot {name}: {path}");
    }
    let list = shots.join("tenants.png");
    let docs = repo_root().join("docs/console.png");
    std::fs::copy(&list, &docs).unwrap();
    let size = std::fs::metadata(&docs).unwrap().len();
    eprintln!(
        "copied {} to {} ({size} bytes)",
        list.display(),
        docs.display()
    );
    assert!(size < 400_000, "docs/console.png is {size} bytes");
}
