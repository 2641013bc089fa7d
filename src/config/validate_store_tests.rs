use super::*;

fn settings(yaml: &str) -> DynamoSourceFile {
    serde_norway::from_str(yaml).unwrap()
}

fn fields(src: &DynamoSourceFile, acme: bool) -> Vec<String> {
    let mut issues = Vec::new();
    dynamodb(Path::new("gateway.yaml"), src, acme, &mut issues);
    issues.into_iter().map(|i| i.field).collect()
}

#[test]
fn defaults_are_valid() {
    let s = settings("{}");
    assert!(fields(&s, false).is_empty());
    let TenantSource::Dynamodb(d) = source(
        Path::new("gateway.yaml"),
        &TenantSourceFile::Dynamodb(s),
        false,
        &mut Vec::new(),
    ) else {
        panic!("not the dynamodb source")
    };
    assert_eq!(d.tenants_table(), "tenant-gateway-tenants");
    assert_eq!(d.poll_interval, Duration::from_secs(1));
}

#[test]
fn each_bad_field_is_named() {
    let s =
        settings("{table_prefix: 'a b', endpoint: 'ftp://x', poll_interval: 10ms, timeout: 1ms}");
    assert_eq!(
        fields(&s, false),
        [
            "tenants.table_prefix",
            "tenants.endpoint",
            "tenants.poll_interval",
            "tenants.timeout"
        ]
    );
}

#[test]
fn acme_needs_an_encryption_key_of_32_characters() {
    assert_eq!(
        fields(&settings("{}"), true),
        ["tenants.encryption_key_env"]
    );
    let s = settings("{encryption_key_env: TG_TEST_UNSET_KEY_VARIABLE}");
    assert_eq!(fields(&s, true), ["tenants.encryption_key_env"]);
}

#[test]
fn unknown_fields_are_refused() {
    assert!(serde_norway::from_str::<DynamoSourceFile>("{tabel_prefix: x}").is_err());
}
