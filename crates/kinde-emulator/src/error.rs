//! Kinde's error bodies, as responses.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use kinde_api::models::{Error, ErrorResponse, NotFoundResponse, NotFoundResponseErrors};
use serde::Serialize;

/// A Management API error: a status and one `{code, message}` in Kinde's `error_response` body.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    rate_limit_reset: Option<u64>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            rate_limit_reset: None,
        }
    }

    /// Kinde's 429, with `RateLimit-Reset` set to `reset_seconds`.
    pub(crate) fn too_many_requests(reset_seconds: u64) -> Self {
        Self {
            rate_limit_reset: Some(reset_seconds),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "Too many requests, please slow down",
            )
        }
    }

    /// A 400 with this code and message.
    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl IntoResponse for ApiError {
    /// Kinde's `error_response` (`errors` is a list), except for 404s, which take the shape of
    /// `not_found_response` (`errors` is one object) as most of Kinde's 404s do.
    fn into_response(self) -> Response {
        let mut response = if self.status == StatusCode::NOT_FOUND {
            let body = NotFoundResponse {
                errors: Some(NotFoundResponseErrors {
                    code: Some(self.code.to_owned()),
                    message: Some(self.message),
                }),
            };
            json_response(self.status, &body)
        } else {
            let body = ErrorResponse {
                errors: Some(vec![Error {
                    code: Some(self.code.to_owned()),
                    message: Some(self.message),
                }]),
            };
            json_response(self.status, &body)
        };
        if let Some(reset) = self.rate_limit_reset {
            response
                .headers_mut()
                .insert("ratelimit-reset", HeaderValue::from(reset));
        }
        response
    }
}

/// Kinde's `ROUTE_NOT_FOUND` 404, whose `errors` is an object rather than a list.
pub(crate) fn route_not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
        "The requested API route does not exist",
    )
    .into_response()
}

/// A token endpoint error: `{error, error_description}` (RFC 6749 section 5.2).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
}

impl OAuthError {
    /// `invalid_request` (400): a missing or malformed parameter, or the wrong content type.
    pub(crate) const fn invalid_request(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// `invalid_client` (401): unknown client or wrong secret.
    pub(crate) const fn invalid_client(description: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    /// `unauthorized_client` (400): the application is not authorized for an audience.
    pub(crate) const fn unauthorized_client(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    /// `invalid_scope` (400): a scope the application was not granted.
    pub(crate) const fn invalid_scope(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    /// `unsupported_grant_type` (400): anything but `client_credentials`.
    pub(crate) const fn unsupported_grant_type(description: &'static str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            description,
        )
    }

    /// The RFC 6749 error code, for logs.
    pub(crate) const fn code(&self) -> &'static str {
        self.error
    }

    const fn new(status: StatusCode, error: &'static str, description: &'static str) -> Self {
        Self {
            status,
            error,
            description,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: &'static str,
            error_description: &'static str,
        }

        let mut response = json_response(
            self.status,
            &Body {
                error: self.error,
                error_description: self.description,
            },
        );
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// A JSON response with this status.
pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    raw_json_response(status, bytes)
}

/// A response carrying JSON that is already encoded.
pub(crate) fn raw_json_response(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}
