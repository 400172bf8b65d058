//! The run's results: one table of scenarios, the ratios against the targets, and JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::drive::Measurement;
use crate::limits::OpenFiles;

/// Gateway p50 added over `direct` at concurrency 1, in microseconds (issue 9).
pub(crate) const TARGET_GATEWAY_ADDED_P50_MICROS: f64 = 150.0;
/// Gateway p99 added over `direct` at concurrency 1, in microseconds (issue 9).
pub(crate) const TARGET_GATEWAY_ADDED_P99_MICROS: f64 = 1_000.0;
/// Gateway throughput over `direct` at concurrency 64 (issue 9).
pub(crate) const TARGET_GATEWAY_THROUGHPUT_RATIO: f64 = 0.60;
/// Gateway peak RSS with 1,000 concurrent streams, in bytes (issue 9).
pub(crate) const TARGET_STREAMS_PEAK_RSS: u64 = 50 * 1024 * 1024;

/// One scenario at one concurrency.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Row {
    /// `direct`, `gateway`, `peer`, `cold-start ours`, `cold-start peer`, `streams`.
    pub(crate) scenario: String,
    /// Concurrent callers (streams for `streams`).
    pub(crate) concurrency: usize,
    /// Calls made.
    pub(crate) calls: u64,
    /// Calls that succeeded.
    pub(crate) ok: u64,
    /// Successful calls a second.
    pub(crate) throughput_per_sec: f64,
    /// Latency percentiles of successful calls, in microseconds.
    pub(crate) p50_us: Option<f64>,
    /// 90th percentile.
    pub(crate) p90_us: Option<f64>,
    /// 99th percentile.
    pub(crate) p99_us: Option<f64>,
    /// Slowest.
    pub(crate) max_us: Option<f64>,
    /// Failed calls by status.
    pub(crate) errors: BTreeMap<String, u64>,
    /// Requests that reached the emulator's token endpoint during the scenario.
    pub(crate) token_requests: Option<u64>,
    /// Management API requests that reached the emulator during the scenario.
    pub(crate) api_requests: Option<u64>,
    /// The emulator's peak RSS during the scenario, in bytes.
    pub(crate) emulator_peak_rss_bytes: Option<u64>,
    /// The gateway's peak RSS during the scenario, in bytes.
    pub(crate) gateway_peak_rss_bytes: Option<u64>,
    /// Anything the numbers need to be read right.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

impl Row {
    /// A row from a measurement; the counters and RSS are filled in by the caller.
    pub(crate) fn new(scenario: &str, concurrency: usize, measured: &Measurement) -> Self {
        Self {
            scenario: scenario.to_owned(),
            concurrency,
            calls: measured.calls(),
            ok: measured.ok,
            throughput_per_sec: measured.throughput(),
            p50_us: measured.micros_at(0.50),
            p90_us: measured.micros_at(0.90),
            p99_us: measured.micros_at(0.99),
            max_us: measured.max_micros(),
            errors: measured.errors.clone(),
            token_requests: None,
            api_requests: None,
            emulator_peak_rss_bytes: None,
            gateway_peak_rss_bytes: None,
            note: None,
        }
    }
}

/// A comparison against a target of the issue.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Ratio {
    /// What is compared.
    pub(crate) name: String,
    /// The value, if both sides were measured.
    pub(crate) value: Option<f64>,
    /// The target, in words.
    pub(crate) target: String,
    /// Whether the target is met; `None` when there is no target or no value.
    pub(crate) met: Option<bool>,
}

/// Where and how the run was made.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Machine {
    /// Logical CPUs.
    pub(crate) cores: usize,
    /// `MemTotal` in bytes.
    pub(crate) memory_bytes: Option<u64>,
    /// `/proc/loadavg` when the run started: other work on the machine.
    pub(crate) load_average_at_start: Option<String>,
    /// Whether this is a release build of the load tool.
    pub(crate) release_build: bool,
    /// The open-file limit.
    pub(crate) open_files: OpenFiles,
}

/// Everything a run reports.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Report {
    /// The machine.
    pub(crate) machine: Machine,
    /// The settings of the run.
    pub(crate) settings: BTreeMap<String, String>,
    /// Comparisons, first.
    pub(crate) ratios: Vec<Ratio>,
    /// Every scenario.
    pub(crate) rows: Vec<Row>,
}

impl Report {
    /// The ratios and the scenario table as text.
    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        let machine = &self.machine;
        let _ = writeln!(
            out,
            "machine: {} cores, {} memory, load average at start {}, {} build",
            machine.cores,
            machine.memory_bytes.map_or("?".to_owned(), megabytes),
            machine.load_average_at_start.as_deref().unwrap_or("?"),
            if machine.release_build {
                "release"
            } else {
                "DEBUG (figures not comparable)"
            },
        );

        let _ = writeln!(
            out,
            "\n{:<44} {:>12}  {:<34} met",
            "ratio", "value", "target"
        );
        for ratio in &self.ratios {
            let met = match ratio.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            };
            let _ = writeln!(
                out,
                "{:<44} {:>12}  {:<34} {met}",
                ratio.name,
                ratio.value.map_or("-".to_owned(), |v| format!("{v:.3}")),
                ratio.target,
            );
        }

        let _ = writeln!(
            out,
            "\n{:<16} {:>5} {:>8} {:>8} {:>10} {:>9} {:>9} {:>9} {:>10} {:>7} {:>8} {:>8}  errors",
            "scenario",
            "conc",
            "calls",
            "ok",
            "ok/s",
            "p50 µs",
            "p90 µs",
            "p99 µs",
            "max µs",
            "tokens",
            "emu MB",
            "gw MB",
        );
        for row in &self.rows {
            let errors = if row.errors.is_empty() {
                "0".to_owned()
            } else {
                row.errors
                    .iter()
                    .map(|(label, count)| format!("{label}: {count}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                out,
                "{:<16} {:>5} {:>8} {:>8} {:>10.0} {:>9} {:>9} {:>9} {:>10} {:>7} {:>8} {:>8}  {errors}",
                row.scenario,
                row.concurrency,
                row.calls,
                row.ok,
                row.throughput_per_sec,
                micros(row.p50_us),
                micros(row.p90_us),
                micros(row.p99_us),
                micros(row.max_us),
                row.token_requests.map_or("-".to_owned(), |n| n.to_string()),
                row.emulator_peak_rss_bytes
                    .map_or("-".to_owned(), megabytes_plain),
                row.gateway_peak_rss_bytes
                    .map_or("-".to_owned(), megabytes_plain),
            );
            if let Some(note) = &row.note {
                let _ = writeln!(out, "{:<16} note: {note}", "");
            }
        }
        out
    }
}

fn micros(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.0}"))
}

fn megabytes(bytes: u64) -> String {
    format!("{} MB", megabytes_plain(bytes))
}

fn megabytes_plain(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

/// The comparisons from the rows that were measured.
pub(crate) fn ratios(rows: &[Row], concurrencies: &[usize]) -> Vec<Ratio> {
    let find = |scenario: &str, concurrency: usize| {
        rows.iter()
            .find(|row| row.scenario == scenario && row.concurrency == concurrency)
    };
    let mut ratios = Vec::new();

    for &concurrency in concurrencies {
        let direct = find("direct", concurrency);
        let gateway = find("gateway", concurrency);
        let peer = find("peer", concurrency);

        let throughput = both(gateway, direct, |g, d| {
            g.throughput_per_sec / d.throughput_per_sec
        });
        let target_throughput = concurrency >= 64;
        ratios.push(Ratio {
            name: format!("gateway/direct throughput @{concurrency}"),
            value: throughput,
            target: if target_throughput {
                format!(">= {TARGET_GATEWAY_THROUGHPUT_RATIO} (at 64)")
            } else {
                "-".to_owned()
            },
            met: throughput
                .filter(|_| target_throughput)
                .map(|v| v >= TARGET_GATEWAY_THROUGHPUT_RATIO),
        });
        let added_p50 = both(gateway, direct, |g, d| Some(g.p50_us? - d.p50_us?)).flatten();
        let added_p99 = both(gateway, direct, |g, d| Some(g.p99_us? - d.p99_us?)).flatten();
        let at_one = concurrency == 1;
        ratios.push(Ratio {
            name: format!("gateway - direct p50 µs @{concurrency}"),
            value: added_p50,
            target: if at_one {
                format!("< {TARGET_GATEWAY_ADDED_P50_MICROS} µs (at 1)")
            } else {
                "-".to_owned()
            },
            met: added_p50
                .filter(|_| at_one)
                .map(|v| v < TARGET_GATEWAY_ADDED_P50_MICROS),
        });
        ratios.push(Ratio {
            name: format!("gateway - direct p99 µs @{concurrency}"),
            value: added_p99,
            target: if at_one {
                format!("< {TARGET_GATEWAY_ADDED_P99_MICROS} µs (at 1)")
            } else {
                "-".to_owned()
            },
            met: added_p99
                .filter(|_| at_one)
                .map(|v| v < TARGET_GATEWAY_ADDED_P99_MICROS),
        });

        let ours_throughput = both(direct, peer, |o, p| {
            o.throughput_per_sec / p.throughput_per_sec
        });
        ratios.push(Ratio {
            name: format!("ours/peer throughput @{concurrency}"),
            value: ours_throughput,
            target: ">= 1 (at least as fast)".to_owned(),
            met: ours_throughput.map(|v| v >= 1.0),
        });
        let ours_p50 = both(direct, peer, |o, p| Some(o.p50_us? / p.p50_us?)).flatten();
        ratios.push(Ratio {
            name: format!("ours/peer p50 @{concurrency}"),
            value: ours_p50,
            target: "<= 1".to_owned(),
            met: ours_p50.map(|v| v <= 1.0),
        });
    }

    let ours_tokens = rows
        .iter()
        .find(|row| row.scenario == "cold-start ours")
        .and_then(|row| row.token_requests);
    let peer_tokens = rows
        .iter()
        .find(|row| row.scenario == "cold-start peer")
        .and_then(|row| row.token_requests);
    if let Some(ours) = ours_tokens {
        ratios.push(Ratio {
            name: "cold-start token requests, ours".to_owned(),
            value: Some(ours as f64),
            target: "1".to_owned(),
            met: Some(ours == 1),
        });
    }
    if let Some(peer) = peer_tokens {
        ratios.push(Ratio {
            name: "cold-start token requests, peer".to_owned(),
            value: Some(peer as f64),
            target: "- (thousands expected)".to_owned(),
            met: None,
        });
    }
    if let (Some(ours), Some(peer)) = (ours_tokens, peer_tokens) {
        ratios.push(Ratio {
            name: "cold-start token requests ours/peer".to_owned(),
            value: Some(ours as f64 / peer.max(1) as f64),
            target: "-".to_owned(),
            met: None,
        });
    }

    if let Some(streams) = rows.iter().find(|row| row.scenario == "streams") {
        let peak = streams.gateway_peak_rss_bytes;
        ratios.push(Ratio {
            name: format!("gateway peak RSS MB, {} streams", streams.concurrency),
            value: peak.map(|bytes| bytes as f64 / (1024.0 * 1024.0)),
            target: "< 50 MB (at 1,000)".to_owned(),
            met: peak
                .filter(|_| streams.concurrency >= 1_000)
                .map(|bytes| bytes < TARGET_STREAMS_PEAK_RSS),
        });
    }
    ratios
}

fn both<T>(a: Option<&Row>, b: Option<&Row>, f: impl Fn(&Row, &Row) -> T) -> Option<T> {
    Some(f(a?, b?))
}
