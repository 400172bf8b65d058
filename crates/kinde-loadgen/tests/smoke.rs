//! The load tool in a tiny mode: every scenario, a few hundred requests, a small cold start.
//!
//! It needs the `kinde-emulator` binary next to `kinde-loadgen` (the test script's
//! `cargo nextest run --workspace` builds it; alone: `cargo build -p kinde-emulator`). Counts and
//! outcomes are asserted; durations and speeds are not.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const LOADGEN: &str = env!("CARGO_BIN_EXE_kinde-loadgen");

/// Far above what the tiny run needs even on a loaded machine; only a hang reaches it.
const RUN_BOUND: Duration = Duration::from_secs(180);

fn emulator_binary() -> PathBuf {
    let path = Path::new(LOADGEN).with_file_name("kinde-emulator");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p kinde-emulator` (the test script's \
         `cargo nextest run --workspace` does)",
        path.display()
    );
    path
}

/// Runs the tool with `args`, killing it if it outlives [`RUN_BOUND`].
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(LOADGEN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kinde-loadgen starts");
    let started = Instant::now();
    while child.try_wait().expect("waitable").is_none() {
        if started.elapsed() > RUN_BOUND {
            let _ = child.kill();
            panic!("kinde-loadgen did not stop within {RUN_BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn row<'a>(report: &'a Value, scenario: &str, concurrency: u64) -> &'a Value {
    report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| row["scenario"] == scenario && row["concurrency"] == concurrency)
        .unwrap_or_else(|| panic!("no row {scenario} @{concurrency} in {report:#}"))
}

#[test]
fn every_scenario_runs_and_counts_what_reached_the_emulator() {
    let json =
        std::env::temp_dir().join(format!("kinde-loadgen-smoke-{}.json", std::process::id()));
    let emulator = emulator_binary();
    let output = run(&[
        "--emulator-bin",
        emulator.to_str().expect("utf-8 path"),
        "--concurrency",
        "1,4",
        "--duration",
        "0.5",
        "--requests",
        "100",
        "--cold-start",
        "200",
        "--streams",
        "20",
        "--stream-page-latency-ms",
        "5",
        "--json",
        json.to_str().expect("utf-8 path"),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    // The tool says what became of its open-file limit, whichever way it went.
    assert!(
        stderr.contains("open-file limit raised to")
            || stderr.contains("cannot raise the open-file limit"),
        "{stderr}"
    );

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report")).unwrap();
    let _ = std::fs::remove_file(&json);

    // Every measured call succeeded, and each bounded scenario stopped at its request budget.
    for scenario in ["direct", "gateway", "peer"] {
        for concurrency in [1, 4] {
            let row = row(&report, scenario, concurrency);
            assert_eq!(row["errors"], serde_json::json!({}), "{row:#}");
            assert_eq!(row["ok"], row["calls"], "{row:#}");
            let calls = row["calls"].as_u64().unwrap();
            assert!((1..=100).contains(&calls), "{row:#}");
            // Warm callers reuse their token: nothing reaches the token endpoint.
            assert_eq!(row["token_requests"], 0, "{row:#}");
            assert!(
                row["emulator_peak_rss_bytes"].as_u64().unwrap() > 0,
                "{row:#}"
            );
        }
        // Every call of the direct and peer clients reached the emulator's API once.
        if scenario != "gateway" {
            let row = row(&report, scenario, 4);
            assert_eq!(row["api_requests"], row["calls"], "{row:#}");
        }
    }

    // Single-flight: 200 first calls, one token; the JS SDK's way fetches many.
    let ours = row(&report, "cold-start ours", 200);
    assert_eq!(ours["ok"], 200, "{ours:#}");
    assert_eq!(ours["token_requests"], 1, "{ours:#}");
    let peer = row(&report, "cold-start peer", 200);
    assert_eq!(peer["ok"], 200, "{peer:#}");
    assert!(peer["token_requests"].as_u64().unwrap() > 1, "{peer:#}");

    // Every stream was open at once and delivered every user; the gateway's RSS was read.
    let streams = row(&report, "streams", 20);
    assert_eq!(streams["ok"], 20, "{streams:#}");
    assert_eq!(streams["errors"], serde_json::json!({}), "{streams:#}");
    assert!(
        streams["gateway_peak_rss_bytes"].as_u64().unwrap() > 0,
        "{streams:#}"
    );

    let ratios = report["ratios"].as_array().expect("ratios");
    let single_flight = ratios
        .iter()
        .find(|ratio| ratio["name"] == "cold-start token requests, ours")
        .expect("the cold-start ratio");
    assert_eq!(single_flight["met"], true);
    assert!(
        ratios
            .iter()
            .any(|ratio| ratio["name"] == "gateway/direct throughput @4")
    );

    // The printed table has the same scenarios, ratios first.
    let ratio_at = stdout.find("ratio").expect("a ratio table");
    let table_at = stdout.find("scenario").expect("a scenario table");
    assert!(ratio_at < table_at, "{stdout}");
    for scenario in [
        "direct",
        "gateway",
        "peer",
        "cold-start ours",
        "cold-start peer",
        "streams",
    ] {
        assert!(stdout.contains(scenario), "{scenario} missing:\n{stdout}");
    }
}

#[test]
fn bad_settings_are_refused_before_anything_starts() {
    let output = run(&["--duration", "0"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--duration must be"), "{stderr}");

    let output = run(&["--concurrency", "0"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_missing_child_binary_is_named() {
    let output = run(&["--emulator-bin", "/nonexistent/kinde-emulator"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/kinde-emulator is not a file"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
