//! [`Auth`]: the service that injects the bearer token.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::header::AUTHORIZATION;
use http::{Request, Response};
use sync_wrapper::SyncWrapper;
use tokio::time::Instant;
use tower::Service;
use tracing::trace;

use super::error::TokenError;
use super::future::{Replay, ResponseFuture};
use super::layer::AuthLayer;
use super::rejection::{NoAuthReplay, ReplayHeldAbove};
use super::replay::RequestCopy;
use super::secret::AccessToken;
use super::source::TokenSource;
use crate::BoxError;
use crate::body::TryCloneBody;

/// A token fetch being waited for. Only `poll_ready` touches it, through `&mut self`, so the
/// [`SyncWrapper`] makes `Auth` `Sync` without any lock: a shared `&Auth` cannot reach it.
type TokenFuture =
    SyncWrapper<Pin<Box<dyn Future<Output = Result<AccessToken, TokenError>> + Send>>>;

/// Injects a bearer token into every request; built by [`AuthLayer`]. See the
/// [module docs](super).
///
/// `poll_ready` waits for a usable token (only when none is cached) and then for the inner
/// service. A failure to get a token is not a `poll_ready` error, which would mark the service
/// dead: the next `call` returns it, boxed as [`CredentialsRejected`](super::CredentialsRejected)
/// or [`TokenUnavailable`](super::TokenUnavailable).
///
/// # Notes
///
/// - Each `Auth` keeps the token it last used, and reuses it while it is the source's current
///   token and before its refresh point: one clock reading and one atomic load per request, no
///   lock. Past the refresh point, or once the source has replaced or invalidated it, the next
///   request asks the [`TokenSource`] again. Clones start with the same token.
/// - To be able to replay a request, `call` copies it before sending it whenever its body is
///   replayable (method, URI, headers, extensions; the body's bytes are shared), unless the
///   request carries [`ReplayHeldAbove`](super::ReplayHeldAbove): a layer above holds a copy
///   and replays it on [`TokenRejected`](super::TokenRejected). The copy is most of what the
///   layer costs per request (see `crates/tower-m2m/benches/token.rs` and
///   BENCHMARKS.md); switch it off with [`AuthLayer::replay`] where a replay on `401` is not
///   wanted.
/// - The replay waits for the inner service's readiness inside the response future, as
///   `tower::retry` does, and is boxed; the common path is not.
/// - `Auth` is `Send` and `Sync` when its inner service is.
///
/// # Panics
///
/// `call` panics if `poll_ready` has not returned `Ready` since the last call, as the `Service`
/// contract allows.
pub struct Auth<S> {
    inner: S,
    config: AuthLayer,
    /// The token last taken from the source, reused while it is current.
    token: Option<AccessToken>,
    state: State,
    /// The inner service answered `Pending` to the last `poll_ready`: time has passed since the
    /// token was checked, so check it is still usable before relying on it.
    inner_pending: bool,
}

enum State {
    /// No token checked yet for the next call.
    Idle,
    /// Waiting for the token fetch in flight.
    Waiting(TokenFuture),
    /// `token` is usable for the next call.
    Ready,
    /// No token could be had; the next call fails with this.
    Failed(TokenError),
}

impl<S> Auth<S> {
    /// Wraps `inner`, taking tokens from `source` with the defaults of [`AuthLayer::new`].
    pub fn new(inner: S, source: TokenSource) -> Self {
        Self::from_layer(inner, AuthLayer::new(source))
    }

    pub(crate) fn from_layer(inner: S, config: AuthLayer) -> Self {
        Self {
            inner,
            config,
            token: None,
            state: State::Idle,
            inner_pending: false,
        }
    }

    /// Takes a token for the next call: the one kept if it is still current and before its
    /// refresh point (which never comes after the end of its usable life, so a kept token is
    /// never an expired one), else the source's cached one, else `None` (a fetch is needed).
    fn take_token(&mut self, now: Instant) -> Option<&AccessToken> {
        let source = &self.config.source;
        let kept = self
            .token
            .as_ref()
            .is_some_and(|token| now < token.refresh_at() && source.is_current(token));
        if !kept {
            self.token = source.cached();
        }
        self.token.as_ref()
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The token source.
    pub fn source(&self) -> &TokenSource {
        &self.config.source
    }
}

impl<S: Clone> Clone for Auth<S> {
    /// A clone keeps the same token, but not this service's readiness.
    fn clone(&self) -> Self {
        let mut clone = Self::from_layer(self.inner.clone(), self.config.clone());
        clone.token.clone_from(&self.token);
        clone
    }
}

impl<S: fmt::Debug> fmt::Debug for Auth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Service<Request<B>> for Auth<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    B: TryCloneBody + Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S, B>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match &mut self.state {
                State::Idle => {
                    self.inner_pending = false;
                    self.state = match self.take_token(Instant::now()) {
                        Some(_) => State::Ready,
                        None => {
                            trace!("waiting for a token");
                            let fetch = Box::pin(self.config.source.token());
                            State::Waiting(SyncWrapper::new(fetch))
                        }
                    };
                }
                State::Waiting(fetch) => {
                    self.state = match ready!(fetch.get_mut().as_mut().poll(cx)) {
                        Ok(token) => {
                            self.token = Some(token);
                            State::Ready
                        }
                        Err(error) => State::Failed(error),
                    };
                }
                State::Ready => {
                    // Time has passed while the inner service was not ready: the token may
                    // have expired, or been replaced or invalidated by another clone's 401.
                    let source = &self.config.source;
                    let expired = self.inner_pending
                        && !self.token.as_ref().is_some_and(|token| {
                            token.is_usable_at(Instant::now()) && source.is_current(token)
                        });
                    if expired {
                        self.state = State::Idle;
                        continue;
                    }
                    let ready = self.inner.poll_ready(cx);
                    self.inner_pending = ready.is_pending();
                    return ready.map_err(Into::into);
                }
                State::Failed(_) => return Poll::Ready(Ok(())),
            }
        }
    }

    #[inline]
    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Ready => {}
            State::Failed(error) => return ResponseFuture::failed(error),
            State::Idle | State::Waiting(_) => {
                panic!("Auth::call before poll_ready returned Ready")
            }
        }
        let token = self.token.as_ref().expect("a ready Auth holds a token");
        let serial = token.serial();
        let header = token.header_value().clone();

        let extensions = request.extensions();
        let replay = if !self.config.replay || extensions.get::<NoAuthReplay>().is_some() {
            Replay::Off
        } else if extensions.get::<ReplayHeldAbove>().is_some() {
            Replay::Above
        } else {
            RequestCopy::of(&request).map_or(Replay::Off, |copy| {
                Replay::Here(Box::new((self.inner.clone(), copy)))
            })
        };

        request.headers_mut().insert(AUTHORIZATION, header);
        let future = self.inner.call(request);
        ResponseFuture::called(future, serial, &self.config, replay)
    }
}
