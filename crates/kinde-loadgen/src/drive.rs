//! N concurrent callers, bounded by time and by requests, with a latency histogram.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// The slowest latency the histogram holds exactly (longer ones are clamped to it).
const HISTOGRAM_MAX: Duration = Duration::from_secs(60);

/// Significant figures the histogram keeps: 0.1% resolution.
const HISTOGRAM_SIGNIFICANT_FIGURES: u8 = 3;

/// How long a caller waits for one call before counting it as `timeout`.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// When a run stops: after `duration` or `requests` calls, whichever comes first.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bound {
    /// Concurrent callers.
    pub(crate) callers: usize,
    /// Wall-clock bound of the measured part.
    pub(crate) duration: Duration,
    /// Calls started, over all callers.
    pub(crate) requests: u64,
}

/// The outcome of one call: `Ok`, or the label it is counted under (`HTTP 503`,
/// `grpc UNAVAILABLE`, `transport`).
pub(crate) type CallResult = Result<(), String>;

/// What a run measured.
#[derive(Debug)]
pub(crate) struct Measurement {
    /// Latencies of successful calls, in nanoseconds.
    pub(crate) latency: Histogram<u64>,
    /// Calls that succeeded.
    pub(crate) ok: u64,
    /// Failed calls by label.
    pub(crate) errors: BTreeMap<String, u64>,
    /// From the first call to the last answer.
    pub(crate) elapsed: Duration,
}

impl Measurement {
    fn empty() -> Self {
        Self {
            latency: new_histogram(),
            ok: 0,
            errors: BTreeMap::new(),
            elapsed: Duration::ZERO,
        }
    }

    fn merge(&mut self, other: Measurement) {
        self.latency.add(&other.latency).expect("same bounds");
        self.ok += other.ok;
        for (label, count) in other.errors {
            *self.errors.entry(label).or_default() += count;
        }
    }

    /// Successful calls a second.
    pub(crate) fn throughput(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.ok as f64 / seconds
        } else {
            0.0
        }
    }

    /// All calls, failed ones included.
    pub(crate) fn calls(&self) -> u64 {
        self.ok + self.errors.values().sum::<u64>()
    }

    /// The latency at `quantile` (0 to 1) in microseconds, if any call succeeded.
    pub(crate) fn micros_at(&self, quantile: f64) -> Option<f64> {
        (!self.latency.is_empty())
            .then(|| self.latency.value_at_quantile(quantile) as f64 / 1_000.0)
    }

    /// The slowest successful call in microseconds.
    pub(crate) fn max_micros(&self) -> Option<f64> {
        (!self.latency.is_empty()).then(|| self.latency.max() as f64 / 1_000.0)
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(
        1,
        HISTOGRAM_MAX.as_nanos() as u64,
        HISTOGRAM_SIGNIFICANT_FIGURES,
    )
    .expect("valid bounds")
}

/// Runs `bound.callers` callers, each calling `call` in a loop until the time or the request
/// budget runs out, and measures every call.
pub(crate) async fn drive<F, Fut>(bound: Bound, call: F) -> Measurement
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = CallResult> + Send,
{
    let started = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + bound.duration;
    let begin = Instant::now();

    let mut tasks = Vec::with_capacity(bound.callers);
    for _ in 0..bound.callers {
        let call = call.clone();
        let started = Arc::clone(&started);
        tasks.push(tokio::spawn(async move {
            let mut measured = Measurement::empty();
            while Instant::now() < deadline
                && started.fetch_add(1, Ordering::Relaxed) < bound.requests
            {
                record(&mut measured, &call).await;
            }
            measured
        }));
    }
    join(tasks, begin).await
}

/// Starts `callers` calls at once (one each) and measures them: the cold start.
pub(crate) async fn burst<F, Fut>(callers: usize, call: F) -> Measurement
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = CallResult> + Send,
{
    let gate = Arc::new(tokio::sync::Barrier::new(callers + 1));
    let mut tasks = Vec::with_capacity(callers);
    for _ in 0..callers {
        let call = call.clone();
        let gate = Arc::clone(&gate);
        tasks.push(tokio::spawn(async move {
            gate.wait().await;
            let mut measured = Measurement::empty();
            record(&mut measured, &call).await;
            measured
        }));
    }
    gate.wait().await;
    join(tasks, Instant::now()).await
}

async fn record<F, Fut>(measured: &mut Measurement, call: &F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = CallResult>,
{
    let start = Instant::now();
    let result = tokio::time::timeout(CALL_TIMEOUT, call()).await;
    let took = start.elapsed();
    match result {
        Ok(Ok(())) => {
            let nanos = (took.as_nanos() as u64).clamp(1, HISTOGRAM_MAX.as_nanos() as u64);
            measured.latency.record(nanos).expect("within bounds");
            measured.ok += 1;
        }
        Ok(Err(label)) => *measured.errors.entry(label).or_default() += 1,
        Err(_) => *measured.errors.entry("timeout".to_owned()).or_default() += 1,
    }
}

async fn join(tasks: Vec<tokio::task::JoinHandle<Measurement>>, begin: Instant) -> Measurement {
    let mut total = Measurement::empty();
    for task in tasks {
        match task.await {
            Ok(measured) => total.merge(measured),
            Err(_) => {
                *total
                    .errors
                    .entry("caller panicked".to_owned())
                    .or_default() += 1
            }
        }
    }
    total.elapsed = begin.elapsed();
    total
}
