//! Tower middleware for APIs secured by the OAuth2 client-credentials grant.
//!
//! - [`body`]: a request body that says whether it may be sent again, shared by every layer that
//!   replays or retries a request.
//!
//! The crate works on [`http::Request`] and [`http::Response`], so its layers wrap a
//! reqwest-backed transport, a hyper-util client or a tonic channel alike.

pub mod body;

pub use body::{BoxError, ReplayBody};
