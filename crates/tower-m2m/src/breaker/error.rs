use std::fmt;
use std::time::Duration;

/// The upstream's circuit is open (or half-open with all probes taken), so the attempt was not
/// sent.
///
/// The upstream has been failing, and this attempt did not reach it. An earlier attempt of the
/// same call may have, when the refused one was a retry or a replay after a rejected token, but
/// only one that is safe to repeat (see [`RateLimited`](crate::ratelimit::RateLimited)). Fail
/// fast, serve a fallback, or try again after [`retry_after`](Self::retry_after). The gateway
/// maps it to `UNAVAILABLE`, safe to retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CircuitOpen {
    retry_after: Duration,
}

impl CircuitOpen {
    pub(crate) fn new(retry_after: Duration) -> Self {
        Self { retry_after }
    }

    /// How long until the breaker lets probes through again.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("circuit open")
    }
}

impl std::error::Error for CircuitOpen {}
