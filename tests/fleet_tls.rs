//! Two gateway nodes sharing one DynamoDB store (moto) and one ACME CA (pebble) behind a
//! round-robin TCP balancer: each host is ordered once for the whole fleet (order leases),
//! whichever node the CA's validator reaches answers the HTTP-01 challenge (answers shared
//! in the store), both nodes serve the same certificate, and private keys are encrypted at rest.

mod common;
use common::pebble::*;
use common::peers::{repo_root, Moto};
use common::*;
use serde_json::Value;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const AWS_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];
const STORE_KEY: &str = "fleet-test-encryption-key-0123456789abcdef";

/// A round-robin TCP balancer in front of the nodes' plain listeners (what the CA reaches).
/// It runs until the test process ends.
struct Balancer;

impl Balancer {
    fn start(port: u16, targets: Vec<SocketAddr>) -> Balancer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("balancer port");
        let next = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let target = targets[next.fetch_add(1, Ordering::SeqCst) % targets.len()];
                std::thread::spawn(move || {
                    let Ok(upstream) = TcpStream::connect(target) else {
                        return;
                    };
                    let (mut a, mut b) = (conn.try_clone().unwrap(), upstream.try_clone().unwrap());
                    let t = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut a, &mut b);
                        let _ = b.shutdown(std::net::Shutdown::Write);
                    });
                    let (mut c, mut d) = (upstream, conn);
                    let _ = std::io::copy(&mut c, &mut d);
                    let _ = d.shutdown(std::net::Shutdown::Write);
                    let _ = t.join();
                });
            }
        });
        Balancer
    }
}

fn fleet_yaml(web: &Backend, pebble: &Pebble, moto: &Moto) -> String {
    acme_gateway_yaml(web, pebble, "").replace(
        "tenants:\n  source: file\n  path: tenants.yaml\n",
        &format!(
            "tenants:\n  source: dynamodb\n  table_prefix: tls-fleet\n  endpoint: {}\n  \
             poll_interval: 300ms\n  encryption_key_env: TEST_STORE_KEY\n",
            moto.url
        ),
    )
}

fn cli(config: &std::path::Path, args: &[&str]) {
    let out = Command::new(BIN)
        .arg("dynamodb")
        .args(args)
        .arg("--config")
        .arg(config)
        .envs(AWS_ENV)
        .env("TEST_STORE_KEY", STORE_KEY)
        .env("TEST_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dynamodb {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn node(yaml: &str, https_port: u16) -> Gateway {
    let mut b = GatewayBuilder::new(yaml, "tenants: []\n")
        .https_port(https_port)
        .no_watch()
        .env("TEST_STORE_KEY", STORE_KEY);
    for (k, v) in AWS_ENV {
        b = b.env(k, v);
    }
    b.start()
}

fn metric_sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Runs `body` with `t`, the certs table as a boto3 resource (outside the gateway); returns
/// what it prints.
fn with_certs_table(moto: &Moto, body: &str) -> String {
    let script = format!(
        "import boto3, json, time\n\
         t = boto3.resource('dynamodb', endpoint_url='{}', region_name='us-east-1', \
         aws_access_key_id='test', aws_secret_access_key='test').Table('tls-fleet-certs')\n{body}",
        moto.url
    );
    let out = Command::new(repo_root().join(".venv-peers/bin/python"))
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn certs_item(moto: &Moto, pk: &str) -> Value {
    let printed = with_certs_table(
        moto,
        &format!("print(json.dumps(t.get_item(Key={{'pk': '{pk}'}}).get('Item'), default=str))"),
    );
    serde_json::from_str(&printed).unwrap()
}

fn put_challenge(moto: &Moto, token: &str, answer: &str) {
    with_certs_table(
        moto,
        &format!(
            "t.put_item(Item={{'pk': 'CHALLENGE#{token}', 'answer': '{answer}', \
             'expires_at': int(time.time()) + 600}})"
        ),
    );
}

#[tokio::test]
async fn two_nodes_order_each_host_once_and_serve_the_same_certificate() {
    // One request at a time: moto's conditional writes are not isolated between threads.
    let moto = Moto::start_serial();
    let lb_port = free_port();
    let pebble = Pebble::start(lb_port, free_port());
    let web = Backend::start("web");
    let yaml = fleet_yaml(&web, &pebble, &moto);

    // The CLI's copy of the configuration (placeholders filled; listeners unused).
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gateway.yaml");
    std::fs::write(
        &cfg,
        yaml.replace("{http}", "127.0.0.1:1")
            .replace("{https}", "127.0.0.1:2")
            .replace("{admin}", "127.0.0.1:3")
            .replace("{access_log}", "off"),
    )
    .unwrap();
    std::fs::write(dir.path().join("tenants.yaml"), basic_tenants()).unwrap();
    cli(&cfg, &["init"]);
    cli(
        &cfg,
        &["import", dir.path().join("tenants.yaml").to_str().unwrap()],
    );

    let (https_a, https_b) = (free_port(), free_port());
    let a = node(&yaml, https_a);
    let b = node(&yaml, https_b);
    let _lb = Balancer::start(lb_port, vec![a.http, b.http]);

    // Every name of every active tenant: both base domains and the custom domain.
    let listed = send(client().get(a.admin_url("/certs")).bearer_auth(ADMIN_TOKEN))
        .await
        .json();
    let mut hosts: Vec<String> = listed["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap().to_string())
        .collect();
    hosts.sort();
    assert_eq!(
        hosts,
        [
            "tenant-a.example.com",
            "tenant-a.saas.test",
            "tenant-b.example.com",
            "tenant-b.saas.test",
            "www.tenant-a.test"
        ]
    );
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    for &host in &hosts {
        wait_for_cert(&a, host, Duration::from_secs(90)).await;
        wait_for_cert(&b, host, Duration::from_secs(90)).await;
    }

    // One order per host across the fleet, and both nodes serve that one certificate.
    let (ma, mb) = (a.metrics().await, b.metrics().await);
    let ok = |m: &str| metric_sum(m, "gateway_acme_orders_total{result=\"ok\"}");
    assert_eq!(
        ok(&ma) + ok(&mb),
        hosts.len() as f64,
        "orders: A {} B {}\n--- A ---\n{}\n--- B ---\n{}",
        ok(&ma),
        ok(&mb),
        a.stderr(),
        b.stderr()
    );
    eprintln!("orders placed: node A {}, node B {}", ok(&ma), ok(&mb));
    let root = pebble.root_pem().await;
    for &host in &hosts {
        let from_a = fetch_served_chain(a.https, host).unwrap();
        let from_b = fetch_served_chain(b.https, host).unwrap();
        verify_chain(&from_a.join(""), &root, host).unwrap();
        verify_chain(&from_b.join(""), &root, host).unwrap();
        assert_eq!(
            from_a[0], from_b[0],
            "{host}: both nodes serve the same leaf"
        );
    }

    // Keys are encrypted at rest; chains are plain PEM.
    let item = certs_item(&moto, "CERT#tenant-a.example.com");
    assert!(item["chain"]
        .as_str()
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    let key = item["key"].as_str().unwrap();
    assert!(
        key.starts_with("v1.") && !key.contains("PRIVATE KEY"),
        "{key}"
    );
    let account = certs_item(&moto, "ACCOUNT");
    assert!(!account["credentials"].as_str().unwrap().contains("private"));

    // An answer published by one node is given by every node (the CA may reach any).
    put_challenge(&moto, "fleet-token_1", "fleet-token_1.thumbprint");
    for gw in [&a, &b] {
        let r = send(
            client()
                .get(gw.url("/.well-known/acme-challenge/fleet-token_1"))
                .header("host", "tenant-b.saas.test"),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.text, "fleet-token_1.thumbprint");
        let r = send(
            client()
                .get(gw.url("/.well-known/acme-challenge/unknown-token"))
                .header("host", "tenant-b.saas.test"),
        )
        .await;
        assert_eq!(r.status, 404);
    }

    // A tenant onboarded through B gets one certificate, served by both.
    let r = send(
        client()
            .post(b.admin_url("/tenants"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({"tenantName": "Late", "tenantSubDomain": "late"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    for host in ["late.example.com", "late.saas.test"] {
        wait_for_cert(&a, host, Duration::from_secs(60)).await;
        wait_for_cert(&b, host, Duration::from_secs(60)).await;
        assert_eq!(
            fetch_served_chain(a.https, host).unwrap()[0],
            fetch_served_chain(b.https, host).unwrap()[0]
        );
    }
    let (ma, mb) = (a.metrics().await, b.metrics().await);
    assert_eq!(ok(&ma) + ok(&mb), hosts.len() as f64 + 2.0);

    // A node that starts now indexes the table by each item's metadata (no key is read),
    // orders nothing, and loads a certificate at its host's first handshake. One item stored
    // before items carried metadata is parsed once and gets it.
    let item = certs_item(&moto, "CERT#www.tenant-a.test");
    assert!(item["meta"].as_str().unwrap().contains("www.tenant-a.test"));
    with_certs_table(
        &moto,
        "t.update_item(Key={'pk': 'CERT#www.tenant-a.test'}, UpdateExpression='REMOVE meta')",
    );
    // A single node's stored certificate, copied into the table with the CLI (the move from
    // files to a fleet): indexed, key sealed, served like the fleet's own.
    let files = tempfile::tempdir().unwrap();
    let imported_key = rcgen::KeyPair::generate().unwrap();
    let imported = rcgen::CertificateParams::new(vec!["imported.example.com".to_string()])
        .unwrap()
        .self_signed(&imported_key)
        .unwrap();
    let d = files.path().join("acme/imported.example.com");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("fullchain.pem"), imported.pem()).unwrap();
    std::fs::write(d.join("privkey.pem"), imported_key.serialize_pem()).unwrap();
    cli(&cfg, &["import-certs", files.path().to_str().unwrap()]);
    let item = certs_item(&moto, "CERT#imported.example.com");
    assert!(item["meta"]
        .as_str()
        .unwrap()
        .contains("imported.example.com"));
    let sealed = item["key"].as_str().unwrap();
    assert!(sealed.starts_with("v1.") && !sealed.contains("PRIVATE KEY"));

    let c = node(&yaml, free_port());
    let all: Vec<&str> = hosts
        .iter()
        .copied()
        .chain(["late.example.com", "late.saas.test"])
        .collect();
    for &host in &all {
        wait_for_cert(&c, host, Duration::from_secs(30)).await;
    }
    let stored = |listed: &Value| -> Vec<(String, bool)> {
        let mut s: Vec<(String, bool)> = listed["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| Some((x["stored_for"].as_str()?.to_string(), x["loaded"] == true)))
            .collect();
        s.sort();
        s
    };
    let listed = send(client().get(c.admin_url("/certs")).bearer_auth(ADMIN_TOKEN))
        .await
        .json();
    let mut expected: Vec<(String, bool)> = all
        .iter()
        .chain(&["imported.example.com"])
        .map(|h| (h.to_string(), false))
        .collect();
    expected.sort();
    assert_eq!(stored(&listed), expected, "indexed, none loaded: {listed}");
    assert!(certs_item(&moto, "CERT#www.tenant-a.test")["meta"]
        .as_str()
        .is_some_and(|m| m.contains("www.tenant-a.test")));
    for host in ["tenant-b.saas.test", "www.tenant-a.test"] {
        assert_eq!(
            fetch_served_chain(c.https, host).unwrap()[0],
            fetch_served_chain(a.https, host).unwrap()[0],
            "{host}"
        );
    }
    assert_eq!(
        fetch_served_chain(c.https, "imported.example.com").unwrap()[0],
        split_pem(&imported.pem())[0]
    );
    let listed = send(client().get(c.admin_url("/certs")).bearer_auth(ADMIN_TOKEN))
        .await
        .json();
    let loaded: Vec<String> = stored(&listed)
        .into_iter()
        .filter(|(_, l)| *l)
        .map(|(h, _)| h)
        .collect();
    assert_eq!(
        loaded,
        [
            "imported.example.com",
            "tenant-b.saas.test",
            "www.tenant-a.test"
        ]
    );
    assert_eq!(ok(&c.metrics().await), 0.0, "{}", c.stderr());
}
