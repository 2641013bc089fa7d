//! The item diff a tenants file edit is reloaded by: the input is two tenant-file texts
//! separated by a NUL byte, the file in service and the edited file.
//!
//! Properties: nothing panics; when the file in service parses and is indexed, and the diff
//! gives an edit, the edited file parses (a whole parse, as a full load would) to exactly the
//! records of the edit applied to the records in service, and the items it returns are those
//! of the edited file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tenant_gateway::config::TenantItems;
use tenant_gateway::fuzzing::parse_tenants;

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|b| *b == 0) else {
        return;
    };
    let (Ok(before), Ok(after)) = (
        std::str::from_utf8(&data[..split]),
        std::str::from_utf8(&data[split + 1..]),
    ) else {
        return;
    };
    let path = Path::new("tenants.yaml");
    let Ok(served) = parse_tenants(path, before) else {
        return;
    };
    let Some(items) = TenantItems::of(path, before) else {
        return;
    };
    // What a load indexes: items one for one with the records.
    if items.len() != served.tenants.len() {
        return;
    }
    let Some((edit, next)) = items.edit_to(after) else {
        return;
    };
    let whole = match parse_tenants(path, after) {
        Ok(w) => w.tenants,
        Err(e) => panic!("the diff accepted an edit a whole parse refuses: {e}"),
    };
    let mut records = served.tenants;
    records.splice(edit.start..edit.start + edit.removed, edit.added);
    assert_eq!(records, whole, "the edit and the whole parse differ");
    assert_eq!(Some(next), TenantItems::of(path, after), "items of the edited file");
});
