//! Client-side rate limiting per upstream, which waits for a permit up to a bound and holds
//! every caller back when the upstream answers 429.
//!
//! Kinde throttles by requests per minute and answers 429 with `RateLimit-Reset`, the seconds
//! until its window resets. Waiting on our side is cheaper than being refused: a
//! [`RateLimiter`] (GCRA, from `governor`) paces calls, and is shared by every clone of the
//! service and every stack that talks to the same upstream. A call waits in `poll_ready` for a
//! permit, which is backpressure; if the wait would pass [`RateLimitConfig::max_wait`], the call
//! fails at once with [`RateLimited`], saying how long to wait, instead of queueing without
//! bound.
//!
//! When a response is a 429 with `RateLimit-Reset`, `Retry-After` or `X-RateLimit-Reset`, the
//! whole limiter pauses until then, so concurrent callers stop hammering an upstream that has
//! just said no. The clock is tokio's, so tests run on paused time.
//!
//! # Notes
//!
//! - Permits are taken on admission: a call that then waits elsewhere (for a token) has still
//!   used its permit, and the upstream may see it a little later than its pace.
//! - When a 429 pause ends, the waiting callers wake together; the limiter then admits at most
//!   its burst at once and paces the rest, so the upstream never sees more than a burst.
//! - A pause is clamped to [`HINT_CEILING`](crate::retry::hint::HINT_CEILING).
//!
//! ```
//! use std::num::NonZeroU32;
//! use std::time::Duration;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_m2m::ratelimit::{RateLimitConfig, RateLimitLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Defaults: see the constants of this module for the values and their reasons.
//! let limiter = RateLimitConfig::default().build();
//!
//! // Or say what the upstream allows.
//! let limiter = RateLimitConfig::new(NonZeroU32::new(600).unwrap(), Duration::from_secs(60))
//!     .unwrap()
//!     .burst(NonZeroU32::new(20).unwrap())
//!     .max_wait(Duration::from_secs(2))
//!     .build();
//!
//! let transport = service_fn(|_: http::Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(()))
//! });
//! let client = ServiceBuilder::new().layer(RateLimitLayer::new(limiter)).service(transport);
//! let response = client.oneshot(http::Request::new(())).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # }
//! ```

mod clock;
mod config;
mod error;
mod future;
mod layer;
mod limiter;
mod service;

pub use config::{
    DEFAULT_BURST, DEFAULT_MAX_WAIT, DEFAULT_REQUESTS, DEFAULT_WINDOW, InvalidRateLimit,
    RateLimitConfig,
};
pub use error::RateLimited;
pub use future::RateLimitFuture;
pub use layer::RateLimitLayer;
pub use limiter::RateLimiter;
pub use service::RateLimit;
