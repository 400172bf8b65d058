//! Tower middleware for APIs secured by the OAuth2 client-credentials grant.
//!
//! - [`token`]: client-credentials tokens fetched once, shared, refreshed ahead of expiry and
//!   never leaked, and [`AuthLayer`](token::AuthLayer), which puts them on requests and replays a
//!   request once when upstream rejects its token.
//! - [`body`]: a request body that says whether it may be sent again, shared by every layer that
//!   replays or retries a request.
//! - [`transport`]: the default HTTP transport, reqwest over rustls (feature `reqwest`, on by
//!   default).
//! - [`kinde`]: a preset that builds credentials for Kinde's Management API.
//!
//! The crate works on [`http::Request`] and [`http::Response`], so its layers wrap a
//! reqwest-backed transport, a hyper-util client or a tonic channel alike.

pub mod body;
pub mod kinde;
pub mod token;
#[cfg(feature = "reqwest")]
pub mod transport;

pub use body::{BoxError, ReplayBody};
