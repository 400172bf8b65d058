//! [`AuthLayer`]: configuration of the bearer-token layer.

use http::StatusCode;
use tower::Layer;

use super::rejection::StatusSet;
use super::service::Auth;
use super::source::TokenSource;

/// Adds `Authorization: Bearer <token>` to every request, and replays a request once when
/// upstream rejects its token. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct AuthLayer {
    pub(crate) source: TokenSource,
    pub(crate) rejected: StatusSet,
    pub(crate) replay: bool,
}

impl AuthLayer {
    /// A layer taking tokens from `source`; `401` counts as a rejected token and a rejected
    /// request with a replayable body is replayed once.
    pub fn new(source: TokenSource) -> Self {
        Self {
            source,
            rejected: StatusSet::unauthorized(),
            replay: true,
        }
    }

    /// The response statuses that mean "token rejected" (only `401` by default). Some
    /// providers answer `403` to a token that expired in flight; add it for them.
    ///
    /// # Panics
    ///
    /// If a status is not a 4xx.
    pub fn rejected_statuses(mut self, statuses: impl IntoIterator<Item = StatusCode>) -> Self {
        self.rejected = StatusSet::from_statuses(statuses);
        self
    }

    /// Whether to replay a request whose token was rejected (on by default). Off, a rejected
    /// token is still invalidated and the rejection returned to the caller. A single request
    /// opts out with the [`NoAuthReplay`](super::NoAuthReplay) extension.
    pub fn replay(mut self, enabled: bool) -> Self {
        self.replay = enabled;
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth::from_layer(inner, self.clone())
    }
}
