//! The emulator's clock: wall-clock time that moves with tokio's clock.
//!
//! Token times (`iat`, `exp`), expiry checks and request timestamps read this clock. It starts at
//! the real time when the emulator is built and then advances with [`tokio::time::Instant`], so a
//! test on paused time (`tokio::time::pause`, `advance`) can expire a token without sleeping.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Unix time that advances with tokio's clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    unix_at_origin: Duration,
    origin: Instant,
}

impl Clock {
    /// A clock reading the real time now.
    pub(crate) fn new() -> Self {
        let unix_at_origin = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            unix_at_origin,
            origin: Instant::now(),
        }
    }

    /// The time since the Unix epoch.
    pub(crate) fn now(&self) -> Duration {
        self.unix_at_origin + self.origin.elapsed()
    }

    /// Whole seconds since the Unix epoch.
    pub(crate) fn unix_seconds(&self) -> u64 {
        self.now().as_secs()
    }

    /// Milliseconds since the Unix epoch.
    pub(crate) fn unix_millis(&self) -> u64 {
        u64::try_from(self.now().as_millis()).unwrap_or(u64::MAX)
    }

    /// The current time as RFC 3339 in UTC with a `+00:00` offset, as Kinde writes `created_on`.
    pub(crate) fn rfc3339(&self) -> String {
        rfc3339(self.now())
    }
}

/// Formats a Unix time as RFC 3339 (UTC, microseconds).
pub(crate) fn rfc3339(since_epoch: Duration) -> String {
    let seconds = since_epoch.as_secs();
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);

    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
        since_epoch.subsec_micros(),
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);

    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            rfc3339(Duration::from_millis(1_709_251_199_250)),
            "2024-02-29T23:59:59.250000+00:00"
        );
    }
}
