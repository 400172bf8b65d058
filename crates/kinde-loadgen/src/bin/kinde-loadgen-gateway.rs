//! `kinde-loadgen-gateway`: the kinde-gateway library served for the load tool.
//!
//! The same `Gateway` and `serve` as the `kinde-gateway` binary, with its `--emulator` demo
//! caller and profile, pointed at an emulator that runs in another process, and with an
//! upstream whose rate and concurrency limits cannot bind on loopback. The `kinde-gateway`
//! binary takes its upstream limits from the stack's defaults (ten requests a second, ten in
//! flight, as Kinde wants) and has no setting to lift them, so under load it would measure its
//! limiter. Loopback only; it stops on Ctrl-C, SIGTERM or when its standard input closes.
//!
//! Prints `listening on ADDRESS` once it accepts connections.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kinde_gateway::AuditLog;
use kinde_gateway::server::{ServeOptions, serve, shutdown_signal};

/// The kinde-gateway library for the load tool: demo caller, unbound upstream limits.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The emulator's base URL (`http://127.0.0.1:PORT`).
    #[arg(long)]
    emulator_url: String,
    /// The address to listen on; loopback only.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where audit records go: a file path, `stdout`, or `off`.
    #[arg(long, default_value = "off")]
    audit_log: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let level = std::env::var("KINDE_GATEWAY_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::WARN);
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .try_init();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if !args.listen.ip().is_loopback() {
        return Err(format!("listens only on loopback, not {}", args.listen).into());
    }
    let audit = match args.audit_log.as_str() {
        "off" => AuditLog::off(),
        "stdout" => AuditLog::stdout(),
        path => AuditLog::file(&PathBuf::from(path))?,
    };
    let upstream = kinde_loadgen::unbound_upstream(&args.emulator_url);
    let gateway = kinde_gateway::demo::gateway_with(&args.emulator_url, upstream, audit)?;

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let stop = async {
        tokio::select! {
            () = shutdown_signal() => {}
            () = stdin_closed() => {}
        }
    };
    serve(gateway, listener, ServeOptions::default(), stop).await?;
    Ok(())
}

/// Completes when standard input reaches its end: the parent went away.
async fn stdin_closed() {
    use tokio::io::AsyncReadExt as _;

    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 64];
    while let Ok(read) = stdin.read(&mut buffer).await {
        if read == 0 {
            break;
        }
    }
}
