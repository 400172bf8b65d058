//! The cache key: everything that makes two tokens different.

use std::fmt;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::credentials::ClientCredentials;

/// Identifies one kind of token: two credentials with equal keys may share a token, and share
/// the fetch that gets it.
///
/// The key holds the token URL, the client id, the sorted audiences, the sorted scopes and a
/// fingerprint of the secret, so that a rotated secret never reuses the old secret's token. The
/// fingerprint is a SHA-256 of the secret under a random per-process salt, and `Debug` leaves
/// it out. The same key selects the cached token *and* the in-flight fetch: a fetch for one set
/// of scopes is never handed to a caller that asked for another.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub(crate) token_url: String,
    pub(crate) client_id: String,
    audiences: Vec<String>,
    scopes: Vec<String>,
    secret_fingerprint: [u8; 32],
}

impl CacheKey {
    /// The key of tokens issued for `credentials`.
    pub fn new(credentials: &ClientCredentials) -> Self {
        Self {
            token_url: credentials.token_url.to_string(),
            client_id: credentials.client_id.clone(),
            audiences: credentials.audiences.clone(),
            scopes: credentials.scopes.clone(),
            secret_fingerprint: fingerprint(credentials.client_secret.expose_secret()),
        }
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheKey")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("audiences", &self.audiences)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

fn fingerprint(secret: &str) -> [u8; 32] {
    static SALT: OnceLock<[u8; 16]> = OnceLock::new();
    let salt = SALT.get_or_init(rand::random);

    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(secret.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str, scopes: &[&str]) -> CacheKey {
        let credentials = ClientCredentials::builder("https://a.example/token", "id", secret)
            .scopes(scopes.iter().copied())
            .build()
            .unwrap();
        CacheKey::new(&credentials)
    }

    #[test]
    fn scope_order_does_not_matter_but_scopes_and_secrets_do() {
        assert_eq!(key("s", &["a", "b"]), key("s", &["b", "a"]));
        assert_ne!(key("s", &["a"]), key("s", &["a", "b"]));
        assert_ne!(key("old", &["a"]), key("new", &["a"]));
    }

    #[test]
    fn debug_leaves_out_the_fingerprint() {
        let printed = format!("{:?}", key("s", &["a"]));
        assert!(!printed.contains("fingerprint"), "{printed}");
    }
}
