//! A gRPC gateway to Kinde's Management API.
//!
//! Services in any language call the gateway over gRPC (the contract is
//! `proto/kinde/management/v1/`); the gateway authenticates each caller, checks the RPC against
//! the caller's allow-list, and calls Kinde with the caller's own credential profile through
//! the `tower-m2m` stack. Kinde credentials and tokens never leave the gateway.
//!
//! - [`Gateway`]: callers, credential profiles and the audit log; the core every RPC goes
//!   through ([`dispatch`] describes the path of a call);
//! - [`caller`]: API key hashes, client certificate subjects and allow-lists;
//! - [`status`]: the one mapping from failures to `tonic::Status` with `google.rpc` details;
//! - [`audit`]: one JSON line per call;
//! - [`config`]: the TOML configuration with `KINDE_GATEWAY_*` overrides;
//! - [`server`]: the tonic server with health, reflection, TLS and graceful shutdown;
//! - [`telemetry`]: OTLP export of traces and metrics;
//! - [`pb`]: the compiled contract.
//!
//! # RPCs whose responses carry secrets
//!
//! Keep these off the allow-lists of callers that do not need them: their responses contain
//! an application's client secret, an API key, a connected app's token or environment variable
//! values. The messages are listed in [`kinde_api::PROTO_SECRET_MESSAGES`]; their `Debug`
//! output is redacted. They are the responses of `ApplicationsService/CreateApplication`,
//! `ApplicationsService/GetApplication`, `ApiKeysService/CreateApiKey` and `RotateApiKey`,
//! `ConnectedAppsService/GetConnectedAppToken`, and the environment variable RPCs; requests
//! carrying secrets are `UsersService/SetUserPassword`, `VerifyApiKey` and the connection
//! create/replace/update RPCs.
//!
//! # Notes
//!
//! - Telemetry: each call has a server span following OpenTelemetry's RPC server conventions
//!   (semantic conventions 1.38 and later: named `service/method`, with `rpc.system.name`,
//!   `rpc.method`, the request id, `rpc.response.status_code` and, for server errors,
//!   `error.type`) that continues the caller's `traceparent`, and a `rpc.server.call.duration`
//!   histogram in seconds; `tower-m2m`'s
//!   client spans to Kinde are its children. The binary exports spans and metrics over OTLP
//!   when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and builds no exporter otherwise ([`telemetry`]).
//! - Kinde answers some unknown ids with 400 rather than 404 (where its spec documents no
//!   404); the gateway maps the status Kinde sends, so those are `INVALID_ARGUMENT`.

pub mod audit;
pub mod call;
pub mod caller;
pub mod config;
pub mod correlation;
pub mod dispatch;
pub mod pb;
pub mod server;
pub mod status;
pub mod telemetry;

#[cfg(feature = "emulator")]
pub mod demo;

mod gateway;
mod generated;
mod json;
mod routes;
mod tap;

pub use audit::AuditLog;
pub use gateway::{Gateway, GatewayBuilder, GatewayError, Profile};
