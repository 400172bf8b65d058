//! The whole stack, composed in the one order that makes its layers correct together.
//!
//! ```text
//! correlation -> call trace -> overall deadline -> retry -> attempt trace -> circuit breaker
//!   -> concurrency limit -> rate limit -> auth (token; a 401 replayed by retry) -> attempt timeout
//!   -> transport
//! ```
//!
//! # Why this order
//!
//! - **Correlation and trace outermost**, so the `x-request-id` and `traceparent` headers are
//!   set once, before any retry or replay clones the request (every attempt carries the same
//!   ones), and there is one span per logical call, which carries that request id.
//! - **The overall deadline above retry**, so backoff sleeps count against it, and the retry
//!   policy can see the time left and stop instead of sleeping past it.
//! - **Retry above the breaker and the limits**, so every attempt passes the breaker and takes a
//!   rate-limit permit; an open breaker (or a spent budget) ends the retries at once, and one
//!   call with three attempts is three outcomes for the breaker only when it really made three
//!   upstream calls.
//! - **The breaker above the limits**, so an open circuit rejects without waiting for a permit.
//! - **Concurrency, then rate**: a call first waits for a slot, then takes its rate permit right
//!   before sending, so permits are not spent by calls still queueing for a slot.
//! - **Auth below the limits**, so every attempt gets a token that is current when it is
//!   sent, after any wait for a slot or a permit. Auth decides on a rejected token (invalidate
//!   it, and whether to replay); the retry layer sends the replay from the copy it already
//!   holds (see [`retry`](crate::retry#a-rejected-token)), so a request is copied once, not
//!   twice, and the replay, a second request to upstream, takes a slot and a rate-limit permit
//!   like any other. It is at most one replay per attempt, outside the retry budget and the
//!   attempt count.
//! - **The attempt timeout just above the transport**, so it bounds only the time on the wire
//!   and measures that time for the breaker's slow-call rate, excluding waits for permits and
//!   tokens.
//!
//! # Per upstream, per stack
//!
//! The rate limiter, the concurrency bound, the breaker and the retry budget belong to the
//! upstream, and live in one [`Upstream`] handle. Build it once per Kinde business and hand
//! clones to the stacks of every credential profile that calls it: they share the upstream's
//! limits, while each stack has its own auth layer and token cache.
//!
//! # Defaults
//!
//! Every default is a named constant with its reason: [`DEFAULT_OVERALL_TIMEOUT`],
//! [`DEFAULT_ATTEMPT_TIMEOUT`], [`DEFAULT_MAX_IN_FLIGHT`], the rate limit's
//! ([`ratelimit`](crate::ratelimit#constants)), the retry policy's and budget's
//! ([`retry`](crate::retry#constants)) and the breaker's ([`breaker`](crate::breaker#constants)).
//! The retry policy's maximum elapsed time is capped at the overall timeout, so no retry starts
//! that the deadline would cut short.
//!
//! The stack with its defaults, on the reqwest transport, for Kinde:
//!
//! ```no_run
//! use tower::ServiceExt;
//! use tower_m2m::ReplayBody;
//! use tower_m2m::kinde::KindeCredentials;
//! use tower_m2m::stack::{M2mStack, Upstream};
//! use tower_m2m::transport::ReqwestTransport;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_m2m::BoxError> {
//! let transport = ReqwestTransport::new();
//! let credentials = KindeCredentials::new().scope("read:users").build_from_env()?;
//!
//! // One per Kinde business, shared by every credential profile's stack.
//! let kinde = Upstream::new("kinde");
//! let client = M2mStack::builder(kinde.clone())
//!     .credentials(credentials, transport.clone())
//!     .service(transport);
//!
//! let request = http::Request::get("https://example.kinde.com/api/v1/users")
//!     .body(ReplayBody::empty())?;
//! let response = client.oneshot(request).await?;
//! println!("{}", response.status());
//! # Ok(())
//! # }
//! ```
//!
//! Over any transport, here an in-memory one:
//!
//! ```
//! use tower::{ServiceExt, service_fn};
//! use tower_m2m::stack::{M2mStack, Upstream};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let transport = service_fn(|_: http::Request<String>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("{}")))
//! });
//!
//! let client = M2mStack::builder(Upstream::new("kinde")).service(transport);
//!
//! let request = http::Request::get("https://example.kinde.com/api/v1/users")
//!     .body(String::new())
//!     .unwrap();
//! let response = client.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # }
//! ```
//!
//! Customised: an upstream with its own limits, shared by two stacks.
//!
//! ```
//! use std::num::NonZeroU32;
//! use std::time::Duration;
//! use tower::service_fn;
//! use tower_m2m::breaker::BreakerConfig;
//! use tower_m2m::ratelimit::RateLimitConfig;
//! use tower_m2m::retry::RetryBudget;
//! use tower_m2m::stack::{M2mStack, Upstream};
//!
//! let rate = RateLimitConfig::new(NonZeroU32::new(300).unwrap(), Duration::from_secs(60))
//!     .unwrap()
//!     .max_wait(Duration::from_secs(1));
//! let kinde = Upstream::builder("kinde-acme")
//!     .rate_limit(rate)
//!     .max_in_flight(4)
//!     .breaker(BreakerConfig::default().open_duration(Duration::from_secs(30)))
//!     .retry_budget(RetryBudget::new(Duration::from_secs(10), 1, 0.1))
//!     .build()
//!     .unwrap();
//!
//! let transport = service_fn(|_: http::Request<String>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//! });
//! let reader = M2mStack::builder(kinde.clone())
//!     .max_attempts(4)
//!     .attempt_timeout(Duration::from_secs(5))
//!     .service(transport.clone());
//! let writer = M2mStack::builder(kinde.clone())
//!     .max_attempts(2)
//!     .overall_timeout(Some(Duration::from_secs(10)))
//!     .service(transport);
//! # let _ = (reader, writer);
//! ```
//!
//! The layers one by one, in an axum application's outbound client: the inbound side keeps or
//! mints the caller's request id (and continues its trace), and the handler passes it on, so the
//! upstream sees the caller's id. Compose a subset in the same order when the whole stack is
//! more than you need. The client is `Send + Sync`, as axum's state must be, with or without
//! the token layer.
//!
//! ```
//! use std::time::Duration;
//! use axum::extract::State;
//! use axum::routing::get;
//! use axum::{Extension, Router};
//! use tower::limit::GlobalConcurrencyLimitLayer;
//! use tower::util::BoxCloneSyncService;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_http::request_id::RequestId;
//! use tower_m2m::BoxError;
//! use tower_m2m::breaker::{BreakerConfig, CircuitBreakerLayer};
//! use tower_m2m::correlation::{CorrelationLayer, InboundCorrelationLayer};
//! use tower_m2m::ratelimit::{RateLimitConfig, RateLimitLayer};
//! use tower_m2m::retry::{RetryBudget, RetryLayer, RetryPolicy};
//! use tower_m2m::timeout::{AttemptTimeoutLayer, OverallTimeoutLayer};
//!
//! type Billing = BoxCloneSyncService<http::Request<String>, http::Response<String>, BoxError>;
//!
//! async fn invoices(State(billing): State<Billing>, Extension(id): Extension<RequestId>) -> String {
//!     let mut request = http::Request::get("https://billing.test/invoices")
//!         .body(String::new())
//!         .unwrap();
//!     request.extensions_mut().insert(id);
//!     match billing.oneshot(request).await {
//!         Ok(response) => response.into_body(),
//!         Err(error) => error.to_string(),
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let transport = service_fn(|request: http::Request<String>| async move {
//!     // What reaches the upstream: the inbound caller's id.
//!     assert_eq!(request.headers()["x-request-id"], "caller-7");
//!     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("[]")))
//! });
//! let billing = ServiceBuilder::new()
//!     .layer(CorrelationLayer::new())
//!     .layer(OverallTimeoutLayer::new(Duration::from_secs(20)))
//!     .layer(RetryLayer::new(RetryPolicy::new(RetryBudget::default())))
//!     .layer(CircuitBreakerLayer::new(BreakerConfig::default().build("billing").unwrap()))
//!     .layer(GlobalConcurrencyLimitLayer::new(8))
//!     .layer(RateLimitLayer::new(RateLimitConfig::default().build()))
//!     .layer(AttemptTimeoutLayer::new(Duration::from_secs(5)))
//!     .service(transport);
//!
//! let app = Router::new()
//!     .route("/invoices", get(invoices))
//!     .with_state(BoxCloneSyncService::new(billing))
//!     .layer(InboundCorrelationLayer::new());
//!
//! let inbound = http::Request::get("/invoices")
//!     .header("x-request-id", "caller-7")
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let response = app.oneshot(inbound).await.unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["x-request-id"], "caller-7");
//! # }
//! ```

mod builder;
mod layer;
mod upstream;

pub use builder::{
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OVERALL_TIMEOUT, M2mService, M2mStack, StackBuilder,
};
pub use layer::{M2mLayer, M2mStackService};
pub use upstream::{DEFAULT_MAX_IN_FLIGHT, Upstream, UpstreamBuilder};
