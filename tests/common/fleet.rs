//! A fleet on DynamoDB for tests: one moto server (serial, see `Moto::start_serial`), one
//! echo backend (the `web` pool of `gateway_yaml`), the tables made and seeded with the
//! binary's `dynamodb` CLI, and any number of gateway processes on them. The same setup as
//! `tests/fleet_dynamodb.rs`, with a store key (`encryption_key_env`, needed by `tls.acme` and
//! `assertion:`) and extra top-level YAML.

use super::peers::{repo_root, Moto};
use super::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Credentials and region for the gateways and the CLI (moto accepts anything).
pub const AWS_ENV: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
    ("NO_PROXY", "127.0.0.1,localhost"),
];
/// What `gateway_yaml` says about tenants, replaced by the DynamoDB block.
pub const FILE_SOURCE: &str = "tenants:\n  source: file\n  path: tenants.yaml\n";
/// The tables' prefix (`<prefix>-tenants`, `-control`, `-certs`).
pub const TABLE_PREFIX: &str = "tg-fleet";

/// How a [`DynamoFleet`] is set up.
#[derive(Default)]
pub struct DynamoFleetBuilder {
    /// (variable, value) of `encryption_key_env`.
    store_key: Option<(String, String)>,
    extra: String,
}

impl DynamoFleetBuilder {
    /// Seals keys in the certs table with `value`, read from the variable `env`.
    pub fn store_key(mut self, env: &str, value: &str) -> Self {
        self.store_key = Some((env.to_string(), value.to_string()));
        self
    }

    /// Top-level YAML appended to every node's gateway.yaml (e.g. an `assertion:` block).
    pub fn extra(mut self, yaml: &str) -> Self {
        self.extra.push_str(yaml);
        self
    }

    /// Starts moto and the backend and writes the CLI's configuration (no tables yet: `init`).
    pub fn start(self) -> DynamoFleet {
        let moto = Moto::start_serial();
        let endpoint = moto.url.clone();
        self.start_on(moto, &endpoint)
    }

    /// Like [`DynamoFleetBuilder::start`], with the tables reached through `endpoint` (e.g. a
    /// forwarder in front of `moto` that a test cuts off).
    pub fn start_on(self, moto: Moto, endpoint: &str) -> DynamoFleet {
        let backend = Backend::start("web");
        let base = gateway_yaml(&[&backend], &self.extra);
        assert!(base.contains(FILE_SOURCE), "gateway_yaml changed shape");
        let key_line = self
            .store_key
            .as_ref()
            .map(|(env, _)| format!("  encryption_key_env: {env}\n"))
            .unwrap_or_default();
        let yaml = base.replace(
            FILE_SOURCE,
            &format!(
                "tenants:\n  source: dynamodb\n  table_prefix: {TABLE_PREFIX}\n  endpoint: {endpoint}\n  \
                 region: us-east-1\n  poll_interval: 500ms\n  timeout: 1s\n{key_line}"
            ),
        );
        let cli_dir = tempfile::tempdir().unwrap();
        let rendered = yaml
            .replace("{http}", &format!("127.0.0.1:{}", free_port()))
            .replace("{admin}", &format!("127.0.0.1:{}", free_port()))
            .replace("{https}", &format!("127.0.0.1:{}", free_port()))
            .replace(
                "{access_log}",
                &cli_dir.path().join("access.log").display().to_string(),
            );
        std::fs::write(cli_dir.path().join("gateway.yaml"), rendered).unwrap();
        let mut env: Vec<(String, String)> = AWS_ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.extend(self.store_key);
        DynamoFleet {
            moto,
            backend,
            yaml,
            cli_dir,
            env,
        }
    }
}

/// A moto server, an echo backend and a gateway.yaml template on one set of tables.
pub struct DynamoFleet {
    pub moto: Moto,
    /// The nodes' `web` pool.
    pub backend: Backend,
    /// The gateway.yaml template (`{http}`, `{admin}`... filled in by `GatewayBuilder`).
    pub yaml: String,
    /// The CLI's own copy of the configuration, placeholders filled in.
    cli_dir: tempfile::TempDir,
    /// The nodes' and the CLI's environment (AWS credentials, the store key).
    env: Vec<(String, String)>,
}

impl DynamoFleet {
    pub fn builder() -> DynamoFleetBuilder {
        DynamoFleetBuilder::default()
    }

    /// A fleet with the default settings, tables reached directly at moto.
    pub fn start() -> Self {
        Self::builder().start()
    }

    /// A fleet whose tables are reached through `endpoint` (a forwarder in front of `moto`).
    pub fn with_endpoint(moto: Moto, endpoint: &str) -> Self {
        Self::builder().start_on(moto, endpoint)
    }

    pub fn config(&self) -> PathBuf {
        self.cli_dir.path().join("gateway.yaml")
    }

    fn envs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `tenant-gateway dynamodb <sub> --config <gateway.yaml> [extra...]`: success and output.
    pub fn cli(&self, sub: &str, extra: &[&str]) -> (bool, String) {
        let out_path = self.cli_dir.path().join("cli.out");
        let out = std::fs::File::create(&out_path).unwrap();
        let child = Command::new(BIN)
            .arg("dynamodb")
            .arg(sub)
            .arg("--config")
            .arg(self.config())
            .args(extra)
            .envs(self.envs())
            .env("TEST_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn tenant-gateway dynamodb");
        // Killed when dropped, also when the wait below panics.
        let mut child = Proc(child);
        let status = eventually_blocking_with_log(
            &format!("`dynamodb {sub}` finishes"),
            Duration::from_secs(60),
            || std::fs::read_to_string(&out_path).unwrap_or_default(),
            || child.0.try_wait().unwrap().ok_or("still running"),
        );
        let text = std::fs::read_to_string(&out_path).unwrap_or_default();
        (status.success(), text)
    }

    /// `dynamodb init`, which must succeed.
    pub fn init(&self) {
        let (ok, out) = self.cli("init", &[]);
        assert!(
            ok,
            "dynamodb init failed:\n{out}\n--- moto log (tail) ---\n{}",
            tail(&self.moto.log(), 30)
        );
    }

    /// `dynamodb import` of `tenants_yaml`, written first to the file `name`.
    pub fn import(&self, name: &str, tenants_yaml: &str) -> (bool, String) {
        let path = self.cli_dir.path().join(name);
        std::fs::write(&path, tenants_yaml).unwrap();
        self.cli("import", &[path.to_str().unwrap()])
    }

    /// `dynamodb import` of `tenants_yaml`, which must succeed.
    pub fn import_ok(&self, tenants_yaml: &str) {
        let (ok, out) = self.import("import.yaml", tenants_yaml);
        assert!(
            ok,
            "dynamodb import failed:\n{out}\n--- moto log (tail) ---\n{}",
            tail(&self.moto.log(), 30)
        );
    }

    /// A gateway process on the tables, in a fresh directory (its tenants.yaml is not used).
    pub fn node(&self) -> Gateway {
        let mut b = GatewayBuilder::new(&self.yaml, "tenants: []\n").no_watch();
        for (k, v) in self.envs() {
            b = b.env(k, v);
        }
        b.start()
    }

    /// One item of the `<prefix>-<table>` table as JSON (`null` when absent), read with boto3
    /// outside the gateway.
    pub fn item(&self, table: &str, pk: &str) -> Value {
        let printed = self.with_table(
            table,
            &format!(
                "print(json.dumps(t.get_item(Key={{'pk': '{pk}'}}, ConsistentRead=True)\
                 .get('Item'), default=str))"
            ),
        );
        serde_json::from_str(&printed).unwrap()
    }

    /// Writes `item` (string and integer attributes) into the `<prefix>-<table>` table with
    /// boto3, outside the gateway.
    pub fn put_item(&self, table: &str, item: &Value) {
        let script = format!("t.put_item(Item=json.loads({:?}))", item.to_string());
        self.with_table(table, &script);
    }

    /// Runs `body` with `t`, the `<prefix>-<table>` table as a boto3 resource; returns what it
    /// prints.
    fn with_table(&self, table: &str, body: &str) -> String {
        let script = format!(
            "import boto3, json\n\
             t = boto3.resource('dynamodb', endpoint_url='{}', region_name='us-east-1', \
             aws_access_key_id='test', aws_secret_access_key='test')\
             .Table('{TABLE_PREFIX}-{table}')\n{body}",
            self.moto.url
        );
        let out = Command::new(repo_root().join(".venv-peers/bin/python"))
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "boto3 on {table}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The tail of every named node's log, for failure messages.
pub fn node_logs(nodes: &[(&str, &Gateway)]) -> String {
    nodes
        .iter()
        .map(|(name, gw)| format!("--- node {name} log (tail) ---\n{}", tail(&gw.stderr(), 40)))
        .collect::<Vec<_>>()
        .join("\n")
}
