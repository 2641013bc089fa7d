//! Assembles the Pingora server from a validated configuration: the proxy service on the
//! tenant listeners, the admin service on its own listener, and the background services
//! (health checks, config watcher). `main` only parses arguments and calls [`build`].

use crate::access_log::AccessLog;
use crate::admin::AdminApp;
use crate::assertion::store::{FileKeyStore, KeyStore};
use crate::assertion::{AssertionError, Assertions, Keeper};
use crate::auth::{Authenticator, KeyRefresher};
use crate::config::Config;
use crate::config::TenantSource;
use crate::demo::EchoApp;
use crate::proxy::gate::ConnectionGate;
use crate::proxy::GatewayProxy;
use crate::runtime::{self, Runtime, RuntimeHandle};
use crate::store::dynamodb::assertion_keys::DynamoKeyStore;
use crate::store::dynamodb::certs::DynamoCertStorage;
use crate::store::dynamodb::Follower;
use crate::store::{ConfigWatcher, Reloader};
use crate::tls::acme::AcmeManager;
use crate::tls::gate::TlsGate;
use crate::tls::sni::SniCapture;
use crate::tls::storage::CertStorage;
use crate::tls::TlsState;
use crate::upstream::HealthChecker;
use arc_swap::ArcSwap;
use pingora::apps::HttpServerOptions;
use pingora::listeners::tls::TlsSettings;
use pingora::proxy::HttpProxy;
use pingora::server::configuration::ServerConf;
use pingora::server::Server;
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use std::sync::Arc;

/// Start-up options that are not part of the configuration files.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Tenant listeners to use instead of `listeners.http` (e.g. `0.0.0.0:8080` in a container).
    pub listen: Vec<String>,
    /// Admin listener to use instead of `listeners.admin`.
    pub admin_listen: Option<String>,
    /// Start an echo backend on every loopback backend address of the configuration.
    pub demo_backends: bool,
    /// Reload when the configuration files change (SIGHUP and the admin API always work).
    pub watch_files: bool,
    /// Take the listening sockets over from a running gateway (`run --upgrade`): wait on
    /// `server.upgrade_sock` for the old process, which sends them on SIGQUIT.
    pub upgrade: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open access log: {0}")]
    AccessLog(std::io::Error),
    #[error("cannot build the outbound HTTP client: {0}")]
    HttpClient(reqwest::Error),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("TLS listener: {0}")]
    TlsListener(Box<pingora::Error>),
}

/// Builds a ready-to-run server; call `run_forever` on it.
/// `fleet` is the DynamoDB follower when tenants come from DynamoDB (see
/// `store::dynamodb::bootstrap`).
/// `assertions` signs the tenant assertion when `assertion:` is configured (see
/// [`start_assertions`]).
pub fn build(
    mut config: Config,
    opts: RunOptions,
    fleet: Option<Arc<Follower>>,
    assertions: Option<Arc<Assertions>>,
) -> Result<Server, StartError> {
    let conf = ServerConf {
        threads: config.server.threads,
        upstream_keepalive_pool_size: config.upstream_keepalive_pool_size,
        grace_period_seconds: Some(config.server.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(config.server.graceful_shutdown_timeout.as_secs()),
        upgrade_sock: config.server.upgrade_sock.display().to_string(),
        ..ServerConf::default()
    };
    let opt = pingora::server::configuration::Opt {
        upgrade: opts.upgrade,
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(opt, conf);

    // The tenants move into the first version; the rest of `config` is small.
    let tenants = std::mem::take(&mut config.routing.tenants);
    let mut routing = config.routing.clone();
    routing.tenants = tenants;
    let first = Runtime::build(routing, None, 1);
    runtime::record_gauges(&first);
    let handle: RuntimeHandle = Arc::new(ArcSwap::from_pointee(first));
    let access_log = AccessLog::open(&config.logging.access_log).map_err(StartError::AccessLog)?;
    let authenticator =
        Arc::new(Authenticator::new(&config.routing.auth).map_err(StartError::HttpClient)?);

    // A fleet with ACME shares certificates, keys (encrypted), leases and challenge answers.
    let shared_certs = match (&fleet, &config.tls, &config.tenant_source) {
        (Some(f), Some(t), TenantSource::Dynamodb(d)) if t.acme.is_some() => {
            let secret = d.encryption_key.as_deref().unwrap_or_default();
            let storage: Arc<dyn CertStorage> = Arc::new(DynamoCertStorage::new(
                f.store().clone(),
                secret,
                std::time::Duration::from_secs(180),
            ));
            Some(storage)
        }
        _ => None,
    };
    let tls = config
        .tls
        .as_ref()
        .map(|t| TlsState::load(t, shared_certs))
        .transpose()?;
    let limits = std::sync::Arc::new(crate::limits::Limits::new());
    let mut plain = GatewayProxy::new(
        handle.clone(),
        authenticator.clone(),
        access_log.clone(),
        "http",
    )
    .with_assertions(assertions.clone())
    .with_limits(limits.clone());
    if let Some(t) = &tls {
        plain = plain.with_challenges(t.challenges.clone());
    }
    let mut proxy = plain_service(
        &server.configuration,
        plain,
        config.listeners.h2c,
        handle.clone(),
        config.server.keepalive_drain,
    );
    let http_listeners = if opts.listen.is_empty() {
        &config.listeners.http
    } else {
        &opts.listen
    };
    for addr in http_listeners {
        proxy.add_tcp(addr);
    }

    let mut acme_manager = None;
    if let Some(t) = &tls {
        let app = pingora::proxy::http_proxy(
            &server.configuration,
            GatewayProxy::new(handle.clone(), authenticator.clone(), access_log, "https")
                .with_assertions(assertions.clone())
                .with_limits(limits.clone()),
        );
        // Plain TCP listeners: the gate reads the ClientHello and runs this handshake, or
        // answers a TLS-ALPN-01 validation (which needs another ALPN list than h2/http1.1).
        let mut settings =
            TlsSettings::with_callbacks(Box::new(SniCapture)).map_err(StartError::TlsListener)?;
        settings.set_cert_resolver(t.resolver.clone());
        settings.enable_h2();
        let gate = TlsGate::new(app, settings.build(), t.alpn.clone(), t.resolver.clone())
            .with_keepalive_drain(config.server.keepalive_drain);
        let mut secure = Service::new("tenant-gateway HTTPS".to_string(), gate);
        for addr in &config.listeners.https {
            secure.add_tcp(addr);
        }
        server.add_service(secure);
        if let Some(acme) = config.tls.as_ref().and_then(|c| c.acme.clone()) {
            let hosts_handle = handle.clone();
            let manager = Arc::new(
                AcmeManager::new(
                    acme,
                    t.storage.clone(),
                    t.resolver.clone(),
                    t.challenges.clone(),
                    Box::new(move || hosts_handle.load().snapshot.active_hosts()),
                )
                .with_alpn(t.alpn.clone()),
            );
            acme_manager = Some(manager.clone());
            server.add_service(background_service("acme", ArcService(manager)));
        }
    }

    let mut reloader = Reloader::new(config.clone(), handle.clone());
    if let Some(f) = &fleet {
        reloader = reloader.with_records(f.records_provider());
    }
    let reloader = Arc::new(reloader);
    if let Some(f) = &fleet {
        f.set_reloader(reloader.clone());
        f.set_limits(limits.clone());
        server.add_service(background_service("tenant-store", ArcService(f.clone())));
    }
    let provisioner = provisioner(&config);
    let admin_app = AdminApp::new(handle.clone(), reloader.clone(), config.admin.token.clone())
        .with_fleet(fleet)
        .with_tls(tls.as_ref().map(|t| t.resolver.clone()), acme_manager)
        .with_assertions(assertions.clone())
        .with_provisioner(provisioner.clone());
    // Pending custom domains are checked in the background (idle while verification is off).
    let verifier = Arc::new(crate::domains::Verifier::new(
        handle.clone(),
        admin_app.writer(),
        provisioner,
    ));
    server.add_service(background_service(
        "domain-verification",
        ArcService(verifier.clone()),
    ));
    let mut admin = Service::new("admin".to_string(), admin_app.with_verifier(verifier));
    admin.add_tcp(
        opts.admin_listen
            .as_deref()
            .unwrap_or(&config.listeners.admin),
    );

    let pools_handle = handle.clone();
    let health = background_service(
        "health-checks",
        HealthChecker::new(move || pools_handle.load().pools.clone()),
    );
    let watcher = background_service(
        "config-watcher",
        ConfigWatcher::new(
            reloader,
            crate::config::watched_paths(&config),
            opts.watch_files,
        ),
    );

    server.add_service(proxy);
    server.add_service(admin);
    server.add_service(health);
    let settings_handle = handle.clone();
    server.add_service(background_service(
        "jwks-refresh",
        KeyRefresher::new(authenticator, move || {
            settings_handle.load().routing.auth.jwks_refresh_interval
        }),
    ));
    server.add_service(watcher);
    if let Some(a) = assertions {
        server.add_service(background_service("assertion-keys", Keeper(a)));
    }
    if opts.demo_backends {
        add_demo_backends(&mut server, &config);
    }
    // Last, after everything that can fail: with `upgrade` this waits for the old process's
    // sockets, which it stops accepting on 5 s after sending them (deploy/UPGRADE.md).
    server.bootstrap();
    Ok(server)
}

/// The plain-HTTP proxy service: HTTP/1.1, and with `h2c` also HTTP/2 by prior knowledge,
/// told apart by [`ConnectionGate`], which also refuses malformed request lines and, unlike
/// Pingora's own check, never waits forever for the first bytes.
fn plain_service(
    conf: &Arc<ServerConf>,
    proxy: GatewayProxy,
    h2c: bool,
    runtime: RuntimeHandle,
    keepalive_drain: std::time::Duration,
) -> Service<ConnectionGate<HttpProxy<GatewayProxy>>> {
    let app = |h2c: bool, proxy: GatewayProxy| {
        let mut app = pingora::proxy::http_proxy(conf, proxy);
        let mut o = HttpServerOptions::default();
        o.h2c = h2c;
        app.server_options = Some(o);
        app
    };
    let h2 = h2c.then(|| app(true, proxy.clone()));
    let gate = ConnectionGate::new(app(false, proxy), h2, runtime, FIRST_LINE_DEADLINE)
        .with_keepalive_drain(keepalive_drain);
    Service::new("Pingora HTTP Proxy Service".to_string(), gate)
}

/// How long a plain connection may take to send a request line (Pingora's header timeout).
const FIRST_LINE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Loads (or makes) the tenant assertion's keys: from the fleet's certs table with the
/// DynamoDB store, else from `assertion.key_file`.
pub async fn start_assertions(
    config: &Config,
    fleet: Option<&Arc<Follower>>,
) -> Result<Option<Arc<Assertions>>, AssertionError> {
    let Some(a) = &config.assertion else {
        return Ok(None);
    };
    let store: Arc<dyn KeyStore> = match (fleet, &config.tenant_source) {
        (Some(f), TenantSource::Dynamodb(d)) => Arc::new(DynamoKeyStore::new(
            f.store().clone(),
            d.encryption_key.as_deref().unwrap_or_default(),
        )),
        _ => Arc::new(FileKeyStore::new(a.key_file.clone())),
    };
    Assertions::start(a.clone(), store).await.map(Some)
}

/// Runs a shared background service (the admin API keeps a handle to the same manager).
struct ArcService<T>(Arc<T>);

#[async_trait::async_trait]
impl<T: pingora::services::background::BackgroundService + Send + Sync>
    pingora::services::background::BackgroundService for ArcService<T>
{
    async fn start(&self, shutdown: pingora::server::ShutdownWatch) {
        self.0.start(shutdown).await
    }
}

fn add_demo_backends(server: &mut Server, config: &Config) {
    let mut seen = std::collections::BTreeSet::new();
    for (pool, spec) in &config.routing.pools {
        for addr in &spec.backends {
            if !addr.ip().is_loopback() || !seen.insert(*addr) {
                continue;
            }
            let name = format!("{pool}@{addr}");
            let mut svc = Service::new(format!("demo backend {name}"), EchoApp::new(name));
            svc.add_tcp(&addr.to_string());
            server.add_service(svc);
        }
    }
}

/// The onboarding provisioner, with `provisioning:` configured: app-client secrets go beside
/// the tenants file, or sealed into the DynamoDB records.
fn provisioner(config: &Config) -> Option<Arc<crate::provision::Provisioner>> {
    use crate::provision::{Provisioner, SecretStore};
    let settings = config.provisioning.clone()?;
    let secrets = match &config.tenant_source {
        TenantSource::File(path) => SecretStore::Files {
            tenants_file: path.clone(),
        },
        // Validation requires the key with `provisioning` on this store.
        TenantSource::Dynamodb(d) => SecretStore::Sealed(Arc::new(crate::seal::Sealer::new(
            d.encryption_key.as_deref().unwrap_or_default(),
        ))),
    };
    Some(Arc::new(Provisioner::new(settings, secrets)))
}
