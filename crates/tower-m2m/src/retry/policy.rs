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
use crate::token::TokenRejected;

/// The reason recorded for a replay after a rejected token.
const TOKEN_REJECTED: &str = "token_rejected";

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
    /// The current attempt's one replay after a rejected token has been made.
    token_replayed: bool,
    /// Replays after a rejected token made in this call, for the resend count.
    token_replays: u32,
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
            token_replayed: false,
            token_replays: 0,
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
            token_replayed: false,
            token_replays: 0,
            ..self.clone()
        }
    }

    /// Whether to send `request` again at once because the token layer below rejected its
    /// token and left the replay to this layer: the response carries [`TokenRejected`], which
    /// is taken off it here, replayed or not, so that no layer further up replays it again.
    ///
    /// Once per attempt, whatever the method: upstream refused the request before acting on
    /// it. The replay waits for no backoff, draws nothing from the budget and does not count
    /// towards [`max_attempts`](Self::max_attempts); it still passes every layer below, so it
    /// takes a rate-limit permit like any other request to upstream. It is not made once the
    /// call's [`Deadline`] has passed.
    pub(super) fn replay_rejected_token<B, RB>(
        &mut self,
        request: &mut Request<B>,
        result: &mut Result<Response<RB>, BoxError>,
    ) -> bool {
        let Ok(response) = result else {
            return false;
        };
        if response
            .extensions_mut()
            .remove::<TokenRejected>()
            .is_none()
        {
            return false;
        }
        let past_deadline = request
            .extensions()
            .get::<Deadline>()
            .is_some_and(|deadline| Instant::now() >= deadline.instant());
        if self.token_replayed || past_deadline {
            tracing::debug!(
                retry.past_deadline = past_deadline,
                "token rejected again; not replaying"
            );
            return false;
        }
        self.token_replayed = true;
        self.token_replays += 1;

        request.extensions_mut().insert(ResendCount(self.resends()));
        request
            .extensions_mut()
            .insert(ResendReason(TOKEN_REJECTED));
        crate::metrics::retry(TOKEN_REJECTED);
        tracing::debug!(
            retry.attempt = self.resends(),
            retry.reason = TOKEN_REJECTED,
            "replaying with a new token"
        );
        true
    }

    /// The sends after the first so far: the retries and the replays after a rejected token.
    fn resends(&self) -> u32 {
        self.attempts + self.token_replays
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

        request.extensions_mut().insert(ResendCount(self.resends()));
        request.extensions_mut().insert(ResendReason(reason));
        crate::metrics::retry(reason);
        tracing::debug!(
            retry.attempt = self.resends(),
            retry.reason = reason,
            retry.delay_ms = delay.as_millis() as u64,
            "retrying"
        );
        // The next attempt may be rejected for its token too, and replayed once.
        self.token_replayed = false;
        Some(sleep(delay))
    }

    fn clone_request(&mut self, request: &Request<B>) -> Option<Request<B>> {
        try_clone_request(request)
    }
}
