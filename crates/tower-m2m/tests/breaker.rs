//! The circuit breaker on paused time: opening, half-open probes under contention, closing,
//! and recovery from a dropped probe.

mod scripted;

use std::time::Duration;

use scripted::{Upstream, get, status};
use tower::{ServiceBuilder, ServiceExt};
use tower_m2m::BoxError;
use tower_m2m::breaker::{Breaker, BreakerConfig, CircuitBreakerLayer, CircuitOpen, CircuitState};
use tower_m2m::ratelimit::RateLimited;

const OPEN: Duration = Duration::from_secs(5);
const PROBES: u32 = 3;

fn breaker() -> Breaker {
    BreakerConfig::default()
        .minimum_calls(10)
        .window(Duration::from_secs(10))
        .open_duration(OPEN)
        .half_open_probes(PROBES)
        .build("test")
        .unwrap()
}

async fn fail_until_open(
    client: &tower_m2m::stack::M2mService<String, String>,
    upstream: &Upstream,
) {
    upstream.set_script(|_, _| async { Ok(status(500)) });
    for n in 0..10 {
        let response = client.clone().oneshot(get(&n.to_string())).await.unwrap();
        assert_eq!(response.status(), 500);
    }
}

fn client(breaker: &Breaker, upstream: &Upstream) -> tower_m2m::stack::M2mService<String, String> {
    let service = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone()))
        .service(upstream.clone());
    tower::util::BoxCloneSyncService::new(service)
}

#[tokio::test(start_paused = true)]
async fn opens_under_failure_probes_exactly_n_of_50_callers_then_closes() {
    let breaker = breaker();
    let upstream = Upstream::always(200);
    let client = client(&breaker, &upstream);
    let mut changes = breaker.subscribe();

    fail_until_open(&client, &upstream).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    assert!(changes.has_changed().unwrap());

    // Open: rejected without reaching the upstream, told when to come back.
    let error = client.clone().oneshot(get("rejected")).await.unwrap_err();
    let open = error
        .downcast_ref::<CircuitOpen>()
        .expect("typed rejection");
    assert!(open.retry_after() > Duration::ZERO && open.retry_after() <= OPEN);
    assert_eq!(upstream.count(), 10);

    // Half-open: 50 concurrent callers, the upstream slow enough that none settles early.
    tokio::time::sleep(OPEN).await;
    upstream.set_script(|_, _| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(status(200))
    });
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50 {
        let client = client.clone();
        tasks.spawn(async move { client.oneshot(get(&format!("probe-{n}"))).await });
    }
    let (mut passed, mut rejected) = (0, 0);
    while let Some(outcome) = tasks.join_next().await {
        match outcome.unwrap() {
            Ok(response) => {
                assert_eq!(response.status(), 200);
                passed += 1;
            }
            Err(error) => {
                assert!(error.is::<CircuitOpen>(), "{error}");
                rejected += 1;
            }
        }
    }

    assert_eq!(passed, PROBES);
    assert_eq!(rejected, 50 - PROBES);
    assert_eq!(upstream.count(), 10 + PROBES as usize);
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(*changes.borrow_and_update(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_the_circuit() {
    let breaker = breaker();
    let upstream = Upstream::always(200);
    let client = client(&breaker, &upstream);

    fail_until_open(&client, &upstream).await;
    tokio::time::sleep(OPEN).await;
    client.clone().oneshot(get("probe")).await.unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_gives_its_permit_back() {
    let breaker = BreakerConfig::default()
        .minimum_calls(10)
        .open_duration(OPEN)
        .half_open_probes(1)
        .build("test")
        .unwrap();
    let upstream = Upstream::always(200);
    let client = client(&breaker, &upstream);

    fail_until_open(&client, &upstream).await;
    tokio::time::sleep(OPEN).await;

    // The only probe hangs, and its caller gives up.
    upstream.set_script(|_, _| std::future::pending());
    let probe = tokio::spawn(client.clone().oneshot(get("hanging")));
    tokio::task::yield_now().await;
    let error = client
        .clone()
        .oneshot(get("while-probing"))
        .await
        .unwrap_err();
    assert!(error.is::<CircuitOpen>());
    probe.abort();
    let _ = probe.await;

    // The permit is free again: the next caller probes, succeeds, and closes the circuit.
    upstream.set_script(|_, _| async { Ok(status(200)) });
    let response = client.clone().oneshot(get("next")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn client_errors_and_local_rejections_do_not_open_the_circuit() {
    let breaker = breaker();
    let upstream = Upstream::new(|n, _| async move {
        match n % 3 {
            0 => Ok(status(429)),
            1 => Ok(status(404)),
            _ => Err(BoxError::from(TransportFailure)),
        }
    });
    let client = client(&breaker, &upstream);

    for n in 0..30 {
        let _ = client.clone().oneshot(get(&n.to_string())).await;
    }
    assert_eq!(breaker.state(), CircuitState::Closed);

    // A real local rejection, from the rate limiter below, is ignored too.
    let limiter = tower_m2m::ratelimit::RateLimitConfig::new(
        std::num::NonZeroU32::new(1).unwrap(),
        Duration::from_secs(60),
    )
    .unwrap()
    .burst(std::num::NonZeroU32::new(1).unwrap())
    .max_wait(Duration::ZERO)
    .build();
    let limited = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone()))
        .layer(tower_m2m::ratelimit::RateLimitLayer::new(limiter))
        .service(Upstream::always(200));
    let mut rejections = 0;
    for n in 0..30 {
        if let Err(error) = limited.clone().oneshot(get(&n.to_string())).await {
            assert!(error.is::<RateLimited>());
            rejections += 1;
        }
    }
    assert_eq!(rejections, 29);
    assert_eq!(breaker.state(), CircuitState::Closed);
}

/// An unknown transport error, which does count as a failure: a third of the calls, below the
/// 50% threshold, so only miscounted 4xx could open the circuit.
#[derive(Debug)]
struct TransportFailure;

impl std::fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("transport failure")
    }
}

impl std::error::Error for TransportFailure {}

#[tokio::test(start_paused = true)]
async fn slowness_is_the_transports_time_not_the_wait_above_it() {
    let slow_breaker = || {
        BreakerConfig::default()
            .minimum_calls(10)
            .slow_call_duration(Duration::from_secs(1))
            .slow_call_rate(0.5)
            .build("slow")
            .unwrap()
    };

    // The transport itself is slow: the circuit opens.
    let breaker = slow_breaker();
    let upstream = Upstream::new(|_, _| async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok(status(200))
    });
    let client = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone()))
        .layer(tower_m2m::timeout::AttemptTimeoutLayer::new(
            Duration::from_secs(10),
        ))
        .service(upstream);
    for n in 0..10 {
        client.clone().oneshot(get(&n.to_string())).await.unwrap();
    }
    assert_eq!(breaker.state(), CircuitState::Open);

    // The transport is fast but every call first waits 2 s above it (a token, say): it stays
    // closed.
    let breaker = slow_breaker();
    let attempt = ServiceBuilder::new()
        .layer(tower_m2m::timeout::AttemptTimeoutLayer::new(
            Duration::from_secs(10),
        ))
        .service(Upstream::always(200));
    let waiting = tower::service_fn(move |request: http::Request<String>| {
        let attempt = attempt.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            attempt.oneshot(request).await
        }
    });
    let client = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone()))
        .service(waiting);
    for n in 0..10 {
        client.clone().oneshot(get(&n.to_string())).await.unwrap();
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
}
