//! What the examples share: connecting to the gateway, tagging each call with the API key and a
//! request id, explaining a failure in one line, and printing a table.
//!
//! The binaries are the examples; run one with `cargo run -p examples --bin NAME` against
//! `cargo run -p kinde-gateway -- --emulator`:
//!
//! - `provision_tenant`: a SaaS signs up a customer: organization, first users, a role;
//! - `lifecycle_sync`: keeps an organization's members equal to a CSV file, idempotently;
//! - `access_report`: users and their roles per organization, as a table;
//! - `axum_outbound`: an axum service calling Kinde through the `tower-m2m` stack, no gateway.
//!
//! The three gateway examples talk gRPC through the clients in [`kinde_gateway::pb`], as any
//! Rust service would:
//!
//! ```no_run
//! use examples::{GatewayArgs, GatewaySession};
//! use kinde_gateway::pb;
//!
//! # async fn run() -> Result<(), examples::Failure> {
//! let session = GatewaySession::connect(&GatewayArgs::default(), "readme").await?;
//! let (request, request_id) = session.request(pb::GetUsersRequest::default());
//! let users = session.users().get_users(request).await;
//! let users = session.check("list users", &request_id, users)?;
//! println!("{} users (request id {request_id})", users.users.len());
//! # Ok(())
//! # }
//! ```

pub mod directory;
mod failure;
mod session;
mod table;

pub use failure::Failure;
pub use session::{DEFAULT_ADDRESS, GatewayArgs, GatewaySession};
pub use table::Table;

/// Runs an example's body and turns its result into the process's exit code, printing a
/// failure as one line on standard error.
pub fn exit_code(result: Result<(), Failure>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            std::process::ExitCode::FAILURE
        }
    }
}
