//! What the `kinde-loadgen` and `kinde-loadgen-gateway` binaries share: an upstream whose
//! limits cannot bind on loopback, so that both measure the code, not its limiter.
//!
//! The tool itself is the `kinde-loadgen` binary; see its documentation and BENCHMARKS.md.

use std::num::NonZeroU32;
use std::time::Duration;

use tower_m2m::ratelimit::RateLimitConfig;
use tower_m2m::stack::Upstream;

/// Requests a second the benchmark upstream allows: far above what loopback can carry, so the
/// client-side limiter is never what is measured.
pub const UNBOUND_REQUESTS_PER_SECOND: u32 = 10_000_000;

/// Requests in flight the benchmark upstream allows: above the largest cold start, so every
/// caller reaches the token layer at once (the hardest case for single-flight).
pub const UNBOUND_IN_FLIGHT: usize = 65_536;

/// An upstream named `name` with the stack's defaults (breaker, retry budget, timeouts) but for
/// rate and concurrency limits that cannot bind on loopback. Kinde's defaults (ten requests a
/// second, ten in flight) would measure the limiter, not the code.
///
/// ```
/// let upstream = kinde_loadgen::unbound_upstream("direct");
/// # let _ = upstream;
/// ```
#[must_use]
pub fn unbound_upstream(name: &str) -> Upstream {
    let requests = NonZeroU32::new(UNBOUND_REQUESTS_PER_SECOND).expect("non-zero");
    let rate = RateLimitConfig::new(requests, Duration::from_secs(1))
        .expect("a valid rate")
        .burst(requests);
    Upstream::builder(name)
        .rate_limit(rate)
        .max_in_flight(UNBOUND_IN_FLIGHT)
        .build()
        .expect("the default breaker is valid")
}
