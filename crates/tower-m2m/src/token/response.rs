//! Reading the token endpoint's answer: lenient where servers differ, strict where it matters.

use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;

use super::error::{CredentialsRejected, FetchError, FetchErrorKind, OAuthErrorCode};

/// The upper bound on a token lifetime taken from `expires_in`. Longer values are clamped so that
/// instant arithmetic cannot overflow and a typo in a server's configuration cannot pin a token
/// in memory for years; 30 days is far beyond any client-credentials token seen in practice.
pub(crate) const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A successful answer: the token and its lifetime, if the server gave one.
#[derive(PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) access_token: String,
    pub(crate) expires_in: Option<Duration>,
}

/// Why a fetch produced no token.
#[derive(Clone, Debug)]
pub(crate) enum Failure {
    /// Permanent until the configuration changes.
    Rejected(CredentialsRejected),
    /// Worth trying again after a backoff.
    Transient(FetchError),
}

#[derive(Deserialize)]
struct SuccessBody {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
}

/// Classifies one answer of the token endpoint.
///
/// - 2xx: the body must be JSON with a non-empty `access_token`; `token_type` may be missing
///   (Bearer) but must otherwise be Bearer; `expires_in` may be missing, a number or a numeric
///   string, and must be positive. Anything else is a transient invalid response.
/// - 4xx other than 408 and 429 with one of the credential error codes, or a bare 401:
///   [`CredentialsRejected`].
/// - Everything else: a transient status error.
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Result<Grant, Failure> {
    if status.is_success() {
        return parse_success(body).ok_or_else(|| transient(FetchErrorKind::InvalidResponse));
    }

    let retryable = matches!(
        status,
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
    );
    if status.is_client_error() && !retryable {
        let code = serde_json::from_slice::<ErrorBody>(body)
            .ok()
            .and_then(|body| body.error)
            .and_then(|code| OAuthErrorCode::parse(&code));
        let code = match (code, status) {
            (Some(code), _) => Some(code),
            (None, StatusCode::UNAUTHORIZED) => Some(OAuthErrorCode::InvalidClient),
            (None, _) => None,
        };
        if let Some(code) = code {
            return Err(Failure::Rejected(CredentialsRejected::new(code, status)));
        }
    }
    Err(transient(FetchErrorKind::Status(status)))
}

fn parse_success(body: &[u8]) -> Option<Grant> {
    let body: SuccessBody = serde_json::from_slice(body).ok()?;

    let access_token = body.access_token.filter(|token| !token.is_empty())?;
    if body
        .token_type
        .as_ref()
        .is_some_and(|token_type| !token_type.eq_ignore_ascii_case("bearer"))
    {
        return None;
    }
    let expires_in = match &body.expires_in {
        None | Some(serde_json::Value::Null) => None,
        Some(value) => Some(parse_expires_in(value)?),
    };
    Some(Grant {
        access_token,
        expires_in,
    })
}

/// Seconds as a JSON number or a numeric string; positive, clamped to [`MAX_TOKEN_LIFETIME`].
fn parse_expires_in(value: &serde_json::Value) -> Option<Duration> {
    let seconds = match value {
        serde_json::Value::Number(number) => number.as_f64()?,
        serde_json::Value::String(text) => text.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        seconds.min(MAX_TOKEN_LIFETIME.as_secs_f64()),
    ))
}

fn transient(kind: FetchErrorKind) -> Failure {
    Failure::Transient(FetchError::new(kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(body: &str) -> Result<Grant, Failure> {
        classify(StatusCode::OK, body.as_bytes())
    }

    fn rejected_code(status: u16, body: &str) -> Option<OAuthErrorCode> {
        match classify(StatusCode::from_u16(status).unwrap(), body.as_bytes()) {
            Err(Failure::Rejected(rejected)) => Some(rejected.code()),
            _ => None,
        }
    }

    #[test]
    fn expires_in_may_be_a_number_or_a_numeric_string() {
        let number = ok(r#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#);
        let text = ok(r#"{"access_token":"t","expires_in":" 3600 "}"#);
        let missing = ok(r#"{"access_token":"t","token_type":"bearer"}"#);
        assert_eq!(
            number.ok().unwrap().expires_in,
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            text.ok().unwrap().expires_in,
            Some(Duration::from_secs(3600))
        );
        assert_eq!(missing.ok().unwrap().expires_in, None);
    }

    #[test]
    fn a_success_without_a_usable_token_is_transient() {
        for body in [
            "",
            "not json",
            r#"{"token_type":"Bearer"}"#,
            r#"{"access_token":""}"#,
            r#"{"access_token":"t","token_type":"mac"}"#,
            r#"{"access_token":"t","expires_in":0}"#,
            r#"{"access_token":"t","expires_in":"soon"}"#,
        ] {
            assert!(matches!(ok(body), Err(Failure::Transient(_))), "{body}");
        }
    }

    #[test]
    fn huge_lifetimes_are_clamped() {
        let grant = ok(r#"{"access_token":"t","expires_in":1e300}"#)
            .ok()
            .unwrap();
        assert_eq!(grant.expires_in, Some(MAX_TOKEN_LIFETIME));
    }

    #[test]
    fn credential_errors_are_permanent() {
        let body = |code| format!(r#"{{"error":"{code}","error_description":"no"}}"#);
        assert_eq!(
            rejected_code(401, &body("invalid_client")),
            Some(OAuthErrorCode::InvalidClient)
        );
        assert_eq!(
            rejected_code(400, &body("unauthorized_client")),
            Some(OAuthErrorCode::UnauthorizedClient)
        );
        assert_eq!(
            rejected_code(400, &body("invalid_scope")),
            Some(OAuthErrorCode::InvalidScope)
        );
        assert_eq!(
            rejected_code(400, &body("invalid_request")),
            Some(OAuthErrorCode::InvalidRequest)
        );
        assert_eq!(rejected_code(401, ""), Some(OAuthErrorCode::InvalidClient));
    }

    #[test]
    fn server_trouble_is_transient() {
        for (status, body) in [
            (500, ""),
            (503, r#"{"error":"invalid_client"}"#),
            (429, r#"{"error":"invalid_request"}"#),
            (400, r#"{"error":"slow_down"}"#),
            (404, "<html>"),
        ] {
            let status = StatusCode::from_u16(status).unwrap();
            assert!(
                matches!(
                    classify(status, body.as_bytes()),
                    Err(Failure::Transient(_))
                ),
                "{status}"
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_any_answer(status in 100u16..1000, body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = classify(StatusCode::from_u16(status).unwrap(), &body);
        }

        #[test]
        fn never_panics_on_any_expires_in(text in ".*", number in any::<f64>()) {
            let _ = parse_expires_in(&serde_json::Value::String(text));
            if let Some(number) = serde_json::Number::from_f64(number) {
                let _ = parse_expires_in(&serde_json::Value::Number(number));
            }
        }
    }
}
