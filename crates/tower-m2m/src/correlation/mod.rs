//! Correlation: the same `x-request-id` and W3C `traceparent` on every attempt of a call, and
//! the inbound side that accepts or mints them.
//!
//! Outbound, [`CorrelationLayer`] sits outermost in the stack and sets both headers once, before
//! retries and 401 replays clone the request, so every attempt that reaches the upstream
//! carries the same id and the caller's trace. The id comes from a valid `x-request-id` header
//! already on the request, else from tower-http's [`RequestId`](tower_http::request_id::RequestId)
//! extension (set by the inbound side or the gateway), else it is minted (a random UUID). The trace
//! context is an [`opentelemetry::Context`] request extension if present, else
//! [`opentelemetry::Context::current`], written by OpenTelemetry's W3C propagator. It goes
//! through the OpenTelemetry context itself, not a tracing span, so the header is sent even when
//! a log filter disables every span.
//!
//! Inbound, [`InboundCorrelationLayer`] builds on tower-http's request-id layers: an incoming id
//! that is too long or not printable is replaced, never forwarded.
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_m2m::correlation::CorrelationLayer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let transport = service_fn(|request: http::Request<()>| async move {
//!     assert!(request.headers().contains_key("x-request-id"));
//!     Ok::<_, std::convert::Infallible>(http::Response::new(()))
//! });
//! let client = ServiceBuilder::new().layer(CorrelationLayer::new()).service(transport);
//! client.oneshot(http::Request::new(())).await.unwrap();
//! # }
//! ```

mod inbound;
mod outbound;
mod propagation;
mod request_id;

pub use inbound::{InboundCorrelation, InboundCorrelationLayer};
pub use outbound::{Correlation, CorrelationLayer};
pub use request_id::{
    MAX_REQUEST_ID_LEN, MintRequestId, X_REQUEST_ID, is_valid_request_id, new_request_id,
};
