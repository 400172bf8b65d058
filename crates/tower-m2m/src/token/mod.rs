//! Client-credentials tokens: fetched once, shared, refreshed ahead and never leaked.
//!
//! A [`TokenSource`] gets OAuth2 client-credentials tokens from a token endpoint and caches
//! them; [`AuthLayer`] puts them on every request as `Authorization: Bearer <token>`.
//!
//! # Why a token layer needs a policy
//!
//! A token endpoint is a shared, often billed, sometimes rate-limited resource (Kinde bills each
//! token it issues), and it fails like any other service. The common mistakes each cost
//! something: fetching a token per concurrent caller floods the endpoint at every expiry;
//! holding a lock across the fetch makes every caller wait for it; refreshing only at expiry
//! makes a short outage of the endpoint an outage of every API call; sending a token that is
//! about to expire turns into a 401; and a wrong secret retried by every caller gets the client
//! blocked. The policy below avoids each of these.
//!
//! # The refresh policy
//!
//! - **One fetch per cache key.** Concurrent callers that find no usable token wait for the
//!   *same* fetch and all get its result, success or failure. The key ([`CacheKey`]) holds
//!   everything that makes two tokens different (token URL, client id, audiences, sorted scopes,
//!   a fingerprint of the secret), and the fetch in flight uses the same key, so a fetch for one
//!   scope is never handed to a caller that asked for another.
//! - **Fetches run on their own task.** A caller that gives up (its future dropped, its deadline
//!   passed) does not cancel the fetch or poison the cache for the others.
//! - **Refresh ahead, in the background.** After [`DEFAULT_REFRESH_SHARE`] of the token's
//!   lifetime, less up to [`DEFAULT_REFRESH_JITTER`] of it at random, the next caller starts one
//!   background refresh and keeps using the current token; nobody waits for it. The refresh
//!   point never comes before half the lifetime, so short-lived tokens cannot refresh in a loop,
//!   and always leaves a tenth of the token's usable period (below), at most the fetch timeout
//!   ([`DEFAULT_FETCH_TIMEOUT`]), for the refresh to finish, so short-lived tokens are refreshed
//!   in the background too.
//! - **Never send an expired token.** A token is used until its expiry less
//!   [`DEFAULT_EXPIRY_LEEWAY`] (at most a quarter of its lifetime, so that short-lived tokens
//!   stay usable for most of it). If refreshing fails, the current token
//!   keeps serving while it is valid and the source retries with jittered exponential backoff
//!   ([`DEFAULT_BACKOFF_INITIAL`] up to [`DEFAULT_BACKOFF_MAX`]); once it has expired, callers get
//!   [`TokenUnavailable`] at once, without a request, until the backoff has passed.
//! - **Remember rejected credentials.** `invalid_client`, `unauthorized_client`, `invalid_scope`
//!   and `invalid_request` are permanent: callers get [`CredentialsRejected`] with the code, and
//!   for [`DEFAULT_REJECTION_TTL`] they get it without a new request, so a wrong secret cannot
//!   flood the endpoint however often callers retry.
//! - **Replay once on 401.** When upstream answers `401` (or another status configured with
//!   [`AuthLayer::rejected_statuses`]), [`Auth`] invalidates the token it sent, but only if it is
//!   still the current one, and replays the request once with a fresh token if its body is
//!   replayable (see [`crate::body`]) and the request did not opt out with [`NoAuthReplay`]. A
//!   rejection that arrives after the cache has moved on replays with the current token without
//!   another fetch. A streaming body is never replayed: its rejection is returned as is. A
//!   token younger than [`DEFAULT_INVALIDATION_GRACE`] is neither invalidated nor replayed:
//!   a token rejected as soon as it is issued means misconfiguration, and fetching a new one
//!   per rejected request would only cost tokens.
//! - **One copy per request.** To replay, a request must be copied before it is sent. When a
//!   layer above already holds a copy and says so with [`ReplayHeldAbove`] (the retry layer
//!   does, so in [`M2mStack`](crate::stack::M2mStack) it is always so), `Auth` keeps none of
//!   its own: it marks the rejected response [`TokenRejected`] and that layer makes the one
//!   replay.
//!
//! # The cached-token path
//!
//! Most requests find a fresh token, so that path is kept short. Each [`Auth`] keeps the token
//! it last used, and every token carries a serial number unique in the process; the cache entry
//! publishes the serial of its current token in an atomic, changed whenever the token is
//! replaced or invalidated. Before each request, `Auth` reads the clock and that atomic: if its
//! token is still the current one and before its refresh point, it is used as is, with no lock
//! and no allocation, and the request carries a clone of the token's prepared header value.
//! Otherwise `Auth` asks the [`TokenSource`] again, whose [`cached`](TokenSource::cached) takes
//! one uncontended read lock (a fetch holds it only for the instant it installs a new token)
//! and starts the background refresh past the refresh point. So a token invalidated after a
//! `401`, or replaced by a refresh, is not sent again by any clone of the service.
//!
//! What the layer costs per request is mostly not the token: it is inserting the header and,
//! for a replayable request that no layer above holds a copy of, the copy kept for a possible
//! replay (method, URI, header fields and extensions; the body's bytes are shared). That copy
//! costs more than everything else together, about half as much as building the request: with
//! `http`'s types, each URI part, header value and the body is a separately reference-counted
//! buffer to clone and drop. On the machine of the recorded figures, `Auth` under the retry
//! layer (which copies for both) adds about 630 instructions and 60 to 110 ns per request, and
//! `Auth` on its own with replay on about 1,440 instructions and 220 to 270 ns. The `token`
//! benchmark (`crates/tower-m2m/benches/token.rs`, `cargo bench -p tower-m2m --bench token`)
//! measures each case, and `BENCHMARKS.md` at the repository root has the figures;
//! [`AuthLayer::replay`] switches the copy off where a replay on `401` is not wanted.

//! # Secrets
//!
//! [`ClientSecret`] and [`AccessToken`] print `[redacted]` in `Debug` and `Display`; reading
//! them takes an explicit `expose_secret()`. The injected header is marked sensitive. No error
//! message contains a response body, the secret or a token, and no log event or span field
//! carries them. Tokens are kept in memory only.
//!
//! # Observability
//!
//! Each fetch runs in its own `token.fetch` span (not a caller's), with the fields `token.url`,
//! `token.client_id`, `token.reason` (`cold` or `refresh`) and `token.outcome` (`refreshed`,
//! `failed`, `rejected`). Events: `token refresh started` (debug), `token refreshed` (debug),
//! `token refresh failed` (warn), `client credentials rejected` (error).
//! [`TokenSource::fetch_counts`] counts fetches by outcome.
//!
//! # Time and randomness
//!
//! All times come from tokio's clock, so tests run on paused time. Lifetimes are counted from
//! the start of the token request, never from a wall clock. Jitter comes from a [`Jitter`]
//! (thread-local `rand` by default) that tests replace.
//!
//! # Notes
//!
//! - The secret and tokens are zeroed when their redacting wrappers drop, but not the copies
//!   that HTTP needs: the form body of a token request and the `Authorization` header values.
//! - A fetch is spawned on the current tokio runtime: [`TokenSource::token`] and the layer must
//!   run inside one.
//! - The cached-token path shares one read lock and two reference counts between all threads.
//!   That is cheap on a few cores; it has not been measured under heavy many-core contention.
//! - Each replayable request is copied before it is sent, so that it can be replayed, unless a
//!   layer above holds a copy; see [`Auth`] for what that costs and how to switch it off.
//!
//! # Example
//!
//! With an in-memory token endpoint, as in tests:
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//! use tower_m2m::token::{AuthLayer, ClientCredentials, TokenSource};
//! use tower_m2m::ReplayBody;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_m2m::BoxError> {
//! let endpoint = service_fn(|_: Request<ReplayBody>| async {
//!     let body = r#"{"access_token":"abc","token_type":"Bearer","expires_in":3600}"#;
//!     Ok::<_, Infallible>(Response::new(body.to_string()))
//! });
//! let credentials = ClientCredentials::builder("https://auth.example.com/oauth2/token", "id", "secret")
//!     .audience("https://api.example.com")
//!     .build()?;
//! let source = TokenSource::new(credentials, endpoint);
//!
//! let upstream = service_fn(|request: Request<ReplayBody>| async move {
//!     let authorized = request.headers()["authorization"] == "Bearer abc";
//!     let status = if authorized { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
//!     Ok::<_, Infallible>(Response::builder().status(status).body(String::new()).unwrap())
//! });
//! let mut client = ServiceBuilder::new().layer(AuthLayer::new(source)).service(upstream);
//!
//! let request = Request::get("https://api.example.com/users").body(ReplayBody::empty())?;
//! let response = client.ready().await?.call(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```
//!
//! Customised, on the reqwest transport, with a shared cache and `403` also counted as a
//! rejected token:
//!
//! ```no_run
//! use http::StatusCode;
//! use std::time::Duration;
//! use tower::ServiceBuilder;
//! use tower_m2m::token::{AuthLayer, ClientCredentials, RefreshPolicy, TokenCache, TokenSource};
//! use tower_m2m::transport::ReqwestTransport;
//!
//! # fn main() -> Result<(), tower_m2m::BoxError> {
//! let transport = ReqwestTransport::new();
//! let credentials = ClientCredentials::builder(
//!     "https://example.kinde.com/oauth2/token",
//!     "client-id",
//!     std::env::var("CLIENT_SECRET")?,
//! )
//! .audience("https://example.kinde.com/api")
//! .scope("read:users")
//! .build()?;
//!
//! let cache = TokenCache::new();
//! let source = TokenSource::builder(credentials)
//!     .policy(RefreshPolicy::new().refresh_share(0.9).rejection_ttl(Duration::from_secs(60)))
//!     .cache(&cache)
//!     .build(transport.clone());
//!
//! let client = ServiceBuilder::new()
//!     .layer(AuthLayer::new(source).rejected_statuses([StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN]))
//!     .service(transport);
//! # let _ = client;
//! # Ok(())
//! # }
//! ```

mod credentials;
mod endpoint;
mod error;
mod future;
mod jitter;
mod key;
mod layer;
mod policy;
mod rejection;
mod replay;
mod request;
mod response;
mod secret;
mod service;
mod slot;
mod source;
mod stats;

pub use credentials::{
    ClientAuthentication, ClientCredentials, ClientCredentialsBuilder, InvalidCredentials,
};
pub use error::{
    CredentialsRejected, FetchError, FetchErrorKind, OAuthErrorCode, TokenError, TokenUnavailable,
};
pub use future::ResponseFuture;
pub use jitter::{Jitter, RandomJitter};
pub use key::CacheKey;
pub use layer::{AuthLayer, DEFAULT_REJECTED_STATUS, DEFAULT_REPLAY};
pub use policy::{
    DEFAULT_BACKOFF_INITIAL, DEFAULT_BACKOFF_MAX, DEFAULT_EXPIRY_LEEWAY, DEFAULT_FETCH_TIMEOUT,
    DEFAULT_INVALIDATION_GRACE, DEFAULT_REFRESH_JITTER, DEFAULT_REFRESH_SHARE,
    DEFAULT_REJECTION_TTL, DEFAULT_TOKEN_LIFETIME, RefreshPolicy,
};
pub use rejection::{NoAuthReplay, ReplayHeldAbove, TokenRejected};
pub use secret::{AccessToken, ClientSecret};
pub use service::Auth;
pub use source::{TokenCache, TokenSource, TokenSourceBuilder};
pub use stats::FetchCounts;
