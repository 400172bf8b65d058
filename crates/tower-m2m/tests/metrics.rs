//! The stack's OpenTelemetry metrics reach the meter provider the application installs.
//!
//! One test per binary: the instruments are created once per process, from the provider
//! installed at that moment.

mod common;
mod scripted;

use common::{Answer, Endpoint, token_body};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use scripted::{Upstream, get, status};
use tower::{ServiceExt, service_fn};
use tower_m2m::ReplayBody;
use tower_m2m::stack::{M2mStack, Upstream as UpstreamHandle};

/// The sum of a counter's data points with `attribute` (or all of them).
fn counter(exporter: &InMemoryMetricExporter, name: &str, attribute: Option<&KeyValue>) -> u64 {
    let mut total = 0;
    for resource in exporter.get_finished_metrics().unwrap() {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics().filter(|metric| metric.name() == name) {
                if let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric.data() {
                    total += sum
                        .data_points()
                        .filter(|point| {
                            attribute.is_none_or(|a| point.attributes().any(|b| a == b))
                        })
                        .map(|point| point.value())
                        .sum::<u64>();
                }
            }
        }
    }
    total
}

/// The number of values a histogram recorded, and the bucket boundaries of its data points.
fn histogram(exporter: &InMemoryMetricExporter, name: &str) -> (u64, Vec<f64>) {
    let mut count = 0;
    let mut bounds = Vec::new();
    for resource in exporter.get_finished_metrics().unwrap() {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics().filter(|metric| metric.name() == name) {
                if let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = metric.data() {
                    for point in histogram.data_points() {
                        count += point.count();
                        bounds = point.bounds().collect();
                    }
                }
            }
        }
    }
    (count, bounds)
}

#[tokio::test(start_paused = true)]
async fn calls_attempts_and_retries_by_reason_are_exported() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());

    let upstream = Upstream::new(|n, _| async move { Ok(status(if n < 2 { 503 } else { 200 })) });
    let client = M2mStack::builder(UpstreamHandle::new("kinde")).service(upstream.clone());
    assert_eq!(client.oneshot(get("measured")).await.unwrap().status(), 200);

    provider.force_flush().unwrap();
    let server_error = KeyValue::new("retry.reason", "server_error");
    assert_eq!(counter(&exporter, "m2m.attempts", None), 3);
    assert_eq!(counter(&exporter, "m2m.retries", Some(&server_error)), 2);
    let (calls, bounds) = histogram(&exporter, "http.client.request.duration");
    assert_eq!(calls, 1);
    // Second-scale buckets, from 5 ms to 10 s, not OpenTelemetry's millisecond defaults.
    assert_eq!(bounds.first(), Some(&0.005));
    assert_eq!(bounds.last(), Some(&10.0));
    assert_eq!(upstream.count(), 3);

    // A rejected token: the replay is an attempt of its own, counted under its reason.
    let endpoint = Endpoint::new(token_body(3600));
    let source = common::source(&endpoint);
    source.token().await.unwrap();
    tokio::time::advance(std::time::Duration::from_secs(60)).await;
    let rejecting = Upstream::new(|_, request| {
        let token = request.headers()["authorization"].clone();
        async move { Ok(status(if token == "Bearer token-1" { 401 } else { 200 })) }
    });
    let transport = rejecting.clone();
    let transport = service_fn(move |request: http::Request<ReplayBody>| {
        let mut transport = transport.clone();
        tower::Service::call(&mut transport, request.map(|_| String::new()))
    });
    let client = M2mStack::builder(UpstreamHandle::new("kinde"))
        .token_source(source)
        .service(transport);
    let request = get("rejected").map(ReplayBody::from);
    assert_eq!(client.oneshot(request).await.unwrap().status(), 200);

    // A token endpoint that is down, and one that rejects the credentials.
    let down = Endpoint::new(Answer::Status(503, String::new()));
    assert!(common::source(&down).token().await.is_err());
    let wrong_secret = Endpoint::new(Answer::Status(401, r#"{"error":"invalid_client"}"#.into()));
    assert!(common::source(&wrong_secret).token().await.is_err());

    // Counters are cumulative: read only the export that follows, which holds both calls.
    exporter.reset();
    provider.force_flush().unwrap();
    let token_rejected = KeyValue::new("retry.reason", "token_rejected");
    assert_eq!(counter(&exporter, "m2m.retries", Some(&token_rejected)), 1);
    assert_eq!(counter(&exporter, "m2m.attempts", None), 3 + 2);
    assert_eq!(rejecting.count(), 2);

    // Token fetches by outcome: token-1 and, after the rejection, token-2; one failure; one
    // rejection of the credentials. Each as counted at its token endpoint.
    let fetches = |outcome| {
        let outcome = KeyValue::new("token.outcome", outcome);
        counter(&exporter, "m2m.token.fetches", Some(&outcome))
    };
    assert_eq!(endpoint.calls(), 2);
    assert_eq!(fetches("refreshed"), 2);
    assert_eq!((down.calls(), fetches("failed")), (1, 1));
    assert_eq!((wrong_secret.calls(), fetches("rejected")), (1, 1));
    assert_eq!(counter(&exporter, "m2m.token.fetches", None), 4);
}
