//! [`GatewaySession`]: a connection to the gateway, and the metadata every call carries.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kinde_gateway::pb;
use secrecy::{ExposeSecret, SecretString};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::Failure;

/// The address `kinde-gateway --emulator` listens on unless given `--listen`.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:50051";

/// How long to wait for the gateway's TCP connection: a local gateway answers at once, and a
/// newcomer who forgot to start it should hear so quickly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one call may take: the gateway's own deadlines are shorter, so this only bounds a
/// gateway that stopped answering.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the gateway is and which key to call it with: flags, else environment variables,
/// else the values `kinde-gateway --emulator` prints.
///
/// The key is a [`SecretString`]: `Debug` shows `[REDACTED]`, and `--help` shows neither the
/// default key nor the value of `GATEWAY_API_KEY`.
#[derive(Clone, Debug, clap::Args)]
pub struct GatewayArgs {
    /// The gateway's address (host:port).
    #[arg(long, env = "GATEWAY_ADDRESS", default_value = DEFAULT_ADDRESS)]
    pub address: String,
    /// The caller's API key (the default is the demo key of `--emulator`).
    #[arg(
        long,
        env = "GATEWAY_API_KEY",
        default_value = kinde_gateway::demo::DEMO_API_KEY,
        hide_default_value = true,
        hide_env_values = true
    )]
    pub api_key: SecretString,
}

impl Default for GatewayArgs {
    fn default() -> Self {
        Self {
            address: DEFAULT_ADDRESS.to_owned(),
            api_key: kinde_gateway::demo::DEMO_API_KEY.into(),
        }
    }
}

/// A connection to the gateway with the caller's key, minting a request id for each call.
///
/// Ids read `<example>-<run>-<n>`: the run part differs between runs, `n` counts the calls,
/// so the audit log and Kinde's side can be matched to a line of the example's output.
///
/// `Debug` does not show the key: its `authorization` value is marked sensitive.
#[derive(Debug)]
pub struct GatewaySession {
    channel: Channel,
    authorization: MetadataValue<Ascii>,
    run: String,
    calls: AtomicU32,
}

impl GatewaySession {
    /// Connects to the gateway at `args.address`; `example` names the request ids.
    ///
    /// # Errors
    ///
    /// A [`Failure`] when the address or key is malformed or nothing answers there.
    pub async fn connect(args: &GatewayArgs, example: &str) -> Result<Self, Failure> {
        let doing = format!("connect to the gateway at {}", args.address);
        let authorization = authorization(&args.api_key)
            .ok_or_else(|| Failure::new(&doing, "the API key holds a control character"))?;
        let endpoint = Endpoint::from_shared(format!("http://{}", args.address))
            .map_err(|_| Failure::new(&doing, "not a host:port address"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT);
        let channel = endpoint.connect().await.map_err(|_| {
            Failure::new(
                &doing,
                "nothing answers there; start it with `cargo run -p kinde-gateway -- --emulator`",
            )
        })?;

        Ok(Self::new(channel, authorization, example))
    }

    fn new(channel: Channel, authorization: MetadataValue<Ascii>, example: &str) -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis());
        Self {
            channel,
            authorization,
            run: format!("{example}-{:x}", millis % 0x100_0000),
            calls: AtomicU32::new(0),
        }
    }

    /// `message` as a request with the API key and a new request id, and that id.
    pub fn request<T>(&self, message: T) -> (tonic::Request<T>, String) {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let request_id = format!("{}-{n}", self.run);
        let mut request = tonic::Request::new(message);
        let metadata = request.metadata_mut();
        metadata.insert("authorization", self.authorization.clone());
        metadata.insert(
            "x-request-id",
            request_id
                .parse()
                .expect("ids are ASCII letters, digits and -"),
        );
        (request, request_id)
    }

    /// The range of request ids this session has sent, as `first..last` (empty before the
    /// first call), for a summary line.
    pub fn request_ids(&self) -> String {
        match self.calls.load(Ordering::Relaxed) {
            0 => String::new(),
            1 => format!("{}-1", self.run),
            n => format!("{run}-1..{run}-{n}", run = self.run),
        }
    }

    /// The message of a successful call, or the call's failure explained with its request id.
    ///
    /// # Errors
    ///
    /// A [`Failure`] naming `doing`, the gRPC code, the gateway's message and `request_id`.
    pub fn check<T>(
        &self,
        doing: &str,
        request_id: &str,
        result: Result<tonic::Response<T>, tonic::Status>,
    ) -> Result<T, Failure> {
        result
            .map(tonic::Response::into_inner)
            .map_err(|status| Failure::status(doing, request_id, &status))
    }

    /// Every message of a server stream, or the failure that ended it.
    ///
    /// # Errors
    ///
    /// As [`check`](Self::check), for the call or any message of the stream.
    pub async fn collect<T>(
        &self,
        doing: &str,
        request_id: &str,
        result: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
    ) -> Result<Vec<T>, Failure> {
        let mut stream = self.check(doing, request_id, result)?;
        let mut items = Vec::new();
        while let Some(item) = stream
            .message()
            .await
            .map_err(|status| Failure::status(doing, request_id, &status))?
        {
            items.push(item);
        }
        Ok(items)
    }

    /// A client of `UsersService`.
    pub fn users(&self) -> pb::users_service_client::UsersServiceClient<Channel> {
        pb::users_service_client::UsersServiceClient::new(self.channel.clone())
    }

    /// A client of `OrganizationsService`.
    pub fn organizations(
        &self,
    ) -> pb::organizations_service_client::OrganizationsServiceClient<Channel> {
        pb::organizations_service_client::OrganizationsServiceClient::new(self.channel.clone())
    }

    /// A client of `RolesService`.
    pub fn roles(&self) -> pb::roles_service_client::RolesServiceClient<Channel> {
        pb::roles_service_client::RolesServiceClient::new(self.channel.clone())
    }
}

/// `Bearer <key>` as metadata marked sensitive, so that no `Debug` output or log shows it;
/// `None` when the key holds a control character, such as a line break.
fn authorization(api_key: &SecretString) -> Option<MetadataValue<Ascii>> {
    let mut value: MetadataValue<Ascii> =
        format!("Bearer {}", api_key.expose_secret()).parse().ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "a-key-that-must-not-show";

    #[test]
    fn debug_output_never_shows_the_key() {
        let args = GatewayArgs {
            api_key: KEY.into(),
            ..GatewayArgs::default()
        };
        assert!(!format!("{args:?}").contains(KEY), "{args:?}");
        assert!(format!("{args:?}").contains(DEFAULT_ADDRESS));
    }

    #[tokio::test]
    async fn the_authorization_metadata_is_sensitive() {
        let authorization = authorization(&KEY.into()).expect("an ASCII key");
        assert!(authorization.is_sensitive());
        let channel = Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
        let session = GatewaySession::new(channel, authorization, "test");

        let (request, request_id) = session.request(pb::GetUsersRequest::default());
        let sent = request
            .metadata()
            .get("authorization")
            .expect("the key is sent");
        assert_eq!(sent.to_str().unwrap(), format!("Bearer {KEY}"));
        assert!(sent.is_sensitive());
        assert_eq!(request_id, format!("{}-1", session.run));
        for shown in [format!("{session:?}"), format!("{:?}", request.metadata())] {
            assert!(!shown.contains(KEY), "{shown}");
        }
    }

    #[test]
    fn a_key_with_a_control_character_is_refused() {
        assert!(authorization(&"line\nbreak".into()).is_none());
        assert!(authorization(&"nul\0".into()).is_none());
    }
}
