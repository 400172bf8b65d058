//! The scenarios, each against the emulator child, each bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::children::{EmulatorChild, GatewayChild};
use crate::drive::{Bound, CallResult, Measurement, burst, drive};
use crate::gateway::{self, Users};
use crate::ours;
use crate::peer::Peer;
use crate::report::Row;

/// Calls per caller before a scenario is measured: connections open, the token cached.
const WARM_UP_CALLS_PER_CALLER: u64 = 20;

/// Streams per HTTP/2 connection in `streams`: under hyper's default limit of concurrent
/// streams per connection, so every stream is open at once.
const STREAMS_PER_CONNECTION: usize = 100;

/// How long `streams` waits for every stream to be open at once.
const STREAMS_OPEN_TIMEOUT: Duration = Duration::from_secs(60);

/// Users a page in `streams`: several pages a stream, so streams stay open a while.
const STREAM_PAGE_SIZE: i32 = 2;

/// How long a call to the emulator's control API (`/_emulator/...`) may take.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// The children and a plain client for the emulator's control API.
#[derive(Debug)]
pub(crate) struct Stage {
    /// The emulator.
    pub(crate) emulator: EmulatorChild,
    /// The gateway.
    pub(crate) gateway: GatewayChild,
    control: reqwest::Client,
}

/// Counters of the emulator (`GET /_emulator/stats`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    token_requests: u64,
    api_requests: u64,
}

impl Stage {
    /// The stage for `emulator` and `gateway`.
    pub(crate) fn new(emulator: EmulatorChild, gateway: GatewayChild) -> Result<Self, String> {
        let control = reqwest::Client::builder()
            .timeout(CONTROL_TIMEOUT)
            .build()
            .map_err(|e| format!("control client: {e}"))?;
        Ok(Self {
            emulator,
            gateway,
            control,
        })
    }

    /// The emulator's counters.
    pub(crate) async fn counters(&self) -> Result<Counters, String> {
        let url = format!("{}/_emulator/stats", self.emulator.base_url);
        let stats: Value = self
            .control
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("emulator stats: {e}"))?
            .json()
            .await
            .map_err(|e| format!("emulator stats: {e}"))?;
        Ok(Counters {
            token_requests: stats["token_requests"].as_u64().unwrap_or(0),
            api_requests: stats["api_requests"].as_u64().unwrap_or(0),
        })
    }

    /// Replaces the emulator's faults (`PUT /_emulator/faults`).
    pub(crate) async fn faults(&self, faults: Value) -> Result<(), String> {
        let url = format!("{}/_emulator/faults", self.emulator.base_url);
        self.control
            .put(url)
            .header("content-type", "application/json")
            .body(faults.to_string())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map(drop)
            .map_err(|e| format!("emulator faults: {e}"))
    }

    /// Runs `run` while the emulator injects `faults`, then clears them, whatever `run` gave.
    async fn with_faults<T>(
        &self,
        faults: Value,
        run: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        self.faults(faults).await?;
        let result = run.await;
        let cleared = self.faults(serde_json::json!({})).await;
        let value = result?;
        cleared?;
        Ok(value)
    }

    /// Resets both children's peak RSS, so that the next reading is the next scenario's.
    pub(crate) fn reset_peaks(&self) -> bool {
        let emulator = self.emulator.process.reset_peak_rss();
        let gateway = self.gateway.process.reset_peak_rss();
        emulator && gateway
    }

    /// Runs `measure` between two readings of the counters and fills in the row.
    async fn scenario<Fut>(
        &self,
        name: &str,
        concurrency: usize,
        measure: Fut,
    ) -> Result<Row, String>
    where
        Fut: Future<Output = Result<Measurement, String>>,
    {
        let peaks_reset = self.reset_peaks();
        let before = self.counters().await?;
        let measured = measure.await?;
        let after = self.counters().await?;

        let mut row = Row::new(name, concurrency, &measured);
        row.token_requests = Some(after.token_requests - before.token_requests);
        row.api_requests = Some(after.api_requests - before.api_requests);
        row.emulator_peak_rss_bytes = self.emulator.process.peak_rss();
        row.gateway_peak_rss_bytes = self.gateway.process.peak_rss();
        if !peaks_reset {
            row.note = Some("peak RSS could not be reset: peaks are since start".to_owned());
        }
        Ok(row)
    }

    /// `direct`: the kinde-management client straight to the emulator.
    pub(crate) async fn direct(&self, bound: Bound) -> Result<Row, String> {
        let client = ours::client(&self.emulator)?;
        let call = move || ours::get_users(client.clone());
        warm_up(bound, call.clone()).await?;
        self.scenario("direct", bound.callers, async {
            Ok(drive(bound, call).await)
        })
        .await
    }

    /// `gateway`: a tonic client on one connection through the gateway.
    pub(crate) async fn gateway(&self, bound: Bound) -> Result<Row, String> {
        let client = gateway::connect(&self.gateway.url).await?;
        let call = move || gateway::get_users(client.clone());
        warm_up(bound, call.clone()).await?;
        self.scenario("gateway", bound.callers, async {
            Ok(drive(bound, call).await)
        })
        .await
    }

    /// `peer`: reqwest + reqwest-middleware + reqwest-retry with the JS SDK's token handling.
    pub(crate) async fn peer(&self, bound: Bound) -> Result<Row, String> {
        let peer = Peer::new(&self.emulator)?;
        let call = move || peer.clone().get_users();
        warm_up(bound, call.clone()).await?;
        self.scenario("peer", bound.callers, async {
            Ok(drive(bound, call).await)
        })
        .await
    }

    /// `cold-start`: `callers` first calls at once from a client with an empty token cache,
    /// ours and then the peer's, while the emulator's token endpoint answers after
    /// `token_latency`.
    pub(crate) async fn cold_start(
        &self,
        callers: usize,
        token_latency: Duration,
    ) -> Result<Vec<Row>, String> {
        let latency_ms = u64::try_from(token_latency.as_millis()).unwrap_or(u64::MAX);
        let faults = serde_json::json!({
            "target": "token",
            "latency": {"min_ms": latency_ms, "max_ms": latency_ms},
        });
        let mut rows = self.with_faults(faults, self.cold_starts(callers)).await?;
        for row in &mut rows {
            row.note = Some(format!(
                "one first call each, at once; the token endpoint answers after {latency_ms} ms"
            ));
        }
        Ok(rows)
    }

    async fn cold_starts(&self, callers: usize) -> Result<Vec<Row>, String> {
        let client = ours::client(&self.emulator)?;
        let ours = self
            .scenario("cold-start ours", callers, async {
                Ok(burst(callers, move || ours::get_users(client.clone())).await)
            })
            .await?;
        // Let the sockets of the first burst close before the second opens as many again.
        tokio::time::sleep(Duration::from_secs(1)).await;

        let peer = Peer::new(&self.emulator)?;
        let peer = self
            .scenario("cold-start peer", callers, async {
                Ok(burst(callers, move || peer.clone().get_users()).await)
            })
            .await?;
        Ok(vec![ours, peer])
    }

    /// `streams`: `streams` concurrent `StreamGetUsers` through the gateway, every one open at
    /// the same moment, while the emulator answers each page after `page_latency`. The row's
    /// latency is each stream's whole duration.
    pub(crate) async fn streams(
        &self,
        streams: usize,
        users: usize,
        page_latency: Duration,
    ) -> Result<Row, String> {
        let latency_ms = u64::try_from(page_latency.as_millis()).unwrap_or(u64::MAX);
        let faults = serde_json::json!({
            "target": {"operation": "getUsers"},
            "latency": {"min_ms": latency_ms, "max_ms": latency_ms},
        });

        let mut connections = Vec::new();
        for _ in 0..streams.div_ceil(STREAMS_PER_CONNECTION) {
            connections.push(gateway::connect(&self.gateway.url).await?);
        }
        let measure = self.scenario(
            "streams",
            streams,
            open_streams(connections, streams, users),
        );
        let mut row = self.with_faults(faults, measure).await?;
        let pages = users.div_ceil(STREAM_PAGE_SIZE as usize);
        row.note = Some(format!(
            "{users} users, {STREAM_PAGE_SIZE} a page ({pages} pages), {latency_ms} ms a page; \
             latency is a whole stream"
        ));
        Ok(row)
    }
}

/// A few calls per caller, not measured; fails if none succeeds.
async fn warm_up<F, Fut>(bound: Bound, call: F) -> Result<(), String>
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = CallResult> + Send,
{
    let warm = Bound {
        callers: bound.callers,
        duration: Duration::from_secs(5),
        requests: WARM_UP_CALLS_PER_CALLER * bound.callers as u64,
    };
    let measured = drive(warm, call).await;
    if measured.ok == 0 {
        return Err(format!("every warm-up call failed: {:?}", measured.errors));
    }
    Ok(())
}

async fn open_streams(
    connections: Vec<Users>,
    streams: usize,
    users: usize,
) -> Result<Measurement, String> {
    let open = Arc::new(AtomicUsize::new(0));
    let next_connection = Arc::new(AtomicUsize::new(0));
    let all_open = Arc::new(tokio::sync::Notify::new());
    let connections = Arc::new(connections);

    let call = move || {
        let open = Arc::clone(&open);
        let all_open = Arc::clone(&all_open);
        let index = next_connection.fetch_add(1, Ordering::Relaxed) % connections.len();
        let client = connections[index].clone();
        async move { one_stream(client, &open, &all_open, streams, users).await }
    };
    Ok(burst(streams, call).await)
}

/// Opens a stream, reads its first user, waits until every stream is open, then reads the
/// rest and checks that every user came.
async fn one_stream(
    client: Users,
    open: &AtomicUsize,
    all_open: &tokio::sync::Notify,
    streams: usize,
    users: usize,
) -> CallResult {
    let started = Instant::now();
    let mut stream = gateway::open_stream(client, STREAM_PAGE_SIZE).await?;
    let mut received = 0usize;
    let first = stream
        .message()
        .await
        .map_err(|status| format!("grpc {:?}", status.code()))?;
    received += usize::from(first.is_some());

    let waiting = all_open.notified();
    if open.fetch_add(1, Ordering::AcqRel) + 1 == streams {
        all_open.notify_waiters();
    } else {
        let remaining = STREAMS_OPEN_TIMEOUT.saturating_sub(started.elapsed());
        if tokio::time::timeout(remaining, waiting).await.is_err() {
            return Err("not all streams open at once".to_owned());
        }
    }

    while let Some(_user) = stream
        .message()
        .await
        .map_err(|status| format!("grpc {:?}", status.code()))?
    {
        received += 1;
    }
    if received == users {
        Ok(())
    } else {
        Err(format!("stream ended after {received} of {users} users"))
    }
}
