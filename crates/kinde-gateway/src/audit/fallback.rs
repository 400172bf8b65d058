//! The audit line of a call the gateway's core never saw.
//!
//! tonic answers some requests before the RPC's handler runs: a message that does not decode
//! (`INTERNAL`, gRPC's code for a request that does not parse), one over the 4 MiB decoding
//! limit (tonic says `OUT_OF_RANGE`; the layer answers `RESOURCE_EXHAUSTED`, gRPC's code for a
//! message over the limit), and a call whose `grpc-timeout` expires before its message is read
//! (tonic's own timer wraps every service, outside any layer the gateway can add, and answers
//! `CANCELLED`, "Timeout expired"; the audit line says `CANCELLED` too, since that is what the
//! caller got). [`FallbackLayer`], around the routes,
//! writes their audit line: the caller unknown (`null`: the gateway answered before
//! authenticating), no attempts, no targets, the status the caller got and a request id (the
//! caller's, or a new one also returned in the response metadata).
//!
//! A `grpc-timeout` under [`MIN_TIMEOUT`] cannot be served at all, so the layer answers it at
//! once with `DEADLINE_EXCEEDED`, as the error table says for the caller's deadline, rather than
//! leave it to tonic's timer.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;
use tonic::Code;
use tonic::metadata::MetadataMap;
use tower::{Layer, Service};
use tower_http::request_id::RequestId;

use crate::Gateway;
use crate::audit::{AuditRecord, millis, now_rfc3339};
use crate::call::Rpc;
use crate::correlation::{self, REQUEST_ID};
use crate::status::{Failure, code_name, to_status};

/// The shortest `grpc-timeout` the gateway tries to serve: below it not even the message can be
/// read, so the call is answered `DEADLINE_EXCEEDED` at once.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// Set, in the request's extensions, by the core when it takes a call over (and will write its
/// audit line).
#[derive(Clone, Debug, Default)]
pub(crate) struct AuditMark(Arc<AtomicBool>);

impl AuditMark {
    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Audits the calls tonic answers before the core sees them: see the [module docs](self).
#[derive(Clone, Debug)]
pub(crate) struct FallbackLayer {
    gateway: Gateway,
}

impl FallbackLayer {
    pub(crate) fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }
}

impl<S> Layer<S> for FallbackLayer {
    type Service = Fallback<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Fallback {
            inner,
            gateway: self.gateway.clone(),
        }
    }
}

/// The service of [`FallbackLayer`].
#[derive(Clone, Debug)]
pub(crate) struct Fallback<S> {
    inner: S,
    gateway: Gateway,
}

impl<S, B, ResBody> Service<http::Request<B>> for Fallback<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let Some(rpc) = rpc_at(request.uri().path()) else {
            return ResponseFuture::inner(self.inner.call(request), None);
        };
        // Only what the line may need; a request id is minted only if the line is written.
        let mut metadata = MetadataMap::new();
        for name in [REQUEST_ID, "grpc-timeout"] {
            if let Some(value) = request.headers().get(name) {
                metadata
                    .as_mut()
                    .insert(http::HeaderName::from_static(name), value.clone());
            }
        }
        // The caller's value as sent: `1m` is served, though the gateway gives up a little
        // earlier than that.
        let expired =
            correlation::requested_timeout(&metadata).is_some_and(|timeout| timeout < MIN_TIMEOUT);
        let unseen = Unseen {
            gateway: self.gateway.clone(),
            rpc,
            mark: AuditMark::default(),
            metadata,
            started: Instant::now(),
        };

        if expired {
            let request_id = unseen.finish(Code::DeadlineExceeded);
            let mut status = to_status(&Failure::Deadline, rpc.operation);
            if let Some(value) = request_id.and_then(|id| correlation::request_id_value(&id)) {
                status.metadata_mut().insert(REQUEST_ID, value);
            }
            return ResponseFuture::answered(status.into_http());
        }
        request.extensions_mut().insert(unseen.mark.clone());
        request.extensions_mut().insert(correlation::Arrival::now());
        ResponseFuture::inner(self.inner.call(request), Some(unseen))
    }
}

pin_project! {
    /// The response future of [`Fallback`].
    pub(crate) struct ResponseFuture<F, ResBody> {
        #[pin]
        inner: Option<F>,
        answered: Option<http::Response<ResBody>>,
        unseen: Option<Unseen>,
    }
}

impl<F, ResBody> ResponseFuture<F, ResBody> {
    fn inner(inner: F, unseen: Option<Unseen>) -> Self {
        Self {
            inner: Some(inner),
            answered: None,
            unseen,
        }
    }

    fn answered(response: http::Response<ResBody>) -> Self {
        Self {
            inner: None,
            answered: Some(response),
            unseen: None,
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F, ResBody>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            let answered = this.answered.take().expect("polled after completion");
            return Poll::Ready(Ok(answered));
        };
        let mut response = std::task::ready!(inner.poll(cx))?;

        if let Some(unseen) = this.unseen.take()
            && !unseen.mark.is_set()
        {
            // A trailers-only answer: the status is in the headers.
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|value| value.to_str().ok()?.parse::<i32>().ok())
                .map(Code::from_i32);
            if let Some(mut code) = code {
                if code == Code::OutOfRange {
                    // tonic's code for a message over the limit; gRPC's is RESOURCE_EXHAUSTED.
                    code = Code::ResourceExhausted;
                    let value = http::HeaderValue::from(code as i32);
                    response.headers_mut().insert("grpc-status", value);
                }
                if let Some(request_id) = unseen.finish(code) {
                    let value = request_id.header_value().clone();
                    response.headers_mut().insert(REQUEST_ID, value);
                }
            }
        }
        Poll::Ready(Ok(response))
    }
}

/// A call of `rpc` the core has not taken over (yet).
struct Unseen {
    gateway: Gateway,
    rpc: &'static Rpc,
    mark: AuditMark,
    /// The request's `x-request-id` and `grpc-timeout`, if sent.
    metadata: MetadataMap,
    started: Instant,
}

impl Unseen {
    /// Writes the audit line with `code` and returns its request id, unless the core took the
    /// call over or the line is written.
    fn finish(&self, code: Code) -> Option<RequestId> {
        if self.mark.is_set() {
            return None;
        }
        self.mark.set();
        let request_id = correlation::request_id(&self.metadata);
        let id = request_id.header_value().to_str().unwrap_or("");
        let duration = self.started.elapsed();
        tracing::debug!(
            rpc = %self.rpc.name(),
            status = code_name(code),
            request_id = id,
            "answered before the gateway read the call"
        );
        crate::telemetry::server_duration(self.rpc, code, duration);
        self.gateway.inner.audit.write(&AuditRecord {
            timestamp: now_rfc3339(),
            caller: None,
            rpc: self.rpc.name(),
            operation: self.rpc.operation.id,
            targets: Default::default(),
            status: code_name(code),
            attempts: 0,
            duration_ms: millis(duration),
            request_id: id,
            items: None,
        });
        Some(request_id)
    }
}

impl Drop for Unseen {
    fn drop(&mut self) {
        // Dropped before any answer: tonic's timer fired, or the caller went away.
        self.finish(Code::Cancelled);
    }
}

/// The RPC served at `path` (`/kinde.management.v1.UsersService/GetUsers`), if any.
fn rpc_at(path: &str) -> Option<&'static Rpc> {
    static BY_PATH: OnceLock<HashMap<String, &'static Rpc>> = OnceLock::new();
    BY_PATH
        .get_or_init(|| {
            crate::generated::rpcs::RPCS
                .iter()
                .map(|rpc| (format!("/{}", rpc.name()), rpc))
                .collect()
        })
        .get(path)
        .copied()
}
