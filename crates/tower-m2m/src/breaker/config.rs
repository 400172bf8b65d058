use std::fmt;
use std::time::Duration;

use super::Breaker;

/// Default failure rate that opens the circuit: 50%, resilience4j's default. Half the calls
/// failing is an outage, not noise.
pub const DEFAULT_FAILURE_RATE: f64 = 0.5;

/// Default slow-call rate that opens the circuit: 80%. When nearly every call is slow the
/// upstream is struggling, and more load will not help it.
pub const DEFAULT_SLOW_CALL_RATE: f64 = 0.8;

/// Default duration from which a call counts as slow: 5 s in the transport. Kinde's
/// Management API answers in well under a second when healthy.
pub const DEFAULT_SLOW_CALL_DURATION: Duration = Duration::from_secs(5);

/// Default sliding window: 30 s (Polly's sampling duration), long enough to gather a minimum of
/// calls at modest traffic, short enough to react within a minute.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(30);

/// Default minimum calls in the window before rates are judged: 20. Fewer would let two failures
/// in a quiet minute open the circuit.
pub const DEFAULT_MINIMUM_CALLS: u32 = 20;

/// Default time the circuit stays open: 10 s, a little longer than Kinde's typical rate-limit
/// reset, so an upstream that is shedding load gets a real pause.
pub const DEFAULT_OPEN_DURATION: Duration = Duration::from_secs(10);

/// Default probes let through when half-open: 3, enough that one lucky call does not close the
/// circuit, few enough not to load a recovering upstream.
pub const DEFAULT_HALF_OPEN_PROBES: u32 = 3;

/// Configuration of a [`Breaker`]. Every setting has a default suited to Kinde; see the
/// constants of this module.
#[derive(Clone, Debug)]
pub struct BreakerConfig {
    pub(super) failure_rate: f64,
    pub(super) slow_call_rate: f64,
    pub(super) slow_call_duration: Duration,
    pub(super) window: Duration,
    pub(super) minimum_calls: u32,
    pub(super) open_duration: Duration,
    pub(super) half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_rate: DEFAULT_FAILURE_RATE,
            slow_call_rate: DEFAULT_SLOW_CALL_RATE,
            slow_call_duration: DEFAULT_SLOW_CALL_DURATION,
            window: DEFAULT_WINDOW,
            minimum_calls: DEFAULT_MINIMUM_CALLS,
            open_duration: DEFAULT_OPEN_DURATION,
            half_open_probes: DEFAULT_HALF_OPEN_PROBES,
        }
    }
}

impl BreakerConfig {
    /// The share of failed calls in the window, from 0 to 1, at which the circuit opens.
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = rate;
        self
    }

    /// The share of slow calls in the window at which the circuit opens.
    pub fn slow_call_rate(mut self, rate: f64) -> Self {
        self.slow_call_rate = rate;
        self
    }

    /// The transport time from which a call counts as slow.
    pub fn slow_call_duration(mut self, duration: Duration) -> Self {
        self.slow_call_duration = duration;
        self
    }

    /// The sliding window over which rates are computed.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Calls needed in the window before the rates are judged.
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.minimum_calls = calls;
        self
    }

    /// How long the circuit stays open before probing.
    pub fn open_duration(mut self, duration: Duration) -> Self {
        self.open_duration = duration;
        self
    }

    /// How many probes go through when half-open; all must succeed to close the circuit.
    pub fn half_open_probes(mut self, probes: u32) -> Self {
        self.half_open_probes = probes;
        self
    }

    /// Builds the breaker, named `name` in logs and metrics (the upstream's name).
    ///
    /// # Errors
    ///
    /// [`InvalidBreakerConfig`] if a rate is outside `(0, 1]`, the window is under 1 s, the
    /// minimum calls or the probes are zero, or the open duration is zero.
    pub fn build(self, name: impl Into<String>) -> Result<Breaker, InvalidBreakerConfig> {
        let rate_valid = |rate: f64| rate > 0.0 && rate <= 1.0;
        let valid = rate_valid(self.failure_rate)
            && rate_valid(self.slow_call_rate)
            && self.window >= Duration::from_secs(1)
            && self.minimum_calls > 0
            && self.half_open_probes > 0
            && !self.open_duration.is_zero();
        if !valid {
            return Err(InvalidBreakerConfig(()));
        }

        Ok(Breaker::new(name.into(), self))
    }
}

/// A breaker configuration whose values contradict each other; see [`BreakerConfig::build`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidBreakerConfig(());

impl fmt::Display for InvalidBreakerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid circuit breaker configuration")
    }
}

impl std::error::Error for InvalidBreakerConfig {}
