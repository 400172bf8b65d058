use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::breaker::{Breaker, BreakerConfig, InvalidBreakerConfig};
use crate::ratelimit::{RateLimitConfig, RateLimiter};
use crate::retry::RetryBudget;

pub use crate::concurrency::DEFAULT_MAX_IN_FLIGHT;

/// The parts of the stack that belong to an upstream rather than to a credential profile: its
/// rate limiter, its bound on requests in flight, its circuit breaker and its retry budget.
///
/// Build it once per upstream (per Kinde business) and pass clones to every
/// [`StackBuilder`](super::StackBuilder) that calls it: several credential profiles then share
/// one set of limits, as the upstream sees them, while each stack keeps its own token cache.
#[derive(Clone, Debug)]
pub struct Upstream {
    limiter: RateLimiter,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    breaker: Breaker,
    budget: RetryBudget,
}

impl Upstream {
    /// An upstream named `name` (in logs and metrics) with every default.
    pub fn new(name: impl Into<String>) -> Self {
        Self::builder(name)
            .build()
            .expect("the default breaker configuration is valid")
    }

    /// Configures an upstream named `name`.
    pub fn builder(name: impl Into<String>) -> UpstreamBuilder {
        UpstreamBuilder {
            name: name.into(),
            rate_limit: RateLimitConfig::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            breaker: BreakerConfig::default(),
            budget: RetryBudget::default(),
        }
    }

    /// The shared rate limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// The shared circuit breaker; subscribe to it for health checks.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// The shared retry budget.
    pub fn budget(&self) -> &RetryBudget {
        &self.budget
    }

    /// The bound on requests in flight.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    pub(super) fn in_flight(&self) -> Arc<Semaphore> {
        self.in_flight.clone()
    }
}

/// Configures an [`Upstream`].
#[derive(Debug)]
pub struct UpstreamBuilder {
    name: String,
    rate_limit: RateLimitConfig,
    max_in_flight: usize,
    breaker: BreakerConfig,
    budget: RetryBudget,
}

impl UpstreamBuilder {
    /// The request rate and the permit wait bound.
    pub fn rate_limit(mut self, config: RateLimitConfig) -> Self {
        self.rate_limit = config;
        self
    }

    /// At most `max` requests in flight at once.
    ///
    /// # Panics
    ///
    /// If `max` is zero.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        assert!(max > 0, "an upstream needs at least one request in flight");
        self.max_in_flight = max;
        self
    }

    /// The circuit breaker's thresholds and periods.
    pub fn breaker(mut self, config: BreakerConfig) -> Self {
        self.breaker = config;
        self
    }

    /// The retry budget.
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Builds the upstream.
    ///
    /// # Errors
    ///
    /// [`InvalidBreakerConfig`] if the breaker configuration is invalid.
    pub fn build(self) -> Result<Upstream, InvalidBreakerConfig> {
        Ok(Upstream {
            limiter: self.rate_limit.build(),
            in_flight: Arc::new(Semaphore::new(self.max_in_flight)),
            max_in_flight: self.max_in_flight,
            breaker: self.breaker.build(self.name)?,
            budget: self.budget,
        })
    }
}
