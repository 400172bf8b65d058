//! [`ResponseFuture`]: the response of [`Auth`](super::Auth), with at most one replay.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::header::AUTHORIZATION;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Service, ServiceExt};
use tracing::debug;

use super::error::TokenError;
use super::layer::AuthLayer;
use super::rejection::{StatusSet, TokenRejected};
use super::replay::RequestCopy;
use super::source::TokenSource;
use crate::BoxError;

type ReplayFuture<R> = Pin<Box<dyn Future<Output = Result<R, BoxError>> + Send>>;

/// How a request whose token is rejected is sent again.
pub(crate) enum Replay<S, B> {
    /// It is not: replay is off for the layer or the request, or its body cannot be sent again.
    Off,
    /// By the layer above that holds a copy of it (it carried
    /// [`ReplayHeldAbove`](super::ReplayHeldAbove)), when the response says
    /// [`TokenRejected`].
    Above,
    /// By this layer, through the inner service, from its own copy. Boxed: a response future
    /// is moved by every layer above it, and a pointer is cheaper to move than the copy (a few
    /// hundred bytes), which is needed only on a rejected token.
    Here(Box<(S, RequestCopy<B>)>),
}

pin_project! {
    /// The response future of [`Auth`](super::Auth).
    ///
    /// On the common path it is the inner service's future, polled in place. When upstream
    /// rejects the token it becomes the boxed replay; when no token could be had it is a ready
    /// error.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        kind: Kind<S, B>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<S, B>
    where
        S: Service<Request<B>>,
    {
        Failed {
            error: Option<TokenError>,
        },
        Called {
            #[pin]
            future: S::Future,
            sent: Option<Sent>,
            replay: Replay<S, B>,
        },
        Replaying {
            future: ReplayFuture<S::Response>,
        },
    }
}

/// The token a request carried (by its serial), and where it came from.
struct Sent {
    serial: u64,
    source: TokenSource,
    rejected: StatusSet,
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    pub(crate) fn failed(error: TokenError) -> Self {
        Self {
            kind: Kind::Failed { error: Some(error) },
        }
    }

    pub(crate) fn called(
        future: S::Future,
        serial: u64,
        config: &AuthLayer,
        replay: Replay<S, B>,
    ) -> Self {
        let sent = Sent {
            serial,
            source: config.source.clone(),
            rejected: config.rejected,
        };
        Self {
            kind: Kind::Called {
                future,
                sent: Some(sent),
                replay,
            },
        }
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    B: Send + 'static,
    ResBody: Send + 'static,
{
    type Output = Result<Response<ResBody>, BoxError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().kind.project() {
                KindProjection::Failed { error } => {
                    let error = error.take().expect("polled after completion");
                    return Poll::Ready(Err(error.into_box_error()));
                }
                KindProjection::Replaying { future } => return future.as_mut().poll(cx),
                KindProjection::Called {
                    future,
                    sent,
                    replay,
                } => {
                    let response = ready!(future.poll(cx)).map_err(Into::into)?;
                    let sent = sent.take().expect("polled after completion");
                    if !sent.rejected.contains(response.status()) {
                        return Poll::Ready(Ok(response));
                    }

                    let replay = std::mem::replace(replay, Replay::Off);
                    match replay_after_rejection(sent, replay, response) {
                        Ok(future) => Kind::Replaying { future },
                        Err(response) => return Poll::Ready(Ok(response)),
                    }
                }
            };
            self.as_mut().project().kind.set(next);
        }
    }
}

/// Invalidates the rejected token and starts the replay, or gives the response back: when the
/// request cannot be replayed, when the layer above replays it (the response is then marked
/// [`TokenRejected`]), or when its token is kept (it is within its invalidation grace).
fn replay_after_rejection<S, B, ResBody>(
    sent: Sent,
    replay: Replay<S, B>,
    mut response: Response<ResBody>,
) -> Result<ReplayFuture<Response<ResBody>>, Response<ResBody>>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    B: Send + 'static,
    ResBody: Send + 'static,
{
    let invalidated = sent.source.invalidate_serial(sent.serial);
    let status = response.status().as_u16();
    let within_grace = || {
        sent.source
            .cached()
            .is_some_and(|current| current.serial() == sent.serial)
    };

    let copy = match replay {
        Replay::Off => {
            debug!(
                auth.status = status,
                auth.invalidated = invalidated,
                "token rejected; not replayable"
            );
            return Err(response);
        }
        Replay::Above | Replay::Here(_) if within_grace() => {
            debug!(
                auth.status = status,
                "token rejected within its invalidation grace; not replaying"
            );
            return Err(response);
        }
        Replay::Above => {
            debug!(
                auth.status = status,
                auth.invalidated = invalidated,
                "token rejected; the layer above replays it"
            );
            response.extensions_mut().insert(TokenRejected);
            return Err(response);
        }
        Replay::Here(copy) => copy,
    };
    debug!(
        auth.status = status,
        auth.invalidated = invalidated,
        "token rejected; replaying once"
    );
    let (service, request) = *copy;
    Ok(Box::pin(replay_once(
        service,
        request.into_request(),
        sent.source,
    )))
}

/// Sends `request` again with the current token, fetching one only if the cache has none.
async fn replay_once<S, B, R>(
    service: S,
    mut request: Request<B>,
    source: TokenSource,
) -> Result<R, BoxError>
where
    S: Service<Request<B>, Response = R>,
    S::Error: Into<BoxError>,
{
    let token = source.token().await.map_err(TokenError::into_box_error)?;
    request
        .headers_mut()
        .insert(AUTHORIZATION, token.header_value().clone());
    service.oneshot(request).await.map_err(Into::into)
}

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
