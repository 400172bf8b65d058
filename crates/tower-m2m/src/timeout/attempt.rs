use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Request;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep_until};
use tower::{Layer, Service};

use super::{AttemptTimedOut, TransportTiming};
use crate::BoxError;

/// Bounds each attempt's time in the transport. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct AttemptTimeoutLayer {
    timeout: Duration,
}

impl AttemptTimeoutLayer {
    /// Fails an attempt with [`AttemptTimedOut`] after `timeout` in the transport.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for AttemptTimeoutLayer {
    type Service = AttemptTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AttemptTimeout::new(inner, self.timeout)
    }
}

/// Bounds one attempt and measures the transport's time for the breaker. Place it directly
/// above the transport. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct AttemptTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S> AttemptTimeout<S> {
    /// Wraps `inner`, bounding each call to `timeout`.
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self { inner, timeout }
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

impl<S, B> Service<Request<B>> for AttemptTimeout<S>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = AttemptTimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let timing = request.extensions().get::<TransportTiming>().cloned();
        let started = Instant::now();

        AttemptTimeoutFuture {
            inner: self.inner.call(request),
            sleep: sleep_until(started + self.timeout),
            timeout: self.timeout,
            started,
            timing,
        }
    }
}

pin_project! {
    /// Response future of [`AttemptTimeout`].
    #[derive(Debug)]
    pub struct AttemptTimeoutFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        timeout: Duration,
        started: Instant,
        timing: Option<TransportTiming>,
    }
}

impl<F, T, E> Future for AttemptTimeoutFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();

        let result = match this.inner.poll(cx) {
            Poll::Ready(result) => result.map_err(Into::into),
            Poll::Pending => match this.sleep.poll(cx) {
                Poll::Ready(()) => Err(AttemptTimedOut::new(*this.timeout).into()),
                Poll::Pending => return Poll::Pending,
            },
        };

        if let Some(timing) = this.timing {
            timing.record(this.started.elapsed());
        }
        Poll::Ready(result)
    }
}
