//! OpenTelemetry instruments, from the global meter provider the application installs.
//!
//! The instruments are created on first use. An application that installs its meter provider
//! after the first request through this crate gets no-op instruments; install it at start-up.
//!
//! Durations are recorded in seconds, as the OpenTelemetry HTTP conventions ask, into histograms
//! with the explicit boundaries of [`DURATION_BOUNDARIES`]. OpenTelemetry's default boundaries
//! (0, 5, 10, 25, ... 10,000) are meant for milliseconds: in seconds they would put nearly every
//! call into the first two buckets. A view the application registers still overrides them.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::global;
use opentelemetry::metrics::{Counter, Gauge, Histogram};

/// The name of this crate's meter.
const METER_NAME: &str = "tower-m2m";

/// Bucket boundaries, in seconds, of the duration histograms: 5 ms to 10 s, the boundaries the
/// OpenTelemetry HTTP semantic conventions recommend for `http.client.request.duration`. They
/// cover a fast API call, a call that waited for a rate-limit permit (the default bound is 5 s)
/// and one that ran into its per-attempt timeout (10 s by default); longer durations fall into
/// the last, unbounded bucket.
pub(crate) const DURATION_BOUNDARIES: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

struct Instruments {
    request_duration: Histogram<f64>,
    attempts: Counter<u64>,
    retries: Counter<u64>,
    ratelimit_wait: Histogram<f64>,
    ratelimit_rejections: Counter<u64>,
    breaker_state: Gauge<u64>,
    breaker_rejections: Counter<u64>,
    budget_exhausted: Counter<u64>,
    token_fetches: Counter<u64>,
}

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = global::meter(METER_NAME);
        Instruments {
            request_duration: meter
                .f64_histogram("http.client.request.duration")
                .with_unit("s")
                .with_description("Duration of logical HTTP client calls, retries included")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            attempts: meter
                .u64_counter("m2m.attempts")
                .with_description("Attempts sent towards the upstream")
                .build(),
            retries: meter
                .u64_counter("m2m.retries")
                .with_description("Retries, by reason")
                .build(),
            ratelimit_wait: meter
                .f64_histogram("m2m.ratelimit.wait")
                .with_unit("s")
                .with_description("Time spent waiting for a rate-limit permit")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            ratelimit_rejections: meter
                .u64_counter("m2m.ratelimit.rejections")
                .with_description("Calls failed because the permit wait passed its bound")
                .build(),
            breaker_state: meter
                .u64_gauge("m2m.breaker.state")
                .with_description("Circuit breaker state: 0 closed, 1 half-open, 2 open")
                .build(),
            breaker_rejections: meter
                .u64_counter("m2m.breaker.rejections")
                .with_description("Calls rejected by an open circuit breaker")
                .build(),
            budget_exhausted: meter
                .u64_counter("m2m.retry.budget_exhausted")
                .with_description("Retries refused by the retry budget")
                .build(),
            token_fetches: meter
                .u64_counter("m2m.token.fetches")
                .with_description("Requests to the token endpoint, by outcome")
                .build(),
        }
    })
}

pub(crate) fn request_duration(elapsed: Duration, attributes: &[KeyValue]) {
    instruments()
        .request_duration
        .record(elapsed.as_secs_f64(), attributes);
}

pub(crate) fn attempt() {
    instruments().attempts.add(1, &[]);
}

pub(crate) fn retry(reason: &'static str) {
    instruments()
        .retries
        .add(1, &[KeyValue::new("retry.reason", reason)]);
}

pub(crate) fn budget_exhausted() {
    instruments().budget_exhausted.add(1, &[]);
}

pub(crate) fn ratelimit_wait(waited: Duration) {
    if !waited.is_zero() {
        instruments()
            .ratelimit_wait
            .record(waited.as_secs_f64(), &[]);
    }
}

pub(crate) fn ratelimit_rejected() {
    instruments().ratelimit_rejections.add(1, &[]);
}

pub(crate) fn breaker_state(name: &str, state: u64) {
    instruments()
        .breaker_state
        .record(state, &[KeyValue::new("breaker.name", name.to_owned())]);
}

pub(crate) fn breaker_rejected() {
    instruments().breaker_rejections.add(1, &[]);
}

/// Counts a token fetch; `outcome` is `refreshed`, `failed` or `rejected`, as the
/// `token.outcome` span field.
pub(crate) fn token_fetch(outcome: &'static str) {
    instruments()
        .token_fetches
        .add(1, &[KeyValue::new("token.outcome", outcome)]);
}
