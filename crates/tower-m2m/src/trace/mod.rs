//! Tracing and metrics following the OpenTelemetry HTTP client conventions: a span per
//! logical call, a child span per attempt, and the request-duration histogram.
//!
//! [`CallTraceLayer`] sits outermost, just below [`Correlation`](crate::correlation::Correlation):
//! its `HTTP request` span (info level) carries the `request_id`, `http.request.method`,
//! `server.address`, `url.template` (from a [`UrlTemplate`] extension) and, once known,
//! `http.response.status_code` or `error.type`, and it records
//! `http.client.request.duration`. [`AttemptTraceLayer`] sits just below the retry layer: its
//! `attempt` span (debug level) carries `http.request.resend_count` and, on a resend,
//! `retry.reason`, and it counts
//! `m2m.attempts`. Retries by reason (`m2m.retries`), rate-limit waits, breaker state and budget
//! refusals are counted by their own layers. Metrics go to the global meter provider, whatever
//! the application installed; without one they cost next to nothing.
//!
//! Durations (`http.client.request.duration`, `m2m.ratelimit.wait`) are in seconds, in
//! histograms with explicit bucket boundaries from 5 ms to 10 s (0.005, 0.01, 0.025, 0.05,
//! 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10), as the HTTP semantic conventions
//! recommend; OpenTelemetry's default boundaries are meant for milliseconds. A view registered
//! with the meter provider overrides them.
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_m2m::trace::{AttemptTraceLayer, CallTraceLayer, UrlTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let transport = service_fn(|_: http::Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(()))
//! });
//! let client = ServiceBuilder::new()
//!     .layer(CallTraceLayer::new())
//!     .layer(AttemptTraceLayer::new())
//!     .service(transport);
//! let mut request = http::Request::new(());
//! request.extensions_mut().insert(UrlTemplate("/api/v1/users/{user_id}"));
//! client.oneshot(request).await.unwrap();
//! # }
//! ```

mod attempt;
mod call;
mod template;

pub use attempt::{AttemptTrace, AttemptTraceFuture, AttemptTraceLayer};
pub use call::{CallTrace, CallTraceFuture, CallTraceLayer};
pub use template::UrlTemplate;
