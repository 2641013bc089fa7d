//! Unit tests of `limits`: the policy merge, GCRA, client IPs and header formatting.

use super::*;
use crate::config::{Cidr, LimitKey, LimitValues, LimitsSettings, RouteLimits};
use crate::tenant::{RouteTable, TenantHeaders, TenantId};

fn values(rate: Option<u32>, burst: Option<u32>, max: Option<u32>) -> LimitValues {
    LimitValues {
        rate_per_second: rate,
        burst,
        max_in_flight: max,
        key: None,
    }
}

fn settings() -> LimitsSettings {
    let mut s = LimitsSettings::default();
    s.tiers
        .insert("basic".into(), values(Some(50), Some(10), Some(4)));
    s
}

fn tenant(tier: &str, limits: Option<LimitValues>) -> Tenant {
    Tenant {
        id: TenantId(uuid::Uuid::from_u128(1)),
        name: "Acme".into(),
        subdomain: "acme".into(),
        status: crate::config::TenantStatus::Active,
        tier: tier.into(),
        routes: Arc::new(RouteTable::default()),
        metric_label: "acme".into(),
        headers: TenantHeaders {
            id: HeaderValue::from_static("x"),
            name: HeaderValue::from_static("x"),
            tier: HeaderValue::from_static("x"),
        },
        auth: None,
        limits,
        request_metrics: Default::default(),
    }
}

fn route(limits: Option<RouteLimits>) -> Route {
    Route {
        name: "r".into(),
        prefix: "/".into(),
        pool: 0,
        strip_prefix: false,
        auth: crate::config::AuthMode::None,
        require_groups: Arc::from(vec![]),
        require_scopes: Arc::from(vec![]),
        forward_token: None,
        assertion: false,
        assertion_audience: None,
        limits,
        index: 0,
    }
}

#[test]
fn tier_values_merge_with_tenant_and_route_overrides() {
    let s = settings();
    let p = policy(&s, &tenant("basic", None), None).unwrap();
    assert_eq!(p.values, values(Some(50), Some(10), Some(4)));
    assert_eq!(&*p.name, "basic");
    assert_eq!(p.key(), LimitKey::Tenant);

    let t = tenant("basic", Some(values(Some(100), None, None)));
    let p = policy(&s, &t, None).unwrap();
    assert_eq!(p.values, values(Some(100), Some(10), Some(4)));

    let mut r = values(None, Some(20), None);
    r.key = Some(LimitKey::ClientIp);
    let p = policy(&s, &t, Some(&route(Some(RouteLimits::Set(r))))).unwrap();
    assert_eq!(p.values.rate_per_second, Some(100));
    assert_eq!(p.values.burst, Some(20));
    assert_eq!(p.key(), LimitKey::ClientIp);

    assert_eq!(policy(&s, &t, Some(&route(Some(RouteLimits::Off)))), None);
}

#[test]
fn unknown_tier_is_unlimited_unless_overridden() {
    let s = settings();
    assert_eq!(policy(&s, &tenant("gold", None), None), None);
    let p = policy(&s, &tenant("gold", Some(values(None, None, Some(2)))), None).unwrap();
    assert_eq!(p.values, values(None, None, Some(2)));
    assert_eq!(
        effective(&s, "gold", None),
        LimitValues::default(),
        "no tier, no overrides"
    );
}

#[test]
fn gcra_allows_the_burst_then_the_rate() {
    let cell = AtomicU64::new(0);
    let now = 5 * NANOS;
    for i in 0..10 {
        let (remaining, _) = gcra(&cell, now, 50, 10).expect("within burst");
        assert_eq!(remaining, 9 - i);
    }
    let wait = gcra(&cell, now, 50, 10).expect_err("burst spent");
    assert_eq!(wait, NANOS / 50);
    assert!(gcra(&cell, now + wait, 50, 10).is_ok());
    assert!(gcra(&cell, now + wait, 50, 10).is_err());
    assert_eq!(seconds_up(wait), 1);
    assert_eq!(seconds_up(2 * NANOS + 1), 3);
}

#[test]
fn limiter_counts_in_flight_and_releases_on_drop() {
    let s = settings();
    let limits = Limits::new();
    let t = tenant("gold", Some(values(None, None, Some(2))));
    let p = policy(&s, &t, None).unwrap();
    let a = limits.check(&s, &p, &t, Who::Tenant).unwrap();
    let b = limits.check(&s, &p, &t, Who::Tenant).unwrap();
    let refused = limits.check(&s, &p, &t, Who::Tenant).unwrap_err();
    assert_eq!(refused.reason, Reason::InFlight);
    assert!(limits.check(&s, &p, &t, Who::User("bob".into())).is_ok());
    drop(a);
    assert!(limits.check(&s, &p, &t, Who::Tenant).is_ok());
    drop(b);
}

#[test]
fn live_nodes_share_the_limits_rounded_up_at_least_one() {
    let s = settings();
    let t = tenant("gold", Some(values(Some(40), Some(5), Some(3))));
    let p = policy(&s, &t, None).unwrap();
    assert_eq!(p.share(1), p.values);
    assert_eq!(p.share(0), p.values);
    let half = p.share(2);
    assert_eq!(
        (half.rate_per_second, half.burst, half.max_in_flight),
        (Some(20), Some(3), Some(2))
    );
    let many = p.share(100);
    assert_eq!(
        (many.rate_per_second, many.burst, many.max_in_flight),
        (Some(1), Some(1), Some(1))
    );
    // The limiter applies the share: 3 in flight alone, 2 of them with two nodes.
    let limits = Limits::new();
    assert_eq!(limits.live_nodes(), 1);
    limits.set_live_nodes(2);
    let a = limits.check(&s, &p, &t, Who::Tenant).unwrap();
    let b = limits.check(&s, &p, &t, Who::Tenant).unwrap();
    let refused = limits.check(&s, &p, &t, Who::Tenant).unwrap_err();
    assert_eq!(refused.reason, Reason::InFlight);
    limits.set_live_nodes(1);
    let c = limits.check(&s, &p, &t, Who::Tenant).unwrap();
    drop((a, b, c));
}

#[test]
fn headers_follow_the_ietf_draft() {
    let h = headers("basic", 50, 7, NANOS / 2);
    assert_eq!(h.policy, "\"basic\";q=50;w=1");
    assert_eq!(h.state, "\"basic\";r=7;t=1");
    let h = headers("we\"ird\\", 5, 0, 3 * NANOS);
    assert_eq!(h.policy, "\"we\\\"ird\\\\\";q=5;w=1");
    assert_eq!(h.state, "\"we\\\"ird\\\\\";r=0;t=3");
}

#[test]
fn client_ip_reads_forwarded_for_only_from_trusted_proxies() {
    let mut s = LimitsSettings::default();
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    let xff = [HeaderValue::from_static("203.0.113.9, 10.0.0.1")];
    assert_eq!(client_ip(Some(local), xff.iter(), &s), Some(local));
    s.trusted_proxies = vec![Cidr::parse("127.0.0.1").unwrap()];
    assert_eq!(
        client_ip(Some(local), xff.iter(), &s),
        Some("10.0.0.1".parse().unwrap())
    );
    s.trusted_proxies.push(Cidr::parse("10.0.0.0/8").unwrap());
    assert_eq!(
        client_ip(Some(local), xff.iter(), &s),
        Some("203.0.113.9".parse().unwrap())
    );
    let garbage = [HeaderValue::from_static("nonsense")];
    assert_eq!(client_ip(Some(local), garbage.iter(), &s), Some(local));
}

#[test]
fn cidr_matching() {
    let c = Cidr::parse("10.1.0.0/16").unwrap();
    assert!(c.contains("10.1.200.3".parse().unwrap()));
    assert!(!c.contains("10.2.0.1".parse().unwrap()));
    assert!(c.contains("::ffff:10.1.0.1".parse().unwrap()));
    assert!(Cidr::parse("::/0")
        .unwrap()
        .contains("2001:db8::1".parse().unwrap()));
    assert!(Cidr::parse("10.0.0.0/33").is_err());
    assert!(Cidr::parse("nope").is_err());
}
