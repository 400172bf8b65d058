use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::SystemTime;

use http::{Response, StatusCode};
use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::{RateLimited, RateLimiter};
use crate::BoxError;
use crate::retry::hint::retry_hint;

pin_project! {
    /// Response future of [`RateLimit`](super::RateLimit): the inner call, or the rejection.
    #[derive(Debug)]
    pub struct RateLimitFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F> {
        Called { #[pin] future: F, limiter: RateLimiter },
        Rejected { error: Option<RateLimited> },
    }
}

impl<F> RateLimitFuture<F> {
    pub(super) fn called(future: F, limiter: RateLimiter) -> Self {
        Self {
            kind: Kind::Called { future, limiter },
        }
    }

    pub(super) fn rejected(error: RateLimited) -> Self {
        Self {
            kind: Kind::Rejected { error: Some(error) },
        }
    }
}

impl<F, B, E> Future for RateLimitFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called { future, limiter } => {
                let response = ready!(future.poll(cx)).map_err(Into::into)?;
                if response.status() == StatusCode::TOO_MANY_REQUESTS {
                    pause_for_hint(limiter, &response);
                }
                Poll::Ready(Ok(response))
            }
            KindProj::Rejected { error } => {
                let error = error.take().expect("polled after completion");
                Poll::Ready(Err(error.into()))
            }
        }
    }
}

fn pause_for_hint<B>(limiter: &RateLimiter, response: &Response<B>) {
    let Some(hint) = retry_hint(response.headers(), SystemTime::now()) else {
        return;
    };

    tracing::debug!(
        ratelimit.pause_ms = hint.as_millis() as u64,
        "upstream asked to hold back"
    );
    limiter.pause_until(Instant::now() + hint);
}
