//! The composed stack with the token layer: a 401 replay and retries keep the correlation
//! headers, and local token failures neither retry nor open the breaker.

mod scripted;

use std::time::Duration;

use scripted::{Upstream, get, status};
use tower::{ServiceExt, service_fn};
use tower_m2m::ReplayBody;
use tower_m2m::breaker::CircuitState;
use tower_m2m::stack::{M2mStack, Upstream as UpstreamHandle};
use tower_m2m::token::{ClientCredentials, TokenSource, TokenUnavailable};

fn token_source(available: bool) -> TokenSource {
    let endpoint = service_fn(move |_: http::Request<ReplayBody>| async move {
        let response = if available {
            let body = r#"{"access_token":"abc","token_type":"Bearer","expires_in":3600}"#;
            http::Response::new(body.to_owned())
        } else {
            let mut response = http::Response::new(String::new());
            *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
            response
        };
        Ok::<_, std::convert::Infallible>(response)
    });
    let credentials =
        ClientCredentials::builder("https://auth.test/oauth2/token", "client", "secret")
            .audience("https://kinde.test/api")
            .build()
            .unwrap();
    TokenSource::new(credentials, endpoint)
}

fn replayable(request: http::Request<String>) -> http::Request<ReplayBody> {
    request.map(ReplayBody::from)
}

#[tokio::test(start_paused = true)]
async fn a_401_replay_and_a_retry_carry_the_same_request_id() {
    let upstream = Upstream::new(|n, _| async move {
        Ok(status(match n {
            0 => 401,
            1 => 503,
            _ => 200,
        }))
    });
    let transport = upstream.clone();
    let transport = service_fn(move |request: http::Request<ReplayBody>| {
        let mut transport = transport.clone();
        tower::Service::call(&mut transport, request.map(|_| String::new()))
    });
    // A token from a minute ago: a 401 now means it went stale, so it is replayed.
    let tokens = token_source(true);
    tokens.token().await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let client = M2mStack::builder(UpstreamHandle::new("kinde"))
        .token_source(tokens)
        .service(transport);

    let response = client.oneshot(replayable(get("replayed"))).await.unwrap();
    assert_eq!(response.status(), 200);

    let seen = upstream.seen();
    assert_eq!(seen.len(), 3, "401 replayed once, then a 503 retried");
    for attempt in &seen {
        assert_eq!(
            attempt.headers["x-request-id"],
            seen[0].headers["x-request-id"]
        );
        assert_eq!(attempt.headers["authorization"], "Bearer abc");
    }
}

#[tokio::test(start_paused = true)]
async fn a_missing_token_fails_fast_without_retries_or_breaker_failures() {
    let upstream = Upstream::always(200);
    let transport = upstream.clone();
    let transport = service_fn(move |request: http::Request<ReplayBody>| {
        let mut transport = transport.clone();
        tower::Service::call(&mut transport, request.map(|_| String::new()))
    });
    let kinde = UpstreamHandle::new("kinde");
    let client = M2mStack::builder(kinde.clone())
        .token_source(token_source(false))
        .overall_timeout(Some(Duration::from_secs(5)))
        .service(transport);

    for n in 0..40 {
        let error = client
            .clone()
            .oneshot(replayable(get(&n.to_string())))
            .await
            .unwrap_err();
        assert!(error.is::<TokenUnavailable>(), "{error}");
    }
    assert_eq!(upstream.count(), 0);
    assert_eq!(kinde.breaker().state(), CircuitState::Closed);
}

/// The scripted upstream behind a transport that takes the stack's body type.
fn plain_transport(
    upstream: Upstream,
) -> impl tower::Service<
    http::Request<ReplayBody>,
    Response = http::Response<String>,
    Error = tower_m2m::BoxError,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    service_fn(move |request: http::Request<ReplayBody>| {
        let mut upstream = upstream.clone();
        tower::Service::call(&mut upstream, request.map(|_| String::new()))
    })
}

#[tokio::test(start_paused = true)]
async fn through_the_whole_stack_a_429_reset_holds_back_every_caller() {
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
    let client =
        M2mStack::builder(UpstreamHandle::new("kinde")).service(plain_transport(upstream.clone()));
    let start = tokio::time::Instant::now();

    let first = tokio::spawn(client.clone().oneshot(replayable(get("first"))));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = tokio::spawn(client.clone().oneshot(replayable(get("second"))));
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
    assert_eq!(second.await.unwrap().unwrap().status(), 200);

    let seen = upstream.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen[1..]
            .iter()
            .all(|s| s.at - start >= Duration::from_secs(3))
    );
}

#[tokio::test(start_paused = true)]
async fn through_the_whole_stack_an_open_breaker_stops_retries_at_once() {
    use tower_m2m::breaker::{BreakerConfig, CircuitOpen};

    let upstream = Upstream::always(503);
    let kinde = UpstreamHandle::builder("kinde")
        .breaker(BreakerConfig::default().minimum_calls(4))
        .build()
        .unwrap();
    let client = M2mStack::builder(kinde.clone())
        .max_attempts(3)
        .service(plain_transport(upstream.clone()));

    // The first call's three attempts and the second's first open the circuit (4 calls, all
    // failed); the second call's retry then meets the open breaker and stops.
    client.clone().oneshot(replayable(get("a"))).await.unwrap();
    let error = client
        .clone()
        .oneshot(replayable(get("b")))
        .await
        .unwrap_err();
    assert!(error.is::<CircuitOpen>(), "{error}");
    assert_eq!(upstream.count(), 4);
    assert_eq!(kinde.breaker().state(), CircuitState::Open);

    // While open, a call costs the upstream nothing, and is not retried.
    client
        .clone()
        .oneshot(replayable(get("c")))
        .await
        .unwrap_err();
    assert_eq!(upstream.count(), 4);
}
