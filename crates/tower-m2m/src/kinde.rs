//! A preset for Kinde's Management API: token URL, audience and environment variables.
//!
//! This is the only module of the crate that knows Kinde. A Kinde business is reached at
//! `https://<subdomain>.kinde.com`; its token endpoint is [`TOKEN_PATH`] under that domain and
//! the Management API's audience is [`MANAGEMENT_AUDIENCE_PATH`] under it. Kinde expects client
//! authentication in the form body, which is the default of [`ClientCredentials`].
//!
//! Values come from code or from the environment variables Kinde's management SDK reads; values
//! set in code win.
//!
//! # Example
//!
//! ```
//! use tower_m2m::kinde::KindeCredentials;
//!
//! let credentials = KindeCredentials::new()
//!     .domain("example.kinde.com")
//!     .client_id("0123456789abcdef")
//!     .client_secret("s3cr3t")
//!     .scope("read:users")
//!     .build()?;
//! assert_eq!(credentials.token_url(), "https://example.kinde.com/oauth2/token");
//! assert_eq!(credentials.audiences(), ["https://example.kinde.com/api"]);
//! # Ok::<_, tower_m2m::token::InvalidCredentials>(())
//! ```
//!
//! From the environment, with the scope set in code:
//!
//! ```no_run
//! use tower_m2m::kinde::KindeCredentials;
//!
//! let credentials = KindeCredentials::new().scope("read:users").build_from_env()?;
//! # Ok::<_, tower_m2m::token::InvalidCredentials>(())
//! ```

use crate::token::{ClientAuthentication, ClientCredentials, ClientSecret, InvalidCredentials};

/// The token endpoint's path under a Kinde domain.
pub const TOKEN_PATH: &str = "/oauth2/token";

/// The Management API's audience, as a path under a Kinde domain.
pub const MANAGEMENT_AUDIENCE_PATH: &str = "/api";

/// The Kinde domain, with or without `https://`.
pub const ENV_DOMAIN: &str = "KINDE_DOMAIN";
/// The client id of the M2M application.
pub const ENV_MANAGEMENT_CLIENT_ID: &str = "KINDE_MANAGEMENT_CLIENT_ID";
/// The client secret of the M2M application.
pub const ENV_MANAGEMENT_CLIENT_SECRET: &str = "KINDE_MANAGEMENT_CLIENT_SECRET";
/// Read when [`ENV_MANAGEMENT_CLIENT_ID`] is not set.
pub const ENV_CLIENT_ID: &str = "KINDE_CLIENT_ID";
/// Read when [`ENV_MANAGEMENT_CLIENT_SECRET`] is not set.
pub const ENV_CLIENT_SECRET: &str = "KINDE_CLIENT_SECRET";
/// Audiences, separated by spaces or commas, replacing the Management API default.
pub const ENV_AUDIENCE: &str = "KINDE_AUDIENCE";
/// Scopes, separated by spaces or commas.
pub const ENV_SCOPES: &str = "KINDE_SCOPES";

/// Builds [`ClientCredentials`] for a Kinde business.
///
/// `Debug` shows everything but the secret.
#[derive(Clone, Debug, Default)]
pub struct KindeCredentials {
    domain: Option<String>,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    audiences: Vec<String>,
    scopes: Vec<String>,
    authentication: ClientAuthentication,
}

impl KindeCredentials {
    /// Nothing set yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The business domain: `example.kinde.com` or `https://example.kinde.com`. Use the
    /// `<subdomain>.kinde.com` host even if the business has a custom domain.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The client id of the M2M application.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The client secret of the M2M application.
    pub fn client_secret(mut self, client_secret: impl Into<ClientSecret>) -> Self {
        self.client_secret = Some(client_secret.into());
        self
    }

    /// Adds an audience. Any audience set replaces the default, `<domain>/api`.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Adds a scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds several scopes.
    pub fn scopes<I>(mut self, scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// How the client authenticates; form fields by default, as Kinde documents.
    pub fn authentication(mut self, authentication: ClientAuthentication) -> Self {
        self.authentication = authentication;
        self
    }

    /// Builds the credentials from the values set in code only.
    ///
    /// # Errors
    ///
    /// [`InvalidCredentials`] if the domain, client id or secret is missing, or for any reason
    /// listed at [`ClientCredentialsBuilder::build`](crate::token::ClientCredentialsBuilder::build).
    pub fn build(self) -> Result<ClientCredentials, InvalidCredentials> {
        self.build_with_env(|_| None)
    }

    /// Builds the credentials, taking what code did not set from the process environment.
    ///
    /// # Errors
    ///
    /// As [`KindeCredentials::build`].
    pub fn build_from_env(self) -> Result<ClientCredentials, InvalidCredentials> {
        self.build_with_env(|name| std::env::var(name).ok())
    }

    /// Builds the credentials, taking what code did not set from `lookup` (an environment).
    ///
    /// Empty values count as unset.
    ///
    /// # Errors
    ///
    /// As [`KindeCredentials::build`].
    pub fn build_with_env<F>(self, lookup: F) -> Result<ClientCredentials, InvalidCredentials>
    where
        F: Fn(&str) -> Option<String>,
    {
        let lookup = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let domain = self
            .domain
            .or_else(|| lookup(ENV_DOMAIN))
            .ok_or_else(|| InvalidCredentials::new("Kinde domain is missing"))?;
        let client_id = self
            .client_id
            .or_else(|| lookup(ENV_MANAGEMENT_CLIENT_ID))
            .or_else(|| lookup(ENV_CLIENT_ID))
            .ok_or_else(|| InvalidCredentials::new("client id is missing"))?;
        let client_secret = self
            .client_secret
            .or_else(|| lookup(ENV_MANAGEMENT_CLIENT_SECRET).map(ClientSecret::new))
            .or_else(|| lookup(ENV_CLIENT_SECRET).map(ClientSecret::new))
            .ok_or_else(|| InvalidCredentials::new("client secret is missing"))?;

        let base = base_url(&domain);
        let mut audiences = self.audiences;
        if audiences.is_empty() {
            audiences = lookup(ENV_AUDIENCE)
                .map(|v| split_list(&v))
                .unwrap_or_default();
        }
        if audiences.is_empty() {
            audiences.push(format!("{base}{MANAGEMENT_AUDIENCE_PATH}"));
        }
        let mut scopes = self.scopes;
        if scopes.is_empty() {
            scopes = lookup(ENV_SCOPES)
                .map(|v| split_list(&v))
                .unwrap_or_default();
        }

        ClientCredentials::builder(format!("{base}{TOKEN_PATH}"), client_id, client_secret)
            .audiences(audiences)
            .scopes(scopes)
            .authentication(self.authentication)
            .build()
    }
}

/// `https://<domain>` without a trailing slash; a given scheme is kept (the emulator on
/// loopback uses `http`).
fn base_url(domain: &str) -> String {
    let domain = domain.trim().trim_end_matches('/');
    if domain.starts_with("https://") || domain.starts_with("http://") {
        domain.to_owned()
    } else {
        format!("https://{domain}")
    }
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn a_domain_gives_the_token_url_and_the_management_audience() {
        let credentials = KindeCredentials::new()
            .domain("https://example.kinde.com/")
            .client_id("id")
            .client_secret("secret")
            .build()
            .unwrap();
        assert_eq!(
            credentials.token_url(),
            "https://example.kinde.com/oauth2/token"
        );
        assert_eq!(credentials.audiences(), ["https://example.kinde.com/api"]);
        assert!(credentials.scopes().is_empty());
    }

    #[test]
    fn the_environment_fills_what_code_did_not_set() {
        let credentials = KindeCredentials::new()
            .build_with_env(env(&[
                (ENV_DOMAIN, "example.kinde.com"),
                (ENV_MANAGEMENT_CLIENT_ID, "mgmt-id"),
                (ENV_MANAGEMENT_CLIENT_SECRET, "mgmt-secret"),
                (ENV_CLIENT_ID, "fallback-id"),
                (ENV_CLIENT_SECRET, "fallback-secret"),
                (ENV_SCOPES, "read:users, write:users"),
                (
                    ENV_AUDIENCE,
                    "https://example.kinde.com/api https://other/api",
                ),
            ]))
            .unwrap();
        assert_eq!(credentials.client_id(), "mgmt-id");
        assert_eq!(credentials.client_secret().expose_secret(), "mgmt-secret");
        assert_eq!(credentials.scopes(), ["read:users", "write:users"]);
        assert_eq!(
            credentials.audiences(),
            ["https://example.kinde.com/api", "https://other/api"]
        );
    }

    #[test]
    fn the_generic_variables_are_fallbacks() {
        let credentials = KindeCredentials::new()
            .build_with_env(env(&[
                (ENV_DOMAIN, "example.kinde.com"),
                (ENV_CLIENT_ID, "fallback-id"),
                (ENV_CLIENT_SECRET, "fallback-secret"),
            ]))
            .unwrap();
        assert_eq!(credentials.client_id(), "fallback-id");
        assert_eq!(
            credentials.client_secret().expose_secret(),
            "fallback-secret"
        );
    }

    #[test]
    fn code_wins_over_the_environment() {
        let credentials = KindeCredentials::new()
            .domain("code.kinde.com")
            .client_id("code-id")
            .client_secret("code-secret")
            .scope("read:users")
            .audience("https://code.example/api")
            .build_with_env(env(&[
                (ENV_DOMAIN, "env.kinde.com"),
                (ENV_MANAGEMENT_CLIENT_ID, "env-id"),
                (ENV_MANAGEMENT_CLIENT_SECRET, "env-secret"),
                (ENV_CLIENT_ID, "env-fallback-id"),
                (ENV_CLIENT_SECRET, "env-fallback-secret"),
                (ENV_SCOPES, "write:users"),
                (ENV_AUDIENCE, "https://env.example/api"),
            ]))
            .unwrap();
        assert_eq!(
            credentials.token_url(),
            "https://code.kinde.com/oauth2/token"
        );
        assert_eq!(credentials.client_id(), "code-id");
        assert_eq!(credentials.client_secret().expose_secret(), "code-secret");
        assert_eq!(credentials.scopes(), ["read:users"]);
        assert_eq!(credentials.audiences(), ["https://code.example/api"]);
    }

    #[test]
    fn debug_hides_the_secret() {
        let preset = KindeCredentials::new().client_secret("kinde-s3cret");
        let credentials = preset
            .clone()
            .domain("example.kinde.com")
            .client_id("id")
            .build()
            .unwrap();
        for printed in [format!("{preset:?}"), format!("{credentials:?}")] {
            assert!(!printed.contains("kinde-s3cret"), "{printed}");
        }
    }

    #[test]
    fn missing_values_are_named_without_values() {
        let error = KindeCredentials::new()
            .client_id("id")
            .client_secret("secret")
            .build()
            .unwrap_err();
        assert!(error.to_string().contains("domain"), "{error}");

        let error = KindeCredentials::new()
            .domain("example.kinde.com")
            .client_id("id")
            .build()
            .unwrap_err();
        assert!(error.to_string().contains("secret is missing"), "{error}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_environment(
            domain in ".*",
            id in ".*",
            secret in ".*",
            audience in ".*",
            scopes in ".*",
        ) {
            let _ = KindeCredentials::new().build_with_env(env(&[
                (ENV_DOMAIN, &domain),
                (ENV_MANAGEMENT_CLIENT_ID, &id),
                (ENV_MANAGEMENT_CLIENT_SECRET, &secret),
                (ENV_AUDIENCE, &audience),
                (ENV_SCOPES, &scopes),
            ]));
        }
    }
}
