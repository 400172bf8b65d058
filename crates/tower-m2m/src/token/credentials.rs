//! The client-credentials configuration: where to ask, who asks, and for what.

use std::fmt;

use http::Uri;

use super::secret::ClientSecret;

/// Everything needed to ask a token endpoint for a client-credentials token.
///
/// Built and validated by [`ClientCredentials::builder`]; immutable afterwards. Scopes and
/// audiences are kept sorted and without duplicates, since their order does not change the
/// token. `Debug` shows everything but the secret.
#[derive(Clone)]
pub struct ClientCredentials {
    pub(crate) token_url: Uri,
    pub(crate) client_id: String,
    pub(crate) client_secret: ClientSecret,
    pub(crate) audiences: Vec<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) authentication: ClientAuthentication,
}

/// How the client authenticates to the token endpoint (RFC 6749, section 2.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientAuthentication {
    /// `client_id` and `client_secret` as form fields (`client_secret_post`). The default,
    /// because it is what Kinde documents and every Kinde SDK sends.
    #[default]
    RequestBody,
    /// An `Authorization: Basic` header (`client_secret_basic`).
    BasicHeader,
}

impl ClientCredentials {
    /// Starts building credentials for `client_id` at `token_url`.
    pub fn builder(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<ClientSecret>,
    ) -> ClientCredentialsBuilder {
        ClientCredentialsBuilder {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            audiences: Vec::new(),
            scopes: Vec::new(),
            authentication: ClientAuthentication::default(),
        }
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &Uri {
        &self.token_url
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret.
    pub fn client_secret(&self) -> &ClientSecret {
        &self.client_secret
    }

    /// The requested audiences, sorted.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The requested scopes, sorted.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// How the client authenticates.
    pub fn authentication(&self) -> ClientAuthentication {
        self.authentication
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("audiences", &self.audiences)
            .field("scopes", &self.scopes)
            .field("authentication", &self.authentication)
            .finish()
    }
}

/// Builds [`ClientCredentials`]; see [`ClientCredentials::builder`].
#[derive(Clone, Debug)]
pub struct ClientCredentialsBuilder {
    token_url: String,
    client_id: String,
    client_secret: ClientSecret,
    audiences: Vec<String>,
    scopes: Vec<String>,
    authentication: ClientAuthentication,
}

impl ClientCredentialsBuilder {
    /// Adds an audience (the `audience` form field, repeated for each one).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Adds several audiences.
    pub fn audiences<I>(mut self, audiences: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// Adds a scope (sent space-separated in the `scope` form field).
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

    /// Chooses how the client authenticates; [`ClientAuthentication::RequestBody`] by default.
    pub fn authentication(mut self, authentication: ClientAuthentication) -> Self {
        self.authentication = authentication;
        self
    }

    /// Validates and builds the credentials.
    ///
    /// # Errors
    ///
    /// [`InvalidCredentials`] when:
    /// - the token URL does not parse as an absolute URL, carries user information, or uses
    ///   plain `http` to a host other than loopback (the secret would cross the network in clear);
    /// - the client id is empty or contains control characters;
    /// - the client secret is empty;
    /// - an audience is empty or contains control characters;
    /// - a scope is empty or contains a space, `"`, `\` or a control character (RFC 6749, 3.3).
    pub fn build(self) -> Result<ClientCredentials, InvalidCredentials> {
        let token_url = parse_token_url(&self.token_url)?;

        if self.client_id.is_empty() || has_control(&self.client_id) {
            return Err(InvalidCredentials::new(
                "client id is empty or has control characters",
            ));
        }
        if self.client_secret.expose_secret().is_empty() {
            return Err(InvalidCredentials::new("client secret is empty"));
        }
        if self
            .audiences
            .iter()
            .any(|a| a.is_empty() || has_control(a))
        {
            return Err(InvalidCredentials::new(
                "an audience is empty or has control characters",
            ));
        }
        if !self.scopes.iter().all(|scope| is_scope_token(scope)) {
            return Err(InvalidCredentials::new(
                "a scope is empty or has forbidden characters",
            ));
        }

        Ok(ClientCredentials {
            token_url,
            client_id: self.client_id,
            client_secret: self.client_secret,
            audiences: sorted(self.audiences),
            scopes: sorted(self.scopes),
            authentication: self.authentication,
        })
    }
}

/// Client credentials failed validation. The message names the field, never its value.
#[derive(Clone, Debug)]
pub struct InvalidCredentials {
    reason: &'static str,
}

impl InvalidCredentials {
    pub(crate) fn new(reason: &'static str) -> Self {
        Self { reason }
    }
}

impl fmt::Display for InvalidCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid client credentials: {}", self.reason)
    }
}

impl std::error::Error for InvalidCredentials {}

fn parse_token_url(url: &str) -> Result<Uri, InvalidCredentials> {
    let uri: Uri = url
        .parse()
        .map_err(|_| InvalidCredentials::new("token URL does not parse"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(InvalidCredentials::new("token URL is not absolute"));
    };
    if authority.as_str().contains('@') {
        return Err(InvalidCredentials::new(
            "token URL carries user information",
        ));
    }

    match scheme {
        "https" => Ok(uri),
        "http" if is_loopback_host(authority.host()) => Ok(uri),
        "http" => Err(InvalidCredentials::new(
            "token URL uses http to a non-loopback host",
        )),
        _ => Err(InvalidCredentials::new("token URL scheme is not https")),
    }
}

/// `localhost` (any case) or a loopback IP address (`127.0.0.0/8`, `[::1]`), parsed as an address:
/// a name that merely starts with `127.` is not loopback.
fn is_loopback_host(host: &str) -> bool {
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || unbracketed
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values.dedup();
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(url: &str) -> ClientCredentialsBuilder {
        ClientCredentials::builder(url, "client", "secret")
    }

    #[test]
    fn scopes_and_audiences_are_sorted_and_deduplicated() {
        let credentials = builder("https://auth.example.com/oauth2/token")
            .scopes(["write:users", "read:users", "write:users"])
            .audience("https://b")
            .audience("https://a")
            .build()
            .unwrap();
        assert_eq!(credentials.scopes(), ["read:users", "write:users"]);
        assert_eq!(credentials.audiences(), ["https://a", "https://b"]);
    }

    #[test]
    fn clear_text_is_refused_except_on_loopback() {
        assert!(builder("http://auth.example.com/token").build().is_err());
        assert!(builder("http://127.0.0.1:8080/token").build().is_ok());
        assert!(builder("http://localhost/token").build().is_ok());
        assert!(builder("http://127.1.2.3/token").build().is_ok());
        assert!(builder("http://[::1]:9/token").build().is_ok());
        for outside in [
            "http://127.example.com/token",
            "http://127.0.0.1.evil.example/token",
            "http://localhost.evil.example/token",
            "http://[::2]/token",
        ] {
            assert!(builder(outside).build().is_err(), "{outside}");
        }
        assert!(builder("ftp://auth.example.com/token").build().is_err());
        assert!(builder("/relative").build().is_err());
        assert!(
            builder("https://user:pw@auth.example.com/token")
                .build()
                .is_err()
        );
    }

    #[test]
    fn bad_fields_are_refused() {
        let url = "https://auth.example.com/token";
        assert!(ClientCredentials::builder(url, "", "s").build().is_err());
        assert!(ClientCredentials::builder(url, "c", "").build().is_err());
        assert!(builder(url).scope("two words").build().is_err());
        assert!(builder(url).scope("").build().is_err());
        assert!(builder(url).audience("").build().is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let credentials = ClientCredentials::builder("https://a.example/t", "id", "hunter2")
            .build()
            .unwrap();
        let printed = format!("{credentials:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("id"), "{printed}");
    }
}
