//! Timeouts: an overall deadline for a logical call and a bound on each attempt.
//!
//! Two clocks run for every call. The overall deadline covers everything, retries and their
//! backoff included; it is carried as a [`Deadline`] request extension, so the retry policy can
//! see how much time is left and a gateway can fill it from the caller's `grpc-timeout`. The
//! attempt timeout covers one trip through the transport only, so that waiting for a rate-limit
//! permit or a token never eats into it.
//!
//! ```
//! use std::time::Duration;
//! use tower::{ServiceBuilder, service_fn};
//! use tower_m2m::timeout::{AttemptTimeoutLayer, Deadline, OverallTimeoutLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use tower::ServiceExt;
//! let transport = service_fn(|_: http::Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(()))
//! });
//! let client = ServiceBuilder::new()
//!     .layer(OverallTimeoutLayer::new(Duration::from_secs(30)))
//!     .layer(AttemptTimeoutLayer::new(Duration::from_secs(10)))
//!     .service(transport);
//!
//! // A caller with less time than the configured 30 s says so; the earlier deadline wins.
//! let mut request = http::Request::new(());
//! request.extensions_mut().insert(Deadline::after(Duration::from_secs(2)));
//! let response = client.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # }
//! ```

mod attempt;
mod deadline;
mod error;
mod overall;
mod timing;

pub use attempt::{AttemptTimeout, AttemptTimeoutFuture, AttemptTimeoutLayer};
pub use deadline::Deadline;
pub use error::{AttemptTimedOut, DeadlineExceeded};
pub use overall::{OverallTimeout, OverallTimeoutFuture, OverallTimeoutLayer};
pub(crate) use timing::TransportTiming;
