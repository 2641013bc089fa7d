//! Host → tenant resolution and per-tenant route lookup, at 10 and 100,000 tenants.
//!
//! Resolution is hash-map based, so the per-lookup cost should not grow with the tenant
//! count; this benchmark checks that claim. Run with:
//!
//! ```text
//! cargo bench --bench resolve
//! cargo bench --bench resolve -- resolve/subdomain_hit   # one group member only
//! ```

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use std::time::Duration;
use tenant_gateway::config::{self, RouteSpec, RoutingConfig, TenantSpec, TenantStatus};
use tenant_gateway::host::Hostname;
use tenant_gateway::tenant::Snapshot;
use uuid::Uuid;

const SIZES: [usize; 2] = [10, 100_000];

/// A one-tenant configuration, loaded through the normal path once. Its validated tenant,
/// route and routing settings are the seeds the large configurations are built from with
/// struct-update syntax, so fields the model gains later keep their validated defaults and
/// this benchmark keeps compiling.
const SEED_GATEWAY: &str = r#"
base_domains:
  - domain: example.com
  - domain: eu.example.com
pools:
  web: { backends: ["127.0.0.1:9101"] }
  api: { backends: ["127.0.0.1:9102"] }
  admin: { backends: ["127.0.0.1:9103"] }
default_routes:
  - { prefix: /, pool: web }
tenants:
  source: file
  path: tenants.yaml
"#;
const SEED_TENANTS: &str = r#"
tenants:
  - id: 6f1c2a4e-8d7b-4c55-9a1e-2b3c4d5e6f70
    name: Seed
    subdomain: seed
"#;

struct Seed {
    routing: RoutingConfig,
    tenant: TenantSpec,
    route: RouteSpec,
}

fn seed() -> Seed {
    let dir = tempfile::tempdir().expect("temp dir");
    let gateway = dir.path().join("gateway.yaml");
    std::fs::write(&gateway, SEED_GATEWAY).expect("write gateway.yaml");
    std::fs::write(dir.path().join("tenants.yaml"), SEED_TENANTS).expect("write tenants.yaml");
    let routing = config::load(&gateway).expect("seed configuration").routing;
    let tenant = TenantSpec::clone(&routing.tenants[0]);
    let route = routing.default_routes[0].clone();
    Seed {
        routing,
        tenant,
        route,
    }
}

fn route(seed: &Seed, name: &str, prefix: &str, pool: &str) -> RouteSpec {
    RouteSpec {
        name: name.to_string(),
        prefix: prefix.to_string(),
        pool: pool.to_string(),
        strip_prefix: false,
        ..seed.route.clone()
    }
}

/// `n` active tenants `tenant-0 .. tenant-{n-1}`, each with a custom domain
/// `portal.tenant-N.test`; every tenth tenant has its own route table (the rest use the
/// default routes), roughly what a real tenant list looks like.
fn routing(seed: &Seed, n: usize) -> RoutingConfig {
    let own_routes = vec![
        route(seed, "web", "/", "web"),
        route(seed, "api", "/api", "api"),
        route(seed, "admin", "/api/admin", "admin"),
    ];
    let tenants = (0..n)
        .map(|i| TenantSpec {
            id: Uuid::from_u128(0x6f1c_2a4e_8d7b_4c55_9a1e_0000_0000_0000 + i as u128),
            name: format!("Tenant {i}"),
            subdomain: format!("tenant-{i}"),
            custom_domains: vec![
                Hostname::parse(&format!("portal.tenant-{i}.test")).expect("valid custom domain")
            ],
            status: TenantStatus::Active,
            tier: if i % 2 == 0 { "basic" } else { "premium" }.to_string(),
            email_domain: Some(format!("tenant-{i}.test")),
            routes: (i % 10 == 0).then(|| own_routes.clone()),
            ..seed.tenant.clone()
        })
        .map(std::sync::Arc::new)
        .collect();
    RoutingConfig {
        default_routes: vec![
            route(seed, "web", "/", "web"),
            route(seed, "api", "/api", "api"),
        ],
        tenants,
        max_tenant_labels: 500,
        ..seed.routing.clone()
    }
}

fn snapshot(seed: &Seed, n: usize) -> Snapshot {
    Snapshot::build(&routing(seed, n), |_| Some(0))
}

fn bench_resolve(c: &mut Criterion) {
    let mut group = c.benchmark_group("resolve");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30);
    let seed = seed();
    for n in SIZES {
        let snap = snapshot(&seed, n);
        // A tenant in the middle of the list, so nothing favours the first insert.
        let mid = n / 2;
        let sub_host = format!("tenant-{mid}.example.com:8080");
        let custom_host = format!("portal.tenant-{mid}.test");

        // Sanity: the inputs do what their names say before they are timed.
        assert_eq!(
            snap.resolve(sub_host.as_bytes(), "/api/x")
                .expect("subdomain hit")
                .tenant
                .subdomain,
            format!("tenant-{mid}")
        );
        assert!(snap.resolve(custom_host.as_bytes(), "/api/x").is_ok());
        assert!(snap.resolve(b"nobody.example.com", "/api/x").is_err());
        assert!(snap.resolve(b"www.unknown.test", "/api/x").is_err());

        group.bench_with_input(BenchmarkId::new("subdomain_hit", n), &n, |b, _| {
            b.iter(|| snap.resolve(black_box(sub_host.as_bytes()), black_box("/api/x")))
        });
        group.bench_with_input(BenchmarkId::new("custom_domain_hit", n), &n, |b, _| {
            b.iter(|| snap.resolve(black_box(custom_host.as_bytes()), black_box("/api/x")))
        });
        // A well-formed subdomain of a base domain that no tenant owns.
        group.bench_with_input(BenchmarkId::new("miss_unknown_subdomain", n), &n, |b, _| {
            b.iter(|| snap.resolve(black_box(b"nobody.example.com"), black_box("/api/x")))
        });
        // A host under no base domain at all (falls through every lookup).
        group.bench_with_input(BenchmarkId::new("miss_unknown_host", n), &n, |b, _| {
            b.iter(|| snap.resolve(black_box(b"www.unknown.test"), black_box("/api/x")))
        });
    }
    group.finish();
}

fn bench_routes(c: &mut Criterion) {
    let mut group = c.benchmark_group("routes_find");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30);
    // Route tables do not depend on the tenant count; the small snapshot suffices.
    let snap = snapshot(&seed(), 10);
    let custom = snap
        .resolve(b"tenant-0.example.com", "/")
        .expect("tenant-0")
        .tenant;
    let default = snap
        .resolve(b"tenant-1.example.com", "/")
        .expect("tenant-1")
        .tenant;
    assert_eq!(custom.routes.len(), 3);
    assert_eq!(default.routes.len(), 2);
    // (label, path): labels keep the benchmark ids free of slashes.
    let paths = [
        ("root", "/"),
        ("api", "/api/users/42"),
        ("api_admin", "/api/admin/x"),
        ("near_miss", "/apix/not-api"),
    ];
    for (label, path) in paths {
        assert!(custom.routes.find(path).is_some());
        group.bench_with_input(BenchmarkId::new("three_routes", label), path, |b, p| {
            b.iter(|| custom.routes.find(black_box(p)).map(|r| r.pool))
        });
    }
    for (label, path) in &paths[..2] {
        group.bench_with_input(BenchmarkId::new("default_routes", label), *path, |b, p| {
            b.iter(|| default.routes.find(black_box(p)).map(|r| r.pool))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_resolve, bench_routes);
criterion_main!(benches);
