use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use super::CircuitOpen;
use super::permit::Permit;
use super::state::Outcome;
use crate::BoxError;
use crate::classify::classify;
use crate::timeout::TransportTiming;

pin_project! {
    /// Response future of [`CircuitBreaker`](super::CircuitBreaker): the guarded call, or the
    /// rejection.
    #[derive(Debug)]
    pub struct CircuitBreakerFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F> {
        Called {
            #[pin]
            future: F,
            permit: Option<Permit>,
            timing: TransportTiming,
        },
        Rejected { error: Option<CircuitOpen> },
    }
}

impl<F> CircuitBreakerFuture<F> {
    pub(super) fn called(future: F, permit: Permit, timing: TransportTiming) -> Self {
        Self {
            kind: Kind::Called {
                future,
                permit: Some(permit),
                timing,
            },
        }
    }

    pub(super) fn rejected(error: CircuitOpen) -> Self {
        Self {
            kind: Kind::Rejected { error: Some(error) },
        }
    }
}

impl<F, B, E> Future for CircuitBreakerFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called {
                future,
                permit,
                timing,
            } => {
                let result = ready!(future.poll(cx)).map_err(Into::into);

                let outcome = match &result {
                    Ok(response) if response.status().is_server_error() => Outcome::Failure,
                    Ok(_) => Outcome::Success,
                    Err(error) if classify(error.as_ref()).is_upstream() => Outcome::Failure,
                    Err(_) => Outcome::Ignored,
                };
                // Slowness is the transport's time, as the attempt timeout measured it.
                let elapsed = timing.get().unwrap_or_default();
                if let Some(permit) = permit.take() {
                    permit.settle(outcome, elapsed);
                }

                Poll::Ready(result)
            }
            KindProj::Rejected { error } => {
                let error = error.take().expect("polled after completion");
                Poll::Ready(Err(error.into()))
            }
        }
    }
}
