use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::Service;
use tower::retry::Policy;

use super::RetryPolicy;
use crate::BoxError;
use crate::body::TryCloneBody;
use crate::token::ReplayHeldAbove;

pin_project! {
    /// Response future of [`Retry`](super::Retry): the attempts of one call and the waits
    /// between them.
    #[derive(Debug)]
    pub struct RetryFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S::Future>,
        inner: S,
        policy: RetryPolicy,
        request: Option<Request<B>>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Called { #[pin] future: F },
        Waiting { #[pin] sleep: Sleep },
        Retrying,
    }
}

impl<S, B> RetryFuture<S, B>
where
    S: Service<Request<B>>,
{
    pub(super) fn new(
        future: S::Future,
        inner: S,
        policy: RetryPolicy,
        request: Option<Request<B>>,
    ) -> Self {
        Self {
            state: State::Called { future },
            inner,
            policy,
            request,
        }
    }
}

impl<S, B, RB> Future for RetryFuture<S, B>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: Into<BoxError>,
    B: TryCloneBody,
{
    type Output = Result<Response<RB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();

        loop {
            match this.state.as_mut().project() {
                StateProj::Called { future } => {
                    let mut result = ready!(future.poll(cx)).map_err(Into::into);
                    let Some(request) = this.request.as_mut() else {
                        return Poll::Ready(result);
                    };

                    if this.policy.replay_rejected_token(request, &mut result) {
                        this.state.set(State::Retrying);
                        continue;
                    }
                    match this.policy.retry(request, &mut result) {
                        Some(sleep) => this.state.set(State::Waiting { sleep }),
                        None => return Poll::Ready(result),
                    }
                }
                StateProj::Waiting { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Retrying);
                }
                StateProj::Retrying => {
                    ready!(this.inner.poll_ready(cx)).map_err(Into::into)?;

                    let mut request = this.request.take().expect("a retry has a request");
                    *this.request = Policy::<Request<B>, Response<RB>, BoxError>::clone_request(
                        this.policy,
                        &request,
                    );
                    if this.request.is_some() {
                        request.extensions_mut().insert(ReplayHeldAbove);
                    }
                    let future = this.inner.call(request);
                    this.state.set(State::Called { future });
                }
            }
        }
    }
}
