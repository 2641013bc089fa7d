//! The DynamoDB tenant store, with a fleet of two gateway processes on one moto table: a
//! change made through either node is routed by both; concurrent onboarding of one subdomain
//! lets exactly one node win; a store outage keeps traffic flowing (readiness degraded,
//! writes refused) and heals by itself, also when the store hangs instead of refusing;
//! refused admin changes and invalid imports write nothing (the fleet change sequence does
//! not move).

mod common;
use common::fleet::{node_logs, DynamoFleet as Fleet};
use common::forward::Forwarder;
use common::peers::Moto;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The contract: a change made through any node is routed by every node within this.
const PROPAGATION: Duration = Duration::from_secs(5);

// The fixture is `common::fleet` (moto runs serially there: its transactions are not isolated
// from concurrent requests, and two nodes writing at once would otherwise lose items).

/// [`eventually_with_log`] with the nodes' logs on failure; also returns how long it took.
async fn eventually_timed<T, Fut>(
    what: &str,
    within: Duration,
    nodes: &[(&str, &Gateway)],
    probe: impl FnMut() -> Fut,
) -> (T, Duration)
where
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    let v = eventually_with_log(what, within, || node_logs(nodes), probe).await;
    (v, start.elapsed())
}

// ---------------------------------------------------------------------------------------
// Admin API, probes and metrics

/// `POST /tenants` with the onboarding payload.
async fn onboard(gw: &Gateway, sub: &str, name: &str) -> Reply {
    admin(
        gw,
        Method::POST,
        "/tenants",
        Some(json!({
            "tenantName": name, "tenantSubDomain": sub,
            "tenantEmailDomain": format!("{sub}.test"), "emailId": format!("admin@{sub}.test"),
            "tier": "premium"
        })),
    )
    .await
}

/// Every tenant the node lists, sorted by id.
async fn tenants(gw: &Gateway) -> Vec<Value> {
    let r = admin(gw, Method::GET, "/tenants?limit=1000", None).await;
    assert_eq!(r.status, 200, "GET /tenants: {}", r.text);
    let page = r.json();
    assert!(page["next"].is_null(), "more than one page: {}", r.text);
    let mut list = page["tenants"].as_array().expect("tenants").clone();
    list.sort_by_key(|t| t["id"].as_str().unwrap_or_default().to_string());
    list
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|t| t["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn readyz(gw: &Gateway) -> Value {
    let r = send(client().get(gw.admin_url("/readyz"))).await;
    assert_eq!(
        r.status, 200,
        "/readyz answers 200 ready or degraded: {}",
        r.text
    );
    r.json()
}

/// The fleet change number the node has applied (`store.sequence` on /readyz).
async fn sequence(gw: &Gateway) -> u64 {
    let r = readyz(gw).await;
    r["store"]["sequence"]
        .as_u64()
        .unwrap_or_else(|| panic!("no store.sequence in /readyz: {r}"))
}

fn is_ready(r: &Value) -> bool {
    r["status"] == "ready" && r["store"]["healthy"] == true
}

fn is_degraded(r: &Value) -> bool {
    r["status"] == "degraded" && r["store"]["healthy"] == false
}

/// The sum of every series of a metric, `None` when the metric is not exposed at all.
fn metric(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with(' ') || rest.starts_with('{')) {
            continue;
        }
        let value = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
        if let Some(v) = value {
            found = Some(found.unwrap_or(0.0) + v);
        }
    }
    found
}

/// Routes `host` with `status` on the node, checking the tenant id of a 200.
async fn expect_route(gw: &Gateway, host: &str, status: u16, tenant: Option<&str>) {
    let r = gw.get(host, "/").await;
    assert_eq!(r.status, status, "{host}: {}", r.text);
    if status == 200 {
        assert_eq!(
            r.upstream_header("x-tenant-id").as_deref(),
            tenant,
            "{host}"
        );
    } else {
        let code = match status {
            403 => "tenant_disabled",
            404 => "unknown_host",
            _ => "",
        };
        assert_eq!(r.json()["error"], code, "{host}: {}", r.text);
    }
}

/// Waits until the node answers `status` for `host`; returns how long it took.
async fn propagated(gw: &Gateway, host: &str, status: u16, tenant: Option<&str>) -> Duration {
    let start = Instant::now();
    let r = gw.wait_for_status(host, "/", status, PROPAGATION).await;
    let took = start.elapsed();
    if status == 200 {
        assert_eq!(
            r.upstream_header("x-tenant-id").as_deref(),
            tenant,
            "{host}"
        );
    }
    took
}

/// Waits until the node has applied exactly `want` (and fails if it goes past it).
async fn wait_for_sequence(name: &str, gw: &Gateway, want: u64) {
    eventually_timed(
        &format!("node {name} reaches sequence {want}"),
        PROPAGATION,
        &[(name, gw)],
        || async move {
            let seq = sequence(gw).await;
            assert!(
                seq <= want,
                "node {name}: sequence {seq}, more writes than {want}"
            );
            if seq == want {
                Ok(())
            } else {
                Err(format!("sequence {seq}"))
            }
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn two_nodes_route_every_change_made_through_either() {
    let fleet = Fleet::start();
    fleet.init();
    fleet.init(); // idempotent
    fleet.import_ok(&basic_tenants());
    let a = fleet.node();
    let b = fleet.node();
    let nodes = [("A", &a), ("B", &b)];

    for (name, gw) in nodes {
        let r = readyz(gw).await;
        assert!(is_ready(&r), "node {name}: {r}");
        assert_eq!(r["store"]["source"], "dynamodb", "node {name}: {r}");
        let st = admin(gw, Method::GET, "/status", None).await.json();
        assert_eq!(st["store"]["tenants"], 3, "node {name}: {st}");
        expect_route(gw, "tenant-a.example.com", 200, Some(TENANT_A)).await;
        expect_route(gw, "www.tenant-a.test", 200, Some(TENANT_A)).await;
        expect_route(gw, "tenant-b.example.com", 200, Some(TENANT_B)).await;
        expect_route(gw, "gone.example.com", 403, None).await;
        expect_route(gw, "nobody.example.com", 404, None).await;
    }
    let seq0 = sequence(&a).await;
    assert_eq!(sequence(&b).await, seq0, "both nodes loaded the same table");
    assert_eq!(ids(&tenants(&a).await), ids(&tenants(&b).await));

    // Onboard through A: live on A when it answers, routed by B soon after.
    let r = onboard(&a, "newco", "Newco").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    expect_route(&a, "newco.example.com", 200, Some(&id)).await;
    let t = propagated(&b, "newco.example.com", 200, Some(&id)).await;
    eprintln!("propagation: onboarding through A routed by B after {t:?}");
    let r = admin(&b, Method::GET, &format!("/tenants/{id}"), None).await;
    assert_eq!(r.status, 200, "B's admin API knows the tenant: {}", r.text);
    assert_eq!(r.json()["subdomain"], "newco");

    // Disable through A.
    let r = admin(&a, Method::POST, &format!("/tenants/{id}/disable"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "disabled");
    expect_route(&a, "newco.example.com", 403, None).await;
    let t = propagated(&b, "newco.example.com", 403, None).await;
    eprintln!("propagation: disable through A seen by B after {t:?}");

    // Enable through B.
    let r = admin(&b, Method::POST, &format!("/tenants/{id}/enable"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    expect_route(&b, "newco.example.com", 200, Some(&id)).await;
    let t = propagated(&a, "newco.example.com", 200, Some(&id)).await;
    eprintln!("propagation: enable through B seen by A after {t:?}");

    // A custom domain set through B.
    let r = admin(
        &b,
        Method::PATCH,
        &format!("/tenants/{id}"),
        Some(json!({"custom_domains": ["www.newco.test"]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["custom_domains"], json!(["www.newco.test"]));
    expect_route(&b, "www.newco.test", 200, Some(&id)).await;
    let t = propagated(&a, "www.newco.test", 200, Some(&id)).await;
    eprintln!("propagation: custom domain set through B routed by A after {t:?}");

    // Delete through A.
    let r = admin(&a, Method::DELETE, &format!("/tenants/{id}"), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    expect_route(&a, "newco.example.com", 404, None).await;
    expect_route(&a, "www.newco.test", 404, None).await;
    let t = propagated(&b, "newco.example.com", 404, None).await;
    eprintln!("propagation: delete through A seen by B after {t:?}");
    propagated(&b, "www.newco.test", 404, None).await;
    let r = admin(&b, Method::GET, &format!("/tenants/{id}"), None).await;
    assert_eq!(r.status, 404, "{}", r.text);

    // Five writes, each counted once by both nodes; the original tenants are untouched.
    for (name, gw) in nodes {
        wait_for_sequence(name, gw, seq0 + 5).await;
        let m = gw.metrics().await;
        assert_eq!(metric(&m, "gateway_store_up"), Some(1.0), "node {name}");
        assert_eq!(
            metric(&m, "gateway_store_sequence"),
            Some((seq0 + 5) as f64),
            "node {name}"
        );
        assert_eq!(
            ids(&tenants(gw).await),
            [TENANT_A, TENANT_B, TENANT_OFF],
            "node {name}"
        );
        expect_route(gw, "tenant-a.example.com", 200, Some(TENANT_A)).await;
        // Each change, made through this node or polled from the other, was validated and
        // rebuilt alone.
        let reloads = admin(gw, Method::GET, "/reloads", None).await.json();
        for trigger in ["dynamodb", "admin-api"] {
            let applied: Vec<&Value> = reloads["reloads"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["trigger"] == trigger && e["result"] == "applied")
                .collect();
            assert!(!applied.is_empty(), "node {name}, {trigger}: {reloads}");
            for e in applied {
                let detail = e["detail"].as_str().unwrap_or_default();
                assert!(
                    detail.starts_with("rebuilt 1 of "),
                    "node {name}: {reloads}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_onboarding_of_one_subdomain_lets_exactly_one_node_win() {
    const ROUNDS: u64 = 6;
    let fleet = Fleet::start();
    fleet.init();
    fleet.import_ok(&basic_tenants());
    let a = fleet.node();
    let b = fleet.node();
    let nodes = [("A", &a), ("B", &b)];
    let seq0 = sequence(&a).await;
    assert_eq!(sequence(&b).await, seq0);

    let mut winners = Vec::new();
    for round in 0..ROUNDS {
        let sub = format!("race-{round}");
        let (ra, rb) = tokio::join!(
            onboard(&a, &sub, "Racer through A"),
            onboard(&b, &sub, "Racer through B")
        );
        let mut statuses = [ra.status, rb.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [201, 409],
            "round {round}: A answered {} {}; B answered {} {}",
            ra.status,
            ra.text,
            rb.status,
            rb.text
        );
        let (winner, loser, name) = if ra.status == 201 {
            (ra, rb, "A")
        } else {
            (rb, ra, "B")
        };
        assert!(loser.json()["error"].is_string(), "{}", loser.text);
        let id = winner.json()["id"].as_str().unwrap().to_string();
        winners.push((sub, id, name));
    }
    eprintln!(
        "concurrent onboarding winners: {:?}",
        winners.iter().map(|w| w.2).collect::<Vec<_>>()
    );

    // Both nodes end up with exactly one tenant per raced subdomain: the winner's.
    for (name, gw) in nodes {
        let winners = &winners;
        let (_, t) = eventually_timed(
            &format!("node {name} lists every raced subdomain once"),
            PROPAGATION,
            &nodes,
            || async move {
                let list = tenants(gw).await;
                let mut missing = Vec::new();
                for (sub, id, _) in winners {
                    let with_sub: Vec<&Value> = list
                        .iter()
                        .filter(|t| t["subdomain"] == sub.as_str())
                        .collect();
                    assert!(
                        with_sub.len() <= 1,
                        "node {name} lists {} tenants with subdomain {sub}: {with_sub:?}",
                        with_sub.len()
                    );
                    match with_sub.first() {
                        Some(t) => assert_eq!(t["id"], id.as_str(), "node {name}: {sub}"),
                        None => missing.push(sub.clone()),
                    }
                }
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!("missing {missing:?}"))
                }
            },
        )
        .await;
        eprintln!("propagation: node {name} lists all winners after {t:?}");
        for (sub, id, _) in winners {
            expect_route(gw, &format!("{sub}.example.com"), 200, Some(id)).await;
        }
        assert_eq!(tenants(gw).await.len(), 3 + ROUNDS as usize, "node {name}");
        wait_for_sequence(name, gw, seq0 + ROUNDS).await;
    }
}

/// Requests for known tenants on every node in a loop, until stopped.
struct Traffic {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(u64, Vec<String>)>,
}

impl Traffic {
    fn start(
        nodes: Vec<(&'static str, SocketAddr)>,
        tenants: Vec<(&'static str, &'static str)>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let c = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let (mut ok, mut failures) = (0u64, Vec::new());
            while !flag.load(Ordering::SeqCst) {
                for (node, addr) in &nodes {
                    for (host, id) in &tenants {
                        let started = Instant::now();
                        let res = c
                            .get(format!("http://{addr}/"))
                            .header("host", *host)
                            .send()
                            .await;
                        let failure = match res {
                            Err(e) => Some(format!("error: {e}")),
                            Ok(resp) => {
                                let status = resp.status().as_u16();
                                let body = resp.text().await.unwrap_or_default();
                                let tenant =
                                    serde_json::from_str::<Value>(&body).ok().and_then(|v| {
                                        v["headers"]["x-tenant-id"].as_str().map(str::to_string)
                                    });
                                (status != 200 || tenant.as_deref() != Some(*id))
                                    .then(|| format!("{status} {body}"))
                            }
                        };
                        match failure {
                            None => ok += 1,
                            Some(f) => failures
                                .push(format!("node {node} {host} ({:?}): {f}", started.elapsed())),
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (ok, failures)
        });
        Traffic { stop, task }
    }

    async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_keeps_traffic_flowing_and_heals_by_itself() {
    let moto = Moto::start_serial();
    let mut fwd = Forwarder::start(moto.addr);
    let fleet = Fleet::with_endpoint(moto, &fwd.url());
    fleet.init();
    fleet.import_ok(&basic_tenants());
    let a = fleet.node();
    let b = fleet.node();
    let nodes = [("A", &a), ("B", &b)];

    let before = tenants(&a).await;
    let seq0 = sequence(&a).await;
    let mut errors0 = Vec::new();
    for (name, gw) in nodes {
        let r = readyz(gw).await;
        assert!(is_ready(&r), "node {name}: {r}");
        assert_eq!(r["store"]["sequence"], seq0, "node {name}: {r}");
        let m = gw.metrics().await;
        assert_eq!(metric(&m, "gateway_store_up"), Some(1.0), "node {name}");
        errors0.push(metric(&m, "gateway_store_errors_total").unwrap_or(0.0));
    }

    let traffic = Traffic::start(
        vec![("A", a.http), ("B", b.http)],
        vec![
            ("tenant-a.example.com", TENANT_A),
            ("tenant-b.example.com", TENANT_B),
        ],
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The store goes away: connects refused, pooled connections cut.
    fwd.stop();
    let outage = Instant::now();
    for (i, (name, gw)) in nodes.into_iter().enumerate() {
        let errors_before = errors0[i];
        let (r, _) = eventually_timed(
            &format!("node {name} reports the store down"),
            Duration::from_secs(10),
            &nodes,
            || async move {
                let r = readyz(gw).await;
                let m = gw.metrics().await;
                let up = metric(&m, "gateway_store_up");
                let errors = metric(&m, "gateway_store_errors_total").unwrap_or(0.0);
                if is_degraded(&r) && up == Some(0.0) && errors > errors_before {
                    Ok(r)
                } else {
                    Err(format!(
                        "readyz {r}; gateway_store_up {up:?}; gateway_store_errors_total {errors}"
                    ))
                }
            },
        )
        .await;
        eprintln!(
            "outage: node {name} degraded {:?} after the store went away",
            outage.elapsed()
        );
        assert!(
            r["store"]["last_error"]
                .as_str()
                .is_some_and(|e| !e.is_empty()),
            "node {name}: last_error: {r}"
        );
        assert_eq!(r["store"]["sequence"], seq0, "node {name}: {r}");
    }

    // Writes are refused while the store is away, with a JSON error.
    let started = Instant::now();
    let r = onboard(&a, "during-outage", "During outage").await;
    eprintln!("outage: onboarding refused after {:?}", started.elapsed());
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.json()["error"].is_string(), "{}", r.text);
    let r = admin(
        &b,
        Method::POST,
        &format!("/tenants/{TENANT_B}/disable"),
        None,
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.json()["error"].is_string(), "{}", r.text);
    for (_, gw) in nodes {
        expect_route(gw, "during-outage.example.com", 404, None).await;
        expect_route(gw, "tenant-b.example.com", 200, Some(TENANT_B)).await;
    }

    // Let the traffic run through a few seconds of outage, then bring the store back.
    while outage.elapsed() < Duration::from_secs(4) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (name, gw) in nodes {
        let r = readyz(gw).await;
        assert!(is_degraded(&r), "node {name} still degraded: {r}");
    }
    fwd.restart();
    let back = Instant::now();
    for (name, gw) in nodes {
        eventually_timed(
            &format!("node {name} ready again"),
            Duration::from_secs(12),
            &nodes,
            || async move {
                let r = readyz(gw).await;
                let up = metric(&gw.metrics().await, "gateway_store_up");
                if is_ready(&r) && up == Some(1.0) {
                    Ok(())
                } else {
                    Err(format!("readyz {r}; gateway_store_up {up:?}"))
                }
            },
        )
        .await;
        eprintln!(
            "outage: node {name} ready again {:?} after the store came back",
            back.elapsed()
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ok, failures) = traffic.finish().await;
    eprintln!(
        "outage: {ok} requests answered, {} failed, over {:?}",
        failures.len(),
        outage.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} requests failed, the first: {:#?}\n{}",
        failures.len(),
        &failures[..failures.len().min(10)],
        node_logs(&nodes)
    );
    assert!(ok >= 40, "too little traffic to mean anything: {ok}");

    // Nothing was written during the outage.
    for (name, gw) in nodes {
        assert_eq!(sequence(gw).await, seq0, "node {name}");
        assert_eq!(tenants(gw).await, before, "node {name}");
        expect_route(gw, "during-outage.example.com", 404, None).await;
        expect_route(gw, "tenant-b.example.com", 200, Some(TENANT_B)).await;
    }

    // Changes flow again.
    let r = onboard(&a, "after-outage", "After outage").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    expect_route(&a, "after-outage.example.com", 200, Some(&id)).await;
    let t = propagated(&b, "after-outage.example.com", 200, Some(&id)).await;
    eprintln!("propagation: after the outage, onboarding through A routed by B after {t:?}");
    for (name, gw) in nodes {
        wait_for_sequence(name, gw, seq0 + 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_stops_answering_is_timed_out() {
    // A network partition rather than a refused connect: calls hang until `timeout` (1s).
    let moto = Moto::start_serial();
    let mut fwd = Forwarder::start(moto.addr);
    let fleet = Fleet::with_endpoint(moto, &fwd.url());
    fleet.init();
    fleet.import_ok(&basic_tenants());
    let a = fleet.node();
    let nodes = [("A", &a)];
    let before = tenants(&a).await;
    let seq0 = sequence(&a).await;

    fwd.hang();
    let (_, t) = eventually_timed(
        "node A reports the hanging store down",
        Duration::from_secs(10),
        &nodes,
        || async {
            let r = readyz(&a).await;
            is_degraded(&r).then_some(()).ok_or(r.to_string())
        },
    )
    .await;
    eprintln!("hang: node A degraded after {t:?}");

    // Probes, traffic and refusals stay quick.
    let started = Instant::now();
    readyz(&a).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "/readyz took {:?}",
        started.elapsed()
    );
    expect_route(&a, "tenant-a.example.com", 200, Some(TENANT_A)).await;
    let started = Instant::now();
    let r = onboard(&a, "during-hang", "During hang").await;
    let took = started.elapsed();
    eprintln!("hang: onboarding refused after {took:?}");
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.json()["error"].is_string(), "{}", r.text);
    assert!(
        took < Duration::from_secs(10),
        "a write waited {took:?} on a 1s store timeout"
    );

    fwd.restart();
    let (_, t) = eventually_timed(
        "node A ready again",
        Duration::from_secs(12),
        &nodes,
        || async {
            let r = readyz(&a).await;
            is_ready(&r).then_some(()).ok_or(r.to_string())
        },
    )
    .await;
    eprintln!("hang: node A ready again {t:?} after the store answered again");
    assert_eq!(sequence(&a).await, seq0);
    assert_eq!(tenants(&a).await, before);
    let r = onboard(&a, "after-hang", "After hang").await;
    assert_eq!(r.status, 201, "{}", r.text);
    wait_for_sequence("A", &a, seq0 + 1).await;
}

/// An admin request with `token` (or none) to `path` on the node.
fn request(
    gw: &Gateway,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let req = client().request(method, gw.admin_url(path));
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

/// What both nodes held before the refused changes.
struct Baseline<'a> {
    nodes: [(&'a str, &'a Gateway); 2],
    sequence: u64,
    tenants: Vec<Value>,
}

impl Baseline<'_> {
    /// Sends `req` (through node `through`), which must be refused with one of `statuses` and
    /// a JSON error containing `names`; then neither node's sequence nor tenants have moved.
    async fn refused(
        &self,
        what: &str,
        through: &str,
        req: reqwest::RequestBuilder,
        statuses: &[u16],
        names: &str,
    ) {
        let r = send(req).await;
        assert!(
            statuses.contains(&r.status),
            "{what} through {through}: {} (wanted {statuses:?}): {}",
            r.status,
            r.text
        );
        assert!(
            r.json()["error"].is_string(),
            "{what}: a JSON error: {}",
            r.text
        );
        assert!(
            r.text.contains(names),
            "{what}: the answer names {names:?}: {}",
            r.text
        );
        for (node, gw) in self.nodes {
            assert_eq!(
                sequence(gw).await,
                self.sequence,
                "after {what} through {through}: node {node}'s sequence moved"
            );
            assert_eq!(
                tenants(gw).await,
                self.tenants,
                "after {what} through {through}: node {node}'s tenants changed"
            );
        }
    }
}

#[tokio::test]
async fn refused_admin_changes_write_nothing_on_either_node() {
    let fleet = Fleet::start();
    fleet.init();
    fleet.import_ok(&basic_tenants());
    let a = fleet.node();
    let b = fleet.node();
    let base = Baseline {
        nodes: [("A", &a), ("B", &b)],
        sequence: sequence(&a).await,
        tenants: tenants(&a).await,
    };
    assert_eq!(sequence(&b).await, base.sequence);
    assert_eq!(tenants(&b).await, base.tenants);

    let token = Some(ADMIN_TOKEN);
    let wrong = Some("wrong-token-wrong-token");
    let valid = json!({"tenantName": "Nope", "tenantSubDomain": "nope"});
    let tenant_b = format!("/tenants/{TENANT_B}");

    // Without the admin token.
    let req = request(&a, Method::POST, "/tenants", None).json(&valid);
    base.refused("onboarding without a token", "A", req, &[401], "")
        .await;
    let req = request(&b, Method::POST, "/tenants", wrong).json(&valid);
    base.refused("onboarding with a wrong token", "B", req, &[401], "")
        .await;
    let req = request(&a, Method::DELETE, &format!("/tenants/{TENANT_A}"), wrong);
    base.refused("delete with a wrong token", "A", req, &[401], "")
        .await;
    let req = request(&b, Method::POST, &format!("{tenant_b}/disable"), None);
    base.refused("disable without a token", "B", req, &[401], "")
        .await;
    let req = request(&a, Method::GET, "/tenants", None);
    base.refused("listing without a token", "A", req, &[401], "")
        .await;

    // Bodies that are not what the endpoint takes.
    let req = request(&a, Method::POST, "/tenants", token)
        .header("content-type", "application/json")
        .body("{not json");
    base.refused("malformed JSON", "A", req, &[400], "").await;
    let req = request(&b, Method::POST, "/tenants", token)
        .json(&json!({"tenantName": "x", "tenantSubDomain": "ok-sub", "colour": "red"}));
    base.refused("an unknown onboarding field", "B", req, &[400], "")
        .await;
    let req = request(&b, Method::PATCH, &tenant_b, token).json(&json!({"colour": "red"}));
    base.refused("an unknown PATCH field", "B", req, &[400], "")
        .await;

    // Records that do not validate.
    let req = request(&a, Method::POST, "/tenants", token)
        .json(&json!({"tenantName": "x", "tenantSubDomain": "Bad_Sub!"}));
    base.refused("an invalid subdomain", "A", req, &[400], "subdomain")
        .await;
    let req = request(&a, Method::PATCH, &tenant_b, token)
        .json(&json!({"custom_domains": ["not a host"]}));
    base.refused(
        "a custom domain that is not a host",
        "A",
        req,
        &[400],
        "custom_domains",
    )
    .await;
    let req = request(&b, Method::PATCH, &tenant_b, token)
        .json(&json!({"custom_domains": ["shop.example.com"]}));
    base.refused(
        "a custom domain under a base domain",
        "B",
        req,
        &[400],
        "custom_domains",
    )
    .await;
    let req = request(&a, Method::PUT, &format!("{tenant_b}/routes"), token)
        .json(&json!([{"prefix": "/", "pool": "nowhere"}]));
    base.refused("a route to an unknown pool", "A", req, &[400], "nowhere")
        .await;
    let req = request(&b, Method::PUT, &format!("{tenant_b}/idp"), token)
        .json(&json!({"kind": "oidc", "issuer": "not a url", "client_id": "c"}));
    base.refused("an IdP issuer that is not a URL", "B", req, &[400], "")
        .await;

    // Conflicts with other tenants.
    let req = request(&b, Method::PATCH, &tenant_b, token)
        .json(&json!({"custom_domains": ["www.tenant-a.test"]}));
    base.refused(
        "tenant A's custom domain on tenant B",
        "B",
        req,
        &[400, 409],
        "",
    )
    .await;
    for (through, gw, sub) in [
        ("A", &a, "tenant-a"),
        ("B", &b, "tenant-b"),
        ("B", &b, "gone"),
    ] {
        let req = request(gw, Method::POST, "/tenants", token)
            .json(&json!({"tenantName": "Copycat", "tenantSubDomain": sub}));
        base.refused(
            &format!("onboarding a taken subdomain ({sub})"),
            through,
            req,
            &[409],
            "",
        )
        .await;
    }
    let req = request(
        &a,
        Method::PATCH,
        "/tenants/00000000-0000-4000-8000-000000000000",
        token,
    )
    .json(&json!({"tier": "enterprise"}));
    base.refused(
        "a change to a tenant that does not exist",
        "A",
        req,
        &[404],
        "",
    )
    .await;

    for (_, gw) in base.nodes {
        expect_route(gw, "nope.example.com", 404, None).await;
        expect_route(gw, "ok-sub.example.com", 404, None).await;
        expect_route(gw, "tenant-b.example.com", 200, Some(TENANT_B)).await;
    }

    // One accepted write moves the sequence by exactly one on both nodes: had any refused
    // change been written, even late, it would be further along.
    let r = onboard(&a, "canary", "Canary").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let canary = r.json()["id"].as_str().unwrap().to_string();
    for (name, gw) in base.nodes {
        wait_for_sequence(name, gw, base.sequence + 1).await;
        let mut want = ids(&base.tenants);
        want.push(canary.clone());
        want.sort();
        assert_eq!(ids(&tenants(gw).await), want, "node {name}");
    }
}

#[tokio::test]
async fn an_invalid_import_is_refused_and_writes_nothing() {
    let fleet = Fleet::start();
    fleet.init();
    fleet.import_ok(&basic_tenants());
    let a = fleet.node();
    let (seq0, list0) = (sequence(&a).await, tenants(&a).await);
    assert_eq!(ids(&list0), [TENANT_A, TENANT_B, TENANT_OFF]);

    // A valid new tenant first, then two with one subdomain: nothing of it may land.
    let duplicate = "tenants:
  - id: 44444444-4444-4444-8444-444444444444
    name: Fresh
    subdomain: fresh-ok
  - id: 55555555-5555-4555-8555-555555555555
    name: First twin
    subdomain: dup-sub
  - id: 66666666-6666-4666-8666-666666666666
    name: Second twin
    subdomain: dup-sub
";
    let (ok, out) = fleet.import("duplicate.yaml", duplicate);
    eprintln!("import of a duplicate subdomain:\n{out}");
    assert!(!ok, "import of a duplicate subdomain succeeded:\n{out}");
    assert!(
        out.contains("subdomain") && out.contains("dup-sub"),
        "{out}"
    );

    let bad_pool = "tenants:
  - id: 77777777-7777-4777-8777-777777777777
    name: Lost
    subdomain: lost
    routes:
      - { prefix: /, pool: nowhere }
";
    let (ok, out) = fleet.import("bad-pool.yaml", bad_pool);
    assert!(
        !ok,
        "import of a route to an unknown pool succeeded:\n{out}"
    );
    assert!(out.contains("nowhere"), "{out}");

    let (ok, out) = fleet.import("unparseable.yaml", "tenants: [ {");
    assert!(!ok, "import of unparseable YAML succeeded:\n{out}");
    assert!(out.contains("unparseable.yaml"), "names the file: {out}");

    let unknown_field = basic_tenants().replace("tier: premium", "tier: premium\n    colour: blue");
    let (ok, out) = fleet.import("unknown-field.yaml", &unknown_field);
    assert!(!ok, "import with an unknown field succeeded:\n{out}");
    assert!(out.contains("colour"), "{out}");

    let (ok, out) = fleet.cli("import", &["/nonexistent/tenants.yaml"]);
    assert!(!ok, "import of a missing file succeeded:\n{out}");

    {
        // The running node saw no change; a new write moves the sequence by exactly one.
        assert_eq!(sequence(&a).await, seq0);
        assert_eq!(tenants(&a).await, list0);
        let r = onboard(&a, "canary", "Canary").await;
        assert_eq!(r.status, 201, "{}", r.text);
        let canary = r.json()["id"].as_str().unwrap().to_string();
        wait_for_sequence("A", &a, seq0 + 1).await;
        let mut want = ids(&list0);
        want.push(canary);
        want.sort();
        assert_eq!(ids(&tenants(&a).await), want);

        // A node started now loads the table from scratch: the same tenants.
        let b = fleet.node();
        assert_eq!(sequence(&b).await, seq0 + 1);
        assert_eq!(ids(&tenants(&b).await), want);
        for gw in [&a, &b] {
            expect_route(gw, "fresh-ok.example.com", 404, None).await;
            expect_route(gw, "dup-sub.example.com", 404, None).await;
            expect_route(gw, "lost.example.com", 404, None).await;
            expect_route(gw, "tenant-a.example.com", 200, Some(TENANT_A)).await;
        }
    }
}

/// The outage test's forwarder itself: it forwards, a stop cuts live connections and
/// refuses new ones, and a restart listens on the same port again.
#[tokio::test]
async fn harness_forwarder_stops_and_restarts_on_the_same_port() {
    let backend = Backend::start("behind-forwarder");
    let mut fwd = Forwarder::start(backend.addr);
    let url = format!("{}/", fwd.url());
    let r = send(client().get(&url)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.backend(), "behind-forwarder");

    let slow_url = format!("{}/slow?sleep_ms=3000", fwd.url());
    let slow = tokio::spawn(async move { client().get(slow_url).send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    fwd.stop();
    let cut = slow.await.unwrap();
    assert!(cut.is_err(), "the live connection was cut: {cut:?}");
    let refused = std::net::TcpStream::connect_timeout(&fwd.addr, Duration::from_secs(1));
    assert!(refused.is_err(), "connects are refused while stopped");

    fwd.restart();
    let r = send(client().get(&url)).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Hanging: connects succeed, nothing ever answers.
    fwd.hang();
    let quick = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let hung = quick.get(&url).send().await;
    assert!(
        hung.is_err_and(|e| e.is_timeout()),
        "no answer while hanging"
    );
    fwd.restart();
    let r = send(client().get(&url)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(fwd.accepted() >= 5);
}
