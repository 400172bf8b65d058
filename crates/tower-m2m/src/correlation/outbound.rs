use std::task::{Context, Poll};

use http::Request;
use tower::{Layer, Service};
use tower_http::request_id::RequestId;

use super::propagation::inject;
use super::request_id::{X_REQUEST_ID, is_valid_request_id, new_request_id};

/// Adds `x-request-id` and `traceparent` to outbound requests. See the [module docs](super).
#[derive(Clone, Copy, Debug, Default)]
pub struct CorrelationLayer(());

impl CorrelationLayer {
    /// The layer; it has nothing to configure.
    pub fn new() -> Self {
        Self(())
    }
}

impl<S> Layer<S> for CorrelationLayer {
    type Service = Correlation<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Correlation::new(inner)
    }
}

/// Sets the correlation headers on every request before it goes down the stack, so every
/// retry and replay carries the same ones. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct Correlation<S> {
    inner: S,
}

impl<S> Correlation<S> {
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

impl<S, B> Service<Request<B>> for Correlation<S>
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
        let request_id = request_id_of(&request);
        request
            .headers_mut()
            .insert(X_REQUEST_ID, request_id.into_header_value());

        let context = match request.extensions().get::<opentelemetry::Context>() {
            Some(context) => context.clone(),
            None => opentelemetry::Context::current(),
        };
        inject(&context, request.headers_mut());

        self.inner.call(request)
    }
}

/// The request's id: its valid header, else its valid extension, else a new one.
fn request_id_of<B>(request: &Request<B>) -> RequestId {
    if let Some(value) = request.headers().get(X_REQUEST_ID)
        && is_valid_request_id(value)
    {
        return RequestId::new(value.clone());
    }
    if let Some(id) = request.extensions().get::<RequestId>()
        && is_valid_request_id(id.header_value())
    {
        return id.clone();
    }
    new_request_id()
}
