//! The cost of the cached-token path: `Auth<S>` over a no-op service against the bare service.
//!
//! Each iteration builds a request, polls the service ready, calls it and polls the response
//! future once (the no-op service answers at once). The difference between the two benchmarks is
//! what the token layer adds per request when a fresh token is cached.
//!
//! `auth` keeps a copy of each replayable request for a possible 401 replay; `auth_without_replay`
//! does not, and so shows the bearer injection alone. Benchmarks build with the crate's
//! dev-dependencies, which turn on tokio's `test-util` clock: reading the time costs a few
//! nanoseconds more here than in a production build.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use http::header::{ACCEPT, USER_AGENT};
use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service};
use tower_m2m::ReplayBody;
use tower_m2m::token::{Auth, AuthLayer, ClientCredentials, TokenSource};

/// An upstream that answers `200 OK` at once.
#[derive(Clone, Copy)]
struct NoOp;

impl Service<Request<ReplayBody>> for NoOp {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReplayBody>) -> Self::Future {
        black_box(&request);
        ready(Ok(Response::new(())))
    }
}

/// A token endpoint that always issues the same one-hour token.
fn endpoint() -> impl Service<
    Request<ReplayBody>,
    Response = Response<String>,
    Error = Infallible,
    Future = Ready<Result<Response<String>, Infallible>>,
> + Clone
+ Send
+ 'static {
    tower::service_fn(|_: Request<ReplayBody>| {
        let body = r#"{"access_token":"bench-token","token_type":"Bearer","expires_in":3600}"#;
        ready(Ok(Response::new(body.to_owned())))
    })
}

/// A typical API request: a `GET` with the headers a client sets on every call.
fn request() -> Request<ReplayBody> {
    let mut request = Request::new(ReplayBody::empty());
    *request.uri_mut() = http::Uri::from_static("https://api.example.com/api/v1/users");
    let headers = request.headers_mut();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, HeaderValue::from_static("kinde-m2m/0.1"));
    headers.insert("x-request-id", HeaderValue::from_static("4bf92f3577b34da6"));
    request
}

/// One request through `service`, which must answer without waiting.
fn one_request<S>(service: &mut S, cx: &mut Context<'_>) -> StatusCode
where
    S: Service<Request<ReplayBody>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    let Poll::Ready(Ok(())) = service.poll_ready(cx) else {
        panic!("the service must be ready at once");
    };
    let future = pin!(service.call(request()));
    match future.poll(cx) {
        Poll::Ready(Ok(response)) => response.status(),
        _ => panic!("the service must answer at once"),
    }
}

fn cached_token_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _context = runtime.enter();

    let credentials = ClientCredentials::builder("https://auth.example.com/token", "id", "secret")
        .build()
        .unwrap();
    let source = TokenSource::new(credentials, endpoint());
    runtime.block_on(source.token()).unwrap();

    let mut cx = Context::from_waker(Waker::noop());
    let mut group = c.benchmark_group("cached_token_path");
    group.bench_function("bare", |b| {
        let mut service = NoOp;
        b.iter(|| one_request(&mut service, &mut cx));
    });
    group.bench_function("auth", |b| {
        let mut service = Auth::new(NoOp, source.clone());
        b.iter(|| one_request(&mut service, &mut cx));
    });
    // Without the copy kept for a 401 replay: what the replay's readiness costs.
    group.bench_function("auth_without_replay", |b| {
        let mut service = AuthLayer::new(source.clone()).replay(false).layer(NoOp);
        b.iter(|| one_request(&mut service, &mut cx));
    });
    group.finish();
}

criterion_group!(benches, cached_token_path);
criterion_main!(benches);
