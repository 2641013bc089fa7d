//! Unit tests of `records`: records left as their file text answer every lookup and change
//! exactly as parsed ones do, and only the records a lookup finds are parsed.

use super::*;
use crate::config::{TenantSpec, TenantStatus};

fn id(i: usize) -> String {
    Uuid::from_u128(0x5000 + i as u128).to_string()
}

/// Record `i`; record 4's id is spelled braced and upper-case, as a hand-written file may.
fn record(i: usize) -> TenantFile {
    let id = match i {
        4 => format!("{{{}}}", id(4).to_uppercase()),
        _ => id(i),
    };
    let yaml = format!("id: \"{id}\"\nname: Tenant {i}\nsubdomain: t{i}\ntier: basic\n");
    serde_norway::from_str(&yaml).unwrap()
}

/// The tenant a full load makes of `r` (what the lookups of an unparsed record use).
fn tenant(r: &TenantFile) -> Arc<TenantSpec> {
    Arc::new(TenantSpec {
        id: Uuid::parse_str(&r.id).unwrap(),
        name: r.name.clone(),
        subdomain: r.subdomain.clone(),
        custom_domains: vec![],
        pending_domains: vec![],
        status: TenantStatus::Active,
        tier: r.tier.clone(),
        email_domain: None,
        routes: None,
        idp: None,
        basic_users: vec![],
        limits: None,
    })
}

/// `n` records, parsed and as the unparsed texts of a file written from them.
fn both(n: usize) -> (Records, Records) {
    let parsed: Records = (0..n).map(record).collect();
    let all = parsed.all().unwrap();
    let texts = Arc::new(config::record_texts(&all).unwrap());
    let tenants: Vec<_> = all.iter().map(|r| tenant(r)).collect();
    let unparsed = Records::unparsed(&texts, &tenants).unwrap();
    (parsed, unparsed)
}

impl Records {
    fn parsed_count(&self) -> usize {
        (self.slots.iter())
            .filter(|s| match s {
                Slot::Parsed(_) => true,
                Slot::Text(t, i) => t.is_parsed(*i),
            })
            .count()
    }
}

#[test]
fn a_lookup_parses_only_the_record_it_finds() {
    let (parsed, unparsed) = both(50);
    assert_eq!(unparsed.parsed_count(), 0);
    assert_eq!(
        unparsed.find(&id(17).to_uppercase()).unwrap(),
        parsed.find(&id(17)).unwrap()
    );
    assert_eq!(unparsed.parsed_count(), 1);
    // Not ids of any record: nothing more is parsed.
    for missing in ["", "nope", "../t3", &id(99), &format!("urn:uuid:{}", id(3))] {
        assert!(matches!(
            unparsed.find(missing),
            Err(ChangeError::NotFound(_))
        ));
        assert!(matches!(
            parsed.find(missing),
            Err(ChangeError::NotFound(_))
        ));
    }
    assert!(unparsed.has_subdomain("T30") && !unparsed.has_subdomain("t300"));
    assert_eq!(
        unparsed.parsed_count(),
        2,
        "only the urn spelling of 3 was parsed"
    );
}

#[test]
fn ids_match_as_text_as_parsed_records_do() {
    let (parsed, unparsed) = both(8);
    let braced = format!("{{{}}}", id(4));
    // Record 4 is spelled braced: the same UUID in another spelling is not its id.
    for asked in [id(4), braced.clone(), braced.to_uppercase()] {
        assert_eq!(
            unparsed.has_id(&asked).unwrap(),
            parsed.has_id(&asked).unwrap(),
            "{asked}"
        );
    }
    assert!(unparsed.has_id(&braced).unwrap() && !unparsed.has_id(&id(4)).unwrap());
}

#[test]
fn changes_give_the_same_edit_and_records_either_way() {
    type Change = fn(&mut Records);
    let changes: [(&str, Change); 5] = [
        ("rename", |r| {
            r.find_mut(&id(9)).unwrap().name = "Renamed".into()
        }),
        ("remove", |r| assert!(r.remove(&id(0)).unwrap())),
        ("add", |r| r.push(record(40))),
        ("set what is there", |r| {
            let _ = r.find_mut(&id(5)).unwrap();
        }),
        ("read only", |r| {
            let _ = r.find(&id(6)).unwrap();
        }),
    ];
    for (what, change) in changes {
        let (before_p, before_u) = both(40);
        let (mut after_p, mut after_u) = (before_p.clone(), before_u.clone());
        change(&mut after_p);
        change(&mut after_u);
        let (p, u) = (
            after_p.edit_from(&before_p).unwrap(),
            after_u.edit_from(&before_u).unwrap(),
        );
        assert_eq!(
            (p.start, p.removed, &p.added),
            (u.start, u.removed, &u.added),
            "{what}"
        );
        assert!(
            after_u.parsed_count() <= 1,
            "{what}: more parsed than changed"
        );
        assert_eq!(after_p.all().unwrap(), after_u.all().unwrap(), "{what}");
    }
}

#[test]
fn every_record_parses_on_every_core_in_order() {
    let (parsed, unparsed) = both(3000);
    assert_eq!(unparsed.all().unwrap(), parsed.all().unwrap());
    assert_eq!(unparsed.parsed_count(), 3000);
}
