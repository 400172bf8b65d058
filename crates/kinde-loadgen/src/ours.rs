//! `direct`: the kinde-management client on the full tower-m2m stack, straight to the emulator.

use kinde_management::Client;
use kinde_management::params::GetUsersParams;
use tower_m2m::kinde::KindeCredentials;

use crate::children::EmulatorChild;
use crate::drive::CallResult;
use kinde_loadgen::unbound_upstream;

/// Users per page in every scenario's `GetUsers` call.
pub(crate) const PAGE_SIZE: i32 = 10;

/// A new client with its own token cache, on an upstream whose limits do not bind.
pub(crate) fn client(emulator: &EmulatorChild) -> Result<Client, String> {
    let credentials = KindeCredentials::new()
        .domain(emulator.base_url.clone())
        .client_id(emulator.client_id.clone())
        .client_secret(emulator.client_secret.clone())
        .build()
        .map_err(|e| format!("credentials: {e}"))?;
    Client::builder(emulator.base_url.clone())
        .credentials(credentials)
        .upstream(unbound_upstream("direct"))
        .build()
        .map_err(|e| format!("client: {e}"))
}

/// One `GET /api/v1/users?page_size=10`, the body parsed into the typed model.
pub(crate) async fn get_users(client: Client) -> CallResult {
    let params = GetUsersParams {
        page_size: Some(i64::from(PAGE_SIZE)),
        ..Default::default()
    };
    match client.get_users(&params).await {
        Ok(_) => Ok(()),
        Err(error) => Err(match error.status() {
            Some(status) => format!("HTTP {}", status.as_u16()),
            None => format!("{:?}", error.kind()),
        }),
    }
}

/// Creates `count` users, so that `GetUsers` answers a full page.
pub(crate) async fn seed_users(client: &Client, count: usize) -> Result<(), String> {
    use kinde_api::models::{
        CreateUserRequest, CreateUserRequestIdentity, CreateUserRequestIdentityDetails,
    };

    for index in 0..count {
        let user = CreateUserRequest {
            identities: Some(vec![CreateUserRequestIdentity {
                details: Some(CreateUserRequestIdentityDetails {
                    email: Some(format!("load-{index}@example.com")),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        };
        client
            .create_user(Some(&user))
            .await
            .map_err(|e| format!("seeding users: {e}"))?;
    }
    Ok(())
}
