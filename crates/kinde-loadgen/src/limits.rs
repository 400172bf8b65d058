//! The benchmark's own resource limits and the upstream limits that must not bind.

use std::num::NonZeroU32;
use std::time::Duration;

use tower_m2m::ratelimit::RateLimitConfig;
use tower_m2m::stack::Upstream;

/// Requests a second the benchmark upstream allows: far above what loopback can carry, so the
/// client-side limiter is never what is measured.
pub(crate) const UNBOUND_REQUESTS_PER_SECOND: u32 = 10_000_000;

/// Requests in flight the benchmark upstream allows: above the largest cold start, so every
/// caller reaches the token layer at once (the hardest case for single-flight).
pub(crate) const UNBOUND_IN_FLIGHT: usize = 65_536;

/// An upstream named `name` with the stack's defaults but for rate and concurrency limits that
/// cannot bind on loopback. Kinde's defaults (ten requests a second, ten in flight) would
/// measure the limiter, not the code.
pub(crate) fn unbound_upstream(name: &str) -> Upstream {
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

/// What raising the open-file limit achieved.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct OpenFiles {
    /// The soft limit in force now.
    pub(crate) soft: u64,
    /// The hard limit.
    pub(crate) hard: u64,
    /// Why it could not be raised, if it could not.
    pub(crate) problem: Option<String>,
}

/// Raises the soft open-file limit to the hard one, so thousands of concurrent connections
/// fit. Children inherit it.
pub(crate) fn raise_open_files() -> OpenFiles {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => {
            let hard = rlimit::getrlimit(rlimit::Resource::NOFILE)
                .map(|(_, hard)| hard)
                .unwrap_or(soft);
            OpenFiles {
                soft,
                hard,
                problem: None,
            }
        }
        Err(error) => {
            let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((0, 0));
            OpenFiles {
                soft,
                hard,
                problem: Some(error.to_string()),
            }
        }
    }
}
