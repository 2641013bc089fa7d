//! Token validation cost: a full RS256 validation (header, signature, claims, tenant) against
//! a cache hit for the same token (hash + lookup), which is what a repeated token costs.
//!   cargo bench --bench auth

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use std::sync::Arc;
use std::time::Duration;
use tenant_gateway::auth::cache::TokenCache;
use tenant_gateway::auth::jwks::KeyEntry;
use tenant_gateway::auth::jwt::{self, Expect};
use tenant_gateway::config::{IdpKind, IdpSpec};

const KEY: &[u8] = include_bytes!("../tests/fixtures/test-rsa-key.pem");
const PUB: &[u8] = include_bytes!("../tests/fixtures/test-rsa-pub.pem");
const TENANT: &str = "11111111-1111-4111-8111-111111111111";

fn idp() -> IdpSpec {
    IdpSpec {
        kind: IdpKind::Cognito,
        issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_bench".into(),
        discovery_url: String::new(),
        authorization_endpoint: None,
        token_endpoint: None,
        jwks_uri: None,
        end_session_endpoint: None,
        client_id: "bench-client".into(),
        client_secret: None,
        scopes: vec!["openid".into()],
        identity_provider: None,
        tenant_claim: "custom:tenantid".into(),
        tenant_group_prefix: None,
        accept_id_tokens: true,
        accept_access_tokens: true,
        audiences: vec!["bench-client".into()],
        groups_claim: "cognito:groups".into(),
        claim_headers: vec![],
        forward_token: false,
    }
}

fn token() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "sub": "bench-user", "iss": idp().issuer, "aud": "bench-client", "token_use": "id",
        "exp": now + 3600, "iat": now, "custom:tenantid": TENANT, "cognito:groups": ["admins"],
        "email": "bench@example.test"
    });
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("bench".into());
    jsonwebtoken::encode(&h, &claims, &EncodingKey::from_rsa_pem(KEY).unwrap()).unwrap()
}

fn bench(c: &mut Criterion) {
    let idp = idp();
    let token = token();
    let entry = KeyEntry {
        key: DecodingKey::from_rsa_pem(PUB).unwrap(),
        alg: Some(Algorithm::RS256),
        allowed: &[Algorithm::RS256],
    };
    let expect = Expect {
        tenant_id: TENANT,
        leeway_secs: 60,
        nonce: None,
        id_token_only: false,
    };
    let mut g = c.benchmark_group("token");
    g.measurement_time(Duration::from_secs(3)).sample_size(30);
    g.bench_function("validate_rs256_uncached", |b| {
        b.iter(|| {
            let (h, _) = jwt::header(&token).unwrap();
            jwt::validate(&token, &h, &entry, &idp, &expect).unwrap()
        })
    });
    let cache = TokenCache::new(100_000);
    let fingerprint = [7u8; 32];
    let (h, _) = jwt::header(&token).unwrap();
    let identity = Arc::new(jwt::validate(&token, &h, &entry, &idp, &expect).unwrap());
    let key = TokenCache::key(&[TENANT.as_bytes(), &fingerprint, &[0], token.as_bytes()]);
    cache.insert(key, identity);
    g.bench_function("validate_cached", |b| {
        b.iter(|| {
            let key = TokenCache::key(&[TENANT.as_bytes(), &fingerprint, &[0], token.as_bytes()]);
            cache.get(&key, 60).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
