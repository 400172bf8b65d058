//! [`EmulatorService`]: the emulator as an in-memory [`tower::Service`], with no socket.

use std::convert::Infallible;
use std::fmt;
use std::task::{Context as TaskContext, Poll};

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use tower::Service;

use crate::endpoints::Endpoints;

/// The emulator as an in-memory service: the same routes as a started emulator, called directly.
///
/// Tests on paused tokio time use this as their transport, because a paused clock jumps ahead
/// while the runtime waits on real I/O. Build one with
/// [`EmulatorBuilder::build_service`](crate::EmulatorBuilder::build_service). Clones share one
/// emulated business (state, counters, log).
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
    type Error = Infallible;
    type Future = <Router as Service<Request<B>>>::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        <Router as Service<Request<B>>>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.router.call(request)
    }
}
