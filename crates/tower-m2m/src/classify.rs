//! What an error says about the upstream, shared by the retry policy and the breaker.

use std::error::Error;
use std::io;

use crate::breaker::CircuitOpen;
use crate::ratelimit::RateLimited;
use crate::retry::RetryBudgetExhausted;
use crate::timeout::{AttemptTimedOut, DeadlineExceeded};
use crate::token::{CredentialsRejected, TokenError, TokenUnavailable};

/// Where a failed attempt went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The request never left: the connection was refused or could not be made.
    NotSent,
    /// The attempt ran out of time in the transport; the server may have acted on it.
    Timeout,
    /// The transport failed after the request may have reached the server.
    MaybeSent,
    /// Decided here, not by the upstream: rate limited, circuit open, deadline, token missing.
    Local,
}

impl Failure {
    /// Whether this failure is the upstream's own and counts against its health.
    pub(crate) fn is_upstream(self) -> bool {
        !matches!(self, Failure::Local)
    }
}

/// Classifies an error by walking its source chain for the types this crate knows.
pub(crate) fn classify(error: &(dyn Error + 'static)) -> Failure {
    let mut current = Some(error);

    while let Some(error) = current {
        if let Some(failure) = classify_one(error) {
            return failure;
        }
        current = error.source();
    }

    Failure::MaybeSent
}

/// A low-cardinality name for an error, for the `error.type` span field and metric attribute:
/// the first error type this crate knows in the chain, else the failure class.
pub(crate) fn error_type(error: &(dyn Error + 'static)) -> &'static str {
    let mut current = Some(error);

    while let Some(error) = current {
        let known = if error.is::<RateLimited>() {
            Some("rate_limited")
        } else if error.is::<CircuitOpen>() {
            Some("circuit_open")
        } else if error.is::<DeadlineExceeded>() {
            Some("deadline_exceeded")
        } else if error.is::<RetryBudgetExhausted>() {
            Some("retry_budget_exhausted")
        } else if error.is::<CredentialsRejected>() {
            Some("credentials_rejected")
        } else if error.is::<TokenUnavailable>() || error.is::<TokenError>() {
            Some("token_unavailable")
        } else {
            None
        };
        if let Some(known) = known {
            return known;
        }
        current = error.source();
    }

    match classify(error) {
        Failure::NotSent => "connect",
        Failure::Timeout => "timeout",
        Failure::MaybeSent | Failure::Local => "transport",
    }
}

fn classify_one(error: &(dyn Error + 'static)) -> Option<Failure> {
    if error.is::<RateLimited>()
        || error.is::<CircuitOpen>()
        || error.is::<DeadlineExceeded>()
        || error.is::<RetryBudgetExhausted>()
        || error.is::<TokenError>()
        || error.is::<TokenUnavailable>()
        || error.is::<CredentialsRejected>()
    {
        return Some(Failure::Local);
    }
    if error.is::<AttemptTimedOut>() || error.is::<tower::timeout::error::Elapsed>() {
        return Some(Failure::Timeout);
    }

    let io = error.downcast_ref::<io::Error>()?;
    let failure = match io.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::AddrNotAvailable
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable => Failure::NotSent,
        io::ErrorKind::TimedOut => Failure::Timeout,
        _ => Failure::MaybeSent,
    };
    Some(failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_connection_was_not_sent() {
        let error: crate::BoxError = io::Error::from(io::ErrorKind::ConnectionRefused).into();
        assert_eq!(classify(error.as_ref()), Failure::NotSent);
    }

    #[test]
    fn reset_connection_may_have_been_sent() {
        let error: crate::BoxError = io::Error::from(io::ErrorKind::ConnectionReset).into();
        assert_eq!(classify(error.as_ref()), Failure::MaybeSent);
    }

    /// Over a real socket: the reqwest transport's error for a refused connection carries the
    /// `io::Error` in its chain, so a POST to a port nobody listens on is safe to repeat.
    #[cfg(feature = "reqwest")]
    #[tokio::test]
    async fn a_refused_reqwest_connection_was_not_sent() {
        use tower::ServiceExt;

        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let request = http::Request::post(format!("http://127.0.0.1:{port}/api/v1/user"))
            .body(crate::ReplayBody::from("{}"))
            .unwrap();

        let transport = crate::transport::ReqwestTransport::new();
        let error: crate::BoxError = transport.oneshot(request).await.unwrap_err().into();
        assert_eq!(classify(error.as_ref()), Failure::NotSent, "{error:?}");
    }

    #[test]
    fn local_rejections_are_not_upstream_failures() {
        let error: crate::BoxError = Box::new(CircuitOpen::new(std::time::Duration::ZERO));
        assert!(!classify(error.as_ref()).is_upstream());
    }

    #[test]
    fn error_types_are_a_short_fixed_vocabulary() {
        let wrapped: crate::BoxError = Box::new(RetryBudgetExhausted::new(
            io::Error::from(io::ErrorKind::ConnectionRefused).into(),
        ));
        assert_eq!(error_type(wrapped.as_ref()), "retry_budget_exhausted");

        let refused: crate::BoxError = io::Error::from(io::ErrorKind::ConnectionRefused).into();
        assert_eq!(error_type(refused.as_ref()), "connect");

        let unknown: crate::BoxError = "https://kinde.test/api/v1/users?id=42 failed".into();
        assert_eq!(error_type(unknown.as_ref()), "transport");
    }
}
