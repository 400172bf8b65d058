//! A faithful local Kinde: the token endpoint, the JWKS and the Management API, in memory.
//!
//! Everything this project does talks to Kinde, and no test, demo or benchmark may reach the
//! real service. The emulator is one Kinde business at its base URL: `POST /oauth2/token` issues
//! RS256 client-credentials tokens with Kinde's claims, `/.well-known/jwks` publishes the key,
//! and every one of the Management API's operations is routed from the generated
//! [`kinde_api::OPERATIONS`] table, with the bearer token (401) and the operation's scope (403)
//! checked on each call. Users and their identities, organizations, organization members and
//! their roles and permissions, roles, permissions and feature flags (with environment,
//! organization and user overrides) have real in-memory state ([`is_stateful`] names those
//! operations); every other operation answers its generated example body with its documented
//! success status.
//! The control API under `/_emulator` exposes counters, the request log and the state.
//!
//! An emulator starts in milliseconds, because the RSA signing key is generated once per process
//! and shared. Tests over real sockets [`start`](EmulatorBuilder::start) one on `127.0.0.1:0`;
//! tests on paused tokio time use [`build_service`](EmulatorBuilder::build_service) instead, the
//! same routes as an in-memory [`tower::Service`], because a paused clock jumps ahead while the
//! runtime waits on real I/O. Token times and expiry follow tokio's clock in both cases.
//!
//! [`tls(true)`](EmulatorBuilder::tls) (`--tls` for the binary) serves HTTPS instead, with a
//! certificate for `localhost` and the loopback addresses signed by a CA made at start and written
//! to a file, for clients that only speak `https://`.
//!
//! # Demo credentials
//!
//! [`DEMO_CLIENT_ID`] and [`DEMO_CLIENT_SECRET`] are fixed, documented values that exist only
//! here, and grant every scope. While they are enabled the emulator refuses to listen on anything
//! but a loopback address.
//!
//! # Example
//!
//! ```
//! use kinde_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = Emulator::builder().start().await?;
//! assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
//! assert_eq!(emulator.api_audience(), format!("{}/api", emulator.base_url()));
//!
//! // A client asks for a token with the demo credentials and the Management API audience.
//! let form = format!(
//!     "grant_type=client_credentials&client_id={DEMO_CLIENT_ID}\
//!      &client_secret={DEMO_CLIENT_SECRET}&audience={}",
//!     emulator.api_audience(),
//! );
//! let client = reqwest::Client::new();
//! let response = client
//!     .post(emulator.token_url())
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .body(form)
//!     .send()
//!     .await?;
//! assert_eq!(response.status(), 200);
//!
//! // The control API counts what reached "Kinde".
//! let stats = client
//!     .get(format!("{}/_emulator/stats", emulator.base_url()))
//!     .send()
//!     .await?
//!     .text()
//!     .await?;
//! assert!(stats.contains(r#""token_requests":1"#));
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Customised: short-lived tokens, a small page-size limit and an application with two scopes,
//! used in memory:
//!
//! ```
//! use std::time::Duration;
//!
//! use kinde_emulator::{Application, Emulator};
//!
//! let emulator = Emulator::builder()
//!     .token_lifetime(Duration::from_secs(5))
//!     .page_size_limit(100)
//!     .application(
//!         Application::new("reader0000000000000000000000000001", "reader-secret")
//!             .scopes(["read:users", "read:organizations"]),
//!     )
//!     .build_service();
//! assert_eq!(emulator.token_url(), "http://localhost/oauth2/token");
//! ```
//!
//! # Notes
//!
//! - Error codes Kinde does not publish are the emulator's own choice: `UNAUTHORIZED` (401),
//!   `FORBIDDEN` naming the missing scope (403), `USER_NOT_FOUND`, `DUPLICATE_EMAIL`,
//!   `DUPLICATE_KEY`, `PERMISSION_NOT_FOUND`, `FEATURE_FLAG_NOT_FOUND`,
//!   `FEATURE_FLAG_OVERRIDE_NOT_ALLOWED`, `INVALID_PARAMETER`, `MISSING_PARAMETER`,
//!   `INVALID_REQUEST_BODY`. Kinde's published codes are used where they exist
//!   (`ORGANIZATION_NOT_FOUND`, `ROLE_NOT_FOUND`, `PAGE_SIZE_LIMIT_EXCEEDED`,
//!   `TOO_MANY_PARAMETERS`, `NO_FIELDS_TO_UPDATE`, `ROUTE_NOT_FOUND`).
//! - Every 404 the emulator answers has the object-shaped `not_found_response` body, as most of
//!   Kinde's 404s do.
//! - The token endpoint answers `unauthorized_client`, `invalid_scope`, `invalid_request` and
//!   `unsupported_grant_type` with 400 (RFC 6749) and `invalid_client` with 401.

mod api;
mod application;
mod auth;
mod builder;
mod clock;
mod config;
mod context;
mod control;
mod endpoints;
mod error;
mod faults;
mod handle;
mod keys;
mod record;
mod router;
mod routes;
mod service;
mod state;
mod tls;
mod token;

pub use application::{Application, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, all_scopes};
pub use builder::{
    DEFAULT_BODY_LIMIT, DEFAULT_IN_MEMORY_BASE_URL, DEFAULT_PAGE_SIZE_LIMIT,
    DEFAULT_TOKEN_LIFETIME, EmulatorBuilder, StartError,
};
pub use config::{ApplicationConfig, Config, ConfigError};
pub use faults::{
    FaultTarget, Faults, InjectedAnswer, Latency, LatencySpikes, RateLimitBursts, TokenBody,
    TokenOutage,
};
pub use handle::Emulator;
pub use service::{ConnectionClosed, EmulatorService, ResponseFuture};

/// Whether an operation answers from the emulator's state rather than with its generated
/// example.
pub fn is_stateful(operation_id: &str) -> bool {
    api::is_stateful(operation_id)
}
