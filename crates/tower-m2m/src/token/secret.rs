//! Redacting newtypes for the client secret and the access tokens.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

/// Printed in place of a secret by every `Debug` and `Display` implementation in this crate.
pub(crate) const REDACTED: &str = "[redacted]";

/// The OAuth2 client secret.
///
/// `Debug` and `Display` print `[redacted]`; the value is read only through
/// [`ClientSecret::expose_secret`]. The memory holding it is zeroed when the last copy is dropped.
#[derive(Clone)]
pub struct ClientSecret(SecretString);

impl ClientSecret {
    /// Wraps a client secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(SecretString::from(secret.into()))
    }

    /// The secret itself. Every call site is a place the secret can leak from: keep them few.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl From<String> for ClientSecret {
    fn from(secret: String) -> Self {
        Self::new(secret)
    }
}

impl From<&str> for ClientSecret {
    fn from(secret: &str) -> Self {
        Self::new(secret)
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientSecret({REDACTED})")
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// An access token issued by the token endpoint, with the times that govern its use.
///
/// Cloning is a reference-count increment: every clone is the *same* token, which is what
/// [`TokenSource::invalidate`](super::TokenSource::invalidate) compares. `Debug` and `Display`
/// print `[redacted]`; the value is read through [`AccessToken::expose_secret`] or, already
/// formatted as a sensitive `Bearer` header, [`AccessToken::header_value`].
#[derive(Clone)]
pub struct AccessToken(Arc<Issued>);

/// The serial number of the next token issued in this process; `0` is never issued.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

struct Issued {
    /// Unique in the process: the token's identity, which a cache entry publishes atomically
    /// so that holders of a token can tell, without a lock, whether it is still the current one.
    serial: u64,
    secret: SecretString,
    header: HeaderValue,
    requested_at: Instant,
    refresh_at: Instant,
    usable_until: Instant,
}

impl AccessToken {
    /// Builds a token, or returns `None` if it cannot be sent in an HTTP header.
    pub(crate) fn new(
        secret: String,
        requested_at: Instant,
        refresh_at: Instant,
        usable_until: Instant,
    ) -> Option<Self> {
        let mut header = HeaderValue::try_from(format!("Bearer {secret}")).ok()?;
        header.set_sensitive(true);

        Some(Self(Arc::new(Issued {
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
            secret: SecretString::from(secret),
            header,
            requested_at,
            refresh_at,
            usable_until,
        })))
    }

    /// The token itself.
    pub fn expose_secret(&self) -> &str {
        self.0.secret.expose_secret()
    }

    /// `Bearer <token>`, marked sensitive so that HTTP libraries keep it out of their logs.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0.header
    }

    /// The instant after which the token is never sent: its expiry less a safety leeway.
    pub fn usable_until(&self) -> Instant {
        self.0.usable_until
    }

    /// The instant its token request was sent; the token is at most this old.
    pub fn requested_at(&self) -> Instant {
        self.0.requested_at
    }

    /// The instant from which the next caller starts a background refresh.
    pub fn refresh_at(&self) -> Instant {
        self.0.refresh_at
    }

    /// Whether both values are the same issued token (not merely equal strings).
    pub fn is_same(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub(crate) fn is_usable_at(&self, now: Instant) -> bool {
        now < self.0.usable_until
    }

    /// The token's identity, never `0`; see [`Issued::serial`].
    pub(crate) fn serial(&self) -> u64 {
        self.0.serial
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessToken({REDACTED})")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let secret = ClientSecret::new("s3cr3t-value");
        let now = Instant::now();
        let token = AccessToken::new("tok-value".into(), now, now, now).unwrap();

        for printed in [
            format!("{secret:?}"),
            format!("{secret}"),
            format!("{token:?}"),
            format!("{token}"),
            format!("{:?}", token.header_value()),
        ] {
            assert!(
                !printed.contains("s3cr3t") && !printed.contains("tok-value"),
                "{printed}"
            );
        }
        assert_eq!(token.header_value(), "Bearer tok-value");
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_refused() {
        let now = Instant::now();
        assert!(AccessToken::new("line\nbreak".into(), now, now, now).is_none());
    }
}
