use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use super::RateLimiter;

/// Default number of requests per [`DEFAULT_WINDOW`]: 600, ten a second on average.
///
/// Kinde publishes no numbers and raises limits on request; its limiter counts requests per
/// minute. Ten a second stays well inside what a single business is observed to get while
/// leaving the 429 handling to discover a lower limit. Set it from what the upstream tells you.
pub const DEFAULT_REQUESTS: NonZeroU32 = NonZeroU32::new(600).unwrap();

/// Default window for [`DEFAULT_REQUESTS`]: one minute, the unit of Kinde's own limiter.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// Default burst: 10 requests may go back to back before pacing starts, enough for a page of
/// parallel lookups without queueing, small enough not to trip the upstream's concurrency limit.
pub const DEFAULT_BURST: NonZeroU32 = NonZeroU32::new(10).unwrap();

/// Default longest wait for a permit: 5 seconds. Longer than a Kinde rate-limit reset is
/// usually worth waiting for a busy second, shorter than the overall deadline, so a caller
/// learns it is being throttled while it still has time to react.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(5);

/// Configuration of a [`RateLimiter`]: how many requests per window, the burst, and how long
/// a call may wait for a permit.
#[derive(Clone, Debug)]
pub struct RateLimitConfig {
    requests: NonZeroU32,
    window: Duration,
    burst: NonZeroU32,
    max_wait: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests: DEFAULT_REQUESTS,
            window: DEFAULT_WINDOW,
            burst: DEFAULT_BURST,
            max_wait: DEFAULT_MAX_WAIT,
        }
    }
}

impl RateLimitConfig {
    /// `requests` per `window`, with the default burst and maximum wait.
    ///
    /// # Errors
    ///
    /// [`InvalidRateLimit`] if `window` is zero, or so short that one request's share of it
    /// rounds to zero nanoseconds.
    pub fn new(requests: NonZeroU32, window: Duration) -> Result<Self, InvalidRateLimit> {
        if (window / requests.get()).is_zero() {
            return Err(InvalidRateLimit(()));
        }

        Ok(Self {
            requests,
            window,
            ..Self::default()
        })
    }

    /// How many requests may go back to back before pacing starts.
    pub fn burst(mut self, burst: NonZeroU32) -> Self {
        self.burst = burst;
        self
    }

    /// The longest a call waits for a permit before failing with
    /// [`RateLimited`](super::RateLimited). Zero never waits.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Builds the limiter, to share by cloning.
    pub fn build(self) -> RateLimiter {
        RateLimiter::new(self)
    }

    pub(super) fn period(&self) -> Duration {
        self.window / self.requests.get()
    }

    pub(super) fn burst_size(&self) -> NonZeroU32 {
        self.burst
    }

    pub(super) fn wait_bound(&self) -> Duration {
        self.max_wait
    }
}

/// A rate of zero, or too fine to measure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidRateLimit(());

impl fmt::Display for InvalidRateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid rate limit")
    }
}

impl std::error::Error for InvalidRateLimit {}
