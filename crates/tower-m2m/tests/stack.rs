//! The composed stack with the token layer: a 401 replay and retries keep the correlation
//! headers, and local token failures neither retry nor open the breaker.

mod common;
mod scripted;

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{Endpoint, token_body};
use scripted::{Upstream, get, post, status};
use tower::{Layer, ServiceExt, service_fn};
use tower_m2m::ReplayBody;
use tower_m2m::breaker::CircuitState;
use tower_m2m::ratelimit::RateLimitConfig;
use tower_m2m::retry::{RetryBudget, RetryLayer, RetryPolicy};
use tower_m2m::stack::{M2mStack, Upstream as UpstreamHandle};
use tower_m2m::timeout::Deadline;
use tower_m2m::token::{
    AuthLayer, ClientCredentials, NoAuthReplay, RefreshPolicy, TokenRejected, TokenSource,
    TokenUnavailable,
};

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

/// A source issuing `token-1`, `token-2`, ... whose first token is a minute old, past its
/// invalidation grace, as in a service that has been running.
async fn warm_source(endpoint: &Endpoint) -> TokenSource {
    let source = common::source(endpoint);
    source.token().await.unwrap();
    tokio::time::advance(Duration::from_secs(60)).await;
    source
}

/// An upstream that rejects `token-1` and answers `then` to any other token.
fn rejecting_the_first_token(then: u16) -> Upstream {
    Upstream::new(move |_, request| {
        let code = if request.headers()["authorization"] == "Bearer token-1" {
            401
        } else {
            then
        };
        async move { Ok(status(code)) }
    })
}

/// The scripted upstream behind a transport that records each request body it sends.
fn recording_transport(
    upstream: Upstream,
    bodies: Arc<Mutex<Vec<Bytes>>>,
) -> impl tower::Service<
    http::Request<ReplayBody>,
    Response = http::Response<String>,
    Error = tower_m2m::BoxError,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    service_fn(move |request: http::Request<ReplayBody>| {
        let body = request.body().as_bytes().cloned().unwrap_or_default();
        bodies.lock().unwrap().push(body);
        let mut upstream = upstream.clone();
        tower::Service::call(&mut upstream, request.map(|_| String::new()))
    })
}

#[tokio::test(start_paused = true)]
async fn a_rejected_token_is_replayed_once_even_for_a_post_and_takes_a_rate_limit_permit() {
    let endpoint = Endpoint::new(token_body(3600));
    let source = warm_source(&endpoint).await;
    // One request per 10 s: the replay is a second request to upstream, so it waits its turn.
    let one_per_ten_seconds = RateLimitConfig::new(NonZeroU32::MIN, Duration::from_secs(10))
        .unwrap()
        .burst(NonZeroU32::MIN)
        .max_wait(Duration::from_secs(30));
    let kinde = UpstreamHandle::builder("kinde")
        .rate_limit(one_per_ten_seconds)
        .build()
        .unwrap();
    let upstream = rejecting_the_first_token(201);
    let bodies = Arc::default();
    let client = M2mStack::builder(kinde)
        .token_source(source)
        .service(recording_transport(upstream.clone(), Arc::clone(&bodies)));

    let response = client
        .oneshot(post("creator").map(ReplayBody::from))
        .await
        .unwrap();

    assert_eq!(response.status(), 201);
    let seen = upstream.seen();
    assert_eq!(seen.len(), 2, "the request and one replay");
    assert!(
        seen.iter()
            .all(|attempt| attempt.method == http::Method::POST)
    );
    assert_eq!(seen[0].headers["authorization"], "Bearer token-1");
    assert_eq!(seen[1].headers["authorization"], "Bearer token-2");
    assert_eq!(
        seen[1].headers["x-request-id"],
        seen[0].headers["x-request-id"]
    );
    assert_eq!(
        *bodies.lock().unwrap(),
        [Bytes::from("{}"), Bytes::from("{}")]
    );
    assert!(
        seen[1].at - seen[0].at >= Duration::from_secs(9),
        "the replay waited for a permit: {:?}",
        seen[1].at - seen[0].at
    );
    assert_eq!(endpoint.calls(), 2);
}

/// A source whose tokens are invalidated by any rejection, however new: every 401 asks for a
/// replay, so only the retry layer's own bound stops them.
fn source_without_grace(endpoint: &Endpoint) -> TokenSource {
    common::source_with(
        endpoint,
        RefreshPolicy::new().invalidation_grace(Duration::ZERO),
    )
}

#[tokio::test(start_paused = true)]
async fn a_token_replay_needs_no_retry_budget_and_happens_once_per_attempt() {
    let endpoint = Endpoint::new(token_body(3600));
    // No retries at all: a budget that allows none, and a single attempt.
    let kinde = UpstreamHandle::builder("kinde")
        .retry_budget(RetryBudget::new(Duration::from_secs(10), 0, 0.0))
        .build()
        .unwrap();
    let upstream = Upstream::always(401);
    let client = M2mStack::builder(kinde)
        .token_source(source_without_grace(&endpoint))
        .max_attempts(1)
        .service(plain_transport(upstream.clone()));

    let response = client.oneshot(replayable(get("rejected"))).await.unwrap();

    assert_eq!(response.status(), 401);
    let seen = upstream.seen();
    assert_eq!(seen.len(), 2, "one replay, not more");
    assert_eq!(seen[0].headers["authorization"], "Bearer token-1");
    assert_eq!(seen[1].headers["authorization"], "Bearer token-2");
    // The retry layer took the mark off: nothing further up would replay it again.
    assert!(response.extensions().get::<TokenRejected>().is_none());
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_retry_layer_above_the_stack_does_not_replay_the_rejection_again() {
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::always(401);
    let stack = M2mStack::builder(UpstreamHandle::new("kinde"))
        .token_source(source_without_grace(&endpoint))
        .service(plain_transport(upstream.clone()));
    let client = RetryLayer::new(RetryPolicy::new(RetryBudget::default())).layer(stack);

    let response = client.oneshot(replayable(get("nested"))).await.unwrap();

    assert_eq!(response.status(), 401);
    assert_eq!(upstream.count(), 2);
    assert_eq!(endpoint.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_token_rejected_on_a_later_attempt_is_replayed_too() {
    let endpoint = Endpoint::new(token_body(3600));
    let upstream = Upstream::new(|n, _| async move {
        Ok(status(match n {
            0 | 2 => 401,
            1 => 503,
            _ => 200,
        }))
    });
    let client = M2mStack::builder(UpstreamHandle::new("kinde"))
        .token_source(source_without_grace(&endpoint))
        .service(plain_transport(upstream.clone()));

    let response = client.oneshot(replayable(get("later"))).await.unwrap();

    assert_eq!(response.status(), 200);
    let tokens: Vec<_> = upstream
        .seen()
        .iter()
        .map(|attempt| attempt.headers["authorization"].clone())
        .collect();
    // 401, its replay 503, the retry 401 (its token now rejected), that one's replay 200.
    assert_eq!(
        tokens,
        [
            "Bearer token-1",
            "Bearer token-2",
            "Bearer token-2",
            "Bearer token-3"
        ]
    );
    assert_eq!(endpoint.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_token_rejected_after_the_deadline_is_not_replayed() {
    let endpoint = Endpoint::new(token_body(3600));
    let source = warm_source(&endpoint).await;
    // The retry layer without an overall timeout above it: it alone keeps the deadline.
    let upstream = Upstream::new(|_, request| {
        let rejected = request.headers()["authorization"] == "Bearer token-1";
        async move {
            if rejected {
                tokio::time::sleep(Duration::from_secs(6)).await;
                return Ok(status(401));
            }
            Ok(status(200))
        }
    });
    let client = tower::ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::new(RetryBudget::default())))
        .layer(AuthLayer::new(source))
        .service(plain_transport(upstream.clone()));

    let mut request = replayable(get("late"));
    request
        .extensions_mut()
        .insert(Deadline::after(Duration::from_secs(5)));
    let response = client.oneshot(request).await.unwrap();

    assert_eq!(response.status(), 401);
    assert_eq!(upstream.count(), 1, "no replay past the deadline");
}

#[tokio::test(start_paused = true)]
async fn through_the_stack_no_replay_is_made_when_none_is_wanted_or_possible() {
    let endpoint = Endpoint::new(token_body(3600));
    let source = warm_source(&endpoint).await;
    let opted_out = || {
        let mut request = replayable(get("opted-out"));
        request.extensions_mut().insert(NoAuthReplay);
        request
    };
    let streaming = || {
        let chunk = http_body_util::Full::new(Bytes::from_static(b"{}"));
        post("streaming").map(|_| ReplayBody::streaming(chunk))
    };
    let cases: [(&str, AuthLayer, http::Request<ReplayBody>); 3] = [
        ("NoAuthReplay", AuthLayer::new(source.clone()), opted_out()),
        (
            "replay(false)",
            AuthLayer::new(source.clone()).replay(false),
            replayable(get("off")),
        ),
        (
            "streaming body",
            AuthLayer::new(source.clone()),
            streaming(),
        ),
    ];

    for (case, auth, request) in cases {
        let upstream = Upstream::always(401);
        let client = M2mStack::builder(UpstreamHandle::new("kinde"))
            .auth(auth)
            .service(plain_transport(upstream.clone()));
        let response = client.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 401, "{case}");
        assert_eq!(upstream.count(), 1, "{case}: not replayed");
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
    recording_transport(upstream, Arc::default())
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
