//! One request to the token endpoint, through any tower service of `http` types.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use tower::{Service, ServiceExt};

use super::credentials::ClientCredentials;
use super::error::FetchError;
use super::request::token_request;
use super::response::{Failure, Grant, classify};
use crate::BoxError;
use crate::body::ReplayBody;

/// Token responses larger than 64 KiB are refused. A JWT with generous claims is a few
/// kilobytes; anything far bigger is not a token response, and reading it would waste memory.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// A boxed fetch, so that the token cache does not carry the transport's type.
pub(crate) type FetchFuture = Pin<Box<dyn Future<Output = Result<Grant, Failure>> + Send>>;

/// Makes one token request.
pub(crate) trait Fetch: Send + Sync + 'static {
    fn fetch(&self) -> FetchFuture;
}

/// Fetches tokens for one set of credentials through the transport `T`.
pub(crate) struct Endpoint<T> {
    credentials: ClientCredentials,
    /// Only cloned, never polled in place; the mutex makes the endpoint `Sync` for any `T`.
    transport: Mutex<T>,
}

impl<T> Endpoint<T> {
    pub(crate) fn new(credentials: ClientCredentials, transport: T) -> Self {
        Self {
            credentials,
            transport: Mutex::new(transport),
        }
    }
}

impl<T, B> Fetch for Endpoint<T>
where
    T: Service<Request<ReplayBody>, Response = Response<B>> + Clone + Send + 'static,
    T::Future: Send,
    T::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    fn fetch(&self) -> FetchFuture {
        let request = token_request(&self.credentials);
        let transport = self
            .transport
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();

        Box::pin(async move {
            let response = transport
                .oneshot(request)
                .await
                .map_err(|error| Failure::Transient(FetchError::transport(error.into())))?;

            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_TOKEN_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|error| Failure::Transient(FetchError::transport(error)))?
                .to_bytes();
            classify(parts.status, &body)
        })
    }
}
