//! Overall deadlines on paused time: the earlier deadline wins, and a call past it is not sent.

mod scripted;

use std::time::Duration;

use scripted::{Upstream, get, status};
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use tower_m2m::timeout::{Deadline, DeadlineExceeded, OverallTimeoutLayer};

fn slow_upstream() -> Upstream {
    Upstream::new(|_, _| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(status(200))
    })
}

#[tokio::test(start_paused = true)]
async fn the_earlier_of_the_configured_and_the_callers_deadline_wins() {
    let upstream = slow_upstream();
    let client = ServiceBuilder::new()
        .layer(OverallTimeoutLayer::new(Duration::from_secs(30)))
        .service(upstream.clone());

    let started = Instant::now();
    let error = client.clone().oneshot(get("configured")).await.unwrap_err();
    assert!(error.is::<DeadlineExceeded>(), "{error}");
    assert_eq!(started.elapsed(), Duration::from_secs(30));

    let started = Instant::now();
    let mut hurried = get("hurried");
    hurried
        .extensions_mut()
        .insert(Deadline::after(Duration::from_secs(2)));
    client.clone().oneshot(hurried).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_call_whose_deadline_has_passed_is_not_sent() {
    let upstream = slow_upstream();
    let client = ServiceBuilder::new()
        .layer(OverallTimeoutLayer::caller_deadline_only())
        .service(upstream.clone());

    let mut late = get("late");
    late.extensions_mut()
        .insert(Deadline::after(Duration::from_secs(1)));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let error = client.oneshot(late).await.unwrap_err();
    assert!(error.is::<DeadlineExceeded>(), "{error}");
    assert_eq!(upstream.count(), 0);
}
