//! The checked-in OpenAPI document of the admin API (docs/admin-openapi.yaml) against the
//! running implementation: every documented operation is served and answers only with
//! documented statuses (with the fields a documented inline schema requires), secured ones
//! refuse a missing token, and undocumented paths are 404.

mod common;
use common::*;
use serde_json::Value;

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/admin-openapi.yaml"
    ))
    .unwrap();
    let yaml: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    serde_json::to_value(yaml).unwrap()
}

#[tokio::test]
async fn every_documented_operation_is_served_with_documented_statuses() {
    let b = Backend::start("web");
    let gw = GatewayBuilder::new(&gateway_yaml(&[&b], ""), &basic_tenants())
        .no_watch()
        .start();
    let spec = spec();
    let paths = spec["paths"].as_object().unwrap();
    let mut ops = Vec::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            ops.push((path.clone(), method.clone(), op.clone()));
        }
    }
    // Deletions last, so the other operations find the tenant.
    ops.sort_by_key(|(_, m, _)| m == "delete");
    assert!(ops.len() >= 15, "{} operations", ops.len());
    for (path, method, op) in ops {
        let url = gw.admin_url(&path.replace("{id}", TENANT_B));
        let documented: Vec<u16> = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.parse().unwrap())
            .collect();
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let secured = op
            .get("security")
            .is_none_or(|s| !s.as_array().unwrap().is_empty());
        if secured {
            let r = send(client().request(m.clone(), &url)).await;
            assert_eq!(r.status, 401, "{method} {path} without a token");
            assert!(
                documented.contains(&401),
                "{method} {path}: 401 is not documented"
            );
        }
        let mut req = client().request(m, &url).bearer_auth(ADMIN_TOKEN);
        if op.get("requestBody").is_some() {
            let is_array =
                op["requestBody"]["content"]["application/json"]["schema"]["type"] == "array";
            req = req
                .header("content-type", "application/json")
                .body(if is_array { "[]" } else { "{}" });
        }
        let r = send(req).await;
        assert!(
            documented.contains(&r.status),
            "{method} {path} answered {} (documented {documented:?}): {}",
            r.status,
            r.text
        );
        // A documented (inline) JSON schema's required fields are in the answer.
        let schema =
            &op["responses"][r.status.to_string()]["content"]["application/json"]["schema"];
        for field in schema["required"].as_array().into_iter().flatten() {
            let field = field.as_str().unwrap();
            assert!(
                r.json().get(field).is_some(),
                "{method} {path} answered {} without `{field}`: {}",
                r.status,
                r.text
            );
        }
        // A 404 from the router (not from the operation) means the operation is not served.
        assert!(
            !r.text.contains("no such"),
            "{method} {path} is not implemented: {}",
            r.text
        );
    }
    for undocumented in ["/tenants/x/nope", "/admin", "/tenants/x/idp/extra"] {
        let r = send(
            client()
                .get(gw.admin_url(undocumented))
                .bearer_auth(ADMIN_TOKEN),
        )
        .await;
        assert_eq!(r.status, 404, "{undocumented}");
    }
}
