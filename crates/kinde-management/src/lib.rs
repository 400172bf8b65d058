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
//! # Examples
//!
//! A client on the `tower-m2m` stack (token cache, limits, retries, breaker, timeouts) from the
//! environment variables Kinde's SDKs read, `KINDE_DOMAIN`, `KINDE_MANAGEMENT_CLIENT_ID` and
//! `KINDE_MANAGEMENT_CLIENT_SECRET`:
//!
//! ```no_run
//! # fn main() -> Result<(), kinde_management::BuildError> {
//! let client = kinde_management::Client::from_env()?;
//! # Ok(())
//! # }
//! ```
//!
//! The same variables can come from anywhere with [`Client::from_env_with`]. Here they point at
//! a local emulator of Kinde (the `kinde-emulator` crate), so the example runs as it is: one
//! call, then every user as a stream, ten per request.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use futures_util::TryStreamExt;
//! use kinde_api::models::{CreateUserRequest, CreateUserRequestIdentity};
//! use kinde_management::Client;
//! use kinde_management::params::GetUsersParams;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let kinde = kinde_emulator::Emulator::builder().start().await?;
//! let env = HashMap::from([
//!     ("KINDE_DOMAIN", kinde.base_url().to_owned()),
//!     ("KINDE_MANAGEMENT_CLIENT_ID", kinde_emulator::DEMO_CLIENT_ID.to_owned()),
//!     ("KINDE_MANAGEMENT_CLIENT_SECRET", kinde_emulator::DEMO_CLIENT_SECRET.to_owned()),
//! ]);
//! let client = Client::from_env_with(|name| env.get(name).cloned())?;
//!
//! let ada = CreateUserRequest {
//!     identities: Some(vec![CreateUserRequestIdentity {
//!         details: Some(kinde_api::models::CreateUserRequestIdentityDetails {
//!             email: Some("ada@example.com".to_owned()),
//!             ..Default::default()
//!         }),
//!         ..Default::default()
//!     }]),
//!     ..Default::default()
//! };
//! let created = client.create_user(Some(&ada)).await?;
//!
//! // Each page is fetched when the stream reaches it; stopping early fetches no more.
//! let mut users = client.get_users_stream(GetUsersParams {
//!     page_size: Some(10),
//!     ..Default::default()
//! });
//! let mut seen = Vec::new();
//! while let Some(user) = users.try_next().await? {
//!     seen.push(user.id);
//! }
//! assert_eq!(seen, [created.id]);
//! # Ok(())
//! # }
//! ```
//!
//! # Handling errors
//!
//! Every failure is an [`Error`]; its [`kind`](Error::kind) says what to do about it, and
//! [`is_retryable`](Error::is_retryable) whether trying again unchanged may help. The stack has
//! already retried what it safely could before an error reaches the caller.
//!
//! ```
//! use std::time::Duration;
//!
//! use http::StatusCode;
//! use kinde_management::params::DeleteOrganizationParams;
//! use kinde_management::{Client, ErrorKind};
//!
//! /// Deletes an organization; one that is already gone is fine.
//! async fn delete(client: &Client, org_code: &str) -> Result<(), kinde_management::Error> {
//!     let params = DeleteOrganizationParams { org_code: org_code.to_owned() };
//!     let Err(error) = client.delete_organization(&params).await else {
//!         return Ok(());
//!     };
//!     match error.kind() {
//!         ErrorKind::Api if error.status() == Some(StatusCode::NOT_FOUND) => Ok(()),
//!         // Kinde or the local limiter said when to come back: once more, then give up.
//!         ErrorKind::RateLimited | ErrorKind::CircuitOpen => {
//!             tokio::time::sleep(error.retry_after().unwrap_or(Duration::from_secs(1))).await;
//!             client.delete_organization(&params).await.map(drop)
//!         }
//!         // Retrying cannot help: an operator has to fix the credentials.
//!         ErrorKind::CredentialsRejected => Err(error),
//!         // Anything else: the error names Kinde's codes, and the request id finds the call
//!         // in the logs on both sides.
//!         _ => {
//!             eprintln!("{error} (request id {:?})", error.request_id());
//!             Err(error)
//!         }
//!     }
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let kinde = kinde_emulator::Emulator::builder().start().await?;
//! # let env = [
//! #     ("KINDE_DOMAIN", kinde.base_url().to_owned()),
//! #     ("KINDE_CLIENT_ID", kinde_emulator::DEMO_CLIENT_ID.to_owned()),
//! #     ("KINDE_CLIENT_SECRET", kinde_emulator::DEMO_CLIENT_SECRET.to_owned()),
//! # ];
//! # let lookup = |name: &str| env.iter().find(|(key, _)| *key == name).map(|(_, v)| v.clone());
//! # let client = Client::from_env_with(lookup)?;
//! delete(&client, "org_0123456789a").await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Over your own service
//!
//! [`Client::from_service`] sends through any tower service of `http` types: your own stack, or
//! a stand-in for Kinde in tests. This one answers every request with one page of users.
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
