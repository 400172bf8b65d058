//! A gateway on a real loopback socket in front of a real emulator, and helpers to call both.

#![allow(dead_code, reason = "each test file uses a different part")]

pub(crate) mod process;
pub(crate) mod sweep;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use kinde_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};
use kinde_gateway::server::{ServeError, ServeOptions, serve};
use kinde_gateway::{AuditLog, Gateway, demo};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tower_m2m::kinde::KindeCredentials;
use tower_m2m::ratelimit::RateLimitConfig;
use tower_m2m::stack::Upstream;

pub(crate) use kinde_gateway::demo::DEMO_API_KEY;
pub(crate) use kinde_gateway::pb;

/// A running gateway and its emulator.
pub(crate) struct Harness {
    pub(crate) emulator: Emulator,
    pub(crate) address: SocketAddr,
    pub(crate) audit: AuditLog,
    /// Where the captured log stood when the gateway started.
    log_mark: usize,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), ServeError>>>,
    http: reqwest::Client,
}

impl Harness {
    /// The demo gateway (demo profile, demo caller allowed everything) on a fresh emulator.
    pub(crate) async fn demo() -> Self {
        // From before the emulator starts, so the sweep covers its logs too.
        let log_mark = sweep::log_mark();
        let emulator = Emulator::builder().start().await.unwrap();
        let audit = AuditLog::memory();
        let gateway = demo::gateway(emulator.base_url(), audit.clone()).unwrap();
        Self::start(emulator, gateway, audit, ServeOptions::default(), log_mark).await
    }

    /// Serves `gateway` (whose audit log is `audit`) in front of `emulator`.
    pub(crate) async fn serve(emulator: Emulator, gateway: Gateway, audit: AuditLog) -> Self {
        Self::serve_with(emulator, gateway, audit, ServeOptions::default()).await
    }

    /// Serves `gateway` with `options` (TLS, ...) in front of `emulator`.
    pub(crate) async fn serve_with(
        emulator: Emulator,
        gateway: Gateway,
        audit: AuditLog,
        options: ServeOptions,
    ) -> Self {
        Self::start(emulator, gateway, audit, options, sweep::log_mark()).await
    }

    async fn start(
        emulator: Emulator,
        gateway: Gateway,
        audit: AuditLog,
        options: ServeOptions,
        log_mark: usize,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(gateway, listener, options, async {
            let _ = stop.await;
        }));
        Self {
            emulator,
            address,
            audit,
            log_mark,
            shutdown: Some(shutdown),
            server: Some(server),
            http: reqwest::Client::new(),
        }
    }

    /// A new connection to the gateway.
    pub(crate) async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub(crate) async fn users(&self) -> pb::users_service_client::UsersServiceClient<Channel> {
        pb::users_service_client::UsersServiceClient::new(self.channel().await)
    }

    pub(crate) async fn organizations(
        &self,
    ) -> pb::organizations_service_client::OrganizationsServiceClient<Channel> {
        pb::organizations_service_client::OrganizationsServiceClient::new(self.channel().await)
    }

    /// `GET /_emulator/stats`.
    pub(crate) async fn stats(&self) -> Value {
        self.control_get("stats").await
    }

    /// `GET /_emulator/requests`.
    pub(crate) async fn requests(&self) -> Vec<Value> {
        match self.control_get("requests").await {
            Value::Array(requests) => requests,
            other => panic!("not a list: {other}"),
        }
    }

    /// API requests that reached the emulator.
    pub(crate) async fn api_requests(&self) -> Vec<Value> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/api/")))
            .collect()
    }

    /// `PUT /_emulator/faults`.
    pub(crate) async fn faults(&self, faults: Value) {
        let url = format!("{}/_emulator/faults", self.emulator.base_url());
        let response = self
            .http
            .put(url)
            .body(faults.to_string())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }

    /// `POST /_emulator/reset`: fresh state, zeroed counters, an empty log, no faults.
    pub(crate) async fn reset(&self) {
        let url = format!("{}/_emulator/reset", self.emulator.base_url());
        let response = self.http.post(url).send().await.unwrap();
        assert!(response.status().is_success());
    }

    /// `GET /_emulator/<what>`, parsed.
    pub(crate) async fn control_get(&self, what: &str) -> Value {
        let url = format!("{}/_emulator/{what}", self.emulator.base_url());
        let text = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Every audit line, parsed.
    pub(crate) fn audit_lines(&self) -> Vec<Value> {
        self.audit
            .lines()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Stops the gateway (draining), then runs the [audit sweep](sweep) over its audit lines
    /// and the logs captured since it started.
    pub(crate) async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        sweep::sweep(&self.audit.lines(), &sweep::logs_since(self.log_mark));
    }
}

/// `message` with the demo caller's key.
pub(crate) fn demo_request<T>(message: T) -> tonic::Request<T> {
    with_key(message, DEMO_API_KEY)
}

/// `message` with `authorization: Bearer <key>`; the key is registered with the [audit
/// sweep](sweep).
pub(crate) fn with_key<T>(message: T, key: &str) -> tonic::Request<T> {
    sweep::secret(key);
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    request
}

/// A typed client straight to the emulator with the demo credentials, fast enough to seed.
pub(crate) fn seeding_client(emulator: &Emulator) -> kinde_management::Client {
    let credentials = KindeCredentials::new()
        .domain(emulator.base_url())
        .client_id(DEMO_CLIENT_ID)
        .client_secret(DEMO_CLIENT_SECRET)
        .build()
        .unwrap();
    let rate = RateLimitConfig::new(NonZeroU32::new(100_000).unwrap(), Duration::from_secs(1))
        .unwrap()
        .burst(NonZeroU32::new(10_000).unwrap());
    let upstream = Upstream::builder("seed")
        .rate_limit(rate)
        .max_in_flight(32)
        .build()
        .unwrap();
    kinde_management::Client::builder(emulator.base_url())
        .credentials(credentials)
        .upstream(upstream)
        .build()
        .unwrap()
}

/// The `ErrorInfo` reason of a status.
pub(crate) fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

/// Whether `status` suggests a delay with `RetryInfo`.
pub(crate) fn has_retry_info(status: &tonic::Status) -> bool {
    use tonic_types::StatusExt;
    status.get_error_details().retry_info().is_some()
}
