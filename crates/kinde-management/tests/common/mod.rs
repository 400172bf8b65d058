//! Shared by the test binaries: the generated calls of every operation, and a stand-in for
//! Kinde that records each request and answers with the operation's example.

#![allow(dead_code, reason = "each test binary uses part of this module")]

pub(crate) mod calls;

use std::sync::{Arc, Mutex};

use kinde_management::Client;
use tower_m2m::ReplayBody;

/// What the stand-in saw of one request.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
}

/// Tells the stand-in which operation comes next and checks what it received.
#[derive(Clone, Default)]
pub(crate) struct Recorder {
    expected: Arc<Mutex<Option<&'static kinde_api::Operation>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    /// The next request is for `operation_id`: answer with its example and first success code.
    pub(crate) fn expect(&self, operation_id: &str) {
        let op = kinde_api::operation(operation_id).expect("known operation");
        *self.expected.lock().unwrap() = Some(op);
    }

    /// Exactly one request arrived since `expect`, with this method, path and these query pairs.
    pub(crate) fn check(&self, operation_id: &str, method: &str, path: &str, query: &[&str]) {
        let seen: Vec<Seen> = std::mem::take(&mut *self.seen.lock().unwrap());
        assert_eq!(seen.len(), 1, "{operation_id}: requests seen: {seen:?}");
        let request = &seen[0];
        assert_eq!(request.method, method, "{operation_id}: method");
        assert_eq!(request.path, path, "{operation_id}: path");
        for pair in query {
            assert!(
                request.query.split('&').any(|p| p == *pair),
                "{operation_id}: query {:?} lacks {pair}",
                request.query
            );
        }
    }
}

/// A client over the recording stand-in.
pub(crate) fn recording_client() -> (Client, Recorder) {
    let recorder = Recorder::default();
    let inner = recorder.clone();
    let service = tower::service_fn(move |request: http::Request<ReplayBody>| {
        let recorder = inner.clone();
        async move {
            recorder.seen.lock().unwrap().push(Seen {
                method: request.method().to_string(),
                path: request.uri().path().to_owned(),
                query: request.uri().query().unwrap_or_default().to_owned(),
            });
            let op = recorder
                .expected
                .lock()
                .unwrap()
                .expect("expect() called first");
            let body = op.response_example().unwrap_or_default();
            let response = http::Response::builder()
                .status(op.success[0])
                .header("content-type", "application/json")
                .body(body.to_owned())
                .expect("valid response");
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let client = Client::from_service("https://example.kinde.com", service).expect("base url");
    (client, recorder)
}

impl calls::Probe for Recorder {
    async fn before(&mut self, operation_id: &'static str) {
        self.expect(operation_id);
    }

    async fn after(
        &mut self,
        operation_id: &'static str,
        method: &'static str,
        path: &'static str,
        query: &'static [&'static str],
        outcome: Result<(), kinde_management::Error>,
    ) {
        if let Err(error) = outcome {
            panic!("{operation_id} failed against its own example: {error}");
        }
        self.check(operation_id, method, path, query);
    }
}
