//! The monitoring in deploy/ against a real Prometheus: a gateway node on the DynamoDB store
//! (moto) with every feature the dashboard shows in use gets a little traffic (2xx, 5xx from a
//! dead pool, 429s, Basic auth failures), a reload and a short store outage; Prometheus scrapes
//! its admin `/metrics`, every query of deploy/grafana/tenant-gateway.json must return data, and
//! every rule of deploy/prometheus/alerts.yaml must load and evaluate with health `ok`.

mod common;
use common::fleet::DynamoFleet;
use common::forward::Forwarder;
use common::peers::{repo_root, Moto};
use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const PROMETHEUS: &str = "/usr/bin/prometheus";
/// What Grafana's `$__rate_interval` becomes in the queries (15 scrapes at 1 s).
const RATE_INTERVAL: &str = "15s";
/// Rates need two scrapes in their window; the contract for every panel to show data.
const DATA_WITHIN: Duration = Duration::from_secs(60);

/// A Prometheus server scraping `target` every second, with `rules` loaded.
struct Prometheus {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    proc: Proc,
}

impl Prometheus {
    fn start(target: SocketAddr, rules: &Path) -> Self {
        need_prometheus();
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {rules:?}\n\
             scrape_configs:\n  - job_name: tenant-gateway\n    metrics_path: /metrics\n    \
             static_configs:\n      - targets: [\"{target}\"]\n",
            rules = rules.display().to_string()
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = dir.path().join("prometheus.log");
        let child = Command::new(PROMETHEUS)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("prometheus.err")).unwrap())
            .spawn()
            .expect("spawn prometheus");
        let mut proc = Proc(child);
        wait_until_listening(
            &mut proc,
            addr,
            "prometheus",
            &dir.path().join("prometheus.err"),
        );
        Prometheus { addr, dir, proc }
    }

    fn log(&self) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("prometheus.err")).unwrap_or_default();
        format!("--- prometheus log (tail) ---\n{}", fleet::tail(&text, 20))
    }

    /// `data` of a Prometheus API answer, or what came instead.
    async fn api(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, String> {
        let resp = client()
            .get(format!("http://{}{path}", self.addr))
            .query(query)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let body: Value = resp
            .json()
            .await
            .map_err(|e| format!("GET {path}: not JSON: {e}"))?;
        if body["status"] == "success" {
            Ok(body["data"].clone())
        } else {
            Err(format!("GET {path}: {body}"))
        }
    }

    /// The series an instant query returns.
    async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api("/api/v1/query", &[("query", expr)]).await?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.proc.kill();
    }
}

/// Fails (never skips) when Prometheus is not installed.
fn need_prometheus() {
    assert!(
        Path::new(PROMETHEUS).is_file(),
        "{PROMETHEUS} not found: install the Debian package `prometheus` \
         (scripts/install-deps.sh test)"
    );
}

/// (panel title, query) for every target of the dashboard, Grafana variables filled in.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = repo_root().join("deploy/grafana/tenant-gateway.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let dash: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        dash["__inputs"][0]["name"], "DS_PROMETHEUS",
        "the dashboard takes its datasource as an input"
    );
    let mut out = Vec::new();
    for panel in dash["panels"].as_array().unwrap() {
        let title = panel["title"].as_str().unwrap_or("(untitled)");
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {title:?}: a target without `expr`"));
            let expr = expr
                .replace("$__rate_interval", RATE_INTERVAL)
                .replace("$__interval", "1s")
                .replace("${__range}", "5m");
            assert!(
                !expr.contains('$'),
                "panel {title:?}: a Grafana variable this test does not fill in: {expr}"
            );
            let refid = target["refId"].as_str().unwrap_or("?");
            out.push((format!("{title} [{refid}]"), expr));
        }
    }
    assert!(out.len() >= 10, "the dashboard has its panels: {out:?}");
    out
}

/// The alert names in deploy/prometheus/alerts.yaml.
fn alert_names(path: &Path) -> Vec<String> {
    let yaml: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut names: Vec<String> = yaml["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap().iter())
        .filter_map(|r| r["alert"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The value of an unlabelled sample line `name ` in a /metrics page.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} "))?.trim().parse().ok())
}

fn self_signed_pair(dir: &Path, name: &str, sans: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    common::pebble::self_signed(&cert, &key, name, sans);
    (cert, key)
}

fn tenants() -> String {
    let hash = hash_password("hook-pass-1");
    format!(
        r#"tenants:
  - id: {TENANT_A}
    name: Tenant A
    subdomain: tenant-a
    tier: limited
    routes:
      - {{ prefix: /dead, pool: dead, limits: off }}
      - {{ prefix: /, pool: web }}
  - id: {TENANT_B}
    name: Tenant B
    subdomain: tenant-b
    basic_auth:
      - {{ username: hook, password_hash: "{hash}" }}
    routes:
      - {{ prefix: /, pool: web, auth: basic }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_panel_has_data_and_every_alert_rule_loads() {
    need_prometheus();
    let rules = repo_root().join("deploy/prometheus/alerts.yaml");
    let queries = dashboard_queries();
    let alerts = alert_names(&rules);
    assert!(!alerts.is_empty(), "alerts.yaml has alerts");

    // A node on DynamoDB (store and fleet metrics) through a forwarder (a store outage for
    // the error counter), with a static certificate, a limited tier and a pool that is down.
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_pair(certs.path(), "wildcard", "DNS:*.example.com");
    let dead = free_port();
    let moto = Moto::start_serial();
    let mut fwd = Forwarder::start(moto.addr);
    let mut fleet = DynamoFleet::builder()
        .extra("tiers:\n  limited: { rate_per_second: 1, burst: 3, max_in_flight: 50 }\n")
        .start_on(moto, &fwd.url());
    let dead_pool = format!(
        "pools:\n  dead:\n    backends: [\"127.0.0.1:{dead}\"]\n    connect_timeout: 200ms\n    \
         health_check:\n      path: /healthz\n      interval: 200ms\n      unhealthy_after: 1\n"
    );
    let https_line = "  http: [\"{http}\"]\n";
    assert!(
        fleet.yaml.contains("pools:\n") && fleet.yaml.contains(https_line),
        "gateway_yaml changed shape"
    );
    // The CLI validates imported tenants against its own copy (their routes name `dead`).
    let cli_yaml = std::fs::read_to_string(fleet.config()).unwrap();
    std::fs::write(fleet.config(), cli_yaml.replace("pools:\n", &dead_pool)).unwrap();
    fleet.yaml = format!(
        "{}tls:\n  certs_dir: certs\n  redirect_http: false\n  certificates:\n    \
         - {{ cert: {cert:?}, key: {key:?} }}\n",
        fleet
            .yaml
            .replace(https_line, "  http: [\"{http}\"]\n  https: [\"{https}\"]\n")
            .replace("pools:\n", &dead_pool)
    );
    fleet.init();
    fleet.import_ok(&tenants());
    let gw = fleet.node();
    let gw_log = || {
        format!(
            "--- gateway log (tail) ---\n{}",
            fleet::tail(&gw.stderr(), 30)
        )
    };

    // Prometheus first, so its scrapes cover the traffic below.
    let prom = Prometheus::start(gw.admin, &rules);
    let log = || format!("{}\n{}", prom.log(), gw_log());
    eventually_with_log(
        "prometheus scrapes the gateway",
        Duration::from_secs(30),
        log,
        || async {
            let data = prom.api("/api/v1/targets", &[]).await?;
            let target = &data["activeTargets"][0];
            if target["health"] == "up" {
                Ok(())
            } else {
                Err(format!("{target}"))
            }
        },
    )
    .await;

    // Traffic: 2xx, 5xx from the dead pool, 429s past the tier's burst, Basic auth passes and
    // failures, a request for no tenant.
    let c = client();
    let a = "tenant-a.example.com";
    let b = "tenant-b.example.com";
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(gw.get(a, "/").await.status);
    }
    assert!(statuses.contains(&200), "tenant-a answers: {statuses:?}");
    assert!(
        statuses.contains(&429),
        "tenant-a is rate limited: {statuses:?}"
    );
    let dead_pool = gw.get(a, "/dead").await;
    assert!(
        dead_pool.status >= 500,
        "the dead pool: {} {}",
        dead_pool.status,
        dead_pool.text
    );
    let basic = |pass: &str| {
        c.get(gw.url("/x"))
            .header("host", b)
            .basic_auth("hook", Some(pass.to_string()))
    };
    assert_eq!(send(basic("hook-pass-1")).await.status, 200);
    assert_eq!(send(basic("wrong")).await.status, 401);
    assert_eq!(
        send(c.get(gw.url("/x")).header("host", b)).await.status,
        401
    );
    assert_eq!(gw.get("nobody.example.org", "/").await.status, 404);

    // A reload through the store: a third tenant applied (generation 2).
    fleet.import_ok(&format!(
        "tenants:\n  - id: {TENANT_OFF}\n    name: C\n    subdomain: tenant-c\n"
    ));
    gw.wait_for_status("tenant-c.example.com", "/", 200, Duration::from_secs(10))
        .await;

    // A short store outage: errors counted, then the store is back.
    fwd.stop();
    eventually_with_log(
        "the node counts store errors",
        Duration::from_secs(10),
        gw_log,
        || async {
            let m = gw.metrics().await;
            match (
                sample(&m, "gateway_store_up"),
                m.contains("gateway_store_errors_total{"),
            ) {
                (Some(0.0), true) => Ok(()),
                seen => Err(format!("store_up, errors: {seen:?}")),
            }
        },
    )
    .await;
    fwd.restart();
    eventually_with_log(
        "the store is back",
        Duration::from_secs(15),
        gw_log,
        || async {
            let m = gw.metrics().await;
            match sample(&m, "gateway_store_up") {
                Some(1.0) => Ok(()),
                seen => Err(format!("gateway_store_up {seen:?}")),
            }
        },
    )
    .await;

    // Every panel's every query returns data.
    eventually_with_log(
        "every dashboard query returns data",
        DATA_WITHIN,
        log,
        || async {
            let mut empty = Vec::new();
            for (panel, expr) in &queries {
                match prom.query(expr).await {
                    Ok(series) if !series.is_empty() => {}
                    Ok(_) => empty.push(format!("panel {panel}: no data for `{expr}`")),
                    Err(e) => empty.push(format!("panel {panel}: `{expr}` failed: {e}")),
                }
            }
            if empty.is_empty() {
                Ok(())
            } else {
                Err(empty.join("\n"))
            }
        },
    )
    .await;

    // Every alert rule is loaded and evaluates without error.
    eventually_with_log(
        "every alert rule is loaded with health ok",
        Duration::from_secs(20),
        log,
        || async {
            let data = prom.api("/api/v1/rules", &[]).await?;
            let mut loaded: Vec<String> = Vec::new();
            let mut unhealthy = Vec::new();
            for group in data["groups"].as_array().into_iter().flatten() {
                for rule in group["rules"].as_array().into_iter().flatten() {
                    let name = rule["name"].as_str().unwrap_or("?").to_string();
                    if rule["health"] != "ok" {
                        unhealthy.push(format!("{name}: {} {}", rule["health"], rule["lastError"]));
                    }
                    loaded.push(name);
                }
            }
            loaded.sort();
            if loaded == alerts && unhealthy.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "loaded {loaded:?} (want {alerts:?}); not ok: {unhealthy:?}"
                ))
            }
        },
    )
    .await;
}
