//! `kinde-gateway`: serve the gateway from a config file, or the embedded demo with
//! `--emulator`, or check a config file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kinde_gateway::AuditLog;
use kinde_gateway::config::{Config, scope_gaps};
use kinde_gateway::server::{ServeOptions, serve, shutdown_signal};
use kinde_gateway::telemetry::Telemetry;

/// A gRPC gateway to Kinde's Management API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The configuration file (production mode).
    #[arg(long, env = "KINDE_GATEWAY_CONFIG", conflicts_with = "emulator")]
    config: Option<PathBuf>,
    /// Start an in-process Kinde emulator with a demo caller (loopback only).
    #[arg(long)]
    emulator: bool,
    /// Listen here instead of the configured address (default 127.0.0.1:50051).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Audit log for `--emulator` mode: `stdout` (default) or a file path.
    #[arg(long)]
    audit_log: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a configuration file and exit; also lists allowed RPCs whose Kinde scope the
    /// caller's profile lacks.
    CheckConfig {
        /// The configuration file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // OTLP export only when serving, and only when OTEL_EXPORTER_OTLP_ENDPOINT is set. The
    // exporters' gRPC channels need the runtime.
    let telemetry = if cli.command.is_none() {
        let _entered = runtime.enter();
        match Telemetry::from_env() {
            Ok(telemetry) => telemetry,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    init_logging(telemetry.as_ref());
    let result = runtime.block_on(run(cli));
    // After the drain: flush the spans and metrics still queued, while the runtime runs.
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(Command::CheckConfig { file }) = &cli.command {
        return check_config(file);
    }
    if cli.emulator {
        return run_emulator(&cli).await;
    }
    let Some(path) = &cli.config else {
        return Err("give --config FILE, or --emulator for the demo".into());
    };
    let config = Config::load(path)?;
    let gateway = config.gateway(|name| std::env::var(name).ok())?;
    let listen = cli.listen.unwrap_or(config.listen);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let options = ServeOptions {
        server: config.server.clone(),
        tls: config.tls.clone(),
    };
    serve(gateway, listener, options, shutdown_signal()).await?;
    Ok(())
}

#[cfg(feature = "emulator")]
async fn run_emulator(cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    use kinde_gateway::demo;

    let listen = cli.listen.unwrap_or_else(|| {
        kinde_gateway::config::DEFAULT_LISTEN
            .parse()
            .expect("valid")
    });
    let audit = match cli.audit_log.as_deref() {
        None | Some("stdout") => AuditLog::stdout(),
        Some(path) => AuditLog::file(std::path::Path::new(path))?,
    };
    let (emulator, gateway) = demo::start(listen, audit).await?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("emulator base_url: {}", emulator.base_url());
    println!("demo api key: {}", demo::DEMO_API_KEY);
    println!("listening on {}", listener.local_addr()?);
    serve(
        gateway,
        listener,
        ServeOptions::default(),
        shutdown_signal(),
    )
    .await?;
    emulator.shutdown().await;
    Ok(())
}

#[cfg(not(feature = "emulator"))]
async fn run_emulator(_cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    Err("this build has no emulator (cargo feature `emulator`)".into())
}

fn check_config(file: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(file)?;
    config.gateway(|name| std::env::var(name).ok())?;
    let gaps = scope_gaps(&config);
    for gap in &gaps {
        println!(
            "warning: callers.{} may call {}, which needs scope `{}`; profile `{}` does not ask for it",
            gap.caller, gap.rpc, gap.scope, gap.profile
        );
    }
    println!(
        "config ok: {} profiles, {} callers",
        config.profiles.len(),
        config.callers.len()
    );
    Ok(())
}

/// Logs to standard error, at the level in `KINDE_GATEWAY_LOG` (default `info`), and exports
/// spans when `telemetry` is on (whatever the log level).
fn init_logging(telemetry: Option<&Telemetry>) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let level = std::env::var("KINDE_GATEWAY_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(level);
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(telemetry.map(Telemetry::layer))
        .try_init();
}
