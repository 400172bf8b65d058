//! The fault suite: a scripted run through the real `kinde-gateway` binary while a real emulator
//! on loopback injects faults, in real time, with a mix of reads, idempotent writes and creates.
//!
//! # The script
//!
//! | phase | the emulator injects |
//! | --- | --- |
//! | warm-up | nothing |
//! | mixed | 20% 5xx, 1% connections closed before processing, 1% closed after the change is applied, 200 ms spikes on 10% of requests, a 429 burst (`RateLimit-Reset: 1`) for 0.5 s of every 5 s |
//! | drops | creates only: every create closed after the change is applied until one has been, so a create whose outcome is unknown is certain to happen; then 25% closed before processing, 25% after |
//! | token outage | the token endpoint answers 503, longer than the cached token lives (the emulator issues 4 s tokens) |
//! | mixed again | as mixed; the token source recovers here |
//! | storm | 100% 5xx on the API, until health shows the profile `NOT_SERVING` (the breaker opened) |
//! | quiet | nothing: one breaker open period plus 1 s, then a window in which no call may fail |
//!
//! Calls are started at a fixed rate, under the gateway's default rate limit, each a read
//! (`GetUsers`), an idempotent write (`UpdateFeatureFlag`, a `PUT`) or a create
//! (`CreateOrganization`), chosen by a generator seeded with the printed seed; the emulator's
//! faults draw from the same seed. Set `KINDE_FAULT_SEED` to repeat a run, and
//! `KINDE_FAULT_SUITE=long` for the long mode (the issue's 10 s token outage, longer phases, more
//! calls); `BENCHMARKS.md` ("Fault suite") has its figures.
//!
//! # What is asserted
//!
//! - **No duplicate creates**: every create that returned OK exists exactly once in the
//!   emulator's state, every create that returned `UNKNOWN` (`OUTCOME_UNKNOWN`) at most once, and
//!   every create that failed otherwise not at all. At least one `UNKNOWN` create did reach Kinde
//!   (a connection closed after the change), so that path is exercised.
//! - **Clear statuses**: every failed call has a code and `ErrorInfo` reason from the error table
//!   (domain `kinde-gateway`), `RetryInfo` where the table promises it, and its `x-request-id`
//!   back in the metadata; reads and idempotent writes never get `UNKNOWN`; the audit log has
//!   one line per call with the same status and request id.
//! - **Retry budget**: no call made more than the default maximum of attempts, and at every
//!   retry seen at the emulator, the retries of the previous 8 s are within what the budget
//!   allows: `ratio x calls started in the previous 14 s + min_per_second x window` (tower-m2m's
//!   defaults: 0.2, 1/s, 10 s). Why these windows: the budget lets each call deposit one unit and
//!   each retry withdraw `1 / ratio`, against a reserve of `min_per_second x window` retries,
//!   over a history of 10 to 11 s. A retry reaches the emulator after the budget granted it, by
//!   its backoff or the server's hint (at most 1 s here) plus any wait for a rate-limit permit
//!   (none: the call rate is chosen so that calls plus the most retries the budget allows stay
//!   under the gateway's default rate limit) and the 429 pause (1 s), so within 2 s. Retries seen
//!   in 8 s were then granted within one 10 s history, funded by calls deposited at most 13 s
//!   before; one more second covers the client's start of a call preceding the gateway's
//!   deposit.
//! - **The breaker opened and recovered**: health of `profile/fault` went `NOT_SERVING`, calls
//!   were refused with `CIRCUIT_OPEN`, and health came back `SERVING`.
//! - **Token endpoint bound**: token requests at most `1 + run time / (lifetime / 2)` (a token
//!   is never refreshed before half its life) plus, per outage, the failed fetches its backoff
//!   allows (1 s doubling to 30 s, each delay at least half its ceiling).
//! - **Recovery**: zero failed calls among those started one breaker open period plus 1 s after
//!   the faults stop.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::process::{self, temp_path};
use common::{has_retry_info, pb, with_key};
use kinde_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};
use kinde_gateway::caller::ApiKeyHash;
use kinde_gateway::status::code_name;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

/// The suite's caller key: a throwaway value for a gateway on loopback.
const API_KEY: &str = "fault-suite-caller-key";
const SECRET_VARIABLE: &str = "KINDE_FAULT_SUITE_CLIENT_SECRET";
const PROFILE: &str = "fault";
const DEFAULT_SEED: u64 = 20_261_203;
/// How long the emulator's tokens live: short, so an outage outlasts the cached token.
const TOKEN_LIFETIME: Duration = Duration::from_secs(4);
const FLAGS: usize = 4;
/// Retries seen at the emulator in this window were granted within one budget history (see the
/// module docs).
const RETRY_WINDOW_MS: u64 = 8_000;
/// The calls whose deposits can fund the retries of one [`RETRY_WINDOW_MS`].
const DEPOSIT_WINDOW_MS: u64 = 14_000;

/// The reasons of the error table a call under these faults may meet.
const REASONS: &[&str] = &[
    "RATE_LIMITED",
    "RETRY_BUDGET_EXHAUSTED",
    "DEADLINE_EXCEEDED",
    "CIRCUIT_OPEN",
    "TOKEN_UNAVAILABLE",
    "KINDE_UNREACHABLE",
    "KINDE_UNAVAILABLE",
    "OUTCOME_UNKNOWN",
];

/// How long each phase lasts and how much traffic runs.
#[derive(Clone, Copy, Debug)]
struct Mode {
    name: &'static str,
    calls_per_second: f64,
    warmup: Duration,
    storm_max: Duration,
    mixed: Duration,
    drops: Duration,
    outage: Duration,
    mixed_again: Duration,
    verify: Duration,
}

impl Mode {
    fn from_env() -> Self {
        match std::env::var("KINDE_FAULT_SUITE").as_deref() {
            Ok("long") => Self {
                name: "long",
                calls_per_second: 6.0,
                warmup: Duration::from_secs(5),
                storm_max: Duration::from_secs(40),
                mixed: Duration::from_secs(60),
                drops: Duration::from_secs(10),
                outage: Duration::from_secs(10),
                mixed_again: Duration::from_secs(30),
                verify: Duration::from_secs(10),
            },
            _ => Self {
                name: "short",
                calls_per_second: 6.0,
                warmup: Duration::from_secs(2),
                storm_max: Duration::from_secs(30),
                mixed: Duration::from_secs(12),
                drops: Duration::from_secs(7),
                outage: Duration::from_secs(5),
                mixed_again: Duration::from_secs(6),
                verify: Duration::from_secs(3),
            },
        }
    }
}

const PHASES: [&str; 7] = [
    "warm-up",
    "mixed",
    "drops",
    "token outage",
    "mixed again",
    "storm",
    "quiet",
];

/// A small seeded generator (SplitMix64): the same seed gives the same calls.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..100`.
    fn percent(&mut self) -> u64 {
        self.next() % 100
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Read,
    IdempotentWrite,
    Create,
}

#[derive(Debug)]
enum Outcome {
    Ok,
    Failed {
        code: Code,
        reason: String,
        domain: String,
        echoed_id: Option<String>,
        retry_info: bool,
    },
}

#[derive(Debug)]
struct CallRecord {
    kind: Kind,
    phase: usize,
    /// Since the start of the run.
    started: Duration,
    finished: Duration,
    /// Milliseconds since the Unix epoch when the call started.
    started_unix_ms: u64,
    request_id: String,
    /// The organization name of a create.
    name: Option<String>,
    outcome: Outcome,
}

impl CallRecord {
    fn code(&self) -> Code {
        match &self.outcome {
            Outcome::Ok => Code::Ok,
            Outcome::Failed { code, .. } => *code,
        }
    }

    fn reason(&self) -> &str {
        match &self.outcome {
            Outcome::Ok => "",
            Outcome::Failed { reason, .. } => reason,
        }
    }
}

/// The gateway binary, started with a config file in front of the emulator.
struct GatewayProcess {
    child: Child,
    address: String,
    audit: PathBuf,
    logs: PathBuf,
    config: PathBuf,
}

impl GatewayProcess {
    async fn start(base_url: &str) -> Self {
        let config = temp_path("gateway.toml");
        let audit = temp_path("audit.jsonl");
        let logs = temp_path("gateway.log");
        let hash = ApiKeyHash::of_key(API_KEY).to_hex();
        std::fs::write(
            &config,
            format!(
                r#"
listen = "127.0.0.1:0"
audit_log = "{audit}"

[kinde]
base_url = "{base_url}"

[profiles.{PROFILE}]
client_id = "{DEMO_CLIENT_ID}"
client_secret_env = "{SECRET_VARIABLE}"
scopes = ["read:users", "create:organizations", "update:feature_flags"]

[callers.suite]
api_key_sha256 = ["{hash}"]
profile = "{PROFILE}"
allow = [
    "kinde.management.v1.UsersService/GetUsers",
    "kinde.management.v1.OrganizationsService/CreateOrganization",
    "kinde.management.v1.FeatureFlagsService/UpdateFeatureFlag",
]
"#,
                audit = audit.display(),
            ),
        )
        .unwrap();
        // Trace level, so the audit sweep searches everything the gateway could log.
        let mut child = process::command()
            .arg("--config")
            .arg(&config)
            .env(SECRET_VARIABLE, DEMO_CLIENT_SECRET)
            .env("KINDE_GATEWAY_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&logs).unwrap()))
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the gateway starts within a minute")
            .unwrap()
            .expect("a line");
        let address = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("not the listen line: {line}"))
            .to_owned();
        // Keep draining stdout so the gateway never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            address,
            audit,
            logs,
            config,
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// SIGTERM, then, once it has drained and exited, the [audit sweep](common::sweep) over
    /// its audit lines and trace-level logs, and the audit lines.
    async fn stop(mut self) -> Vec<Value> {
        process::terminate(&mut self.child).await;
        let audit = std::fs::read_to_string(&self.audit).unwrap();
        let logs = std::fs::read_to_string(&self.logs).unwrap_or_default();
        if verbose() {
            let debug = logs.lines().filter(|line| !line.contains(" TRACE "));
            println!("gateway logs:\n{}", debug.collect::<Vec<_>>().join("\n"));
        }
        common::sweep::sweep_process(&audit, &logs);
        for path in [&self.audit, &self.logs, &self.config] {
            let _ = std::fs::remove_file(path);
        }
        audit
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// `KINDE_FAULT_SUITE_VERBOSE` set: print the gateway's logs and every attempt and call.
fn verbose() -> bool {
    std::env::var_os("KINDE_FAULT_SUITE_VERBOSE").is_some()
}

fn unix_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The emulator's control API.
struct Control {
    http: reqwest::Client,
    base_url: String,
}

impl Control {
    async fn faults(&self, faults: Value) {
        let response = self
            .http
            .put(format!("{}/_emulator/faults", self.base_url))
            .body(faults.to_string())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }

    /// Waits (up to 20 s) until a create logged after the first `seen` requests had its
    /// connection closed after it was applied.
    async fn wait_for_a_create_closed_after(&self, seen: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = self.get("requests").await;
            let closed_after = log.as_array().unwrap().iter().skip(seen).any(|request| {
                request["operation_id"] == "createOrganization"
                    && request["connection_closed"] == true
            });
            if closed_after {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no create was closed after being applied within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn get(&self, what: &str) -> Value {
        self.http
            .get(format!("{}/_emulator/{what}", self.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// One call through the gateway; never panics, whatever the outcome.
#[allow(clippy::too_many_arguments, reason = "a test helper with plain inputs")]
async fn one_call(
    channel: Channel,
    seed: u64,
    n: usize,
    kind: Kind,
    flag: usize,
    phase: usize,
    run_start: Instant,
) -> CallRecord {
    let started = run_start.elapsed();
    let started_unix_ms = unix_ms();
    let request_id = format!("fs-{seed}-{n}");
    let mut name = None;
    let result = match kind {
        Kind::Read => {
            let mut client = pb::users_service_client::UsersServiceClient::new(channel);
            let request = pb::GetUsersRequest {
                page_size: Some(5),
                ..Default::default()
            };
            client
                .get_users(prepared(request, &request_id))
                .await
                .map(|r| r.into_parts().0)
        }
        Kind::IdempotentWrite => {
            let mut client =
                pb::feature_flags_service_client::FeatureFlagsServiceClient::new(channel);
            let request = pb::UpdateFeatureFlagRequest {
                feature_flag_key: flag_key(flag),
                name: format!("Fault suite flag {flag}"),
                description: format!("written by call {n}"),
                r#type: "str".to_owned(),
                allow_override_level: "env".to_owned(),
                default_value: format!("v{n}"),
            };
            client
                .update_feature_flag(prepared(request, &request_id))
                .await
                .map(|r| r.into_parts().0)
        }
        Kind::Create => {
            let mut client =
                pb::organizations_service_client::OrganizationsServiceClient::new(channel);
            let organization = format!("fs-{seed}-org-{n}");
            name = Some(organization.clone());
            let request = pb::CreateOrganizationRequest {
                name: organization,
                ..Default::default()
            };
            client
                .create_organization(prepared(request, &request_id))
                .await
                .map(|r| r.into_parts().0)
        }
    };
    let outcome = match result {
        Ok(_) => Outcome::Ok,
        Err(status) => {
            let info = status.get_error_details().error_info().cloned();
            Outcome::Failed {
                code: status.code(),
                reason: info.as_ref().map(|i| i.reason.clone()).unwrap_or_default(),
                domain: info.map(|i| i.domain).unwrap_or_default(),
                echoed_id: status
                    .metadata()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                retry_info: has_retry_info(&status),
            }
        }
    };
    CallRecord {
        kind,
        phase,
        started,
        finished: run_start.elapsed(),
        started_unix_ms,
        request_id,
        name,
        outcome,
    }
}

fn prepared<T>(message: T, request_id: &str) -> tonic::Request<T> {
    let mut request = with_key(message, API_KEY);
    request
        .metadata_mut()
        .insert("x-request-id", request_id.parse().unwrap());
    request.set_timeout(Duration::from_secs(20));
    request
}

fn flag_key(flag: usize) -> String {
    format!("fault_suite_flag_{flag}")
}

/// Health of the suite's profile, polled until told to stop: (time, status) at each change.
fn watch_health(
    channel: Channel,
    run_start: Instant,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(Duration, i32)>> {
    tokio::spawn(async move {
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        let mut changes: Vec<(Duration, i32)> = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            let request = tonic_health::pb::HealthCheckRequest {
                service: format!("profile/{PROFILE}"),
            };
            if let Ok(response) = health.check(request).await {
                let status = response.into_inner().status;
                if changes.last().is_none_or(|(_, last)| *last != status) {
                    changes.push((run_start.elapsed(), status));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        changes
    })
}

const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

/// The most failed token fetches an outage of `outage` can cost with tower-m2m's default
/// backoff: one, then one more per backoff delay that fits (each at least half its ceiling).
fn failed_fetches_bound(outage: Duration) -> u64 {
    use tower_m2m::token::{DEFAULT_BACKOFF_INITIAL, DEFAULT_BACKOFF_MAX};
    let mut failures = 1;
    let mut spent = Duration::ZERO;
    let mut ceiling = DEFAULT_BACKOFF_INITIAL;
    loop {
        spent += ceiling / 2;
        if spent > outage {
            return failures;
        }
        failures += 1;
        ceiling = (ceiling * 2).min(DEFAULT_BACKOFF_MAX);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_holds_up_under_faults() {
    let mode = Mode::from_env();
    // Calls plus the most retries the budget grants stay under the default rate limit, so no
    // attempt waits for a permit (the retry-budget check relies on it).
    let most_attempts_per_second = mode.calls_per_second
        * (1.0 + f64::from(tower_m2m::retry::DEFAULT_RETRY_RATIO))
        + f64::from(tower_m2m::retry::DEFAULT_MIN_RETRIES_PER_SECOND);
    let limit_per_second = f64::from(tower_m2m::ratelimit::DEFAULT_REQUESTS.get())
        / tower_m2m::ratelimit::DEFAULT_WINDOW.as_secs_f64();
    assert!(most_attempts_per_second < limit_per_second);
    let seed = std::env::var("KINDE_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    println!(
        "fault suite: {} mode, seed {seed} (set KINDE_FAULT_SEED={seed} to repeat)",
        mode.name
    );

    let emulator = Emulator::builder()
        .token_lifetime(TOKEN_LIFETIME)
        .start()
        .await
        .unwrap();
    let control = Control {
        http: reqwest::Client::new(),
        base_url: emulator.base_url().to_owned(),
    };
    let seeding = common::seeding_client(&emulator);
    for flag in 0..FLAGS {
        seeding
            .create_feature_flag(&kinde_api::models::CreateFeatureFlagRequest {
                name: format!("Fault suite flag {flag}"),
                key: flag_key(flag),
                r#type: kinde_api::models::CreateFeatureFlagRequestType::Str,
                default_value: "v0".to_owned(),
                description: None,
                allow_override_level: None,
            })
            .await
            .unwrap();
    }
    // Count only what the gateway sends from here on.
    let before = control.get("stats").await;
    let tokens_before = before["token_requests"].as_u64().unwrap();
    let api_before = before["api_requests"].as_u64().unwrap();
    let log_before = control.get("requests").await.as_array().unwrap().len();

    let gateway_started = Instant::now();
    let gateway = GatewayProcess::start(emulator.base_url()).await;
    let channel = gateway.channel().await;
    let run_start = Instant::now();
    let run_start_unix_ms = unix_ms();
    let stop_health = Arc::new(AtomicBool::new(false));
    let health = watch_health(channel.clone(), run_start, stop_health.clone());

    // Traffic: one call every 1 / rate seconds, each kind drawn from the seed.
    let phase = Arc::new(AtomicUsize::new(0));
    let stop_traffic = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (phase, stop, channel) = (phase.clone(), stop_traffic.clone(), channel.clone());
        tokio::spawn(async move {
            let mut rng = SplitMix(seed);
            let mut tick =
                tokio::time::interval(Duration::from_secs_f64(1.0 / mode.calls_per_second));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut calls = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                let kind = match rng.percent() {
                    0..50 => Kind::Read,
                    50..70 => Kind::IdempotentWrite,
                    _ => Kind::Create,
                };
                let flag = usize::try_from(rng.next() % FLAGS as u64).unwrap();
                let current = phase.load(Ordering::SeqCst);
                calls.push(tokio::spawn(one_call(
                    channel.clone(),
                    seed,
                    n,
                    kind,
                    flag,
                    current,
                    run_start,
                )));
                n += 1;
            }
            let mut records = Vec::new();
            for call in calls {
                records.push(call.await.unwrap());
            }
            records
        })
    };

    let mixed = |salt: u64| {
        json!({
            "seed": seed.wrapping_add(salt),
            "target": "api",
            "error_ratio": 0.2,
            "close_before_ratio": 0.01,
            "close_after_ratio": 0.01,
            "latency_spikes": {"ratio": 0.1, "min_ms": 200, "max_ms": 200},
            "rate_limited_bursts": {"period_ms": 5000, "burst_ms": 500},
            "rate_limit_reset_secs": 1,
        })
    };
    let mut phase_starts = vec![Duration::ZERO];
    let enter = |index: usize, phase_starts: &mut Vec<Duration>| {
        phase.store(index, Ordering::SeqCst);
        phase_starts.push(run_start.elapsed());
    };

    // Warm-up.
    tokio::time::sleep(mode.warmup).await;
    // Mixed.
    control.faults(mixed(1)).await;
    enter(1, &mut phase_starts);
    tokio::time::sleep(mode.mixed).await;
    // Drops on creates: every create closed after it is applied until one has been, so a
    // create whose outcome is unknown is certain; then a quarter closed before, a quarter after.
    let drops_started = Instant::now();
    let seen = control.get("requests").await.as_array().unwrap().len();
    control
        .faults(json!({
            "seed": seed.wrapping_add(2),
            "target": {"operation": "createOrganization"},
            "close_after_ratio": 1.0,
        }))
        .await;
    enter(2, &mut phase_starts);
    control.wait_for_a_create_closed_after(seen).await;
    control
        .faults(json!({
            "seed": seed.wrapping_add(2),
            "target": {"operation": "createOrganization"},
            "close_before_ratio": 0.25,
            "close_after_ratio": 0.25,
        }))
        .await;
    tokio::time::sleep(mode.drops.saturating_sub(drops_started.elapsed())).await;
    // Token outage.
    control
        .faults(
            json!({"seed": seed.wrapping_add(3), "target": "token", "token_outage": "unavailable"}),
        )
        .await;
    enter(3, &mut phase_starts);
    let outage_started = run_start.elapsed();
    tokio::time::sleep(mode.outage).await;
    // Mixed again.
    control.faults(mixed(4)).await;
    enter(4, &mut phase_starts);
    let outage_ended = run_start.elapsed();
    tokio::time::sleep(mode.mixed_again).await;
    // Storm: until the breaker opens (health NOT_SERVING), within a bound.
    control
        .faults(json!({"seed": seed.wrapping_add(5), "target": "api", "error_ratio": 1.0}))
        .await;
    enter(5, &mut phase_starts);
    let storm_started = Instant::now();
    let mut probe = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let mut storm_opened = false;
    while storm_started.elapsed() < mode.storm_max {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let status = probe
            .check(tonic_health::pb::HealthCheckRequest {
                service: format!("profile/{PROFILE}"),
            })
            .await
            .map(|r| r.into_inner().status);
        if status.is_ok_and(|s| s == NOT_SERVING) {
            storm_opened = true;
            break;
        }
    }
    // Quiet.
    control.faults(json!({})).await;
    enter(6, &mut phase_starts);
    let faults_stopped = run_start.elapsed();
    let open_duration = tower_m2m::breaker::DEFAULT_OPEN_DURATION;
    let clean_from = faults_stopped + open_duration + Duration::from_secs(1);
    tokio::time::sleep(open_duration + Duration::from_secs(1) + mode.verify).await;

    stop_traffic.store(true, Ordering::SeqCst);
    let calls = tokio::time::timeout(Duration::from_secs(60), traffic)
        .await
        .expect("every call ends")
        .unwrap();
    let run_time = run_start.elapsed();
    stop_health.store(true, Ordering::SeqCst);
    let health = health.await.unwrap();

    let stats = control.get("stats").await;
    let state = control.get("state").await;
    let log: Vec<Value> = control.get("requests").await.as_array().unwrap()[log_before..].to_vec();
    let audit = gateway.stop().await;
    let gateway_time = gateway_started.elapsed();
    emulator.shutdown().await;

    let token_requests = stats["token_requests"].as_u64().unwrap() - tokens_before;
    let api_requests = stats["api_requests"].as_u64().unwrap() - api_before;
    let report = Report {
        mode,
        seed,
        calls: &calls,
        log: &log,
        state: &state,
        audit: &audit,
        health: &health,
        phase_starts: &phase_starts,
        token_requests,
        api_requests,
        run_time,
        gateway_time,
        outage: (outage_started, outage_ended),
        faults_stopped,
        clean_from,
        storm_opened,
        run_start_unix_ms,
    };
    report.print();
    report.check();
}

/// Counts of the emulator's answers to API attempts.
#[derive(Debug, Default)]
struct EmulatorOutcomes {
    ok: usize,
    throttled: usize,
    server_errors: usize,
    closed_before: usize,
    closed_after: usize,
}

/// Everything the run produced, for the summary and the assertions.
struct Report<'a> {
    mode: Mode,
    seed: u64,
    calls: &'a [CallRecord],
    log: &'a [Value],
    state: &'a Value,
    audit: &'a [Value],
    health: &'a [(Duration, i32)],
    phase_starts: &'a [Duration],
    token_requests: u64,
    api_requests: u64,
    run_time: Duration,
    gateway_time: Duration,
    outage: (Duration, Duration),
    faults_stopped: Duration,
    clean_from: Duration,
    storm_opened: bool,
    run_start_unix_ms: u64,
}

impl Report<'_> {
    /// API attempts at the emulator by request id, with their timestamps.
    fn attempts(&self) -> BTreeMap<&str, Vec<u64>> {
        let mut attempts: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for request in self.log {
            let is_api = request["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/api/"));
            if let (true, Some(id)) = (is_api, request["headers"]["x-request-id"].as_str()) {
                attempts
                    .entry(id)
                    .or_default()
                    .push(request["timestamp_ms"].as_u64().unwrap());
            }
        }
        attempts
    }

    /// How many organizations of each name exist.
    fn organizations(&self) -> BTreeMap<&str, usize> {
        let mut names = BTreeMap::new();
        for organization in self.state["organizations"].as_array().unwrap() {
            *names
                .entry(organization["name"].as_str().unwrap_or_default())
                .or_default() += 1;
        }
        names
    }

    fn token_bound(&self) -> u64 {
        let half_life = TOKEN_LIFETIME.as_secs_f64() / 2.0;
        let issued = 1 + (self.gateway_time.as_secs_f64() / half_life).ceil() as u64;
        issued + failed_fetches_bound(self.outage.1 - self.outage.0)
    }

    fn print(&self) {
        if verbose() {
            self.print_log();
        }
        println!(
            "\n== fault suite ({} mode, seed {}) ==",
            self.mode.name, self.seed
        );
        println!(
            "{} calls in {:.1} s ({:.1}/s); {} API attempts and {} token requests at the emulator",
            self.calls.len(),
            self.run_time.as_secs_f64(),
            self.calls.len() as f64 / self.run_time.as_secs_f64(),
            self.api_requests,
            self.token_requests,
        );
        println!("\nphase          starts    calls    ok  failed  (code/reason: count)");
        for (index, name) in PHASES.iter().enumerate() {
            let in_phase: Vec<&CallRecord> =
                self.calls.iter().filter(|c| c.phase == index).collect();
            let ok = in_phase.iter().filter(|c| c.code() == Code::Ok).count();
            let mut failures: BTreeMap<String, usize> = BTreeMap::new();
            for call in in_phase.iter().filter(|c| c.code() != Code::Ok) {
                *failures
                    .entry(format!("{}/{}", code_name(call.code()), call.reason()))
                    .or_default() += 1;
            }
            let failures: Vec<String> = failures.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            println!(
                "{name:<13} {:>6.1}s {:>8} {:>5} {:>7}  {}",
                self.phase_starts
                    .get(index)
                    .copied()
                    .unwrap_or_default()
                    .as_secs_f64(),
                in_phase.len(),
                ok,
                in_phase.len() - ok,
                failures.join(", ")
            );
        }

        println!("\nkind              calls    ok  failed  max attempts");
        let attempts = self.attempts();
        for kind in [Kind::Read, Kind::IdempotentWrite, Kind::Create] {
            let of_kind: Vec<&CallRecord> = self.calls.iter().filter(|c| c.kind == kind).collect();
            let ok = of_kind.iter().filter(|c| c.code() == Code::Ok).count();
            let most = of_kind
                .iter()
                .map(|c| attempts.get(c.request_id.as_str()).map_or(0, Vec::len))
                .max()
                .unwrap_or(0);
            println!(
                "{:<16} {:>6} {:>5} {:>7} {:>13}",
                format!("{kind:?}"),
                of_kind.len(),
                ok,
                of_kind.len() - ok,
                most
            );
        }

        let outcomes = self.emulator_outcomes();
        println!(
            "\nat the emulator: {} answered 2xx, {} 429, {} 5xx, {} connections closed before \
             processing, {} after",
            outcomes.ok,
            outcomes.throttled,
            outcomes.server_errors,
            outcomes.closed_before,
            outcomes.closed_after,
        );
        let audit_attempts: BTreeMap<&str, u64> = self
            .audit
            .iter()
            .filter_map(|l| Some((l["request_id"].as_str()?, l["attempts"].as_u64()?)))
            .collect();
        let agreeing = self
            .calls
            .iter()
            .filter(|c| {
                audit_attempts.get(c.request_id.as_str()).copied()
                    == Some(attempts.get(c.request_id.as_str()).map_or(0, Vec::len) as u64)
            })
            .count();
        println!(
            "audit attempts agree with the emulator's count for {agreeing} of {} calls",
            self.calls.len()
        );
        let (retries, zero_attempt_calls) = self.retry_totals();
        let ratio = tower_m2m::retry::DEFAULT_RETRY_RATIO;
        let floor = tower_m2m::retry::DEFAULT_MIN_RETRIES_PER_SECOND as f64
            * tower_m2m::retry::DEFAULT_BUDGET_WINDOW.as_secs_f64();
        let windows = (self.run_time.as_secs_f64()
            / tower_m2m::retry::DEFAULT_BUDGET_WINDOW.as_secs_f64())
        .ceil();
        println!(
            "\nretries: {retries} for {} calls ({:.1}%); {zero_attempt_calls} calls never reached \
             Kinde; steady-state budget {:.0} (= {ratio} x calls + {floor} per {}-s window x {windows})",
            self.calls.len(),
            100.0 * retries as f64 / self.calls.len() as f64,
            f64::from(ratio) * self.calls.len() as f64 + floor * windows,
            tower_m2m::retry::DEFAULT_BUDGET_WINDOW.as_secs(),
        );
        println!(
            "token requests: {} (bound {}: 1 + gateway time {:.1} s / half of a {} s lifetime, \
             + {} failed fetches for a {:.1} s outage)",
            self.token_requests,
            self.token_bound(),
            self.gateway_time.as_secs_f64(),
            TOKEN_LIFETIME.as_secs(),
            failed_fetches_bound(self.outage.1 - self.outage.0),
            (self.outage.1 - self.outage.0).as_secs_f64(),
        );
        let token_failures: Vec<&CallRecord> = self
            .calls
            .iter()
            .filter(|c| c.reason() == "TOKEN_UNAVAILABLE")
            .collect();
        if let (Some(first), Some(last)) = (token_failures.first(), token_failures.last()) {
            println!(
                "token outage {:.1}s..{:.1}s: the cached token carried calls for {:.1} s; \
                 TOKEN_UNAVAILABLE from {:.1}s to {:.1}s ({} calls), {:.1} s after the outage ended",
                self.outage.0.as_secs_f64(),
                self.outage.1.as_secs_f64(),
                (first.started.saturating_sub(self.outage.0)).as_secs_f64(),
                first.started.as_secs_f64(),
                last.started.as_secs_f64(),
                token_failures.len(),
                last.started.saturating_sub(self.outage.1).as_secs_f64(),
            );
        }
        let health: Vec<String> = self
            .health
            .iter()
            .map(|(at, status)| {
                let name = match *status {
                    SERVING => "SERVING",
                    NOT_SERVING => "NOT_SERVING",
                    _ => "other",
                };
                format!("{:.1}s {name}", at.as_secs_f64())
            })
            .collect();
        println!("health of profile/{PROFILE}: {}", health.join(" -> "));

        let names = self.organizations();
        let creates: Vec<&CallRecord> = self
            .calls
            .iter()
            .filter(|c| c.kind == Kind::Create)
            .collect();
        let count = |code: Code| creates.iter().filter(|c| c.code() == code).count();
        let unknown_applied = creates
            .iter()
            .filter(|c| c.code() == Code::Unknown)
            .filter(|c| names.get(c.name.as_deref().unwrap()).copied().unwrap_or(0) == 1)
            .count();
        println!(
            "creates: {} OK, {} UNKNOWN ({unknown_applied} of them applied by Kinde), {} failed \
             otherwise; organizations created: {}, duplicates: {}",
            count(Code::Ok),
            count(Code::Unknown),
            creates.len() - count(Code::Ok) - count(Code::Unknown),
            names
                .iter()
                .filter(|(name, _)| name.starts_with(&format!("fs-{}-org-", self.seed)))
                .map(|(_, n)| n)
                .sum::<usize>(),
            names.values().filter(|n| **n > 1).count(),
        );
        let late = self
            .calls
            .iter()
            .filter(|c| c.started >= self.clean_from)
            .count();
        println!(
            "faults stopped at {:.1}s; {late} calls from {:.1}s (one open period + 1 s later), \
             failed: {}",
            self.faults_stopped.as_secs_f64(),
            self.clean_from.as_secs_f64(),
            self.calls
                .iter()
                .filter(|c| c.started >= self.clean_from && c.code() != Code::Ok)
                .count(),
        );
        let slowest = self
            .calls
            .iter()
            .map(|c| c.finished - c.started)
            .max()
            .unwrap_or_default();
        println!("slowest call: {:.2} s", slowest.as_secs_f64());
    }

    /// Every attempt at the emulator and every call, in time order.
    fn print_log(&self) {
        let mut lines: Vec<(u64, String)> = Vec::new();
        for request in self.log {
            let at = request["timestamp_ms"].as_u64().unwrap();
            lines.push((
                at.saturating_sub(self.run_start_unix_ms),
                format!(
                    "  emulator {} {} {}{}",
                    request["path"].as_str().unwrap_or_default(),
                    request["headers"]["x-request-id"].as_str().unwrap_or("-"),
                    request["status"],
                    if request["connection_closed"] == true {
                        " closed"
                    } else {
                        ""
                    },
                ),
            ));
        }
        for call in self.calls {
            let at = u64::try_from(call.started.as_millis()).unwrap();
            lines.push((
                at,
                format!(
                    "call {} {:?} -> {} {} after {} ms",
                    call.request_id,
                    call.kind,
                    code_name(call.code()),
                    call.reason(),
                    (call.finished - call.started).as_millis()
                ),
            ));
        }
        lines.sort();
        for (at, line) in lines {
            println!("{:>7.3}s {line}", at as f64 / 1000.0);
        }
    }

    /// What the emulator answered to the API attempts. A closed connection whose request was
    /// matched to an operation was processed first (closed after), else closed before.
    fn emulator_outcomes(&self) -> EmulatorOutcomes {
        let mut outcomes = EmulatorOutcomes::default();
        for request in self.log {
            if !request["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/api/"))
            {
                continue;
            }
            let status = request["status"].as_u64().unwrap_or_default();
            if request["connection_closed"] == true {
                if request["operation_id"].is_null() {
                    outcomes.closed_before += 1;
                } else {
                    outcomes.closed_after += 1;
                }
            } else if status == 429 {
                outcomes.throttled += 1;
            } else if status >= 500 {
                outcomes.server_errors += 1;
            } else if (200..300).contains(&status) {
                outcomes.ok += 1;
            }
        }
        outcomes
    }

    /// Retries (attempts beyond each call's first) and calls that made no attempt.
    fn retry_totals(&self) -> (usize, usize) {
        let attempts = self.attempts();
        let mut retries = 0;
        let mut none = 0;
        for call in self.calls {
            match attempts.get(call.request_id.as_str()).map_or(0, Vec::len) {
                0 => none += 1,
                n => retries += n - 1,
            }
        }
        (retries, none)
    }

    fn check(&self) {
        assert!(
            self.log.len() + 100 < 10_000,
            "the emulator's request log (10,000 entries) holds the whole run"
        );
        assert!(self.calls.len() > 50, "traffic ran: {}", self.calls.len());
        let outcomes = self.emulator_outcomes();
        assert!(
            outcomes.throttled > 0
                && outcomes.server_errors > 0
                && outcomes.closed_before > 0
                && outcomes.closed_after > 0,
            "every kind of fault reached the gateway: {outcomes:?}"
        );
        let ids: BTreeSet<&str> = self.calls.iter().map(|c| c.request_id.as_str()).collect();
        let attempts = self.attempts();
        let unknown: Vec<&&str> = attempts.keys().filter(|id| !ids.contains(**id)).collect();
        assert!(unknown.is_empty(), "attempts of no call: {unknown:?}");

        self.check_statuses(&attempts);
        self.check_creates();
        self.check_budget(&attempts);
        self.check_breaker();

        assert!(
            self.token_requests <= self.token_bound(),
            "{} token requests, bound {}",
            self.token_requests,
            self.token_bound()
        );
        assert!(
            self.calls.iter().any(|c| c.reason() == "TOKEN_UNAVAILABLE"),
            "the token outage outlasted the cached token"
        );

        let late: Vec<&CallRecord> = self
            .calls
            .iter()
            .filter(|c| c.started >= self.clean_from)
            .collect();
        assert!(late.len() >= 5, "calls ran after recovery: {}", late.len());
        let late_failures: Vec<&&CallRecord> =
            late.iter().filter(|c| c.code() != Code::Ok).collect();
        assert!(
            late_failures.is_empty(),
            "failures one open period + 1 s after the faults stopped: {late_failures:#?}"
        );
    }

    fn check_statuses(&self, attempts: &BTreeMap<&str, Vec<u64>>) {
        let audit: BTreeMap<&str, &Value> = self
            .audit
            .iter()
            .filter_map(|line| line["request_id"].as_str().map(|id| (id, line)))
            .collect();
        assert_eq!(audit.len(), self.calls.len(), "one audit line per call");
        for call in self.calls {
            let line = audit
                .get(call.request_id.as_str())
                .unwrap_or_else(|| panic!("no audit line for {}", call.request_id));
            assert_eq!(line["status"], code_name(call.code()), "{call:?} vs {line}");
            let made = attempts.get(call.request_id.as_str()).map_or(0, Vec::len) as u64;
            assert_eq!(
                line["attempts"], made,
                "the audit counts attempts: {call:?} vs {line}"
            );
            let Outcome::Failed {
                code,
                reason,
                domain,
                echoed_id,
                retry_info,
            } = &call.outcome
            else {
                continue;
            };
            assert_eq!(
                echoed_id.as_deref(),
                Some(call.request_id.as_str()),
                "the request id comes back: {call:?}"
            );
            assert_eq!(domain, "kinde-gateway", "{call:?}");
            assert!(
                REASONS.contains(&reason.as_str()),
                "a reason of the table: {call:?}"
            );
            let expected = match reason.as_str() {
                "RATE_LIMITED" | "RETRY_BUDGET_EXHAUSTED" => Code::ResourceExhausted,
                "DEADLINE_EXCEEDED" => Code::DeadlineExceeded,
                "OUTCOME_UNKNOWN" => Code::Unknown,
                _ => Code::Unavailable,
            };
            assert_eq!(*code, expected, "{call:?}");
            if matches!(code, Code::Unavailable | Code::ResourceExhausted) {
                assert!(retry_info, "RetryInfo where waiting helps: {call:?}");
            }
            if call.kind != Kind::Create {
                assert_ne!(
                    *code,
                    Code::Unknown,
                    "only creates may be UNKNOWN: {call:?}"
                );
            }
        }
    }

    fn check_creates(&self) {
        let names = self.organizations();
        let duplicates: Vec<(&&str, &usize)> = names.iter().filter(|(_, n)| **n > 1).collect();
        assert!(duplicates.is_empty(), "duplicate creates: {duplicates:?}");
        let mut unknown_applied = 0;
        for call in self.calls.iter().filter(|c| c.kind == Kind::Create) {
            let name = call.name.as_deref().unwrap();
            let found = names.get(name).copied().unwrap_or(0);
            match call.code() {
                Code::Ok => assert_eq!(found, 1, "a create that returned OK exists once: {call:?}"),
                Code::Unknown => unknown_applied += found,
                _ => assert_eq!(
                    found, 0,
                    "a create that failed with a safe-to-retry status did not happen: {call:?}"
                ),
            }
        }
        assert!(
            unknown_applied > 0,
            "a create applied by Kinde whose connection closed came back UNKNOWN"
        );
        let ours = format!("fs-{}-org-", self.seed);
        let created = names.keys().filter(|n| n.starts_with(&ours)).count();
        let creates = self.calls.iter().filter(|c| c.kind == Kind::Create).count();
        assert!(created <= creates);
    }

    fn check_budget(&self, attempts: &BTreeMap<&str, Vec<u64>>) {
        let max = tower_m2m::retry::DEFAULT_MAX_ATTEMPTS as usize;
        for (id, times) in attempts {
            assert!(times.len() <= max, "{id} made {} attempts", times.len());
        }
        let retry_times: Vec<u64> = {
            let mut times: Vec<u64> = attempts
                .values()
                .flat_map(|t| {
                    let mut t = t.clone();
                    t.sort_unstable();
                    t.into_iter().skip(1)
                })
                .collect();
            times.sort_unstable();
            times
        };
        let mut starts: Vec<u64> = self.calls.iter().map(|c| c.started_unix_ms).collect();
        starts.sort_unstable();
        let ratio = f64::from(tower_m2m::retry::DEFAULT_RETRY_RATIO);
        let reserve = f64::from(tower_m2m::retry::DEFAULT_MIN_RETRIES_PER_SECOND)
            * tower_m2m::retry::DEFAULT_BUDGET_WINDOW.as_secs_f64();
        for &at in &retry_times {
            let retries = retry_times
                .iter()
                .filter(|t| **t > at.saturating_sub(RETRY_WINDOW_MS) && **t <= at)
                .count();
            let deposits = starts
                .iter()
                .filter(|t| **t >= at.saturating_sub(DEPOSIT_WINDOW_MS) && **t <= at)
                .count();
            let allowed = ratio * deposits as f64 + reserve;
            assert!(
                retries as f64 <= allowed,
                "{retries} retries in the 8 s before {at}, the budget allows {allowed:.1}"
            );
        }
    }

    fn check_breaker(&self) {
        assert!(self.storm_opened, "the storm opened the breaker");
        let opened = self
            .health
            .iter()
            .position(|(_, status)| *status == NOT_SERVING)
            .expect("health went NOT_SERVING");
        assert!(
            self.health[opened..].iter().any(|(_, s)| *s == SERVING),
            "health came back SERVING: {:?}",
            self.health
        );
        assert_eq!(self.health.last().map(|(_, s)| *s), Some(SERVING));
        assert!(
            self.calls.iter().any(|c| c.reason() == "CIRCUIT_OPEN"),
            "calls were refused while the breaker was open"
        );
    }
}
