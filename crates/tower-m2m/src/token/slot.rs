//! The state of one cache entry: the current token, the fetch in flight, the last failure.
//!
//! Lock order: `control` before `current`. [`Slot::cached`] takes only a read lock of `current`,
//! which a fetch holds for the instant it installs a new token, never across the request. A
//! holder of a token checks that it is still the current one without any lock, by comparing its
//! serial with [`Slot::current_serial`], which changes (under the write lock) whenever `current`
//! does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{Instrument, debug, error, field, info_span, warn};

use super::endpoint::Fetch;
use super::error::{FetchError, FetchErrorKind, TokenError, TokenUnavailable};
use super::jitter::{self, Jitter};
use super::key::CacheKey;
use super::policy::RefreshPolicy;
use super::response::Failure;
use super::secret::AccessToken;
use super::stats::Stats;

type Outcome = Result<AccessToken, TokenError>;

pub(crate) struct Slot {
    pub(crate) key: CacheKey,
    current: RwLock<Option<AccessToken>>,
    /// The serial of the token in `current`, `0` when there is none; written under its lock.
    current_serial: AtomicU64,
    control: Mutex<Control>,
    /// Set while a fetch runs, so callers past the refresh point skip the mutex.
    fetching: AtomicBool,
    /// No background refresh starts before this many nanoseconds after `epoch` (backoff).
    refresh_not_before: AtomicU64,
    epoch: Instant,
    fetcher: Box<dyn Fetch>,
    policy: RefreshPolicy,
    jitter: Arc<dyn Jitter>,
    pub(crate) stats: Stats,
}

#[derive(Default)]
struct Control {
    /// The fetch in flight; every waiter for this key subscribes to it.
    flight: Option<watch::Receiver<Option<Outcome>>>,
    /// The last failure, answered without a request until `until`.
    failure: Option<RememberedFailure>,
}

struct RememberedFailure {
    error: TokenError,
    until: Instant,
    consecutive: u32,
}

#[derive(Clone, Copy)]
enum Reason {
    /// No usable token: callers are waiting.
    Cold,
    /// A usable token past its refresh point: nobody waits.
    Refresh,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Cold => "cold",
            Self::Refresh => "refresh",
        }
    }
}

impl Slot {
    pub(crate) fn new(
        key: CacheKey,
        fetcher: Box<dyn Fetch>,
        policy: RefreshPolicy,
        jitter: Arc<dyn Jitter>,
    ) -> Self {
        Self {
            key,
            current: RwLock::new(None),
            current_serial: AtomicU64::new(0),
            control: Mutex::new(Control::default()),
            fetching: AtomicBool::new(false),
            refresh_not_before: AtomicU64::new(0),
            epoch: Instant::now(),
            fetcher,
            policy,
            jitter,
            stats: Stats::default(),
        }
    }

    /// The current token if it may be sent now. Past its refresh point, the first caller starts
    /// one background refresh; nobody waits for it.
    pub(crate) fn cached(self: &Arc<Self>) -> Option<AccessToken> {
        let now = Instant::now();
        let token = self.usable_at(now)?;

        if now >= token.refresh_at() && self.may_refresh(now) {
            self.refresh_in_background(now);
        }
        Some(token)
    }

    /// A token, waiting for the single fetch in flight if there is no usable one.
    pub(crate) async fn token(self: Arc<Self>) -> Outcome {
        if let Some(token) = self.cached() {
            return Ok(token);
        }

        let mut flight = {
            let now = Instant::now();
            let mut control = self.lock_control();
            // A fetch may have finished between the fast path and the lock.
            if let Some(token) = self.usable_at(now) {
                return Ok(token);
            }
            match &control.flight {
                Some(flight) => flight.clone(),
                None => {
                    if let Some(failure) = control.failure.as_ref().filter(|f| now < f.until) {
                        return Err(failure.error.clone());
                    }
                    self.start_fetch(&mut control, Reason::Cold)
                }
            }
        };

        match flight.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().expect("waited for an outcome"),
            Err(_) => Err(TokenError::Unavailable(TokenUnavailable::new(None))),
        }
    }

    /// The serial of the current token (see [`AccessToken::serial`]), `0` when there is none. A
    /// token whose serial this is has not been replaced or invalidated since it was taken.
    pub(crate) fn current_serial(&self) -> u64 {
        self.current_serial.load(Ordering::Acquire)
    }

    /// Drops the token with `serial` from the cache if it is still the current one and older
    /// than the grace.
    pub(crate) fn invalidate(&self, serial: u64) -> bool {
        let grace = self.policy.invalidation_grace_value();
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let stale = current
            .as_ref()
            .is_some_and(|c| c.serial() == serial && c.requested_at().elapsed() >= grace);
        if stale {
            *current = None;
            self.current_serial.store(0, Ordering::Release);
            debug!(token.client_id = %self.key.client_id, "token invalidated");
        }
        stale
    }

    fn usable_at(&self, now: Instant) -> Option<AccessToken> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().filter(|t| t.is_usable_at(now)).cloned()
    }

    fn may_refresh(&self, now: Instant) -> bool {
        !self.fetching.load(Ordering::Acquire)
            && self.nanos_since_epoch(now) >= self.refresh_not_before.load(Ordering::Acquire)
    }

    fn refresh_in_background(self: &Arc<Self>, now: Instant) {
        let mut control = self.lock_control();
        let backing_off = control.failure.as_ref().is_some_and(|f| now < f.until);
        if control.flight.is_none() && !backing_off {
            drop(self.start_fetch(&mut control, Reason::Refresh));
        }
    }

    /// Spawns the fetch on its own task, so no caller's cancellation can stop it.
    fn start_fetch(
        self: &Arc<Self>,
        control: &mut Control,
        reason: Reason,
    ) -> watch::Receiver<Option<Outcome>> {
        let (sender, receiver) = watch::channel(None);
        control.flight = Some(receiver.clone());
        self.fetching.store(true, Ordering::Release);

        let span = info_span!(
            parent: None,
            "token.fetch",
            token.url = %self.key.token_url,
            token.client_id = %self.key.client_id,
            token.reason = reason.as_str(),
            token.outcome = field::Empty,
        );
        debug!(parent: &span, "token refresh started");

        let flight = Flight {
            slot: Arc::clone(self),
            sender,
            started: Instant::now(),
            done: false,
        };
        tokio::spawn(flight.run().instrument(span));
        receiver
    }

    /// Records the result of a fetch and returns what its waiters get.
    fn complete(&self, result: Result<AccessToken, Failure>) -> Outcome {
        let now = Instant::now();
        let mut control = self.lock_control();
        control.flight = None;

        let outcome = match result {
            Ok(token) => {
                let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
                self.current_serial.store(token.serial(), Ordering::Release);
                *current = Some(token.clone());
                drop(current);
                control.failure = None;
                self.refresh_not_before.store(0, Ordering::Release);
                self.stats.record_success();
                tracing::Span::current().record("token.outcome", "refreshed");
                debug!("token refreshed");
                Ok(token)
            }
            Err(failure) => {
                let remembered = self.remember(&control, failure, now);
                let until = self.nanos_since_epoch(remembered.until);
                self.refresh_not_before.store(until, Ordering::Release);
                let error = remembered.error.clone();
                control.failure = Some(remembered);
                Err(error)
            }
        };
        self.fetching.store(false, Ordering::Release);
        outcome
    }

    fn remember(&self, control: &Control, failure: Failure, now: Instant) -> RememberedFailure {
        let consecutive = control.failure.as_ref().map_or(0, |f| f.consecutive) + 1;
        let still_serving = self.usable_at(now).is_some();

        match failure {
            Failure::Rejected(rejected) => {
                self.stats.record_rejection();
                tracing::Span::current().record("token.outcome", "rejected");
                error!(
                    token.code = rejected.code().as_str(),
                    token.status = rejected.status().as_u16(),
                    token.still_serving = still_serving,
                    "client credentials rejected"
                );
                RememberedFailure {
                    error: TokenError::CredentialsRejected(rejected),
                    until: now + self.policy.rejection_ttl_value(),
                    consecutive,
                }
            }
            Failure::Transient(cause) => {
                self.stats.record_failure();
                let delay = self
                    .policy
                    .backoff_delay(consecutive, jitter::sample(self.jitter.as_ref()));
                tracing::Span::current().record("token.outcome", "failed");
                warn!(
                    error = %cause,
                    token.consecutive_failures = consecutive,
                    token.retry_in_ms = delay.as_millis() as u64,
                    token.still_serving = still_serving,
                    "token refresh failed"
                );
                RememberedFailure {
                    error: TokenError::Unavailable(TokenUnavailable::new(Some(cause))),
                    until: now + delay,
                    consecutive,
                }
            }
        }
    }

    fn lock_control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn nanos_since_epoch(&self, instant: Instant) -> u64 {
        u64::try_from(instant.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// One fetch, run on its own task. If the task ends without an outcome (the transport panicked,
/// the runtime shut down), dropping it still records a failure and wakes the waiters.
struct Flight {
    slot: Arc<Slot>,
    sender: watch::Sender<Option<Outcome>>,
    started: Instant,
    done: bool,
}

impl Flight {
    async fn run(mut self) {
        let timeout = self.slot.policy.fetch_timeout_value();
        let result = match tokio::time::timeout(timeout, self.slot.fetcher.fetch()).await {
            Ok(Ok(grant)) => {
                let fraction = jitter::sample(self.slot.jitter.as_ref());
                let (refresh_at, usable_until) =
                    self.slot
                        .policy
                        .schedule(self.started, grant.expires_in, fraction);
                AccessToken::new(grant.access_token, self.started, refresh_at, usable_until)
                    .ok_or_else(|| {
                        Failure::Transient(FetchError::new(FetchErrorKind::InvalidResponse))
                    })
            }
            Ok(Err(failure)) => Err(failure),
            Err(_elapsed) => Err(Failure::Transient(FetchError::new(FetchErrorKind::Timeout))),
        };
        self.finish(result);
    }

    fn finish(&mut self, result: Result<AccessToken, Failure>) {
        self.done = true;
        let outcome = self.slot.complete(result);
        self.sender.send_replace(Some(outcome));
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        if !self.done {
            let failure = Failure::Transient(FetchError::new(FetchErrorKind::Transport));
            self.finish(Err(failure));
        }
    }
}
