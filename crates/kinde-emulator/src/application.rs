//! M2M applications the emulator knows, and the fixed demo application.

use std::fmt;

use subtle::ConstantTimeEq as _;

/// The client id of the demo application.
///
/// The demo credentials exist only in the emulator: they are documented, printed at start-up and
/// accepted only while the emulator listens on a loopback address.
pub const DEMO_CLIENT_ID: &str = "0000000000000000000000000000de70";

/// The client secret of the demo application (see [`DEMO_CLIENT_ID`]).
pub const DEMO_CLIENT_SECRET: &str = "KindeEmulatorDemoSecretValidOnlyOnLoopback0000";

/// An M2M application: its credentials, the audiences it is authorized for and its scopes.
///
/// Every application is authorized for the emulator's Management API audience
/// (`<base URL>/api`) unless [`management_api(false)`](Self::management_api) says otherwise.
///
/// ```
/// use kinde_emulator::Application;
///
/// let reader = Application::new("reader0000000000000000000000000001", "a-secret")
///     .scopes(["read:users", "read:organizations"]);
/// assert_eq!(reader.client_id(), "reader0000000000000000000000000001");
/// ```
#[derive(Clone)]
pub struct Application {
    client_id: String,
    client_secret: String,
    management_api: bool,
    audiences: Vec<String>,
    scopes: Vec<String>,
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("management_api", &self.management_api)
            .field("audiences", &self.audiences)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl Application {
    /// An application with these credentials, authorized for the Management API with no scopes.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            management_api: true,
            audiences: Vec::new(),
            scopes: Vec::new(),
        }
    }

    /// The demo application: [`DEMO_CLIENT_ID`], [`DEMO_CLIENT_SECRET`] and every scope.
    pub fn demo() -> Self {
        Self::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).all_scopes()
    }

    /// Grants these scopes (replacing earlier grants).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Grants every scope that an operation of the Management API requires.
    pub fn all_scopes(self) -> Self {
        self.scopes(all_scopes())
    }

    /// Whether the application is authorized for the Management API audience (default `true`).
    pub fn management_api(mut self, authorized: bool) -> Self {
        self.management_api = authorized;
        self
    }

    /// Authorizes the application for one more audience (another API's identifier).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The granted scopes.
    pub fn granted_scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether `secret` is this application's secret, compared in constant time.
    pub(crate) fn secret_matches(&self, secret: &str) -> bool {
        self.client_secret
            .as_bytes()
            .ct_eq(secret.as_bytes())
            .into()
    }

    /// Whether the application may ask for a token for `audience`.
    pub(crate) fn authorized_for(&self, audience: &str, management_audience: &str) -> bool {
        (self.management_api && audience == management_audience)
            || self.audiences.iter().any(|allowed| allowed == audience)
    }

    /// Whether this is the demo application.
    pub(crate) fn is_demo(&self) -> bool {
        self.client_id == DEMO_CLIENT_ID
    }
}

/// Every scope named by an operation of the Management API, sorted, each once.
pub fn all_scopes() -> Vec<&'static str> {
    let mut scopes: Vec<&'static str> = kinde_api::OPERATIONS
        .iter()
        .filter_map(|operation| operation.scope)
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes
}
