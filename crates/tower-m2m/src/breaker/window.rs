use std::time::Duration;

use tokio::time::Instant;

/// Buckets per window: the window slides in tenths of its length.
const BUCKETS: u32 = 10;

/// Call counts over a sliding time window, kept in buckets so a read is a sum of ten entries.
#[derive(Debug)]
pub(super) struct Window {
    bucket_length: Duration,
    buckets: [Bucket; BUCKETS as usize],
    origin: Instant,
}

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    /// Index of the bucket period these counts belong to.
    period: u64,
    calls: u32,
    failures: u32,
    slow: u32,
}

/// Totals over the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Totals {
    pub(super) calls: u32,
    pub(super) failures: u32,
    pub(super) slow: u32,
}

impl Window {
    pub(super) fn new(length: Duration) -> Self {
        Self {
            bucket_length: length / BUCKETS,
            buckets: [Bucket::default(); BUCKETS as usize],
            origin: Instant::now(),
        }
    }

    pub(super) fn record(&mut self, now: Instant, failed: bool, slow: bool) {
        let period = self.period(now);
        let bucket = &mut self.buckets[(period % u64::from(BUCKETS)) as usize];
        if bucket.period != period {
            *bucket = Bucket {
                period,
                ..Bucket::default()
            };
        }

        bucket.calls += 1;
        bucket.failures += u32::from(failed);
        bucket.slow += u32::from(slow);
    }

    pub(super) fn totals(&self, now: Instant) -> Totals {
        let current = self.period(now);
        let oldest = current.saturating_sub(u64::from(BUCKETS) - 1);

        self.buckets
            .iter()
            .filter(|bucket| bucket.calls > 0 && (oldest..=current).contains(&bucket.period))
            .fold(Totals::default(), |totals, bucket| Totals {
                calls: totals.calls + bucket.calls,
                failures: totals.failures + bucket.failures,
                slow: totals.slow + bucket.slow,
            })
    }

    pub(super) fn reset(&mut self) {
        self.buckets = [Bucket::default(); BUCKETS as usize];
    }

    fn period(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin);
        (elapsed.as_nanos() / self.bucket_length.as_nanos().max(1)) as u64
    }
}
