use super::*;
use crate::config::file::TenantsFile;

fn records(yaml: &str) -> Vec<TenantFile> {
    serde_norway::from_str::<TenantsFile>(yaml).unwrap().tenants
}

fn held(list: &[TenantFile]) -> BTreeMap<String, Stored> {
    list.iter()
        .map(|t| {
            (
                t.id.clone(),
                Stored {
                    record: Arc::new(t.clone()),
                    version: 3,
                },
            )
        })
        .collect()
}

/// The records as a change hands them over (not the held allocations: compared by value).
fn shared(list: &[TenantFile]) -> Vec<Arc<TenantFile>> {
    list.iter().cloned().map(Arc::new).collect()
}

const BEFORE: &str = "tenants:
  - { id: a, name: A, subdomain: alpha, custom_domains: [shop.alpha.test] }
  - { id: b, name: B, subdomain: beta }
";

#[test]
fn an_unchanged_set_commits_nothing() {
    let before = records(BEFORE);
    let c = Commit::diff(7, &held(&before), &shared(&before));
    assert!(c.is_empty());
    assert!(c.hosts.is_empty());
}

#[test]
fn onboarding_puts_a_new_item_and_claims_its_subdomain() {
    let before = records(BEFORE);
    let mut after = before.clone();
    after.extend(records(
        "tenants:\n  - { id: c, name: C, subdomain: Gamma }\n",
    ));
    let c = Commit::diff(7, &held(&before), &shared(&after));
    assert_eq!(c.expected_seq, 7);
    assert_eq!(c.puts.len(), 1);
    assert_eq!(c.puts[0].0.id, "c");
    assert_eq!(c.puts[0].1, None, "new: no version to match");
    assert!(c.deletes.is_empty());
    assert_eq!(
        c.hosts,
        vec![("sub:gamma".to_string(), Some("c".to_string()), None)]
    );
}

#[test]
fn a_rename_keeps_the_claims_and_matches_the_version() {
    let before = records(BEFORE);
    let mut after = before.clone();
    after[1].name = "B2".into();
    let c = Commit::diff(7, &held(&before), &shared(&after));
    assert_eq!(c.puts.len(), 1);
    assert_eq!(c.puts[0].1, Some(3));
    assert!(c.hosts.is_empty(), "{:?}", c.hosts);
}

#[test]
fn changing_domains_claims_new_names_and_releases_old_ones() {
    let before = records(BEFORE);
    let mut after = before.clone();
    after[0].custom_domains = vec!["www.alpha.test".into()];
    let c = Commit::diff(7, &held(&before), &shared(&after));
    assert_eq!(
        c.hosts,
        vec![
            (
                "domain:shop.alpha.test".to_string(),
                None,
                Some("a".to_string())
            ),
            (
                "domain:www.alpha.test".to_string(),
                Some("a".to_string()),
                None
            ),
        ]
    );
}

#[test]
fn removal_deletes_with_the_version_and_releases_every_name() {
    let before = records(BEFORE);
    let after = vec![before[1].clone()];
    let c = Commit::diff(7, &held(&before), &shared(&after));
    assert!(c.puts.is_empty());
    assert_eq!(c.deletes, vec![("a".to_string(), 3)]);
    assert_eq!(c.hosts.len(), 2);
    assert!(c
        .hosts
        .iter()
        .all(|(_, new, old)| new.is_none() && old.as_deref() == Some("a")));
}
