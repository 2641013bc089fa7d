//! An edited tenants file is reloaded by its changed items: the file watch and `POST /reload`
//! validate and rebuild only the tenants whose items changed (`/reloads` says `rebuilt N of M
//! tenants`), refuse the same clashes a full load refuses, and load everything for `SIGHUP`,
//! for files with anchors and after an edit they could not diff.

mod common;
use common::*;
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

const GENERATED: usize = 60;
const TOTAL: usize = GENERATED + 3;

fn item(i: usize, name: &str, subdomain: &str) -> String {
    format!(
        "  - id: 00000000-0000-4000-8000-{i:012}\n    name: {name}\n    subdomain: {subdomain}\n"
    )
}

/// The three basic tenants, then `GENERATED` more (`gen-<i>`, named `Gen <i>`).
fn tenants() -> String {
    let mut text = basic_tenants();
    for i in 0..GENERATED {
        text += &item(i, &format!("Gen {i}"), &format!("gen-{i}"));
    }
    text
}

fn edit(text: &str, i: usize, name: &str, subdomain: &str) -> String {
    let old = item(i, &format!("Gen {i}"), &format!("gen-{i}"));
    assert!(text.contains(&old), "item {i} is as generated");
    text.replacen(&old, &item(i, name, subdomain), 1)
}

async fn reloads(gw: &Gateway) -> Vec<Value> {
    let r = admin(gw, Method::GET, "/reloads", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["reloads"].as_array().unwrap().clone()
}

/// The newest reload once there are more than `before` with trigger `trigger` and a result
/// other than `unchanged` (an editor's write can fire the watch twice).
async fn next_reload(gw: &Gateway, before: usize, trigger: &str) -> Value {
    eventually_with_log(
        &format!("a {trigger} reload after {before}"),
        Duration::from_secs(20),
        || format!("--- gateway log ---\n{}", gw.stderr()),
        || async {
            let all = reloads(gw).await;
            let done: Vec<&Value> = all
                .iter()
                .filter(|e| e["trigger"] == trigger && e["result"] != "unchanged")
                .collect();
            match done.first() {
                Some(e) if done.len() > before => Ok((*e).clone()),
                _ => Err(format!("{all:?}")),
            }
        },
    )
    .await
}

/// How many file-watch reloads did something so far.
async fn watched(gw: &Gateway) -> usize {
    reloads(gw)
        .await
        .iter()
        .filter(|e| e["trigger"] == "file-watch" && e["result"] != "unchanged")
        .count()
}

/// Writes the tenants file and waits for the file watch's reload of it.
async fn save(gw: &Gateway, text: &str) -> Value {
    let seen = watched(gw).await;
    gw.write_config("tenants.yaml", text);
    next_reload(gw, seen, "file-watch").await
}

async fn expect_name(gw: &Gateway, host: &str, name: &str) {
    let r = gw.get(host, "/").await;
    assert_eq!(
        r.upstream_header("x-tenant-name").as_deref(),
        Some(name),
        "{host}"
    );
}

#[tokio::test]
async fn a_file_edit_rebuilds_only_the_changed_tenants() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &tenants()).start();
    let rebuilt = |n: usize| format!("rebuilt {n} of {TOTAL} tenants");
    let mut text = tenants();

    // One item renamed: the first edit after start is already diffed.
    text = edit(&text, 7, "Renamed", "gen-7");
    let e = save(&gw, &text).await;
    assert_eq!(e["result"], "applied", "{e}");
    assert_eq!(e["detail"], rebuilt(1), "{e}");
    expect_name(&gw, "gen-7.example.com", "Renamed").await;
    expect_name(&gw, "gen-8.example.com", "Gen 8").await;

    // One tenant replaced by another in the same place: both are rebuilt.
    let newco =
        "  - id: 44444444-4444-4444-8444-444444444444\n    name: Newco\n    subdomain: newco\n";
    text = text.replacen(&item(20, "Gen 20", "gen-20"), newco, 1);
    let e = save(&gw, &text).await;
    assert_eq!(e["detail"], rebuilt(2), "{e}");
    assert_eq!(gw.get("newco.example.com", "/").await.status, 200);
    assert_eq!(gw.get("gen-20.example.com", "/").await.status, 404);

    // Another tenant's subdomain: refused as a full load refuses it, naming file, tenant and
    // field; the running version stays.
    let clash = edit(&text, 30, "Thief", "tenant-a");
    let e = save(&gw, &clash).await;
    assert_eq!(e["result"], "rejected", "{e}");
    let issues = e["issues"].to_string();
    for needle in ["tenants.yaml", "Thief", "subdomain", "tenant-a"] {
        assert!(issues.contains(needle), "{needle}: {issues}");
    }
    let r = gw.get("tenant-a.example.com", "/").await;
    assert_eq!(r.upstream_header("x-tenant-id").as_deref(), Some(TENANT_A));
    expect_name(&gw, "gen-30.example.com", "Gen 30").await;

    // The fix is diffed against the version still in service.
    text = edit(&text, 30, "Moved", "gen-30b");
    let e = save(&gw, &text).await;
    assert_eq!(e["detail"], rebuilt(1), "{e}");
    assert_eq!(gw.get("gen-30.example.com", "/").await.status, 404);
    expect_name(&gw, "gen-30b.example.com", "Moved").await;

    // An anchor: loaded whole, and the file is not indexed while it has one.
    let anchored = edit(&text, 40, "&n Anchored", "gen-40");
    let e = save(&gw, &anchored).await;
    assert_eq!(e["result"], "applied", "{e}");
    assert!(e["detail"].is_null(), "{e}");
    expect_name(&gw, "gen-40.example.com", "Anchored").await;
    text = edit(&text, 41, "Plain again", "gen-41");
    let e = save(&gw, &text).await;
    assert!(e["detail"].is_null(), "{e}");
    expect_name(&gw, "gen-40.example.com", "Gen 40").await;
    // Indexed again by that full load: the next edit is diffed.
    text = edit(&text, 42, "Diffed again", "gen-42");
    let e = save(&gw, &text).await;
    assert_eq!(e["detail"], rebuilt(1), "{e}");
    expect_name(&gw, "gen-42.example.com", "Diffed again").await;
}

#[tokio::test]
async fn post_reload_diffs_and_sighup_loads_everything() {
    let b = Backend::start("web1");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &tenants())
        .no_watch()
        .start();
    let text = edit(&tenants(), 3, "By the API", "gen-3");
    gw.write_config("tenants.yaml", &text);
    let r = gw.reload().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["result"], "applied", "{}", r.text);
    let e = reloads(&gw).await[0].clone();
    assert_eq!(e["trigger"], "admin-api", "{e}");
    assert_eq!(e["detail"], format!("rebuilt 1 of {TOTAL} tenants"), "{e}");
    expect_name(&gw, "gen-3.example.com", "By the API").await;

    // SIGHUP: the operator's full revalidation.
    let text = edit(&text, 4, "By the signal", "gen-4");
    gw.write_config("tenants.yaml", &text);
    let status = std::process::Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let e = next_reload(&gw, 0, "sighup").await;
    assert_eq!(e["result"], "applied", "{e}");
    assert!(e["detail"].is_null(), "{e}");
    expect_name(&gw, "gen-4.example.com", "By the signal").await;
}

/// `PATCH`es tenant `gen-<i>`'s name and returns the newest `/reloads` entry.
async fn patch_name(gw: &Gateway, i: usize, name: &str) -> Value {
    let path = format!("/tenants/00000000-0000-4000-8000-{i:012}");
    let r = admin(
        gw,
        Method::PATCH,
        &path,
        Some(serde_json::json!({ "name": name })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let e = reloads(gw).await[0].clone();
    assert_eq!(e["trigger"], "admin-api", "{e}");
    e
}

#[tokio::test]
async fn the_first_patch_after_a_start_is_rebuilt_alone() {
    let b = Backend::start("web1");
    let yaml = gateway_yaml(&[&b], "");
    let gw = GatewayBuilder::new(&yaml, &tenants()).no_watch().start();
    let rebuilt = format!("rebuilt 1 of {TOTAL} tenants");

    // The version in service was loaded from this hand-written file: the API's first change
    // to it is validated and rebuilt alone.
    let e = patch_name(&gw, 5, "Patched").await;
    assert_eq!(e["detail"], rebuilt, "{e}");
    expect_name(&gw, "gen-5.example.com", "Patched").await;

    // Restarted on the file the API wrote, with one record's text hand-edited to the same
    // value: the first change is again rebuilt alone, and the records it leaves keep their
    // text in the file (not written anew).
    let written = std::fs::read_to_string(gw.path("tenants.yaml")).unwrap();
    let edited = written.replacen("name: Gen 12\n", "name: \"Gen 12\"\n", 1);
    assert_ne!(edited, written);
    let gw = GatewayBuilder::new(&yaml, &edited)
        .in_dir(gw.stop())
        .no_watch()
        .start();
    let e = patch_name(&gw, 9, "Patched again").await;
    assert_eq!(e["detail"], rebuilt, "{e}");
    expect_name(&gw, "gen-9.example.com", "Patched again").await;
    expect_name(&gw, "gen-12.example.com", "Gen 12").await;
    let after = std::fs::read_to_string(gw.path("tenants.yaml")).unwrap();
    let expected = edited.replacen("name: Gen 9\n", "name: Patched again\n", 1);
    let differ = after.lines().zip(expected.lines()).find(|(a, e)| a != e);
    assert!(
        differ.is_none() && after.len() == expected.len(),
        "the file is not the edited one with only gen-9 changed: first difference {differ:?}"
    );
}

/// Restarted on the file the API wrote, the writer parses a record only when asked for it:
/// every lookup and change still answers as it does with every record parsed.
#[tokio::test]
async fn a_restarted_writer_answers_from_the_file_it_wrote() {
    let b = Backend::start("web1");
    let yaml = gateway_yaml(&[&b], "");
    let gw = GatewayBuilder::new(&yaml, &tenants()).no_watch().start();
    patch_name(&gw, 5, "Patched").await;
    let written = std::fs::read_to_string(gw.path("tenants.yaml")).unwrap();
    let gw = GatewayBuilder::new(&yaml, &written)
        .in_dir(gw.stop())
        .no_watch()
        .start();
    let id = |i: usize| format!("00000000-0000-4000-8000-{i:012}");

    // Ids compare as text, ignoring case: the same UUID spelled otherwise is not the id.
    let r = admin(&gw, Method::GET, &format!("/tenants/{}", id(7)), None).await;
    assert_eq!((r.status, r.json()["name"].clone()), (200, "Gen 7".into()));
    let upper = id(7).to_uppercase();
    assert_eq!(
        admin(&gw, Method::GET, &format!("/tenants/{upper}"), None)
            .await
            .status,
        200
    );
    for other in [
        format!("urn:uuid:{}", id(7)),
        format!("{{{}}}", id(7)),
        id(99),
    ] {
        let r = admin(&gw, Method::GET, &format!("/tenants/{other}"), None).await;
        assert_eq!(r.status, 404, "{other}: {}", r.text);
    }

    // A subdomain an unparsed record holds is taken, in any case.
    for taken in ["gen-8", "GEN-8"] {
        let r = admin(
            &gw,
            Method::POST,
            "/tenants",
            Some(serde_json::json!({"tenantName": "x", "tenantSubDomain": taken})),
        )
        .await;
        assert_eq!(r.status, 409, "{taken}: {}", r.text);
    }

    // A removal and a change are rebuilt alone, and the file keeps every other record.
    let r = admin(&gw, Method::DELETE, &format!("/tenants/{}", id(9)), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(gw.get("gen-9.example.com", "/").await.status, 404);
    let e = patch_name(&gw, 12, "Twelve").await;
    assert_eq!(
        e["detail"],
        format!("rebuilt 1 of {} tenants", TOTAL - 1),
        "{e}"
    );
    expect_name(&gw, "gen-12.example.com", "Twelve").await;
    expect_name(&gw, "gen-5.example.com", "Patched").await;
    let after = std::fs::read_to_string(gw.path("tenants.yaml")).unwrap();
    let gone = format!(
        "- id: {}\n  name: Gen 9\n  subdomain: gen-9\n  status: active\n  tier: basic\n",
        id(9)
    );
    assert!(written.contains(&gone));
    let expected = written
        .replacen("name: Gen 12\n", "name: Twelve\n", 1)
        .replacen(&gone, "", 1);
    let differ = after.lines().zip(expected.lines()).find(|(a, e)| a != e);
    assert!(
        differ.is_none() && after.len() == expected.len(),
        "not the written file with gen-9 removed and gen-12 renamed: first difference {differ:?}"
    );

    // The whole list parses every record.
    let r = admin(&gw, Method::GET, "/tenants?limit=1000", None).await;
    assert_eq!(r.json()["total"], TOTAL - 1, "{}", r.text);
}
