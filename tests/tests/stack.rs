//! The whole stack against the emulator, on paused time with the emulator as an in-memory
//! transport: throttling and a full outage, counted at the emulator.

use std::num::NonZeroU32;
use std::time::Duration;

use http::StatusCode;
use kinde_emulator::{EmulatorService, FaultTarget, Faults, Latency};
use tests::{Control, Recorded, SECRET, demo_credentials, get, in_memory};
use tokio::task::JoinSet;
use tower::ServiceExt;
use tower_m2m::ReplayBody;
use tower_m2m::breaker::{BreakerConfig, CircuitState};
use tower_m2m::ratelimit::RateLimitConfig;
use tower_m2m::retry::{RetryStopped, StopReason};
use tower_m2m::stack::{M2mService, M2mStack, Upstream};
use tower_m2m::token::TokenSource;

const USERS: &str = "/api/v1/users";

/// A rate limit that never binds, so only the emulator's answers shape the traffic.
fn generous_rate_limit() -> RateLimitConfig {
    let plenty = NonZeroU32::new(100_000).unwrap();
    RateLimitConfig::new(plenty, Duration::from_secs(1))
        .unwrap()
        .burst(plenty)
        .max_wait(Duration::from_secs(5))
}

fn stack(
    emulator: &EmulatorService,
    upstream: Upstream,
) -> M2mService<ReplayBody, axum::body::Body> {
    let source = TokenSource::new(
        demo_credentials(emulator.base_url(), SECRET),
        emulator.clone(),
    );
    M2mStack::builder(upstream)
        .token_source(source)
        .service(emulator.clone())
}

fn api_faults(faults: Faults) -> Faults {
    Faults {
        target: FaultTarget::Operation("getUsers".to_owned()),
        ..faults
    }
}

#[tokio::test(start_paused = true)]
async fn a_429_with_ratelimit_reset_delays_the_retry_and_holds_back_other_callers() {
    let emulator = in_memory().build_service();
    let control = Control::in_memory(&emulator);
    let kinde = Upstream::builder("kinde")
        .rate_limit(generous_rate_limit())
        .build()
        .unwrap();
    let client = stack(&emulator, kinde.clone());
    let base = emulator.base_url().to_owned();
    let response = client.clone().oneshot(get(&base, USERS)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "token fetched");

    // Kinde throttles the first caller: 429 with `RateLimit-Reset: 1`.
    control
        .set_faults(&api_faults(Faults {
            rate_limited_ratio: 1.0,
            ..Faults::default()
        }))
        .await;
    let first = tokio::spawn(client.clone().oneshot(get(&base, USERS)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        kinde.limiter().paused_until().is_some(),
        "the limiter holds"
    );

    // The throttling is over, but a second caller 100 ms later still waits for the reset.
    control.clear_faults().await;
    let second = tokio::spawn(client.clone().oneshot(get(&base, USERS)));
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(second.await.unwrap().unwrap().status(), StatusCode::OK);

    let api = control.api_requests().await;
    let statuses: Vec<u16> = api.iter().map(|request| request.status).collect();
    assert_eq!(statuses, [200, 429, 200, 200]);
    let throttled = &api[1];
    assert_eq!(
        api.iter()
            .filter(|r| r.header("x-request-id") == throttled.header("x-request-id"))
            .count(),
        2,
        "the throttled call was retried once"
    );
    for later in &api[2..] {
        assert!(
            later.timestamp_ms >= throttled.timestamp_ms + 1_000,
            "{later:?} came before the reset"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_full_outage_costs_at_most_the_retry_budget_and_retries_resume_after_it() {
    const CALLS: u64 = 1_000;
    let emulator = in_memory().build_service();
    let control = Control::in_memory(&emulator);
    // A breaker that never opens, so only the budget limits the retries.
    let kinde = Upstream::builder("kinde")
        .rate_limit(generous_rate_limit())
        .max_in_flight(100)
        .breaker(BreakerConfig::default().minimum_calls(u32::MAX))
        .build()
        .unwrap();
    let client = stack(&emulator, kinde.clone());
    let base = emulator.base_url().to_owned();
    let response = client.clone().oneshot(get(&base, USERS)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "token fetched");

    // Every API request fails with 500, 502 or 503.
    control
        .set_faults(&api_faults(Faults {
            seed: Some(5),
            error_ratio: 1.0,
            ..Faults::default()
        }))
        .await;
    let mut callers = JoinSet::new();
    for _ in 0..CALLS {
        callers.spawn(client.clone().oneshot(get(&base, USERS)));
    }
    let mut refused_by_budget = 0;
    while let Some(answer) = callers.join_next().await {
        let response = answer.unwrap().expect("the last 5xx, not an error");
        assert!(response.status().is_server_error());
        let stopped = response.extensions().get::<RetryStopped>();
        if stopped.is_some_and(|stopped| stopped.reason == StopReason::BudgetExhausted) {
            refused_by_budget += 1;
        }
    }

    let attempts = control.stats().await.api_requests - 1;
    let ratio = f64::from(kinde.budget().ratio());
    // The constant: the budget's floor of one retry a second over its 10 s window, and the
    // seconds the outage lasted.
    let bound = (CALLS as f64 * (1.0 + ratio)).ceil() as u64 + 20;
    assert!(
        (CALLS..=bound).contains(&attempts),
        "{attempts} attempts for {CALLS} calls, bound {bound}"
    );
    assert!(refused_by_budget > CALLS / 2, "{refused_by_budget}");
    assert_eq!(kinde.breaker().state(), CircuitState::Closed);

    // The emulator recovers; once the budget's window has passed, a failure is retried again.
    control.clear_faults().await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    control
        .set_faults(&api_faults(Faults {
            error_ratio: 1.0,
            ..Faults::default()
        }))
        .await;
    let call = tokio::spawn(client.clone().oneshot(get(&base, USERS)));
    tokio::time::sleep(Duration::from_millis(10)).await;
    control.clear_faults().await;
    let response = call.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let api = control.api_requests().await;
    let last_call: Vec<&Recorded> = api
        .iter()
        .filter(|r| r.header("x-request-id") == api.last().unwrap().header("x-request-id"))
        .collect();
    assert_eq!(last_call.len(), 2, "one failure, one retry");
    assert!(last_call[0].status >= 500);
    assert_eq!(last_call[1].status, 200);
}

#[tokio::test(start_paused = true)]
async fn a_probe_dropped_while_half_open_gives_its_permit_back() {
    let emulator = in_memory().build_service();
    let control = Control::in_memory(&emulator);
    let breaker = BreakerConfig::default()
        .minimum_calls(2)
        .open_duration(Duration::from_secs(1))
        .half_open_probes(1);
    let kinde = Upstream::builder("kinde")
        .rate_limit(generous_rate_limit())
        .breaker(breaker)
        .build()
        .unwrap();
    let source = TokenSource::new(
        demo_credentials(emulator.base_url(), SECRET),
        emulator.clone(),
    );
    let client: M2mService<ReplayBody, axum::body::Body> = M2mStack::builder(kinde.clone())
        .max_attempts(1)
        .token_source(source)
        .service(emulator.clone());
    let base = emulator.base_url().to_owned();

    control
        .set_faults(&api_faults(Faults {
            error_ratio: 1.0,
            ..Faults::default()
        }))
        .await;
    for _ in 0..2 {
        let response = client.clone().oneshot(get(&base, USERS)).await.unwrap();
        assert!(response.status().is_server_error());
    }
    assert_eq!(kinde.breaker().state(), CircuitState::Open);

    // After the open period the one probe hangs, and its caller gives up.
    control
        .set_faults(&api_faults(Faults {
            latency: Some(Latency {
                min_ms: 60_000,
                max_ms: 60_000,
            }),
            ..Faults::default()
        }))
        .await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let probe = client.clone().oneshot(get(&base, USERS));
    let gave_up = tokio::time::timeout(Duration::from_millis(100), probe).await;
    assert!(gave_up.is_err());
    assert_eq!(kinde.breaker().state(), CircuitState::HalfOpen);

    // The permit came back: the next caller is the probe, and closes the circuit.
    control.clear_faults().await;
    let response = client.clone().oneshot(get(&base, USERS)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(kinde.breaker().state(), CircuitState::Closed);
    let statuses: Vec<u16> = control
        .api_requests()
        .await
        .iter()
        .map(|request| request.status)
        .collect();
    assert_eq!(
        statuses.len(),
        3,
        "the dropped probe never completed: {statuses:?}"
    );
    assert_eq!(statuses[2], 200);
}
