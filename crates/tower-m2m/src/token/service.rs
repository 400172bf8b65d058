//! [`Auth`]: the service that injects the bearer token.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::header::AUTHORIZATION;
use http::{Request, Response};
use tokio::time::Instant;
use tower::Service;
use tracing::trace;

use super::error::TokenError;
use super::future::ResponseFuture;
use super::layer::AuthLayer;
use super::rejection::NoAuthReplay;
use super::secret::AccessToken;
use super::source::TokenSource;
use crate::BoxError;
use crate::body::{TryCloneBody, try_clone_request};

type TokenFuture = Pin<Box<dyn Future<Output = Result<AccessToken, TokenError>> + Send>>;

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
/// - To be able to replay a request, `call` copies it before sending it whenever its body is
///   replayable (the header map is cloned: two small allocations, about as costly as building
///   the request's headers in the first place). That copy is most of what the layer costs per
///   request (see `benches/token.rs`); switch it off with [`AuthLayer::replay`] where a replay
///   on `401` is not wanted.
/// - The replay waits for the inner service's readiness inside the response future, as
///   `tower::retry` does, and is boxed; the common path is not.
///
/// # Panics
///
/// `call` panics if `poll_ready` has not returned `Ready` since the last call, as the `Service`
/// contract allows.
pub struct Auth<S> {
    inner: S,
    config: AuthLayer,
    state: State,
    /// The inner service answered `Pending` to the last `poll_ready`: time has passed since the
    /// token was taken, so check it is still usable before relying on it.
    inner_pending: bool,
}

enum State {
    /// No token taken yet for the next call.
    Idle,
    /// Waiting for the token fetch in flight.
    Waiting(TokenFuture),
    /// A token for the next call.
    Ready(AccessToken),
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
            state: State::Idle,
            inner_pending: false,
        }
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
    fn clone(&self) -> Self {
        Self::from_layer(self.inner.clone(), self.config.clone())
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

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match &mut self.state {
                State::Idle => {
                    self.state = match self.config.source.cached() {
                        Some(token) => State::Ready(token),
                        None => {
                            trace!("waiting for a token");
                            State::Waiting(Box::pin(self.config.source.token()))
                        }
                    };
                }
                State::Waiting(token) => {
                    self.state = match ready!(token.as_mut().poll(cx)) {
                        Ok(token) => State::Ready(token),
                        Err(error) => State::Failed(error),
                    };
                }
                State::Ready(token) => {
                    if self.inner_pending && !token.is_usable_at(Instant::now()) {
                        self.state = State::Idle;
                        self.inner_pending = false;
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

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let token = match std::mem::replace(&mut self.state, State::Idle) {
            State::Ready(token) => token,
            State::Failed(error) => return ResponseFuture::failed(error),
            State::Idle | State::Waiting(_) => {
                panic!("Auth::call before poll_ready returned Ready")
            }
        };

        let replayable = self.config.replay && request.extensions().get::<NoAuthReplay>().is_none();
        let replay = replayable
            .then(|| try_clone_request(&request))
            .flatten()
            .map(|copy| (self.inner.clone(), copy));

        request
            .headers_mut()
            .insert(AUTHORIZATION, token.header_value().clone());
        let future = self.inner.call(request);
        ResponseFuture::called(future, token, &self.config, replay)
    }
}
