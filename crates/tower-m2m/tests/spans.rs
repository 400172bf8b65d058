//! The spans of a call: one per logical call with its request id and status, one per attempt
//! with the resend count and the reason for it.
//!
//! Alone in its binary: tracing caches callsite interest process-wide, and a test without a
//! subscriber on another thread could hide these spans.

mod common;
mod scripted;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Endpoint, token_body};
use scripted::{Upstream, get, status};
use tower::{ServiceExt, service_fn};
use tower_m2m::ReplayBody;
use tower_m2m::stack::{M2mStack, Upstream as UpstreamHandle};
use tracing_subscriber::fmt::format::FmtSpan;

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

/// Captures every event and closed span at debug level for the current thread.
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[tokio::test(start_paused = true)]
async fn a_call_span_holds_one_attempt_span_per_send() {
    let (captured, _logging) = capture();

    let upstream = Upstream::new(|n, _| async move { Ok(status(if n < 2 { 503 } else { 200 })) });
    let client = M2mStack::builder(UpstreamHandle::new("kinde")).service(upstream);
    client.oneshot(get("traced")).await.unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let closed: Vec<&str> = logs.lines().filter(|line| line.contains("close")).collect();
    let attempts: Vec<&&str> = closed.iter().filter(|l| l.contains("attempt{")).collect();
    assert_eq!(attempts.len(), 3, "{logs}");
    assert!(
        attempts[0].contains("http.request.resend_count=0"),
        "{logs}"
    );
    assert!(
        attempts[2].contains("http.request.resend_count=2"),
        "{logs}"
    );
    assert!(
        attempts[2].contains("retry.reason=\"server_error\""),
        "{logs}"
    );

    let call = closed
        .iter()
        .find(|line| line.contains("HTTP request{") && !line.contains("attempt{"))
        .expect("the call span closes");
    assert!(call.contains("http.response.status_code=200"), "{call}");
    assert!(call.contains("request_id="), "{call}");
    assert!(call.contains("server.address=\"kinde.test\""), "{call}");
}

#[tokio::test(start_paused = true)]
async fn a_token_replay_is_an_attempt_of_its_own_with_its_reason() {
    let (captured, _logging) = capture();
    let endpoint = Endpoint::new(token_body(3600));
    let source = common::source(&endpoint);
    source.token().await.unwrap();
    tokio::time::advance(Duration::from_secs(60)).await;

    let upstream = Upstream::new(|_, request| {
        let code = if request.headers()["authorization"] == "Bearer token-1" {
            401
        } else {
            200
        };
        async move { Ok(status(code)) }
    });
    let transport = service_fn(move |request: http::Request<ReplayBody>| {
        let mut upstream = upstream.clone();
        tower::Service::call(&mut upstream, request.map(|_| String::new()))
    });
    let client = M2mStack::builder(UpstreamHandle::new("kinde"))
        .token_source(source)
        .service(transport);
    let request = get("replayed").map(ReplayBody::from);
    assert_eq!(client.oneshot(request).await.unwrap().status(), 200);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let attempts: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("close") && line.contains("attempt{"))
        .collect();
    assert_eq!(attempts.len(), 2, "{logs}");
    assert!(
        attempts[0].contains("http.response.status_code=401"),
        "{logs}"
    );
    assert!(
        attempts[1].contains("http.request.resend_count=1"),
        "{logs}"
    );
    assert!(
        attempts[1].contains("retry.reason=\"token_rejected\""),
        "{logs}"
    );
    assert!(
        !logs.contains("token-1") && !logs.contains("token-2"),
        "{logs}"
    );
}
