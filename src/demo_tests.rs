//! Unit tests of `demo`.

use super::query_param;

#[test]
fn reads_query_params() {
    assert_eq!(query_param(Some("a=1&sleep_ms=20"), "sleep_ms"), Some("20"));
    assert_eq!(query_param(Some("sleep_msx=1"), "sleep_ms"), None);
    assert_eq!(query_param(None, "status"), None);
}
