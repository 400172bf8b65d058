use std::fmt;
use std::time::Duration;

/// The attempt would have waited longer than the limiter's bound for a permit, so it was not
/// sent.
///
/// This attempt did not reach the upstream. An earlier attempt of the same call may have,
/// when the refused one was a retry or a replay after a rejected token, but only one that is
/// safe to repeat: refused unprocessed (a 429, a rejected token), or idempotent. Try again
/// after [`retry_after`](Self::retry_after), or shed the work; the gateway maps it to
/// `RESOURCE_EXHAUSTED` with that delay as `RetryInfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimited {
    retry_after: Duration,
}

impl RateLimited {
    pub(crate) fn new(retry_after: Duration) -> Self {
        Self { retry_after }
    }

    /// How long until a permit is expected to be free.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rate limited")
    }
}

impl std::error::Error for RateLimited {}
