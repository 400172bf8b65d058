//! OTLP export: the real binary, pointed by `OTEL_EXPORTER_OTLP_ENDPOINT` at a minimal OTLP
//! receiver on loopback (built from opentelemetry-proto's tonic service definitions), exports
//! the server span of a call and its client span to Kinde under the caller's trace, and its
//! metrics; without the variable it exports nothing.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{Started, start_emulator_mode, temp_path};
use common::{pb, with_key};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokio::sync::oneshot;
use tonic::transport::Channel;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

/// What the receiver got.
#[derive(Clone, Default)]
struct Received {
    /// Every exported span with its resource's `service.name`.
    spans: Arc<Mutex<Vec<(String, Span)>>>,
    /// The name and unit of every exported metric.
    metrics: Arc<Mutex<Vec<(String, String)>>>,
    /// The bucket boundaries of the last `rpc.server.call.duration` data point.
    server_duration_boundaries: Arc<Mutex<Vec<f64>>>,
    /// Every string value in every export: names, attribute values (resource, scope, span,
    /// event, link, data point), status messages; searched for secrets.
    strings: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        let mut strings = Vec::new();
        for resource_spans in &request.resource_spans {
            if let Some(resource) = &resource_spans.resource {
                attribute_strings(&resource.attributes, &mut strings);
            }
            for scope in &resource_spans.scope_spans {
                scope_strings(scope.scope.as_ref(), &mut strings);
                for span in &scope.spans {
                    span_strings(span, &mut strings);
                }
            }
        }
        self.strings.lock().unwrap().extend(strings);

        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| string_attribute(&r.attributes, "service.name"))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push((service.clone(), span));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        let mut strings = Vec::new();
        for resource_metrics in &request.resource_metrics {
            if let Some(resource) = &resource_metrics.resource {
                attribute_strings(&resource.attributes, &mut strings);
            }
            for scope in &resource_metrics.scope_metrics {
                scope_strings(scope.scope.as_ref(), &mut strings);
                for metric in &scope.metrics {
                    metric_strings(metric, &mut strings);
                }
            }
        }
        self.strings.lock().unwrap().extend(strings);

        let mut metrics = self.metrics.lock().unwrap();
        for resource_metrics in request.resource_metrics {
            for scope in resource_metrics.scope_metrics {
                for metric in scope.metrics {
                    if let ("rpc.server.call.duration", Some(metric::Data::Histogram(histogram))) =
                        (metric.name.as_str(), &metric.data)
                        && let Some(point) = histogram.data_points.last()
                    {
                        *self.server_duration_boundaries.lock().unwrap() =
                            point.explicit_bounds.clone();
                    }
                    metrics.push((metric.name, metric.unit));
                }
            }
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// The string values of `attributes`, nested arrays and maps included.
fn attribute_strings(attributes: &[KeyValue], strings: &mut Vec<String>) {
    fn value_strings(value: &AnyValue, strings: &mut Vec<String>) {
        match &value.value {
            Some(any_value::Value::StringValue(text)) => strings.push(text.clone()),
            Some(any_value::Value::ArrayValue(array)) => {
                for value in &array.values {
                    value_strings(value, strings);
                }
            }
            Some(any_value::Value::KvlistValue(list)) => attribute_strings(&list.values, strings),
            _ => {}
        }
    }
    for attribute in attributes {
        strings.push(attribute.key.clone());
        if let Some(value) = &attribute.value {
            value_strings(value, strings);
        }
    }
}

fn scope_strings(scope: Option<&InstrumentationScope>, strings: &mut Vec<String>) {
    if let Some(scope) = scope {
        strings.extend([scope.name.clone(), scope.version.clone()]);
        attribute_strings(&scope.attributes, strings);
    }
}

fn span_strings(span: &Span, strings: &mut Vec<String>) {
    strings.extend([span.name.clone(), span.trace_state.clone()]);
    attribute_strings(&span.attributes, strings);
    for event in &span.events {
        strings.push(event.name.clone());
        attribute_strings(&event.attributes, strings);
    }
    for link in &span.links {
        strings.push(link.trace_state.clone());
        attribute_strings(&link.attributes, strings);
    }
    if let Some(status) = &span.status {
        strings.push(status.message.clone());
    }
}

fn metric_strings(metric: &Metric, strings: &mut Vec<String>) {
    strings.extend([
        metric.name.clone(),
        metric.description.clone(),
        metric.unit.clone(),
    ]);
    match &metric.data {
        Some(metric::Data::Gauge(gauge)) => {
            for point in &gauge.data_points {
                attribute_strings(&point.attributes, strings);
            }
        }
        Some(metric::Data::Sum(sum)) => {
            for point in &sum.data_points {
                attribute_strings(&point.attributes, strings);
            }
        }
        Some(metric::Data::Histogram(histogram)) => {
            for point in &histogram.data_points {
                attribute_strings(&point.attributes, strings);
            }
        }
        Some(metric::Data::ExponentialHistogram(histogram)) => {
            for point in &histogram.data_points {
                attribute_strings(&point.attributes, strings);
            }
        }
        Some(metric::Data::Summary(summary)) => {
            for point in &summary.data_points {
                attribute_strings(&point.attributes, strings);
            }
        }
        None => {}
    }
}

/// A receiver on a free loopback port; it stops when the sender is dropped or fired.
async fn receiver() -> (SocketAddr, Received, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let received = Received::default();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(received.clone()))
        .add_service(MetricsServiceServer::new(received.clone()))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            async {
                let _ = stopped.await;
            },
        );
    tokio::spawn(server);
    (address, received, stop)
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match &kv.value {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(value)),
            }) => Some(value.clone()),
            _ => None,
        })
}

fn int_attribute(attributes: &[KeyValue], key: &str) -> Option<i64> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match &kv.value {
            Some(AnyValue {
                value: Some(any_value::Value::IntValue(value)),
            }) => Some(*value),
            _ => None,
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `message` from the demo caller, in the trace `trace_id` (under [`PARENT_SPAN_ID`]), with
/// `request_id`.
fn traced<T>(message: T, key: &str, trace_id: &str, request_id: &str) -> tonic::Request<T> {
    let mut request = with_key(message, key);
    let metadata = request.metadata_mut();
    metadata.insert(
        "traceparent",
        format!("00-{trace_id}-{PARENT_SPAN_ID}-01")
            .parse()
            .unwrap(),
    );
    metadata.insert("x-request-id", request_id.parse().unwrap());
    request
}

async fn users_client(address: &str) -> pb::users_service_client::UsersServiceClient<Channel> {
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    pb::users_service_client::UsersServiceClient::new(channel)
}

/// Calls `GetUsers` as the demo caller with a `traceparent` and request id.
async fn call_get_users(address: &str, key: &str, request_id: &str) {
    let mut users = users_client(address).await;
    let request = traced(pb::GetUsersRequest::default(), key, TRACE_ID, request_id);
    users.get_users(request).await.unwrap();
}

/// Starts the gateway exporting to the receiver at `endpoint`, quickly.
async fn exporting_gateway(audit: &std::path::Path, endpoint: &str) -> Started {
    start_emulator_mode(
        audit,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_SERVICE_NAME", "gateway-under-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
        ],
    )
    .await
}

/// Waits (up to 30 s) until `found` picks something out of the spans received so far.
async fn wait_for_spans<T>(
    received: &Received,
    found: impl Fn(&[(String, Span)]) -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let spans = received.spans.lock().unwrap().clone();
        if let Some(found) = found(&spans) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "not exported within 30 s; got {:?}",
            spans
                .iter()
                .map(|(_, s)| (&s.name, s.kind, hex(&s.trace_id)))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether `ancestor` is a parent, grandparent, ... of `span` among `spans`.
fn descends_from(spans: &[(String, Span)], span: &Span, ancestor: &Span) -> bool {
    let mut parent = span.parent_span_id.clone();
    while !parent.is_empty() {
        if parent == ancestor.span_id {
            return true;
        }
        parent = spans
            .iter()
            .find(|(_, s)| s.span_id == parent)
            .map(|(_, s)| s.parent_span_id.clone())
            .unwrap_or_default();
    }
    false
}

/// Every string the receiver got (which includes `request_id`, so the search covers the
/// attributes) holds no secret, key, token or email: the [sweep's](common::sweep) findings.
fn assert_exports_are_clean(received: &Received, request_id: &str) {
    let strings = received.strings.lock().unwrap().join("\n");
    assert!(
        strings.contains(request_id),
        "the attributes were collected"
    );
    common::sweep::assert_clean("exported spans and metrics", &strings);
}

#[tokio::test]
async fn a_call_exports_its_server_span_and_client_span_under_the_callers_trace() {
    let (receiver_address, received, stop_receiver) = receiver().await;
    let endpoint = format!("http://{receiver_address}");
    let audit = temp_path("otlp-audit.jsonl");
    let gateway = exporting_gateway(&audit, &endpoint).await;

    call_get_users(&gateway.address, &gateway.key, "otlp-request-1").await;

    // The batch processor exports within its 100 ms delay; allow far more.
    let (server, client) = wait_for_spans(&received, |spans| {
        let server = spans.iter().find(|(_, s)| {
            s.kind == SpanKind::Server as i32
                && s.name == "kinde.management.v1.UsersService/GetUsers"
        })?;
        let client = spans.iter().find(|(_, s)| {
            s.kind == SpanKind::Client as i32 && s.parent_span_id == server.1.span_id
        })?;
        Some((server.clone(), client.clone()))
    })
    .await;

    let (service, server) = server;
    assert_eq!(service, "gateway-under-test");
    assert_eq!(hex(&server.trace_id), TRACE_ID);
    assert_eq!(hex(&server.parent_span_id), PARENT_SPAN_ID);
    let attributes = &server.attributes;
    assert_eq!(
        string_attribute(attributes, "rpc.system.name").as_deref(),
        Some("grpc")
    );
    assert_eq!(
        string_attribute(attributes, "rpc.method").as_deref(),
        Some("kinde.management.v1.UsersService/GetUsers")
    );
    assert_eq!(
        string_attribute(attributes, "rpc.response.status_code").as_deref(),
        Some("OK")
    );
    assert_eq!(string_attribute(attributes, "error.type"), None);
    assert_eq!(
        string_attribute(attributes, "request_id").as_deref(),
        Some("otlp-request-1")
    );

    let (_, client) = client;
    assert_eq!(hex(&client.trace_id), TRACE_ID);
    assert_eq!(
        string_attribute(&client.attributes, "request_id").as_deref(),
        Some("otlp-request-1")
    );
    // tower-m2m records the status as an unsigned integer after the span starts, which
    // tracing-opentelemetry exports as a string.
    let status = int_attribute(&client.attributes, "http.response.status_code")
        .map(|code| code.to_string())
        .or_else(|| string_attribute(&client.attributes, "http.response.status_code"));
    assert_eq!(status.as_deref(), Some("200"));

    // Kinde's side of the trace hangs under the gateway's server span.
    let requests: serde_json::Value =
        reqwest::get(format!("{}/_emulator/requests", gateway.base_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let api = requests
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/api/")))
        .expect("the call reached the emulator");
    assert_eq!(
        api["headers"]["traceparent"],
        format!("00-{TRACE_ID}-{}-01", hex(&server.span_id))
    );

    // Graceful shutdown flushes the metrics still queued; the audit line and the trace-level
    // logs pass the sweep.
    let stopped = gateway.stop().await;
    assert_eq!(stopped.audit_lines.len(), 1);
    let metrics = received.metrics.lock().unwrap().clone();
    for (name, unit) in [
        ("rpc.server.call.duration", "s"),
        ("http.client.request.duration", "s"),
    ] {
        assert!(
            metrics.iter().any(|m| m.0 == name && m.1 == unit),
            "{name} in {unit} in {metrics:?}"
        );
    }
    let boundaries = received.server_duration_boundaries.lock().unwrap().clone();
    assert_eq!(
        boundaries,
        kinde_gateway::telemetry::SERVER_DURATION_BOUNDARIES.to_vec()
    );
    assert_exports_are_clean(&received, "otlp-request-1");
    let _ = stop_receiver.send(());
}

#[tokio::test]
async fn a_streaming_call_fetches_its_pages_under_the_callers_trace() {
    const STREAM_TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
    let (receiver_address, received, stop_receiver) = receiver().await;
    let endpoint = format!("http://{receiver_address}");
    let audit = temp_path("otlp-stream-audit.jsonl");
    let gateway = exporting_gateway(&audit, &endpoint).await;
    let mut users = users_client(&gateway.address).await;
    for _ in 0..3 {
        let request = with_key(pb::CreateUserRequest::default(), &gateway.key);
        users.create_user(request).await.unwrap();
    }

    // One user per page: the stream fetches every page while the caller reads.
    let request = pb::StreamGetUsersRequest {
        page_size: Some(1),
        ..Default::default()
    };
    let request = traced(request, &gateway.key, STREAM_TRACE_ID, "otlp-stream-1");
    let mut stream = users.stream_get_users(request).await.unwrap().into_inner();
    let mut items = 0;
    while stream.message().await.unwrap().is_some() {
        items += 1;
    }
    assert_eq!(items, 3);

    // Every page's client span is in the caller's trace, under the stream's server span.
    let (server, pages) = wait_for_spans(&received, |spans| {
        let (_, server) = spans.iter().find(|(_, s)| {
            s.kind == SpanKind::Server as i32
                && s.name == "kinde.management.v1.UsersService/StreamGetUsers"
        })?;
        let pages: Vec<Span> = spans
            .iter()
            .filter(|(_, s)| {
                s.kind == SpanKind::Client as i32
                    && string_attribute(&s.attributes, "request_id").as_deref()
                        == Some("otlp-stream-1")
            })
            .map(|(_, s)| s.clone())
            .collect();
        (pages.len() >= 3).then(|| (server.clone(), pages))
    })
    .await;
    assert_eq!(hex(&server.trace_id), STREAM_TRACE_ID);
    assert_eq!(hex(&server.parent_span_id), PARENT_SPAN_ID);
    let spans = received.spans.lock().unwrap().clone();
    for page in &pages {
        assert_eq!(hex(&page.trace_id), STREAM_TRACE_ID, "{page:?}");
        assert!(descends_from(&spans, page, &server), "{page:?}");
    }

    gateway.stop().await;
    assert_exports_are_clean(&received, "otlp-stream-1");
    let _ = stop_receiver.send(());
}

#[tokio::test]
async fn an_unreachable_collector_is_reported_once_per_signal() {
    // A port nothing listens on: every export is refused.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let audit = temp_path("otlp-down-audit.jsonl");
    let gateway = exporting_gateway(&audit, &endpoint).await;
    for n in 0..3 {
        call_get_users(&gateway.address, &gateway.key, &format!("otlp-down-{n}")).await;
        // Several metric export intervals between calls, and a span batch each time.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stopped = gateway.stop().await;

    let failures = |level: &str, signal: &str| {
        stopped
            .logs
            .lines()
            .filter(|line| line.contains(level) && line.contains("OTLP export failed"))
            .filter(|line| line.contains(&format!("telemetry.signal=\"{signal}\"")))
            .count()
    };
    for signal in ["traces", "metrics"] {
        assert_eq!(failures(" WARN ", signal), 1, "{signal}:\n{}", stopped.logs);
    }
    // The metrics failed every 200 ms, quietly after the first.
    assert!(failures(" DEBUG ", "metrics") >= 2, "{}", stopped.logs);
}

#[tokio::test]
async fn without_the_endpoint_variable_nothing_is_exported() {
    let (receiver_address, received, stop_receiver) = receiver().await;
    let endpoint = format!("http://{receiver_address}");
    let audit = temp_path("otlp-off-audit.jsonl");
    // Only the per-signal variables: export stays off without OTEL_EXPORTER_OTLP_ENDPOINT.
    let gateway = start_emulator_mode(
        &audit,
        &[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
        ],
    )
    .await;
    call_get_users(&gateway.address, &gateway.key, "otlp-off-1").await;
    // Several export intervals, then the shutdown flush.
    tokio::time::sleep(Duration::from_secs(1)).await;
    gateway.stop().await;

    assert!(received.spans.lock().unwrap().is_empty());
    assert!(received.metrics.lock().unwrap().is_empty());
    let _ = stop_receiver.send(());
}
