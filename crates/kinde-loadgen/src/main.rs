//! `kinde-loadgen`: the kinde-management client, the gateway and a reqwest-middleware baseline,
//! side by side against one kinde-emulator, on loopback.
//!
//! It starts `kinde-emulator` and `kinde-loadgen-gateway` (the kinde-gateway library with
//! limits that do not bind; see that binary's docs) as child processes on free loopback ports,
//! runs each scenario for a bounded time and number of requests, and prints the ratios the
//! project's targets are about, then one row per scenario: throughput, p50/p90/p99/max latency,
//! errors by status, token requests that reached the emulator, and each child's peak RSS.
//! `--json FILE` writes the same as JSON. It stops by itself and kills its children.
//!
//! Build everything it runs with one command, then run it (see BENCHMARKS.md):
//!
//! ```text
//! cargo build --release -p kinde-loadgen -p kinde-emulator
//! target/release/kinde-loadgen --json target/loadgen.json
//! ```

mod children;
mod drive;
mod gateway;
mod limits;
mod ours;
mod peer;
mod report;
mod scenarios;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::drive::Bound;
use crate::report::{Machine, Report};
use crate::scenarios::Stage;

/// Load the kinde-management client, the gateway and a reqwest-middleware baseline side by side
/// against a kinde-emulator on loopback.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Scenarios to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "direct,gateway,peer,cold-start,streams"
    )]
    scenarios: Vec<Scenario>,
    /// Concurrent callers for `direct`, `gateway` and `peer`; each level is one run of each.
    #[arg(long, value_delimiter = ',', default_value = "1,64")]
    concurrency: Vec<usize>,
    /// Seconds each of `direct`, `gateway` and `peer` runs at each concurrency.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// At most this many calls per scenario and concurrency (whichever bound comes first).
    #[arg(long, default_value_t = 1_000_000)]
    requests: u64,
    /// First calls at once in `cold-start`.
    #[arg(long, default_value_t = 10_000)]
    cold_start: usize,
    /// Milliseconds the emulator's token endpoint waits before it answers in `cold-start`, as a
    /// real Kinde's does over the internet (TLS handshake, signing). On loopback it answers in
    /// under a millisecond, so without it only the calls started in that moment miss a cache.
    #[arg(long, default_value_t = 100)]
    cold_start_token_latency_ms: u64,
    /// Concurrent server streams in `streams`.
    #[arg(long, default_value_t = 1_000)]
    streams: usize,
    /// Milliseconds the emulator waits before each page in `streams`, so streams overlap.
    #[arg(long, default_value_t = 50)]
    stream_page_latency_ms: u64,
    /// Users created before the run: `GetUsers` answers ten a page; a stream walks them all.
    #[arg(long, default_value_t = 10)]
    users: usize,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The `kinde-emulator` binary (default: next to this executable).
    #[arg(long)]
    emulator_bin: Option<PathBuf>,
    /// The `kinde-loadgen-gateway` binary (default: next to this executable).
    #[arg(long)]
    gateway_bin: Option<PathBuf>,
    /// Write the gateway's audit records to a temporary file, as a deployment does (`file`), or
    /// not at all (`off`).
    #[arg(long, value_enum, default_value = "file")]
    audit: Audit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Direct,
    Gateway,
    Peer,
    ColdStart,
    Streams,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Audit {
    File,
    Off,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(problem) = check(&args) {
        eprintln!("kinde-loadgen: {problem}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kinde-loadgen: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        tokio::select! {
            result = run(&args) => result,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
        }
    });
    // Children are killed on drop, inside `run`; the runtime must not wait for idle tasks.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("kinde-loadgen: {problem}");
            ExitCode::FAILURE
        }
    }
}

fn check(args: &Args) -> Result<(), String> {
    if !(args.duration.is_finite() && args.duration > 0.0 && args.duration <= 3_600.0) {
        return Err("--duration must be between 0 and 3600 seconds".to_owned());
    }
    if args.concurrency.is_empty() || args.concurrency.iter().any(|&c| c == 0 || c > 10_000) {
        return Err("--concurrency must be between 1 and 10000".to_owned());
    }
    if args.requests == 0 {
        return Err("--requests must be at least 1".to_owned());
    }
    if args.cold_start == 0 || args.cold_start > 15_000 {
        return Err("--cold-start must be between 1 and 15000 (open files)".to_owned());
    }
    if args.cold_start_token_latency_ms > 10_000 {
        return Err("--cold-start-token-latency-ms must be at most 10000".to_owned());
    }
    if args.streams == 0 || args.streams > 5_000 {
        return Err("--streams must be between 1 and 5000".to_owned());
    }
    if args.users == 0 || args.users > 1_000 {
        return Err("--users must be between 1 and 1000".to_owned());
    }
    if args.stream_page_latency_ms > 10_000 {
        return Err("--stream-page-latency-ms must be at most 10000".to_owned());
    }
    Ok(())
}

async fn run(args: &Args) -> Result<(), String> {
    let open_files = limits::raise_open_files();
    match &open_files.problem {
        None => eprintln!("open-file limit raised to {}", open_files.soft),
        Some(problem) => eprintln!(
            "warning: cannot raise the open-file limit (now {}): {problem}",
            open_files.soft
        ),
    }
    let cold_start = if args.scenarios.contains(&Scenario::ColdStart) {
        args.cold_start
    } else {
        0
    };
    let needed = limits::open_files_needed(cold_start, &args.concurrency);
    if open_files.soft < needed {
        eprintln!(
            "warning: the open-file limit {} is below the {needed} this run needs (hard limit {}); \
             calls may fail with `transport` errors (raise it with `ulimit -Hn` as root, or \
             lower --cold-start)",
            open_files.soft, open_files.hard
        );
    }
    let machine = Machine {
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_bytes: mem_total(),
        load_average_at_start: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .map(|s| s.trim().to_owned()),
        release_build: !cfg!(debug_assertions),
        open_files,
    };

    let emulator_bin = children::locate(
        args.emulator_bin.as_deref(),
        "kinde-emulator",
        "kinde-emulator",
    )?;
    let gateway_bin = children::locate(
        args.gateway_bin.as_deref(),
        "kinde-loadgen-gateway",
        "kinde-loadgen",
    )?;
    let audit_file =
        std::env::temp_dir().join(format!("kinde-loadgen-audit-{}.jsonl", std::process::id()));
    let audit_arg = match args.audit {
        Audit::File => audit_file.clone(),
        Audit::Off => PathBuf::from("off"),
    };

    let emulator = children::start_emulator(&emulator_bin).await?;
    eprintln!(
        "emulator {} (pid {})",
        emulator.base_url,
        emulator.process.pid()
    );
    let gateway = children::start_gateway(&gateway_bin, &emulator.base_url, &audit_arg).await?;
    eprintln!("gateway {} (pid {})", gateway.url, gateway.process.pid());
    let mut stage = Stage::new(emulator, gateway)?;

    let result = scenarios(args, &stage).await;
    let alive = stage.emulator.process.is_running() && stage.gateway.process.is_running();
    let gateway_log = stage.gateway.process.stderr_tail();
    let emulator_log = stage.emulator.process.stderr_tail();
    stage.gateway.process.stop().await;
    stage.emulator.process.stop().await;
    let _ = std::fs::remove_file(&audit_file);

    let rows = match result {
        Ok(rows) => rows,
        Err(problem) => {
            return Err(format!(
                "{problem}\n--- gateway stderr ---\n{gateway_log}\n--- emulator stderr ---\n{emulator_log}"
            ));
        }
    };
    if !alive {
        return Err(format!(
            "a child stopped during the run\n--- gateway stderr ---\n{gateway_log}\n--- emulator stderr ---\n{emulator_log}"
        ));
    }

    let report = Report {
        machine,
        settings: settings(args),
        ratios: report::ratios(&rows, &args.concurrency),
        rows,
    };
    print!("{}", report.to_text());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| format!("json: {e}"))?;
        std::fs::write(path, json + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

async fn scenarios(args: &Args, stage: &Stage) -> Result<Vec<report::Row>, String> {
    let wants = |scenario| args.scenarios.contains(&scenario);
    let seeding = ours::client(&stage.emulator)?;
    ours::seed_users(&seeding, args.users).await?;
    drop(seeding);

    let mut rows = Vec::new();
    for &callers in &args.concurrency {
        let bound = Bound {
            callers,
            duration: Duration::from_secs_f64(args.duration),
            requests: args.requests,
        };
        if wants(Scenario::Direct) {
            eprintln!("direct @{callers}");
            rows.push(stage.direct(bound).await?);
        }
        if wants(Scenario::Gateway) {
            eprintln!("gateway @{callers}");
            rows.push(stage.gateway(bound).await?);
        }
        if wants(Scenario::Peer) {
            eprintln!("peer @{callers}");
            rows.push(stage.peer(bound).await?);
        }
    }
    if wants(Scenario::ColdStart) {
        eprintln!("cold-start x{}", args.cold_start);
        let token_latency = Duration::from_millis(args.cold_start_token_latency_ms);
        rows.extend(stage.cold_start(args.cold_start, token_latency).await?);
    }
    if wants(Scenario::Streams) {
        eprintln!("streams x{}", args.streams);
        let latency = Duration::from_millis(args.stream_page_latency_ms);
        rows.push(stage.streams(args.streams, args.users, latency).await?);
    }
    Ok(rows)
}

fn settings(args: &Args) -> BTreeMap<String, String> {
    let scenarios = args
        .scenarios
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(",");
    let concurrency = args
        .concurrency
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",");
    BTreeMap::from([
        ("scenarios".to_owned(), scenarios),
        ("concurrency".to_owned(), concurrency),
        ("duration_secs".to_owned(), args.duration.to_string()),
        ("max_requests".to_owned(), args.requests.to_string()),
        ("cold_start".to_owned(), args.cold_start.to_string()),
        (
            "cold_start_token_latency_ms".to_owned(),
            args.cold_start_token_latency_ms.to_string(),
        ),
        ("streams".to_owned(), args.streams.to_string()),
        (
            "stream_page_latency_ms".to_owned(),
            args.stream_page_latency_ms.to_string(),
        ),
        ("users".to_owned(), args.users.to_string()),
        ("audit".to_owned(), format!("{:?}", args.audit)),
        ("call".to_owned(), "GetUsers, page_size 10".to_owned()),
    ])
}

fn mem_total() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
