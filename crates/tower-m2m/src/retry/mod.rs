//! Retries with jittered exponential backoff, server hints, three time bounds and a budget
//! shared per upstream.
//!
//! # What is retried
//!
//! A repeat must never act twice. So whatever the request:
//!
//! - a connection that failed before the request was sent (refused, unreachable), and
//! - a 429, which the server refused unprocessed,
//!
//! are retried; while timeouts, resets after sending, 408, 500, 502, 503 and 504 are retried
//! only when the request is idempotent ([`Idempotency`], from a request extension or the
//! method). Local rejections (rate limit bound, open circuit, deadline, missing token) are never
//! retried: the answer would be the same. A body that cannot be replayed
//! ([`TryCloneBody`](crate::body::TryCloneBody)) makes the request single-shot; see
//! [`body`](crate::body).
//!
//! # A rejected token
//!
//! Every request this layer holds a copy of carries a
//! [`ReplayHeldAbove`](crate::token::ReplayHeldAbove) extension, so a token layer
//! ([`Auth`](crate::token::Auth)) below keeps no second copy. When that layer invalidates a
//! rejected token and marks the response [`TokenRejected`](crate::token::TokenRejected), this
//! layer takes the mark off and sends the request once more at once, whatever its method
//! (upstream refused it unprocessed): once per attempt, with no backoff, nothing drawn from the
//! budget and not counted towards [`RetryPolicy::max_attempts`]. The replay is an attempt like
//! any other below this layer: it has its own attempt span and counts in `m2m.attempts`, its
//! reason in the span and in `m2m.retries` is `token_rejected`, the breaker records both
//! outcomes (a 401 as a success: upstream answered), and it takes a rate-limit permit and a
//! concurrency slot. So the limits can refuse it: the caller then gets their error (for example
//! [`RateLimited`](crate::ratelimit::RateLimited) when no permit comes within the limiter's
//! bound) rather than the 401. It is not made once the call's
//! [`Deadline`](crate::timeout::Deadline) has passed; the 401 is returned instead.
//!
//! # When, and for how long
//!
//! The delay is the [`Backoff`] (exponential, full jitter above a floor) or the server's hint
//! (`Retry-After`, `RateLimit-Reset`, see [`hint`]), whichever is longer: the server knows its
//! own reset. Retries stop at the first of: [`RetryPolicy::max_attempts`],
//! [`RetryPolicy::max_elapsed`], or the call's [`Deadline`](crate::timeout::Deadline). A wait
//! that would end past the deadline stops the retries at once instead of sleeping in vain, and
//! the response says so and carries the hint in a [`RetryStopped`] extension.
//!
//! # Why a budget
//!
//! Attempt limits bound one call, not the service: when the upstream is down, every call
//! retries, and three attempts each turn an outage into triple load just as it tries to
//! recover. A [`RetryBudget`] shared by all calls to one upstream lets retries add at most a set
//! share of traffic (20% by default). A retry it refuses ends the call with
//! [`RetryBudgetExhausted`] (or a [`RetryStopped`] extension on a response).
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_m2m::retry::{RetryBudget, RetryLayer, RetryPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let transport = service_fn(|_: http::Request<String>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(()))
//! });
//! // Defaults; in a real client, share one budget per upstream.
//! let policy = RetryPolicy::new(RetryBudget::default());
//! let client = ServiceBuilder::new().layer(RetryLayer::new(policy)).service(transport);
//!
//! let response = client.oneshot(http::Request::new(String::new())).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # }
//! ```
//!
//! Customised:
//!
//! ```
//! use std::time::Duration;
//! use tower_m2m::retry::{Backoff, RetryBudget, RetryLayer, RetryPolicy};
//!
//! let backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2), 3.0).unwrap();
//! let budget = RetryBudget::new(Duration::from_secs(10), 5, 0.1);
//! let policy = RetryPolicy::new(budget)
//!     .max_attempts(4)
//!     .max_elapsed(Duration::from_secs(10))
//!     .backoff(backoff);
//! let layer = RetryLayer::new(policy);
//! # let _ = layer;
//! ```

mod backoff;
mod budget;
mod error;
mod future;
pub mod hint;
mod idempotency;
mod layer;
mod outcome;
mod policy;
mod service;

pub use backoff::{
    Backoff, DEFAULT_MAX_BACKOFF, DEFAULT_MIN_BACKOFF, DEFAULT_MULTIPLIER, InvalidBackoff,
};
pub use budget::{
    DEFAULT_BUDGET_WINDOW, DEFAULT_MIN_RETRIES_PER_SECOND, DEFAULT_RETRY_RATIO, RetryBudget,
};
pub use error::RetryBudgetExhausted;
pub use future::RetryFuture;
pub use idempotency::Idempotency;
pub use layer::RetryLayer;
pub(crate) use outcome::ResendReason;
pub use outcome::{ResendCount, RetryStopped, StopReason};
pub use policy::{DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_ELAPSED, RetryPolicy};
pub use service::Retry;
