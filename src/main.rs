//! Command line: `run` the gateway, `check` configuration files, or start a `demo-backend`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tenant_gateway::{config, demo, server};

/// mimalloc, built without transparent huge pages (`no_thp`): with them, freeing part of a
/// large configuration split and re-zeroed 2 MiB pages, which tripled the start and reload
/// time at 100,000 tenants (0.7 s of system time in 1.1 s for `check`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tenant-gateway",
    version,
    about = "Multi-tenant edge gateway on Pingora"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Run {
        /// Path to gateway.yaml.
        #[arg(short, long, default_value = "conf/gateway.yaml")]
        config: PathBuf,
        /// Also start an echo backend on every loopback backend address (for trying it out).
        #[arg(long)]
        demo_backends: bool,
        /// Do not watch the configuration files (SIGHUP and POST /reload still reload).
        #[arg(long)]
        no_watch: bool,
        /// Tenant listener address, instead of `listeners.http` (repeatable).
        #[arg(long, value_name = "ADDR")]
        listen: Vec<String>,
        /// Admin listener address, instead of `listeners.admin`.
        #[arg(long, value_name = "ADDR")]
        admin_listen: Option<String>,
        /// Take the listening sockets over from the running gateway (graceful upgrade): start
        /// this, then send SIGQUIT to the old process (see deploy/UPGRADE.md).
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate configuration files without starting; exits non-zero if any is bad.
    Check {
        /// gateway.yaml files (with the tenant files they name) or tenants files (validated
        /// through the gateway files beside them).
        #[arg(short, long = "config", required = true)]
        configs: Vec<PathBuf>,
    },
    /// Manage the DynamoDB tables of a fleet (`tenants.source: dynamodb`).
    Dynamodb {
        #[command(subcommand)]
        command: DynamoCommand,
    },
    /// Print an Argon2 hash for a `basic_auth` password read from standard input.
    HashPassword,
    /// Run the demo identity provider of the quickstart (loopback only; NOT for production):
    /// a client for every tenant of the configuration whose IdP issuer is `http://<listen>`.
    DemoIdp {
        #[arg(short, long, default_value = "conf/gateway.yaml")]
        config: PathBuf,
        #[arg(long, default_value = "127.0.0.1:9400")]
        listen: String,
    },
    /// Run a standalone echo backend (what `--demo-backends` starts in-process).
    DemoBackend {
        #[arg(long)]
        listen: String,
        #[arg(long, default_value = "demo")]
        name: String,
    },
}

#[derive(Subcommand)]
enum DynamoCommand {
    /// Create the tenants, control and certs tables (existing tables are left alone).
    Init {
        #[arg(short, long, default_value = "conf/gateway.yaml")]
        config: PathBuf,
    },
    /// Validate a tenants file with the gateway file and the tenants already in the table,
    /// then write its tenants (ids already in the table are refused).
    Import {
        #[arg(short, long, default_value = "conf/gateway.yaml")]
        config: PathBuf,
        /// A tenants file (`tenants: [...]`).
        file: PathBuf,
    },
    /// Copy the ACME certificates a single node stored under `tls.certs_dir` (or DIR) into the
    /// certs table, private keys encrypted with the store key (moving from files to a fleet).
    ImportCerts {
        #[arg(short, long, default_value = "conf/gateway.yaml")]
        config: PathBuf,
        /// The certs_dir to read (default: the configuration's `tls.certs_dir`).
        dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    // The tree has both ring and aws-lc-rs; choose one before anything builds a TLS config.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::Check { configs } => {
            let mut ok = true;
            for path in configs {
                match config::check_file(&path) {
                    Ok(summary) => println!("{summary}"),
                    Err(e) => {
                        eprintln!("{e}");
                        ok = false;
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Run {
            config,
            demo_backends,
            no_watch,
            listen,
            admin_listen,
            upgrade,
        } => {
            for addr in listen.iter().chain(admin_listen.iter()) {
                if addr.parse::<std::net::SocketAddr>().is_err() {
                    eprintln!("--listen/--admin-listen: {addr:?} is not an ip:port address");
                    return ExitCode::FAILURE;
                }
            }
            let cfg = match config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            tenant_gateway::logging::init_with(&cfg.logging.level, cfg.logging.json);
            // With the DynamoDB source the tenants are read here, on a runtime that lives as
            // long as the process (the store client's connections run on it).
            let mut fleet = None;
            let store_runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("tenant-store")
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start a runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let cfg = if let config::TenantSource::Dynamodb(settings) = &cfg.tenant_source {
                let wait = std::time::Duration::from_secs(30);
                match store_runtime.block_on(tenant_gateway::store::dynamodb::bootstrap(
                    &config, settings, wait,
                )) {
                    Ok((c, f)) => {
                        fleet = Some(f);
                        c
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start");
                        eprintln!("{e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                cfg
            };
            tracing::info!(
                config = %config.display(),
                tenants = cfg.routing.tenants.len(),
                listeners = ?(if listen.is_empty() { &cfg.listeners.http } else { &listen }),
                admin = %admin_listen.as_deref().unwrap_or(&cfg.listeners.admin),
                "starting tenant-gateway"
            );
            let opts = server::RunOptions {
                listen,
                admin_listen,
                demo_backends,
                watch_files: !no_watch,
                upgrade,
            };
            let assertions =
                match store_runtime.block_on(server::start_assertions(&cfg, fleet.as_ref())) {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start");
                        eprintln!("{e}");
                        return ExitCode::FAILURE;
                    }
                };
            match server::build(cfg, opts, fleet, assertions) {
                Ok(s) => s.run_forever(),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Dynamodb { command } => {
            tenant_gateway::logging::init("warn");
            match dynamodb_command(command) {
                Ok(summary) => {
                    println!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::HashPassword => {
            let mut password = String::new();
            if std::io::stdin().read_line(&mut password).is_err() || password.trim_end().is_empty()
            {
                eprintln!("give the password on standard input");
                return ExitCode::FAILURE;
            }
            match tenant_gateway::auth::hash_password(password.trim_end_matches(['\r', '\n'])) {
                Ok(h) => {
                    println!("{h}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cannot hash: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::DemoIdp { config, listen } => {
            tenant_gateway::logging::init("warn");
            match listen.parse::<std::net::SocketAddr>() {
                Ok(a) if a.ip().is_loopback() => {}
                _ => {
                    eprintln!("--listen: the demo IdP listens on a loopback ip:port only");
                    return ExitCode::FAILURE;
                }
            }
            let cfg = match config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let idp =
                match tenant_gateway::demo_idp::DemoIdp::new(&cfg, &format!("http://{listen}")) {
                    Ok(i) => i,
                    Err(e) => {
                        eprintln!("cannot start: {e}");
                        return ExitCode::FAILURE;
                    }
                };
            eprintln!(
                "demo IdP (NOT for production) at http://{listen}, clients: {}",
                idp.client_ids().join(", ")
            );
            let mut s = pingora::server::Server::new(None).unwrap_or_else(|e| {
                eprintln!("cannot start: {e}");
                std::process::exit(1)
            });
            s.bootstrap();
            let mut svc = pingora::services::listening::Service::new("demo idp".into(), idp);
            svc.add_tcp(&listen);
            s.add_service(svc);
            s.run_forever()
        }
        Command::DemoBackend { listen, name } => {
            tenant_gateway::logging::init("warn");
            let mut s = pingora::server::Server::new(None).unwrap_or_else(|e| {
                eprintln!("cannot start: {e}");
                std::process::exit(1)
            });
            s.bootstrap();
            let mut svc = pingora::services::listening::Service::new(
                format!("demo backend {name}"),
                demo::EchoApp::new(name),
            );
            svc.add_tcp(&listen);
            s.add_service(svc);
            s.run_forever()
        }
    }
}

fn dynamodb_command(command: DynamoCommand) -> Result<String, String> {
    use tenant_gateway::store::dynamodb::{self, DynamoStore};
    let (path, import, certs) = match command {
        DynamoCommand::Init { config } => (config, None, None),
        DynamoCommand::Import { config, file } => (config, Some(file), None),
        DynamoCommand::ImportCerts { config, dir } => (config, None, Some(dir)),
    };
    let cfg = config::load(&path).map_err(|e| e.to_string())?;
    let config::TenantSource::Dynamodb(settings) = &cfg.tenant_source else {
        return Err(format!(
            "{}: tenants.source is not dynamodb",
            path.display()
        ));
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let store = DynamoStore::new(dynamodb::connect(settings).await, settings.clone());
        if let Some(dir) = certs {
            let dir = dir
                .or_else(|| cfg.tls.as_ref().map(|t| t.certs_dir.clone()))
                .ok_or_else(|| format!("{}: no tls.certs_dir and no DIR given", path.display()))?;
            let secret = settings.encryption_key.as_deref().ok_or_else(|| {
                format!(
                    "{}: tenants.encryption_key_env must name the key that encrypts certificate keys",
                    path.display()
                )
            })?;
            let storage = std::sync::Arc::new(dynamodb::certs::DynamoCertStorage::new(
                store.clone(),
                secret,
                std::time::Duration::from_secs(180),
            ));
            let started = std::time::Instant::now();
            let files = tenant_gateway::tls::storage::FileStorage::new(&dir);
            let n = dynamodb::certs::import_certs(storage, files).await?;
            return Ok(format!(
                "ok: {n} certificates copied into {} in {:.1}s",
                settings.certs_table(),
                started.elapsed().as_secs_f64()
            ));
        }
        let Some(file) = import else {
            let tables = dynamodb::init(&store).await.map_err(|e| e.to_string())?;
            return Ok(format!("ok: tables {} are active", tables.join(", ")));
        };
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let new = config::parse_tenants(&file, &text).map_err(|e| e.to_string())?;
        let (_, existing) = store.load_all().await.map_err(|e| e.to_string())?;
        if let Some(t) = new.tenants.iter().find(|t| {
            existing
                .iter()
                .any(|s| s.record.id.eq_ignore_ascii_case(&t.id))
        }) {
            return Err(format!(
                "{}: tenant {:?} (id {}) is already in the table; change it through the admin API",
                file.display(),
                t.name,
                t.id
            ));
        }
        let mut all: Vec<_> = existing
            .into_iter()
            .map(|s| std::sync::Arc::unwrap_or_clone(s.record))
            .collect();
        all.extend(new.tenants.iter().cloned());
        let checked = config::file::TenantsFile { tenants: all };
        config::load_with(&path, Some((file.clone(), checked))).map_err(|e| e.to_string())?;
        let started = std::time::Instant::now();
        let n = dynamodb::import(&store, new.tenants)
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "ok: {n} tenants imported into {} in {:.1}s",
            settings.tenants_table(),
            started.elapsed().as_secs_f64()
        ))
    })
}
