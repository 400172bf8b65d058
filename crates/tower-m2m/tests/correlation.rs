//! Correlation through the whole stack: every attempt carries the same request id and the
//! caller's trace, even with logging filtered to warn.

mod scripted;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use scripted::{Upstream, get, status};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_http::request_id::RequestId;
use tower_m2m::BoxError;
use tower_m2m::correlation::{CorrelationLayer, InboundCorrelationLayer};
use tower_m2m::stack::{M2mStack, Upstream as UpstreamHandle};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn caller_context() -> opentelemetry::Context {
    let span = SpanContext::new(
        TraceId::from_hex(TRACE_ID).unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    opentelemetry::Context::new().with_remote_span_context(span)
}

#[tokio::test(start_paused = true)]
async fn every_attempt_carries_the_same_id_and_the_callers_trace_at_warn() {
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_test_writer()
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let upstream = Upstream::new(|n, _| async move { Ok(status(if n < 2 { 503 } else { 200 })) });
    let client = M2mStack::builder(UpstreamHandle::new("kinde")).service(upstream.clone());

    let _trace = caller_context().attach();
    let response = client.oneshot(get("traced")).await.unwrap();
    assert_eq!(response.status(), 200);

    let seen = upstream.seen();
    assert_eq!(seen.len(), 3);
    let first_id = &seen[0].headers["x-request-id"];
    for attempt in &seen {
        assert_eq!(&attempt.headers["x-request-id"], first_id);
        let traceparent = attempt.headers["traceparent"].to_str().unwrap();
        assert!(traceparent.contains(TRACE_ID), "{traceparent}");
    }
}

#[tokio::test]
async fn the_id_from_the_extension_wins_over_minting() {
    let upstream = Upstream::always(200);
    let client = ServiceBuilder::new()
        .layer(CorrelationLayer::new())
        .service(upstream.clone());

    let mut request = get("with-id");
    request
        .extensions_mut()
        .insert(RequestId::new("req-42".parse().unwrap()));
    request.extensions_mut().insert(caller_context());
    client.clone().oneshot(request).await.unwrap();
    client.oneshot(get("without")).await.unwrap();

    let seen = upstream.seen();
    assert_eq!(seen[0].headers["x-request-id"], "req-42");
    assert!(
        seen[0].headers["traceparent"]
            .to_str()
            .unwrap()
            .contains(TRACE_ID)
    );
    let minted = seen[1].headers["x-request-id"].to_str().unwrap();
    assert_eq!(minted.len(), 36, "a UUID: {minted}");
    assert!(
        !seen[1].headers.contains_key("traceparent"),
        "no trace, no header"
    );
}

#[tokio::test]
async fn inbound_ids_are_kept_when_valid_replaced_when_not_and_echoed() {
    let upstream = Upstream::always(200);
    let outbound = ServiceBuilder::new()
        .layer(CorrelationLayer::new())
        .service(upstream.clone());
    // A server handler that calls the upstream with the inbound request's extensions.
    let server = ServiceBuilder::new()
        .layer(InboundCorrelationLayer::new())
        .service(service_fn(move |inbound: http::Request<String>| {
            let outbound = outbound.clone();
            async move {
                let mut request = get("server");
                *request.extensions_mut() = inbound.extensions().clone();
                outbound.oneshot(request).await?;
                Ok::<_, BoxError>(status(200))
            }
        }));

    let long = "a".repeat(200);
    let cases = [
        ("kept-1", true),
        ("has space", false),
        (long.as_str(), false),
        ("tab\tinside", false),
    ];
    for (id, kept) in cases {
        let request = http::Request::get("/")
            .header("x-request-id", id)
            .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
            .body(String::new())
            .unwrap();
        let response = server.clone().oneshot(request).await.unwrap();

        let sent = upstream.seen().last().unwrap().headers.clone();
        assert_eq!(sent["x-request-id"] == id, kept, "{id:?}");
        assert_eq!(
            response.headers()["x-request-id"],
            sent["x-request-id"],
            "echoed"
        );
        assert!(sent["traceparent"].to_str().unwrap().contains(TRACE_ID));
    }
}
