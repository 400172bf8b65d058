use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::Span;

use crate::BoxError;
use crate::retry::{ResendCount, ResendReason};

/// Opens a child span per attempt (resend) and counts attempts. Place it directly below the
/// retry layer. See the [module docs](super).
#[derive(Clone, Copy, Debug, Default)]
pub struct AttemptTraceLayer(());

impl AttemptTraceLayer {
    /// The layer; it has nothing to configure.
    pub fn new() -> Self {
        Self(())
    }
}

impl<S> Layer<S> for AttemptTraceLayer {
    type Service = AttemptTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AttemptTrace::new(inner)
    }
}

/// The service of [`AttemptTraceLayer`].
#[derive(Clone, Debug)]
pub struct AttemptTrace<S> {
    inner: S,
}

impl<S> AttemptTrace<S> {
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

impl<S, B, RB> Service<Request<B>> for AttemptTrace<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<RB>;
    type Error = BoxError;
    type Future = AttemptTraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let resend = request.extensions().get::<ResendCount>().map_or(0, |r| r.0);
        let reason = request.extensions().get::<ResendReason>().map(|r| r.0);
        let span = tracing::debug_span!(
            "attempt",
            http.request.resend_count = resend,
            retry.reason = reason,
            http.response.status_code = tracing::field::Empty,
        );
        crate::metrics::attempt();

        let inner = span.in_scope(|| self.inner.call(request));
        AttemptTraceFuture { inner, span }
    }
}

pin_project! {
    /// Response future of [`AttemptTrace`].
    #[derive(Debug)]
    pub struct AttemptTraceFuture<F> {
        #[pin]
        inner: F,
        span: Span,
    }
}

impl<F, RB, E> Future for AttemptTraceFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<RB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let result = ready!(this.inner.poll(cx)).map_err(Into::into);

        match &result {
            Ok(response) => {
                this.span
                    .record("http.response.status_code", response.status().as_u16());
            }
            Err(error) => tracing::debug!(error = %error, "attempt failed"),
        }
        Poll::Ready(result)
    }
}
