use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::uri::Authority;
use http::{Method, Request, Response, Uri};
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
    /// The last server called, so that a client that always calls the same one neither parses
    /// the host out of the URI nor allocates its name per call.
    server: Option<Server>,
}

/// A URI authority and the host name in it, shared with the metric attributes of its calls.
#[derive(Clone, Debug)]
struct Server {
    authority: Box<str>,
    host: Arc<str>,
}

impl<S> CallTrace<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            server: None,
        }
    }

    /// The host of `uri` (empty without one), reusing the last one while the authority is the
    /// same: comparing the authority costs less than finding the host in it again.
    fn host_of(&mut self, uri: &Uri) -> Arc<str> {
        let authority = uri.authority().map_or("", Authority::as_str);
        match &self.server {
            Some(last) if *last.authority == *authority => Arc::clone(&last.host),
            _ => {
                let host = Arc::<str>::from(uri.host().unwrap_or_default());
                let server = Server {
                    authority: authority.into(),
                    host: Arc::clone(&host),
                };
                self.server = Some(server);
                host
            }
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
        let host = self.host_of(request.uri());
        // The field values are computed only when the span is enabled.
        let span = tracing::info_span!(
            "HTTP request",
            otel.kind = "client",
            request_id = request_id_of(&request),
            http.request.method = %request.method(),
            server.address = &*host,
            url.template = request.extensions().get::<UrlTemplate>().map(|t| t.0),
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let attributes = [
            KeyValue::new("http.request.method", method_name(request.method())),
            KeyValue::new("server.address", host),
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
fn request_id_of<B>(request: &Request<B>) -> Option<&str> {
    let value = request.headers().get(X_REQUEST_ID)?;
    value.to_str().ok()
}

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

#[cfg(test)]
mod tests {
    use http::Uri;

    use super::CallTrace;

    #[test]
    fn the_host_follows_the_authority_of_each_call() {
        let mut trace = CallTrace::new(());
        let hosts: Vec<String> = [
            "https://a.kinde.test/api/v1/users",
            "https://a.kinde.test/api/v1/roles",
            "https://user@b.kinde.test:8443/api",
            "/relative",
            "https://a.kinde.test/api",
        ]
        .into_iter()
        .map(|uri| trace.host_of(&uri.parse::<Uri>().unwrap()).to_string())
        .collect();

        assert_eq!(
            hosts,
            [
                "a.kinde.test",
                "a.kinde.test",
                "b.kinde.test",
                "",
                "a.kinde.test"
            ]
        );
    }
}
