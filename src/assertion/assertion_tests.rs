//! Unit tests of `assertion`.

use super::*;
use crate::tenant::{RouteTable, TenantHeaders, TenantId};
use jsonwebtoken::{DecodingKey, Validation};

struct MemStore(std::sync::Mutex<Option<Vec<u8>>>);

#[async_trait::async_trait]
impl KeyStore for MemStore {
    async fn load(&self) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self.0.lock().unwrap().clone())
    }
    async fn save(&self, bytes: &[u8]) -> std::io::Result<()> {
        *self.0.lock().unwrap() = Some(bytes.to_vec());
        Ok(())
    }
}

fn config() -> AssertionConfig {
    AssertionConfig {
        issuer: "https://gw.test".into(),
        header: "x-tenant-assertion".into(),
        ttl: Duration::from_secs(120),
        rotation_interval: Duration::from_secs(3600),
        key_file: "unused".into(),
        copy_claims: vec![],
    }
}

fn tenant() -> Tenant {
    Tenant {
        id: TenantId(uuid::Uuid::from_u128(7)),
        name: "Acme".into(),
        subdomain: "acme".into(),
        status: crate::config::TenantStatus::Active,
        tier: "premium".into(),
        routes: Arc::new(RouteTable::default()),
        metric_label: "acme".into(),
        headers: TenantHeaders {
            id: HeaderValue::from_static("x"),
            name: HeaderValue::from_static("x"),
            tier: HeaderValue::from_static("x"),
        },
        auth: None,
        limits: None,
        request_metrics: Default::default(),
    }
}

fn identity() -> Identity {
    Identity {
        sub: "alice".into(),
        email: Some("a@acme.test".into()),
        groups: vec!["admins".into(), "a,b".into()],
        scopes: vec!["read".into(), "write".into()],
        extra_headers: vec![],
        expires_at: u64::MAX,
        kind: None,
        copied: vec![("department".into(), serde_json::json!("ops"))],
    }
}

fn decode(token: &str, jwks: &Bytes) -> serde_json::Value {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(jwks).unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwk = set.find(&kid).expect("signing key is published");
    let mut v = Validation::new(Algorithm::ES256);
    v.set_audience(&["acme.example.com"]);
    v.set_issuer(&["https://gw.test"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &v)
        .unwrap()
        .claims
}

#[tokio::test]
async fn assertions_verify_against_the_published_jwks_and_are_reused() {
    let store = Arc::new(MemStore(std::sync::Mutex::new(None)));
    let a = Assertions::start(config(), store.clone()).await.unwrap();
    assert!(
        store.0.lock().unwrap().is_some(),
        "the first key set is stored"
    );
    let (t, id) = (tenant(), identity());
    let facts = Facts {
        tenant: &t,
        audience: "acme.example.com",
        identity: Some(&id),
        amr: "jwt",
        idp_iss: Some("https://idp.test"),
    };
    let v = a.assertion(&facts).unwrap();
    let c = decode(v.to_str().unwrap(), &a.jwks());
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["groups"], serde_json::json!(["admins", "a,b"]));
    assert_eq!(c["scope"], "read write");
    assert_eq!(c["tenant_id"], t.id.to_string());
    assert_eq!(c["tenant_name"], "Acme");
    assert_eq!(c["tier"], "premium");
    assert_eq!(c["amr"], serde_json::json!(["jwt"]));
    assert_eq!(c["idp_iss"], "https://idp.test");
    assert_eq!(c["department"], "ops");
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 120);
    assert_eq!(a.assertion(&facts).unwrap(), v, "cached");
    let other = Facts {
        audience: "other.example.com",
        ..facts
    };
    assert_ne!(
        a.assertion(&other).unwrap(),
        v,
        "another audience, another assertion"
    );
    let mut renamed = tenant();
    renamed.name = "Acme Two".into();
    let c = decode(
        a.assertion(&Facts {
            tenant: &renamed,
            ..facts
        })
        .unwrap()
        .to_str()
        .unwrap(),
        &a.jwks(),
    );
    assert_eq!(
        c["tenant_name"], "Acme Two",
        "a rename is not served from the cache"
    );

    // A credential that lapses sooner caps the assertion, which is then not reused.
    let soon = crate::auth::now_secs() + 30;
    let short = Identity {
        expires_at: soon,
        ..identity()
    };
    let short_facts = Facts {
        identity: Some(&short),
        ..facts
    };
    let first = a.assertion(&short_facts).unwrap();
    assert_eq!(decode(first.to_str().unwrap(), &a.jwks())["exp"], soon);
    assert_ne!(a.assertion(&short_facts).unwrap(), first, "not cached");

    // A restart on the same store signs with the same keys.
    let again = Assertions::start(config(), store).await.unwrap();
    assert_eq!(again.jwks(), a.jwks());
}

#[tokio::test]
async fn tenant_context_only_without_an_identity() {
    let store = Arc::new(MemStore(std::sync::Mutex::new(None)));
    let a = Assertions::start(config(), store).await.unwrap();
    let t = tenant();
    let v = a
        .assertion(&Facts {
            tenant: &t,
            audience: "acme.example.com",
            identity: None,
            amr: "none",
            idp_iss: None,
        })
        .unwrap();
    let c = decode(v.to_str().unwrap(), &a.jwks());
    assert!(c.get("sub").is_none() && c.get("amr").is_none() && c.get("groups").is_none());
    assert_eq!(c["tenant_name"], "Acme");
}

#[test]
fn rotation_is_needed_only_when_due() {
    let mut set = KeySet::default();
    assert!(set.is_due(0, 100));
    set.rotate(0, 100).unwrap();
    assert!(!set.is_due(50, 100));
    assert!(set.is_due(100, 100));
}
