//! `gateway` and `streams`: a tonic client through the gateway child.

use std::time::Duration;

use kinde_gateway::pb;
use kinde_gateway::pb::users_service_client::UsersServiceClient;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use crate::drive::CallResult;
use crate::ours::PAGE_SIZE;

/// A gateway client on one HTTP/2 connection.
pub(crate) type Users = UsersServiceClient<Channel>;

/// How long opening a connection to the gateway may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens one connection to the gateway at `url`.
pub(crate) async fn connect(url: &str) -> Result<Users, String> {
    let channel = Channel::from_shared(url.to_owned())
        .map_err(|e| format!("gateway url: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .connect()
        .await
        .map_err(|e| format!("cannot connect to the gateway: {e}"))?;
    Ok(UsersServiceClient::new(channel))
}

fn with_key<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let key = format!("Bearer {}", kinde_gateway::demo::DEMO_API_KEY);
    let value: MetadataValue<_> = key.parse().expect("ascii");
    request.metadata_mut().insert("authorization", value);
    request
}

/// One `UsersService/GetUsers` with ten users a page.
pub(crate) async fn get_users(mut client: Users) -> CallResult {
    let request = with_key(pb::GetUsersRequest {
        page_size: Some(PAGE_SIZE),
        ..Default::default()
    });
    client
        .get_users(request)
        .await
        .map(drop)
        .map_err(|status| format!("grpc {:?}", status.code()))
}

/// Opens `UsersService/StreamGetUsers` with `page_size` users a page.
pub(crate) async fn open_stream(
    mut client: Users,
    page_size: i32,
) -> Result<tonic::Streaming<pb::StreamGetUsersResponse>, String> {
    let request = with_key(pb::StreamGetUsersRequest {
        page_size: Some(page_size),
        ..Default::default()
    });
    client
        .stream_get_users(request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| format!("grpc {:?}", status.code()))
}
