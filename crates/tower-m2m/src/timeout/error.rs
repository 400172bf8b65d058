use std::fmt;
use std::time::Duration;

/// The call's overall deadline passed before it finished.
///
/// Retrying will not help within this call; the caller's own budget is spent. The gateway maps
/// it to `DEADLINE_EXCEEDED`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadlineExceeded(());

impl DeadlineExceeded {
    pub(crate) fn new() -> Self {
        Self(())
    }
}

impl fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// One attempt spent longer than the attempt timeout in the transport.
///
/// The server may have received and acted on the request. The retry policy repeats it only when
/// the request is idempotent, and the circuit breaker counts it as an upstream failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptTimedOut {
    timeout: Duration,
}

impl AttemptTimedOut {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// The timeout that was exceeded.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl fmt::Display for AttemptTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("attempt timed out")
    }
}

impl std::error::Error for AttemptTimedOut {}
