use std::task::{Context, Poll};

use http::Request;
use tower::{Layer, Service};
use tower_http::request_id::{PropagateRequestId, SetRequestId};

use super::propagation::extract;
use super::request_id::{MintRequestId, X_REQUEST_ID, is_valid_request_id};

/// The inbound side for a server: accepts a caller's `x-request-id` only if it is valid,
/// mints one otherwise, echoes it on the response, and continues the caller's W3C trace.
///
/// Built on tower-http's [`SetRequestId`] and [`PropagateRequestId`]; what it adds in front
/// of them is validation (an id that is too long or not printable is replaced, never
/// forwarded) and the caller's `traceparent` as an [`opentelemetry::Context`] request
/// extension, which [`Correlation`](super::Correlation) then injects into outbound calls.
#[derive(Clone, Copy, Debug, Default)]
pub struct InboundCorrelationLayer(());

impl InboundCorrelationLayer {
    /// The layer; it has nothing to configure.
    pub fn new() -> Self {
        Self(())
    }
}

impl<S> Layer<S> for InboundCorrelationLayer {
    type Service = InboundCorrelation<SetRequestId<PropagateRequestId<S>, MintRequestId>>;

    fn layer(&self, inner: S) -> Self::Service {
        let propagate = PropagateRequestId::new(inner, X_REQUEST_ID);
        InboundCorrelation::new(SetRequestId::new(propagate, X_REQUEST_ID, MintRequestId))
    }
}

/// Drops an invalid incoming `x-request-id` and records the caller's trace context, before
/// tower-http's request-id services. See [`InboundCorrelationLayer`].
#[derive(Clone, Debug)]
pub struct InboundCorrelation<S> {
    inner: S,
}

impl<S> InboundCorrelation<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
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

impl<S, B> Service<Request<B>> for InboundCorrelation<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let invalid = request
            .headers()
            .get(X_REQUEST_ID)
            .is_some_and(|value| !is_valid_request_id(value));
        if invalid {
            tracing::debug!("replacing an invalid incoming request id");
            request.headers_mut().remove(X_REQUEST_ID);
        }

        if let Some(context) = extract(request.headers()) {
            request.extensions_mut().insert(context);
        }

        self.inner.call(request)
    }
}
