//! What counts as upstream rejecting a token, and how a request opts out of the replay.

use http::StatusCode;

/// A request extension that stops [`Auth`](super::Auth) from replaying this request when
/// upstream rejects its token. The token is still invalidated.
///
/// Use it for operations with side effects on rejection: the replay would send the request a
/// second time after the first attempt's answer has been thrown away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoAuthReplay;

/// A request extension saying that a layer above keeps a copy of this request and sends it
/// again when the response carries [`TokenRejected`].
///
/// [`Auth`](super::Auth) then keeps no copy of its own: on a rejected token it invalidates the
/// token, marks the response with [`TokenRejected`] and returns it, and the layer above makes
/// the one replay. [`RetryLayer`](crate::retry::RetryLayer) sets it on every request it holds a
/// copy of, so in [`M2mStack`](crate::stack::M2mStack) each request is copied once, not twice,
/// and the replay passes the breaker and the rate limiter like any other request to upstream.
///
/// A layer that sets it must make that replay, and take the mark off the response it
/// handles, replayed or not, so that no layer further up replays it again. A request marked by
/// a layer that does not replay is not replayed at all, and so is one whose response loses its
/// extensions on the way up: a layer between the two must pass them through (every layer of
/// this crate does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayHeldAbove;

/// A response extension set by [`Auth`](super::Auth) on a rejected response whose request
/// carried [`ReplayHeldAbove`]: the token it carried has been invalidated, and the request
/// may be sent once more, with a new token.
///
/// It is not set when the request opted out with [`NoAuthReplay`], when replay is off for the
/// layer, or when the rejected token is within its invalidation grace (see
/// [`RefreshPolicy::invalidation_grace`](super::RefreshPolicy::invalidation_grace)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenRejected;

/// A set of 4xx statuses, one bit each; `Copy`, so checking it costs no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StatusSet(u128);

impl StatusSet {
    /// # Panics
    ///
    /// If a status is not in `400..=499`.
    pub(crate) fn from_statuses(statuses: impl IntoIterator<Item = StatusCode>) -> Self {
        let bits = statuses.into_iter().fold(0u128, |bits, status| {
            assert!(
                status.is_client_error(),
                "token rejection statuses must be 4xx"
            );
            bits | 1 << (status.as_u16() - 400)
        });
        Self(bits)
    }

    pub(crate) fn contains(self, status: StatusCode) -> bool {
        status.is_client_error() && self.0 & (1 << (status.as_u16() - 400)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_exactly_the_given_statuses() {
        let set = StatusSet::from_statuses([StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN]);
        assert!(set.contains(StatusCode::UNAUTHORIZED));
        assert!(set.contains(StatusCode::FORBIDDEN));
        assert!(!set.contains(StatusCode::NOT_FOUND));
        assert!(!set.contains(StatusCode::OK));
        assert!(!StatusSet::from_statuses([]).contains(StatusCode::UNAUTHORIZED));
    }
}
