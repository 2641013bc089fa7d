//! A tier's limits are for the fleet: two gateway processes on one moto DynamoDB store see
//! each other in the `NODES` item and each enforce half the tier's rate, so a load spread
//! evenly over both gets about the tier's rate in all; once one node is gone, the other sees
//! itself alone and enforces the whole rate; while the store is away, each keeps its share.

mod common;
use common::fleet::*;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOST: &str = "tenant-b.example.com";
/// The tier: 40 req/s, burst 4, for the fleet.
const RATE: f64 = 40.0;
const BURST: f64 = 4.0;
/// The offered load, req/s, and how long it lasts.
const LOAD: u32 = 160;
const SECONDS: u32 = 5;

fn fleet() -> DynamoFleet {
    let fleet = DynamoFleet::builder()
        .extra("tiers:\n  basic: { rate_per_second: 40, burst: 4 }\n")
        .start();
    fleet.init();
    fleet.import_ok(&format!(
        r#"tenants:
  - id: {TENANT_B}
    name: Tenant B
    subdomain: tenant-b
    tier: basic
"#
    ));
    fleet
}

/// Waits until `gw` reports `n` live nodes.
async fn sees_nodes(gw: &Gateway, n: u32, others: &[(&str, &Gateway)]) {
    let want = format!("gateway_fleet_nodes {n}\n");
    eventually_with_log(
        &format!("the node sees {n} live node(s)"),
        Duration::from_secs(20),
        || node_logs(others),
        || async {
            let m = gw.metrics().await;
            if m.contains(&want) {
                Ok(())
            } else {
                Err(m
                    .lines()
                    .find(|l| l.starts_with("gateway_fleet_nodes"))
                    .unwrap_or("no gateway_fleet_nodes")
                    .to_string())
            }
        },
    )
    .await
}

/// `LOAD` req/s for `SECONDS` s, round robin over `nodes`: (accepted, limited, elapsed).
async fn paced_load(nodes: &[Arc<Gateway>]) -> (usize, usize, Duration) {
    let ok = Arc::new(AtomicUsize::new(0));
    let limited = Arc::new(AtomicUsize::new(0));
    let other = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / LOAD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for i in 0..(LOAD * SECONDS) as usize {
        tick.tick().await;
        let gw = nodes[i % nodes.len()].clone();
        let (ok, limited, other) = (ok.clone(), limited.clone(), other.clone());
        tasks.push(tokio::spawn(async move {
            match gw.get(HOST, "/load").await.status {
                200 => ok.fetch_add(1, Ordering::Relaxed),
                429 => limited.fetch_add(1, Ordering::Relaxed),
                _ => other.fetch_add(1, Ordering::Relaxed),
            };
        }));
    }
    let sent_for = start.elapsed();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(other.load(Ordering::Relaxed), 0, "only 200 and 429");
    (
        ok.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed),
        sent_for,
    )
}

fn assert_about(ok: usize, sent_for: Duration, what: &str) {
    let expected = RATE * sent_for.as_secs_f64() + BURST;
    eprintln!("{what}: sent for {sent_for:?}: {ok} accepted (expected {expected:.0})");
    assert!(
        (ok as f64) >= expected * 0.85 && (ok as f64) <= expected * 1.15,
        "{what}: {ok} accepted, expected {expected:.0} ±15%"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_the_tier_rate_and_one_alone_takes_all_of_it() {
    let fleet = fleet();
    let a = Arc::new(fleet.node());
    let b = fleet.node();
    sees_nodes(&a, 2, &[("a", &a), ("b", &b)]).await;
    sees_nodes(&b, 2, &[("a", &a), ("b", &b)]).await;
    for gw in [&*a, &b] {
        gw.wait_for_status(HOST, "/load", 200, Duration::from_secs(10))
            .await;
    }
    let b = Arc::new(b);
    // The budgets spent by the probes above fill up again.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (ok, limited, sent_for) = paced_load(&[a.clone(), b.clone()]).await;
    assert_eq!(ok + limited, (LOAD * SECONDS) as usize);
    assert_about(ok, sent_for, "two nodes");

    let b = Arc::try_unwrap(b).unwrap_or_else(|_| panic!("node b still shared"));
    b.stop();
    sees_nodes(&a, 1, &[("a", &a)]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (ok, limited, sent_for) = paced_load(std::slice::from_ref(&a)).await;
    assert_eq!(ok + limited, (LOAD * SECONDS) as usize);
    assert_about(ok, sent_for, "one node alone");
}

/// While the store cannot be reached a node keeps its last share: the fleet still admits
/// about the tier's rate, not the rate on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_node_keeps_its_share_while_the_store_is_away() {
    let mut fleet = fleet();
    let a = Arc::new(fleet.node());
    let b = Arc::new(fleet.node());
    for gw in [&a, &b] {
        sees_nodes(gw, 2, &[("a", &a), ("b", &b)]).await;
        gw.wait_for_status(HOST, "/load", 200, Duration::from_secs(10))
            .await;
    }

    fleet.moto.stop();
    for gw in [&a, &b] {
        eventually_with_log(
            "the node reports the store down",
            Duration::from_secs(20),
            || node_logs(&[("a", &a), ("b", &b)]),
            || async {
                let m = gw.metrics().await;
                match m.lines().find(|l| l.starts_with("gateway_store_up ")) {
                    Some("gateway_store_up 0") => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await;
        assert!(
            gw.metrics().await.contains("gateway_fleet_nodes 2\n"),
            "the last count of live nodes stays"
        );
    }
    // The budgets spent by the probes above fill up again.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (ok, limited, sent_for) = paced_load(&[a.clone(), b.clone()]).await;
    assert_eq!(ok + limited, (LOAD * SECONDS) as usize);
    assert_about(ok, sent_for, "two nodes, store away");
}
