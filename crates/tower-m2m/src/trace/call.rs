use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Method, Request, Response};
use opentelemetry::KeyValue;
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};
use tracing::Span;

use super::UrlTemplate;
use crate::BoxError;
use crate::classify::error_type;
use crate::correlation::X_REQUEST_ID;
use crate::retry::RetryStopped;

/// Opens a span per logical call and records the call's duration. See the [module docs](super).
#[derive(Clone, Copy, Debug, Default)]
pub struct CallTraceLayer(());

impl CallTraceLayer {
    /// The layer; it has nothing to configure.
    pub fn new() -> Self {
        Self(())
    }
}

impl<S> Layer<S> for CallTraceLayer {
    type Service = CallTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallTrace::new(inner)
    }
}

/// The service of [`CallTraceLayer`].
#[derive(Clone, Debug)]
pub struct CallTrace<S> {
    inner: S,
    /// The last host called, shared with the metric attributes of its calls so that a client
    /// that always calls the same host does not allocate its name per call.
    host: Option<Arc<str>>,
}

impl<S> CallTrace<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner, host: None }
    }

    /// `host` as a shared string, reusing the last one when it is the same.
    fn shared_host(&mut self, host: &str) -> Arc<str> {
        match &self.host {
            Some(last) if **last == *host => Arc::clone(last),
            _ => Arc::clone(self.host.insert(Arc::from(host))),
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
}

impl<S, B, RB> Service<Request<B>> for CallTrace<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<RB>;
    type Error = BoxError;
    type Future = CallTraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let template = request.extensions().get::<UrlTemplate>().map(|t| t.0);
        let host = request.uri().host().unwrap_or_default();
        let request_id = request
            .headers()
            .get(X_REQUEST_ID)
            .and_then(|value| value.to_str().ok());
        let span = tracing::info_span!(
            "HTTP request",
            otel.kind = "client",
            request_id,
            http.request.method = %request.method(),
            server.address = host,
            url.template = template,
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let attributes = [
            KeyValue::new("http.request.method", method_name(request.method())),
            KeyValue::new("server.address", self.shared_host(host)),
        ];

        let future = span.in_scope(|| self.inner.call(request));
        CallTraceFuture {
            inner: future,
            span,
            started: Instant::now(),
            attributes: Some(attributes),
        }
    }
}

pin_project! {
    /// Response future of [`CallTrace`].
    #[derive(Debug)]
    pub struct CallTraceFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        started: Instant,
        // The method and server address, for the duration metric; taken when it is recorded.
        attributes: Option<[KeyValue; 2]>,
    }
}

impl<F, RB, E> Future for CallTraceFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<RB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let result = ready!(this.inner.poll(cx)).map_err(Into::into);

        let [method, host] = this.attributes.take().expect("polled after completion");
        let outcome = match &result {
            Ok(response) => {
                let status = response.status().as_u16();
                this.span.record("http.response.status_code", status);
                if let Some(stopped) = response.extensions().get::<RetryStopped>() {
                    let attempts = stopped.attempts;
                    tracing::debug!(retry.attempts = attempts, retry.stop = ?stopped.reason);
                }
                KeyValue::new("http.response.status_code", i64::from(status))
            }
            Err(error) => {
                let error_type = error_type(error.as_ref());
                this.span.record("error.type", error_type);
                KeyValue::new("error.type", error_type)
            }
        };
        crate::metrics::request_duration(this.started.elapsed(), &[method, host, outcome]);

        Poll::Ready(result)
    }
}

/// The method as a metric attribute, without allocating for the standard ones.
fn method_name(method: &Method) -> opentelemetry::Value {
    let name = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "_OTHER",
    };
    name.into()
}
