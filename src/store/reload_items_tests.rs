//! Unit tests of a provider's changes (the DynamoDB store's records): a few changed records
//! are validated and rebuilt alone, a clash is refused as a full load refuses it, and a large
//! change is validated in full.

use super::*;
use crate::runtime::{Runtime, RuntimeHandle};
use crate::store::ReloadOutcome;
use arc_swap::ArcSwap;

const GATEWAY: &str = r#"listeners:
  http: ["127.0.0.1:0"]
  admin: "127.0.0.1:0"
base_domains:
  - domain: example.com
pools:
  web:
    backends: ["127.0.0.1:9"]
default_routes:
  - prefix: /
    pool: web
tenants:
  source: file
  path: tenants.yaml
"#;

const TENANTS: usize = 40;

fn record(i: usize) -> Arc<TenantFile> {
    let yaml = format!(
        "id: {}\nname: Tenant {i}\nsubdomain: t{i}\n",
        uuid::Uuid::from_u128(0x1000 + i as u128)
    );
    Arc::new(serde_norway::from_str(&yaml).unwrap())
}

struct Fixture {
    _dir: tempfile::TempDir,
    label: PathBuf,
    view: Arc<ArcSwap<Vec<Arc<TenantFile>>>>,
    handle: RuntimeHandle,
    reloader: Reloader,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let gateway = dir.path().join("gateway.yaml");
        std::fs::write(&gateway, GATEWAY).unwrap();
        let label = PathBuf::from("dynamodb:test");
        let records: Vec<Arc<TenantFile>> = (0..TENANTS).map(record).collect();
        let owned = records.iter().map(|r| TenantFile::clone(r)).collect();
        let config = config::load_with(
            &gateway,
            Some((label.clone(), TenantsFile { tenants: owned })),
        )
        .unwrap();
        let handle: RuntimeHandle = Arc::new(ArcSwap::from_pointee(Runtime::build(
            config.routing.clone(),
            None,
            1,
        )));
        let view = Arc::new(ArcSwap::from_pointee(records));
        let (provided, name) = (view.clone(), label.clone());
        let reloader = Reloader::new(config, handle.clone())
            .with_records(Box::new(move || (name.clone(), provided.load_full())));
        Self {
            _dir: dir,
            label,
            view,
            handle,
            reloader,
        }
    }

    /// The records in service with `edit` applied to a copy.
    fn changed(&self, edit: impl FnOnce(&mut Vec<Arc<TenantFile>>)) -> Vec<Arc<TenantFile>> {
        let mut records = self.view.load().as_ref().clone();
        edit(&mut records);
        records
    }

    fn name_of(&self, i: usize) -> String {
        let id = uuid::Uuid::from_u128(0x1000 + i as u128);
        let runtime = self.handle.load();
        runtime.snapshot.by_id(&id).unwrap().name.clone()
    }
}

fn rename(records: &mut [Arc<TenantFile>], i: usize, name: &str) {
    Arc::make_mut(&mut records[i]).name = name.into();
}

#[test]
fn a_few_changed_records_are_validated_alone() {
    let f = Fixture::new();
    let renamed = f.changed(|r| rename(r, 7, "Seven"));
    match f.reloader.validate_records(f.label.clone(), &renamed) {
        Ok(Validated::Change { changed, .. }) => {
            assert_eq!(changed.len(), 1);
            assert!(changed.contains(&uuid::Uuid::from_u128(0x1007)));
        }
        Ok(Validated::Full(_)) => panic!("validated in full"),
        Err(e) => panic!("{e}"),
    }
    // More changes than one change may hold: in full.
    let many = f.changed(|r| {
        for i in 0..=config::EDIT_MAX {
            rename(r, i, &format!("Renamed {i}"));
        }
    });
    let validated = f.reloader.validate_records(f.label.clone(), &many);
    assert!(matches!(validated, Ok(Validated::Full(_))));
}

#[test]
fn a_clash_is_refused_with_the_full_message() {
    let f = Fixture::new();
    let clash = f.changed(|r| Arc::make_mut(&mut r[8]).subdomain = "t9".into());
    let Err(e) = f.reloader.validate_records(f.label.clone(), &clash) else {
        panic!("a duplicate subdomain was accepted");
    };
    let text = e.to_string();
    assert!(text.contains("subdomain") && text.contains("t9"), "{text}");
}

#[tokio::test]
async fn a_polled_change_is_rebuilt_alone_and_a_clash_keeps_the_version_in_service() {
    let f = Fixture::new();
    f.view.store(Arc::new(f.changed(|r| rename(r, 3, "Three"))));
    let outcome = f.reloader.reload_with("dynamodb", None).await.unwrap();
    assert!(matches!(
        outcome,
        ReloadOutcome::Applied { generation: 2, .. }
    ));
    assert_eq!(f.name_of(3), "Three");
    let last = &f.reloader.history()[0];
    assert_eq!(last.detail.as_deref(), Some("rebuilt 1 of 40 tenants"));

    // Records written around the gateway that clash: refused, the version stays.
    f.view.store(Arc::new(
        f.changed(|r| Arc::make_mut(&mut r[5]).subdomain = "t6".into()),
    ));
    assert!(f.reloader.reload_with("dynamodb", None).await.is_err());
    assert_eq!(f.handle.load().generation, 2);
    assert_eq!(f.reloader.history()[0].result, "rejected");

    // The fix is compared with what is still in service.
    f.view.store(Arc::new(f.changed(|r| {
        Arc::make_mut(&mut r[5]).subdomain = "t5b".into();
    })));
    f.reloader.reload_with("dynamodb", None).await.unwrap();
    let last = &f.reloader.history()[0];
    assert_eq!(last.detail.as_deref(), Some("rebuilt 1 of 40 tenants"));
    let runtime = f.handle.load();
    let found = runtime
        .snapshot
        .by_id(&uuid::Uuid::from_u128(0x1005))
        .unwrap();
    assert_eq!(found.subdomain, "t5b");
}
