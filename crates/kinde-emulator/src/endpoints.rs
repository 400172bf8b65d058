//! The URLs of one emulated business.

use crate::keys::signing_key;

/// The base URL and what derives from it.
#[derive(Clone, Debug)]
pub(crate) struct Endpoints {
    base_url: String,
}

impl Endpoints {
    pub(crate) fn new(base_url: String) -> Self {
        Self { base_url }
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.base_url)
    }

    pub(crate) fn api_audience(&self) -> String {
        format!("{}/api", self.base_url)
    }

    pub(crate) fn jwks(&self) -> serde_json::Value {
        signing_key().jwks()
    }
}
