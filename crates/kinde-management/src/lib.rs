//! A typed Rust client for every operation of Kinde's Management API.
//!
//! [`Client`] has one async method per operation (`get_users`, `create_organization`, ...),
//! generated from the operation table of [`kinde_api`], taking a parameter struct from
//! [`params`] and a body model from [`kinde_api::models`] and returning the response model.
//! Paginated lists also have a `*_stream` twin that yields every item across pages, fetching
//! the next page only when asked. Every request carries its idempotency from the operation
//! table, so the retry layer of `tower-m2m` never repeats a create. Failures are one
//! [`Error`] type with the HTTP status, Kinde's error codes and the request id.
//!
//! # Example
//!
//! A client over any tower service; here a stand-in for Kinde that answers every request with
//! one page of users. In production the service is the `tower-m2m` stack over reqwest.
//!
//! ```
//! use futures_util::TryStreamExt;
//! use kinde_management::{Client, params::GetUsersParams};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let kinde = tower::service_fn(|request: http::Request<tower_m2m::ReplayBody>| async move {
//!     assert_eq!(request.uri().path(), "/api/v1/users");
//!     let page = r#"{"code":"OK","users":[{"id":"kp_1","email":"ada@example.com"}]}"#;
//!     Ok::<_, std::convert::Infallible>(http::Response::new(page.to_owned()))
//! });
//! let client = Client::from_service("https://mybusiness.kinde.com", kinde)?;
//!
//! let page = client.get_users(&GetUsersParams::default()).await?;
//! assert_eq!(page.users.unwrap_or_default().len(), 1);
//!
//! // The stream stops at the page without a `next_token`.
//! let users: Vec<_> = client.get_users_stream(GetUsersParams::default()).try_collect().await?;
//! assert_eq!(users[0].id.as_deref(), Some("kp_1"));
//! # Ok(())
//! # }
//! ```

mod builder;
mod client;
mod error;
mod generated;
mod pages;
mod request;

pub use builder::{BuildError, ClientBuilder};
pub use client::{Client, DEFAULT_MAX_RESPONSE_BYTES, InvalidBaseUrl};
pub use error::{Error, ErrorKind, KindeError};
pub use generated::params;
pub use pages::Pages;
