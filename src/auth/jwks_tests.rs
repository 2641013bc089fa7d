//! Unit tests of `jwks`.

use super::*;

#[test]
fn keeps_only_asymmetric_keys_with_kid() {
    let jwks = br#"{"keys":[
        {"kty":"oct","kid":"h","k":"c2VjcmV0"},
        {"kty":"RSA","kid":"r1","alg":"RS256","use":"sig","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"},
        {"kty":"RSA","n":"sXch","e":"AQAB"}
    ]}"#;
    let set = KeySet::parse(jwks).unwrap();
    assert_eq!(set.len(), 1);
    let k = set.get("r1").unwrap();
    assert_eq!(k.alg, Some(Algorithm::RS256));
    assert!(set.get("h").is_none(), "HMAC keys must never be used");
    assert!(KeySet::parse(b"not json").is_err());
}
