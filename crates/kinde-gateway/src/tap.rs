//! [`AttemptTap`]: a transport wrapper that tells the audit log what went out.

use std::task::{Context, Poll};

use http::Request;
use tower::Service;

use crate::audit::Observed;

/// Wraps the transport below the whole `tower-m2m` stack, so it sees every attempt that
/// actually leaves (retries and the 401 replay included, token requests not), and records each
/// in the call's [`Observed`] request extension.
#[derive(Clone, Debug)]
pub(crate) struct AttemptTap<S> {
    inner: S,
}

impl<S> AttemptTap<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S, B> Service<Request<B>> for AttemptTap<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if let Some(observed) = request.extensions().get::<Observed>() {
            observed.record_attempt(request.uri());
        }
        self.inner.call(request)
    }
}
