use std::time::Duration;

use super::Breaker;
use super::state::Outcome;

/// A call's admission through the breaker. A probe's permit that is dropped without an outcome
/// (its future was cancelled) is given back, so the breaker never sticks half-open.
#[derive(Debug)]
pub(super) struct Permit {
    breaker: Breaker,
    epoch: u64,
    probe: bool,
    settled: bool,
}

impl Permit {
    pub(super) fn new(breaker: Breaker, epoch: u64, probe: bool) -> Self {
        Self {
            breaker,
            epoch,
            probe,
            settled: false,
        }
    }

    /// Reports the call's outcome and its time in the transport.
    pub(super) fn settle(mut self, outcome: Outcome, elapsed: Duration) {
        self.settled = true;
        self.breaker
            .record(self.epoch, self.probe, outcome, elapsed);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.breaker.release(self.epoch);
        }
    }
}
