//! Unit tests of `route`.

use super::*;

fn spec(prefix: &str, pool: &str) -> RouteSpec {
    RouteSpec {
        name: prefix.into(),
        prefix: prefix.into(),
        pool: pool.into(),
        strip_prefix: false,
        auth: None,
        require_groups: vec![],
        require_scopes: vec![],
        forward_token: None,
        assertion: false,
        assertion_audience: None,
        limits: None,
    }
}

#[test]
fn longest_prefix_wins_at_segment_boundaries() {
    let pools = ["web", "api", "admin"];
    let t = RouteTable::build(
        &[
            spec("/", "web"),
            spec("/api", "api"),
            spec("/api/admin", "admin"),
        ],
        AuthMode::None,
        |k| pools.iter().position(|p| *p == k),
    );
    assert_eq!(t.find("/").unwrap().pool, 0);
    assert_eq!(t.find("/apix").unwrap().pool, 0);
    assert_eq!(t.find("/api").unwrap().pool, 1);
    assert_eq!(t.find("/api/users").unwrap().pool, 1);
    assert_eq!(t.find("/api/admin/x").unwrap().pool, 2);
    let no_root = RouteTable::build(&[spec("/api", "api")], AuthMode::None, |k| {
        pools.iter().position(|p| *p == k)
    });
    assert!(no_root.find("/other").is_none());
}

#[test]
fn strips_prefixes() {
    assert_eq!(strip("/api", "/api/users"), "/users");
    assert_eq!(strip("/api", "/api"), "/");
    assert_eq!(strip("/", "/x"), "/x");
}
