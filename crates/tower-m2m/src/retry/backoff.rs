use std::fmt;
use std::time::Duration;

/// Default first backoff: 200 ms, long enough for a transient blip to clear, short enough
/// that an interactive caller barely notices one retry.
pub const DEFAULT_MIN_BACKOFF: Duration = Duration::from_millis(200);

/// Default longest backoff: 10 s, so later attempts wait a meaningful time but a retry never
/// idles longer than a typical overall deadline allows.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Default growth per attempt: doubling, the usual choice (AWS, gRPC A6 use 2 or close).
pub const DEFAULT_MULTIPLIER: f64 = 2.0;

/// Exponential backoff with full jitter and a floor.
///
/// Before retry `n` (counting from 0) the ceiling is `min * multiplier^n`, capped at `max`, and
/// the delay is drawn uniformly between `min` and that ceiling. Jitter spreads callers that
/// failed together; the floor keeps a retry from ever following its failure at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    multiplier: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min: DEFAULT_MIN_BACKOFF,
            max: DEFAULT_MAX_BACKOFF,
            multiplier: DEFAULT_MULTIPLIER,
        }
    }
}

impl Backoff {
    /// A backoff from `min` growing by `multiplier` per retry up to `max`.
    ///
    /// # Errors
    ///
    /// [`InvalidBackoff`] if `min` is zero, `max` is below `min`, or `multiplier` is not a
    /// finite number of at least 1.
    pub fn new(min: Duration, max: Duration, multiplier: f64) -> Result<Self, InvalidBackoff> {
        let valid = !min.is_zero() && max >= min && multiplier.is_finite() && multiplier >= 1.0;
        if !valid {
            return Err(InvalidBackoff(()));
        }

        Ok(Self {
            min,
            max,
            multiplier,
        })
    }

    /// The shortest delay.
    pub fn min(&self) -> Duration {
        self.min
    }

    /// The longest delay.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The ceiling of the delay before retry `retry` (counting from 0).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry).unwrap_or(i32::MAX);
        let ceiling = self.min.as_secs_f64() * self.multiplier.powi(exponent);

        if ceiling.is_finite() && ceiling < self.max.as_secs_f64() {
            Duration::from_secs_f64(ceiling).max(self.min)
        } else {
            self.max
        }
    }

    /// The delay before retry `retry`, for a uniform draw `unit` in `[0, 1]` (out-of-range
    /// values are clamped).
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        let ceiling = self.ceiling(retry);

        self.min + (ceiling - self.min).mul_f64(unit)
    }
}

/// A backoff whose bounds contradict each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidBackoff(());

impl fmt::Display for InvalidBackoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid backoff")
    }
}

impl std::error::Error for InvalidBackoff {}
