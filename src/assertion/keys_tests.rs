//! Unit tests of `keys`.

use super::*;

const I: u64 = 100;

fn kids(set: &KeySet) -> Vec<String> {
    set.keys.iter().map(|k| k.kid.clone()).collect()
}

#[test]
fn a_first_start_signs_at_once_and_publishes_the_next_key() {
    let mut set = KeySet::default();
    assert!(set.rotate(1000, I).unwrap());
    assert_eq!(set.keys.len(), 2);
    let signing = set.signing(1000).unwrap().clone();
    assert_eq!(signing.signs_from, 1000);
    let next = &set.keys[1];
    assert_eq!((next.created, next.signs_from), (1000, 1000 + I));
    assert_ne!(signing.kid, next.kid);
    assert!(!set.rotate(1050, I).unwrap(), "nothing to do mid-interval");
}

#[test]
fn each_key_is_published_an_interval_before_it_signs_and_after_it_stops() {
    let mut set = KeySet::default();
    set.rotate(0, I).unwrap();
    let k0 = set.keys[0].kid.clone();
    let k1 = set.keys[1].kid.clone();
    // t = I: k1 signs, k2 is published, k0 is still published.
    assert!(set.rotate(I, I).unwrap());
    assert_eq!(set.signing(I).unwrap().kid, k1);
    assert_eq!(kids(&set)[..2], [k0.clone(), k1.clone()]);
    assert_eq!(set.keys.len(), 3);
    let k2 = set.keys[2].kid.clone();
    // Just before 2I: k0 still published (its last assertions may still be alive).
    set.rotate(2 * I - 1, I).unwrap();
    assert!(kids(&set).contains(&k0));
    // t = 2I: k2 signs, k0 retired, k1 published for one more interval.
    set.rotate(2 * I, I).unwrap();
    assert_eq!(set.signing(2 * I).unwrap().kid, k2);
    assert!(!kids(&set).contains(&k0));
    assert!(kids(&set).contains(&k1));
    assert_eq!(set.keys.len(), 3);
}

#[test]
fn jwks_has_public_keys_only_and_a_thumbprint_kid() {
    let mut set = KeySet::default();
    set.rotate(0, I).unwrap();
    let jwks = set.jwks(0).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for k in keys {
        assert_eq!(k["kty"], "EC");
        assert_eq!(k["crv"], "P-256");
        assert_eq!(k["alg"], "ES256");
        assert!(k.get("d").is_none(), "no private part: {k}");
        let (x, y) = (k["x"].as_str().unwrap(), k["y"].as_str().unwrap());
        assert_eq!(k["kid"].as_str().unwrap(), thumbprint(x, y));
        assert_eq!(URL_SAFE_NO_PAD.decode(x).unwrap().len(), 32);
    }
    let json = serde_json::to_string(&set).unwrap();
    let back: KeySet = serde_json::from_str(&json).unwrap();
    assert_eq!(back, set);
    assert!(!format!("{:?}", set.keys[0]).contains(&set.keys[0].pkcs8));
}

#[test]
fn next_change_is_the_next_start_or_retirement() {
    let mut set = KeySet::default();
    set.rotate(0, I).unwrap();
    assert_eq!(set.next_change(0, I), I);
    assert_eq!(set.next_change(I + 5, I), 2 * I);
}
