//! The embedded default: `kinde-gateway --emulator`.
//!
//! An in-process kinde-emulator, a credential profile for its demo application, and a demo
//! caller allowed every RPC, authenticated by the fixed key [`DEMO_API_KEY`]. The key is
//! documented so that a README quick start can use it; it exists only in this mode, and this
//! mode listens only on loopback.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use kinde_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, StartError};
use tower_m2m::kinde::KindeCredentials;
use tower_m2m::ratelimit::RateLimitConfig;
use tower_m2m::stack::{Upstream, UpstreamBuilder};

use crate::caller::{Allowed, ApiKeyHash, Caller};
use crate::{AuditLog, Gateway, Profile};

/// The demo caller's API key. It works only in `--emulator` mode, on loopback.
pub const DEMO_API_KEY: &str = "kinde-gateway-demo-key-loopback-only";

/// The demo caller's name.
pub const DEMO_CALLER: &str = "demo";

/// The demo credential profile's name.
pub const DEMO_PROFILE: &str = "demo";

/// Why the demo could not start.
#[derive(Debug)]
pub enum DemoError {
    /// The gateway would listen on an address that is not loopback.
    NotLoopback(SocketAddr),
    /// The emulator did not start.
    Emulator(StartError),
    /// The demo profile could not be built.
    Profile(String),
}

impl std::fmt::Display for DemoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotLoopback(address) => {
                write!(f, "--emulator listens only on loopback, not {address}")
            }
            Self::Emulator(_) => f.write_str("the emulator did not start"),
            Self::Profile(message) => write!(f, "demo profile: {message}"),
        }
    }
}

impl std::error::Error for DemoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Emulator(error) => Some(error),
            _ => None,
        }
    }
}

/// Starts an emulator on a free loopback port and a gateway for it whose demo caller may call
/// everything, for a gateway that will listen on `listen`.
///
/// # Errors
///
/// [`DemoError`] when `listen` is not loopback or the emulator does not start.
pub async fn start(listen: SocketAddr, audit: AuditLog) -> Result<(Emulator, Gateway), DemoError> {
    if !listen.ip().is_loopback() {
        return Err(DemoError::NotLoopback(listen));
    }
    let emulator = Emulator::builder()
        .start()
        .await
        .map_err(DemoError::Emulator)?;
    let gateway = gateway(emulator.base_url(), audit)?;
    Ok((emulator, gateway))
}

/// The demo upstream's rate: 100 requests a second with bursts of 50. The emulator publishes no
/// limits and answers in microseconds; Kinde's default pace (ten a second) would make a demo
/// of 200 concurrent calls wait longer than the permit bound.
pub const DEMO_REQUESTS_PER_SECOND: u32 = 100;

/// The upstream of the demo profile: the stack's defaults but for the rate
/// ([`DEMO_REQUESTS_PER_SECOND`]).
pub fn upstream(base_url: &str) -> UpstreamBuilder {
    let rate = RateLimitConfig::new(
        NonZeroU32::new(DEMO_REQUESTS_PER_SECOND).expect("non-zero"),
        Duration::from_secs(1),
    )
    .expect("a valid rate")
    .burst(NonZeroU32::new(DEMO_REQUESTS_PER_SECOND / 2).expect("non-zero"));
    Upstream::builder(base_url).rate_limit(rate)
}

/// A gateway for the emulator at `base_url` with the demo profile and caller.
///
/// # Errors
///
/// [`DemoError::Profile`] when `base_url` is not a valid URL.
pub fn gateway(base_url: &str, audit: AuditLog) -> Result<Gateway, DemoError> {
    let upstream = upstream(base_url)
        .build()
        .map_err(|e| DemoError::Profile(e.to_string()))?;
    gateway_with(base_url, upstream, audit)
}

/// A gateway for the emulator at `base_url` with the demo profile calling through `upstream`,
/// and the demo caller.
///
/// # Errors
///
/// [`DemoError::Profile`] when `base_url` is not a valid URL.
pub fn gateway_with(
    base_url: &str,
    upstream: Upstream,
    audit: AuditLog,
) -> Result<Gateway, DemoError> {
    let credentials = KindeCredentials::new()
        .domain(base_url)
        .client_id(DEMO_CLIENT_ID)
        .client_secret(DEMO_CLIENT_SECRET)
        .build()
        .map_err(|e| DemoError::Profile(e.to_string()))?;
    let profile = Profile::kinde(base_url, credentials, upstream)
        .map_err(|e| DemoError::Profile(e.to_string()))?;
    let caller = Caller::new(DEMO_CALLER, DEMO_PROFILE)
        .api_key_hash(ApiKeyHash::of_key(DEMO_API_KEY))
        .allowed(Allowed::Everything);
    Gateway::builder()
        .profile(DEMO_PROFILE, profile)
        .caller(caller)
        .audit_log(audit)
        .build()
        .map_err(|e| DemoError::Profile(e.to_string()))
}
