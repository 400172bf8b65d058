//! Fetch spans stand alone, events name their outcome, and fetches are counted by outcome.

mod common;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Answer, Endpoint, source, token_body};
use tokio::time::sleep;
use tower_m2m::token::FetchCounts;
use tracing::{Instrument, Level, info_span};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_fetch_runs_in_its_own_span_not_the_callers() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let endpoint = Endpoint::new(token_body(3600));
    let source = source(&endpoint);
    source
        .token()
        .instrument(info_span!("caller", request_id = "req-42"))
        .await
        .unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let refreshed = logs
        .lines()
        .find(|line| line.contains("token refreshed"))
        .expect("the refresh is logged");
    assert!(refreshed.contains("token.fetch"), "{refreshed}");
    assert!(refreshed.contains("token.reason=\"cold\""), "{refreshed}");
    assert!(
        !refreshed.contains("req-42"),
        "the fetch is not the caller's: {refreshed}"
    );
}

#[tokio::test(start_paused = true)]
async fn fetches_are_counted_by_outcome() {
    // An interested subscriber here too: tracing caches a callsite's interest process-wide, and a
    // callsite first reached by a thread with no subscriber would be cached as never interesting,
    // hiding its events from the other test of this binary.
    let sink = tracing_subscriber::fmt()
        .with_max_level(Level::TRACE)
        .with_writer(io::sink)
        .finish();
    let _guard = tracing::subscriber::set_default(sink);

    let endpoint = Endpoint::new(token_body(3600));
    let source = source(&endpoint);
    source.token().await.unwrap();
    sleep(Duration::from_secs(10)).await;

    let token = source.token().await.unwrap();
    endpoint.answer(Answer::Status(502, String::new()));
    assert!(source.invalidate(&token));
    source.token().await.unwrap_err();
    sleep(Duration::from_secs(60)).await;

    endpoint.answer(Answer::Status(400, r#"{"error":"invalid_request"}"#.into()));
    source.token().await.unwrap_err();

    let counts = source.fetch_counts();
    assert_eq!(
        (counts.succeeded, counts.failed, counts.rejected),
        (1, 1, 1)
    );
    assert_eq!(counts.total(), endpoint.calls() as u64);
    assert_ne!(counts, FetchCounts::default());
}
