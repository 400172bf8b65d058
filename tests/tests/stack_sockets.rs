//! The whole stack on the reqwest transport against an emulator on a loopback socket, in real
//! time: dropped connections, the circuit breaker and correlation headers, counted at the
//! emulator. Durations are short and bounds generous; the assertions are on counts, statuses
//! and order.

use std::num::NonZeroU32;
use std::time::Duration;

use http::StatusCode;
use kinde_emulator::{Application, Emulator, FaultTarget, Faults, Latency};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use serde_json::json;
use tests::{Control, SECRET, demo_credentials, get, post_json};
use tokio::task::JoinSet;
use tower::ServiceExt;
use tower_http::request_id::RequestId;
use tower_m2m::ReplayBody;
use tower_m2m::breaker::{BreakerConfig, CircuitOpen, CircuitState};
use tower_m2m::ratelimit::RateLimitConfig;
use tower_m2m::retry::{Backoff, Idempotency};
use tower_m2m::stack::{M2mService, M2mStack, StackBuilder, Upstream};
use tower_m2m::token::{AuthLayer, ClientCredentials, RefreshPolicy, TokenSource};
use tower_m2m::transport::ReqwestTransport;

const USERS: &str = "/api/v1/users";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID: &str = "00f067aa0ba902b7";

type Client = M2mService<ReplayBody, reqwest::Body>;

/// An upstream whose rate limit never binds, with this breaker.
fn upstream(breaker: BreakerConfig) -> Upstream {
    let plenty = NonZeroU32::new(100_000).unwrap();
    let rate = RateLimitConfig::new(plenty, Duration::from_secs(1))
        .unwrap()
        .burst(plenty);
    Upstream::builder("kinde")
        .rate_limit(rate)
        .max_in_flight(64)
        .breaker(breaker)
        .build()
        .unwrap()
}

/// The stack with short backoffs.
fn builder(upstream: Upstream) -> StackBuilder<tower::layer::util::Identity> {
    let backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(50), 2.0).unwrap();
    M2mStack::builder(upstream)
        .backoff(backoff)
        .attempt_timeout(Duration::from_secs(5))
}

fn demo_stack(emulator: &Emulator, upstream: Upstream, max_attempts: u32) -> Client {
    let transport = ReqwestTransport::new();
    builder(upstream)
        .max_attempts(max_attempts)
        .credentials(
            demo_credentials(emulator.base_url(), SECRET),
            transport.clone(),
        )
        .service(transport)
}

async fn start(faults: Faults) -> (Emulator, Control) {
    let emulator = Emulator::builder().faults(faults).start().await.unwrap();
    let control = Control::socket(&emulator);
    (emulator, control)
}

/// How many users in the emulator's state have this first name.
async fn users_named(control: &Control, first_name: &str) -> usize {
    let state = control.state().await;
    state["users"]
        .as_array()
        .expect("a list of users")
        .iter()
        .filter(|user| user["first_name"] == first_name)
        .count()
}

#[tokio::test]
async fn a_post_is_not_repeated_after_a_dropped_connection_unless_marked_idempotent() {
    // Every createUser is processed, then its connection is closed without an answer.
    let (emulator, control) = start(Faults {
        target: FaultTarget::Operation("createUser".to_owned()),
        close_after_ratio: 1.0,
        ..Faults::default()
    })
    .await;
    let client = demo_stack(&emulator, upstream(BreakerConfig::default()), 3);
    let user = |name: &str| json!({ "profile": { "given_name": name } });

    let once = post_json(emulator.base_url(), "/api/v1/user", &user("Once"));
    let error = client.clone().oneshot(once).await.unwrap_err();
    assert!(!error.is::<CircuitOpen>(), "{error}");
    assert_eq!(control.stats().await.operation("createUser"), 1);
    assert_eq!(users_named(&control, "Once").await, 1, "exactly one user");

    // Marked idempotent (as a request with an idempotency key would be), it is retried.
    let mut marked = post_json(emulator.base_url(), "/api/v1/user", &user("Marked"));
    marked.extensions_mut().insert(Idempotency::Idempotent);
    client.clone().oneshot(marked).await.unwrap_err();
    assert_eq!(control.stats().await.operation("createUser"), 1 + 3);
    assert_eq!(
        users_named(&control, "Marked").await,
        3,
        "each attempt acted"
    );
}

#[tokio::test]
async fn the_breaker_opens_under_total_failure_admits_its_probes_and_recovers() {
    let (emulator, control) = start(Faults {
        target: FaultTarget::Api,
        error_ratio: 1.0,
        ..Faults::default()
    })
    .await;
    let breaker = BreakerConfig::default()
        .minimum_calls(5)
        .open_duration(Duration::from_millis(500))
        .half_open_probes(2);
    let kinde = upstream(breaker);
    let mut changes = kinde.breaker().subscribe();
    let client = demo_stack(&emulator, kinde.clone(), 1);
    let base = emulator.base_url().to_owned();

    // Five failures open the circuit.
    for _ in 0..5 {
        let response = client.clone().oneshot(get(&base, USERS)).await.unwrap();
        assert!(response.status().is_server_error());
    }
    assert_eq!(kinde.breaker().state(), CircuitState::Open);
    assert_eq!(*changes.borrow_and_update(), CircuitState::Open);

    // While open, calls fail at once and cost the emulator nothing.
    for _ in 0..20 {
        let error = client.clone().oneshot(get(&base, USERS)).await.unwrap_err();
        let open = error.downcast_ref::<CircuitOpen>().expect("typed");
        assert!(open.retry_after() <= Duration::from_millis(500));
    }
    assert_eq!(control.stats().await.api_requests, 5);

    // The emulator recovers, slowly: after the open period, of 50 concurrent callers exactly
    // the two probes reach it.
    control
        .set_faults(&Faults {
            target: FaultTarget::Api,
            latency: Some(Latency {
                min_ms: 1_000,
                max_ms: 1_000,
            }),
            ..Faults::default()
        })
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut callers = JoinSet::new();
    for _ in 0..50 {
        callers.spawn(client.clone().oneshot(get(&base, USERS)));
    }
    let (mut answered, mut rejected) = (0, 0);
    while let Some(answer) = callers.join_next().await {
        match answer.unwrap() {
            Ok(response) => {
                assert_eq!(response.status(), StatusCode::OK);
                answered += 1;
            }
            Err(error) => {
                assert!(error.is::<CircuitOpen>(), "{error}");
                rejected += 1;
            }
        }
    }
    assert_eq!((answered, rejected), (2, 48));
    assert_eq!(control.stats().await.api_requests, 5 + 2);
    assert_eq!(kinde.breaker().state(), CircuitState::Closed);
    assert_eq!(*changes.borrow_and_update(), CircuitState::Closed);

    // Closed again: every call goes through.
    control.clear_faults().await;
    for _ in 0..10 {
        let response = client.clone().oneshot(get(&base, USERS)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(control.stats().await.api_requests, 5 + 2 + 10);
}

fn caller_context() -> opentelemetry::Context {
    let span = SpanContext::new(
        TraceId::from_hex(TRACE_ID).unwrap(),
        SpanId::from_hex(SPAN_ID).unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    opentelemetry::Context::new().with_remote_span_context(span)
}

/// Asserts that every one of `attempts` carries `request_id` and the caller's trace.
fn assert_correlated(attempts: &[tests::Recorded], request_id: &str) {
    for attempt in attempts {
        assert_eq!(
            attempt.header("x-request-id"),
            Some(request_id),
            "{attempt:?}"
        );
        let traceparent = attempt.header("traceparent").expect("a traceparent");
        assert!(
            traceparent.starts_with(&format!("00-{TRACE_ID}-{SPAN_ID}-")),
            "{traceparent}"
        );
    }
}

#[tokio::test]
async fn every_attempt_carries_the_request_id_and_the_callers_trace_with_logs_at_warn() {
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_test_writer()
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    const BILLING: &str = "https://billing.example/api";
    let emulator = Emulator::builder()
        .application(
            Application::new("billing0000000000000000000000001", "billing-secret")
                .management_api(false)
                .audience(BILLING),
        )
        .faults(Faults {
            target: FaultTarget::Operation("getUsers".to_owned()),
            error_ratio: 1.0,
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let control = Control::socket(&emulator);
    let base = emulator.base_url().to_owned();

    // Retries: three attempts, each answered 5xx; the request id is minted.
    let client = demo_stack(&emulator, upstream(BreakerConfig::default()), 3);
    let mut request = get(&base, USERS);
    request.extensions_mut().insert(caller_context());
    let response = client.oneshot(request).await.unwrap();
    assert!(response.status().is_server_error());
    let attempts = control.api_requests().await;
    assert_eq!(attempts.len(), 3);
    let minted = attempts[0].header("x-request-id").unwrap().to_owned();
    assert!(!minted.is_empty());
    assert_correlated(&attempts, &minted);

    // A 401 replay: a token for another API, rejected; the caller's own request id.
    control.clear_faults().await;
    let transport = ReqwestTransport::new();
    let credentials = ClientCredentials::builder(
        emulator.token_url(),
        "billing0000000000000000000000001",
        "billing-secret",
    )
    .audience(BILLING)
    .build()
    .unwrap();
    let source = TokenSource::builder(credentials)
        .policy(RefreshPolicy::new().invalidation_grace(Duration::ZERO))
        .build(transport.clone());
    let client: Client = builder(upstream(BreakerConfig::default()))
        .auth(AuthLayer::new(source))
        .service(transport);
    let mut request = get(&base, "/api/v1/organizations");
    request.extensions_mut().insert(caller_context());
    request
        .extensions_mut()
        .insert(RequestId::new("caller-req-7".parse().unwrap()));
    let response = client.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let attempts = control.api_requests().await;
    assert_eq!(attempts.len(), 3 + 2, "the attempt and its replay");
    assert!(attempts[3..].iter().all(|attempt| attempt.status == 401));
    assert_correlated(&attempts[3..], "caller-req-7");
}
