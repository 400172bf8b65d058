//! Tower middleware for APIs secured by the OAuth2 client-credentials grant: replayable bodies,
//! rate limiting, retries with a budget, circuit breaking, timeouts and correlation, composed in
//! one documented order.
//!
//! - [`token`]: client-credentials tokens fetched once, shared, refreshed ahead of expiry and
//!   never leaked, and [`AuthLayer`](token::AuthLayer), which puts them on requests and replays a
//!   request once when upstream rejects its token.
//! - [`body`]: a request body that says whether it may be sent again, shared by every layer that
//!   replays or retries a request.
//! - [`transport`]: the default HTTP transport, reqwest over rustls (feature `reqwest`, on by
//!   default).
//! - [`kinde`]: a preset that builds credentials for Kinde's Management API.
//! - [`ratelimit`], [`concurrency`], [`retry`], [`breaker`], [`timeout`], [`correlation`],
//!   [`trace`]: one concern each, as a `FooLayer` -> `Foo<S>` pair.
//! - [`stack`]: composes them in the order that makes them correct together; read its docs
//!   first.
//!
//! The crate works on [`http::Request`] and [`http::Response`], so its layers wrap a
//! reqwest-backed transport, a hyper-util client or a tonic channel alike. Every layer returns
//! [`BoxError`]; the typed errors of the layers ([`ratelimit::RateLimited`],
//! [`breaker::CircuitOpen`], ...) are recovered with `downcast_ref`.

pub mod body;
pub mod breaker;
pub mod concurrency;
pub mod correlation;
pub mod kinde;
pub mod ratelimit;
pub mod retry;
pub mod stack;
pub mod timeout;
pub mod token;
pub mod trace;
#[cfg(feature = "reqwest")]
pub mod transport;

mod classify;
mod metrics;

pub use body::{BoxError, ReplayBody};
