//! Unit tests of `logging`.

use super::*;

#[test]
fn client_caused_pingora_errors_are_recognised() {
    assert!(is_client_caused(
        "pingora_proxy",
        "Fail to proxy: Downstream ReadError context: while reading request headers"
    ));
    assert!(!is_client_caused(
        "pingora_proxy",
        "Fail to proxy: Upstream ConnectRefused"
    ));
    assert!(!is_client_caused(
        "tenant_gateway::store",
        "Fail to proxy: Downstream ReadError"
    ));
}
