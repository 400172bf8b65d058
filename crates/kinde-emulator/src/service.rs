//! [`EmulatorService`]: the emulator as an in-memory [`tower::Service`], with no socket.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use tower::Service;

use crate::endpoints::Endpoints;
use crate::faults::CloseConnection;

/// The emulator as an in-memory service: the same routes as a started emulator, called directly.
///
/// Tests on paused tokio time use this as their transport, because a paused clock jumps ahead
/// while the runtime waits on real I/O. Build one with
/// [`EmulatorBuilder::build_service`](crate::EmulatorBuilder::build_service). Clones share one
/// emulated business (state, counters, log, faults). An injected "connection closed" fault
/// surfaces as the call's [`ConnectionClosed`] error.
///
/// ```
/// use http_body_util::BodyExt as _;
/// use kinde_emulator::Emulator;
/// use tower::ServiceExt as _;
///
/// # tokio_test::block_on(async {
/// let emulator = Emulator::builder().build_service();
/// let request = http::Request::get(format!("{}/.well-known/jwks", emulator.base_url()))
///     .body(String::new())?;
/// let response = emulator.clone().oneshot(request).await?;
/// assert_eq!(response.status(), 200);
/// let jwks = response.into_body().collect().await?.to_bytes();
/// assert!(jwks.starts_with(b"{\"keys\""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct EmulatorService {
    router: Router,
    endpoints: Endpoints,
}

impl fmt::Debug for EmulatorService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorService")
            .field("base_url", &self.endpoints.base_url())
            .finish_non_exhaustive()
    }
}

impl EmulatorService {
    pub(crate) fn new(router: Router, endpoints: Endpoints) -> Self {
        Self { router, endpoints }
    }

    /// The base URL this emulator issues tokens for (the `iss`); requests may use any host.
    pub fn base_url(&self) -> &str {
        self.endpoints.base_url()
    }

    /// `<base URL>/oauth2/token`.
    pub fn token_url(&self) -> String {
        self.endpoints.token_url()
    }

    /// The Management API audience, `<base URL>/api`.
    pub fn api_audience(&self) -> String {
        self.endpoints.api_audience()
    }

    /// The issuer's JWK Set, as served at `/.well-known/jwks`.
    pub fn jwks(&self) -> serde_json::Value {
        self.endpoints.jwks()
    }
}

impl<B> Service<Request<B>> for EmulatorService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = ConnectionClosed;
    type Future = ResponseFuture<<Router as Service<Request<B>>>::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        <Router as Service<Request<B>>>::poll_ready(&mut self.router, cx)
            .map(|ready| ready.map_err(|never: Infallible| match never {}))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ResponseFuture {
            inner: self.router.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`EmulatorService::call`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
{
    type Output = Result<Response<Body>, ConnectionClosed>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let response = ready!(self.project().inner.poll(cx)).unwrap_or_else(|never| match never {});
        if response.extensions().get::<CloseConnection>().is_some() {
            return Poll::Ready(Err(ConnectionClosed(())));
        }
        Poll::Ready(Ok(response))
    }
}

/// The connection was closed without a response: an injected fault. Whether the request took
/// effect depends on the fault (`close_before_ratio` or `close_after_ratio`); a client must treat
/// the outcome as unknown, as with a real dropped connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionClosed(());

impl fmt::Display for ConnectionClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection closed without a response")
    }
}

impl std::error::Error for ConnectionClosed {}
