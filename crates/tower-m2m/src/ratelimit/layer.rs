use tower::Layer;

use super::{RateLimit, RateLimiter};

/// Applies a shared [`RateLimiter`] to a service. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    limiter: RateLimiter,
}

impl RateLimitLayer {
    /// Limits calls with `limiter`, shared with every other holder of a clone of it.
    pub fn new(limiter: RateLimiter) -> Self {
        Self { limiter }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, self.limiter.clone())
    }
}
