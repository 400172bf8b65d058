//! [`AuthLayer`]: configuration of the bearer-token layer.

use http::StatusCode;
use tower::Layer;

use super::rejection::StatusSet;
use super::service::Auth;
use super::source::TokenSource;

/// The status that means "token rejected" by default: `401 Unauthorized`, which RFC 6750
/// prescribes for a missing, expired or revoked token. `403` is left out because it usually
/// means a missing scope, which a new token with the same scopes does not fix.
pub const DEFAULT_REJECTED_STATUS: StatusCode = StatusCode::UNAUTHORIZED;

/// Replay is on by default: a token revoked or expired in flight then costs the caller
/// nothing but latency, which is what Kinde's own guidance asks clients to do on a 401.
pub const DEFAULT_REPLAY: bool = true;

/// Adds `Authorization: Bearer <token>` to every request, and replays a request once when
/// upstream rejects its token, or leaves that replay to the layer above that holds a copy of
/// the request ([`ReplayHeldAbove`](super::ReplayHeldAbove)). See the [module docs](super).
#[derive(Clone, Debug)]
pub struct AuthLayer {
    pub(crate) source: TokenSource,
    pub(crate) rejected: StatusSet,
    pub(crate) replay: bool,
}

impl AuthLayer {
    /// A layer taking tokens from `source`; [`DEFAULT_REJECTED_STATUS`] counts as a rejected
    /// token and, with [`DEFAULT_REPLAY`], a rejected request with a replayable body is replayed
    /// once.
    pub fn new(source: TokenSource) -> Self {
        Self {
            source,
            rejected: StatusSet::from_statuses([DEFAULT_REJECTED_STATUS]),
            replay: DEFAULT_REPLAY,
        }
    }

    /// The response statuses that mean "token rejected" ([`DEFAULT_REJECTED_STATUS`] only). Some
    /// providers answer `403` to a token that expired in flight; add it for them.
    ///
    /// # Panics
    ///
    /// If a status is not a 4xx.
    pub fn rejected_statuses(mut self, statuses: impl IntoIterator<Item = StatusCode>) -> Self {
        self.rejected = StatusSet::from_statuses(statuses);
        self
    }

    /// Whether to replay a request whose token was rejected ([`DEFAULT_REPLAY`]). Off, a rejected
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
