//! The rate limiter on paused time: pacing, the wait bound, and the 429 pause.

mod scripted;

use std::num::NonZeroU32;
use std::time::Duration;

use scripted::{Upstream, get, status};
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use tower_m2m::ratelimit::{RateLimitConfig, RateLimitLayer, RateLimited};
use tower_m2m::retry::{RetryBudget, RetryLayer, RetryPolicy};

fn limiter(per_second: u32, burst: u32, max_wait: Duration) -> tower_m2m::ratelimit::RateLimiter {
    RateLimitConfig::new(NonZeroU32::new(per_second).unwrap(), Duration::from_secs(1))
        .unwrap()
        .burst(NonZeroU32::new(burst).unwrap())
        .max_wait(max_wait)
        .build()
}

#[tokio::test(start_paused = true)]
async fn a_429_with_ratelimit_reset_holds_back_the_retry_and_other_callers() {
    let upstream = Upstream::new(|n, _| async move {
        if n == 0 {
            let mut response = status(429);
            response
                .headers_mut()
                .insert("ratelimit-reset", "3".parse().unwrap());
            Ok(response)
        } else {
            Ok(status(200))
        }
    });
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::new(RetryBudget::default())))
        .layer(RateLimitLayer::new(limiter(
            100,
            10,
            Duration::from_secs(10),
        )))
        .service(upstream.clone());
    let start = Instant::now();

    let first = tokio::spawn(client.clone().oneshot(get("first")));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = tokio::spawn(client.clone().oneshot(get("second")));

    assert_eq!(first.await.unwrap().unwrap().status(), 200);
    assert_eq!(second.await.unwrap().unwrap().status(), 200);

    let seen = upstream.seen();
    assert_eq!(seen.len(), 3, "one 429, then one attempt per caller");
    assert_eq!(seen[0].at, start);
    for later in &seen[1..] {
        assert!(
            later.at - start >= Duration::from_secs(3),
            "{:?} sent {:?} after the 429",
            later.caller,
            later.at - start
        );
    }
}

#[tokio::test(start_paused = true)]
async fn callers_are_paced_and_fail_once_the_wait_passes_the_bound() {
    let upstream = Upstream::always(200);
    let client = ServiceBuilder::new()
        .layer(RateLimitLayer::new(limiter(
            10,
            1,
            Duration::from_millis(250),
        )))
        .service(upstream.clone());

    let mut outcomes = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..5 {
        let client = client.clone();
        tasks.spawn(async move { client.oneshot(get(&n.to_string())).await });
    }
    while let Some(outcome) = tasks.join_next().await {
        outcomes.push(outcome.unwrap());
    }

    // 10 per second, burst 1, 250 ms of patience: the first goes now, two more at 100 and
    // 200 ms, the rest would wait 300 ms or more.
    assert_eq!(upstream.count(), 3);
    let rejected: Vec<_> = outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().err())
        .map(|error| {
            error
                .downcast_ref::<RateLimited>()
                .expect("a typed rejection")
        })
        .collect();
    assert_eq!(rejected.len(), 2);
    assert!(rejected.iter().all(|e| e.retry_after() > Duration::ZERO));
}
