//! Shared by the test binaries: the generated calls of every operation, a stand-in for Kinde
//! that records each request and answers with the operation's example, and an emulator on
//! loopback with its control API.

#![allow(dead_code, reason = "each test binary uses part of this module")]

pub(crate) mod calls;

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kinde_management::Client;
use serde::Deserialize;
use serde_json::Value;
use tower_m2m::ReplayBody;
use tower_m2m::kinde::KindeCredentials;
use tower_m2m::ratelimit::RateLimitConfig;
use tower_m2m::stack::Upstream;

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

/// An emulator on loopback, with what the tests read from its control API.
pub(crate) struct Kinde {
    emulator: kinde_emulator::Emulator,
    control: reqwest::Client,
}

impl Kinde {
    /// An emulator with the defaults, on `127.0.0.1`.
    pub(crate) async fn start() -> Self {
        Self::start_with(kinde_emulator::Emulator::builder()).await
    }

    /// An emulator configured by `builder`, on `127.0.0.1`.
    pub(crate) async fn start_with(builder: kinde_emulator::EmulatorBuilder) -> Self {
        let emulator = builder.start().await.expect("the emulator starts");
        Self {
            emulator,
            control: reqwest::Client::new(),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn base_url(&self) -> &str {
        self.emulator.base_url()
    }

    /// A client on the full `tower-m2m` stack over reqwest, with the demo credentials.
    pub(crate) fn client(&self) -> Client {
        self.client_with_secret(kinde_emulator::DEMO_CLIENT_SECRET)
    }

    /// A client on the full stack with the demo client id and `secret`.
    ///
    /// Its upstream allows far more requests than the default (600 a minute), so that a test of
    /// a few hundred calls is not paced by the rate limiter, which `tower-m2m` tests on its own.
    pub(crate) fn client_with_secret(&self, secret: &str) -> Client {
        let credentials = KindeCredentials::new()
            .domain(self.base_url())
            .client_id(kinde_emulator::DEMO_CLIENT_ID)
            .client_secret(secret.to_owned())
            .build()
            .expect("valid credentials");
        let requests = NonZeroU32::new(100_000).expect("non-zero");
        let rate = RateLimitConfig::new(requests, Duration::from_secs(1))
            .expect("a valid rate")
            .burst(NonZeroU32::new(1_000).expect("non-zero"));
        let upstream = Upstream::builder("kinde-emulator")
            .rate_limit(rate)
            .build()
            .expect("a valid upstream");
        Client::builder(self.base_url())
            .credentials(credentials)
            .upstream(upstream)
            .build()
            .expect("a client")
    }

    /// `GET /_emulator/requests`: every request but the control API's, oldest first.
    pub(crate) async fn requests(&self) -> Vec<Recorded> {
        serde_json::from_value(self.control("/_emulator/requests").await).expect("a request log")
    }

    /// The recorded Management API requests (under `/api/`), oldest first.
    pub(crate) async fn api_requests(&self) -> Vec<Recorded> {
        let mut requests = self.requests().await;
        requests.retain(|request| request.path.starts_with("/api/"));
        requests
    }

    /// `GET /_emulator/stats`.
    pub(crate) async fn stats(&self) -> Value {
        self.control("/_emulator/stats").await
    }

    /// `GET /_emulator/state`.
    pub(crate) async fn state(&self) -> Value {
        self.control("/_emulator/state").await
    }

    async fn control(&self, path: &str) -> Value {
        let response = self
            .control
            .get(format!("{}{path}", self.base_url()))
            .send()
            .await
            .expect("the control API answers");
        assert_eq!(response.status(), 200, "{path}");
        let body = response.bytes().await.expect("a body");
        serde_json::from_slice(&body).expect("JSON")
    }
}

/// One request in the emulator's log.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) operation_id: Option<String>,
    pub(crate) status: u16,
    pub(crate) headers: BTreeMap<String, String>,
}

impl Recorded {
    /// The query string's `name=value` pairs, as sent.
    pub(crate) fn query_pairs(&self) -> Vec<&str> {
        match self.query.as_deref() {
            None | Some("") => Vec::new(),
            Some(query) => query.split('&').collect(),
        }
    }

    /// The decoded value of the query parameter `name`, if it was sent.
    pub(crate) fn query_value(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref().unwrap_or_default();
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

/// Creates a user with an email identity and a name; returns the new user's id.
pub(crate) async fn create_user(
    client: &Client,
    email: &str,
    given_name: &str,
    family_name: &str,
) -> String {
    let body = serde_json::from_value(serde_json::json!({
        "profile": {"given_name": given_name, "family_name": family_name},
        "identities": [{"type": "email", "details": {"email": email}}],
    }))
    .expect("a valid createUser body");
    let created = client
        .create_user(Some(&body))
        .await
        .expect("the user is created");
    assert_eq!(created.created, Some(true));
    created.id.expect("a new user has an id")
}
