//! Test support for the workspace's cross-crate tests: `tower-m2m` against the Kinde emulator.
//!
//! The tests themselves live in `tests/tests/`. This library only helps them read what reached
//! the emulator: [`Control`] talks to the emulator's control API (`/_emulator/...`), over a
//! socket or in memory, so every test can assert counts taken at the emulator rather than at the
//! client.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, Request};
use http_body_util::BodyExt as _;
use kinde_emulator::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, EmulatorBuilder, EmulatorService, Faults,
};
use serde_json::Value;
use tower::ServiceExt as _;
use tower_m2m::ReplayBody;
use tower_m2m::token::ClientCredentials;

/// The base URL of in-memory emulators here: a loopback name, because tower-m2m refuses to send
/// a client secret over plain `http` to anything else (the emulator's default is the same).
pub const IN_MEMORY_BASE_URL: &str = "http://localhost";

/// An emulator builder for an in-memory emulator at [`IN_MEMORY_BASE_URL`].
pub fn in_memory() -> EmulatorBuilder {
    Emulator::builder().base_url(IN_MEMORY_BASE_URL)
}

/// The control API of one emulator, in memory or over a socket.
#[derive(Clone, Debug)]
pub struct Control {
    target: Target,
}

#[derive(Clone, Debug)]
enum Target {
    Memory(EmulatorService),
    Socket {
        base_url: String,
        client: reqwest::Client,
    },
}

/// `GET /_emulator/stats`: what reached the token endpoint and the Management API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Requests to `POST /oauth2/token`, answered or not.
    pub token_requests: u64,
    /// Requests to the Management API, answered or not.
    pub api_requests: u64,
    /// Both kinds of requests by status.
    pub by_status: BTreeMap<String, u64>,
    /// Management API requests by operation id.
    pub by_operation: BTreeMap<String, u64>,
}

impl Stats {
    /// How many requests were answered with `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.by_status
            .get(&status.to_string())
            .copied()
            .unwrap_or(0)
    }

    /// How many requests the operation `id` received.
    pub fn operation(&self, id: &str) -> u64 {
        self.by_operation.get(id).copied().unwrap_or(0)
    }
}

/// One entry of `GET /_emulator/requests`.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// When the request arrived, in milliseconds since the Unix epoch on the emulator's clock
    /// (which follows tokio's clock, paused or not).
    pub timestamp_ms: u64,
    /// The method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The operation id, for Management API requests that matched a route.
    pub operation_id: Option<String>,
    /// The status answered (500 for a connection closed by a fault).
    pub status: u16,
    /// Whether an injected fault closed the connection instead of answering.
    pub connection_closed: bool,
    /// The token id (`jti`) the request presented or, for a token request, was issued.
    pub jti: Option<String>,
    /// The request headers, `authorization` redacted.
    pub headers: BTreeMap<String, String>,
}

impl Recorded {
    /// Whether this is a token request.
    pub fn is_token_request(&self) -> bool {
        self.path == "/oauth2/token"
    }

    /// Whether this is a Management API request.
    pub fn is_api_request(&self) -> bool {
        self.path.starts_with("/api/")
    }

    /// A request header, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

impl Control {
    /// The control API of an in-memory emulator.
    pub fn in_memory(emulator: &EmulatorService) -> Self {
        Self {
            target: Target::Memory(emulator.clone()),
        }
    }

    /// The control API of an emulator on a socket.
    pub fn socket(emulator: &Emulator) -> Self {
        Self {
            target: Target::Socket {
                base_url: emulator.base_url().to_owned(),
                client: reqwest::Client::new(),
            },
        }
    }

    /// The counters.
    ///
    /// # Panics
    ///
    /// If the control API does not answer as documented.
    pub async fn stats(&self) -> Stats {
        let stats = self.send(Method::GET, "/_emulator/stats", None).await;
        let counts = |field: &str| -> BTreeMap<String, u64> {
            stats[field]
                .as_object()
                .expect("a map of counts")
                .iter()
                .map(|(key, count)| (key.clone(), count.as_u64().expect("a count")))
                .collect()
        };
        Stats {
            token_requests: stats["token_requests"].as_u64().expect("a count"),
            api_requests: stats["api_requests"].as_u64().expect("a count"),
            by_status: counts("by_status"),
            by_operation: counts("by_operation"),
        }
    }

    /// The request log, oldest first.
    ///
    /// # Panics
    ///
    /// If the control API does not answer as documented.
    pub async fn requests(&self) -> Vec<Recorded> {
        let log = self.send(Method::GET, "/_emulator/requests", None).await;
        let text = |value: &Value| value.as_str().map(str::to_owned);
        log.as_array()
            .expect("a list of requests")
            .iter()
            .map(|entry| Recorded {
                timestamp_ms: entry["timestamp_ms"].as_u64().expect("a timestamp"),
                method: text(&entry["method"]).expect("a method"),
                path: text(&entry["path"]).expect("a path"),
                operation_id: text(&entry["operation_id"]),
                status: entry["status"]
                    .as_u64()
                    .and_then(|status| u16::try_from(status).ok())
                    .expect("a status"),
                connection_closed: entry["connection_closed"].as_bool().unwrap_or(false),
                jti: text(&entry["jti"]),
                headers: entry["headers"]
                    .as_object()
                    .expect("a map of headers")
                    .iter()
                    .map(|(name, value)| (name.clone(), text(value).unwrap_or_default()))
                    .collect(),
            })
            .collect()
    }

    /// The Management API requests of the log, oldest first.
    pub async fn api_requests(&self) -> Vec<Recorded> {
        let mut requests = self.requests().await;
        requests.retain(Recorded::is_api_request);
        requests
    }

    /// The token requests of the log, oldest first.
    pub async fn token_requests(&self) -> Vec<Recorded> {
        let mut requests = self.requests().await;
        requests.retain(Recorded::is_token_request);
        requests
    }

    /// The stateful resources (`GET /_emulator/state`).
    pub async fn state(&self) -> Value {
        self.send(Method::GET, "/_emulator/state", None).await
    }

    /// Replaces the faults in force (`PUT /_emulator/faults`).
    ///
    /// # Panics
    ///
    /// If the emulator refuses them.
    pub async fn set_faults(&self, faults: &Faults) {
        let body = serde_json::to_value(faults).expect("faults serialize");
        self.send(Method::PUT, "/_emulator/faults", Some(body))
            .await;
    }

    /// Turns every fault off.
    pub async fn clear_faults(&self) {
        self.set_faults(&Faults::default()).await;
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        let (status, bytes) = match &self.target {
            Target::Memory(emulator) => {
                let request = Request::builder()
                    .method(method)
                    .uri(format!("{}{path}", emulator.base_url()))
                    .header("content-type", "application/json")
                    .body(body)
                    .expect("a control request");
                let response = emulator
                    .clone()
                    .oneshot(request)
                    .await
                    .expect("the control API never closes a connection");
                let status = response.status();
                let bytes = response
                    .into_body()
                    .collect()
                    .await
                    .expect("a body")
                    .to_bytes();
                (status, bytes)
            }
            Target::Socket { base_url, client } => {
                let response = client
                    .request(method, format!("{base_url}{path}"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("the control API answers");
                let status = response.status();
                (status, response.bytes().await.expect("a body"))
            }
        };
        assert!(status.is_success(), "{path}: {status}");
        serde_json::from_slice(&bytes).expect("a JSON answer")
    }
}

/// Credentials of the emulator's demo application for the Management API of the emulator at
/// `base_url`, with `secret` (the demo secret unless a test wants a wrong one).
///
/// # Panics
///
/// If the credentials are invalid, which they never are for a valid base URL.
pub fn demo_credentials(base_url: &str, secret: &str) -> ClientCredentials {
    ClientCredentials::builder(format!("{base_url}/oauth2/token"), DEMO_CLIENT_ID, secret)
        .audience(format!("{base_url}/api"))
        .build()
        .expect("valid credentials")
}

/// The demo application's secret, for [`demo_credentials`].
pub const SECRET: &str = DEMO_CLIENT_SECRET;

/// A replayable `GET` of `path` on the emulator at `base_url`.
///
/// # Panics
///
/// If `path` does not make a valid URI.
pub fn get(base_url: &str, path: &str) -> Request<ReplayBody> {
    Request::get(format!("{base_url}{path}"))
        .body(ReplayBody::empty())
        .expect("a request")
}

/// A replayable JSON `POST` of `body` to `path` on the emulator at `base_url`.
///
/// # Panics
///
/// If `path` does not make a valid URI.
pub fn post_json(base_url: &str, path: &str, body: &Value) -> Request<ReplayBody> {
    Request::post(format!("{base_url}{path}"))
        .header("content-type", "application/json")
        .body(ReplayBody::from(body.to_string()))
        .expect("a request")
}

/// The claims of a JWT, read without verifying it.
///
/// # Panics
///
/// If `token` is not a JWT with a JSON payload.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let json = URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice(&json).expect("JSON claims")
}
