//! The gRPC contract, compiled from `proto/kinde/management/v1/` at build time.
//!
//! Messages, one server trait per service (implemented by [`Gateway`](crate::Gateway)) and
//! one client per service, for Rust callers and tests. Messages that carry a secret (listed in
//! [`kinde_api::PROTO_SECRET_MESSAGES`]) print only their name in `Debug` output.

// The generated code is prost's and tonic's; lints that judge hand-written style do not apply.
#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    unreachable_pub,
    rustdoc::all
)]
#![allow(clippy::uninlined_format_args, rust_2018_idioms)]

include!(concat!(env!("OUT_DIR"), "/kinde.management.v1.rs"));
include!(concat!(env!("OUT_DIR"), "/secret_debug.rs"));

/// The encoded `FileDescriptorSet` of the contract and its imports, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(
    env!("OUT_DIR"),
    "/kinde_management_v1_descriptor.bin"
));
