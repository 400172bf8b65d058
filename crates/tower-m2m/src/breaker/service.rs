use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;

use super::permit::Permit;
use super::{Breaker, CircuitBreakerFuture, CircuitOpen};
use crate::BoxError;
use crate::timeout::TransportTiming;

/// Rejects calls while the upstream's circuit is open. See the [module docs](super).
#[derive(Debug)]
pub struct CircuitBreaker<S> {
    inner: S,
    breaker: Breaker,
    admission: Option<Result<Permit, CircuitOpen>>,
}

impl<S> CircuitBreaker<S> {
    /// Wraps `inner`, guarded by `breaker`.
    pub fn new(inner: S, breaker: Breaker) -> Self {
        Self {
            inner,
            breaker,
            admission: None,
        }
    }

    /// The shared breaker.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone> Clone for CircuitBreaker<S> {
    /// A clone shares the breaker but not this service's admission.
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), self.breaker.clone())
    }
}

impl<S, B, RB> Service<Request<B>> for CircuitBreaker<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<RB>;
    type Error = BoxError;
    type Future = CircuitBreakerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let admission = self.admission.get_or_insert_with(|| self.breaker.admit());

        match admission {
            // A rejected call needs nothing from the inner service.
            Err(_) => Poll::Ready(Ok(())),
            Ok(_) => self.inner.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let admission = self
            .admission
            .take()
            .expect("CircuitBreaker::call without poll_ready returning Ready first");

        match admission {
            Ok(permit) => {
                let timing = TransportTiming::default();
                request.extensions_mut().insert(timing.clone());
                CircuitBreakerFuture::called(self.inner.call(request), permit, timing)
            }
            Err(open) => CircuitBreakerFuture::rejected(open),
        }
    }
}
