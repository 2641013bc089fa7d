use super::*;
use crate::config::file::TenantsFile;

fn record(i: usize, name: &str) -> String {
    format!("  - id: 00000000-0000-4000-8000-{i:012}\n    name: {name}\n    subdomain: t{i}\n")
}

fn file(names: &[String]) -> String {
    let mut text = "# tenants\ntenants:\n".to_string();
    for (i, n) in names.iter().enumerate() {
        text += &record(i, n);
    }
    text
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("Tenant {i}")).collect()
}

fn parse(text: &str) -> Vec<TenantFile> {
    serde_norway::from_str::<TenantsFile>(text).unwrap().tenants
}

/// The records of `before` with `edit` applied.
fn applied(before: &str, edit: RecordEdit) -> Vec<TenantFile> {
    let mut records = parse(before);
    records.splice(edit.start..edit.start + edit.removed, edit.added);
    records
}

/// `after` is reached from `before` by an edit of `removed` records at `start` adding
/// `added`, and that edit gives exactly the records a whole parse of `after` gives.
fn check(before: &str, after: &str, start: usize, removed: usize, added: usize) {
    let path = Path::new("tenants.yaml");
    let items = TenantItems::of(path, before).expect("indexed");
    let (edit, next) = items.edit_to(after).expect("an edit");
    assert_eq!(
        (edit.start, edit.removed, edit.added.len()),
        (start, removed, added)
    );
    assert_eq!(next, TenantItems::of(path, after).unwrap());
    assert_eq!(applied(before, edit), parse(after));
}

#[test]
fn one_changed_item_is_the_edit() {
    let before = file(&names(50));
    let mut renamed = names(50);
    renamed[17] = "Renamed".into();
    check(&before, &file(&renamed), 17, 1, 1);
}

#[test]
fn insertions_removals_and_the_ends() {
    let before = file(&names(30));
    // Appended, and removed at the end.
    check(&before, &(before.clone() + &record(30, "New")), 30, 0, 1);
    check(&(before.clone() + &record(30, "New")), &before, 30, 1, 0);
    // Removed from the middle: the items after it keep their text (their ids are theirs).
    let without: String = before.replacen(&record(5, "Tenant 5"), "", 1);
    check(&before, &without, 5, 1, 0);
    check(&without, &before, 5, 0, 1);
    // The first item changed.
    check(
        &before,
        &before.replacen("Tenant 0\n", "First\n", 1),
        0,
        1,
        1,
    );
    // Two items apart: one run from the first to the last.
    let two = before
        .replacen("Tenant 3\n", "Three\n", 1)
        .replacen("Tenant 9\n", "Nine\n", 1);
    check(&before, &two, 3, 7, 7);
}

#[test]
fn repeated_items_give_a_correct_edit() {
    // A file with a repeated item (which validation refuses) is still diffed correctly.
    let a = record(1, "A");
    let b = record(2, "B");
    let c = record(3, "C");
    let before = format!("tenants:\n{a}{b}{b}{c}");
    let after = format!("tenants:\n{a}{b}{c}");
    check(&before, &after, 2, 1, 0);
}

#[test]
fn text_outside_items_is_no_change() {
    let before = file(&names(10));
    let after = before.replacen("# tenants\n", "# tenants, edited\n# more\n", 1);
    check(&before, &after, 10, 0, 0);
}

#[test]
fn what_cannot_be_diffed_is_none() {
    let path = Path::new("tenants.yaml");
    let before = file(&names(40));
    let items = TenantItems::of(path, &before).unwrap();
    // More changes than one change may hold.
    let mut many = names(40);
    for n in many.iter_mut().take(EDIT_MAX + 1) {
        n.push('!');
    }
    assert!(items.edit_to(&file(&many)).is_none());
    // A changed item that does not parse alone.
    let broken = before.replacen("name: Tenant 4\n", "name: [Tenant 4\n", 1);
    assert!(items.edit_to(&broken).is_none());
    // Anchors: an item could mean what another item says.
    let anchored = before.replacen("name: Tenant 4\n", "name: &n Tenant 4\n", 1);
    assert!(items.edit_to(&anchored).is_none());
    assert!(TenantItems::of(path, &anchored).is_none());
    // Not a plain list under `tenants:`.
    assert!(TenantItems::of(path, &format!("{before}extra: 1\n")).is_none());
    assert!(TenantItems::of(path, "tenants: []\n").is_none());
}

#[test]
fn the_items_of_written_texts_are_those_of_the_file() {
    let path = Path::new("tenants.yaml");
    let records: Vec<TenantFile> = parse(&file(&names(25)));
    let texts = crate::config::record_texts(&records).unwrap();
    let written = "# header\n".to_string() + &crate::config::join_record_texts(&texts);
    let items = TenantItems::from_texts(path, &texts).unwrap();
    assert_eq!(Some(items), TenantItems::of(path, &written));
    let mut odd = records.clone();
    odd[3].name = "A & B".into();
    let texts = crate::config::record_texts(&odd).unwrap();
    assert!(TenantItems::from_texts(path, &texts).is_none());
}

#[test]
fn spliced_items_are_those_of_the_spliced_texts() {
    let path = Path::new("tenants.yaml");
    let records: Vec<TenantFile> = parse(&file(&names(25)));
    let texts = crate::config::record_texts(&records).unwrap();
    let items = TenantItems::from_texts(path, &texts).unwrap();
    let fresh = crate::config::record_texts(&parse(&file(&names(3)))).unwrap();
    // A replacement, an insertion, a removal, at the start, inside and at the end.
    for (start, removed, added) in [(0, 1, 1), (7, 0, 2), (12, 3, 0), (24, 1, 3), (25, 0, 1)] {
        let mut after = texts.clone();
        after.splice(start..start + removed, fresh[..added].iter().cloned());
        assert_eq!(
            items.spliced(start, removed, &fresh[..added]),
            TenantItems::from_texts(path, &after),
            "{start} {removed} {added}"
        );
    }
    assert!(items.spliced(24, 2, &[]).is_none(), "past the end");
    assert!(items.spliced(0, 25, &[]).is_none(), "nothing left");
    let anchored = RecordText::from("- &a {id: x}\n".to_string());
    assert!(items.spliced(3, 1, &[anchored]).is_none());
}

#[test]
fn a_written_file_gives_its_items_texts_and_nothing_else_does() {
    let path = Path::new("tenants.yaml");
    let records: Vec<TenantFile> = parse(&file(&names(5)));
    let texts = crate::config::record_texts(&records).unwrap();
    let head = "# header\ntenants:\n";
    let written = "# header\n".to_string() + &crate::config::join_record_texts(&texts);
    let written = std::sync::Arc::new(written);
    let (items, kept) = TenantItems::with_texts(path, &written, head).expect("indexed");
    assert_eq!(kept, Some(texts));
    assert_eq!(Some(items), TenantItems::of(path, &written));
    // Another head, indented items, or a last item without its newline (a text appended
    // after it would join its last line): indexed, but not this layout.
    let texts_of = |text: &str, head: &str| {
        let shared = std::sync::Arc::new(text.to_string());
        let (items, texts) = TenantItems::with_texts(path, &shared, head).expect("indexed");
        assert_eq!(Some(items), TenantItems::of(path, text));
        texts
    };
    assert!(texts_of(&written, "tenants:\n").is_none());
    assert!(texts_of(&file(&names(5)), "# tenants\ntenants:\n").is_none());
    assert!(texts_of(written.trim_end(), head).is_none());
    // Not indexed at all: nothing.
    let flow = std::sync::Arc::new("tenants: [{id: x}]\n".to_string());
    assert!(TenantItems::with_texts(path, &flow, head).is_none());
}
