use std::fmt;
use std::time::Duration;

/// The call would have waited longer than the limiter's bound for a permit, so it was not sent.
///
/// Nothing reached the upstream. Try again after [`retry_after`](Self::retry_after), or shed
/// the work; the gateway maps it to `RESOURCE_EXHAUSTED` with that delay as `RetryInfo`.
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
