use std::time::Duration;

/// Why the retry layer stopped with a response that it would otherwise have retried.
///
/// Set as a response extension on the final response only when a retry was wanted and not
/// made, so the caller (and the gateway's error mapping) can tell "the upstream said 503 three
/// times" from "the budget was spent".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryStopped {
    /// Attempts made, the first included.
    pub attempts: u32,
    /// What stopped the retries.
    pub reason: StopReason,
    /// The server's hint, when it sent one: how long to wait before trying again.
    pub retry_after: Option<Duration>,
}

/// What stopped a retryable call from being retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The configured maximum number of attempts was reached.
    MaxAttempts,
    /// The next attempt would have started after the configured maximum elapsed time.
    MaxElapsed,
    /// The wait before the next attempt (the server's hint or the backoff) runs past the
    /// call's deadline.
    Deadline,
    /// The upstream's retry budget refused the retry.
    BudgetExhausted,
}

/// The attempt number of a request on its way down the stack: 0 for the first send, then 1, 2
/// for resends (retries and a replay after a rejected token alike). Set by the retry layer as
/// a request extension, read by tracing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResendCount(pub u32);

/// Why a resend was made (`throttled`, `server_error`, `connect`, `timeout`, `transport`,
/// `token_rejected`), set beside [`ResendCount`] for the attempt span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ResendReason(pub(crate) &'static str);
