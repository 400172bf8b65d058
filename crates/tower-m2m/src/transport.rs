//! The default HTTP transport: reqwest over rustls (aws-lc-rs).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;

use crate::body::ReplayBody;

/// A tower service sending `http` requests with a [`reqwest::Client`].
///
/// Buffered [`ReplayBody`]s are sent with a `Content-Length`; streaming ones are streamed.
/// Cloning shares the client's connection pool.
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport over a reqwest client that does not follow redirects.
    ///
    /// Redirects are returned to the caller instead: a `307` or `308` from a token endpoint
    /// would otherwise send the form with the client secret to wherever it points, and the
    /// layers above (retry, breaker, tracing) should see every hop.
    ///
    /// # Panics
    ///
    /// If the TLS backend cannot be initialised, as [`reqwest::Client::new`] does.
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the TLS backend initialises");
        Self { client }
    }

    /// A transport over `client`, for custom timeouts, proxies or TLS roots.
    pub fn from_client(client: reqwest::Client) -> Self {
        Self { client }
    }

    /// The underlying client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Service<Request<ReplayBody>> for ReqwestTransport {
    type Response = Response<reqwest::Body>;
    type Error = reqwest::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReplayBody>) -> Self::Future {
        let request = reqwest::Request::try_from(request.map(into_reqwest_body));
        let client = self.client.clone();
        Box::pin(async move {
            let response = client.execute(request?).await?;
            Ok(Response::from(response))
        })
    }
}

impl Default for ReqwestTransport {
    fn default() -> Self {
        Self::new()
    }
}

fn into_reqwest_body(body: ReplayBody) -> reqwest::Body {
    match body.as_bytes() {
        Some(bytes) => reqwest::Body::from(bytes.clone()),
        None => reqwest::Body::wrap(body),
    }
}
