use std::time::Duration;

use http::{Request, Response, StatusCode};
use tokio::time::{Instant, Sleep, sleep};
use tower::retry::Policy;

use super::hint::retry_hint;
use super::{Backoff, Idempotency, ResendCount, ResendReason, RetryBudget, RetryBudgetExhausted};
use super::{RetryStopped, StopReason};
use crate::BoxError;
use crate::body::{TryCloneBody, try_clone_request};
use crate::classify::{Failure, classify};
use crate::timeout::Deadline;

/// Default maximum attempts, the first included: 3, as AWS's standard mode and Polly's
/// standard pipeline. Two retries ride out a blip; more mostly add load to a sick upstream.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Default longest time from the first attempt to the start of the last: 30 s. No retry starts
/// after that, whatever the attempt count, so one call cannot keep a worker for minutes.
pub const DEFAULT_MAX_ELAPSED: Duration = Duration::from_secs(30);

/// Decides whether and when to repeat a request. See the [module docs](super) for what is
/// retried and what bounds it.
///
/// It implements [`tower::retry::Policy`]; [`RetryLayer`](super::RetryLayer) drives it and
/// gives each call a fresh copy, so the elapsed-time bound counts from that call's start.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    max_attempts: u32,
    max_elapsed: Duration,
    backoff: Backoff,
    budget: RetryBudget,
    started: Instant,
    attempts: u32,
}

impl RetryPolicy {
    /// A policy with the default bounds, drawing retries from `budget` (share it per upstream).
    pub fn new(budget: RetryBudget) -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_elapsed: DEFAULT_MAX_ELAPSED,
            backoff: Backoff::default(),
            budget,
            started: Instant::now(),
            attempts: 0,
        }
    }

    /// At most `attempts` sends per call, the first included; 1 disables retries.
    ///
    /// # Panics
    ///
    /// If `attempts` is zero.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        assert!(attempts > 0, "a call needs at least one attempt");
        self.max_attempts = attempts;
        self
    }

    /// No retry starts later than `elapsed` after the call's first attempt.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// Lowers the maximum elapsed time to `limit` if it is longer.
    pub(crate) fn clamp_elapsed(mut self, limit: Duration) -> Self {
        self.max_elapsed = self.max_elapsed.min(limit);
        self
    }

    /// The delay schedule between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The upstream's retry budget.
    pub fn budget(&self) -> &RetryBudget {
        &self.budget
    }

    /// A copy for one call, starting now; the call's send is deposited in the budget.
    pub(super) fn start(&self) -> Self {
        self.budget.deposit();

        Self {
            started: Instant::now(),
            attempts: 0,
            ..self.clone()
        }
    }

    fn next_delay(&self, hint: Option<Duration>) -> Duration {
        let backoff = self.backoff.delay(self.attempts - 1, rand::random::<f64>());
        backoff.max(hint.unwrap_or_default())
    }

    fn stop_reason<B>(&self, request: &Request<B>, resume: Instant) -> Option<StopReason> {
        if self.attempts >= self.max_attempts {
            return Some(StopReason::MaxAttempts);
        }
        if resume > self.started + self.max_elapsed {
            return Some(StopReason::MaxElapsed);
        }
        if let Some(deadline) = request.extensions().get::<Deadline>()
            && resume >= deadline.instant()
        {
            return Some(StopReason::Deadline);
        }
        None
    }
}

/// A retryable outcome: why, and the server's hint.
struct Retryable {
    reason: &'static str,
    hint: Option<Duration>,
}

fn retryable<RB>(
    idempotency: Idempotency,
    result: &Result<Response<RB>, BoxError>,
) -> Option<Retryable> {
    let idempotent = idempotency.is_idempotent();

    let reason = match result {
        Ok(response) => match response.status() {
            StatusCode::TOO_MANY_REQUESTS => "throttled",
            StatusCode::REQUEST_TIMEOUT
            | StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
                if idempotent =>
            {
                "server_error"
            }
            _ => return None,
        },
        Err(error) => match classify(error.as_ref()) {
            Failure::NotSent => "connect",
            Failure::Timeout if idempotent => "timeout",
            Failure::MaybeSent if idempotent => "transport",
            _ => return None,
        },
    };

    let hint = match result {
        Ok(response) => retry_hint(response.headers(), std::time::SystemTime::now()),
        Err(_) => None,
    };
    Some(Retryable { reason, hint })
}

fn report<RB>(result: &mut Result<Response<RB>, BoxError>, stopped: RetryStopped) {
    match result {
        Ok(response) => {
            response.extensions_mut().insert(stopped);
        }
        Err(error) if stopped.reason == StopReason::BudgetExhausted => {
            let source = std::mem::replace(error, BoxError::from("retry budget exhausted"));
            *error = Box::new(RetryBudgetExhausted::new(source));
        }
        Err(_) => {}
    }
}

impl<B, RB> Policy<Request<B>, Response<RB>, BoxError> for RetryPolicy
where
    B: TryCloneBody,
{
    type Future = Sleep;

    fn retry(
        &mut self,
        request: &mut Request<B>,
        result: &mut Result<Response<RB>, BoxError>,
    ) -> Option<Self::Future> {
        self.attempts += 1;
        let Retryable { reason, hint } = retryable(Idempotency::of(request), result)?;

        let delay = self.next_delay(hint);
        let mut stop = self.stop_reason(request, Instant::now() + delay);
        if stop.is_none() && !self.budget.withdraw() {
            crate::metrics::budget_exhausted();
            stop = Some(StopReason::BudgetExhausted);
        }

        if let Some(reason) = stop {
            let stopped = RetryStopped {
                attempts: self.attempts,
                reason,
                retry_after: hint,
            };
            tracing::debug!(retry.attempts = self.attempts, retry.stop = ?reason, "not retrying");
            report(result, stopped);
            return None;
        }

        request.extensions_mut().insert(ResendCount(self.attempts));
        request.extensions_mut().insert(ResendReason(reason));
        crate::metrics::retry(reason);
        tracing::debug!(
            retry.attempt = self.attempts,
            retry.reason = reason,
            retry.delay_ms = delay.as_millis() as u64,
            "retrying"
        );
        Some(sleep(delay))
    }

    fn clone_request(&mut self, request: &Request<B>) -> Option<Request<B>> {
        try_clone_request(request)
    }
}
