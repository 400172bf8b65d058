//! A bound on requests in flight per upstream, with tower's own concurrency limit.
//!
//! Kinde runs a concurrency limiter beside its rate limiter: long requests (large list pages,
//! expansions) hold slots, and past the limit it sheds requests with 429. Pacing the request
//! rate does not prevent that, so the stack also bounds how many requests to one upstream are
//! in flight at once. There is nothing to write for it: tower's
//! [`GlobalConcurrencyLimitLayer`] shares one semaphore between every clone and every stack it
//! is given, which is exactly a per-upstream bound; the [`Upstream`](crate::stack::Upstream)
//! handle owns that semaphore. A call waits in `poll_ready` for a slot (backpressure, never an
//! error) and holds it until its response future completes or is dropped.
//!
//! ```
//! use std::sync::Arc;
//! use tokio::sync::Semaphore;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_m2m::concurrency::{DEFAULT_MAX_IN_FLIGHT, GlobalConcurrencyLimitLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // One semaphore per upstream, shared by every client of it.
//! let kinde_slots = Arc::new(Semaphore::new(DEFAULT_MAX_IN_FLIGHT));
//! let transport = service_fn(|_: http::Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(()))
//! });
//! let client = ServiceBuilder::new()
//!     .layer(GlobalConcurrencyLimitLayer::with_semaphore(kinde_slots.clone()))
//!     .service(transport);
//! client.oneshot(http::Request::new(())).await.unwrap();
//! assert_eq!(kinde_slots.available_permits(), DEFAULT_MAX_IN_FLIGHT);
//! # }
//! ```

pub use tower::limit::{ConcurrencyLimit, GlobalConcurrencyLimitLayer};

/// Default bound on requests in flight per upstream: 10. Ten parallel calls keep a service busy
/// without provoking Kinde's concurrency limiter, and a few long list calls cannot take every
/// slot from the rest for long.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 10;
