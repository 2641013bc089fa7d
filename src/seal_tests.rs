use super::*;

#[test]
fn round_trip_and_binding() {
    let s = Sealer::new("0123456789abcdef0123456789abcdef");
    let sealed = s.seal("CERT#a.example.com", b"private key").unwrap();
    assert!(!sealed.contains("private"));
    assert_eq!(
        s.open("CERT#a.example.com", &sealed).unwrap(),
        b"private key"
    );
    assert!(
        s.open("CERT#b.example.com", &sealed).is_err(),
        "bound to its item"
    );
    let other = Sealer::new("another secret of at least 32 characters");
    assert!(
        other.open("CERT#a.example.com", &sealed).is_err(),
        "wrong key"
    );
    assert!(s.open("CERT#a.example.com", "v1.AAAA").is_err());
}
