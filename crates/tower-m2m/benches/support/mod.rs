//! What the `token` benchmark and the `hot_path` callgrind driver of `tower-m2m-bench` share:
//! the no-op upstream every path is measured against.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;
use tower_m2m::ReplayBody;

/// An upstream that answers `200 OK` at once: the bare transport every path is measured
/// against.
///
/// Its methods are `#[inline]`, so a benchmark pays for it what it would pay for a type of its
/// own.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoOp;

impl Service<Request<ReplayBody>> for NoOp {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<Response<()>, Infallible>>;

    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, request: Request<ReplayBody>) -> Self::Future {
        black_box(&request);
        ready(Ok(Response::new(())))
    }
}
