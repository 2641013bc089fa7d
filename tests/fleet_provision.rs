//! Cognito provisioning on the DynamoDB store, two gateway nodes on one moto (tables and
//! cognito-idp on the same server): a tenant onboarded through one node is routed by the
//! other, which accepts its admin's tokens within the propagation deadline; the client
//! secret is kept sealed in the record, never in plain text.

mod common;
use common::fleet::{node_logs, DynamoFleet};
use common::peers::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A change made through any node is routed by every node within this.
const PROPAGATION: Duration = Duration::from_secs(5);
const STORE_KEY_ENV: &str = "TEST_STORE_KEY";
const STORE_KEY: &str = "fleet-provision-store-key-0123456789abcdef";

#[tokio::test]
async fn a_tenant_provisioned_through_one_node_is_served_by_the_other_with_its_secret_sealed() {
    let moto = Moto::start_serial();
    let pool = CognitoPool::create(&moto.url);
    let endpoint = moto.url.clone();
    // Onboarded tenants default to browser login, which needs a session key on every node
    // (the fixture passes no other environment: the key comes from a file).
    let keys = tempfile::tempdir().unwrap();
    let session_key = keys.path().join("session.key");
    std::fs::write(&session_key, "fleet-provision-session-key-0123456789abcdef").unwrap();
    let fleet = DynamoFleet::builder()
        .store_key(STORE_KEY_ENV, STORE_KEY)
        .extra(&format!(
            "auth:\n  session_key: {{ file: {} }}\n",
            session_key.display()
        ))
        .extra(&format!(
            "provisioning:\n  cognito:\n    user_pool_id: {}\n    region: us-east-1\n    \
             endpoint: {endpoint}\n    jwks_uri: {}\n    \
             explicit_auth_flows: [ALLOW_REFRESH_TOKEN_AUTH, ALLOW_USER_PASSWORD_AUTH]\n    \
             public_scheme: http\n    timeout: 10s\n",
            pool.pool_id, pool.jwks_url
        ))
        .start_on(moto, &endpoint);
    fleet.init();
    let a = fleet.node();
    let b = fleet.node();
    let nodes = [("1", &a), ("2", &b)];

    // Onboard through node 1.
    let start = Instant::now();
    let r = admin(
        &a,
        Method::POST,
        "/tenants",
        Some(json!({
            "tenantName": "Acme", "tenantSubDomain": "acme",
            "emailId": "admin@acme.test", "tier": "premium"
        })),
    )
    .await;
    eprintln!(
        "onboarding on the DynamoDB store answered {} in {:?}",
        r.status,
        start.elapsed()
    );
    assert_eq!(r.status, 201, "{}\n{}", r.text, node_logs(&nodes));
    let record = r.json();
    let id = str_of(&record, "id").to_string();
    let client_id = str_of(&record["provisioned"], "client_id").to_string();
    assert_eq!(record["idp"]["client_id"], client_id, "{record:#}");

    // The client in moto, and its secret: sealed in the store's record, not in the clear.
    let c = pool.describe_client(&client_id);
    assert_eq!(c["exists"], true, "{c}");
    assert_eq!(c["ClientName"], format!("tenant-gateway-{id}"), "{c:#}");
    let secret = str_of(&c, "ClientSecret").to_string();
    let item = fleet.item("tenants", &id);
    let stored: Value = serde_json::from_str(
        item["record"]
            .as_str()
            .unwrap_or_else(|| panic!("no record: {item}")),
    )
    .unwrap();
    let sealed = stored["idp"]["client_secret"]["sealed"]
        .as_str()
        .unwrap_or_else(|| panic!("no sealed client secret: {stored:#}"));
    assert!(sealed.starts_with("v1."), "{stored:#}");
    assert_eq!(stored["idp"]["client_id"], client_id, "{stored:#}");
    let whole_item = item.to_string();
    assert!(
        !whole_item.contains(&secret),
        "secret in the clear: {whole_item}"
    );
    assert!(
        !r.text.contains(&secret),
        "secret in the answer: {}",
        r.text
    );

    // The admin's tokens (logged in with the secret moto reports).
    let tokens = pool.login(&client_id, &secret, "admin@acme.test");
    let id_token = str_of(&tokens, "id_token").to_string();

    // Bearer tokens on every route; then node 2 must serve them within the deadline.
    let r = admin(
        &a,
        Method::PUT,
        &format!("/tenants/{id}/routes"),
        Some(json!([{"prefix": "/", "pool": "web", "auth": "jwt"}])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let changed = Instant::now();
    let id_ref = id.as_str();
    let token = id_token.as_str();
    let served = eventually_with_log(
        "node 2 accepts the provisioned admin's token",
        PROPAGATION,
        || node_logs(&nodes),
        || async {
            let r = send(
                client()
                    .get(b.url("/orders"))
                    .header("host", "acme.example.com")
                    .bearer_auth(token),
            )
            .await;
            if r.status == 200 && r.upstream_header("x-tenant-id").as_deref() == Some(id_ref) {
                Ok(r)
            } else {
                Err(format!("{} {}", r.status, r.text))
            }
        },
    )
    .await;
    eprintln!(
        "node 2 served the new tenant's token after {:?}",
        changed.elapsed()
    );
    assert_eq!(
        served.upstream_header("x-tenant-id").as_deref(),
        Some(id_ref)
    );

    // Node 2 knows the tenant's IdP as node 1 wrote it (the secret not shown).
    let shown = admin(&b, Method::GET, &format!("/tenants/{id}"), None).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(
        shown.json()["idp"]["client_id"],
        client_id,
        "{}",
        shown.text
    );
    assert!(!shown.text.contains(&secret), "{}", shown.text);
    // The access token too, and nothing without one.
    let r = send(
        client()
            .get(b.url("/orders"))
            .header("host", "acme.example.com")
            .bearer_auth(str_of(&tokens, "access_token")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = b.get("acme.example.com", "/orders").await;
    assert_eq!(r.status, 401, "{}", r.text);
}
