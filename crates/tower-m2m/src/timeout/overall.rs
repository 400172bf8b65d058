use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::Request;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep_until};
use tower::{Layer, Service};

use super::{Deadline, DeadlineExceeded};
use crate::BoxError;

/// Applies an overall deadline to each call, retries included. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct OverallTimeoutLayer {
    timeout: Option<Duration>,
}

impl OverallTimeoutLayer {
    /// Gives every call at most `timeout`, or less if its [`Deadline`] extension says so.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
        }
    }

    /// Enforces only the [`Deadline`] that callers put in the request extensions.
    pub fn caller_deadline_only() -> Self {
        Self { timeout: None }
    }
}

impl<S> Layer<S> for OverallTimeoutLayer {
    type Service = OverallTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OverallTimeout::new(inner, self.timeout)
    }
}

/// Fails a call with [`DeadlineExceeded`] once its deadline passes. See the [module docs](super).
///
/// # Notes
///
/// The configured timeout is written to the request's [`Deadline`] extension only when the
/// caller set one (it then holds the earlier of the two); otherwise the request goes down
/// without one, to spare an allocation per call. Give the retry policy a
/// [`max_elapsed`](crate::retry::RetryPolicy::max_elapsed) no longer than this timeout so it
/// stops retrying in time, as the [stack](crate::stack) does.
#[derive(Clone, Debug)]
pub struct OverallTimeout<S> {
    inner: S,
    timeout: Option<Duration>,
}

impl<S> OverallTimeout<S> {
    /// Wraps `inner`; `None` enforces only the callers' own deadlines.
    pub fn new(inner: S, timeout: Option<Duration>) -> Self {
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

impl<S, B> Service<Request<B>> for OverallTimeout<S>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = OverallTimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // One clock reading serves both the configured deadline and the check below.
        let now = Instant::now();
        let configured = self.timeout.map(|timeout| Deadline::at(now + timeout));
        let deadline = match request.extensions().get::<Deadline>().copied() {
            // The caller's deadline is the one the retry policy reads; make it the earlier one.
            Some(requested) => {
                let deadline = configured.map_or(requested, |c| c.min(requested));
                if deadline != requested {
                    request.extensions_mut().insert(deadline);
                }
                Some(deadline)
            }
            None => configured,
        };

        // A call whose deadline has already passed (it queued too long upstream of here) is not
        // sent at all.
        let expired = deadline.is_some_and(|deadline| deadline.instant() <= now);
        OverallTimeoutFuture {
            inner: (!expired).then(|| self.inner.call(request)),
            sleep: deadline.map(|deadline| sleep_until(deadline.instant())),
        }
    }
}

pin_project! {
    /// Response future of [`OverallTimeout`].
    #[derive(Debug)]
    pub struct OverallTimeoutFuture<F> {
        #[pin]
        inner: Option<F>,
        #[pin]
        sleep: Option<Sleep>,
    }
}

impl<F, T, E> Future for OverallTimeoutFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();

        if let Some(inner) = this.inner.as_pin_mut()
            && let Poll::Ready(result) = inner.poll(cx)
        {
            return Poll::Ready(result.map_err(Into::into));
        }

        match this.sleep.as_pin_mut() {
            Some(sleep) => {
                ready!(sleep.poll(cx));
                Poll::Ready(Err(DeadlineExceeded::new().into()))
            }
            None => Poll::Pending,
        }
    }
}
