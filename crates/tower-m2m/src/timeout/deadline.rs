use std::time::Duration;

use tokio::time::Instant;

/// The instant by which a logical call must be finished, retries included.
///
/// Put it in the request extensions to give a call less time than the configured overall
/// timeout: the gateway sets it from `grpc-timeout`. [`OverallTimeout`](super::OverallTimeout)
/// enforces the earlier of this and its own bound, and the retry policy never starts an attempt,
/// or sleeps, past it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(Instant);

impl Deadline {
    /// A deadline at `instant` (tokio's clock, so paused-time tests see it move).
    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }

    /// A deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Self {
        Self(Instant::now() + timeout)
    }

    /// The instant of the deadline.
    pub fn instant(&self) -> Instant {
        self.0
    }

    /// Time left until the deadline, zero once it has passed.
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// The earlier of two deadlines.
    pub fn min(self, other: Deadline) -> Deadline {
        std::cmp::min(self, other)
    }
}
