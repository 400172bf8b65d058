//! The token source: the handle callers and the [`Auth`](super::Auth) layer ask for tokens.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use http::{Request, Response};
use http_body::Body;
use tower::Service;

use super::credentials::ClientCredentials;
use super::endpoint::Endpoint;
use super::error::TokenError;
use super::jitter::{Jitter, RandomJitter};
use super::key::CacheKey;
use super::policy::RefreshPolicy;
use super::secret::AccessToken;
use super::slot::Slot;
use super::stats::FetchCounts;
use crate::BoxError;
use crate::body::ReplayBody;

/// Hands out client-credentials tokens: cached, fetched once for any number of callers,
/// refreshed ahead of expiry. See the [module docs](super) for the policy and why.
///
/// Cloning is cheap and every clone shares the same cache entry.
#[derive(Clone)]
pub struct TokenSource {
    slot: Arc<Slot>,
}

impl TokenSource {
    /// A token source with the default [`RefreshPolicy`], fetching through `transport`.
    ///
    /// `transport` is any tower service from `http::Request<ReplayBody>` to `http::Response`:
    /// `tower_m2m::transport::ReqwestTransport` in production, an in-memory service in
    /// tests.
    pub fn new<T, B>(credentials: ClientCredentials, transport: T) -> Self
    where
        T: Service<Request<ReplayBody>, Response = Response<B>> + Clone + Send + 'static,
        T::Future: Send,
        T::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        Self::builder(credentials).build(transport)
    }

    /// Starts building a token source with a custom policy, jitter or shared cache.
    pub fn builder(credentials: ClientCredentials) -> TokenSourceBuilder {
        TokenSourceBuilder {
            credentials,
            policy: RefreshPolicy::default(),
            jitter: Arc::new(RandomJitter),
            cache: None,
        }
    }

    /// A token that may be sent now.
    ///
    /// Returns the cached token at once when it is usable (starting a background refresh past
    /// its refresh point). Otherwise waits for the single fetch in flight for this cache key,
    /// starting it if needed. Dropping the returned future never cancels the fetch.
    ///
    /// # Errors
    ///
    /// [`TokenError::CredentialsRejected`] if the endpoint rejected the credentials (now, or
    /// within the policy's rejection window); [`TokenError::Unavailable`] if the fetch failed
    /// transiently (now, or within its backoff) and no unexpired token is left.
    ///
    /// # Panics
    ///
    /// If a fetch has to start outside a tokio runtime.
    pub fn token(&self) -> impl Future<Output = Result<AccessToken, TokenError>> + Send + 'static {
        Arc::clone(&self.slot).token()
    }

    /// The cached token if it may be sent now, without waiting. Past the token's refresh point
    /// this starts the background refresh, like [`TokenSource::token`].
    ///
    /// # Panics
    ///
    /// If a refresh has to start outside a tokio runtime.
    pub fn cached(&self) -> Option<AccessToken> {
        self.slot.cached()
    }

    /// Drops `token` from the cache if, and only if, it is still the current token and is older
    /// than the policy's [invalidation grace](RefreshPolicy::invalidation_grace), and says
    /// whether it did. Call it when upstream rejects `token`; a rejection that arrives after the
    /// cache has moved on to a newer token changes nothing.
    pub fn invalidate(&self, token: &AccessToken) -> bool {
        self.slot.invalidate(token.serial())
    }

    /// As [`invalidate`](Self::invalidate), for the token with `serial`.
    pub(crate) fn invalidate_serial(&self, serial: u64) -> bool {
        self.slot.invalidate(serial)
    }

    /// Whether `token` is still the cached token: neither replaced nor invalidated since it was
    /// taken. Lock-free: one atomic load. Says nothing about the time; check that separately.
    pub(crate) fn is_current(&self, token: &AccessToken) -> bool {
        self.slot.current_serial() == token.serial()
    }

    /// The key of this source's cache entry.
    pub fn key(&self) -> &CacheKey {
        &self.slot.key
    }

    /// How many requests this cache entry has made to the token endpoint, by outcome.
    pub fn fetch_counts(&self) -> FetchCounts {
        self.slot.stats.snapshot()
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("key", &self.slot.key)
            .finish_non_exhaustive()
    }
}

/// Builds a [`TokenSource`]; see [`TokenSource::builder`].
pub struct TokenSourceBuilder {
    credentials: ClientCredentials,
    policy: RefreshPolicy,
    jitter: Arc<dyn Jitter>,
    cache: Option<TokenCache>,
}

impl TokenSourceBuilder {
    /// The refresh, expiry and backoff rules; [`RefreshPolicy::default`] otherwise.
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The randomness that spreads refresh points and backoff delays; [`RandomJitter`]
    /// otherwise.
    pub fn jitter(mut self, jitter: impl Jitter) -> Self {
        self.jitter = Arc::new(jitter);
        self
    }

    /// Shares tokens through `cache`: sources built with equal [`CacheKey`]s share one entry,
    /// one token and one fetch.
    ///
    /// # Notes
    ///
    /// The entry is created by the first source built for its key, with that source's
    /// transport, policy and jitter; later sources for the same key reuse them.
    pub fn cache(mut self, cache: &TokenCache) -> Self {
        self.cache = Some(cache.clone());
        self
    }

    /// Builds the source, fetching through `transport`.
    pub fn build<T, B>(self, transport: T) -> TokenSource
    where
        T: Service<Request<ReplayBody>, Response = Response<B>> + Clone + Send + 'static,
        T::Future: Send,
        T::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let key = CacheKey::new(&self.credentials);
        let make = || {
            let endpoint = Endpoint::new(self.credentials.clone(), transport);
            Arc::new(Slot::new(
                key.clone(),
                Box::new(endpoint),
                self.policy,
                self.jitter,
            ))
        };
        let slot = match &self.cache {
            Some(cache) => cache.entry(&key, make),
            None => make(),
        };
        TokenSource { slot }
    }
}

impl fmt::Debug for TokenSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSourceBuilder")
            .field("credentials", &self.credentials)
            .field("policy", &self.policy)
            .field("shared_cache", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

/// A shared, in-memory token cache, keyed by [`CacheKey`].
///
/// Without one, each [`TokenSource`] has its own entry. With one, every source built for the
/// same key shares the token and the fetch in flight, and sources that differ in any part of
/// the key (scopes, audiences, client, secret, token URL) never share either. Entries live as
/// long as a source uses them. Tokens are never written to disk.
#[derive(Clone, Default)]
pub struct TokenCache {
    entries: Arc<Mutex<HashMap<CacheKey, Weak<Slot>>>>,
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of live entries.
    pub fn len(&self) -> usize {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .values()
            .filter(|slot| slot.strong_count() > 0)
            .count()
    }

    /// Whether the cache has no live entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entry(&self, key: &CacheKey, make: impl FnOnce() -> Arc<Slot>) -> Arc<Slot> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = entries.get(key).and_then(Weak::upgrade) {
            return slot;
        }

        entries.retain(|_, slot| slot.strong_count() > 0);
        let slot = make();
        entries.insert(key.clone(), Arc::downgrade(&slot));
        slot
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.len())
            .finish()
    }
}
