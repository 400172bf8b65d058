//! `kinde-emulator`: serve a local Kinde until interrupted.
//!
//! Prints, first and one per line, `base_url: ...`, `client_id: ...` and `client_secret: ...`
//! (the fixed demo credentials, which work only on loopback).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kinde_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};

/// A faithful local Kinde for tests, demos and benchmarks.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The address to listen on; must be loopback.
    #[arg(long, default_value = "127.0.0.1:8799")]
    listen: SocketAddr,
    /// The lifetime of issued tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: u64,
    /// The largest page_size accepted.
    #[arg(long, default_value_t = kinde_emulator::DEFAULT_PAGE_SIZE_LIMIT)]
    page_size_limit: u32,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .init();

    let started = Emulator::builder()
        .listen(args.listen)
        .token_lifetime(Duration::from_secs(args.token_lifetime))
        .page_size_limit(args.page_size_limit)
        .start()
        .await;
    let emulator = match started {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("kinde-emulator: {error}");
            return ExitCode::FAILURE;
        }
    };

    println!("base_url: {}", emulator.base_url());
    println!("client_id: {DEMO_CLIENT_ID}");
    println!("client_secret: {DEMO_CLIENT_SECRET}");
    tracing::info!(base_url = emulator.base_url(), "kinde emulator listening");

    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}
