use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A slot, shared through the request extensions, where the attempt timeout records how long
/// the transport took, so the breaker measures slowness without the time spent waiting for
/// permits or tokens above the transport.
#[derive(Clone, Debug, Default)]
pub(crate) struct TransportTiming(Arc<AtomicU64>);

impl TransportTiming {
    /// Records the transport's duration for this attempt.
    pub(crate) fn record(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX - 1);
        self.0.store(nanos.saturating_add(1), Ordering::Relaxed);
    }

    /// The recorded duration, if the transport was reached.
    pub(crate) fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos - 1)),
        }
    }
}
