//! Unit tests of the writer's edit and text bookkeeping: a change is found as the one run of
//! records it touched, and the file joined from kept and re-emitted texts is what one emit of
//! all the records gives.

use super::*;

fn records(n: usize) -> Records {
    (0..n).map(record).collect()
}

fn record(i: usize) -> config::file::TenantFile {
    let yaml = format!(
        "id: {}\nname: Tenant {i}\nsubdomain: t{i}\ncustom_domains: [d{i}.test]\n",
        id(i)
    );
    serde_norway::from_str(&yaml).unwrap()
}

fn id(i: usize) -> String {
    uuid::Uuid::from_u128(i as u128 + 1).to_string()
}

fn yaml(records: &Records) -> String {
    config::tenants_yaml(&records.all().unwrap()).unwrap()
}

/// `before` changed by `change`: the edit found, and the file written from `before`'s texts.
fn written(
    before: &Records,
    change: impl FnOnce(&mut Records),
) -> (Option<config::RecordEdit>, String, Records) {
    let path = std::path::Path::new("tenants.yaml");
    let texts = config::record_texts(&before.all().unwrap()).unwrap();
    let items = config::TenantItems::from_texts(path, &texts).map(Arc::new);
    let was = Written {
        texts: Arc::new(texts),
        items,
    };
    let mut after = before.clone();
    change(&mut after);
    let edit = after.edit_from(before);
    let now = Written::after(path, &after, Some(was), edit.clone()).unwrap();
    // The items handed on are those of the texts written, though only the changed were hashed.
    assert_eq!(
        now.items.as_deref(),
        config::TenantItems::from_texts(path, &now.texts).as_ref()
    );
    let joined = config::join_record_texts(&now.texts);
    (edit, joined, after)
}

#[test]
fn one_changed_record_is_one_run_and_only_it_is_emitted_again() {
    let before = records(40);
    let (edit, joined, after) = written(&before, |r| {
        r.find_mut(&id(17)).unwrap().name = "Renamed".into();
    });
    let edit = edit.expect("a small edit");
    assert_eq!((edit.start, edit.removed, edit.added.len()), (17, 1, 1));
    assert_eq!(joined, yaml(&after));
    assert!(joined.contains("name: Renamed"));
}

#[test]
fn insertions_removals_and_no_change_are_found_too() {
    let before = records(30);
    let (edit, joined, after) = written(&before, |r| r.push(record(30)));
    let edit = edit.unwrap();
    assert_eq!((edit.start, edit.removed, edit.added.len()), (30, 0, 1));
    assert_eq!(joined, yaml(&after));

    let (edit, joined, after) = written(&before, |r| {
        assert!(r.remove(&id(0)).unwrap());
    });
    let edit = edit.unwrap();
    assert_eq!((edit.start, edit.removed, edit.added.len()), (0, 1, 0));
    assert_eq!(joined, yaml(&after));

    // A record changed to an equal value (a PATCH that sets what is there) is no change.
    let (edit, joined, _) = written(&before, |r| {
        let _ = r.find_mut(&id(3)).unwrap();
    });
    let edit = edit.unwrap();
    assert_eq!((edit.removed, edit.added.len()), (0, 0));
    assert_eq!(joined, yaml(&before));
}

#[test]
fn a_large_change_is_left_to_a_full_validation_and_a_full_emit() {
    let before = records(60);
    let (edit, joined, after) = written(&before, |r| {
        for i in 0..=config::EDIT_MAX {
            r.find_mut(&id(i)).unwrap().tier = "gold".into();
        }
    });
    assert!(edit.is_none());
    assert_eq!(joined, yaml(&after));
}
