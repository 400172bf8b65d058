//! Errors of the token source and the token layer.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use http::StatusCode;

use crate::BoxError;

/// A token could not be had. Returned by [`TokenSource::token`](super::TokenSource::token).
///
/// The [`Auth`](super::Auth) service fails with the inner value boxed, so callers of a tower
/// stack downcast to [`CredentialsRejected`] or [`TokenUnavailable`] directly.
#[derive(Clone, Debug)]
pub enum TokenError {
    /// The token endpoint refused the client credentials; see [`CredentialsRejected`].
    CredentialsRejected(CredentialsRejected),
    /// No valid token now, for a reason that may pass; see [`TokenUnavailable`].
    Unavailable(TokenUnavailable),
}

impl TokenError {
    /// The error as a box holding the variant's own type, for downcasting.
    pub fn into_box_error(self) -> BoxError {
        match self {
            Self::CredentialsRejected(error) => Box::new(error),
            Self::Unavailable(error) => Box::new(error),
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CredentialsRejected(error) => error.fmt(f),
            Self::Unavailable(error) => error.fmt(f),
        }
    }
}

impl Error for TokenError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::CredentialsRejected(error) => error.source(),
            Self::Unavailable(error) => error.source(),
        }
    }
}

/// The token endpoint rejected the client credentials with an OAuth2 error code.
///
/// This is permanent until the configuration changes: retrying does not help, and the token
/// source remembers the rejection for a while so that retrying callers do not reach the endpoint
/// (see [`RefreshPolicy::rejection_ttl`](super::RefreshPolicy::rejection_ttl)). Fix the client
/// id, secret, audience or scopes; an operator must be told.
#[derive(Clone, Debug)]
pub struct CredentialsRejected {
    code: OAuthErrorCode,
    status: StatusCode,
}

impl CredentialsRejected {
    pub(crate) fn new(code: OAuthErrorCode, status: StatusCode) -> Self {
        Self { code, status }
    }

    /// The OAuth2 error code the endpoint answered with.
    pub fn code(&self) -> OAuthErrorCode {
        self.code
    }

    /// The HTTP status of the endpoint's answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl fmt::Display for CredentialsRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client credentials rejected ({})", self.code)
    }
}

impl Error for CredentialsRejected {}

/// The OAuth2 error codes (RFC 6749, section 5.2) that mean the credentials or their
/// configuration are wrong, and so are treated as permanent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// Unknown client, wrong or rotated secret, or a deleted application.
    InvalidClient,
    /// The client may not use this grant for the requested audience.
    UnauthorizedClient,
    /// A requested scope is unknown or not granted to the client.
    InvalidScope,
    /// A parameter is missing or malformed: a configuration error.
    InvalidRequest,
}

impl OAuthErrorCode {
    /// Parses one of the codes above; other codes are not credential errors.
    pub(crate) fn parse(code: &str) -> Option<Self> {
        match code {
            "invalid_client" => Some(Self::InvalidClient),
            "unauthorized_client" => Some(Self::UnauthorizedClient),
            "invalid_scope" => Some(Self::InvalidScope),
            "invalid_request" => Some(Self::InvalidRequest),
            _ => None,
        }
    }

    /// The code as the endpoint spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidClient => "invalid_client",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidRequest => "invalid_request",
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// No valid token is available now, and none could be fetched.
///
/// The token endpoint failed transiently (see [`source`](Error::source) for a [`FetchError`]) and
/// the last token, if any, has expired: an expired token is never sent. The token source retries
/// with backoff on its own; the caller may retry later, or fail its request as unavailable.
#[derive(Clone, Debug)]
pub struct TokenUnavailable {
    cause: Option<FetchError>,
}

impl TokenUnavailable {
    pub(crate) fn new(cause: Option<FetchError>) -> Self {
        Self { cause }
    }

    /// The last failure of the token endpoint, if there was one.
    pub fn cause(&self) -> Option<&FetchError> {
        self.cause.as_ref()
    }
}

impl fmt::Display for TokenUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no valid access token available")
    }
}

impl Error for TokenUnavailable {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause
            .as_ref()
            .map(|cause| cause as &(dyn Error + 'static))
    }
}

/// A transient failure of one request to the token endpoint.
///
/// Its message names the kind of failure and, for an HTTP error, the status; never the response
/// body, the secret or a token.
#[derive(Clone, Debug)]
pub struct FetchError {
    kind: FetchErrorKind,
    source: Option<Arc<dyn Error + Send + Sync>>,
}

/// What went wrong with a request to the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchErrorKind {
    /// No answer within the fetch timeout.
    Timeout,
    /// The transport failed: connection refused or reset, TLS, DNS.
    Transport,
    /// An HTTP status that is not a credential error: 5xx, 429 or an unexpected 4xx.
    Status(StatusCode),
    /// A success status whose body is not a usable token response.
    InvalidResponse,
}

impl FetchError {
    pub(crate) fn new(kind: FetchErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn transport(source: BoxError) -> Self {
        Self {
            kind: FetchErrorKind::Transport,
            source: Some(Arc::from(source)),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> FetchErrorKind {
        self.kind
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FetchErrorKind::Timeout => f.write_str("token request timed out"),
            FetchErrorKind::Transport => f.write_str("token request failed in transport"),
            FetchErrorKind::Status(status) => {
                write!(f, "token endpoint answered {}", status.as_u16())
            }
            FetchErrorKind::InvalidResponse => f.write_str("token response is not usable"),
        }
    }
}

impl Error for FetchError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}
