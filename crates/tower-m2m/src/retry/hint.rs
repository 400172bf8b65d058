//! Server hints on when to retry: `Retry-After`, `RateLimit-Reset`, `X-RateLimit-Reset`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use http::header::RETRY_AFTER;

/// The shortest wait a hint can ask for: 100 ms. `Retry-After: 0`, a date in the past or a
/// reset that has just passed would otherwise send every waiting caller at once.
pub const HINT_FLOOR: Duration = Duration::from_millis(100);

/// The longest wait a hint can ask for: 5 minutes. Kinde's windows are a minute; a hint far
/// beyond that is a bug or an attack, and clamping it keeps a caller from sleeping for a day.
pub const HINT_CEILING: Duration = Duration::from_secs(300);

/// Values of `X-RateLimit-Reset` above this are Unix timestamps, not seconds to wait (some
/// APIs send one, some the other; no wait is longer than 30 years).
const EPOCH_THRESHOLD: u64 = 1_000_000_000;

/// How long the server asked callers to wait, from any of the headers it may use, clamped to
/// [`HINT_FLOOR`, `HINT_CEILING`].
///
/// Reads `Retry-After` (seconds or an HTTP date), `RateLimit-Reset` (seconds, what Kinde
/// sends) and `X-RateLimit-Reset` (seconds or a Unix timestamp). When several are present the
/// longest wins. A negative, fractional-garbage or otherwise unparseable value counts as
/// absent; a huge one is clamped, never wrapped. `now` is the wall clock, for dates.
pub fn retry_hint(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let retry_after = header(headers, RETRY_AFTER.as_str()).and_then(|v| retry_after(v, now));
    let reset = header(headers, "ratelimit-reset").and_then(seconds);
    let x_reset = header(headers, "x-ratelimit-reset").and_then(|v| x_reset(v, now));

    let hint = [retry_after, reset, x_reset].into_iter().flatten().max()?;
    Some(hint.clamp(HINT_FLOOR, HINT_CEILING))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if value.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') {
        return seconds(value);
    }

    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

fn x_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let delta = seconds(value)?;
    if delta.as_secs() < EPOCH_THRESHOLD {
        return Some(delta);
    }

    let at = UNIX_EPOCH.checked_add(delta)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Non-negative whole seconds; anything longer than `u64` saturates, a sign or any other
/// character makes the value unparseable.
fn seconds(value: &str) -> Option<Duration> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }

    let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().unwrap());
        headers
    }

    #[test]
    fn kinde_reset_is_seconds() {
        let hint = retry_hint(&headers("ratelimit-reset", "3"), SystemTime::now());
        assert_eq!(hint, Some(Duration::from_secs(3)));
    }

    #[test]
    fn retry_after_accepts_a_date() {
        let now = SystemTime::now();
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        let hint = retry_after(&date, now).unwrap();
        assert!(hint <= Duration::from_secs(30) && hint >= Duration::from_secs(29));
    }

    #[test]
    fn negative_and_garbage_are_absent() {
        for value in ["-5", "soon", "1.5", "", "+3"] {
            assert_eq!(
                retry_hint(&headers("retry-after", value), SystemTime::now()),
                None
            );
        }
    }

    #[test]
    fn zero_and_huge_are_clamped() {
        let now = SystemTime::now();
        assert_eq!(
            retry_hint(&headers("retry-after", "0"), now),
            Some(HINT_FLOOR)
        );
        let huge = "99999999999999999999999999";
        assert_eq!(
            retry_hint(&headers("retry-after", huge), now),
            Some(HINT_CEILING)
        );
    }
}
