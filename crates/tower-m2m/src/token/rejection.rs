//! What counts as upstream rejecting a token, and how a request opts out of the replay.

use http::StatusCode;

/// A request extension that stops [`Auth`](super::Auth) from replaying this request when
/// upstream rejects its token. The token is still invalidated.
///
/// Use it for operations with side effects on rejection: the replay would send the request a
/// second time after the first attempt's answer has been thrown away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoAuthReplay;

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
