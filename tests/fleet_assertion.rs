//! The tenant assertion in a fleet: two gateway processes on one moto DynamoDB store share one
//! assertion key set, kept sealed in the certs table (`ASSERTION#keys`). Both nodes publish
//! the same JWKS and an assertion signed by one verifies against the other's. Over two and a
//! half rotation intervals the fleet rotates once per interval (one node at a time, under the
//! `LEASE#assertion-keys` lease), not once per node: the nodes switch to the same new signing
//! key at the same moment, a node that publishes an older key set catches up within the 10 s
//! reread, and N rotations make N + 2 keys in all. A node started in a fresh directory, even
//! with no other node running, signs with the keys already published.

mod common;
use common::fleet::*;
use common::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const ISSUER: &str = "https://gateway.fleet.test";
const JWKS_PATH: &str = "/.well-known/tenant-gateway/jwks.json";
const STORE_KEY_ENV: &str = "TEST_STORE_KEY";
const STORE_KEY: &str = "fleet-assertion-store-key-0123456789abcdef";
/// `assertion.ttl`, seconds.
const TTL: u64 = 10;
/// `assertion.rotation_interval`, seconds: the shortest the gateway accepts (2 x ttl).
const INTERVAL: u64 = 20;
/// Nodes reread the shared key set at least this often (and at each scheduled change).
const REREAD: f64 = 10.0;
/// What a lagging node may add to [`REREAD`]: its refresh's DynamoDB round trips and one probe.
const SLACK: f64 = 2.0;
const HOST: &str = "tenant-a.example.com";
/// The tenant's `auth: none` route with `assertion: true`.
const CONTEXT_PATH: &str = "/context/whoami";

// ---------------------------------------------------------------------------------------
// Fixture

/// Moto with the tables made and one tenant imported; every node gets `assertion:` with
/// `rotation_interval` (seconds).
fn fleet(rotation_interval: u64) -> DynamoFleet {
    let fleet = DynamoFleet::builder()
        .store_key(STORE_KEY_ENV, STORE_KEY)
        .extra(&format!(
            "assertion:\n  issuer: {ISSUER}\n  ttl: {TTL}s\n  rotation_interval: {rotation_interval}s\n"
        ))
        .start();
    fleet.init();
    fleet.import_ok(&format!(
        r#"tenants:
  - id: {TENANT_A}
    name: Tenant A
    subdomain: tenant-a
    tier: premium
    routes:
      - {{ prefix: /context, pool: web, auth: none, assertion: true }}
"#
    ));
    fleet
}

// ---------------------------------------------------------------------------------------
// JWKS and assertions

/// The JWKS a node publishes on the tenant host: the document, and as `jsonwebtoken` reads it.
async fn jwks(gw: &Gateway) -> (Value, JwkSet) {
    let r = gw.get(HOST, JWKS_PATH).await;
    assert_eq!(r.status, 200, "JWKS on {HOST}: {}", r.text);
    let doc = r.json();
    let set = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("not a JWKS ({e}): {}", r.text));
    check_jwks(&doc);
    (doc, set)
}

async fn jwks_on_admin(gw: &Gateway) -> Value {
    let r = send(client().get(gw.admin_url(JWKS_PATH))).await;
    assert_eq!(r.status, 200, "JWKS on the admin listener: {}", r.text);
    r.json()
}

/// Public P-256 signing keys only: a signing key and a next one, plus the retired one for an
/// interval after a rotation.
fn check_jwks(doc: &Value) {
    let keys = doc["keys"].as_array().expect("keys");
    assert!((2..=3).contains(&keys.len()), "2 or 3 keys: {doc}");
    for k in keys {
        let fields: BTreeSet<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            BTreeSet::from(["kty", "crv", "x", "y", "kid", "alg", "use"]),
            "public members only (no `d`): {k}"
        );
        assert_eq!(
            (&k["kty"], &k["crv"], &k["alg"], &k["use"]),
            (
                &"EC".into(),
                &"P-256".into(),
                &"ES256".into(),
                &"sig".into()
            ),
            "{k}"
        );
    }
}

/// The kids of a JWKS in its order (oldest key first).
fn kids(set: &JwkSet) -> Vec<String> {
    set.keys
        .iter()
        .map(|k| k.common.key_id.clone().unwrap_or_default())
        .collect()
}

/// The assertion the echo backend received for a request to the context route.
async fn assertion(gw: &Gateway) -> String {
    let r = gw.get(HOST, CONTEXT_PATH).await;
    assert_eq!(r.status, 200, "{HOST}{CONTEXT_PATH}: {}", r.text);
    r.upstream_header("x-tenant-assertion")
        .unwrap_or_else(|| panic!("no assertion reached the backend: {}", r.text))
}

/// Verifies `token` as a backend would, against `jwks` (ES256, issuer, audience, expiry), and
/// checks the tenant context it carries; answers its kid.
fn verify(token: &str, jwks: &JwkSet) -> Result<String, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("header: {e}"))?;
    if header.alg != Algorithm::ES256 {
        return Err(format!("alg {:?}", header.alg));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("{kid} is not in the JWKS {:?}", kids(jwks)))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("{kid}: {e}"))?;
    let mut v = Validation::new(Algorithm::ES256);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[HOST]);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    v.leeway = 0;
    let c = jsonwebtoken::decode::<Value>(token, &key, &v)
        .map_err(|e| format!("{kid}: {e}"))?
        .claims;
    let lifetime = c["exp"].as_u64().zip(c["iat"].as_u64()).map(|(e, i)| e - i);
    if c["tenant_id"] != TENANT_A || c["tier"] != "premium" || lifetime != Some(TTL) {
        return Err(format!("{kid}: claims {c}"));
    }
    if c.get("sub").is_some() || c.get("amr").is_some() {
        return Err(format!(
            "{kid}: an anonymous request got identity claims: {c}"
        ));
    }
    Ok(kid)
}

/// Verifies `token` against every JWKS in `sets`; answers its kid.
fn try_verify_all(what: &str, token: &str, sets: &[(&str, &JwkSet)]) -> Result<String, String> {
    let mut kid: Option<String> = None;
    for (name, set) in sets {
        let k = verify(token, set)
            .map_err(|e| format!("{what} against node {name}'s JWKS: {e}\n{token}"))?;
        if kid.as_ref().is_some_and(|prev| *prev != k) {
            return Err(format!("{what}: kids differ"));
        }
        kid = Some(k);
    }
    kid.ok_or_else(|| "no JWKS".to_string())
}

/// [`try_verify_all`], which must succeed.
fn verify_all(what: &str, token: &str, sets: &[(&str, &JwkSet)]) -> String {
    try_verify_all(what, token, sets).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------
// Watching the rotation

/// What the polls of both nodes saw. A generation is the list of kids one JWKS publishes
/// (oldest first); the fleet's generations form one chain, each made from the one before by
/// one rotation: one new key at the end, and at most the oldest key retired.
struct Watch {
    start: Instant,
    /// Every generation in the order it appeared, with when it was first seen.
    generations: Vec<(Vec<String>, f64)>,
    /// Per node: the generation it publishes.
    at: [usize; 2],
    /// Since when the nodes publish different generations.
    apart_since: Option<f64>,
    /// The longest the nodes published different generations.
    longest_apart: f64,
    /// Per node: the kids that signed its assertions, in turn, with when each was first seen.
    signing: [Vec<(String, f64)>; 2],
    /// Assertions verified (each against both nodes' JWKS).
    verified: usize,
    probes: usize,
    /// What happened, for failure messages and the test's output.
    events: Vec<String>,
}

const NAMES: [&str; 2] = ["A", "B"];

impl Watch {
    fn new(first: Vec<String>) -> Self {
        Watch {
            start: Instant::now(),
            generations: vec![(first, 0.0)],
            at: [0, 0],
            apart_since: None,
            longest_apart: 0.0,
            signing: [Vec::new(), Vec::new()],
            verified: 0,
            probes: 0,
            events: Vec::new(),
        }
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Every kid any node has published.
    fn kids_seen(&self) -> BTreeSet<&String> {
        self.generations.iter().flat_map(|(g, _)| g).collect()
    }

    /// One probe: both nodes' JWKS documents (`docs`, fetched first, at `t`) and one assertion
    /// from each node (fetched after). Answers a broken invariant.
    fn saw(
        &mut self,
        t: f64,
        docs: [&Value; 2],
        sets: [&JwkSet; 2],
        tokens: [&str; 2],
    ) -> Result<(), String> {
        self.probes += 1;
        for (i, set) in sets.iter().enumerate() {
            self.saw_jwks(i, kids(set), t)?;
        }
        if self.at[0] == self.at[1] {
            if docs[0] != docs[1] {
                return Err(format!(
                    "the same kids, different documents: {} / {}",
                    docs[0], docs[1]
                ));
            }
            if let Some(since) = self.apart_since.take() {
                self.events.push(format!(
                    "{t:5.1}s both nodes publish generation {} again ({:.1}s apart)",
                    self.at[0],
                    t - since
                ));
            }
        } else {
            if self.apart_since.is_none() {
                let (g0, g1) = (
                    &self.generations[self.at[0]].0,
                    &self.generations[self.at[1]].0,
                );
                let nested = g0.iter().all(|k| g1.contains(k)) || g1.iter().all(|k| g0.contains(k));
                if !nested {
                    // The rotation that made the newer set also retired a key the older has.
                    self.events
                        .push(format!("{t:5.1}s the nodes' key sets differ both ways"));
                }
            }
            let since = *self.apart_since.get_or_insert(t);
            self.longest_apart = self.longest_apart.max(t - since);
            let (behind, ahead) = (self.at[0].min(self.at[1]), self.at[0].max(self.at[1]));
            if ahead - behind > 1 {
                return Err(format!("a node is {} generations behind", ahead - behind));
            }
            if t - since > REREAD + SLACK {
                let lagging = NAMES[if self.at[0] == behind { 0 } else { 1 }];
                return Err(format!(
                    "node {lagging} still publishes generation {behind} {:.1}s after the other \
                     node published generation {ahead} (nodes reread the key set every {REREAD}s)",
                    t - since
                ));
            }
        }
        // Every assertion verifies against the JWKS either node published just before.
        let with = [("A", sets[0]), ("B", sets[1])];
        for (i, token) in tokens.iter().enumerate() {
            let kid = try_verify_all(
                &format!("an assertion from node {} at {t:.1}s", NAMES[i]),
                token,
                &with,
            )?;
            self.verified += 1;
            let turns = &mut self.signing[i];
            if turns.last().map(|(k, _)| k) != Some(&kid) {
                if turns.iter().any(|(k, _)| *k == kid) {
                    return Err(format!("node {}: {kid} signs again", NAMES[i]));
                }
                turns.push((kid.clone(), t));
                self.events
                    .push(format!("{t:5.1}s node {} signs with {kid}", NAMES[i]));
            }
        }
        Ok(())
    }

    /// Node `i` publishes `now`: the generation it had, a later one, or the fleet's next one.
    fn saw_jwks(&mut self, i: usize, now: Vec<String>, t: f64) -> Result<(), String> {
        let name = NAMES[i];
        let cur = self.at[i];
        if self.generations[cur].0 == now {
            return Ok(());
        }
        if let Some(j) = self.generations.iter().position(|(g, _)| *g == now) {
            if j < cur {
                return Err(format!(
                    "node {name} went back from generation {cur} to {j}"
                ));
            }
            self.at[i] = j;
            self.events
                .push(format!("{t:5.1}s node {name} catches up: generation {j}"));
            return Ok(());
        }
        let last = self.generations.len() - 1;
        let newest = self.generations[last].0.clone();
        if cur != last {
            return Err(format!(
                "node {name} publishes {now:?}, made from its generation {cur} while generation \
                 {last} {newest:?} exists: two nodes rotated the same key set"
            ));
        }
        let seen = self.kids_seen();
        let made = now.last().filter(|k| !seen.contains(k)).cloned();
        drop(seen);
        let retired = (newest.len() + 1).saturating_sub(now.len());
        let one_rotation = now.len() <= newest.len() + 1
            && retired <= 1
            && now[..now.len() - 1] == newest[retired..];
        if !one_rotation || made.is_none() {
            return Err(format!(
                "node {name} publishes {now:?} after {newest:?}: not one new key (and at most \
                 the oldest retired)"
            ));
        }
        self.generations.push((now, t));
        self.at[i] = last + 1;
        self.events.push(format!(
            "{t:5.1}s node {name} publishes generation {}: {:?} made{}",
            last + 1,
            made.unwrap(),
            if retired == 1 {
                format!(", {:?} retired", newest[0])
            } else {
                String::new()
            }
        ));
        Ok(())
    }

    /// Two rotations seen on both nodes: three generations, three keys signed in turn.
    fn done(&self) -> bool {
        self.generations.len() == 3
            && self.at == [2, 2]
            && self.signing.iter().all(|s| s.len() == 3)
    }

    /// When `kid` first signed an assertion of node `i`.
    fn first_signed(&self, i: usize, kid: &str) -> Option<f64> {
        self.signing[i]
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, t)| *t)
    }

    /// When `kid` was first published by either node.
    fn published(&self, kid: &str) -> f64 {
        self.generations
            .iter()
            .find(|(g, _)| g.iter().any(|k| k == kid))
            .map(|(_, t)| *t)
            .unwrap_or(f64::NAN)
    }

    /// When `kid` was first missing from a generation after it was published.
    fn withdrawn(&self, kid: &str) -> Option<f64> {
        let first = self
            .generations
            .iter()
            .position(|(g, _)| g.iter().any(|k| k == kid))?;
        self.generations[first..]
            .iter()
            .find(|(g, _)| !g.iter().any(|k| k == kid))
            .map(|(_, t)| *t)
    }

    fn summary(&self) -> String {
        let turns = |s: &[(String, f64)]| {
            let v: Vec<String> = s.iter().map(|(k, t)| format!("{k} from {t:.1}s")).collect();
            v.join(", ")
        };
        let gens: Vec<String> = self
            .generations
            .iter()
            .enumerate()
            .map(|(n, (g, t))| format!("  generation {n} at {t:.1}s: {g:?}"))
            .collect();
        format!(
            "after {:.1}s, {} probes, {} assertions verified; nodes at generations {:?}, longest \
             apart {:.1}s\n{}\nsigning: A {}\n         B {}\nevents:\n  {}",
            self.now(),
            self.probes,
            self.verified,
            self.at,
            self.longest_apart,
            gens.join("\n"),
            turns(&self.signing[0]),
            turns(&self.signing[1]),
            self.events.join("\n  ")
        )
    }
}

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn two_nodes_publish_one_key_set_and_the_fleet_rotates_it_once_per_interval() {
    let fleet = fleet(INTERVAL);
    let a = fleet.node();
    let b = fleet.node();
    let nodes = [("A", &a), ("B", &b)];
    let logs = || node_logs(&nodes);

    // Both nodes publish the same JWKS, on the tenant host and on the admin listener: the key
    // that signs and the next one.
    let (doc_a, set_a) = jwks(&a).await;
    let (doc_b, set_b) = jwks(&b).await;
    assert_eq!(doc_a, doc_b, "both nodes publish the same keys\n{}", logs());
    for (name, gw) in nodes {
        assert_eq!(
            jwks_on_admin(gw).await,
            doc_a,
            "node {name}'s admin listener"
        );
    }
    let first = kids(&set_a);
    assert_eq!(first.len(), 2, "a signing key and the next one: {doc_a}");

    // An assertion from either node verifies against the other node's JWKS, and both sign
    // with the older key (the next one waits an interval).
    let from_a = assertion(&a).await;
    let from_b = assertion(&b).await;
    let kid_a = verify_all("node A's assertion", &from_a, &[("B", &set_b)]);
    let kid_b = verify_all("node B's assertion", &from_b, &[("A", &set_a)]);
    assert_eq!((&kid_a, &kid_b), (&first[0], &first[0]), "{doc_a}");

    // Two and a half intervals of polls: both JWKS, then one assertion from each node.
    let watch = RefCell::new(Watch::new(first));
    eventually_with_log(
        "both nodes through two rotations, publishing the same keys",
        Duration::from_secs(3 * INTERVAL),
        || format!("{}\n{}", watch.borrow().summary(), logs()),
        || {
            let (watch, logs, a, b) = (&watch, &logs, &a, &b);
            async move {
                let t = watch.borrow().now();
                let ((doc_a, set_a), (doc_b, set_b)) = tokio::join!(jwks(a), jwks(b));
                let (tok_a, tok_b) = tokio::join!(assertion(a), assertion(b));
                let mut w = watch.borrow_mut();
                if let Err(e) = w.saw(t, [&doc_a, &doc_b], [&set_a, &set_b], [&tok_a, &tok_b]) {
                    panic!("{e}\n{}\n{}", w.summary(), logs());
                }
                if w.done() {
                    Ok(())
                } else {
                    Err(w.summary())
                }
            }
        },
    )
    .await;
    let w = watch.into_inner();
    let summary = w.summary();
    eprintln!("{summary}");

    // One rotation per interval for the fleet, not one per node: N rotations, N + 2 keys.
    let rotations = w.generations.len() - 1;
    assert_eq!(rotations, 2, "{summary}");
    assert_eq!(w.kids_seen().len(), rotations + 2, "{summary}");
    let rotated_logs: Vec<usize> = nodes
        .iter()
        .map(|(_, gw)| gw.stderr().matches("assertion keys rotated").count())
        .collect();
    eprintln!(
        "'assertion keys rotated' log lines (A, B), the first key set included: {rotated_logs:?}"
    );

    // Both nodes switched to the same keys in the same order, at the same moment, one
    // interval apart.
    assert_eq!(
        w.signing[0].iter().map(|(k, _)| k).collect::<Vec<_>>(),
        w.signing[1].iter().map(|(k, _)| k).collect::<Vec<_>>(),
        "{summary}"
    );
    let order: Vec<String> = w.signing[0].iter().map(|(k, _)| k.clone()).collect();
    let last = &w.generations[rotations].0;
    assert_eq!(
        order[1..],
        last[..2],
        "the oldest published key signs\n{summary}"
    );
    for kid in &order[1..] {
        let (ta, tb) = (
            w.first_signed(0, kid).unwrap(),
            w.first_signed(1, kid).unwrap(),
        );
        assert!(
            (ta - tb).abs() <= 1.5,
            "{kid} signs on A from {ta:.1}s, on B from {tb:.1}s\n{summary}"
        );
    }
    let switch = |kid: &String| {
        w.first_signed(0, kid)
            .unwrap()
            .min(w.first_signed(1, kid).unwrap())
    };
    let between = switch(&order[2]) - switch(&order[1]);
    let interval = INTERVAL as f64;
    assert!(
        (interval - 1.5..=interval + 3.0).contains(&between),
        "{} took over {between:.1}s after {} (interval {INTERVAL}s)\n{summary}",
        order[2],
        order[1]
    );
    // A new key is published about an interval before it signs; the key it replaced is
    // withdrawn about an interval after that.
    let published = w.published(&order[2]);
    assert!(
        switch(&order[2]) - published >= interval - 2.0,
        "{} published at {published:.1}s, signing from {:.1}s\n{summary}",
        order[2],
        switch(&order[2])
    );
    let withdrawn = w.withdrawn(&order[0]).expect("the first key withdrawn");
    assert!(
        withdrawn - switch(&order[1]) >= interval - 2.0,
        "{} stopped signing at {:.1}s, withdrawn at {withdrawn:.1}s\n{summary}",
        order[0],
        switch(&order[1])
    );
}

/// The keys live in the table, not on the node: a node started in a fresh directory signs with
/// the published keys, also when no other node is running. A long interval keeps a rotation
/// out of the test (the comparison is with the keys from before the restarts).
#[tokio::test]
async fn a_node_started_in_a_fresh_directory_signs_with_the_keys_from_the_table() {
    let fleet = fleet(3600);
    let a = fleet.node();
    let b = fleet.node();
    let logs = |nodes: &[(&str, &Gateway)]| node_logs(nodes);

    let (doc, set) = jwks(&a).await;
    assert_eq!(
        jwks(&b).await.0,
        doc,
        "both nodes publish the same keys\n{}",
        logs(&[("A", &a), ("B", &b)])
    );
    let kid = verify_all("node B's assertion", &assertion(&b).await, &[("A", &set)]);
    let before = kids(&set);

    // The table holds the key set, sealed: no kid and no private key in the clear.
    let item = fleet.item("certs", "ASSERTION#keys");
    assert_eq!(item["kind"], "assertion-keys", "{item}");
    let sealed = item["keys"]
        .as_str()
        .unwrap_or_else(|| panic!("no sealed keys: {item}"));
    assert!(sealed.starts_with("v1."), "{item}");
    for secret in before
        .iter()
        .map(String::as_str)
        .chain(["pkcs8", "signs_from"])
    {
        assert!(!sealed.contains(secret), "{secret} in the clear: {item}");
    }
    // ...and no node keeps a key file.
    for (name, gw) in [("A", &a), ("B", &b)] {
        let path = gw.path("state/assertion-keys.json");
        assert!(!path.exists(), "node {name} wrote {}", path.display());
    }

    // B restarted in a fresh directory: the same keys, the same signing key.
    drop(b.stop());
    let b = fleet.node();
    let nodes = [("A", &a), ("B", &b)];
    let (doc_b, set_b) = jwks(&b).await;
    assert_eq!(doc_b, doc, "B after its restart\n{}", logs(&nodes));
    assert_eq!(jwks_on_admin(&b).await, doc);
    let from_b = verify_all(
        "restarted B's assertion",
        &assertion(&b).await,
        &[("A", &set), ("B", &set_b)],
    );
    let from_a = verify_all("A's assertion", &assertion(&a).await, &[("B", &set_b)]);
    assert_eq!((&from_b, &from_a), (&kid, &kid));

    // Every node stopped, then one started afresh: only the table can have kept the keys.
    drop(a.stop());
    drop(b.stop());
    let c = fleet.node();
    let (doc_c, set_c) = jwks(&c).await;
    assert_eq!(
        doc_c,
        doc,
        "a new node after the whole fleet stopped\n{}",
        logs(&[("C", &c)])
    );
    let from_c = verify_all(
        "the new node's assertion",
        &assertion(&c).await,
        &[("C", &set_c), ("first", &set)],
    );
    assert_eq!(from_c, kid);
    assert_eq!(kids(&set_c), before);
}

/// A node that finds no keys in the table while another node holds the rotation lease (nodes
/// of a new fleet starting together hold it for milliseconds; a node that crashed while making
/// the first keys holds it for the lease's 30 s) must not forward `assertion: true` requests
/// without an assertion: whether it waits for the keys or refuses meanwhile, every request it
/// forwards carries one that verifies.
#[tokio::test]
async fn a_node_that_finds_no_keys_while_another_makes_them_never_forwards_unsigned() {
    let fleet = fleet(INTERVAL);
    let unix_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    fleet.put_item(
        "certs",
        &serde_json::json!({
            "pk": "LEASE#assertion-keys", "owner": "another-node/1", "expires_at": unix_now + 3
        }),
    );
    let a = fleet.node();
    let signed = eventually_with_log(
        "the node signs",
        Duration::from_secs(30),
        || node_logs(&[("A", &a)]),
        || async {
            let r = a.get(HOST, CONTEXT_PATH).await;
            if r.status != 200 {
                return Err(format!("{} {}", r.status, r.text));
            }
            match r.upstream_header("x-tenant-assertion") {
                Some(token) => Ok(token),
                None => panic!(
                    "forwarded without an assertion; the node publishes {}\n{}",
                    jwks_on_admin(&a).await,
                    node_logs(&[("A", &a)])
                ),
            }
        },
    )
    .await;
    verify_all("the first assertion", &signed, &[("A", &jwks(&a).await.1)]);
}
