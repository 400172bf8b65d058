use governor::clock::Clock;
use governor::nanos::Nanos;
use tokio::time::Instant;

/// A governor clock on tokio's time, counting from the limiter's creation, so that a paused
/// runtime pauses the limiter too.
#[derive(Clone, Copy, Debug)]
pub(super) struct TokioClock {
    origin: Instant,
}

impl TokioClock {
    pub(super) fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    /// The tokio instant of a reading of this clock.
    pub(super) fn instant(&self, reading: Nanos) -> Instant {
        self.origin + reading.into()
    }

    /// This clock's reading at `instant`, or zero before its origin.
    pub(super) fn reading(&self, instant: Instant) -> Nanos {
        instant.saturating_duration_since(self.origin).into()
    }
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        self.reading(Instant::now())
    }
}
