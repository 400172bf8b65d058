//! The cost of the cached-token path: `Auth<S>` over a no-op service against the bare service.
//!
//! Each iteration builds a request, polls the service ready, calls it and polls the response
//! future once (the no-op service answers at once). The difference between the two benchmarks is
//! what the token layer adds per request when a fresh token is cached.
//!
//! `auth` keeps a copy of each replayable request for a possible 401 replay; `auth_without_replay`
//! does not, and so shows the bearer injection alone. `auth_held_above` sends requests marked
//! [`ReplayHeldAbove`], as the retry layer marks those it holds a copy of: replay stays on, and
//! the layer keeps no copy of its own; compare it with `bare_held_above`, the bare service given
//! the same requests.
//!
//! `cargo bench -p tower-m2m --bench token` runs it with tokio's `test-util` clock compiled in
//! (this crate's tests need it); `cargo bench -p tower-m2m-bench --bench token` builds the same
//! file without it, so reading the time costs what it does in a production build. The two differ
//! by about 1% (see BENCHMARKS.md).
//!
//! `token_hit_concurrent` runs the cache hit path on 1, 2 and 16 tasks at once on a two-thread
//! runtime: `source` asks the shared [`TokenSource`] (`cached()`, a read lock), `auth` sends
//! through a clone of `Auth<NoOp>` per task (the lock-free check of the token it keeps) and
//! `bare` through the no-op service alone, for the difference. One iteration is one lookup by
//! each task; the figure per lookup is the time divided by the number of tasks (at most two run
//! at the same time on two threads).

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::header::{ACCEPT, USER_AGENT};
use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service};
use tower_m2m::ReplayBody;
use tower_m2m::token::{Auth, AuthLayer, ClientCredentials, ReplayHeldAbove, TokenSource};

// Public, or the `unreachable_pub` lint rejects `NoOp`, which is public for the
// `tower-m2m-bench` library that re-exports it from the same file.
pub mod support;

use support::NoOp;

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

/// The same request, marked as copied by a layer above, as the retry layer marks it.
fn request_held_above() -> Request<ReplayBody> {
    let mut request = request();
    request.extensions_mut().insert(ReplayHeldAbove);
    request
}

/// One request through `service`, which must answer without waiting.
fn one_request<S>(service: &mut S, cx: &mut Context<'_>) -> StatusCode
where
    S: Service<Request<ReplayBody>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    one_request_of(service, cx, request)
}

/// One request made by `make` through `service`, which must answer without waiting.
fn one_request_of<S>(
    service: &mut S,
    cx: &mut Context<'_>,
    make: fn() -> Request<ReplayBody>,
) -> StatusCode
where
    S: Service<Request<ReplayBody>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    let Poll::Ready(Ok(())) = service.poll_ready(cx) else {
        panic!("the service must be ready at once");
    };
    let future = pin!(service.call(make()));
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
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
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
    // Replay on, the copy held by a layer above (as under the retry layer), against the bare
    // service given the same marked request.
    group.bench_function("bare_held_above", |b| {
        let mut service = NoOp;
        b.iter(|| one_request_of(&mut service, &mut cx, request_held_above));
    });
    group.bench_function("auth_held_above", |b| {
        let mut service = Auth::new(NoOp, source.clone());
        b.iter(|| one_request_of(&mut service, &mut cx, request_held_above));
    });
    group.finish();
}

/// Makes, for one task, the operation it repeats.
type Lookup = Arc<dyn Fn() -> Box<dyn FnMut() + Send> + Send + Sync>;

/// One request at a time through `service`, owned by the task.
fn sending<S>(mut service: S) -> Box<dyn FnMut() + Send>
where
    S: Service<Request<ReplayBody>, Response = Response<()>> + Send + 'static,
    S::Error: std::fmt::Debug,
{
    Box::new(move || {
        let mut cx = Context::from_waker(Waker::noop());
        black_box(one_request(&mut service, &mut cx));
    })
}

/// Runs `lookup` `iterations` times on each of `tasks` tasks, all started together, and returns
/// the time from the start until the last one finished.
async fn concurrently<L>(tasks: u64, iterations: u64, lookup: L) -> Duration
where
    L: Fn() -> Box<dyn FnMut() + Send> + Send + Sync + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(tasks as usize + 1));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let start = Arc::clone(&start);
            let mut lookup = lookup();
            tokio::spawn(async move {
                start.wait().await;
                for _ in 0..iterations {
                    lookup();
                }
            })
        })
        .collect();

    start.wait().await;
    let started = Instant::now();
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

fn concurrent_hits(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let credentials = ClientCredentials::builder("https://auth.example.com/token", "id", "secret")
        .build()
        .unwrap();
    let source = runtime.block_on(async {
        let source = TokenSource::new(credentials, endpoint());
        source.token().await.unwrap();
        source
    });

    let mut group = c.benchmark_group("token_hit_concurrent");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for tasks in [1_u64, 2, 16] {
        group.throughput(Throughput::Elements(tasks));

        let shared = source.clone();
        let auth = Auth::new(NoOp, source.clone());
        let lookups: [(&str, Lookup); 3] = [
            (
                "source",
                Arc::new(move || {
                    let source = shared.clone();
                    Box::new(move || {
                        black_box(source.cached().expect("a cached token"));
                    })
                }),
            ),
            ("bare", Arc::new(|| sending(NoOp))),
            ("auth", Arc::new(move || sending(auth.clone()))),
        ];
        for (name, lookup) in lookups {
            group.bench_function(BenchmarkId::new(name, tasks), |b| {
                b.iter_custom(|iterations| {
                    let lookup = Arc::clone(&lookup);
                    runtime.block_on(concurrently(tasks, iterations, move || lookup()))
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, cached_token_path, concurrent_hits);
criterion_main!(benches);
