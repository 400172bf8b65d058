//! Exporters that say when they fail: the first failed export of a run of failures is logged
//! at warn, the following ones at debug, and the first success after them at info.
//!
//! Why not OpenTelemetry's own `internal-logs`: it logs every failed batch (a line per export
//! interval while a collector is down) and much SDK housekeeping besides. An operator needs to
//! see once that telemetry is not arriving, and when it is again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// `inner`, reporting its export failures as the [module docs](self) say.
#[derive(Debug)]
pub(super) struct Reported<E> {
    inner: E,
    /// `traces` or `metrics`, in the log lines.
    signal: &'static str,
    failing: AtomicBool,
}

impl<E> Reported<E> {
    pub(super) fn new(inner: E, signal: &'static str) -> Self {
        Self {
            inner,
            signal,
            failing: AtomicBool::new(false),
        }
    }

    fn report(&self, result: &OTelSdkResult) {
        let signal = self.signal;
        match result {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(telemetry.signal = signal, "OTLP export recovered");
                }
            }
            Err(error) => {
                if self.failing.swap(true, Ordering::Relaxed) {
                    tracing::debug!(telemetry.signal = signal, %error, "OTLP export failed again");
                } else {
                    tracing::warn!(
                        telemetry.signal = signal,
                        %error,
                        "OTLP export failed; further failures are logged at debug until an export succeeds"
                    );
                }
            }
        }
    }
}

impl<E: SpanExporter> SpanExporter for Reported<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.report(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Reported<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.report(&result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use futures_util::FutureExt;
    use opentelemetry_sdk::error::OTelSdkError;

    use super::*;

    /// A span exporter answering each export with the next of `results`.
    #[derive(Debug)]
    struct Scripted(Mutex<Vec<OTelSdkResult>>);

    impl SpanExporter for Scripted {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            self.0.lock().unwrap().remove(0)
        }
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_run_of_failures_warns_once_and_the_recovery_is_told() {
        let down = || {
            Err(OTelSdkError::InternalFailure(
                "connection refused".to_owned(),
            ))
        };
        let script = vec![Ok(()), down(), down(), down(), Ok(()), down()];
        let exporter = Reported::new(Scripted(Mutex::new(script)), "traces");
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();

        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..6 {
                let _ = exporter.export(Vec::new()).now_or_never().unwrap();
            }
        });

        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let levels: Vec<&str> = logs
            .lines()
            .map(|line| line.split_whitespace().nth(1).unwrap())
            .collect();
        assert_eq!(levels, ["WARN", "DEBUG", "DEBUG", "INFO", "WARN"], "{logs}");
        assert!(logs.contains("connection refused"), "{logs}");
        assert!(logs.contains("telemetry.signal=\"traces\""), "{logs}");
    }
}
