//! OpenTelemetry export over OTLP (gRPC), switched on by `OTEL_EXPORTER_OTLP_ENDPOINT`.
//!
//! [`Telemetry::from_env`] reads the standard OpenTelemetry environment variables. When
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is unset or empty (or `OTEL_SDK_DISABLED` is `true`, in any
//! case) it returns
//! `None`: no exporter is built and nothing is exported. Otherwise it builds:
//!
//! - a span exporter behind a batch span processor (`OTEL_BSP_SCHEDULE_DELAY`,
//!   `OTEL_BSP_MAX_QUEUE_SIZE`, ... tune it), and [`Telemetry::layer`], the
//!   `tracing-opentelemetry` layer that turns the gateway's and `tower-m2m`'s `tracing` spans
//!   at info level into OpenTelemetry spans;
//! - a metric exporter behind a periodic reader (`OTEL_METRIC_EXPORT_INTERVAL`), installed as
//!   the global meter provider, so `tower-m2m`'s instruments and the gateway's
//!   `rpc.server.call.duration` histogram are exported.
//!
//! Both export over gRPC to the endpoint (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` override it per signal; `OTEL_EXPORTER_OTLP_HEADERS`
//! and `OTEL_EXPORTER_OTLP_TIMEOUT` are honoured too). The resource's `service.name` is
//! `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`), else `kinde-gateway`.
//! [`Telemetry::shutdown`] flushes what is still queued, for at most [`SHUTDOWN_TIMEOUT`]; the
//! binary calls it after the graceful shutdown has drained the calls, so the process exits at
//! most `drain_timeout_secs` plus that bound after SIGTERM.
//!
//! A failed export is logged at warn once, the failures after it at debug, and the first
//! export that succeeds again at info: a collector that is down shows in the logs without a
//! line per export interval.
//!
//! What the spans carry is described in [`dispatch`](crate::dispatch): a server span per call
//! following OpenTelemetry's RPC server conventions, continuing the caller's `traceparent`,
//! with the request id as an attribute, and `tower-m2m`'s client span per call to Kinde as its
//! child.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = tokio::runtime::Runtime::new()?;
//! // `None` unless OTEL_EXPORTER_OTLP_ENDPOINT is set; the exporters need the runtime.
//! let telemetry = {
//!     let _entered = runtime.enter();
//!     kinde_gateway::telemetry::Telemetry::from_env()?
//! };
//! let subscriber = tracing_subscriber::registry()
//!     .with(telemetry.as_ref().map(|t| t.layer()));
//! tracing::subscriber::with_default(subscriber, || {
//!     runtime.block_on(async {
//!         tracing::info_span!("exported when telemetry is on").in_scope(|| {});
//!     });
//! });
//! // Outside async code: shutting down blocks while the runtime exports what is queued.
//! if let Some(telemetry) = telemetry {
//!     telemetry.shutdown();
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Notes
//!
//! - The exporters speak plaintext gRPC (an `http://` endpoint, typically a collector on the
//!   same host or pod); there is no TLS to the collector.
//! - Build [`Telemetry`] inside a multi-threaded Tokio runtime (the gRPC channel needs it) and
//!   shut it down from outside async code while that runtime still runs: [`Telemetry::shutdown`]
//!   blocks, and on a current-thread runtime nothing would run the last export.
//! - OpenTelemetry's own `internal-logs` feature stays off: it logs every failed batch and much
//!   SDK housekeeping; the gateway reports export failures itself, as above.

mod export;

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::Histogram;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{MetricExporter, SpanExporter};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::registry::LookupSpan;

use crate::call::Rpc;
use crate::dispatch::is_server_error;
use crate::status::code_name;
use export::Reported;

/// The service name when the environment names none.
pub const DEFAULT_SERVICE_NAME: &str = "kinde-gateway";

/// The variable that switches export on.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// How long [`Telemetry::shutdown`] waits for the last spans and metrics to reach the
/// collector: ample for a collector on the same host or pod, and short enough that a SIGTERM
/// ends the process within the drain timeout plus 2 s, inside a typical orchestrator grace
/// period. What is not exported by then is dropped.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// The tracer and meter providers exporting over OTLP. See the [module docs](self).
pub struct Telemetry {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
}

impl Telemetry {
    /// Builds the exporters when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, else returns `None`.
    /// Installs the meter provider as OpenTelemetry's global one.
    ///
    /// # Errors
    ///
    /// [`TelemetryError`] when an exporter cannot be built, for example from a malformed
    /// endpoint URL.
    pub fn from_env() -> Result<Option<Self>, TelemetryError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, TelemetryError> {
        let enabled = var(OTEL_EXPORTER_OTLP_ENDPOINT).is_some_and(|v| !v.trim().is_empty());
        let disabled =
            var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if !enabled || disabled {
            return Ok(None);
        }
        let resource = resource();
        let spans = SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| TelemetryError(format!("OTLP span exporter: {e}")))?;
        let metrics = MetricExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| TelemetryError(format!("OTLP metric exporter: {e}")))?;
        let tracer_provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_batch_exporter(Reported::new(spans, "traces"))
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_periodic_exporter(Reported::new(metrics, "metrics"))
            .build();
        opentelemetry::global::set_meter_provider(meter_provider.clone());
        Ok(Some(Self {
            tracer_provider,
            meter_provider,
        }))
    }

    /// The `tracing` layer exporting spans at info level and above (the gateway's server span
    /// and `tower-m2m`'s call and token spans; not its debug-level attempt spans).
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        let tracer = self.tracer_provider.tracer(DEFAULT_SERVICE_NAME);
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(LevelFilter::INFO)
    }

    /// Flushes and stops both exporters; blocks until they are done, for at most
    /// [`SHUTDOWN_TIMEOUT`]. Failures and the timeout are logged, not returned: they must not
    /// fail the shutdown.
    pub fn shutdown(self) {
        self.shutdown_within(SHUTDOWN_TIMEOUT);
    }

    /// [`shutdown`](Self::shutdown) with the bound `timeout`. Both providers shut down at once,
    /// each on its own thread, since the SDK's meter provider ignores the timeout it is given
    /// (it waits up to 5 s for its last export); a thread still waiting at the bound is left
    /// to end with the process.
    fn shutdown_within(self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let (done, results) = std::sync::mpsc::channel();
        let tracer_provider = self.tracer_provider;
        let spans_done = done.clone();
        let spawned = [
            std::thread::Builder::new()
                .name("otlp-span-shutdown".to_owned())
                .spawn(move || {
                    let result = tracer_provider.shutdown_with_timeout(timeout);
                    let _ = spans_done.send(("span", result));
                }),
            std::thread::Builder::new()
                .name("otlp-metric-shutdown".to_owned())
                .spawn({
                    let meter_provider = self.meter_provider;
                    move || {
                        let result = meter_provider.shutdown_with_timeout(timeout);
                        let _ = done.send(("metric", result));
                    }
                }),
        ];
        let running = spawned.iter().filter(|spawn| spawn.is_ok()).count();

        for _ in 0..running {
            let left = deadline.saturating_duration_since(Instant::now());
            match results.recv_timeout(left) {
                Ok((_, Ok(()))) => {}
                Ok((signal, Err(error))) => {
                    tracing::warn!(%error, "OTLP {signal} export shutdown");
                }
                Err(_) => {
                    tracing::warn!(
                        timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                        "OTLP export shutdown timed out; telemetry still queued is dropped"
                    );
                    return;
                }
            }
        }
    }
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

/// The bucket boundaries of `rpc.server.call.duration`, in seconds: the ones OpenTelemetry's
/// RPC conventions recommend, from 5 ms (a call refused before Kinde) to 10 s (a call that
/// waited out retries and backoff).
pub const SERVER_DURATION_BOUNDARIES: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Records a call in the `rpc.server.call.duration` histogram of OpenTelemetry's RPC
/// conventions (semantic conventions 1.38 and later): seconds, with the
/// [recommended boundaries](SERVER_DURATION_BOUNDARIES), by `rpc.system.name`, `rpc.method`
/// (`service/method`), `rpc.response.status_code` (the code's name) and, for the codes the
/// conventions count as server errors, `error.type`. On the global meter provider: free when
/// nothing installed one.
pub(crate) fn server_duration(rpc: &Rpc, code: tonic::Code, duration: Duration) {
    static HISTOGRAM: OnceLock<Histogram<f64>> = OnceLock::new();
    let histogram = HISTOGRAM.get_or_init(|| {
        opentelemetry::global::meter(DEFAULT_SERVICE_NAME)
            .f64_histogram("rpc.server.call.duration")
            .with_unit("s")
            .with_description("Duration of inbound gRPC calls")
            .with_boundaries(SERVER_DURATION_BOUNDARIES.to_vec())
            .build()
    });

    let status = code_name(code);
    let mut attributes = vec![
        KeyValue::new("rpc.system.name", "grpc"),
        KeyValue::new("rpc.method", rpc.name()),
        KeyValue::new("rpc.response.status_code", status),
    ];
    if is_server_error(code) {
        attributes.push(KeyValue::new("error.type", status));
    }
    histogram.record(duration.as_secs_f64(), &attributes);
}

/// The resource from the environment, with `service.name` defaulting to
/// [`DEFAULT_SERVICE_NAME`] rather than the SDK's `unknown_service`.
fn resource() -> Resource {
    let resource = Resource::builder().build();
    let named = resource
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if named {
        resource
    } else {
        Resource::builder()
            .with_attribute(KeyValue::new("service.name", DEFAULT_SERVICE_NAME))
            .build()
    }
}

/// Telemetry could not be set up. The message names the exporter and the cause.
#[derive(Debug)]
pub struct TelemetryError(String);

impl fmt::Display for TelemetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TelemetryError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_built_without_an_endpoint_or_when_disabled() {
        assert!(Telemetry::from_vars(|_| None).unwrap().is_none());
        assert!(
            Telemetry::from_vars(|name| (name == OTEL_EXPORTER_OTLP_ENDPOINT).then(String::new))
                .unwrap()
                .is_none()
        );
        let disabled = |name: &str| match name {
            OTEL_EXPORTER_OTLP_ENDPOINT => Some("http://127.0.0.1:4317".to_owned()),
            "OTEL_SDK_DISABLED" => Some(" TRUE ".to_owned()),
            _ => None,
        };
        assert!(Telemetry::from_vars(disabled).unwrap().is_none());
    }

    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::metrics::Temporality;
    use opentelemetry_sdk::metrics::data::ResourceMetrics;
    use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
    use opentelemetry_sdk::trace::{SpanData, SpanExporter};

    /// An exporter whose shutdown takes 30 s, like one stuck on an unreachable collector.
    #[derive(Debug)]
    struct Stuck;

    impl Stuck {
        fn stall() -> OTelSdkResult {
            std::thread::sleep(Duration::from_secs(30));
            Ok(())
        }
    }

    impl SpanExporter for Stuck {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            Ok(())
        }

        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Self::stall()
        }
    }

    impl PushMetricExporter for Stuck {
        async fn export(&self, _metrics: &ResourceMetrics) -> OTelSdkResult {
            Ok(())
        }

        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }

        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Self::stall()
        }

        fn temporality(&self) -> Temporality {
            Temporality::Cumulative
        }
    }

    #[test]
    fn shutdown_returns_within_its_bound_when_the_exporters_are_stuck() {
        let telemetry = Telemetry {
            tracer_provider: SdkTracerProvider::builder()
                .with_batch_exporter(Stuck)
                .build(),
            meter_provider: SdkMeterProvider::builder()
                .with_periodic_exporter(Stuck)
                .build(),
        };
        let started = Instant::now();
        telemetry.shutdown_within(Duration::from_millis(200));
        // The SDK alone would wait 5 s for the meter provider, 30 s for the stuck exporters.
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }
}
