//! Cognito provisioning on the file store, against moto's cognito-idp (reached through a
//! fault proxy): onboarding makes the tenant's group, app client (with exactly its callback
//! and logout URLs), stored secret and admin user, whose tokens work on its tenant only;
//! custom domain changes update the client; removal deletes client and group; a failed step
//! rolls everything back and an idempotent retry then succeeds once; without `provisioning`
//! onboarding is unchanged.

mod common;
use common::fleet::AWS_ENV;
use common::peers::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Instant;

const SESSION_KEY: &str = "provision-test-session-key-0123456789abcdef";
const FLOWS: [&str; 2] = ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"];

struct Setup {
    gw: Gateway,
    pool: CognitoPool,
    proxy: FaultProxy,
    _moto: Moto,
    _web: Backend,
}

/// The `provisioning:` block: Cognito calls go to `endpoint`, keys come from moto itself.
fn provisioning_yaml(pool: &CognitoPool, endpoint: &str) -> String {
    format!(
        "provisioning:\n  cognito:\n    user_pool_id: {}\n    region: us-east-1\n    \
         endpoint: {endpoint}\n    jwks_uri: {}\n    explicit_auth_flows: [{}]\n    \
         public_scheme: http\n    timeout: 10s\n",
        pool.pool_id,
        pool.jwks_url,
        FLOWS.join(", ")
    )
}

/// moto, a pool in it, a fault proxy in front of it, and a gateway provisioning through it.
fn setup() -> Setup {
    let moto = Moto::start();
    let pool = CognitoPool::create(&moto.url);
    let proxy = FaultProxy::start(&moto.url);
    let web = Backend::start("web");
    let extra = format!(
        "auth:\n  session_key: {{ env: TEST_SESSION_KEY }}\n{}",
        provisioning_yaml(&pool, &proxy.url)
    );
    let mut b = GatewayBuilder::new(&gateway_yaml(&[&web], &extra), "tenants: []\n")
        .env("TEST_SESSION_KEY", SESSION_KEY)
        .no_watch();
    for (k, v) in AWS_ENV {
        b = b.env(k, v);
    }
    Setup {
        gw: b.start(),
        pool,
        proxy,
        _moto: moto,
        _web: web,
    }
}

fn payload(sub: &str) -> Value {
    json!({
        "tenantName": format!("Tenant {sub}"), "tenantSubDomain": sub,
        "emailId": format!("admin@{sub}.test"), "tier": "premium"
    })
}

/// `POST /tenants` with `body` and, when given, an `Idempotency-Key`; prints how long it took.
async fn onboard_with(gw: &Gateway, body: &Value, key: Option<&str>) -> Reply {
    let mut req = client()
        .post(gw.admin_url("/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .json(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let start = Instant::now();
    let r = send(req).await;
    eprintln!(
        "onboarding {} answered {} in {:?}",
        body["tenantSubDomain"],
        r.status,
        start.elapsed()
    );
    r
}

/// Onboards `sub` (admin `admin@<sub>.test`), which must answer 201; returns the record.
async fn onboard(s: &Setup, sub: &str) -> Value {
    let r = onboard_with(&s.gw, &payload(sub), None).await;
    assert_eq!(
        r.status,
        201,
        "{}\n--- gateway log ---\n{}",
        r.text,
        s.gw.stderr()
    );
    r.json()
}

/// A JSON array of strings, sorted (for lists whose order Cognito does not keep).
fn sorted(v: &Value) -> Vec<String> {
    let mut list: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    list.sort();
    list
}

/// The callback and logout URLs of a tenant served at `hosts`, in that order.
fn urls(hosts: &[&str]) -> (Vec<String>, Vec<String>) {
    (
        hosts
            .iter()
            .map(|h| format!("http://{h}/callback"))
            .collect(),
        hosts.iter().map(|h| format!("http://{h}/")).collect(),
    )
}

fn sorted_vec(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Checks the app client in moto: exactly the URLs for `hosts`, and its fixed settings.
fn check_client(pool: &CognitoPool, client_id: &str, tenant: &str, hosts: &[&str]) -> Value {
    let c = pool.describe_client(client_id);
    assert_eq!(c["exists"], true, "{c}");
    assert_eq!(c["ClientName"], format!("tenant-gateway-{tenant}"), "{c:#}");
    let (callbacks, logouts) = urls(hosts);
    assert_eq!(sorted(&c["CallbackURLs"]), sorted_vec(callbacks), "{c:#}");
    assert_eq!(sorted(&c["LogoutURLs"]), sorted_vec(logouts), "{c:#}");
    assert_eq!(c["AllowedOAuthFlows"], json!(["code"]), "{c:#}");
    assert_eq!(c["AllowedOAuthFlowsUserPoolClient"], true, "{c:#}");
    assert_eq!(
        sorted(&c["AllowedOAuthScopes"]),
        ["email", "openid"],
        "{c:#}"
    );
    assert_eq!(sorted(&c["ExplicitAuthFlows"]), FLOWS, "{c:#}");
    assert!(
        c["ClientSecret"].as_str().is_some_and(|s| !s.is_empty()),
        "a client with a secret: {c:#}"
    );
    c
}

async fn call(gw: &Gateway, host: &str, token: &str) -> Reply {
    send(
        client()
            .get(gw.url("/orders"))
            .header("host", host)
            .bearer_auth(token),
    )
    .await
}

/// Every route of the tenant needs a bearer token.
async fn jwt_routes(gw: &Gateway, id: &str) {
    let r = admin(
        gw,
        Method::PUT,
        &format!("/tenants/{id}/routes"),
        Some(json!([{"prefix": "/", "pool": "web", "auth": "jwt"}])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Every tenant the gateway lists.
async fn tenant_list(gw: &Gateway) -> Value {
    let r = admin(gw, Method::GET, "/tenants?limit=1000", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["tenants"].clone()
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn onboarding_provisions_a_client_group_and_admin_whose_tokens_work_on_their_tenant_only() {
    let s = setup();
    let record = onboard(&s, "acme").await;
    let id = str_of(&record, "id").to_string();
    let group = format!("tenant-{id}");
    let hosts = ["acme.example.com", "acme.saas.test"];
    let (callbacks, logouts) = urls(&hosts);

    // The answer: what was made, and the record naming it.
    let p = &record["provisioned"];
    let client_id = str_of(p, "client_id").to_string();
    assert_eq!(p["group"], group, "{record:#}");
    assert_eq!(p["admin_user"], "admin@acme.test", "{record:#}");
    assert_eq!(p["callback_urls"], json!(callbacks), "{record:#}");
    assert_eq!(p["logout_urls"], json!(logouts), "{record:#}");
    let idp = &record["idp"];
    assert_eq!(idp["kind"], "cognito", "{record:#}");
    assert_eq!(idp["issuer"], s.pool.issuer, "{record:#}");
    assert_eq!(idp["jwks_uri"], s.pool.jwks_url, "{record:#}");
    assert_eq!(idp["client_id"], client_id, "{record:#}");
    assert_eq!(idp["scopes"], json!(["openid", "email"]), "{record:#}");
    // A shared pool: bound by the tenant claim or group, never by the client alone.
    assert_eq!(
        idp["tenant_binding"],
        json!({"claim": "custom:tenantid", "group": "tenant-"}),
        "{record:#}"
    );
    assert_eq!(
        idp["managed"],
        json!({"user_pool_id": s.pool.pool_id, "group": group, "admin_user": "admin@acme.test"}),
        "{record:#}"
    );
    let secret_ref = str_of(&idp["client_secret"], "file");
    assert!(
        secret_ref.ends_with(&format!("tenants.secrets/{id}.client_secret")),
        "{record:#}"
    );

    // moto: the client with exactly the tenant's URLs, the group, the invited admin in it.
    let c = check_client(&s.pool, &client_id, &id, &hosts);
    let secret = str_of(&c, "ClientSecret").to_string();
    assert!(s.pool.group_exists(&group), "{:?}", s.pool.groups());
    let u = s.pool.user("admin@acme.test");
    assert_eq!(u["exists"], true, "{u}");
    assert_eq!(u["attributes"]["custom:tenantid"], id, "{u:#}");
    assert_eq!(u["attributes"]["email"], "admin@acme.test", "{u:#}");
    assert_eq!(u["attributes"]["email_verified"], "true", "{u:#}");
    assert_eq!(u["groups"], json!([group]), "{u:#}");
    assert_eq!(
        u["status"], "FORCE_CHANGE_PASSWORD",
        "invited with a temporary password: {u:#}"
    );

    // The secret: in a 0600 file in a 0700 directory beside tenants.yaml, nowhere else.
    let dir = s.gw.path("tenants.secrets");
    let file = dir.join(format!("{id}.client_secret"));
    let stored =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert_eq!(stored.trim(), secret, "the secret moto reports");
    #[cfg(unix)]
    {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    let tenants_file = std::fs::read_to_string(s.gw.path("tenants.yaml")).unwrap();
    assert!(tenants_file.contains(&client_id), "{tenants_file}");
    assert!(!tenants_file.contains(&secret), "secret in tenants.yaml");
    let shown = admin(&s.gw, Method::GET, &format!("/tenants/{id}"), None).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(
        shown.json()["idp"]["client_id"],
        client_id,
        "{}",
        shown.text
    );
    for (what, text) in [("201 answer", record.to_string()), ("GET", shown.text)] {
        assert!(!text.contains(&secret), "secret in the {what}: {text}");
    }

    // A second tenant gets its own client and group.
    let other = onboard(&s, "globex").await;
    let other_id = str_of(&other, "id").to_string();
    let other_client = str_of(&other["provisioned"], "client_id").to_string();
    assert_ne!(other_client, client_id);
    check_client(
        &s.pool,
        &other_client,
        &other_id,
        &["globex.example.com", "globex.saas.test"],
    );
    assert_eq!(
        s.pool.groups(),
        sorted_vec(vec![group.clone(), format!("tenant-{other_id}")])
    );

    // The admin logs in with the stored secret (changing the temporary password): its tokens
    // work on its tenant's host and are refused on the other tenant's.
    jwt_routes(&s.gw, &id).await;
    jwt_routes(&s.gw, &other_id).await;
    let tokens = s.pool.login(&client_id, stored.trim(), "admin@acme.test");
    assert_eq!(
        jwt_claims(str_of(&tokens, "id_token"))["aud"],
        client_id,
        "moto issued for the tenant's client"
    );
    assert_eq!(
        s.pool.user("admin@acme.test")["status"],
        "CONFIRMED",
        "password changed"
    );
    for kind in ["id_token", "access_token"] {
        let token = str_of(&tokens, kind);
        let r = call(&s.gw, "acme.example.com", token).await;
        assert_eq!(r.status, 200, "{kind}: {}\n{}", r.text, s.gw.stderr());
        assert_eq!(
            r.upstream_header("x-tenant-id").as_deref(),
            Some(id.as_str())
        );
        let r = call(&s.gw, "globex.example.com", token).await;
        assert_eq!(r.status, 403, "{kind} on the other tenant: {}", r.text);
        assert_eq!(r.json()["reason"], "tenant_mismatch", "{kind}: {}", r.text);
        assert!(r.json().get("backend").is_none(), "{}", r.text);
    }
    // The pool is shared: globex's admin can sign in through acme's client, but its tokens
    // name globex (claim or group), so acme's host refuses them.
    let intruder = s.pool.login(&client_id, stored.trim(), "admin@globex.test");
    for kind in ["id_token", "access_token"] {
        let r = call(&s.gw, "acme.example.com", str_of(&intruder, kind)).await;
        assert_eq!(
            r.status, 403,
            "globex's {kind} through acme's client: {}",
            r.text
        );
        assert_eq!(r.json()["reason"], "tenant_mismatch", "{kind}: {}", r.text);
    }
    let r = send(
        client()
            .get(s.gw.url("/orders"))
            .header("host", "acme.example.com"),
    )
    .await;
    assert_eq!(r.status, 401, "no token: {}", r.text);
}

#[tokio::test]
async fn custom_domain_changes_update_the_client_and_removal_deletes_client_and_group() {
    let s = setup();
    let record = onboard(&s, "acme").await;
    let id = str_of(&record, "id").to_string();
    let client_id = str_of(&record["provisioned"], "client_id").to_string();
    let group = format!("tenant-{id}");
    let patch = |domains: Value| {
        let gw = &s.gw;
        let path = format!("/tenants/{id}");
        async move {
            admin(
                gw,
                Method::PATCH,
                &path,
                Some(json!({ "custom_domains": domains })),
            )
            .await
        }
    };

    // Added: the client gains exactly their URLs, its other settings unchanged.
    let r = patch(json!(["www.acme.test", "shop.acme.test"])).await;
    assert_eq!(r.status, 200, "{}\n{}", r.text, s.gw.stderr());
    // Cognito resets every setting an update leaves out (moto merges instead, so the pool
    // alone cannot show it): the update the gateway sent carries them all.
    let sent = s.proxy.last_request("UpdateUserPoolClient").await;
    for field in [
        "ClientName",
        "AllowedOAuthFlows",
        "AllowedOAuthFlowsUserPoolClient",
        "AllowedOAuthScopes",
        "ExplicitAuthFlows",
        "SupportedIdentityProviders",
        "IdTokenValidity",
        "AccessTokenValidity",
        "RefreshTokenValidity",
        "TokenValidityUnits",
    ] {
        assert!(sent.get(field).is_some(), "{field} not sent: {sent:#}");
    }
    assert_eq!(
        sent["AllowedOAuthScopes"],
        json!(["openid", "email"]),
        "{sent:#}"
    );
    check_client(
        &s.pool,
        &client_id,
        &id,
        &[
            "acme.example.com",
            "acme.saas.test",
            "shop.acme.test",
            "www.acme.test",
        ],
    );

    // Removed: their URLs are gone.
    let r = patch(json!(["www.acme.test"])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    check_client(
        &s.pool,
        &client_id,
        &id,
        &["acme.example.com", "acme.saas.test", "www.acme.test"],
    );

    // Cognito failing the update: 503, and neither the record nor the client changes.
    let before = std::fs::read_to_string(s.gw.path("tenants.yaml")).unwrap();
    s.proxy.arm("UpdateUserPoolClient").await;
    let r = patch(json!([])).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json()["error"], "provisioning_failed", "{}", r.text);
    assert_eq!(r.json()["step"], "update_app_client", "{}", r.text);
    assert!(s.proxy.aborted("UpdateUserPoolClient").await >= 1);
    s.proxy.disarm().await;
    assert_eq!(
        std::fs::read_to_string(s.gw.path("tenants.yaml")).unwrap(),
        before,
        "record unchanged"
    );
    let shown = admin(&s.gw, Method::GET, &format!("/tenants/{id}"), None).await;
    assert_eq!(
        shown.json()["custom_domains"],
        json!(["www.acme.test"]),
        "{}",
        shown.text
    );
    check_client(
        &s.pool,
        &client_id,
        &id,
        &["acme.example.com", "acme.saas.test", "www.acme.test"],
    );

    // All removed: back to the base domains.
    let r = patch(json!([])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    check_client(
        &s.pool,
        &client_id,
        &id,
        &["acme.example.com", "acme.saas.test"],
    );

    // Removal: client and group gone from the pool, the user kept, the record gone.
    let r = admin(&s.gw, Method::DELETE, &format!("/tenants/{id}"), None).await;
    assert_eq!(r.status, 204, "{}\n{}", r.text, s.gw.stderr());
    assert_eq!(s.pool.describe_client(&client_id), json!({"exists": false}));
    assert!(!s.pool.group_exists(&group), "{:?}", s.pool.groups());
    assert!(s.pool.clients().is_empty(), "{:?}", s.pool.clients());
    let u = s.pool.user("admin@acme.test");
    assert_eq!(u["exists"], true, "users are kept: {u}");
    let secret_file = s.gw.path(&format!("tenants.secrets/{id}.client_secret"));
    assert!(!secret_file.exists(), "{} kept", secret_file.display());
    assert_eq!(
        admin(&s.gw, Method::GET, &format!("/tenants/{id}"), None)
            .await
            .status,
        404
    );
    assert_eq!(s.gw.get("acme.example.com", "/").await.status, 404);
}

#[tokio::test]
async fn a_failed_step_rolls_everything_back_and_an_idempotent_retry_succeeds_once() {
    let s = setup();
    let before_file = std::fs::read_to_string(s.gw.path("tenants.yaml")).unwrap();
    let before_list = tenant_list(&s.gw).await;
    let body = payload("acme");
    let key = "onboard-acme-0001";

    // The admin user cannot be made: 503 naming the step, everything made so far removed.
    s.proxy.arm("AdminCreateUser").await;
    let r = onboard_with(&s.gw, &body, Some(key)).await;
    assert_eq!(r.status, 503, "{}\n{}", r.text, s.gw.stderr());
    let failed = r.json();
    assert_eq!(failed["error"], "provisioning_failed", "{failed:#}");
    assert_eq!(failed["step"], "create_admin_user", "{failed:#}");
    assert!(failed["message"].is_string(), "{failed:#}");
    assert!(
        failed["rolled_back"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "group and client were made, then removed: {failed:#}"
    );
    assert_eq!(failed["left_behind"], json!([]), "{failed:#}");
    assert!(
        s.proxy.aborted("AdminCreateUser").await >= 1,
        "the fault was hit: {}",
        s.proxy.stats().await
    );
    assert_eq!(s.proxy.forwarded("CreateUserPoolClient").await, 1);
    assert!(
        s.pool
            .clients()
            .iter()
            .all(|c| !str_of(c, "ClientName").starts_with("tenant-gateway-")),
        "app client left: {:?}",
        s.pool.clients()
    );
    assert!(
        s.pool.groups().iter().all(|g| !g.starts_with("tenant-")),
        "group left: {:?}",
        s.pool.groups()
    );
    assert_eq!(s.pool.user("admin@acme.test")["exists"], false);
    assert_eq!(
        std::fs::read_to_string(s.gw.path("tenants.yaml")).unwrap(),
        before_file,
        "nothing written"
    );
    assert_eq!(tenant_list(&s.gw).await, before_list);
    let secrets = s.gw.path("tenants.secrets");
    let left: Vec<_> = std::fs::read_dir(&secrets)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "secret files left: {left:?}");
    assert_eq!(s.gw.get("acme.example.com", "/").await.status, 404);

    // Cognito works again: the same request with the same key succeeds.
    s.proxy.disarm().await;
    let r = onboard_with(&s.gw, &body, Some(key)).await;
    assert_eq!(r.status, 201, "{}\n{}", r.text, s.gw.stderr());
    let made = r.json();
    let id = str_of(&made, "id").to_string();
    let client_id = str_of(&made["provisioned"], "client_id").to_string();
    assert_eq!(
        s.pool.user("admin@acme.test")["attributes"]["custom:tenantid"],
        id
    );

    // Replayed: the same record, nothing made again.
    let r = onboard_with(&s.gw, &body, Some(key)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true"),
        "{:?}",
        r.headers
    );
    let replayed = r.json();
    assert_eq!(replayed["id"], id, "{replayed:#}");
    // The replay is the stored record, with what that onboarding made.
    assert_eq!(
        replayed["provisioned"]["client_id"], client_id,
        "{replayed:#}"
    );
    assert_eq!(
        replayed["provisioned"]["group"],
        format!("tenant-{id}"),
        "{replayed:#}"
    );
    assert_eq!(replayed["idp"]["client_id"], client_id, "{replayed:#}");
    assert_eq!(
        s.proxy.forwarded("CreateUserPoolClient").await,
        2,
        "one client for the failed try, one for the success, none for the replay"
    );
    let ours: Vec<Value> = s
        .pool
        .clients()
        .into_iter()
        .filter(|c| c["ClientName"] == format!("tenant-gateway-{id}"))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0]["ClientId"], client_id);
    assert_eq!(s.pool.clients().len(), 1, "{:?}", s.pool.clients());
    assert_eq!(tenant_list(&s.gw).await.as_array().unwrap().len(), 1);

    // The same key with another payload: 409, nothing made.
    let mut other = body.clone();
    other["tier"] = json!("basic");
    let r = onboard_with(&s.gw, &other, Some(key)).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json()["error"], "conflict", "{}", r.text);
    assert_eq!(s.proxy.forwarded("CreateUserPoolClient").await, 2);
    assert_eq!(s.pool.clients().len(), 1);
}

#[tokio::test]
async fn without_provisioning_onboarding_is_unchanged() {
    let web = Backend::start("web");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&web], ""), "tenants: []\n")
        .no_watch()
        .start();
    let r = onboard_with(&gw, &payload("plain"), None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let record = r.json();
    assert!(record.get("idp").is_none_or(Value::is_null), "{record:#}");
    assert!(record.get("provisioned").is_none(), "{record:#}");
    assert!(!gw.path("tenants.secrets").exists());
    let routed = gw.get("plain.example.com", "/").await;
    assert_eq!(routed.status, 200, "{}", routed.text);
    assert_eq!(
        routed.upstream_header("x-tenant-id").as_deref(),
        record["id"].as_str()
    );
}

/// The peers these tests stand on, without the gateway: the fault proxy forwards, resets an
/// armed operation (retries included) and forwards it again once disarmed; `cognito_admin.py`
/// reads what was made and logs in an invited user only with the client's real secret.
#[tokio::test]
async fn harness_fault_proxy_and_cognito_admin_work_against_moto() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.url);
    let pool = CognitoPool::create(&moto.url);
    let proxied = pool.via(&proxy.url);
    let client = proxied.create_client("tenant-gateway-harness");
    let (client_id, secret) = (
        str_of(&client, "client_id"),
        str_of(&client, "client_secret"),
    );
    assert_eq!(proxy.forwarded("CreateUserPoolClient").await, 1);

    proxy.arm("AdminCreateUser").await;
    let refused = proxied.invite_user("someone@harness.test", TENANT_A, "tenant-harness");
    assert!(refused.is_err(), "{refused:?}");
    assert!(
        proxy.aborted("AdminCreateUser").await >= 2,
        "every retry reset: {}",
        proxy.stats().await
    );
    assert_eq!(proxy.forwarded("AdminCreateUser").await, 0);
    assert_eq!(pool.user("someone@harness.test")["exists"], false);

    proxy.disarm().await;
    proxied
        .invite_user("someone@harness.test", TENANT_A, "tenant-harness")
        .unwrap();
    assert_eq!(proxy.forwarded("AdminCreateUser").await, 1);
    let u = pool.user("someone@harness.test");
    assert_eq!(u["status"], "FORCE_CHANGE_PASSWORD", "{u:#}");
    assert_eq!(u["attributes"]["custom:tenantid"], TENANT_A, "{u:#}");
    assert_eq!(u["groups"], json!(["tenant-harness"]), "{u:#}");
    assert!(pool.group_exists("tenant-harness"));
    assert!(!pool.group_exists("tenant-nobody"));
    let c = pool.describe_client(client_id);
    assert_eq!(c["ClientSecret"], secret, "{c:#}");
    assert_eq!(
        pool.describe_client("no-such-client"),
        json!({"exists": false})
    );
    assert_eq!(pool.clients().len(), 1);

    // A wrong secret fails the login (moto checks SECRET_HASH on the refresh), the right one
    // changes the temporary password and yields tokens for the client.
    let wrong = pool.try_login(client_id, "not-the-secret", "someone@harness.test");
    assert!(wrong.is_err(), "{wrong:?}");
    let tokens = pool.login(client_id, secret, "someone@harness.test");
    let claims = jwt_claims(str_of(&tokens, "id_token"));
    assert_eq!(claims["aud"], client_id, "{claims:#}");
    assert_eq!(claims["iss"], pool.issuer, "{claims:#}");
    assert_eq!(claims["custom:tenantid"], TENANT_A, "{claims:#}");
    assert_eq!(
        jwt_claims(str_of(&tokens, "access_token"))["client_id"],
        client_id
    );
    assert_eq!(pool.user("someone@harness.test")["status"], "CONFIRMED");
}
