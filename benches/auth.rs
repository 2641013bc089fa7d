//! Token validation cost: a full RS256 validation (header, signature, claims, tenant) against
//! a cache hit for the same token (hash + lookup), which is what a repeated token costs; and
//! the tenant assertion: one ES256 signature against a cached assertion.
//!   cargo bench --bench auth

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use std::sync::Arc;
use std::time::Duration;
use tenant_gateway::auth::cache::TokenCache;
use tenant_gateway::auth::jwks::KeyEntry;
use tenant_gateway::auth::jwt::{self, Expect};
use tenant_gateway::config::{IdpKind, IdpSpec, TenantBinding};

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
        tenant_binding: TenantBinding::default(),
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
        copy_claims: &[],
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

/// One assertion signature (a new identity each time: no cache) and a cached assertion.
fn bench_assertion(c: &mut Criterion) {
    use tenant_gateway::assertion::{store::FileKeyStore, Assertions, Facts};
    let dir = tempfile::tempdir().unwrap();
    let config = tenant_gateway::config::AssertionConfig {
        issuer: "https://gateway.bench".into(),
        header: "x-tenant-assertion".into(),
        ttl: Duration::from_secs(120),
        rotation_interval: Duration::from_secs(86400),
        key_file: dir.path().join("keys.json"),
        copy_claims: vec![],
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(FileKeyStore::new(config.key_file.clone()));
    let a = rt.block_on(Assertions::start(config, store)).unwrap();
    let tenant = bench_tenant();
    let mut identity = tenant_gateway::auth::Identity {
        sub: "user-0".into(),
        email: Some("user@bench.test".into()),
        groups: vec!["admins".into(), "tenant-bench".into()],
        scopes: vec!["openid".into()],
        extra_headers: vec![],
        expires_at: u64::MAX,
        kind: None,
        copied: vec![],
    };
    let mut g = c.benchmark_group("assertion");
    g.measurement_time(Duration::from_secs(3)).sample_size(30);
    let mut n = 0u64;
    g.bench_function("sign_es256", |b| {
        b.iter(|| {
            n += 1;
            identity.sub = format!("user-{n}");
            a.assertion(&Facts {
                tenant: &tenant,
                audience: "acme.bench.test",
                identity: Some(&identity),
                amr: "jwt",
                idp_iss: Some("https://idp.bench"),
            })
            .unwrap()
        })
    });
    g.bench_function("cached", |b| {
        b.iter(|| {
            a.assertion(&Facts {
                tenant: &tenant,
                audience: "acme.bench.test",
                identity: Some(&identity),
                amr: "jwt",
                idp_iss: Some("https://idp.bench"),
            })
            .unwrap()
        })
    });
    g.finish();
}

fn bench_tenant() -> tenant_gateway::tenant::Tenant {
    use tenant_gateway::tenant::{RouteTable, Tenant, TenantHeaders, TenantId};
    Tenant {
        id: TenantId(uuid::Uuid::from_u128(42)),
        name: "Bench".into(),
        subdomain: "acme".into(),
        status: tenant_gateway::config::TenantStatus::Active,
        tier: "premium".into(),
        routes: Arc::new(RouteTable::default()),
        metric_label: "acme".into(),
        headers: TenantHeaders {
            id: http::HeaderValue::from_static("x"),
            name: http::HeaderValue::from_static("x"),
            tier: http::HeaderValue::from_static("x"),
        },
        auth: None,
        limits: None,
        request_metrics: Default::default(),
    }
}

criterion_group!(benches, bench, bench_assertion);
criterion_main!(benches);
