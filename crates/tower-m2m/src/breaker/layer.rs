use tower::Layer;

use super::{Breaker, CircuitBreaker};

/// Guards a service with a shared [`Breaker`]. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct CircuitBreakerLayer {
    breaker: Breaker,
}

impl CircuitBreakerLayer {
    /// Guards calls with `breaker`, shared with every other holder of a clone of it.
    pub fn new(breaker: Breaker) -> Self {
        Self { breaker }
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreaker<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::new(inner, self.breaker.clone())
    }
}
