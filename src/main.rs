//! Command line: `run` the gateway, `check` configuration files, or start a `demo-backend`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tenant_gateway::{config, demo, server};

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
    },
    /// Validate configuration files without starting; exits non-zero if any is bad.
    Check {
        /// gateway.yaml files (with the tenant files they name) or tenants files (validated
        /// through the gateway files beside them).
        #[arg(short, long = "config", required = true)]
        configs: Vec<PathBuf>,
    },
    /// Print an Argon2 hash for a `basic_auth` password read from standard input.
    HashPassword,
    /// Run a standalone echo backend (what `--demo-backends` starts in-process).
    DemoBackend {
        #[arg(long)]
        listen: String,
        #[arg(long, default_value = "demo")]
        name: String,
    },
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
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
            init_logging(&cfg.logging.level);
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
            };
            match server::build(cfg, opts) {
                Ok(s) => s.run_forever(),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start");
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
        Command::DemoBackend { listen, name } => {
            init_logging("warn");
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
