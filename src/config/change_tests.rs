//! Unit tests of `change`: a change validated on its own agrees with a full validation (never
//! accepts what it refuses, and makes the same configuration), and the snapshot made from
//! the previous one equals one built from scratch.

use super::*;
use crate::config::{load_with, ConfigError};
use crate::tenant::Snapshot;

const GATEWAY: &str = r#"listeners:
  http: ["127.0.0.1:0"]
  admin: "127.0.0.1:0"
base_domains:
  - domain: example.com
path_tenants:
  - host: hooks.example.net
    prefix: /hooks
pools:
  web:
    backends: ["127.0.0.1:9"]
default_routes:
  - prefix: /
    pool: web
tenants:
  source: file
  path: tenants.yaml
admin:
  token_file: token
auth:
  session_key: { file: session.key }
"#;

/// Tenant `i`: every fifth has an IdP (issuers shared in pairs; tenant 10 is dedicated to
/// its issuer), every seventh a custom domain, every eleventh a silo pool and routes.
fn record(i: usize) -> TenantFile {
    let mut yaml = format!(
        "id: {}\nname: Tenant {i}\nsubdomain: t{i}\ntier: basic\n",
        uuid::Uuid::from_u128(0x1000 + i as u128)
    );
    if i % 7 == 0 {
        yaml += &format!("custom_domains: [shop.t{i}.test]\n");
    }
    if i % 11 == 0 {
        yaml += "pools:\n  own:\n    backends: [\"127.0.0.1:10\"]\nroutes:\n  - prefix: /\n    pool: own\n";
    }
    if i % 5 == 0 {
        let binding = if i == 10 {
            "\n  tenant_binding: issuer"
        } else {
            ""
        };
        yaml += &format!(
            "idp:\n  kind: oidc\n  issuer: https://idp.test/p{}\n  client_id: c{i}{binding}\n",
            i / 10
        );
    }
    serde_norway::from_str(&yaml).unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("gateway.yaml"), GATEWAY).unwrap();
        std::fs::write(dir.path().join("token"), "admin-token-0123456789abcdef").unwrap();
        std::fs::write(
            dir.path().join("session.key"),
            "session-key-0123456789abcdef01234",
        )
        .unwrap();
        Self { dir }
    }

    fn gateway(&self) -> std::path::PathBuf {
        self.dir.path().join("gateway.yaml")
    }

    fn label(&self) -> std::path::PathBuf {
        self.dir.path().join("tenants.yaml")
    }

    fn full(&self, records: &[TenantFile]) -> Result<Config, ConfigError> {
        let file = TenantsFile {
            tenants: records.to_vec(),
        };
        load_with(&self.gateway(), Some((self.label(), file)))
    }
}

/// The records with run `start..start + removed` replaced by `added`.
fn edited(
    records: &[TenantFile],
    start: usize,
    removed: usize,
    added: &[TenantFile],
) -> Vec<TenantFile> {
    let mut out = records[..start].to_vec();
    out.extend_from_slice(added);
    out.extend_from_slice(&records[start + removed..]);
    out
}

/// Applies one edit both ways; returns whether the quick path decided it.
fn check(
    fx: &Fixture,
    records: &[TenantFile],
    start: usize,
    removed: usize,
    added: Vec<TenantFile>,
) -> bool {
    let base = fx.full(records).expect("the base configuration is valid");
    let snapshot = Snapshot::build(&base.routing, |_| Some(0));
    let after = edited(records, start, removed, &added);
    let full = fx.full(&after);
    let edit = RecordEdit {
        start,
        removed,
        added,
    };
    let Some((quick, changed)) =
        load_change(&fx.gateway(), fx.label(), &base.routing, &snapshot, edit)
    else {
        return false;
    };
    let full = match full {
        Ok(c) => c,
        Err(e) => panic!("the quick path accepted what a full validation refuses: {e}"),
    };
    assert_eq!(
        quick.routing, full.routing,
        "the quick path made another configuration"
    );
    let updated = snapshot.update(&base.routing, &quick.routing, &changed, |_| Some(0));
    let built = Snapshot::build(&full.routing, |_| Some(0));
    assert_eq!(updated.view(), built.view(), "the updated snapshot differs");
    let each = snapshot.update_by(&base.routing, &quick.routing, &changed, |_| Some(0), false);
    assert_eq!(
        each.view(),
        built.view(),
        "the snapshot updated tenant by tenant differs"
    );
    true
}

fn records(n: usize) -> Vec<TenantFile> {
    (0..n).map(record).collect()
}

#[test]
fn everyday_changes_are_decided_alone_and_agree_with_a_full_validation() {
    let fx = Fixture::new();
    let all = records(60);
    let renamed = |i: usize, f: &dyn Fn(&mut TenantFile)| {
        let mut t = all[i].clone();
        f(&mut t);
        vec![t]
    };
    // Rename, new subdomain, a domain added, disabled, a new tenant, a removal, an IdP
    // client changed on a shared issuer, a silo tenant renamed (its pool keys move).
    assert!(check(
        &fx,
        &all,
        3,
        1,
        renamed(3, &|t| t.name = "Renamed".into())
    ));
    assert!(check(
        &fx,
        &all,
        4,
        1,
        renamed(4, &|t| t.subdomain = "fresh".into())
    ));
    assert!(check(
        &fx,
        &all,
        8,
        1,
        renamed(8, &|t| t.custom_domains.push("new.t8.test".into()))
    ));
    assert!(check(
        &fx,
        &all,
        9,
        1,
        renamed(9, &|t| t.status =
            crate::config::file::TenantStatusFile::Disabled)
    ));
    assert!(check(&fx, &all, 60, 0, vec![record(60)]));
    assert!(check(&fx, &all, 0, 1, vec![]));
    assert!(check(
        &fx,
        &all,
        25,
        1,
        renamed(25, &|t| t.idp.as_mut().unwrap().client_id = "other".into())
    ));
    assert!(check(
        &fx,
        &all,
        22,
        1,
        renamed(22, &|t| t.subdomain = "moved".into())
    ));
    // Tenant 10 unbound from its issuer; in a base with no tenant bound, a new tenant bound to
    // an issuer of its own (the snapshots compared count the bound tenants).
    let unbind = |t: &mut TenantFile| t.idp.as_mut().unwrap().tenant_binding = None;
    let unbound = edited(&all, 10, 1, &renamed(10, &unbind));
    assert!(check(&fx, &all, 10, 1, renamed(10, &unbind)));
    let mut bound = record(60);
    bound.idp.as_mut().unwrap().tenant_binding =
        Some(crate::config::file::TenantBindingFile::Issuer);
    assert!(check(&fx, &unbound, 60, 0, vec![bound]));
    // IdP owners (the first tenant using an issuer, or an issuer and client; tenant 20 owns
    // issuer p2, which 25 shares): the owner removed, renamed, or passed by a tenant that
    // joins before it, after it, or leaves for an issuer of its own.
    assert!(check(&fx, &all, 20, 1, vec![]));
    assert!(check(
        &fx,
        &all,
        20,
        1,
        renamed(20, &|t| t.name = "Twenty".into())
    ));
    let joins = |subdomain: &str| {
        let mut t = record(61);
        t.subdomain = subdomain.into();
        t.idp = record(25).idp;
        t
    };
    assert!(check(&fx, &all, 3, 0, vec![joins("early")]));
    assert!(check(&fx, &all, 60, 0, vec![joins("late")]));
    assert!(check(
        &fx,
        &all,
        25,
        1,
        renamed(25, &|t| t.idp.as_mut().unwrap().issuer =
            "https://idp.test/own".into())
    ));
    // A domain moving from one tenant to another in one change.
    let mut from = all[7].clone();
    from.custom_domains.clear();
    let mut to = all[8].clone();
    to.custom_domains.push("shop.t7.test".into());
    assert!(check(&fx, &all, 7, 2, vec![from, to]));
}

#[test]
fn clashes_across_tenants_are_never_accepted_alone() {
    let fx = Fixture::new();
    let all = records(60);
    let with = |i: usize, f: &dyn Fn(&mut TenantFile)| {
        let mut t = all[i].clone();
        f(&mut t);
        vec![t]
    };
    // Each of these is refused by a full validation; the quick path must leave it to it.
    let clashes: Vec<(usize, Vec<TenantFile>)> = vec![
        (3, with(3, &|t| t.subdomain = "t4".into())),
        (
            3,
            with(3, &|t| t.custom_domains.push("shop.t7.test".into())),
        ),
        (3, with(3, &|t| t.id = all[4].id.clone())),
        (
            3,
            with(3, &|t| t.custom_domains.push("x.example.com".into())),
        ),
        (
            3,
            with(3, &|t| t.custom_domains.push("hooks.example.net".into())),
        ),
        (3, with(3, &|t| t.subdomain = "Not A Label".into())),
        (3, with(3, &|t| t.idp = record(10).idp)),
        (
            11,
            with(11, &|t| {
                t.idp = record(15).idp.map(|mut i| {
                    i.client_id = "c10".into();
                    i
                })
            }),
        ),
    ];
    for (i, added) in clashes {
        let after = edited(&all, i, 1, &added);
        assert!(
            fx.full(&after).is_err(),
            "case at {i} should be refused: {:?}",
            added[0]
        );
        assert!(
            !check(&fx, &all, i, 1, added),
            "the quick path decided a clash"
        );
    }
    // A new tenant taking a subdomain in use.
    let mut dup = record(60);
    dup.subdomain = "t5".into();
    assert!(!check(&fx, &all, 60, 0, vec![dup]));
    // With no tenant bound to its issuer, the issuer scan is skipped; a change that binds one
    // to an issuer and client in use is still left to the full rule.
    let mut unbound = all.clone();
    unbound[10].idp.as_mut().unwrap().tenant_binding = None;
    let binds = with(3, &|t| t.idp = record(10).idp);
    assert!(fx.full(&edited(&unbound, 3, 1, &binds)).is_err());
    assert!(!check(&fx, &unbound, 3, 1, binds));
}

#[test]
fn a_change_outside_the_base_range_is_left_to_a_full_validation() {
    let fx = Fixture::new();
    let all = records(5);
    let base = fx.full(&all).unwrap();
    let snapshot = Snapshot::build(&base.routing, |_| Some(0));
    let edit = RecordEdit {
        start: 4,
        removed: 3,
        added: vec![],
    };
    assert!(load_change(&fx.gateway(), fx.label(), &base.routing, &snapshot, edit).is_none());
}

#[test]
fn a_snapshot_made_from_the_last_keeps_unchanged_tenants_shared() {
    let fx = Fixture::new();
    let all = records(30);
    let base = fx.full(&all).unwrap();
    let snapshot = Snapshot::build(&base.routing, |_| Some(0));
    let mut t = all[12].clone();
    t.name = "Twelve".into();
    let (quick, changed) = load_change(
        &fx.gateway(),
        fx.label(),
        &base.routing,
        &snapshot,
        RecordEdit {
            start: 12,
            removed: 1,
            added: vec![t],
        },
    )
    .unwrap();
    let updated = snapshot.update(&base.routing, &quick.routing, &changed, |_| Some(0));
    for (i, spec) in base.routing.tenants.iter().enumerate() {
        let (a, b) = (snapshot.by_id(&spec.id), updated.by_id(&spec.id));
        assert_eq!(
            std::sync::Arc::ptr_eq(a.unwrap(), b.unwrap()),
            i != 12,
            "tenant {i}"
        );
    }
    assert_eq!(
        updated.by_id(&base.routing.tenants[12].id).unwrap().name,
        "Twelve"
    );
}

#[test]
fn a_gateway_file_edited_since_the_version_in_service_is_left_to_a_full_validation() {
    let fx = Fixture::new();
    let all = records(20);
    let base = fx.full(&all).unwrap();
    let snapshot = Snapshot::build(&base.routing, |_| Some(0));
    // Tenant 7's custom domain would now be under a base domain: the full validation refuses
    // the tenant, which the change below does not touch.
    let edited = GATEWAY.replace(
        "  - domain: example.com\n",
        "  - domain: example.com\n  - domain: t7.test\n",
    );
    std::fs::write(fx.gateway(), edited).unwrap();
    let mut t = all[3].clone();
    t.name = "Three".into();
    let after = self::edited(&all, 3, 1, std::slice::from_ref(&t));
    assert!(fx.full(&after).is_err());
    let edit = RecordEdit {
        start: 3,
        removed: 1,
        added: vec![t],
    };
    assert!(load_change(&fx.gateway(), fx.label(), &base.routing, &snapshot, edit).is_none());
}

#[test]
fn an_added_tenant_needing_the_missing_session_key_is_left_to_a_full_validation() {
    let fx = Fixture::new();
    let without_key = GATEWAY.replace("auth:\n  session_key: { file: session.key }\n", "");
    assert_ne!(without_key, GATEWAY);
    std::fs::write(fx.gateway(), without_key).unwrap();
    let plain: Vec<TenantFile> = (1..5).map(record).collect();
    let base = fx.full(&plain).expect("no tenant needs a session key");
    let snapshot = Snapshot::build(&base.routing, |_| Some(0));
    // Tenant 5 has an IdP, so browser login, which needs the session key.
    assert!(fx.full(&edited(&plain, 4, 0, &[record(5)])).is_err());
    let edit = RecordEdit {
        start: 4,
        removed: 0,
        added: vec![record(5)],
    };
    assert!(load_change(&fx.gateway(), fx.label(), &base.routing, &snapshot, edit).is_none());
    // Tenant 6 has none: decided alone.
    assert!(check(&fx, &plain, 4, 0, vec![record(6)]));
}
