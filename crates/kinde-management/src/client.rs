//! [`Client`]: sends operations through any tower service of `http` types.

use std::fmt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{Request, Response};
use http_body::Body;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use serde::de::DeserializeOwned;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};
use tower_http::request_id::RequestId;
use tower_m2m::retry::Idempotency;
use tower_m2m::{BoxError, ReplayBody};

use crate::error::Error;
use crate::request::OperationRequest;

/// The largest response body the client reads by default: 16 MiB.
///
/// Kinde's biggest answers are pages of 500 users with expansions, well under a megabyte; a
/// body past this size means something is wrong upstream, and reading it whole would let a
/// misbehaving server exhaust memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;
type HttpService = BoxCloneSyncService<Request<ReplayBody>, Response<ResponseBody>, BoxError>;

/// A typed client for the Kinde Management API: one method per operation.
///
/// A client is cheap to clone; clones share the underlying service (and so its token cache,
/// limiters and breaker when it is the `tower-m2m` stack).
#[derive(Clone)]
pub struct Client {
    base_url: Arc<str>,
    /// Shared by every clone; each call clones it (tower services are called through
    /// `&mut self`), which clones the stack's handles, not its state.
    service: Arc<HttpService>,
    extensions: http::Extensions,
    max_response_bytes: usize,
}

/// The base URL given to a [`Client`] is not an `http` or `https` URL without query or fragment.
#[derive(Debug)]
pub struct InvalidBaseUrl(String);

impl InvalidBaseUrl {
    pub(crate) fn new(reason: &str) -> Self {
        Self(reason.to_owned())
    }
}

impl fmt::Display for InvalidBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid base url: {}", self.0)
    }
}

impl std::error::Error for InvalidBaseUrl {}

impl Client {
    /// A client that sends every request through `service`, prefixing paths with `base_url`
    /// (for example `https://mybusiness.kinde.com`).
    ///
    /// The service sees `http::Request<ReplayBody>` with an [`Idempotency`] extension taken from
    /// the operation table, so a retry layer knows what it may repeat; it is expected to add the
    /// bearer token itself (the `tower-m2m` stack does). It must be `Send + Sync`, as the
    /// `tower-m2m` stack is, so that the client can be shared without a lock; wrap a service that
    /// is not `Sync` in `tower::buffer::Buffer`.
    ///
    /// # Errors
    ///
    /// [`InvalidBaseUrl`] when `base_url` does not parse, is not `http` or `https`, or has a
    /// query or fragment.
    pub fn from_service<S, B>(base_url: &str, service: S) -> Result<Self, InvalidBaseUrl>
    where
        S: Service<Request<ReplayBody>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let base_url = validate_base_url(base_url)?;
        let service = service
            .map_response(|response: Response<B>| {
                response.map(|body| body.map_err(Into::into).boxed_unsync())
            })
            .map_err(Into::into);
        Ok(Self {
            base_url: base_url.into(),
            service: Arc::new(BoxCloneSyncService::new(service)),
            extensions: http::Extensions::new(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        })
    }

    /// A client whose every request also carries `value` as an extension, for the middleware
    /// below: tower-http's `RequestId` (the `x-request-id` sent upstream), a
    /// [`Deadline`](tower_m2m::timeout::Deadline), an OpenTelemetry context. The original client
    /// is unchanged; both share the service.
    #[must_use]
    pub fn with_extension<T: Clone + Send + Sync + 'static>(&self, value: T) -> Self {
        let mut client = self.clone();
        client.extensions.insert(value);
        client
    }

    /// Refuses success bodies larger than `limit` bytes with
    /// [`ErrorKind::ResponseTooLarge`](crate::ErrorKind::ResponseTooLarge), reading no more than
    /// `limit` of them. An error status with a larger body keeps its status, without Kinde's
    /// codes. Default: [`DEFAULT_MAX_RESPONSE_BYTES`].
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// The base URL requests are sent to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends `request` and decodes the success body as `T`. An empty success body decodes as
    /// `{}`, which every response model accepts.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        request: OperationRequest,
    ) -> Result<T, Error> {
        let operation = request.operation();
        let body = self.execute(request).await?;
        let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
        serde_json::from_slice(body).map_err(|e| Error::decode(operation, e))
    }

    /// Sends `request` for an operation that declares no success body.
    pub(crate) async fn send_without_body(&self, request: OperationRequest) -> Result<(), Error> {
        self.execute(request).await.map(drop)
    }

    async fn execute(&self, request: OperationRequest) -> Result<Bytes, Error> {
        let operation = request.operation();
        let mut http = request.into_http(&self.base_url)?;
        let idempotency = if operation.idempotent {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        };
        http.extensions_mut().extend(self.extensions.clone());
        http.extensions_mut().insert(idempotency);
        // Every call has a request id the caller can quote: the one given, else a new one,
        // which the correlation layer then sends as `x-request-id`.
        let id = match http.extensions().get::<RequestId>() {
            Some(id) => id.clone(),
            None => tower_m2m::correlation::new_request_id(),
        };
        let request_id = id.header_value().to_str().ok().map(str::to_owned);
        http.extensions_mut().insert(id);

        let response = HttpService::clone(&self.service)
            .oneshot(http)
            .await
            .map_err(|e| Error::from_service(operation, e).with_request_id(request_id.clone()))?;
        let (parts, body) = response.into_parts();

        let limit = self.max_response_bytes;
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let read = if declared.is_some_and(|length| length > limit) {
            Err(ReadError::TooLarge)
        } else {
            read_body(body, limit).await
        };

        // An error status matters more than its body: an oversized one is dropped unread, and
        // the error keeps the status (and so whether a retry may help), without Kinde's codes.
        let error = match (parts.status.is_success(), read) {
            (true, Ok(bytes)) => return Ok(bytes),
            (false, Ok(bytes)) => {
                Error::from_response(operation, parts.status, &parts.headers, &bytes)
            }
            (false, Err(ReadError::TooLarge)) => {
                Error::from_response(operation, parts.status, &parts.headers, b"")
            }
            (true, Err(ReadError::TooLarge)) => Error::too_large(operation, limit),
            (_, Err(ReadError::Body(error))) => Error::from_service(operation, error),
        };
        Err(error.with_request_id(request_id))
    }
}

enum ReadError {
    TooLarge,
    Body(BoxError),
}

/// Reads a whole body, giving up as soon as it passes `limit` bytes.
async fn read_body(mut body: ResponseBody, limit: usize) -> Result<Bytes, ReadError> {
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ReadError::Body)?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > limit {
                return Err(ReadError::TooLarge);
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer.freeze())
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

fn validate_base_url(base_url: &str) -> Result<String, InvalidBaseUrl> {
    let trimmed = base_url.trim_end_matches('/');
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|e| InvalidBaseUrl(format!("{e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(InvalidBaseUrl("the scheme must be http or https".into())),
    }
    if uri.authority().is_none() {
        return Err(InvalidBaseUrl("no host".into()));
    }
    if uri.query().is_some() || trimmed.contains('#') {
        return Err(InvalidBaseUrl("a query or fragment is not allowed".into()));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::Client;

    /// A compile-time check: a client can be shared between tasks and threads without a lock.
    #[test]
    fn a_client_is_send_sync_and_clone() {
        fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
        assert_send_sync_clone::<Client>();
    }
}
