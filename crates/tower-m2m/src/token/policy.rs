//! When to refresh a token, how long to trust it, and how to back off when fetching fails.

use std::time::Duration;

use tokio::time::Instant;

use super::response::MAX_TOKEN_LIFETIME;

/// Refresh after this share of the token's lifetime. At 0.8 a one-hour token (Kinde's default) is
/// refreshed after 48 minutes, which leaves 12 minutes in which the token endpoint may be down
/// without any caller noticing, at the price of 1.25 tokens an hour instead of 1 (Kinde bills
/// per token issued).
pub const DEFAULT_REFRESH_SHARE: f64 = 0.8;

/// The refresh point is drawn uniformly from up to this share of the lifetime *before*
/// [`DEFAULT_REFRESH_SHARE`]: 5% of an hour is three minutes, enough to spread the refreshes of
/// replicas deployed together, small enough not to cost tokens.
pub const DEFAULT_REFRESH_JITTER: f64 = 0.05;

/// A token is not sent during the last 10 seconds of its lifetime, so that it cannot expire in
/// flight or on a server whose clock runs slightly ahead. This is Go's `x/oauth2` margin; the
/// token would normally have been refreshed long before.
pub const DEFAULT_EXPIRY_LEEWAY: Duration = Duration::from_secs(10);

/// The lifetime assumed when the endpoint sends no `expires_in`: one hour, Kinde's documented
/// default and the fallback of Kinde's own Python SDK.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// A token request with no answer after 10 seconds fails as a timeout. A caller waiting longer
/// than that for a token has usually given up, and a hung fetch would hold every waiter.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The first delay after a transient fetch failure. It doubles with each further failure.
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(1);

/// The longest delay between two fetches while the endpoint keeps failing. Each delay is drawn
/// between half the ceiling and the ceiling, so an endpoint that is down sees two to four requests
/// a minute from each credential, and a recovered one is noticed within half a minute.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// How long a rejection of the credentials (`invalid_client`, ...) is remembered. Callers in the
/// window fail at once without a request, so a wrong secret costs two requests a minute however
/// hard the callers retry; it matches the "tar pit" some identity providers impose on repeated
/// failed client authentications.
pub const DEFAULT_REJECTION_TTL: Duration = Duration::from_secs(30);

/// A token younger than 5 seconds is not invalidated when upstream rejects it. A token that is
/// rejected as soon as it is issued points at configuration (a wrong audience, a missing scope,
/// a `403` counted as a rejection), not at a stale token: fetching again would not help and
/// would cost a token per rejected request. The grace bounds such fetches to twelve a minute.
pub const DEFAULT_INVALIDATION_GRACE: Duration = Duration::from_secs(5);

/// The share of a token's usable period (its lifetime less the expiry leeway) left after its
/// refresh point, up to the fetch timeout, so that a background refresh has time to finish (or
/// fail) while the token is still used. With the default share and leeway it binds only for
/// tokens under 60 to 90 seconds (by the jitter drawn): their refresh point moves earlier, instead
/// of onto or past their end of use, where callers would wait for the fetch. With a share near
/// 1.0 it binds for every token, and costs little: a one-hour token is refreshed at most the
/// fetch timeout (10 s by default) before its end of use.
const MIN_REFRESH_WINDOW: f64 = 0.1;

/// The refresh, expiry and backoff rules of a [`TokenSource`](super::TokenSource).
///
/// Every setter takes `self` and panics on a value that would make the policy unsound; each
/// default is the constant of the same name, documented with its reason.
#[derive(Clone, Debug)]
pub struct RefreshPolicy {
    refresh_share: f64,
    refresh_jitter: f64,
    expiry_leeway: Duration,
    default_lifetime: Duration,
    fetch_timeout: Duration,
    backoff_initial: Duration,
    backoff_max: Duration,
    rejection_ttl: Duration,
    invalidation_grace: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            refresh_share: DEFAULT_REFRESH_SHARE,
            refresh_jitter: DEFAULT_REFRESH_JITTER,
            expiry_leeway: DEFAULT_EXPIRY_LEEWAY,
            default_lifetime: DEFAULT_TOKEN_LIFETIME,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            backoff_initial: DEFAULT_BACKOFF_INITIAL,
            backoff_max: DEFAULT_BACKOFF_MAX,
            rejection_ttl: DEFAULT_REJECTION_TTL,
            invalidation_grace: DEFAULT_INVALIDATION_GRACE,
        }
    }
}

impl RefreshPolicy {
    /// The default policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refresh after this share of the lifetime ([`DEFAULT_REFRESH_SHARE`]), but always with a
    /// tenth of the token's usable period (at most the fetch timeout) left, so that the refresh
    /// runs in the background.
    ///
    /// # Panics
    ///
    /// Unless `0.5 <= share <= 1.0`: refreshing earlier than half the lifetime would make a
    /// short-lived token refresh in a loop.
    pub fn refresh_share(mut self, share: f64) -> Self {
        assert!(
            (0.5..=1.0).contains(&share),
            "refresh share must be in [0.5, 1.0]"
        );
        self.refresh_share = share;
        self
    }

    /// Spread the refresh point over up to this share of the lifetime before the refresh share
    /// ([`DEFAULT_REFRESH_JITTER`]). The refresh point never moves before half the lifetime.
    ///
    /// # Panics
    ///
    /// Unless `0.0 <= jitter <= 0.5`.
    pub fn refresh_jitter(mut self, jitter: f64) -> Self {
        assert!(
            (0.0..=0.5).contains(&jitter),
            "refresh jitter must be in [0.0, 0.5]"
        );
        self.refresh_jitter = jitter;
        self
    }

    /// Stop sending a token this long before it expires ([`DEFAULT_EXPIRY_LEEWAY`]); clamped to
    /// a quarter of the token's lifetime, so that even a short-lived token stays usable for three
    /// quarters of its life (its refresh point then leaves a tenth of that for the background
    /// refresh).
    pub fn expiry_leeway(mut self, leeway: Duration) -> Self {
        self.expiry_leeway = leeway;
        self
    }

    /// The lifetime assumed when `expires_in` is missing ([`DEFAULT_TOKEN_LIFETIME`]); at most
    /// 30 days are used, as for `expires_in`.
    ///
    /// # Panics
    ///
    /// If `lifetime` is zero.
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        assert!(
            !lifetime.is_zero(),
            "default token lifetime must not be zero"
        );
        self.default_lifetime = lifetime;
        self
    }

    /// Fail a token request with no answer after `timeout` ([`DEFAULT_FETCH_TIMEOUT`]).
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        assert!(!timeout.is_zero(), "fetch timeout must not be zero");
        self.fetch_timeout = timeout;
        self
    }

    /// Back off from `initial`, doubling up to `max`, after transient fetch failures
    /// ([`DEFAULT_BACKOFF_INITIAL`], [`DEFAULT_BACKOFF_MAX`]). Each delay is drawn from its
    /// upper half, so jitter never makes it short.
    ///
    /// # Panics
    ///
    /// If `initial` is zero or `max < initial`.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        assert!(!initial.is_zero(), "initial backoff must not be zero");
        assert!(
            max >= initial,
            "maximum backoff must not be below the initial one"
        );
        self.backoff_initial = initial;
        self.backoff_max = max;
        self
    }

    /// Remember a rejection of the credentials for `ttl` ([`DEFAULT_REJECTION_TTL`]).
    ///
    /// # Panics
    ///
    /// If `ttl` is zero: every caller would then reach the endpoint with a known-bad secret.
    pub fn rejection_ttl(mut self, ttl: Duration) -> Self {
        assert!(!ttl.is_zero(), "rejection ttl must not be zero");
        self.rejection_ttl = ttl;
        self
    }

    /// Ignore invalidations of tokens younger than `grace` ([`DEFAULT_INVALIDATION_GRACE`]);
    /// zero honours every invalidation.
    pub fn invalidation_grace(mut self, grace: Duration) -> Self {
        self.invalidation_grace = grace;
        self
    }

    pub(crate) fn invalidation_grace_value(&self) -> Duration {
        self.invalidation_grace
    }

    pub(crate) fn fetch_timeout_value(&self) -> Duration {
        self.fetch_timeout
    }

    pub(crate) fn rejection_ttl_value(&self) -> Duration {
        self.rejection_ttl
    }

    /// The refresh point and the end of use of a token whose request started at `started`.
    ///
    /// Lifetimes are counted from the start of the request, not its answer, which errs on the
    /// safe side by the request's latency.
    pub(crate) fn schedule(
        &self,
        started: Instant,
        expires_in: Option<Duration>,
        jitter: f64,
    ) -> (Instant, Instant) {
        let lifetime = expires_in
            .unwrap_or(self.default_lifetime)
            .min(MAX_TOKEN_LIFETIME);
        let leeway = self.expiry_leeway.min(lifetime / 4);
        let usable = lifetime - leeway;
        let usable_until = started + usable;

        let share = (self.refresh_share - self.refresh_jitter * jitter).max(0.5);
        let window = usable.mul_f64(MIN_REFRESH_WINDOW).min(self.fetch_timeout);
        let latest = usable_until - window;
        let refresh_at = (started + lifetime.mul_f64(share)).min(latest);
        (refresh_at, usable_until)
    }

    /// The delay before the next fetch after `failures` consecutive transient failures.
    pub(crate) fn backoff_delay(&self, failures: u32, jitter: f64) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        let ceiling = self
            .backoff_initial
            .saturating_mul(1 << doublings)
            .min(self.backoff_max);
        ceiling / 2 + (ceiling / 2).mul_f64(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_one_hour_token_refreshes_after_the_refresh_share() {
        let policy = RefreshPolicy::new();
        let start = Instant::now();
        let hour = Duration::from_secs(3600);

        let (refresh_at, usable_until) = policy.schedule(start, Some(hour), 0.0);
        assert_eq!(refresh_at - start, hour.mul_f64(0.8));
        assert_eq!(usable_until - start, hour - DEFAULT_EXPIRY_LEEWAY);

        let (jittered, _) = policy.schedule(start, Some(hour), 1.0);
        assert_eq!(jittered - start, hour.mul_f64(0.75));
    }

    #[test]
    fn a_short_token_refreshes_at_half_life_while_still_usable() {
        let policy = RefreshPolicy::new().refresh_share(0.5).refresh_jitter(0.5);
        let start = Instant::now();
        let (refresh_at, usable_until) = policy.schedule(start, Some(Duration::from_secs(4)), 1.0);
        assert_eq!(refresh_at - start, Duration::from_secs(2));
        assert_eq!(usable_until - start, Duration::from_secs(3));
    }

    #[test]
    fn a_forty_second_token_refreshes_before_its_use_ends() {
        // 40 s: the leeway is 10 s, so use ends at 30 s, before 80% of the lifetime (32 s).
        let policy = RefreshPolicy::new();
        let start = Instant::now();
        let (refresh_at, usable_until) = policy.schedule(start, Some(Duration::from_secs(40)), 0.0);
        assert_eq!(usable_until - start, Duration::from_secs(30));
        assert_eq!(refresh_at - start, Duration::from_secs(27));
    }

    #[test]
    fn a_share_of_one_refreshes_a_long_token_the_fetch_timeout_before_its_use_ends() {
        let policy = RefreshPolicy::new().refresh_share(1.0).refresh_jitter(0.0);
        let start = Instant::now();
        let hour = Duration::from_secs(3600);
        let (refresh_at, usable_until) = policy.schedule(start, Some(hour), 0.0);
        assert_eq!(usable_until - refresh_at, DEFAULT_FETCH_TIMEOUT);
    }

    #[test]
    fn a_huge_default_lifetime_is_clamped_like_expires_in() {
        let policy = RefreshPolicy::new().default_lifetime(Duration::MAX);
        let start = Instant::now();
        let (_, usable_until) = policy.schedule(start, None, 0.0);
        assert_eq!(
            usable_until - start,
            MAX_TOKEN_LIFETIME - DEFAULT_EXPIRY_LEEWAY
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_never_drops_below_half() {
        let policy = RefreshPolicy::new();
        assert_eq!(policy.backoff_delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(policy.backoff_delay(1, 0.0), Duration::from_millis(500));
        assert_eq!(policy.backoff_delay(3, 1.0), Duration::from_secs(4));
        assert_eq!(policy.backoff_delay(40, 1.0), DEFAULT_BACKOFF_MAX);
    }

    proptest! {
        #[test]
        fn a_token_is_refreshed_in_the_second_half_and_before_its_use_ends(
            lifetime_ms in 1u64..=30 * 24 * 3_600_000,
            share in 0.5f64..=1.0,
            spread in 0.0f64..=0.5,
            jitter in 0.0f64..=1.0,
            leeway_ms in 0u64..=3_600_000,
        ) {
            let policy = RefreshPolicy::new()
                .refresh_share(share)
                .refresh_jitter(spread)
                .expiry_leeway(Duration::from_millis(leeway_ms));
            let start = Instant::now();
            let lifetime = Duration::from_millis(lifetime_ms);
            let (refresh_at, usable_until) = policy.schedule(start, Some(lifetime), jitter);

            prop_assert!(usable_until <= start + lifetime);
            prop_assert!(usable_until - start >= lifetime - lifetime / 4);
            prop_assert!(refresh_at <= usable_until);
            // Time is left for a background refresh, whatever the share and the leeway.
            let window = (usable_until - start)
                .mul_f64(MIN_REFRESH_WINDOW)
                .min(DEFAULT_FETCH_TIMEOUT);
            prop_assert!(usable_until - refresh_at >= window);
            prop_assert!(refresh_at - start >= (lifetime / 2).min(usable_until - start));
        }

        #[test]
        fn backoff_stays_between_half_the_first_delay_and_the_cap(
            initial_ms in 1u64..=60_000,
            extra_ms in 0u64..=600_000,
            failures in 1u32..=1_000,
            jitter in 0.0f64..=1.0,
        ) {
            let initial = Duration::from_millis(initial_ms);
            let max = initial + Duration::from_millis(extra_ms);
            let delay = RefreshPolicy::new().backoff(initial, max).backoff_delay(failures, jitter);
            prop_assert!(delay <= max);
            prop_assert!(delay >= initial / 2);
        }
    }
}
