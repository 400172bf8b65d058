//! [`Failure`]: why an example stopped, in one line a person can act on.

use std::fmt;

use kinde_gateway::status::code_name;

/// Why an example stopped: what it was doing, what went wrong and, for a call, its request id
/// (the same id is in the gateway's audit log and was sent to Kinde).
#[derive(Debug)]
pub struct Failure {
    doing: String,
    reason: String,
    request_id: Option<String>,
}

impl Failure {
    /// A failure of something other than a call (bad input, a file that cannot be read).
    pub fn new(doing: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self {
            doing: doing.into(),
            reason: reason.to_string(),
            request_id: None,
        }
    }

    /// A call that failed with `status`; `request_id` is the id the call was sent with.
    pub fn status(doing: impl Into<String>, request_id: &str, status: &tonic::Status) -> Self {
        let message = status.message().lines().next().unwrap_or_default();
        let reason = if message.is_empty() {
            code_name(status.code()).to_owned()
        } else {
            format!("{}: {message}", code_name(status.code()))
        };
        Self {
            doing: doing.into(),
            reason,
            request_id: Some(request_id.to_owned()),
        }
    }

    /// A failed call that is not a gRPC status (an HTTP call of `axum_outbound`).
    pub fn call(doing: impl Into<String>, request_id: &str, reason: impl fmt::Display) -> Self {
        Self {
            doing: doing.into(),
            reason: reason.to_string(),
            request_id: Some(request_id.to_owned()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.doing, self.reason)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_is_one_line_with_its_code_and_request_id() {
        let status = tonic::Status::already_exists("a user with this email exists\nmore detail");
        let failure = Failure::status("create user ada@acme.example", "ex-1", &status);

        assert_eq!(
            failure.to_string(),
            "create user ada@acme.example failed: ALREADY_EXISTS: a user with this email exists \
             (request id ex-1)"
        );
    }

    #[test]
    fn a_local_failure_has_no_request_id() {
        let failure = Failure::new("read users.csv", "line 3: 2 columns, expected 4");

        assert_eq!(
            failure.to_string(),
            "read users.csv failed: line 3: 2 columns, expected 4"
        );
    }
}
