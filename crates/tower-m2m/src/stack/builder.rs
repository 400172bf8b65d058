use std::time::Duration;

use http::{Request, Response};
use tower::layer::util::Identity;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service};

use super::{M2mLayer, Upstream};
use crate::BoxError;
use crate::ReplayBody;
use crate::body::TryCloneBody;
use crate::retry::{Backoff, RetryPolicy};
use crate::timeout::AttemptTimeout;
use crate::token::{AuthLayer, ClientCredentials, TokenSource};

/// Default overall timeout of a call, retries included: 30 s, the same as the retry layer's
/// maximum elapsed time, and within what a gateway caller typically allows.
pub const DEFAULT_OVERALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Default timeout of one attempt in the transport: 10 s. Kinde's slowest calls (large list
/// pages with expansions) take a few seconds; past ten, a retry has better odds than waiting.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The composed stack as one cloneable service.
///
/// It is `Send` and `Sync`, so it can live in shared state (an `Arc`, axum's `State`) without a
/// lock. Calling it takes `&mut self`, as for every tower service: clone it per task or per
/// call (cloning is cheap, and clones share the token cache and the upstream's limits).
pub type M2mService<B, RB> = BoxCloneSyncService<Request<B>, Response<RB>, BoxError>;

/// Entry point of the stack. See the [module docs](super).
#[derive(Clone, Copy, Debug)]
pub struct M2mStack(());

impl M2mStack {
    /// Configures a stack that calls `upstream`.
    pub fn builder(upstream: Upstream) -> StackBuilder<Identity> {
        StackBuilder {
            upstream,
            policy: None,
            overall_timeout: Some(DEFAULT_OVERALL_TIMEOUT),
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            auth: Identity::new(),
        }
    }
}

/// Configures and builds the stack over a transport. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct StackBuilder<A> {
    upstream: Upstream,
    policy: Option<RetryPolicy>,
    overall_timeout: Option<Duration>,
    attempt_timeout: Duration,
    auth: A,
}

impl<A> StackBuilder<A> {
    /// At most `attempts` sends per call, the first included.
    ///
    /// # Panics
    ///
    /// If `attempts` is zero.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.policy = Some(self.retry_policy().max_attempts(attempts));
        self
    }

    /// No retry starts later than `elapsed` after the first attempt.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.policy = Some(self.retry_policy().max_elapsed(elapsed));
        self
    }

    /// The delay schedule between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.policy = Some(self.retry_policy().backoff(backoff));
        self
    }

    /// The overall timeout of a call; `None` leaves only the callers' own deadlines.
    pub fn overall_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.overall_timeout = timeout;
        self
    }

    /// The timeout of one attempt in the transport.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// The authentication layer, placed below the limits and above the attempt timeout: the
    /// token layer of this crate, or any layer that adds credentials.
    pub fn auth<A2>(self, auth: A2) -> StackBuilder<A2> {
        StackBuilder {
            upstream: self.upstream,
            policy: self.policy,
            overall_timeout: self.overall_timeout,
            attempt_timeout: self.attempt_timeout,
            auth,
        }
    }

    /// Authenticates with tokens from `source`: this crate's [`AuthLayer`] with its defaults,
    /// placed where [`auth`](Self::auth) puts it. Each stack should have its own source (one per
    /// credential profile), while the [`Upstream`] is shared.
    pub fn token_source(self, source: TokenSource) -> StackBuilder<AuthLayer> {
        self.auth(AuthLayer::new(source))
    }

    /// Authenticates as the client `credentials`, fetching tokens over `token_transport`: a new
    /// [`TokenSource`] with its defaults, then [`token_source`](Self::token_source).
    pub fn credentials<T, B>(
        self,
        credentials: ClientCredentials,
        token_transport: T,
    ) -> StackBuilder<AuthLayer>
    where
        T: Service<Request<ReplayBody>, Response = Response<B>> + Clone + Send + 'static,
        T::Future: Send,
        T::Error: Into<BoxError>,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        self.token_source(TokenSource::new(credentials, token_transport))
    }

    /// The stack as a [`Layer`], for a `ServiceBuilder` or to keep the service unboxed.
    pub fn layer(self) -> M2mLayer<A> {
        // No retry may start after the overall timeout; see OverallTimeout's notes.
        let mut policy = self.retry_policy();
        if let Some(timeout) = self.overall_timeout {
            policy = policy.clamp_elapsed(timeout);
        }

        M2mLayer {
            upstream: self.upstream,
            policy,
            overall_timeout: self.overall_timeout,
            attempt_timeout: self.attempt_timeout,
            auth: self.auth,
        }
    }

    /// Builds the stack over `transport`, boxed into one cloneable service.
    pub fn service<T, B, RB>(self, transport: T) -> M2mService<B, RB>
    where
        A: Layer<AttemptTimeout<T>>,
        A::Service: Service<Request<B>, Response = Response<RB>> + Clone + Send + Sync + 'static,
        <A::Service as Service<Request<B>>>::Error: Into<BoxError>,
        <A::Service as Service<Request<B>>>::Future: Send + 'static,
        B: TryCloneBody + Send + 'static,
        RB: Send + 'static,
    {
        BoxCloneSyncService::new(self.layer().layer(transport))
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.policy
            .clone()
            .unwrap_or_else(|| RetryPolicy::new(self.upstream.budget().clone()))
    }
}
