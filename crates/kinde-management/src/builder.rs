//! [`ClientBuilder`]: a [`Client`] on the `tower-m2m` stack over reqwest.

use std::fmt;

use tower_m2m::kinde::KindeCredentials;
use tower_m2m::stack::{M2mStack, Upstream};
use tower_m2m::token::{ClientCredentials, InvalidCredentials, TokenSource};
use tower_m2m::transport::ReqwestTransport;

use crate::client::{Client, InvalidBaseUrl};

/// Builds a [`Client`] on the full `tower-m2m` stack (token cache, rate and concurrency limits,
/// retries within a budget, circuit breaker, timeouts, correlation) over reqwest with rustls.
///
/// ```no_run
/// use kinde_management::Client;
/// use tower_m2m::kinde::KindeCredentials;
///
/// let credentials = KindeCredentials::new()
///     .domain("mybusiness.kinde.com")
///     .client_id("0123456789abcdef0123456789abcdef")
///     .client_secret(std::env::var("KINDE_MANAGEMENT_CLIENT_SECRET")?)
///     .scope("read:users")
///     .build()?;
/// let client = Client::builder("https://mybusiness.kinde.com").credentials(credentials).build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    credentials: Option<ClientCredentials>,
    upstream: Option<Upstream>,
    transport: Option<ReqwestTransport>,
    max_response_bytes: Option<usize>,
}

/// Why a [`Client`] could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// No credentials were given.
    MissingCredentials,
    /// The credentials are incomplete or invalid.
    Credentials(InvalidCredentials),
    /// The base URL is not usable.
    BaseUrl(InvalidBaseUrl),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingCredentials => f.write_str("no credentials given"),
            Self::Credentials(_) => f.write_str("invalid credentials"),
            Self::BaseUrl(_) => f.write_str("invalid base url"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::MissingCredentials => None,
            Self::Credentials(error) => Some(error),
            Self::BaseUrl(error) => Some(error),
        }
    }
}

impl Client {
    /// A builder for a client of the Kinde business at `base_url`
    /// (`https://<subdomain>.kinde.com`).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            credentials: None,
            upstream: None,
            transport: None,
            max_response_bytes: None,
        }
    }

    /// A client configured from the environment variables Kinde's management SDK reads:
    /// `KINDE_DOMAIN`, `KINDE_MANAGEMENT_CLIENT_ID` and `KINDE_MANAGEMENT_CLIENT_SECRET` (or
    /// `KINDE_CLIENT_ID` / `KINDE_CLIENT_SECRET`), and optionally `KINDE_AUDIENCE` and
    /// `KINDE_SCOPES`. The API is called at the origin of `KINDE_DOMAIN`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = kinde_management::Client::from_env()?;
    /// let users = client.get_users(&Default::default()).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`BuildError::Credentials`] when a variable is missing or invalid.
    pub fn from_env() -> Result<Client, BuildError> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// As [`Client::from_env`], with the variables read from `lookup` instead of the process
    /// environment: for configuration kept elsewhere, and for tests, which should not change
    /// the environment of a process that runs other tests at the same time. Empty values count
    /// as unset.
    ///
    /// # Errors
    ///
    /// [`BuildError::Credentials`] when a variable is missing or invalid.
    pub fn from_env_with<F>(lookup: F) -> Result<Client, BuildError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let credentials = KindeCredentials::new()
            .build_with_env(lookup)
            .map_err(BuildError::Credentials)?;
        // The token URL is `<business>/oauth2/token`; the API lives under the same origin.
        let token_url = credentials.token_url();
        let base_url = match (token_url.scheme_str(), token_url.authority()) {
            (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
            _ => return Err(BuildError::BaseUrl(InvalidBaseUrl::new("no origin"))),
        };
        Client::builder(base_url).credentials(credentials).build()
    }
}

impl ClientBuilder {
    /// The M2M application's credentials (see `tower_m2m::kinde::KindeCredentials`).
    pub fn credentials(mut self, credentials: ClientCredentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The upstream whose rate limit, concurrency bound, breaker and retry budget this client
    /// shares. Give every client of one Kinde business the same one. Default: a new upstream
    /// with the stack's defaults.
    pub fn upstream(mut self, upstream: Upstream) -> Self {
        self.upstream = Some(upstream);
        self
    }

    /// The HTTP transport. Default: a new `ReqwestTransport`.
    pub fn transport(mut self, transport: ReqwestTransport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The response size limit; see [`Client::max_response_bytes`].
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = Some(limit);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`BuildError::MissingCredentials`] without credentials; [`BuildError::BaseUrl`] when
    /// the base URL is not an `http` or `https` URL.
    pub fn build(self) -> Result<Client, BuildError> {
        let credentials = self.credentials.ok_or(BuildError::MissingCredentials)?;
        let transport = self.transport.unwrap_or_default();
        let upstream = self
            .upstream
            .unwrap_or_else(|| Upstream::new(self.base_url.clone()));
        let tokens = TokenSource::new(credentials, transport.clone());
        let service = M2mStack::builder(upstream)
            .token_source(tokens)
            .service(transport);
        let client = Client::from_service(&self.base_url, service).map_err(BuildError::BaseUrl)?;
        Ok(match self.max_response_bytes {
            Some(limit) => client.max_response_bytes(limit),
            None => client,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn the_sdk_variables_give_the_business_origin() {
        let client = Client::from_env_with(env(&[
            ("KINDE_DOMAIN", "mybusiness.kinde.com"),
            ("KINDE_MANAGEMENT_CLIENT_ID", "0123456789abcdef"),
            ("KINDE_MANAGEMENT_CLIENT_SECRET", "s3cr3t"),
        ]))
        .expect("a client");
        assert_eq!(client.base_url(), "https://mybusiness.kinde.com");

        let local = Client::from_env_with(env(&[
            ("KINDE_DOMAIN", "http://127.0.0.1:8080/"),
            ("KINDE_CLIENT_ID", "0123456789abcdef"),
            ("KINDE_CLIENT_SECRET", "s3cr3t"),
        ]))
        .expect("a client");
        assert_eq!(local.base_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn a_missing_variable_is_a_credentials_error_without_the_secret() {
        let error = Client::from_env_with(env(&[
            ("KINDE_DOMAIN", "mybusiness.kinde.com"),
            ("KINDE_MANAGEMENT_CLIENT_SECRET", "s3cr3t"),
        ]))
        .expect_err("no client id");
        assert!(matches!(error, BuildError::Credentials(_)), "{error:?}");
        assert!(!format!("{error} {error:?}").contains("s3cr3t"));
    }
}
