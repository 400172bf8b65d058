use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use tokio::time::{Instant, Sleep, sleep_until};
use tower::Service;

use super::{RateLimitFuture, RateLimited, RateLimiter};
use crate::BoxError;

/// Waits for a permit from a shared [`RateLimiter`] before each call. See the
/// [module docs](super).
#[derive(Debug)]
pub struct RateLimit<S> {
    inner: S,
    limiter: RateLimiter,
    state: State,
}

#[derive(Debug)]
enum State {
    /// No permit asked for yet.
    Idle,
    /// Sleeping until a permit may be free; `since` is when this caller started waiting.
    Waiting {
        since: Instant,
        sleep: Pin<Box<Sleep>>,
    },
    /// Holding a permit; the next call goes through.
    Admitted,
    /// The wait would pass the bound; the next call fails.
    Rejected(RateLimited),
}

impl<S> RateLimit<S> {
    /// Wraps `inner`, drawing permits from `limiter`.
    pub fn new(inner: S, limiter: RateLimiter) -> Self {
        Self {
            inner,
            limiter,
            state: State::Idle,
        }
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

    fn decide(&mut self, since: Instant, now: Instant) {
        self.state = match self.limiter.try_acquire(now) {
            Ok(()) => {
                crate::metrics::ratelimit_wait(now - since);
                State::Admitted
            }
            Err(free_at) if free_at > since + self.limiter.max_wait() => {
                crate::metrics::ratelimit_rejected();
                State::Rejected(RateLimited::new(free_at - now))
            }
            Err(free_at) => {
                tracing::trace!(
                    ratelimit.wait_ms = (free_at - now).as_millis() as u64,
                    "waiting for a permit"
                );
                State::Waiting {
                    since,
                    sleep: Box::pin(sleep_until(free_at)),
                }
            }
        };
    }
}

impl<S: Clone> Clone for RateLimit<S> {
    /// A clone shares the limiter but not this service's permit.
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), self.limiter.clone())
    }
}

impl<S, B, RB> Service<Request<B>> for RateLimit<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<RB>;
    type Error = BoxError;
    type Future = RateLimitFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match &mut self.state {
                State::Admitted => return self.inner.poll_ready(cx).map_err(Into::into),
                State::Rejected(_) => return Poll::Ready(Ok(())),
                State::Idle => {
                    let now = Instant::now();
                    self.decide(now, now);
                }
                State::Waiting { since, sleep } => {
                    let since = *since;
                    ready!(sleep.as_mut().poll(cx));
                    self.decide(since, Instant::now());
                }
            }
        }
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Admitted => {
                RateLimitFuture::called(self.inner.call(request), self.limiter.clone())
            }
            State::Rejected(error) => RateLimitFuture::rejected(error),
            State::Idle | State::Waiting { .. } => {
                panic!("RateLimit::call without poll_ready returning Ready first")
            }
        }
    }
}
