//! The contract between the generated per-RPC handlers and the gateway's core.
//!
//! The generated code (`src/generated/`, written by `kinde-codegen`) implements every tonic
//! service trait by calling [`Gateway::unary`](crate::Gateway) or `Gateway::server_stream` with
//! the [`Rpc`] it serves and a closure that converts the message, calls the typed client and
//! converts the answer back. Everything else (authentication, the allow-list, validation,
//! correlation, deadlines, audit, error mapping) lives in the core, once.

use std::pin::Pin;

use futures_core::Stream;
use kinde_api::Operation;

/// One RPC of the contract and the Kinde operation behind it.
#[derive(Clone, Copy, Debug)]
pub struct Rpc {
    /// The fully qualified service, e.g. `kinde.management.v1.UsersService`.
    pub service: &'static str,
    /// The method, e.g. `GetUsers` or `StreamGetUsers`.
    pub method: &'static str,
    /// The Kinde operation it calls.
    pub operation: &'static Operation,
    /// Whether it streams every item of a paginated list.
    pub streaming: bool,
}

impl Rpc {
    /// `service/method`, the form allow-lists use: `kinde.management.v1.UsersService/GetUsers`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.service, self.method)
    }
}

/// Why a handler failed: a request the gateway refuses before calling Kinde, or the typed
/// client's error.
#[derive(Debug)]
pub enum CallError {
    /// A field of the request message is missing or invalid; nothing was sent to Kinde.
    InvalidArgument {
        /// The field, as named in the proto message.
        field: &'static str,
        /// What is wrong with it.
        description: String,
    },
    /// The call to Kinde failed.
    Kinde(kinde_management::Error),
}

impl From<kinde_management::Error> for CallError {
    fn from(error: kinde_management::Error) -> Self {
        Self::Kinde(error)
    }
}

/// The stream type of every server-streaming RPC.
pub type ItemStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send>>;
