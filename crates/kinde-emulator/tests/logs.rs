//! No secret, token or authorization value reaches the emulator's logs, even at TRACE.

mod common;

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use common::{call, demo_token, token_form, token_request};
use http::Method;
use kinde_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};

/// A log sink shared with the test.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_at_trace_hold_no_secret_or_token() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let emulator = Emulator::builder().build_service();
    let token = demo_token(&emulator, Some("read:users")).await;
    let wrong = token_request(
        &emulator,
        &token_form(&emulator, DEMO_CLIENT_ID, "wrong-secret-never-logged"),
    )
    .await;
    assert_eq!(wrong.status, 401);
    call(&emulator, Method::GET, "/api/v1/users", &token, None).await;
    call(
        &emulator,
        Method::GET,
        "/api/v1/organizations",
        &token,
        None,
    )
    .await;
    call(
        &emulator,
        Method::GET,
        "/api/v1/users",
        "forged.token.value",
        None,
    )
    .await;

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap_or_else(PoisonError::into_inner))
        .into_owned();
    assert!(logs.contains("token request rejected"), "{logs}");
    assert!(logs.contains("required scope missing"), "{logs}");
    assert!(logs.contains("bearer token rejected"), "{logs}");
    for secret in [
        DEMO_CLIENT_SECRET,
        "wrong-secret-never-logged",
        token.as_str(),
        "forged.token.value",
        "Bearer",
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
    }
}
