//! The cost of the whole stack per request: token cached, breaker closed, limiter not binding,
//! over a no-op transport, against the bare transport; then each layer alone over the same
//! transport, and the circuit breaker's decision (closed: admit and record; open: reject).

// criterion_group! and criterion_main! generate undocumented public functions.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_m2m::ReplayBody;
use tower_m2m::breaker::{BreakerConfig, CircuitBreakerLayer, CircuitOpen};
use tower_m2m::correlation::CorrelationLayer;
use tower_m2m::ratelimit::{RateLimitConfig, RateLimitLayer};
use tower_m2m::retry::{RetryLayer, RetryPolicy};
use tower_m2m::stack::{M2mStack, Upstream};
use tower_m2m::timeout::{AttemptTimeoutLayer, OverallTimeoutLayer};
use tower_m2m::token::{AuthLayer, ClientCredentials, TokenSource};
use tower_m2m::trace::{AttemptTraceLayer, CallTraceLayer};

fn request() -> Request<ReplayBody> {
    Request::get("https://kinde.test/api/v1/users")
        .body(ReplayBody::empty())
        .unwrap()
}

fn token_source() -> TokenSource {
    let endpoint = service_fn(|_: Request<ReplayBody>| async {
        let body = r#"{"access_token":"abc","token_type":"Bearer","expires_in":86400}"#;
        Ok::<_, Infallible>(Response::new(body.to_owned()))
    });
    let credentials =
        ClientCredentials::builder("https://auth.test/oauth2/token", "client", "secret")
            .audience("https://kinde.test/api")
            .build()
            .unwrap();
    TokenSource::new(credentials, endpoint)
}

/// Sends `iterations` requests one after the other on a clone of `service`, as one task with its
/// own handle would, and times them.
async fn send<S>(service: &S, iterations: u64) -> Duration
where
    S: Service<Request<ReplayBody>, Response = Response<()>> + Clone,
    S::Error: std::fmt::Debug,
{
    let mut service = service.clone();
    let started = Instant::now();
    for _ in 0..iterations {
        let ready = service.ready().await.unwrap();
        let response = ready.call(request()).await.unwrap();
        std::hint::black_box(response);
    }
    started.elapsed()
}

fn stack(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let transport =
        service_fn(|_: Request<ReplayBody>| async { Ok::<_, Infallible>(Response::new(())) });

    // A limiter far above the request rate of one thread, so it never binds.
    let unbound = RateLimitConfig::new(NonZeroU32::MAX, Duration::from_secs(60))
        .unwrap()
        .burst(NonZeroU32::MAX);
    let upstream = runtime.block_on(async {
        Upstream::builder("bench")
            .rate_limit(unbound)
            .build()
            .unwrap()
    });
    let tokens = token_source();
    let client = runtime.block_on(async {
        // Fetch the token once, so the benchmark sees the cached path.
        tokens.token().await.unwrap();
        M2mStack::builder(upstream.clone())
            .token_source(tokens.clone())
            .service(transport)
    });
    let unboxed = runtime.block_on(async {
        M2mStack::builder(upstream)
            .token_source(tokens)
            .layer()
            .layer(transport)
    });

    let mut group = c.benchmark_group("stack");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("bare transport", |b| {
        b.iter_custom(|iterations| runtime.block_on(send(&transport, iterations)));
    });
    group.bench_function("full stack", |b| {
        b.iter_custom(|iterations| runtime.block_on(send(&client, iterations)));
    });
    group.bench_function("full stack, unboxed", |b| {
        b.iter_custom(|iterations| runtime.block_on(send(&unboxed, iterations)));
    });
    group.finish();

    // Each layer alone over the same transport, to see where the time goes.
    let mut layers = c.benchmark_group("layer");
    layers
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let upstream = runtime.block_on(async {
        Upstream::builder("layers")
            .rate_limit(
                RateLimitConfig::new(NonZeroU32::MAX, Duration::from_secs(60))
                    .unwrap()
                    .burst(NonZeroU32::MAX),
            )
            .build()
            .unwrap()
    });
    macro_rules! layer {
        ($name:literal, $layer:expr) => {
            let service =
                runtime.block_on(async { ServiceBuilder::new().layer($layer).service(transport) });
            layers.bench_function($name, |b| {
                b.iter_custom(|iterations| runtime.block_on(send(&service, iterations)));
            });
        };
    }
    layers.bench_function("bare transport", |b| {
        b.iter_custom(|iterations| runtime.block_on(send(&transport, iterations)));
    });
    layer!("correlation", CorrelationLayer::new());
    layer!("call trace", CallTraceLayer::new());
    layer!("attempt trace", AttemptTraceLayer::new());
    layer!(
        "overall timeout",
        OverallTimeoutLayer::new(Duration::from_secs(30))
    );
    layer!(
        "retry",
        RetryLayer::new(RetryPolicy::new(upstream.budget().clone()))
    );
    layer!(
        "breaker",
        CircuitBreakerLayer::new(upstream.breaker().clone())
    );
    layer!("concurrency", GlobalConcurrencyLimitLayer::new(10));
    layer!(
        "rate limit",
        RateLimitLayer::new(upstream.limiter().clone())
    );
    layer!(
        "attempt timeout",
        AttemptTimeoutLayer::new(Duration::from_secs(10))
    );
    let auth = runtime.block_on(async {
        let source = token_source();
        source.token().await.unwrap();
        AuthLayer::new(source)
    });
    layer!("auth", auth);
    layers.finish();
}

/// Like [`send`], for a service whose calls may fail: counts the failures so they are not
/// optimised away.
async fn send_fallible<S>(service: &S, iterations: u64) -> Duration
where
    S: Service<Request<ReplayBody>, Response = Response<()>> + Clone,
    S::Error: Into<tower_m2m::BoxError>,
{
    let mut service = service.clone();
    let started = Instant::now();
    for _ in 0..iterations {
        let ready = service.ready().await.map_err(Into::into).unwrap();
        std::hint::black_box(ready.call(request()).await.is_err());
    }
    started.elapsed()
}

fn breaker_decision(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let transport =
        service_fn(|_: Request<ReplayBody>| async { Ok::<_, Infallible>(Response::new(())) });
    let failing = service_fn(|_: Request<ReplayBody>| async {
        let response = Response::builder().status(503).body(()).unwrap();
        Ok::<_, Infallible>(response)
    });

    let closed = runtime.block_on(async {
        let breaker = BreakerConfig::default().build("closed").unwrap();
        CircuitBreakerLayer::new(breaker).layer(transport)
    });
    // One failure opens it for a day, so every benchmarked call is rejected.
    let open = runtime.block_on(async {
        let breaker = BreakerConfig::default()
            .minimum_calls(1)
            .open_duration(Duration::from_secs(86_400))
            .build("open")
            .unwrap();
        let mut opener = CircuitBreakerLayer::new(breaker.clone()).layer(failing);
        opener.ready().await.unwrap().call(request()).await.unwrap();
        let mut open = CircuitBreakerLayer::new(breaker).layer(transport);
        let error = open
            .ready()
            .await
            .unwrap()
            .call(request())
            .await
            .unwrap_err();
        assert!(error.is::<CircuitOpen>(), "the breaker must be open");
        open
    });

    let mut group = c.benchmark_group("breaker_decision");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("bare transport", |b| {
        b.iter_custom(|iterations| runtime.block_on(send(&transport, iterations)));
    });
    group.bench_function("closed", |b| {
        b.iter_custom(|iterations| runtime.block_on(send_fallible(&closed, iterations)));
    });
    group.bench_function("open (rejects)", |b| {
        b.iter_custom(|iterations| runtime.block_on(send_fallible(&open, iterations)));
    });
    group.finish();
}

criterion_group!(benches, stack, breaker_decision);
criterion_main!(benches);
