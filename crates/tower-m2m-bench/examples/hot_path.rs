//! Sends a fixed number of requests down one path of the stack, for instruction counts under
//! valgrind's callgrind (see BENCHMARKS.md). Criterion's timings vary with the machine's load;
//! instruction counts do not.
//!
//! ```text
//! cargo build --release -p tower-m2m-bench --example hot_path
//! valgrind --tool=callgrind target/release/examples/hot_path auth 100000
//! ```
//!
//! Paths: `bare` (the no-op transport alone), `auth`, `auth-no-replay`, `stack`,
//! `stack-no-auth`, and `bare-held-above` / `auth-held-above` (requests marked
//! `ReplayHeldAbove`, as under the retry layer). Run each with two counts: the difference in
//! instructions divided by the difference in requests is the cost of one request, without the
//! set-up.

use std::convert::Infallible;
use std::future::ready;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use http::header::{ACCEPT, USER_AGENT};
use http::{HeaderValue, Request, Response};
use tower::layer::util::Identity;
use tower::{Layer, Service, ServiceExt};
use tower_m2m::ReplayBody;
use tower_m2m::ratelimit::RateLimitConfig;
use tower_m2m::stack::{M2mStack, Upstream};
use tower_m2m::token::{AuthLayer, ClientCredentials, ReplayHeldAbove, TokenSource};
use tower_m2m_bench::NoOp;

fn request() -> Request<ReplayBody> {
    let mut request = Request::new(ReplayBody::empty());
    *request.uri_mut() = http::Uri::from_static("https://api.example.com/api/v1/users");
    let headers = request.headers_mut();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, HeaderValue::from_static("kinde-m2m/0.1"));
    request
}

fn token_source() -> TokenSource {
    let endpoint = tower::service_fn(|_: Request<ReplayBody>| {
        let body = r#"{"access_token":"abc","token_type":"Bearer","expires_in":86400}"#;
        ready(Ok::<_, Infallible>(Response::new(body.to_owned())))
    });
    let credentials =
        ClientCredentials::builder("https://auth.test/oauth2/token", "client", "secret")
            .build()
            .expect("valid credentials");
    TokenSource::new(credentials, endpoint)
}

/// The same request, marked as copied by a layer above, as the retry layer marks it.
fn request_held_above() -> Request<ReplayBody> {
    let mut request = request();
    request.extensions_mut().insert(ReplayHeldAbove);
    request
}

async fn send<S>(service: S, iterations: u64)
where
    S: Service<Request<ReplayBody>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    send_of(service, iterations, request).await;
}

async fn send_of<S>(mut service: S, iterations: u64, make: fn() -> Request<ReplayBody>)
where
    S: Service<Request<ReplayBody>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    for _ in 0..iterations {
        let ready = service.ready().await.expect("ready");
        black_box(ready.call(make()).await.expect("a response"));
    }
}

fn upstream() -> Upstream {
    let unbound = RateLimitConfig::new(NonZeroU32::MAX, Duration::from_secs(60))
        .expect("valid rate")
        .burst(NonZeroU32::MAX);
    Upstream::builder("bench")
        .rate_limit(unbound)
        .build()
        .expect("valid upstream")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "auth".to_owned());
    let iterations: u64 = args.next().map_or(100_000, |n| n.parse().expect("a count"));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let source = token_source();
        source.token().await.expect("a token");
        match path.as_str() {
            "bare" => send(NoOp, iterations).await,
            "auth" => send(AuthLayer::new(source).layer(NoOp), iterations).await,
            "bare-held-above" => send_of(NoOp, iterations, request_held_above).await,
            "auth-held-above" => {
                let auth = AuthLayer::new(source).layer(NoOp);
                send_of(auth, iterations, request_held_above).await;
            }
            "auth-no-replay" => {
                let auth = AuthLayer::new(source).replay(false);
                send(auth.layer(NoOp), iterations).await;
            }
            "stack" => {
                let stack = M2mStack::builder(upstream()).token_source(source);
                send(stack.layer().layer(NoOp), iterations).await;
            }
            "stack-no-auth" => {
                let stack = M2mStack::builder(upstream()).auth(Identity::new());
                send(stack.layer().layer(NoOp), iterations).await;
            }
            other => panic!("unknown path {other}"),
        }
    });
}
