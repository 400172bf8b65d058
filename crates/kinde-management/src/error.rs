//! [`Error`]: everything a Management API call can fail with, in one type.

use std::fmt;
use std::time::Duration;

use http::StatusCode;
use kinde_api::Operation;
use serde::Deserialize;
use tower_m2m::BoxError;
use tower_m2m::breaker::CircuitOpen;
use tower_m2m::ratelimit::RateLimited;
use tower_m2m::retry::RetryBudgetExhausted;
use tower_m2m::timeout::{AttemptTimedOut, DeadlineExceeded};
use tower_m2m::token::{CredentialsRejected, TokenUnavailable};

/// What went wrong, in terms a caller can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A parameter was missing or invalid; nothing was sent. Fix the call.
    InvalidRequest,
    /// Kinde answered 429, or the local rate limiter would have waited too long. Wait
    /// [`Error::retry_after`] and try again.
    RateLimited,
    /// The circuit breaker is open after repeated upstream failures; nothing was sent. Try again
    /// after [`Error::retry_after`].
    CircuitOpen,
    /// Kinde rejected the client's own credentials (at the token endpoint, or with a 401 after a
    /// fresh token). Retrying does not help; fix the configuration.
    CredentialsRejected,
    /// No valid token could be obtained (the token endpoint is failing); nothing was sent to the
    /// API. Retrying later may help.
    TokenUnavailable,
    /// An attempt or the overall deadline ran out. The request may have reached Kinde.
    Timeout,
    /// The retry budget of this upstream is spent: it is failing for many callers at once.
    RetryBudgetExhausted,
    /// The connection failed. Whether the request reached Kinde is unknown unless the error
    /// source says it was refused.
    Transport,
    /// Kinde answered with an error status; see [`Error::status`] and [`Error::kinde_errors`].
    Api,
    /// Kinde answered with success but a body that does not match the spec.
    Decode,
    /// A success response was larger than the client's limit and was not read. (An error
    /// status with an oversized body is [`ErrorKind::Api`] with the status and no Kinde codes.)
    ResponseTooLarge,
}

/// One entry of Kinde's error body.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct KindeError {
    /// Kinde's error code, for example `ROUTE_NOT_FOUND` or `PAGE_SIZE_LIMIT_EXCEEDED`.
    #[serde(default)]
    pub code: String,
    /// Kinde's message. It may echo request values; do not log it where that matters.
    #[serde(default)]
    pub message: String,
}

/// A failed Management API call.
///
/// It keeps the operation, the HTTP status, Kinde's error codes (from either of the API's two
/// error-body shapes), the request id, and, for failures decided by the middleware (rate
/// limited, circuit open, token unavailable, ...), the original typed error, reachable with
/// [`Error::middleware_error`] or through [`std::error::Error::source`].
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    operation: &'static Operation,
    status: Option<StatusCode>,
    errors: Vec<KindeError>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    detail: Option<String>,
    source: Option<BoxError>,
}

impl Error {
    fn new(kind: ErrorKind, operation: &'static Operation) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                operation,
                status: None,
                errors: Vec::new(),
                request_id: None,
                retry_after: None,
                detail: None,
                source: None,
            }),
        }
    }

    pub(crate) fn invalid_parameter(operation: &'static Operation, detail: String) -> Self {
        let mut error = Self::new(ErrorKind::InvalidRequest, operation);
        error.inner.detail = Some(detail);
        error
    }

    pub(crate) fn decode(operation: &'static Operation, source: serde_json::Error) -> Self {
        let mut error = Self::new(ErrorKind::Decode, operation);
        error.inner.source = Some(Box::new(source));
        error
    }

    pub(crate) fn too_large(operation: &'static Operation, limit: usize) -> Self {
        let mut error = Self::new(ErrorKind::ResponseTooLarge, operation);
        error.inner.detail = Some(format!("over {limit} bytes"));
        error
    }

    pub(crate) fn repeated_cursor(operation: &'static Operation) -> Self {
        let mut error = Self::new(ErrorKind::Decode, operation);
        error.inner.detail = Some("a page cursor repeated; stopping instead of looping".into());
        error
    }

    pub(crate) fn missing_cursor(operation: &'static Operation) -> Self {
        let mut error = Self::new(ErrorKind::Decode, operation);
        error.inner.detail = Some("the last item of a page has no id to continue after".into());
        error
    }

    /// An error raised below the client: by the middleware stack or the transport.
    pub(crate) fn from_service(operation: &'static Operation, source: BoxError) -> Self {
        let (kind, retry_after) = classify(&*source);
        let mut error = Self::new(kind, operation);
        error.inner.retry_after = retry_after;
        error.inner.source = Some(source);
        error
    }

    /// Kinde answered `status` with `body`.
    pub(crate) fn from_response(
        operation: &'static Operation,
        status: StatusCode,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Self {
        let kind = match status {
            StatusCode::TOO_MANY_REQUESTS => ErrorKind::RateLimited,
            StatusCode::UNAUTHORIZED => ErrorKind::CredentialsRejected,
            _ => ErrorKind::Api,
        };
        let mut error = Self::new(kind, operation);
        error.inner.status = Some(status);
        error.inner.errors = parse_error_body(body);
        error.inner.retry_after =
            tower_m2m::retry::hint::retry_hint(headers, std::time::SystemTime::now());
        error
    }

    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.inner.request_id = request_id;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The `operationId` of the failed call.
    pub fn operation(&self) -> &'static str {
        self.inner.operation.id
    }

    /// The HTTP status Kinde answered with, if the call got an answer.
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.status
    }

    /// Kinde's error entries, from either error-body shape; empty when the body was empty or
    /// not JSON.
    pub fn kinde_errors(&self) -> &[KindeError] {
        &self.inner.errors
    }

    /// The first Kinde error code, if any.
    pub fn code(&self) -> Option<&str> {
        self.inner.errors.first().map(|e| e.code.as_str())
    }

    /// The `x-request-id` this call carried, to find it in logs on both sides.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// How long to wait before trying again, when the server or the middleware said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Whether trying the same call again later may succeed without changing it, and is safe:
    /// a failure decided before anything reached Kinde, a 429, or a server or network failure
    /// of an idempotent operation.
    pub fn is_retryable(&self) -> bool {
        let idempotent = self.inner.operation.idempotent;
        match self.inner.kind {
            ErrorKind::RateLimited
            | ErrorKind::CircuitOpen
            | ErrorKind::TokenUnavailable
            | ErrorKind::RetryBudgetExhausted => true,
            ErrorKind::Timeout | ErrorKind::Transport => idempotent,
            ErrorKind::Api => {
                idempotent
                    && self
                        .inner
                        .status
                        .is_some_and(|s| s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT)
            }
            ErrorKind::InvalidRequest
            | ErrorKind::CredentialsRejected
            | ErrorKind::Decode
            | ErrorKind::ResponseTooLarge => false,
        }
    }

    /// The typed middleware error behind this one, if it is (or wraps) an `E`: for example
    /// [`RateLimited`], [`CircuitOpen`] or [`TokenUnavailable`].
    pub fn middleware_error<E: std::error::Error + 'static>(&self) -> Option<&E> {
        let mut current: Option<&(dyn std::error::Error + 'static)> =
            self.inner.source.as_deref().map(|e| e as _);
        while let Some(error) = current {
            if let Some(found) = error.downcast_ref::<E>() {
                return Some(found);
            }
            current = error.source();
        }
        None
    }
}

fn classify(error: &(dyn std::error::Error + 'static)) -> (ErrorKind, Option<Duration>) {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(limited) = error.downcast_ref::<RateLimited>() {
            return (ErrorKind::RateLimited, Some(limited.retry_after()));
        }
        if let Some(open) = error.downcast_ref::<CircuitOpen>() {
            return (ErrorKind::CircuitOpen, Some(open.retry_after()));
        }
        if error.is::<CredentialsRejected>() {
            return (ErrorKind::CredentialsRejected, None);
        }
        if error.is::<TokenUnavailable>() {
            return (ErrorKind::TokenUnavailable, None);
        }
        if error.is::<RetryBudgetExhausted>() {
            return (ErrorKind::RetryBudgetExhausted, None);
        }
        if error.is::<AttemptTimedOut>() || error.is::<DeadlineExceeded>() {
            return (ErrorKind::Timeout, None);
        }
        current = error.source();
    }
    (ErrorKind::Transport, None)
}

/// Kinde's error bodies: `{"errors": [{code, message}]}`, or `{"errors": {code, message}}` on
/// route-not-found 404s. Anything else (empty, HTML, another shape) gives no entries.
fn parse_error_body(body: &[u8]) -> Vec<KindeError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Errors {
        Many(Vec<KindeError>),
        One(KindeError),
    }
    #[derive(Deserialize)]
    struct Body {
        errors: Errors,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(Body {
            errors: Errors::Many(errors),
        }) => errors,
        Ok(Body {
            errors: Errors::One(error),
        }) => vec![error],
        Err(_) => Vec::new(),
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("operation", &self.inner.operation.id)
            .field("status", &self.inner.status)
            .field(
                "codes",
                &self
                    .inner
                    .errors
                    .iter()
                    .map(|e| &e.code)
                    .collect::<Vec<_>>(),
            )
            .field("request_id", &self.inner.request_id)
            .field("detail", &self.inner.detail)
            .field("source", &self.inner.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.inner.operation.id;
        match self.inner.kind {
            ErrorKind::InvalidRequest => write!(f, "{id}: invalid request")?,
            ErrorKind::RateLimited => write!(f, "{id}: rate limited")?,
            ErrorKind::CircuitOpen => write!(f, "{id}: circuit open")?,
            ErrorKind::CredentialsRejected => write!(f, "{id}: credentials rejected")?,
            ErrorKind::TokenUnavailable => write!(f, "{id}: token unavailable")?,
            ErrorKind::Timeout => write!(f, "{id}: timed out")?,
            ErrorKind::RetryBudgetExhausted => write!(f, "{id}: retry budget exhausted")?,
            ErrorKind::Transport => write!(f, "{id}: request failed")?,
            ErrorKind::Api => write!(f, "{id}: kinde answered with an error")?,
            ErrorKind::Decode => write!(f, "{id}: unexpected response body")?,
            ErrorKind::ResponseTooLarge => write!(f, "{id}: response too large")?,
        }
        if let Some(status) = self.inner.status {
            write!(f, " ({})", status.as_u16())?;
        }
        let codes: Vec<&str> = self.inner.errors.iter().map(|e| e.code.as_str()).collect();
        if !codes.is_empty() {
            write!(f, ": {}", codes.join(", "))?;
        }
        if let Some(detail) = &self.inner.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_deref().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_body_shapes_and_junk_are_understood() {
        let array = br#"{"errors":[{"code":"PAGE_SIZE_LIMIT_EXCEEDED","message":"too big"}]}"#;
        assert_eq!(parse_error_body(array)[0].code, "PAGE_SIZE_LIMIT_EXCEEDED");
        let object = br#"{"errors":{"code":"ROUTE_NOT_FOUND","message":"no route"}}"#;
        assert_eq!(parse_error_body(object)[0].code, "ROUTE_NOT_FOUND");
        for junk in [
            &b""[..],
            b"<html>oops</html>",
            b"{\"errors\":3}",
            b"\xff\xfe",
        ] {
            assert!(parse_error_body(junk).is_empty());
        }
    }

    #[test]
    fn retryability_follows_idempotency() {
        let get = kinde_api::operation("getUsers").expect("op");
        let create = kinde_api::operation("createUser").expect("op");
        let headers = http::HeaderMap::new();
        let server = |op| Error::from_response(op, StatusCode::BAD_GATEWAY, &headers, b"");
        assert!(server(get).is_retryable());
        assert!(!server(create).is_retryable());
        let throttled = Error::from_response(create, StatusCode::TOO_MANY_REQUESTS, &headers, b"");
        assert_eq!(throttled.kind(), ErrorKind::RateLimited);
        assert!(throttled.is_retryable());
        let missing = Error::from_response(get, StatusCode::NOT_FOUND, &headers, b"");
        assert!(!missing.is_retryable());
    }
}
