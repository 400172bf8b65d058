//! The retry layer on paused time: what is repeated, how often, and what stops it.

mod scripted;

use std::io;
use std::time::Duration;

use scripted::{Upstream, get, post, status};
use tower::{ServiceBuilder, ServiceExt};
use tower_m2m::BoxError;
use tower_m2m::body::ReplayBody;
use tower_m2m::retry::{
    Idempotency, RetryBudget, RetryBudgetExhausted, RetryLayer, RetryPolicy, RetryStopped,
    StopReason,
};
use tower_m2m::timeout::{AttemptTimedOut, AttemptTimeoutLayer, Deadline};

fn policy() -> RetryPolicy {
    RetryPolicy::new(RetryBudget::default()).max_attempts(3)
}

#[tokio::test(start_paused = true)]
async fn an_outage_costs_at_most_the_budget_and_retries_resume_after_it() {
    const REQUESTS: usize = 1_000;
    const RATIO: f32 = 0.2;
    const MIN_PER_SECOND: u32 = 1;
    const WINDOW: Duration = Duration::from_secs(10);

    let upstream = Upstream::always(503);
    let budget = RetryBudget::new(WINDOW, MIN_PER_SECOND, RATIO);
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::new(budget).max_attempts(3)))
        .service(upstream.clone());

    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..REQUESTS {
        let client = client.clone();
        tasks.spawn(async move { client.oneshot(get(&n.to_string())).await });
    }
    let mut budget_refusals = 0;
    while let Some(outcome) = tasks.join_next().await {
        let response = outcome.unwrap().unwrap();
        assert_eq!(response.status(), 503);
        let stopped = response.extensions().get::<RetryStopped>().unwrap();
        budget_refusals += usize::from(stopped.reason == StopReason::BudgetExhausted);
    }

    let attempts = upstream.count();
    let bound = (REQUESTS as f32 * (1.0 + RATIO)) as usize + (MIN_PER_SECOND as usize * 10);
    assert!(
        attempts <= bound,
        "{attempts} attempts for {REQUESTS} requests"
    );
    assert!(attempts > REQUESTS, "some retries were allowed");
    assert!(
        budget_refusals > REQUESTS / 2,
        "the budget, not attempts, stopped most"
    );

    // The upstream recovers with one blip; after the window, retries are funded again.
    tokio::time::sleep(WINDOW * 2).await;
    upstream.set_script(|n, _| async move { Ok(status(if n % 2 == 0 { 503 } else { 200 })) });
    let before = upstream.count();
    let response = client.clone().oneshot(get("after")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(upstream.count() - before, 2);
}

#[tokio::test(start_paused = true)]
async fn a_post_is_not_repeated_after_a_timeout_unless_marked_idempotent() {
    let upstream = Upstream::new(|_, _| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(status(200))
    });
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(policy()))
        .layer(AttemptTimeoutLayer::new(Duration::from_secs(1)))
        .service(upstream.clone());

    let error = client.clone().oneshot(post("plain")).await.unwrap_err();
    assert!(error.is::<AttemptTimedOut>(), "{error}");
    assert_eq!(
        upstream.count(),
        1,
        "a POST that may have arrived is sent once"
    );

    let mut marked = post("marked");
    marked.extensions_mut().insert(Idempotency::Idempotent);
    client.clone().oneshot(marked).await.unwrap_err();
    assert_eq!(upstream.count(), 1 + 3);

    client.clone().oneshot(get("get")).await.unwrap_err();
    assert_eq!(upstream.count(), 1 + 3 + 3);

    let mut put = scripted::get("put");
    *put.method_mut() = http::Method::PUT;
    put.extensions_mut().insert(Idempotency::NotIdempotent);
    client.clone().oneshot(put).await.unwrap_err();
    assert_eq!(
        upstream.count(),
        1 + 3 + 3 + 1,
        "the extension overrides the method"
    );
}

#[tokio::test(start_paused = true)]
async fn a_post_is_retried_when_it_never_left_or_was_throttled() {
    let upstream = Upstream::new(|n, _| async move {
        match n {
            0 => Err(BoxError::from(io::Error::from(
                io::ErrorKind::ConnectionRefused,
            ))),
            1 => Ok(status(429)),
            _ => Ok(status(201)),
        }
    });
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(policy()))
        .service(upstream.clone());

    let response = client.oneshot(post("create")).await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(upstream.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_post_is_not_repeated_after_a_500_or_a_reset() {
    let upstream = Upstream::new(|n, _| async move {
        match n {
            0 => Ok(status(500)),
            _ => Err(BoxError::from(io::Error::from(
                io::ErrorKind::ConnectionReset,
            ))),
        }
    });
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(policy()))
        .service(upstream.clone());

    assert_eq!(
        client.clone().oneshot(post("a")).await.unwrap().status(),
        500
    );
    assert!(client.clone().oneshot(post("b")).await.is_err());
    assert_eq!(upstream.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hint_past_the_deadline_ends_the_retries_at_once_and_is_reported() {
    let upstream = Upstream::new(|_, _| async {
        let mut response = status(429);
        response
            .headers_mut()
            .insert("retry-after", "20".parse().unwrap());
        Ok(response)
    });
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(policy()))
        .service(upstream.clone());

    let started = tokio::time::Instant::now();
    let mut request = get("hurried");
    request
        .extensions_mut()
        .insert(Deadline::after(Duration::from_secs(5)));
    let response = client.oneshot(request).await.unwrap();

    assert_eq!(upstream.count(), 1);
    assert_eq!(started.elapsed(), Duration::ZERO, "no sleeping in vain");
    let stopped = response.extensions().get::<RetryStopped>().unwrap();
    assert_eq!(stopped.reason, StopReason::Deadline);
    assert_eq!(stopped.retry_after, Some(Duration::from_secs(20)));
}

#[tokio::test(start_paused = true)]
async fn a_spent_budget_is_a_typed_error_for_failed_attempts() {
    let upstream = Upstream::new(|_, _| async {
        Err::<http::Response<String>, _>(BoxError::from(io::Error::from(
            io::ErrorKind::ConnectionRefused,
        )))
    });
    let empty = RetryBudget::new(Duration::from_secs(1), 0, 0.0);
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::new(empty)))
        .service(upstream.clone());

    let error = client.oneshot(get("a")).await.unwrap_err();
    let exhausted = error.downcast_ref::<RetryBudgetExhausted>().expect("typed");
    let source = std::error::Error::source(exhausted).unwrap();
    assert!(source.is::<io::Error>());
    assert_eq!(upstream.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_streaming_body_is_sent_once() {
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    let transport = tower::service_fn(move |_: http::Request<ReplayBody>| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { Ok::<_, BoxError>(status(503)) }
    });
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(policy()))
        .service(transport);

    let body = http_body_util::Full::new(bytes::Bytes::from_static(b"chunk"));
    let request = http::Request::get("https://kinde.test/")
        .body(ReplayBody::streaming(body))
        .unwrap();
    assert_eq!(client.clone().oneshot(request).await.unwrap().status(), 503);
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);

    let buffered = http::Request::get("https://kinde.test/")
        .body(ReplayBody::from("{}"))
        .unwrap();
    client.oneshot(buffered).await.unwrap();
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1 + 3);
}
