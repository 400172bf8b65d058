use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::Quota;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use tokio::time::Instant;

use super::RateLimitConfig;
use super::clock::TokioClock;

type Gcra = governor::RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

/// One upstream's rate limiter, shared by cloning: every clone draws from the same permits and
/// sees the same 429 pause. See the [module docs](super).
#[derive(Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    gcra: Gcra,
    clock: TokioClock,
    /// Clock reading (in nanoseconds, plus one; zero for none) until which the upstream asked
    /// everyone to hold back.
    paused_until: AtomicU64,
    max_wait: Duration,
}

impl RateLimiter {
    pub(super) fn new(config: RateLimitConfig) -> Self {
        let clock = TokioClock::new();
        let quota = Quota::with_period(config.period())
            .expect("period validated by RateLimitConfig::new")
            .allow_burst(config.burst_size());

        let shared = Shared {
            gcra: governor::RateLimiter::direct_with_clock(quota, clock),
            clock,
            paused_until: AtomicU64::new(0),
            max_wait: config.wait_bound(),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Holds every caller back until `until`, as a 429's reset header asks. An earlier pause
    /// never shortens a later one.
    pub fn pause_until(&self, until: Instant) {
        let reading = self.shared.clock.reading(until).as_u64().saturating_add(1);
        self.shared
            .paused_until
            .fetch_max(reading, Ordering::AcqRel);
    }

    /// Until when the limiter is paused by the upstream, if it is.
    pub fn paused_until(&self) -> Option<Instant> {
        let until = self.pause_end()?;
        (until > Instant::now()).then_some(until)
    }

    /// Takes a permit at `now`, or says from when one may be free.
    pub(super) fn try_acquire(&self, now: Instant) -> Result<(), Instant> {
        if let Some(until) = self.pause_end()
            && until > now
        {
            return Err(until);
        }

        self.shared.gcra.check().map_err(|not_until| {
            let earliest = not_until.earliest_possible();
            self.shared.clock.instant(earliest)
        })
    }

    pub(super) fn max_wait(&self) -> Duration {
        self.shared.max_wait
    }

    fn pause_end(&self) -> Option<Instant> {
        match self.shared.paused_until.load(Ordering::Acquire) {
            0 => None,
            reading => Some(self.shared.clock.instant(Nanos::from(reading - 1))),
        }
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("now", &self.shared.clock.now())
            .field("paused_until", &self.pause_end())
            .field("max_wait", &self.shared.max_wait)
            .finish_non_exhaustive()
    }
}
