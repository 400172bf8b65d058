//! The one function that turns every failure of a call into a `tonic::Status`.
//!
//! Each status carries `google.rpc` details: an `ErrorInfo` with a stable reason (the table
//! below), the domain [`ERROR_DOMAIN`], the Kinde operation and Kinde's error code; a
//! `RetryInfo` where waiting helps; a `BadRequest` naming the field of an invalid request.
//!
//! | failure | code | reason |
//! | --- | --- | --- |
//! | no or unknown caller credentials | `UNAUTHENTICATED` | `CALLER_UNAUTHENTICATED` |
//! | RPC outside the caller's allow-list | `PERMISSION_DENIED` | `RPC_NOT_ALLOWED` |
//! | caller over its own quota | `RESOURCE_EXHAUSTED` + RetryInfo | `CALLER_QUOTA_EXCEEDED` |
//! | invalid request (checked before any upstream call) | `INVALID_ARGUMENT` + BadRequest | `INVALID_ARGUMENT` |
//! | 429, local rate limit | `RESOURCE_EXHAUSTED` + RetryInfo | `RATE_LIMITED` |
//! | retry budget exhausted | `RESOURCE_EXHAUSTED` + RetryInfo | `RETRY_BUDGET_EXHAUSTED` |
//! | caller's deadline | `DEADLINE_EXCEEDED` | `DEADLINE_EXCEEDED` |
//! | token endpoint rejects the profile, or 401 after the replay | `INTERNAL` | `KINDE_CREDENTIALS_REJECTED` |
//! | breaker open | `UNAVAILABLE` + RetryInfo | `CIRCUIT_OPEN` |
//! | no token obtainable | `UNAVAILABLE` + RetryInfo | `TOKEN_UNAVAILABLE` |
//! | connection refused, nothing sent | `UNAVAILABLE` + RetryInfo | `KINDE_UNREACHABLE` |
//! | 400 | `INVALID_ARGUMENT` | `KINDE_BAD_REQUEST` |
//! | 403 | `PERMISSION_DENIED` | `KINDE_SCOPE_MISSING` (metadata `required_scope`) |
//! | 404 | `NOT_FOUND` | `KINDE_NOT_FOUND` |
//! | 409 | `ALREADY_EXISTS` | `KINDE_CONFLICT` |
//! | other 4xx | `FAILED_PRECONDITION` | `KINDE_REJECTED` |
//! | 5xx, attempt timeout, reset; idempotent operation | `UNAVAILABLE` + RetryInfo | `KINDE_UNAVAILABLE` |
//! | 5xx, attempt timeout, reset; not idempotent | `UNKNOWN` | `OUTCOME_UNKNOWN` |
//! | a success body that does not match the spec, or too large | `INTERNAL` | `KINDE_RESPONSE_INVALID` |
//!
//! `UNAVAILABLE`, which gRPC clients treat as safe to retry, is returned only when nothing
//! reached Kinde's API or the operation is idempotent. A create that may have reached Kinde
//! returns `UNKNOWN` so that no client repeats it blindly.
//!
//! Status messages are the gateway's own short sentences. Kinde's error messages are never
//! copied into them: they may echo request values such as email addresses.

use std::collections::HashMap;
use std::error::Error as _;
use std::io;
use std::time::Duration;

use http::StatusCode;
use kinde_api::Operation;
use kinde_management::{Error, ErrorKind};
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};
use tower_m2m::timeout::DeadlineExceeded;

use crate::call::CallError;

/// The `ErrorInfo.domain` of every status the gateway returns.
pub const ERROR_DOMAIN: &str = "kinde-gateway";

/// What `RetryInfo` suggests when nothing more precise is known: one second, about the time a
/// rate-limit window or a half-open breaker takes to move on, and long enough that a client
/// following the hint does not add to an overload.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Every way a call can fail, from the gateway's own checks to Kinde's answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No credentials, or credentials that match no caller.
    Unauthenticated,
    /// The caller may not call this RPC.
    NotAllowed,
    /// The caller has its maximum number of calls in flight.
    QuotaExceeded,
    /// The caller's deadline passed while the gateway was working on the call.
    Deadline,
    /// The handler failed.
    Call(CallError),
}

/// The status for `failure` of a call to `operation`. The one mapping; see the [module
/// docs](self).
pub(crate) fn to_status(failure: &Failure, operation: &Operation) -> tonic::Status {
    let mut metadata = HashMap::from([("operation".to_owned(), operation.id.to_owned())]);
    let mut details = ErrorDetails::new();

    let (code, reason, message) = match failure {
        Failure::Unauthenticated => (
            Code::Unauthenticated,
            "CALLER_UNAUTHENTICATED",
            "missing or unknown caller credentials",
        ),
        Failure::NotAllowed => (
            Code::PermissionDenied,
            "RPC_NOT_ALLOWED",
            "this RPC is not on the caller's allow-list",
        ),
        Failure::QuotaExceeded => {
            details.set_retry_info(Some(DEFAULT_RETRY_DELAY));
            (
                Code::ResourceExhausted,
                "CALLER_QUOTA_EXCEEDED",
                "the caller has too many calls in flight",
            )
        }
        Failure::Deadline => (
            Code::DeadlineExceeded,
            "DEADLINE_EXCEEDED",
            "the caller's deadline passed",
        ),
        Failure::Call(CallError::InvalidArgument { field, description }) => {
            details.add_bad_request_violation(*field, description.clone());
            (Code::InvalidArgument, "INVALID_ARGUMENT", "invalid request")
        }
        Failure::Call(CallError::Kinde(error)) => {
            if let Some(code) = error.code().filter(|c| !c.is_empty()) {
                metadata.insert("kinde_code".to_owned(), code.to_owned());
            }
            if let Some(status) = error.status() {
                metadata.insert("http_status".to_owned(), status.as_u16().to_string());
            }
            let row = kinde_row(error, operation);
            if let Some(delay) = row.retry_after {
                details.set_retry_info(Some(delay));
            }
            if let (true, Some(scope)) = (row.reason == "KINDE_SCOPE_MISSING", operation.scope) {
                metadata.insert("required_scope".to_owned(), scope.to_owned());
            }
            (row.code, row.reason, row.message)
        }
    };

    details.set_error_info(reason, ERROR_DOMAIN, metadata);
    tonic::Status::with_error_details(code, message, details)
}

/// One row of the table for a Kinde client error.
struct Row {
    code: Code,
    reason: &'static str,
    message: &'static str,
    retry_after: Option<Duration>,
}

impl Row {
    fn new(code: Code, reason: &'static str, message: &'static str) -> Self {
        Self {
            code,
            reason,
            message,
            retry_after: None,
        }
    }

    fn retry_after(mut self, delay: Option<Duration>) -> Self {
        self.retry_after = Some(delay.unwrap_or(DEFAULT_RETRY_DELAY));
        self
    }
}

/// The row for a client error. The order of the checks is the table's: local decisions and
/// 429s before the statuses, so a throttled 5xx retry is `RESOURCE_EXHAUSTED`.
fn kinde_row(error: &Error, operation: &Operation) -> Row {
    let idempotent = operation.idempotent;
    let hint = error.retry_after();

    // The caller's grpc-timeout or the stack's own overall timeout, whichever came first.
    if error.middleware_error::<DeadlineExceeded>().is_some() {
        return Row::new(
            Code::DeadlineExceeded,
            "DEADLINE_EXCEEDED",
            "the deadline passed before Kinde answered",
        );
    }
    match error.kind() {
        ErrorKind::RateLimited => {
            return Row::new(Code::ResourceExhausted, "RATE_LIMITED", "rate limited")
                .retry_after(hint);
        }
        ErrorKind::RetryBudgetExhausted => {
            return Row::new(
                Code::ResourceExhausted,
                "RETRY_BUDGET_EXHAUSTED",
                "kinde is failing for many calls; retry budget exhausted",
            )
            .retry_after(hint);
        }
        ErrorKind::CredentialsRejected => {
            return Row::new(
                Code::Internal,
                "KINDE_CREDENTIALS_REJECTED",
                "kinde rejected the gateway's credentials for this caller's profile",
            );
        }
        ErrorKind::CircuitOpen => {
            return Row::new(
                Code::Unavailable,
                "CIRCUIT_OPEN",
                "kinde is failing; circuit open",
            )
            .retry_after(hint);
        }
        ErrorKind::TokenUnavailable => {
            return Row::new(
                Code::Unavailable,
                "TOKEN_UNAVAILABLE",
                "no kinde access token could be obtained",
            )
            .retry_after(hint);
        }
        ErrorKind::InvalidRequest => {
            return Row::new(Code::InvalidArgument, "INVALID_ARGUMENT", "invalid request");
        }
        ErrorKind::Decode | ErrorKind::ResponseTooLarge => {
            return Row::new(
                Code::Internal,
                "KINDE_RESPONSE_INVALID",
                "kinde's response could not be read",
            );
        }
        _ => {}
    }

    if error.kind() == ErrorKind::Transport && was_not_sent(error) {
        return Row::new(
            Code::Unavailable,
            "KINDE_UNREACHABLE",
            "kinde could not be reached",
        )
        .retry_after(hint);
    }
    let status = error.status();
    let server_side = match status {
        None => true,
        Some(status) => status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT,
    };
    if server_side {
        return if idempotent {
            Row::new(
                Code::Unavailable,
                "KINDE_UNAVAILABLE",
                "kinde is unavailable",
            )
            .retry_after(hint)
        } else {
            Row::new(
                Code::Unknown,
                "OUTCOME_UNKNOWN",
                "the request may have reached kinde; check before repeating it",
            )
        };
    }

    match status.map(|s| s.as_u16()) {
        Some(400 | 422) => Row::new(
            Code::InvalidArgument,
            "KINDE_BAD_REQUEST",
            "kinde rejected the request",
        ),
        Some(403) => Row::new(
            Code::PermissionDenied,
            "KINDE_SCOPE_MISSING",
            "the caller's profile lacks the scope this operation needs",
        ),
        Some(404) => Row::new(Code::NotFound, "KINDE_NOT_FOUND", "not found"),
        Some(409) => Row::new(Code::AlreadyExists, "KINDE_CONFLICT", "already exists"),
        _ => Row::new(
            Code::FailedPrecondition,
            "KINDE_REJECTED",
            "kinde rejected the request",
        ),
    }
}

/// Whether the transport failed before the request left: the connection was refused or could
/// not be made.
fn was_not_sent(error: &Error) -> bool {
    let mut current = error.source();
    while let Some(cause) = current {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return matches!(
                io.kind(),
                io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::AddrNotAvailable
                    | io::ErrorKind::HostUnreachable
                    | io::ErrorKind::NetworkUnreachable
            );
        }
        current = cause.source();
    }
    false
}

/// The canonical name of a gRPC status code (`UNAVAILABLE` for [`Code::Unavailable`]), as the
/// audit log, the spans and the metrics write it, and as other languages' gRPC libraries
/// print it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests;
