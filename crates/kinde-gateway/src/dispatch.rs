//! The path of every RPC through the core: `Gateway::unary` and `Gateway::server_stream`,
//! which the generated service implementations call.
//!
//! 1. correlation: the caller's `x-request-id` (validated) or a new one, returned in the
//!    response metadata and sent upstream on every attempt; the caller's `traceparent`,
//!    continued upstream; the deadline from `grpc-timeout`;
//! 2. authentication: an API key (`authorization: Bearer <key>`) or a client certificate;
//! 3. authorization against the caller's allow-list, then the caller's quota;
//! 4. the handler, with the caller's profile's client carrying the request id and deadline;
//! 5. one audit line, and errors through [`to_status`](crate::status).
//!
//! Steps 2 and 3 reject before any upstream call. Nothing of the caller's metadata but the
//! request id, the trace context and the deadline goes upstream; in particular its `authorization` never does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use kinde_management::Client;
use opentelemetry::trace::TraceContextExt;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};
use tonic::Code;
use tower_http::request_id::RequestId;
use tower_m2m::timeout::Deadline;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::Gateway;
use crate::audit::{AuditMark, AuditRecord, Observed, millis, now_rfc3339};
use crate::call::{CallError, ItemStream, Rpc};
use crate::caller::Caller;
use crate::correlation::{self, REQUEST_ID};
use crate::status::{Failure, code_name, to_status};

/// A call admitted past authentication, authorization and the quota.
struct Admitted {
    client: Client,
    _permit: Option<OwnedSemaphorePermit>,
}

/// What the core knows of a call from its start to its audit line.
struct CallRecord {
    gateway: Gateway,
    rpc: &'static Rpc,
    request_id: RequestId,
    started: std::time::Instant,
    /// When the gateway gives up, from the caller's `grpc-timeout` counted from the call's
    /// [arrival](correlation::Arrival).
    deadline: Option<Instant>,
    trace: Option<opentelemetry::Context>,
    caller: Option<Arc<str>>,
    observed: Observed,
}

impl CallRecord {
    fn start<T>(gateway: &Gateway, rpc: &'static Rpc, request: &tonic::Request<T>) -> Self {
        // From here on this record writes the call's audit line, not the fallback.
        if let Some(mark) = request.extensions().get::<AuditMark>() {
            mark.set();
        }
        Self {
            gateway: gateway.clone(),
            rpc,
            request_id: correlation::request_id(request.metadata()),
            started: std::time::Instant::now(),
            deadline: correlation::timeout(request.metadata())
                .map(|timeout| correlation::Arrival::of(request.extensions()) + timeout),
            trace: correlation::trace_context(request.metadata()),
            caller: None,
            observed: Observed::new(rpc.operation.path),
        }
    }

    /// The call's server span, following OpenTelemetry's RPC server conventions (semantic
    /// conventions 1.38 and later): named `service/method`, with `rpc.system.name`,
    /// `rpc.method` (`service/method`), the request id and, at the end,
    /// `rpc.response.status_code` (the code's name) and, for a server error, `error.type` and an
    /// error status. When spans are exported it continues the caller's trace.
    fn span(&self) -> tracing::Span {
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %self.rpc.name(),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system.name = "grpc",
            rpc.method = %self.rpc.name(),
            request_id = %self.request_id.header_value().to_str().unwrap_or(""),
            caller = tracing::field::Empty,
            rpc.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        if let Some(trace) = &self.trace {
            // Fails only when the span is disabled or already started; then there is no
            // exported span to parent.
            let _ = span.set_parent(trace.clone());
        }
        span
    }

    /// The trace context sent to Kinde: the server span's when spans are exported (so Kinde's
    /// side hangs under the gateway's), else the caller's as it came.
    fn upstream_trace(&self) -> Option<opentelemetry::Context> {
        let exported = tracing::Span::current().context();
        if exported.span().span_context().is_valid() {
            return Some(exported);
        }
        self.trace.clone()
    }

    /// Authenticates, authorizes and takes a quota permit.
    fn admit<T>(&mut self, request: &tonic::Request<T>) -> Result<Admitted, Failure> {
        let gateway = self.gateway.clone();
        let caller = authenticate(&gateway, request).ok_or(Failure::Unauthenticated)?;
        self.caller = Some(caller.shared_name());
        tracing::Span::current().record("caller", caller.name());

        if !caller.is_allowed(&self.rpc.name()) {
            return Err(Failure::NotAllowed);
        }
        let permit = match caller.quota() {
            Some(quota) => Some(
                quota
                    .clone()
                    .try_acquire_owned()
                    .map_err(|_| Failure::QuotaExceeded)?,
            ),
            None => None,
        };
        let profile = gateway
            .inner
            .profiles
            .get(caller.profile())
            .expect("the builder checked every caller's profile");

        let mut client = profile
            .client()
            .with_extension(self.request_id.clone())
            .with_extension(self.observed.clone());
        if let Some(deadline) = self.deadline {
            client = client.with_extension(Deadline::at(deadline));
        }
        if let Some(trace) = self.upstream_trace() {
            client = client.with_extension(trace);
        }
        Ok(Admitted {
            client,
            _permit: permit,
        })
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The status for `failure`, carrying the request id.
    fn status(&self, failure: &Failure) -> tonic::Status {
        let mut status = to_status(failure, self.rpc.operation);
        if let Some(value) = correlation::request_id_value(&self.request_id) {
            status.metadata_mut().insert(REQUEST_ID, value);
        }
        status
    }

    fn respond<T>(&self, message: T) -> tonic::Response<T> {
        let mut response = tonic::Response::new(message);
        if let Some(value) = correlation::request_id_value(&self.request_id) {
            response.metadata_mut().insert(REQUEST_ID, value);
        }
        response
    }

    /// Writes the audit line.
    fn finish(&self, code: Code, items: Option<u64>) {
        let span = tracing::Span::current();
        span.record("rpc.response.status_code", code_name(code));
        if is_server_error(code) {
            span.record("error.type", code_name(code));
            span.record("otel.status_code", "error");
        }
        let duration = self.started.elapsed();
        crate::telemetry::server_duration(self.rpc, code, duration);
        let rpc = self.rpc.name();
        self.gateway.inner.audit.write(&AuditRecord {
            timestamp: now_rfc3339(),
            caller: self.caller.as_deref(),
            rpc,
            operation: self.rpc.operation.id,
            targets: self.observed.targets(),
            status: code_name(code),
            attempts: self.observed.attempts(),
            duration_ms: millis(duration),
            request_id: self.request_id.header_value().to_str().unwrap_or(""),
            items,
        });
    }
}

impl Gateway {
    /// Serves one unary RPC: see the [module docs](self). `handler` converts the message, calls
    /// the typed client it is given and converts the answer.
    pub(crate) async fn unary<Req, Resp, F, Fut>(
        &self,
        rpc: &'static Rpc,
        request: tonic::Request<Req>,
        handler: F,
    ) -> Result<tonic::Response<Resp>, tonic::Status>
    where
        Req: Send,
        Resp: Send,
        F: FnOnce(Client, Req) -> Fut + Send,
        Fut: Future<Output = Result<Resp, CallError>> + Send,
    {
        let mut guard = Unfinished(Some(CallRecord::start(self, rpc, &request)));
        let span = guard.record().span();
        async move {
            let record = guard.record();
            let outcome = match record.admit(&request) {
                Ok(admitted) => {
                    let deadline = record.deadline();
                    let call = handler(admitted.client, request.into_inner());
                    let result = match deadline {
                        Some(deadline) => match tokio::time::timeout_at(deadline, call).await {
                            Ok(result) => result.map_err(Failure::Call),
                            Err(_elapsed) => Err(Failure::Deadline),
                        },
                        None => call.await.map_err(Failure::Call),
                    };
                    drop(admitted._permit);
                    result
                }
                Err(failure) => Err(failure),
            };

            let record = guard.take();
            match outcome {
                Ok(message) => {
                    record.finish(Code::Ok, None);
                    Ok(record.respond(message))
                }
                Err(failure) => {
                    let status = record.status(&failure);
                    record.finish(status.code(), None);
                    Err(status)
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Serves one server-streaming RPC: see the [module docs](self). `handler` returns the
    /// client's item stream, which is pulled only as fast as the gRPC caller reads; the first
    /// item error ends the stream with its status. The audit line is written when the stream
    /// ends, fails or is dropped by the caller.
    pub(crate) async fn server_stream<Req, Item, S, F>(
        &self,
        rpc: &'static Rpc,
        request: tonic::Request<Req>,
        handler: F,
    ) -> Result<tonic::Response<ItemStream<Item>>, tonic::Status>
    where
        Req: Send,
        Item: Send + 'static,
        S: Stream<Item = Result<Item, kinde_management::Error>> + Send + 'static,
        F: FnOnce(Client, Req) -> Result<S, CallError> + Send,
    {
        let record = CallRecord::start(self, rpc, &request);
        let span = record.span();
        span.in_scope(|| open_stream(record, request, handler, span.clone()))
    }
}

/// The synchronous part of [`Gateway::server_stream`], inside the call's span.
fn open_stream<Req, Item, S, F>(
    mut record: CallRecord,
    request: tonic::Request<Req>,
    handler: F,
    span: tracing::Span,
) -> Result<tonic::Response<ItemStream<Item>>, tonic::Status>
where
    Item: Send + 'static,
    S: Stream<Item = Result<Item, kinde_management::Error>> + Send + 'static,
    F: FnOnce(Client, Req) -> Result<S, CallError>,
{
    {
        let admitted = match record.admit(&request) {
            Ok(admitted) => admitted,
            Err(failure) => {
                let status = record.status(&failure);
                record.finish(status.code(), None);
                return Err(status);
            }
        };
        let deadline = record.deadline();
        let items = match handler(admitted.client.clone(), request.into_inner()) {
            Ok(items) => items,
            Err(error) => {
                let status = record.status(&Failure::Call(error));
                record.finish(status.code(), None);
                return Err(status);
            }
        };

        let response = record.respond(());
        let stream = AuditedStream {
            items: Box::pin(items),
            deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
            record: Some(record),
            count: 0,
            span,
            _admitted: admitted,
        };
        let stream: ItemStream<Item> = Box::pin(stream);
        Ok(response.map(|()| stream))
    }
}

/// Who is calling: the caller whose API key is in `authorization`, else the caller mapped to
/// the client certificate. A present but unknown key does not fall back to the certificate.
fn authenticate<'g, T>(gateway: &'g Gateway, request: &tonic::Request<T>) -> Option<&'g Caller> {
    let callers = &gateway.inner.callers;
    if let Some(value) = request.metadata().get("authorization") {
        let value = value.to_str().ok()?;
        let (scheme, key) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        return callers.by_api_key(key.trim());
    }

    let certificates = request.peer_certs()?;
    let leaf = certificates.first()?;
    let (_, certificate) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let subject = certificate.subject();
    let common_name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok());
    callers.by_certificate(&subject.to_string(), common_name)
}

/// The record of a unary call still in progress. If the call's future is dropped before it
/// finishes (the caller cancelled, or tonic's own timer fired), the audit line is still written,
/// as `CANCELLED`, with the attempts that had already reached Kinde.
struct Unfinished(Option<CallRecord>);

impl Unfinished {
    fn record(&mut self) -> &mut CallRecord {
        self.0
            .as_mut()
            .expect("the record is taken only when the call finishes")
    }

    fn take(&mut self) -> CallRecord {
        self.0.take().expect("the record is taken once")
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(record) = self.0.take() {
            record.finish(Code::Cancelled, None);
        }
    }
}

/// The item stream of a server-streaming RPC, with its deadline and audit line. Every poll runs
/// inside the call's server span, so the client spans of the pages it fetches from Kinde join
/// the caller's trace under it.
struct AuditedStream<Item> {
    items: Pin<Box<dyn Stream<Item = Result<Item, kinde_management::Error>> + Send>>,
    deadline: Option<Pin<Box<Sleep>>>,
    /// Taken when the audit line is written.
    record: Option<CallRecord>,
    count: u64,
    span: tracing::Span,
    _admitted: Admitted,
}

impl<Item> AuditedStream<Item> {
    /// Writes the audit line; the caller has entered the span.
    fn end(&mut self, code: Code) {
        if let Some(record) = self.record.take() {
            record.finish(code, Some(self.count));
        }
    }
}

impl<Item> Stream for AuditedStream<Item> {
    type Item = Result<Item, tonic::Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let span = this.span.clone();
        let _entered = span.enter();
        let Some(record) = &this.record else {
            return Poll::Ready(None);
        };

        match this.items.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(item))) => {
                this.count += 1;
                Poll::Ready(Some(Ok(item)))
            }
            Poll::Ready(Some(Err(error))) => {
                let status = record.status(&Failure::Call(CallError::Kinde(error)));
                this.end(status.code());
                Poll::Ready(Some(Err(status)))
            }
            Poll::Ready(None) => {
                this.end(Code::Ok);
                Poll::Ready(None)
            }
            Poll::Pending => {
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
                if !expired {
                    return Poll::Pending;
                }
                let status = record.status(&Failure::Deadline);
                this.end(status.code());
                Poll::Ready(Some(Err(status)))
            }
        }
    }
}

impl<Item> Drop for AuditedStream<Item> {
    fn drop(&mut self) {
        // The caller went away before the end.
        let span = self.span.clone();
        let _entered = span.enter();
        self.end(Code::Cancelled);
    }
}

/// Whether OpenTelemetry's RPC conventions count `code` as a server-side error (the span's
/// status is then `Error`); the others are the caller's to handle.
pub(crate) fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

#[cfg(test)]
mod tests;
