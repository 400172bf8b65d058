//! Property tests for inputs from outside: backoff bounds and server hints.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use tower_m2m::retry::Backoff;
use tower_m2m::retry::hint::{HINT_CEILING, HINT_FLOOR, retry_hint};

proptest! {
    #[test]
    fn every_backoff_delay_lies_within_its_bounds(
        min_ms in 1u64..10_000,
        extra_ms in 0u64..600_000,
        multiplier in 1.0f64..100.0,
        retry in any::<u32>(),
        unit in any::<f64>(),
    ) {
        let min = Duration::from_millis(min_ms);
        let max = min + Duration::from_millis(extra_ms);
        let backoff = Backoff::new(min, max, multiplier).unwrap();

        let delay = backoff.delay(retry, unit);
        prop_assert!(delay >= min, "{delay:?} < {min:?}");
        prop_assert!(delay <= max, "{delay:?} > {max:?}");
        prop_assert!(delay <= backoff.ceiling(retry));
        prop_assert!(backoff.ceiling(retry) <= backoff.ceiling(retry.saturating_add(1)));
    }

    #[test]
    fn a_hint_never_panics_and_never_asks_for_a_burst(
        name in prop::sample::select(vec!["retry-after", "ratelimit-reset", "x-ratelimit-reset"]),
        value in prop::collection::vec(any::<u8>(), 0..64),
        now_secs in 0u64..10_000_000_000,
    ) {
        let Ok(value) = HeaderValue::from_bytes(&value) else { return Ok(()) };
        let mut headers = HeaderMap::new();
        headers.insert(name, value);
        let now = UNIX_EPOCH + Duration::from_secs(now_secs);

        if let Some(hint) = retry_hint(&headers, now) {
            prop_assert!(hint >= HINT_FLOOR && hint <= HINT_CEILING, "{hint:?}");
        }
    }

    #[test]
    fn a_textual_hint_never_asks_for_a_burst(
        value in "[-+ 0-9a-zA-Z,:.]{0,40}",
    ) {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_str(&value).unwrap());
        headers.insert("ratelimit-reset", HeaderValue::from_str(&value).unwrap());
        if let Some(hint) = retry_hint(&headers, SystemTime::now()) {
            prop_assert!(hint >= HINT_FLOOR && hint <= HINT_CEILING, "{hint:?}");
        }
    }
}
