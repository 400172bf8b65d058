use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;
use tower::retry::Policy;

use super::{RetryFuture, RetryPolicy};
use crate::BoxError;
use crate::body::TryCloneBody;
use crate::token::ReplayHeldAbove;

/// Repeats failed calls by a [`RetryPolicy`]. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct Retry<S> {
    inner: S,
    policy: RetryPolicy,
}

impl<S> Retry<S> {
    /// Wraps `inner`, retrying by `policy`.
    pub fn new(inner: S, policy: RetryPolicy) -> Self {
        Self { inner, policy }
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

impl<S, B, RB> Service<Request<B>> for Retry<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone,
    S::Error: Into<BoxError>,
    B: TryCloneBody,
{
    type Response = Response<RB>;
    type Error = BoxError;
    type Future = RetryFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let mut policy = self.policy.start();
        let retry_request =
            Policy::<Request<B>, Response<RB>, BoxError>::clone_request(&mut policy, &request);
        if retry_request.is_some() {
            // The token layer below need not keep a copy of its own for a replay.
            request.extensions_mut().insert(ReplayHeldAbove);
        }

        // The ready service takes this call; the future keeps it for the retries.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let future = inner.call(request);

        RetryFuture::new(future, inner, policy, retry_request)
    }
}
