//! `kinde-emulator`: serve a local Kinde until interrupted.
//!
//! Prints, first and one per line, `base_url: ...`, `client_id: ...` and `client_secret: ...`:
//! the fixed demo credentials, which work only on loopback. When a config file turns the demo
//! application off, it prints the first configured application's client id, and its secret as
//! `[redacted]`: a real secret is never printed. With `--tls` a fourth line,
//! `ca_certificate: <path>`, names the CA certificate to trust.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kinde_emulator::{Config, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};

/// A faithful local Kinde for tests, demos and benchmarks.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The address to listen on; must be loopback while the demo application is enabled.
    #[arg(long, default_value = "127.0.0.1:8799")]
    listen: SocketAddr,
    /// A TOML config file: settings, applications and faults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The lifetime of issued tokens, in seconds (overrides the config file).
    #[arg(long)]
    token_lifetime: Option<u64>,
    /// The largest page_size accepted (overrides the config file).
    #[arg(long)]
    page_size_limit: Option<u32>,
    /// Serve HTTPS with a certificate made at start; the CA to trust is written to a file and
    /// its path printed as a fourth line, `ca_certificate: <path>`.
    #[arg(long)]
    tls: bool,
    /// Where to write the CA certificate with --tls (default: the temporary directory).
    #[arg(long, requires = "tls")]
    ca_certificate: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .init();

    let config = match args.config.as_deref().map(Config::load).transpose() {
        Ok(config) => config.unwrap_or_default(),
        Err(error) => {
            eprintln!("kinde-emulator: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut builder = Emulator::builder().listen(args.listen).config(config);
    if let Some(seconds) = args.token_lifetime {
        builder = builder.token_lifetime(Duration::from_secs(seconds));
    }
    if let Some(limit) = args.page_size_limit {
        builder = builder.page_size_limit(limit);
    }
    builder = builder.tls(args.tls);
    if let Some(path) = args.ca_certificate {
        builder = builder.ca_certificate_path(path);
    }
    let first_client_id = builder
        .applications()
        .first()
        .map(|application| application.client_id().to_owned());

    let emulator = match builder.start().await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("kinde-emulator: {error}");
            return ExitCode::FAILURE;
        }
    };

    println!("base_url: {}", emulator.base_url());
    match first_client_id.as_deref() {
        Some(DEMO_CLIENT_ID) => {
            println!("client_id: {DEMO_CLIENT_ID}");
            println!("client_secret: {DEMO_CLIENT_SECRET}");
        }
        Some(client_id) => {
            println!("client_id: {client_id}");
            println!("client_secret: [redacted]");
        }
        None => {
            println!("client_id: (none configured)");
            println!("client_secret: (none configured)");
        }
    }
    if let Some(path) = emulator.ca_certificate_path() {
        println!("ca_certificate: {}", path.display());
    }
    tracing::info!(base_url = emulator.base_url(), "kinde emulator listening");

    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}
