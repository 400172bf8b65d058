//! OpenTelemetry export over OTLP (gRPC), switched on by `OTEL_EXPORTER_OTLP_ENDPOINT`.
//!
//! [`Telemetry::from_env`] reads the standard OpenTelemetry environment variables. When
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is unset or empty (or `OTEL_SDK_DISABLED=true`) it returns
//! `None`: no exporter is built and nothing is exported. Otherwise it builds:
//!
//! - a span exporter behind a batch span processor (`OTEL_BSP_SCHEDULE_DELAY`,
//!   `OTEL_BSP_MAX_QUEUE_SIZE`, ... tune it), and [`Telemetry::layer`], the
//!   `tracing-opentelemetry` layer that turns the gateway's and `tower-m2m`'s `tracing` spans
//!   at info level into OpenTelemetry spans;
//! - a metric exporter behind a periodic reader (`OTEL_METRIC_EXPORT_INTERVAL`), installed as
//!   the global meter provider, so `tower-m2m`'s instruments and the gateway's
//!   `rpc.server.duration` histogram are exported.
//!
//! Both export over gRPC to the endpoint (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` override it per signal; `OTEL_EXPORTER_OTLP_HEADERS`
//! and `OTEL_EXPORTER_OTLP_TIMEOUT` are honoured too). The resource's `service.name` is
//! `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`), else `kinde-gateway`.
//! [`Telemetry::shutdown`] flushes what is still queued; the binary calls it after the graceful
//! shutdown has drained the calls.
//!
//! What the spans carry is described in [`dispatch`](crate::dispatch): a server span per call
//! following OpenTelemetry's RPC server conventions, continuing the caller's `traceparent`,
//! with the request id as an attribute, and `tower-m2m`'s client span per call to Kinde as its
//! child.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // `None` unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
//! let telemetry = kinde_gateway::telemetry::Telemetry::from_env()?;
//! let subscriber = tracing_subscriber::registry()
//!     .with(telemetry.as_ref().map(|t| t.layer()));
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info_span!("exported when telemetry is on").in_scope(|| {});
//! });
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
//! - Build [`Telemetry`] inside a Tokio runtime (the gRPC channel needs it) and shut it down
//!   while that runtime still runs.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

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

/// The service name when the environment names none.
pub const DEFAULT_SERVICE_NAME: &str = "kinde-gateway";

/// The variable that switches export on.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

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
        let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim() == "true");
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
            .with_batch_exporter(spans)
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_periodic_exporter(metrics)
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

    /// Flushes and stops both exporters; blocks until they are done or their export timeout
    /// passes. Failures are logged, not returned: they must not fail the shutdown.
    pub fn shutdown(self) {
        if let Err(error) = self.tracer_provider.shutdown() {
            tracing::warn!(%error, "OTLP span export shutdown");
        }
        if let Err(error) = self.meter_provider.shutdown() {
            tracing::warn!(%error, "OTLP metric export shutdown");
        }
    }
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

/// Records a call in the `rpc.server.duration` histogram (milliseconds, by `rpc.system`,
/// `rpc.service`, `rpc.method` and `rpc.grpc.status_code`), on the global meter provider:
/// free when nothing installed one.
pub(crate) fn server_duration(rpc: &Rpc, code: tonic::Code, duration: Duration) {
    static HISTOGRAM: OnceLock<Histogram<f64>> = OnceLock::new();
    let histogram = HISTOGRAM.get_or_init(|| {
        opentelemetry::global::meter(DEFAULT_SERVICE_NAME)
            .f64_histogram("rpc.server.duration")
            .with_unit("ms")
            .with_description("Duration of inbound gRPC calls")
            .build()
    });
    histogram.record(
        duration.as_secs_f64() * 1000.0,
        &[
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", rpc.service),
            KeyValue::new("rpc.method", rpc.method),
            KeyValue::new("rpc.grpc.status_code", code as i64),
        ],
    );
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
            "OTEL_SDK_DISABLED" => Some("true".to_owned()),
            _ => None,
        };
        assert!(Telemetry::from_vars(disabled).unwrap().is_none());
    }
}
