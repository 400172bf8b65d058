//! Kinde Management API models, operation table and example bodies, generated from Kinde's
//! official OpenAPI spec by `kinde-codegen`.
//!
//! This crate is pure data: no I/O, no HTTP client. It is the one source of truth that the typed
//! client, the local Kinde emulator and the gRPC gateway share.
//!
//! - [`models`]: serde types for every schema and inline body, matching the wire format exactly
//!   (Kinde's own field names, open enums, tri-state nullable request fields).
//! - [`OPERATIONS`]: one [`Operation`] per endpoint: method, path, parameters, required scope,
//!   success statuses, pagination style and idempotency.
//! - [`response_example`]: a schema-valid example body for every response type.
//!
//! # Example
//!
//! ```
//! use kinde_api::{Method, operation};
//!
//! let op = operation("getUsers").expect("in the table");
//! assert_eq!(op.method, Method::Get);
//! assert_eq!(op.path, "/api/v1/users");
//! assert_eq!(op.scope, Some("read:users"));
//!
//! // Every response type has an example that parses into its model.
//! let example = op.response_example().expect("getUsers returns a body");
//! let page: kinde_api::models::UsersResponse = serde_json::from_str(example)?;
//! assert!(page.users.is_some());
//! # Ok::<(), serde_json::Error>(())
//! ```

pub mod contract;
mod generated;
mod nullable;
mod open_enum;
mod operation;
mod redacted;

pub use generated::{PROTO_SECRET_MESSAGES, examples, models};
pub use operation::{
    Body, MediaType, Method, Operation, PageStyle, Pagination, Param, ParamLocation, ValueKind,
};
pub use redacted::Redacted;

/// Every Management API operation, in the spec's order.
pub use generated::operations::OPERATIONS;

/// The operation with this `operationId` (exact spelling and case).
pub fn operation(id: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.id == id)
}

/// The example body of a response type, by its model name in [`models`].
pub fn response_example(type_name: &str) -> Option<&'static str> {
    examples::RESPONSE_EXAMPLES
        .binary_search_by(|(name, _)| name.cmp(&type_name))
        .ok()
        .map(|index| examples::RESPONSE_EXAMPLES[index].1)
}
