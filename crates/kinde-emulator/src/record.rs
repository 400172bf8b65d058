//! Counters and the request log behind `/_emulator/stats` and `/_emulator/requests`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;
use serde::Serialize;

use crate::context::Context;
use crate::faults::CloseConnection;

/// How many requests the log keeps; older ones are dropped first.
///
/// Large enough for any test, small enough that a benchmark run cannot exhaust memory.
pub(crate) const REQUEST_LOG_CAPACITY: usize = 10_000;

/// The value that replaces `authorization` headers in the log.
pub(crate) const REDACTED: &str = "[redacted]";

/// What a handler tells the log about a request, as a response extension.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecordInfo {
    /// The operation id, for Management API requests that matched a route.
    pub(crate) operation_id: Option<&'static str>,
    /// The client id of the caller, if known.
    pub(crate) client_id: Option<String>,
    /// The token id (`jti`) the caller presented or was issued.
    pub(crate) jti: Option<String>,
}

/// One recorded request.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RecordedRequest {
    /// Milliseconds since the Unix epoch on the emulator's clock.
    timestamp_ms: u64,
    method: String,
    path: String,
    query: Option<String>,
    operation_id: Option<&'static str>,
    status: u16,
    /// Whether the connection was closed instead of answering (an injected fault).
    connection_closed: bool,
    client_id: Option<String>,
    jti: Option<String>,
    headers: BTreeMap<String, String>,
}

/// The counters and the log.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    token_requests: u64,
    api_requests: u64,
    by_status: BTreeMap<String, u64>,
    by_operation: BTreeMap<String, u64>,
    requests: std::collections::VecDeque<RecordedRequest>,
}

/// The body of `GET /_emulator/stats`: token endpoint and Management API requests; `by_status`
/// counts the same requests (the log also keeps JWKS and discovery requests, uncounted).
#[derive(Debug, Serialize)]
pub(crate) struct Stats<'a> {
    token_requests: u64,
    api_requests: u64,
    by_status: &'a BTreeMap<String, u64>,
    by_operation: &'a BTreeMap<String, u64>,
}

impl RequestLog {
    /// The counters.
    pub(crate) fn stats(&self) -> Stats<'_> {
        Stats {
            token_requests: self.token_requests,
            api_requests: self.api_requests,
            by_status: &self.by_status,
            by_operation: &self.by_operation,
        }
    }

    /// The recorded requests, oldest first.
    pub(crate) fn requests(&self) -> impl Serialize + '_ {
        &self.requests
    }

    fn push(&mut self, request: RecordedRequest) {
        let counted = if request.path == "/oauth2/token" {
            self.token_requests += 1;
            true
        } else if request.path.starts_with("/api/") {
            self.api_requests += 1;
            true
        } else {
            false
        };
        if counted {
            *self
                .by_status
                .entry(request.status.to_string())
                .or_default() += 1;
        }
        if let Some(operation_id) = request.operation_id {
            *self
                .by_operation
                .entry(operation_id.to_owned())
                .or_default() += 1;
        }

        if self.requests.len() == REQUEST_LOG_CAPACITY {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
    }
}

/// Middleware that records every request but those to the control API.
pub(crate) async fn record(
    State(context): State<Arc<Context>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/_emulator") {
        return next.run(request).await;
    }

    let timestamp_ms = context.clock.unix_millis();
    let method = request.method().to_string();
    let query = request.uri().query().map(str::to_owned);
    let headers = redacted_headers(request.headers());

    let response = next.run(request).await;

    let info = response
        .extensions()
        .get::<RecordInfo>()
        .cloned()
        .unwrap_or_default();
    context.log().push(RecordedRequest {
        timestamp_ms,
        method,
        path,
        query,
        operation_id: info.operation_id,
        status: response.status().as_u16(),
        connection_closed: response.extensions().get::<CloseConnection>().is_some(),
        client_id: info.client_id,
        jti: info.jti,
        headers,
    });
    response
}

/// The headers as a map, with `authorization` replaced by [`REDACTED`] and repeated headers
/// joined by `, `.
fn redacted_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut map = BTreeMap::<String, String>::new();
    for (name, value) in headers {
        let value = if name == http::header::AUTHORIZATION {
            REDACTED.to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        map.entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    map
}
