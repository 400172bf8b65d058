//! Throttling and faults on demand: latency (on every request or in spikes on a share of them),
//! error answers, dropped connections, token endpoint outages and bad token bodies, 429s (on a
//! share of requests or in periodic bursts, with a configurable `RateLimit-Reset`), a fixed
//! error answer of any status (for the 409s and 401s the emulator's own state never produces),
//! and rate and concurrency limits.
//!
//! Everything is off by default. Faults are set with
//! [`EmulatorBuilder::faults`](crate::EmulatorBuilder::faults) or at run time with
//! `PUT /_emulator/faults` (a JSON [`Faults`]), and cleared by `POST /_emulator/reset`. Every
//! random choice comes from one generator seeded by [`Faults::seed`], so the same requests in the
//! same order meet the same faults.
//!
//! ```
//! use kinde_emulator::{FaultTarget, Faults, Latency};
//!
//! let faults: Faults = serde_json::from_str(r#"{
//!     "seed": 7,
//!     "target": {"operation": "getUsers"},
//!     "latency": {"min_ms": 5, "max_ms": 20},
//!     "error_ratio": 0.1
//! }"#)?;
//! assert_eq!(faults.target, FaultTarget::Operation("getUsers".to_owned()));
//! assert_eq!(faults.latency, Some(Latency { min_ms: 5, max_ms: 20 }));
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! A fault mix as a fault suite uses it: 20% 5xx, 200 ms spikes on 5% of the requests, and for
//! the first 300 ms of every 3 s every request is refused with 429 and `RateLimit-Reset: 2`.
//!
//! ```
//! use kinde_emulator::{Faults, LatencySpikes, RateLimitBursts};
//!
//! let faults: Faults = serde_json::from_str(r#"{
//!     "seed": 7,
//!     "target": "api",
//!     "error_ratio": 0.2,
//!     "latency_spikes": {"ratio": 0.05, "min_ms": 200, "max_ms": 200},
//!     "rate_limited_bursts": {"period_ms": 3000, "burst_ms": 300},
//!     "rate_limit_reset_secs": 2
//! }"#)?;
//! assert_eq!(faults.latency_spikes, Some(LatencySpikes { ratio: 0.05, min_ms: 200, max_ms: 200 }));
//! assert_eq!(faults.rate_limited_bursts, Some(RateLimitBursts { period_ms: 3000, burst_ms: 300 }));
//! assert!(faults.validate().is_ok());
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::{ApiError, raw_json_response};
use crate::record::RecordInfo;
use crate::routes::match_route;

/// The faults and limits in force. All off by default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Seeds the generator behind every random choice; `None` seeds it from the OS.
    pub seed: Option<u64>,
    /// Which requests the faults below apply to (default: token endpoint and API).
    pub target: FaultTarget,
    /// Latency added before a targeted request is processed.
    pub latency: Option<Latency>,
    /// The share of targeted requests answered with 500, 502 or 503 (0 to 1).
    pub error_ratio: f64,
    /// The share of targeted requests whose connection is closed before they are processed.
    pub close_before_ratio: f64,
    /// The share of targeted requests processed (state changed) whose connection is then closed
    /// without a response.
    pub close_after_ratio: f64,
    /// The share of targeted requests answered 429 with `RateLimit-Reset`.
    pub rate_limited_ratio: f64,
    /// Added latency on a share of targeted requests only (spikes), drawn after every other
    /// fault of the request, on top of [`Faults::latency`].
    pub latency_spikes: Option<LatencySpikes>,
    /// Periodic windows in which every targeted request is answered 429 with
    /// `RateLimit-Reset`, counted from the moment these faults were set.
    pub rate_limited_bursts: Option<RateLimitBursts>,
    /// The `RateLimit-Reset` (seconds) of injected 429s, from [`Faults::rate_limited_ratio`] and
    /// [`Faults::rate_limited_bursts`]; 1 when absent. Within a burst, the time left in the burst
    /// (rounded up) when that is longer.
    pub rate_limit_reset_secs: Option<u64>,
    /// Makes the token endpoint unavailable.
    pub token_outage: Option<TokenOutage>,
    /// Makes the token endpoint answer 200 with a body that is not a token.
    pub token_body: Option<TokenBody>,
    /// Answers every targeted request with this status and an error body, without processing
    /// it; after [`Faults::latency`] and the close, 5xx and 429 faults. Management API requests
    /// get Kinde's `error_response` body, the token endpoint its OAuth error body (see
    /// [`InjectedAnswer`]).
    pub answer: Option<InjectedAnswer>,
    /// Management API requests per second per application; more get 429.
    pub rate_limit_per_second: Option<u32>,
    /// Management API requests in flight at once; more get 429.
    pub concurrency_limit: Option<u32>,
}

/// Which requests faults apply to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    /// The token endpoint and the Management API.
    #[default]
    All,
    /// Only `POST /oauth2/token`.
    Token,
    /// Only the Management API.
    Api,
    /// Only one operation, by its id (`{"operation": "getUsers"}`).
    Operation(String),
}

/// Added latency: fixed when `min_ms == max_ms`, else uniform in the range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// The least latency, in milliseconds.
    pub min_ms: u64,
    /// The most latency, in milliseconds.
    pub max_ms: u64,
}

/// Latency spikes: a share of targeted requests waits `min_ms..=max_ms` (uniform) before it is
/// processed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpikes {
    /// The share of targeted requests that meet a spike (0 to 1).
    pub ratio: f64,
    /// The least spike, in milliseconds.
    pub min_ms: u64,
    /// The most spike, in milliseconds.
    pub max_ms: u64,
}

/// 429 bursts: for the first `burst_ms` of every `period_ms` (counted from the moment the faults
/// were set), every targeted request is refused with 429, as Kinde's limiters do when a client
/// overruns them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitBursts {
    /// The length of one cycle, in milliseconds (at least 1).
    pub period_ms: u64,
    /// How long each burst lasts, from the start of its cycle, in milliseconds (at most
    /// `period_ms`).
    pub burst_ms: u64,
}

/// A fixed error answer with `status`, in the body shape of the endpoint it replaces:
///
/// - the Management API: `{"errors": [{"code": <code>, "message": ...}]}`, as Kinde answers, for
///   example, a duplicate directory (409, `DIRECTORY_EXISTS`) or a token it no longer accepts
///   (401); `code` defaults to `INJECTED_ERROR`;
/// - `/oauth2/token`: `{"error": <code>, "error_description": ...}` (RFC 6749 section 5.2, as
///   Kinde's token endpoint answers), for example `{"status": 400, "code": "invalid_scope"}`;
///   `code` defaults to `invalid_client` for 401, `invalid_request` for another 4xx,
///   `temporarily_unavailable` for 503 and `server_error` for another 5xx.
///
/// ```
/// use kinde_emulator::{Faults, InjectedAnswer};
///
/// let faults: Faults = serde_json::from_str(r#"{
///     "target": {"operation": "createDirectory"},
///     "answer": {"status": 409, "code": "DIRECTORY_EXISTS"}
/// }"#)?;
/// assert_eq!(faults.answer, Some(InjectedAnswer { status: 409, code: Some("DIRECTORY_EXISTS".to_owned()) }));
/// assert!(faults.validate().is_ok());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectedAnswer {
    /// The HTTP status: a client or server error, 400 to 599.
    pub status: u16,
    /// The error code in the body; when absent, a default that depends on the endpoint (see
    /// the type's docs).
    #[serde(default)]
    pub code: Option<String>,
}

/// How the token endpoint fails during an outage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenOutage {
    /// 503 with `{"error": "temporarily_unavailable"}`.
    Unavailable,
    /// The connection is closed without a response.
    Close,
}

/// A 200 from the token endpoint that carries no token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenBody {
    /// An empty body.
    Empty,
    /// An HTML page, as a misconfigured proxy would send.
    NotJson,
}

impl Faults {
    /// Checks that every ratio is between 0 and 1 and every latency range is ordered.
    ///
    /// # Errors
    ///
    /// A description of the first invalid field.
    pub fn validate(&self) -> Result<(), String> {
        let ratios = [
            ("error_ratio", self.error_ratio),
            ("close_before_ratio", self.close_before_ratio),
            ("close_after_ratio", self.close_after_ratio),
            ("rate_limited_ratio", self.rate_limited_ratio),
        ];
        for (name, ratio) in ratios {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        if let Some(latency) = self.latency
            && latency.min_ms > latency.max_ms
        {
            return Err("latency.min_ms must not exceed latency.max_ms".to_owned());
        }
        if let Some(spikes) = self.latency_spikes {
            if !(0.0..=1.0).contains(&spikes.ratio) {
                return Err("latency_spikes.ratio must be between 0 and 1".to_owned());
            }
            if spikes.min_ms > spikes.max_ms {
                return Err(
                    "latency_spikes.min_ms must not exceed latency_spikes.max_ms".to_owned(),
                );
            }
        }
        if let Some(answer) = &self.answer
            && !(400..=599).contains(&answer.status)
        {
            return Err("answer.status must be between 400 and 599".to_owned());
        }
        if let Some(bursts) = self.rate_limited_bursts {
            if bursts.period_ms == 0 {
                return Err("rate_limited_bursts.period_ms must be at least 1".to_owned());
            }
            if bursts.burst_ms > bursts.period_ms {
                return Err(
                    "rate_limited_bursts.burst_ms must not exceed rate_limited_bursts.period_ms"
                        .to_owned(),
                );
            }
        }
        Ok(())
    }
}

/// The faults in force and the generator they draw from.
#[derive(Debug)]
pub(crate) struct FaultState {
    faults: Faults,
    rng: StdRng,
    /// When these faults were set: the origin of [`Faults::rate_limited_bursts`] cycles.
    since: tokio::time::Instant,
}

impl FaultState {
    pub(crate) fn new(faults: Faults) -> Self {
        let rng = match faults.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Self {
            faults,
            rng,
            since: tokio::time::Instant::now(),
        }
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Whether an event with this probability happens.
    fn roll(&mut self, ratio: f64) -> bool {
        ratio > 0.0 && self.rng.random_bool(ratio.min(1.0))
    }

    fn latency(&mut self) -> Option<Duration> {
        let latency = self.faults.latency?;
        let millis = self.rng.random_range(latency.min_ms..=latency.max_ms);
        Some(Duration::from_millis(millis))
    }

    /// A spike's latency, if this request meets one. Draws nothing unless spikes are set, so
    /// the draws of a seed without spikes are those it always made.
    fn spike(&mut self) -> Option<Duration> {
        let spikes = self.faults.latency_spikes?;
        if !self.roll(spikes.ratio) {
            return None;
        }
        let millis = self.rng.random_range(spikes.min_ms..=spikes.max_ms);
        Some(Duration::from_millis(millis))
    }

    /// The time left in the current 429 burst, if one is on.
    fn burst_left(&self) -> Option<Duration> {
        let bursts = self.faults.rate_limited_bursts?;
        let elapsed = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        let into_cycle = elapsed % bursts.period_ms.max(1);
        (into_cycle < bursts.burst_ms).then(|| Duration::from_millis(bursts.burst_ms - into_cycle))
    }
}

/// A response extension telling the transport to close the connection without answering.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CloseConnection;

/// What a targeted request meets, decided in one draw so the order of draws is fixed.
#[derive(Debug, Default)]
struct Plan {
    latency: Option<Duration>,
    close_before: bool,
    error: Option<StatusCode>,
    /// `Some(reset seconds)` when the request is answered 429.
    rate_limited: Option<u64>,
    close_after: bool,
    token_outage: Option<TokenOutage>,
    token_body: Option<TokenBody>,
    answer: Option<InjectedAnswer>,
}

/// Middleware that injects the configured faults into targeted requests.
pub(crate) async fn inject(
    State(context): State<Arc<Context>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let is_token = path == "/oauth2/token";
    let is_api = path.starts_with("/api/");
    let plan = {
        let mut state = context.faults();
        let targeted = match &state.faults.target {
            FaultTarget::All => is_token || is_api,
            FaultTarget::Token => is_token,
            FaultTarget::Api => is_api,
            FaultTarget::Operation(id) => {
                is_api && match_route(request.method(), path).is_some_and(|m| m.operation.id == id)
            }
        };
        if targeted {
            plan(&mut state, is_token)
        } else {
            Plan::default()
        }
    };

    let _in_flight = if is_api {
        match context.enter() {
            Ok(in_flight) => Some(in_flight),
            Err(error) => return error.into_response(),
        }
    } else {
        None
    };
    if let Some(latency) = plan.latency {
        tracing::trace!(
            emulator.latency_ms = latency.as_millis(),
            "injecting latency"
        );
        tokio::time::sleep(latency).await;
    }
    if plan.close_before || plan.token_outage == Some(TokenOutage::Close) {
        return closed();
    }
    if plan.token_outage == Some(TokenOutage::Unavailable) {
        return raw_json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error":"temporarily_unavailable","error_description":"the token service is unavailable"}"#,
        );
    }
    if let Some(status) = plan.error {
        return ApiError::new(status, "INTERNAL_ERROR", "an injected server error").into_response();
    }
    if let Some(reset_seconds) = plan.rate_limited {
        return ApiError::too_many_requests(reset_seconds).into_response();
    }
    if let Some(answer) = &plan.answer {
        return injected_answer(answer, is_token);
    }

    let response = next.run(request).await;

    if plan.close_after {
        // The request was processed: keep what the handler told the log (operation, caller).
        let mut closed = closed();
        if let Some(info) = response.extensions().get::<RecordInfo>() {
            closed.extensions_mut().insert(info.clone());
        }
        return closed;
    }
    match plan.token_body {
        Some(TokenBody::Empty) if response.status().is_success() => {
            let mut empty = Response::new(axum::body::Body::empty());
            empty.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            empty
        }
        Some(TokenBody::NotJson) if response.status().is_success() => {
            let mut html = Response::new(axum::body::Body::from(
                "<html><body>502 Bad Gateway</body></html>",
            ));
            html.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/html"),
            );
            html
        }
        _ => response,
    }
}

fn plan(state: &mut FaultState, is_token: bool) -> Plan {
    let faults = state.faults.clone();
    let mut latency = state.latency();
    let close_before = state.roll(faults.close_before_ratio);
    let error = state.roll(faults.error_ratio).then(|| {
        [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::BAD_GATEWAY,
            StatusCode::SERVICE_UNAVAILABLE,
        ][state.rng.random_range(0..3)]
    });
    let rate_limited = state.roll(faults.rate_limited_ratio);
    let close_after = state.roll(faults.close_after_ratio);
    if let Some(spike) = state.spike() {
        latency = Some(latency.unwrap_or_default() + spike);
    }
    let reset_seconds = faults.rate_limit_reset_secs.unwrap_or(1);
    let rate_limited = match state.burst_left() {
        // A burst lasts at least until its end: a client honouring the header waits it out.
        Some(left) => {
            let left_seconds = u64::try_from(left.as_millis().div_ceil(1000)).unwrap_or(u64::MAX);
            Some(reset_seconds.max(left_seconds))
        }
        _ => rate_limited.then_some(reset_seconds),
    };
    Plan {
        latency,
        close_before,
        error,
        rate_limited,
        close_after,
        token_outage: faults.token_outage.filter(|_| is_token),
        token_body: faults.token_body.filter(|_| is_token),
        answer: faults.answer,
    }
}

/// The response of [`Faults::answer`], in the token endpoint's OAuth error shape when
/// `is_token`, else in the Management API's.
fn injected_answer(answer: &InjectedAnswer, is_token: bool) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = if is_token {
        let default = match status {
            StatusCode::UNAUTHORIZED => "invalid_client",
            StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
            _ if status.is_server_error() => "server_error",
            _ => "invalid_request",
        };
        let code = answer.code.as_deref().unwrap_or(default);
        serde_json::json!({"error": code, "error_description": "an injected error"})
    } else {
        let code = answer.code.as_deref().unwrap_or("INJECTED_ERROR");
        serde_json::json!({"errors": [{"code": code, "message": "an injected error"}]})
    };
    raw_json_response(status, body.to_string())
}

/// A response the transport turns into a closed connection.
fn closed() -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.extensions_mut().insert(CloseConnection);
    response
}
