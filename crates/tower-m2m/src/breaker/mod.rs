//! A circuit breaker per upstream: stop calling an upstream that is failing, probe it after a
//! pause, and resume when it answers again.
//!
//! The [`Breaker`] counts outcomes over a sliding time window. Once the window holds
//! [`BreakerConfig::minimum_calls`] and the failure rate or the slow-call rate reaches its
//! threshold, the circuit opens: calls fail at once with [`CircuitOpen`], which says when the
//! breaker will try again, and never reach the inner service. After the open period the next
//! call turns it half-open: a bounded number of probes are admitted (reserved under a lock, so
//! concurrent callers cannot all slip through), the rest rejected. All probes succeeding closes
//! the circuit; one failing reopens it. A probe whose future is dropped or cancelled gives its
//! permit back, so the breaker can never stick half-open.
//!
//! Only the upstream's own failures count: 5xx responses, attempt timeouts and transport
//! errors. Any 4xx (429 included) shows a working upstream, and local outcomes (rate-limit
//! rejections, missing tokens, deadlines) say nothing about it and are ignored. Slowness is the
//! time in the transport as measured by [`AttemptTimeout`](crate::timeout::AttemptTimeout)
//! below, not the time spent waiting for permits or tokens.
//!
//! State changes are logged at `info`, exported as the `m2m.breaker.state` gauge, and
//! published through [`Breaker::subscribe`], which a health check watches.
//!
//! # Notes
//!
//! - An open circuit turns half-open when a call arrives after the open period, not on a timer;
//!   subscribers see `Open` until then.
//! - A probe holds its permit until its future settles or is dropped. A probe that hangs is
//!   bounded by the attempt timeout below the breaker; used without one, a hanging transport
//!   keeps the breaker half-open until the caller gives up.
//! - Slow calls are measured by [`AttemptTimeout`](crate::timeout::AttemptTimeout) only: without
//!   one below the breaker, no call counts as slow (failures still count).
//! - A call admitted while closed that finishes after the circuit opened is not counted: each
//!   outcome is recorded against the phase it was admitted in.
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_m2m::breaker::{BreakerConfig, CircuitBreakerLayer, CircuitState};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let breaker = BreakerConfig::default().build("kinde").unwrap();
//! let transport = service_fn(|_: http::Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(()))
//! });
//! let client = ServiceBuilder::new()
//!     .layer(CircuitBreakerLayer::new(breaker.clone()))
//!     .service(transport);
//!
//! client.oneshot(http::Request::new(())).await.unwrap();
//! assert_eq!(breaker.state(), CircuitState::Closed);
//! # }
//! ```
//!
//! Customised, for an upstream that fails rarely and recovers slowly:
//!
//! ```
//! use std::time::Duration;
//! use tower_m2m::breaker::BreakerConfig;
//!
//! let breaker = BreakerConfig::default()
//!     .failure_rate(0.25)
//!     .minimum_calls(50)
//!     .window(Duration::from_secs(60))
//!     .open_duration(Duration::from_secs(30))
//!     .half_open_probes(5)
//!     .build("billing")
//!     .unwrap();
//! let mut changes = breaker.subscribe();
//! # let _ = &mut changes;
//! ```

#[allow(clippy::module_inception)]
mod breaker;
mod config;
mod error;
mod future;
mod layer;
mod permit;
mod service;
mod state;
#[cfg(test)]
mod tests;
mod window;

pub use breaker::Breaker;
pub use config::{
    BreakerConfig, DEFAULT_FAILURE_RATE, DEFAULT_HALF_OPEN_PROBES, DEFAULT_MINIMUM_CALLS,
    DEFAULT_OPEN_DURATION, DEFAULT_SLOW_CALL_DURATION, DEFAULT_SLOW_CALL_RATE, DEFAULT_WINDOW,
    InvalidBreakerConfig,
};
pub use error::CircuitOpen;
pub use future::CircuitBreakerFuture;
pub use layer::CircuitBreakerLayer;
pub use service::CircuitBreaker;
pub use state::CircuitState;
